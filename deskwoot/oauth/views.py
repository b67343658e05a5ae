"""The authorization server's endpoints: the consent page (the mint screen for connectors),
token, registration and revocation; and the grants' revoke button in Settings > MCP Server."""

from __future__ import annotations

from urllib.parse import urlsplit

from authlib.oauth2 import OAuth2Error
from flask import (
    Blueprint,
    flash,
    g,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user

from deskwoot import policy, security
from deskwoot.database.transactions import write_transaction
from deskwoot.errors import Forbidden, Invalid, NotFound
from deskwoot.extensions import db
from deskwoot.models import Membership, Workspace
from deskwoot.oauth import client_documents, clients, grants, urls
from deskwoot.oauth.forms import ConsentForm
from deskwoot.oauth.server import authorization_server as server
from deskwoot.services.access import tokens as token_service
from deskwoot.services.directory import inboxes as inbox_service
from deskwoot.web.common import workspace_blueprint
from deskwoot.web.forms import PRESET_HINTS, SCOPE_HINTS, ActionForm, choices

bp = Blueprint("oauth", __name__)
# The endpoints clients call (token, registration, revocation): no session cookie is read or
# set there, so they are CSRF-exempt as a blueprint, like /api/mcp.
client_bp = Blueprint("oauth_client", __name__, url_prefix="/oauth")
# Beside Settings > MCP Server (/w/<slug>/settings/…): loads g.workspace and g.actor.
settings_bp = workspace_blueprint("oauth_settings", __name__, "/settings")


def _problem(message: str, status: int = 400):
    """A request we cannot send back to the client (unknown client, bad redirect URI)."""
    return render_template("oauth/problem.html", message=message), status


def _admin_workspaces() -> tuple[list[Workspace], bool]:
    """The workspaces the user may approve for, and whether they belong to any at all."""
    rows = db.session.execute(
        db.select(Workspace, Membership.role)
        .join(Membership, Membership.workspace_id == Workspace.id)
        .where(Membership.user_id == current_user.id)
        .order_by(Workspace.name)
    ).all()
    return [ws for ws, role in rows if role == "admin"], bool(rows)


@bp.route("/oauth/authorize", methods=["GET", "POST"])
def authorize():
    """Show who asks for what; an admin chooses scopes and inboxes and approves."""
    if not current_user.is_authenticated:
        return redirect(url_for("auth.login", next=request.full_path))
    client_id = request.args.get("client_id")
    try:
        client = clients.find(client_id, refresh_document=True)
    except client_documents.DocumentRefused as refused:
        return _problem(f"Deskwoot could not use this client's metadata document: {refused}")
    if client is None:
        return _problem("This client is not known to Deskwoot. Start again from the app.")
    try:
        grant = server.get_consent_grant(end_user=current_user)
    except OAuth2Error as error:
        if error.redirect_uri:
            return server.handle_error_response(None, error)
        return _problem(error.description or error.error)
    workspaces, member = _admin_workspaces()
    form = ConsentForm()
    form.workspace.choices = [(ws.id, ws.name) for ws in workspaces]
    payload = grant.request.payload
    if request.method == "POST":
        if not form.validate_on_submit():
            return _problem("The form expired or was not sent from this page. Try again.")
        if form.deny.data:
            return server.create_authorization_response(grant=grant, grant_user=None)
        return _approve(grant, client, form, workspaces)
    requested = client.get_allowed_scope(payload.scope).split()
    form.scopes.data = requested or list(token_service.PRESETS["drafts"][1])
    return _render(grant, client, form, workspaces, member)


def _render(grant, client, form, workspaces, member, status: int = 200):
    # One group of inboxes per workspace, headed by its name when there is more than one.
    inbox_groups = []
    for ws in workspaces:
        actor = policy.member_actor(current_user, ws)
        inboxes = [(i.id, i.name) for i in inbox_service.list_inboxes(actor)]
        inbox_groups.append((ws.name if len(workspaces) > 1 else None, inboxes))
    form.inboxes.choices = choices(
        (inbox_id, name) for _heading, pairs in inbox_groups for inbox_id, name in pairs
    )
    lock = {ws.id: policy.feature_lock_reason(ws, "mcp") for ws in workspaces}
    page = render_template(
        "oauth/consent.html",
        form=form,
        client=client.row,
        redirect_uri=grant.request.payload.redirect_uri,
        workspaces=workspaces,
        member=member,
        inbox_groups=inbox_groups,
        lock=lock,
        presets=token_service.PRESETS,
        preset_hints=PRESET_HINTS,
        scope_hints=SCOPE_HINTS,
    )
    response = make_response(page, status)
    # Approving posts to this page, which redirects to the client: a form-action of 'self'
    # alone would make the browser block that redirect (CSP applies to form redirects).
    redirect_uri = grant.request.payload.redirect_uri
    target = urlsplit(redirect_uri)
    source = f"{target.scheme}://{target.netloc}" if target.netloc else f"{target.scheme}:"
    response.headers["Content-Security-Policy"] = security.CSP.replace(
        "form-action 'self'", f"form-action 'self' {source}"
    )
    return response


def _approve(grant, client, form, workspaces):
    workspace = next((ws for ws in workspaces if ws.id == form.workspace.data), None)
    if workspace is None:
        # Not an admin of it (or of any): the decision is not theirs to make.
        _, member = _admin_workspaces()
        return _render(grant, client, form, workspaces, member, status=403)
    payload = grant.request.payload
    scopes = form.scopes.data or (
        list(token_service.preset_scopes(form.preset.data)) if form.preset.data else []
    )
    try:
        actor = policy.member_actor(current_user, workspace)
        approval = grants.approve(
            actor,
            client.row,
            redirect_uri=payload.redirect_uri,
            resource=urls.resource(),
            scopes=scopes,
            inbox_ids=[i for i in form.inboxes.data or [] if i],
            code_challenge=payload.data.get("code_challenge"),
            code_challenge_method=payload.data.get("code_challenge_method"),
        )
    except (Invalid, Forbidden, NotFound) as error:
        form.scopes.errors = [*form.scopes.errors, error.message]
        return _render(grant, client, form, workspaces, True, status=422)
    return server.create_authorization_response(grant=grant, grant_user=approval)


@client_bp.post("/token")
def token():
    """Exchange a code or a refresh token (Authlib), in one write transaction."""
    with write_transaction():
        return server.create_token_response()


@client_bp.post("/register")
def register():
    """RFC 7591 dynamic client registration."""
    return server.create_endpoint_response("client_registration")


@client_bp.post("/revoke")
def revoke():
    """RFC 7009: a client gives up its grant."""
    return server.create_endpoint_response("revocation")


# --- Settings > MCP Server -------------------------------------------------------------------


def settings_context() -> dict:
    """`oauth_grants()` for the MCP settings page (its "Connected apps" card)."""

    def oauth_grants():
        return grants.list_grants(g.actor)

    return {"oauth_grants": oauth_grants}


@settings_bp.post("/mcp/grants/<int:grant_id>/revoke")
def revoke_grant(grant_id: int):
    """An admin revokes a connected app: its next request is refused, on every worker."""
    form = ActionForm()
    if form.validate_on_submit():
        grant = token_service.revoke(g.actor, grant_id, kind=grants.KIND)
        flash(f"Access for '{grant.name}' revoked. Its next request is refused.", "success")
    return redirect(url_for("settings.mcp"))

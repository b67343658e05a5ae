"""Signing up, logging in and out, and passwords (ARCHITECTURE §8)."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_required, login_user, logout_user

from deskwoot.errors import Conflict, Forbidden, Invalid, NotFound
from deskwoot.services.access import logins as auth_service
from deskwoot.services.directory import invitations as invitation_service
from deskwoot.services.directory import workspaces as workspace_service
from deskwoot.services.operations import mail
from deskwoot.web.common import flash_error, home_redirect, place_error, safe_next
from deskwoot.web.forms import (
    ActionForm,
    ChangePasswordForm,
    ForgotPasswordForm,
    JoinForm,
    LoginForm,
    SetPasswordForm,
    SignupForm,
)

bp = Blueprint("auth", __name__)


def _open_session(email: str, password: str) -> None:
    """Check the credentials, end any session this browser had, and start a fresh one."""
    previous = current_user.get_id() if current_user.is_authenticated else None
    login = auth_service.authenticate(
        email,
        password,
        remote_addr=request.remote_addr,
        user_agent=request.headers.get("User-Agent"),
    )
    if previous and previous != login.session_id:
        auth_service.end_session(previous)
    session.clear()
    login_user(login.user)


def _renew_session() -> None:
    """Keep this browser logged in, on a new session id (services.auth.renew_session)."""
    login = auth_service.renew_session(
        current_user.get_id(),
        remote_addr=request.remote_addr,
        user_agent=request.headers.get("User-Agent"),
    )
    workspace = session.get("last_workspace")
    session.clear()
    if login is None:
        logout_user()
        return
    login_user(login.user)
    if workspace:
        session["last_workspace"] = workspace


@bp.get("/")
def index():
    """Send people to their workspace, or to the login page."""
    if current_user.is_authenticated:
        return home_redirect()
    return redirect(url_for("auth.login"))


@bp.route("/login", methods=["GET", "POST"])
def login():
    """Log in with email and password."""
    form = LoginForm()
    if request.method == "GET":
        # Someone with no workspace left stays here (home_redirect would send them back).
        if current_user.is_authenticated and workspace_service.workspaces_for(current_user):
            return home_redirect()
        form.next.data = safe_next(request.args.get("next"))
    if form.validate_on_submit():
        try:
            _open_session(form.email.data, form.password.data)
        except Invalid as error:
            form.password.errors = [error.message]
        except auth_service.Throttled as error:
            form.password.errors = [str(error)]
            headers = {"Retry-After": str(error.retry_after)}
            return _login_page(form), 429, headers
        else:
            return redirect(safe_next(form.next.data) or url_for("auth.index"))
    return _login_page(form)


def _login_page(form: LoginForm) -> str:
    # "Forgot password?" only where a reset link can actually reach the person's mailbox.
    return render_template("auth/login.html", form=form, can_reset=mail.configured())


@bp.route("/forgot-password", methods=["GET", "POST"])
def forgot_password():
    """Ask for a password-reset link by email (only when outgoing mail works)."""
    if not mail.configured():
        abort(404)
    form = ForgotPasswordForm()
    if form.validate_on_submit():
        try:
            auth_service.request_password_reset(form.email.data, remote_addr=request.remote_addr)
        except auth_service.Throttled as error:
            form.email.errors = [str(error)]
            headers = {"Retry-After": str(error.retry_after)}
            return render_template("auth/forgot_password.html", form=form), 429, headers
        # The same words whether or not there is an account: the form reveals no one.
        flash(
            "If an account uses that email, a link to choose a new password is on its way. "
            f"It works once, for {auth_service.RESET_LINK_MINUTES} minutes.",
            "info",
        )
        return redirect(url_for("auth.login"))
    return render_template("auth/forgot_password.html", form=form)


@bp.route("/signup", methods=["GET", "POST"])
def signup():
    """Create a workspace on the Enterprise trial and its first admin, then log in."""
    form = SignupForm()
    if form.validate_on_submit():
        try:
            workspace, _user = workspace_service.signup(
                form.workspace_name.data, form.name.data, form.email.data, form.password.data
            )
            _open_session(form.email.data, form.password.data)
        except (Invalid, Conflict) as error:
            place_error(form, error)
        except auth_service.Throttled as error:
            flash(str(error), "error")
        else:
            days = workspace_service.trial_days_left(workspace)
            flash(
                f"Welcome to Deskwoot! {workspace.name} is on a {days}-day Enterprise trial.",
                "success",
            )
            return redirect(url_for("conversations.index", workspace=workspace.slug))
    return render_template("auth/signup.html", form=form)


@bp.post("/logout")
def logout():
    """End this session everywhere: the old cookie stops working even if replayed."""
    if ActionForm().validate_on_submit() and current_user.is_authenticated:
        auth_service.end_session(current_user.get_id())
        logout_user()
    session.clear()
    flash("You are logged out.", "info")
    return redirect(url_for("auth.login"))


@bp.route("/account/password", methods=["GET", "POST"])
@login_required
def change_password():
    """Change your password; every other session of yours is logged out."""
    form = ChangePasswordForm()
    if form.validate_on_submit():
        try:
            auth_service.change_password(
                current_user.id,
                form.current_password.data,
                form.new_password.data,
                keep_session_id=current_user.get_id(),
            )
        except Invalid as error:
            target = form.current_password if error.field == "current_password" else None
            if target is not None:
                target.errors = [error.message]
            else:
                form.new_password.errors = [error.message]
        except auth_service.Throttled as error:
            form.current_password.errors = [str(error)]
            headers = {"Retry-After": str(error.retry_after)}
            return render_template("auth/password.html", form=form), 429, headers
        else:
            _renew_session()
            flash("Password changed. Your other sessions were logged out.", "success")
            return redirect(url_for("auth.change_password"))
    return render_template("auth/password.html", form=form)


@bp.route("/set-password/<token>", methods=["GET", "POST"])
def set_password(token: str):
    """Choose a password with a one-time link: a reset, or a first password."""
    try:
        user = auth_service.password_link_user(token)
    except NotFound as error:
        return render_template("auth/link_expired.html", message=error.message), 404
    resetting = user.password_hash is not None
    form = SetPasswordForm()
    if form.validate_on_submit():
        try:
            user = auth_service.set_password_with_link(token, form.new_password.data)
        except Invalid as error:
            form.new_password.errors = [error.message]
        except NotFound as error:
            return render_template("auth/link_expired.html", message=error.message), 404
        else:
            try:
                _open_session(user.email, form.new_password.data)
            except (Invalid, auth_service.Throttled):
                flash("Your password is set. Log in with it.", "success")
                return redirect(url_for("auth.login"))
            flash(
                "Your new password is set. Your other sessions were logged out."
                if resetting
                else "Your password is set. Welcome aboard!",
                "success",
            )
            return redirect(url_for("auth.index"))
    return render_template("auth/set_password.html", form=form, user=user, resetting=resetting)


# --- invitations -----------------------------------------------------------------------------


@bp.route("/invite/<token>", methods=["GET", "POST"])
def invitation(token: str):
    """Accept an invitation: set up a new account, or join with the account you have."""
    try:
        opened = invitation_service.open_link(token)
    except NotFound as error:
        return render_template("auth/link_expired.html", message=error.message), 404
    if opened.account is None:
        return _join_with_new_account(token, opened)
    if not current_user.is_authenticated:
        flash(
            f"Log in as {opened.invitation.email} to accept the invitation to "
            f"{opened.workspace.name}.",
            "info",
        )
        return redirect(url_for("auth.login", next=url_for("auth.invitation", token=token)))
    if current_user.id != opened.account.id:
        # Someone else's invitation, or the right person in the wrong account.
        return render_template("auth/invite_other_account.html", opened=opened), 403
    form = ActionForm()
    if form.validate_on_submit():
        try:
            workspace = invitation_service.accept_as(token, current_user)
        except NotFound as error:
            return render_template("auth/link_expired.html", message=error.message), 404
        except (Forbidden, Conflict) as error:
            flash_error(error)
        else:
            flash(f"You joined {workspace.name}.", "success")
            return redirect(url_for("conversations.index", workspace=workspace.slug))
    return render_template("auth/invite_accept.html", opened=opened, form=form)


def _join_with_new_account(token: str, opened: invitation_service.Opened):
    form = JoinForm()
    if form.validate_on_submit():
        try:
            user = invitation_service.accept_with_new_account(
                token, form.name.data, form.new_password.data
            )
        except Invalid as error:
            place_error(form, error)
            if error.field == "password":
                form.new_password.errors = [error.message]
        except NotFound as error:
            return render_template("auth/link_expired.html", message=error.message), 404
        except Conflict as error:  # an account for the address appeared meanwhile
            flash_error(error)
            return redirect(url_for("auth.invitation", token=token))
        else:
            try:
                _open_session(user.email, form.new_password.data)
            except (Invalid, auth_service.Throttled):
                flash(f"You joined {opened.workspace.name}. Log in with your password.", "success")
                return redirect(url_for("auth.login"))
            flash(f"Welcome to {opened.workspace.name}!", "success")
            return redirect(url_for("conversations.index", workspace=opened.workspace.slug))
    return render_template("auth/invite_join.html", opened=opened, form=form)

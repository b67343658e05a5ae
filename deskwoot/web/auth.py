"""Signing up, logging in and out, and passwords (DESIGN §4, §7)."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_required, login_user, logout_user

from deskwoot.errors import Conflict, Invalid, NotFound
from deskwoot.services import auth as auth_service
from deskwoot.services import workspaces as workspace_service
from deskwoot.web import home_redirect, templating
from deskwoot.web.common import place_error, safe_next
from deskwoot.web.forms import (
    ActionForm,
    ChangePasswordForm,
    LoginForm,
    SetPasswordForm,
    SignupForm,
)

bp = Blueprint("auth", __name__)


@bp.record_once
def _setup(state) -> None:
    templating.init_app(state.app)


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
            return render_template("auth/login.html", form=form), 429, headers
        else:
            return redirect(safe_next(form.next.data) or url_for("auth.index"))
    return render_template("auth/login.html", form=form)


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
        else:
            _renew_session()
            flash("Password changed. Your other sessions were logged out.", "success")
            return redirect(url_for("auth.change_password"))
    return render_template("auth/password.html", form=form)


@bp.route("/set-password/<token>", methods=["GET", "POST"])
def set_password(token: str):
    """Choose a password with a one-time link from an admin."""
    try:
        user = auth_service.password_link_user(token)
    except NotFound as error:
        return render_template("auth/link_expired.html", message=error.message), 404
    if user is None:
        abort(404)
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
            flash("Your password is set. Welcome aboard!", "success")
            return redirect(url_for("auth.index"))
    return render_template("auth/set_password.html", form=form, user=user)

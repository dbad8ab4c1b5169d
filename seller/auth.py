"""Sign-in, sign-out and the role checks every route goes through."""
from functools import wraps
from urllib.parse import urlsplit

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_required, login_user, logout_user

from . import setup, users
from .db import data_version
from .demo import DEMO_ACCOUNTS
from .extensions import db, limiter, login_manager
from .i18n import LANGUAGES, _
from .forms.auth import LoginForm, PasswordChangeForm
from .models import User
from .workflow import permitted

bp = Blueprint("auth", __name__)
PUBLIC_ENDPOINTS = {"auth.login", "auth.language", "views.home", "views.healthz", "static"}


# user id -> (the data version it was read at, the user, detached): reused until any write is committed
_users: dict[int, tuple] = {}


@login_manager.user_loader
def load_user(token: str) -> User | None:
    """The cookie carries `id:session_version`; an old version (signed out, new password) is refused.

    The row is read again only after a write was committed anywhere (`data_version`), and kept detached, so that
    the request's own commits don't make it read again; pages use its id, role, e-mail and language only."""
    user_id, _, version = token.partition(":")
    if not (user_id.isdigit() and version.isdigit()):
        return None
    seen = data_version(db.session)
    cached = _users.get(int(user_id))
    if seen is not None and cached is not None and cached[0] == seen:
        user = cached[1]
    else:
        user = db.session.get(User, int(user_id))
        if user is not None:
            db.session.expunge(user)
            _users[user.id] = (seen, user)
    if user is None or not user.active or user.session_version != int(version):
        return None
    return user


@login_manager.unauthorized_handler
def unauthorized():
    """Full pages go to the sign-in page; htmx requests get a clear message and a full redirect."""
    from .htmx import is_htmx
    target = url_for("auth.login", next=request.full_path if request.method == "GET" else None)
    if is_htmx():
        return "", 401, {"HX-Redirect": target}
    flash(_("Please sign in to continue."), "info")
    return redirect(target)


def init_login(app):
    login_manager.session_protection = "basic"

    @app.before_request
    def require_login():
        if request.endpoint in PUBLIC_ENDPOINTS or request.endpoint is None:
            return None
        if not current_user.is_authenticated:
            return login_manager.unauthorized()
        return None


def requires(action: str):
    """Allow the view only to users whose role may do `action` (403 otherwise, whatever the page showed)."""
    def decorator(view):
        @wraps(view)
        @login_required
        def wrapped(*args, **kwargs):
            if not permitted(current_user, action):
                abort(403)
            return view(*args, **kwargs)
        wrapped.required_action = action
        return wrapped
    return decorator


def _safe_next(target: str | None) -> str:
    if target and target.startswith("/") and not target.startswith("//") and not urlsplit(target).netloc \
            and "\\" not in target:
        return target
    return url_for("orders.index")


def _login_key():
    return (request.form.get("email") or "").strip().lower() or request.remote_addr


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["LOGIN_RATE_LIMIT"], methods=["POST"])
@limiter.limit(lambda: current_app.config["LOGIN_RATE_LIMIT"], methods=["POST"], key_func=_login_key)
def login():
    """Sign in with e-mail and password; a wrong pair gets one message, whichever part was wrong."""
    if current_user.is_authenticated:
        return redirect(_safe_next(request.args.get("next")))
    form = LoginForm()
    if form.validate_on_submit():
        user = users.authenticate(form.email.data, form.password.data)
        if user:
            login_user(user)
            return redirect(_safe_next(request.args.get("next")), 303)
        form.password.errors.append(_("The e-mail address or the password is not right."))
    demo = current_app.config["SELLER_DEMO"]
    return render_template("auth/login.html", form=form, needs_owner=not demo and not setup.owner_exists(),
                           demo_accounts=DEMO_ACCOUNTS if demo else {}), 422 if form.errors else 200


@bp.post("/logout")
@requires("view")
def logout():
    """Sign out here and on every other device signed in as this user."""
    users.end_sessions(current_user)
    logout_user()
    flash(_("You have signed out."), "info")
    return redirect(url_for("auth.login"), 303)


@bp.post("/language")
def language():
    """English / 中文: kept on the account (every device follows), and for the sign-in page in the session."""
    chosen = request.form.get("language", "")
    if chosen not in LANGUAGES:
        abort(400)
    session["language"] = chosen
    if current_user.is_authenticated:
        users.set_language(current_user, chosen)
    return redirect(_safe_next(request.form.get("next")), 303)


@bp.route("/account/password", methods=["GET", "POST"])
@requires("view")
def change_password():
    """Change one's own password; every other session of this user ends."""
    form = PasswordChangeForm()
    if current_app.config["SELLER_DEMO"] and request.method == "POST":  # the sign-ins are published: keep them
        form.current.errors = [_("On the demo desk the passwords stay as shown on the sign-in page.")]
    elif form.validate_on_submit():
        if users.authenticate(current_user.email, form.current.data) is None:
            form.current.errors.append(_("That is not your current password."))
        else:
            users.end_sessions(current_user, form.new.data)
            login_user(db.session.get(User, current_user.id))
            flash(_("Your password was changed. Other devices have been signed out."), "success")
            return redirect(url_for("orders.index"), 303)
    return render_template("auth/password.html", form=form), 422 if form.errors else 200

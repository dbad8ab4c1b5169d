"""Small pages that belong to no area: the home page (first run's owner account) and the health check."""
from flask import Blueprint, current_app, flash, redirect, render_template, url_for
from flask_login import current_user, login_user
from sqlalchemy import text

from . import setup, users
from .extensions import db, limiter, login_manager
from .forms.setup import SetupForm
from .i18n import _

bp = Blueprint("views", __name__)


@bp.route("/", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["SETUP_RATE_LIMIT"], methods=["POST"],
               deduct_when=lambda response: response.status_code == 422)
def home():
    """Manage Orders is the home page; on a desk without an owner, Create the owner account (with the setup code)."""
    if setup.owner_exists():
        if not current_user.is_authenticated:
            return login_manager.unauthorized()
        return redirect(url_for("orders.index"))
    form = SetupForm()
    if form.validate_on_submit():
        try:
            if form.demo.data:
                accounts = setup.claim_with_demo(form.setup_code.data)
                email, password = accounts["owner"]
                user = users.find(email)
                flash(_("Demo data is in. Demo sign-ins: owner %(owner)s / %(owner_password)s, "
                        "staff %(staff)s / %(staff_password)s.", owner=email, owner_password=password,
                        staff=accounts["staff"][0], staff_password=accounts["staff"][1]), "success")
            else:
                user = setup.claim(form.setup_code.data, form.email.data, form.password.data)
                flash(_("Your owner account is ready. Welcome to Seller Desk."), "success")
        except setup.SetupError as exc:
            getattr(form, exc.field).errors.append(str(exc))
        else:
            login_user(user)
            return redirect(url_for("orders.index"), 303)
    return render_template("setup.html", form=form), 422 if form.errors else 200


@bp.get("/healthz")
def healthz():
    """200 when the database answers, 503 when it does not (for the platform's health checks)."""
    try:
        db.session.execute(text("SELECT 1"))
        db.session.rollback()
    except Exception:  # any failure to reach the database is "unhealthy", never a traceback
        db.session.rollback()
        return {"status": "database unreachable"}, 503
    return {"status": "ok"}, 200

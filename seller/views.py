"""Small pages that belong to no area: the home redirect and the health check."""
from flask import Blueprint, redirect, url_for
from sqlalchemy import text

from .auth import requires
from .extensions import db

bp = Blueprint("views", __name__)


@bp.get("/")
@requires("view")
def home():
    """Manage Orders is the home page."""
    return redirect(url_for("orders.index"))


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

"""Manage Returns."""
from flask import render_template

from ..auth import requires
from . import bp


@bp.get("")
@requires("view")
def index():
    """Manage Returns (placeholder until its issue lands)."""
    return render_template("returns/index.html")

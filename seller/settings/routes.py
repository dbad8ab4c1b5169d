"""Settings."""
from flask import render_template

from ..auth import requires
from . import bp


@bp.get("")
@requires("settings")
def index():
    """Settings (placeholder until its issue lands)."""
    return render_template("settings/index.html")

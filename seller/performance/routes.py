"""Performance."""
from flask import render_template

from ..auth import requires
from . import bp


@bp.get("")
@requires("view")
def index():
    """Performance (placeholder until its issue lands)."""
    return render_template("performance/index.html")

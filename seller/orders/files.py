"""Order report import and shipping confirmation export (the import/export issue builds these)."""
from flask import abort

from ..auth import requires
from . import bp


@bp.route("/import", methods=["GET", "POST"])
@requires("import_orders")
def import_orders():
    """Upload an Amazon order report."""
    abort(501)


@bp.get("/export")
@requires("view")
def export_shipments():
    """Download the shipping confirmation file for a date range."""
    abort(501)

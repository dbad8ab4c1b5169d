"""Packing slips (the packing slip issue builds these)."""
from flask import abort

from ..auth import requires
from . import bp


@bp.post("/packing-slips.pdf")
@requires("print_packing_slip")
def packing_slips():
    """One PDF for the selected orders (form field `order_ids`, repeated), one slip a page."""
    abort(501)


@bp.get("/<order_id>/packing-slip.pdf")
@requires("print_packing_slip")
def packing_slip(order_id):
    """One order's packing slip."""
    abort(501)

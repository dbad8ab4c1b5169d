"""Refund order and Contact buyer from Manage Orders (the refunds issue builds these)."""
from flask import abort

from ..auth import requires
from . import bp


@bp.route("/<order_id>/refund", methods=["GET", "POST"])
@requires("refund")
def refund(order_id):
    """The refund page: Full Refund and Partial Refund."""
    abort(501)


@bp.route("/<order_id>/contact", methods=["GET", "POST"])
@requires("contact_buyer")
def contact(order_id):
    """Contact buyer."""
    abort(501)

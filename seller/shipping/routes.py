"""Buy shipping (its issue builds it)."""
from flask import abort

from ..auth import requires
from . import bp


@bp.route("/<order_id>/buy-shipping", methods=["GET", "POST"])
@requires("buy_shipping")
def buy(order_id):
    """Compare rates, buy a label, ship."""
    abort(501)


@bp.get("/<order_id>/label.pdf")
@requires("buy_shipping")
def label(order_id):
    """The bought label."""
    abort(501)

"""Manage Orders: the list, the order page, and the shipping actions."""
from flask import abort, render_template
from sqlalchemy import func, select

from ..auth import requires
from ..extensions import db
from ..models import Order
from . import bp


def get_order(order_id: str) -> Order:
    order = db.session.scalar(select(Order).where(Order.order_id == order_id))
    if order is None:
        abort(404)
    return order


def order_counts() -> dict[str, int]:
    """Orders per status tab."""
    counts = dict(db.session.execute(select(Order.status, func.count()).group_by(Order.status)).all())
    return {"All": sum(counts.values()), **{s: counts.get(s, 0) for s in ("Pending", "Unshipped", "Shipped",
                                                                           "Canceled")}}


@bp.app_context_processor
def _counts():
    return {"order_counts": order_counts}


@bp.get("")
@requires("view")
def index():
    """The order list (Manage Orders builds it out)."""
    orders = db.session.scalars(select(Order).order_by(Order.purchased_at.desc()).limit(25)).all()
    return render_template("orders/index.html", orders=orders)


@bp.get("/<order_id>")
@requires("view")
def detail(order_id):
    """The order page with its history."""
    return render_template("orders/detail.html", order=get_order(order_id))


@bp.route("/<order_id>/ship", methods=["GET", "POST"])
@requires("confirm_shipment")
def ship(order_id):
    """Confirm shipment (Manage Orders builds it)."""
    abort(501)


@bp.route("/<order_id>/edit-shipment", methods=["GET", "POST"])
@requires("edit_shipment")
def edit_shipment(order_id):
    """Edit shipment -> Re-confirm shipment (Manage Orders builds it)."""
    abort(501)


@bp.route("/<order_id>/cancel", methods=["GET", "POST"])
@requires("cancel_order")
def cancel(order_id):
    """Cancel order (Manage Orders builds it)."""
    abort(501)

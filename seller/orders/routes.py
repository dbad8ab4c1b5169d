"""Manage Orders."""
from flask import render_template
from sqlalchemy import select

from ..auth import requires
from ..extensions import db
from ..models import Order
from . import bp


@bp.get("")
@requires("view")
def index():
    """The order list (placeholder until Manage Orders lands)."""
    orders = db.session.scalars(select(Order).order_by(Order.purchased_at.desc()).limit(25)).all()
    return render_template("orders/index.html", orders=orders)

"""Finding what a URL names, or 404: every area's routes load orders and return requests through here."""
from flask import abort
from sqlalchemy import select

from .extensions import db
from .models import Order, ReturnRequest


def get_order(order_id: str, *options) -> Order:
    """The order with this Amazon order ID (loader options apply), or 404."""
    order = db.session.scalar(select(Order).where(Order.order_id == order_id).options(*options))
    if order is None:
        abort(404)
    return order


def get_return(return_id: int) -> ReturnRequest:
    """The return request with this id, or 404."""
    ret = db.session.get(ReturnRequest, return_id)
    if ret is None:
        abort(404)
    return ret

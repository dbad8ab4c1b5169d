"""What Amazon says happened to an order outside the desk (Shipped or Canceled on Amazon), recorded here."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from ..db import write_transaction
from ..extensions import db
from ..models import Order, OrderStatus as S
from .core import _event, _guard
from .rules import ORDER_ACTIONS


def amazon_status(order_id: str, status: S, at: datetime) -> bool:
    """An order still Pending/Unshipped here that Amazon reports Shipped or Canceled takes that status, with
    "Shipped on Amazon"/"Canceled on Amazon" in its history. False when the desk has no such open order."""
    action = "amazon_shipped" if status == S.SHIPPED else "amazon_canceled"
    with write_transaction(db.session):
        pk = db.session.scalar(select(Order.id).where(Order.order_id == order_id))
        extra = {"shipped_at": at} if status == S.SHIPPED else {"canceled_at": at}
        if pk is None or not _guard(Order, pk, ORDER_ACTIONS[action][0], status=status.value, **extra):
            return False
        _event(db.session.get(Order, pk), None, action, status=status.value)
        return True

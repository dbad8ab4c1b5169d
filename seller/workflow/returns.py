"""Return requests: create, authorize (RMA), close."""
from __future__ import annotations

import re
import secrets
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from .. import clock
from ..db import write_transaction
from ..extensions import db
from ..models import Message, Order, ReturnItem, ReturnRequest, ReturnStatus as R, Settings, User
from .core import _event, _locked_order, _locked_return
from .errors import InvalidInput, ReturnQuantityExceeded
from .rules import CLOSE_REASONS, RETURN_REASONS

def returnable_quantities(order: Order) -> dict[int, int]:
    """Per order item: shipped quantity minus what open or completed return requests already hold."""
    held = dict(db.session.execute(
        select(ReturnItem.order_item_id, func.sum(ReturnItem.quantity))
        .join(ReturnRequest).where(ReturnRequest.order_id == order.id, ReturnRequest.status != R.CLOSED.value)
        .group_by(ReturnItem.order_item_id)).all())
    return {item.id: item.quantity - (held.get(item.id) or 0) for item in order.items}


def create_return(order: Order, user: User | None, reason: str, quantities: dict[int, int], *,
                  now: datetime | None = None) -> ReturnRequest:
    """Record a buyer's return request on a shipped order (status Pending Authorization)."""
    if reason not in RETURN_REASONS:
        raise InvalidInput("Choose a return reason.", "reason")
    now = now or clock.now()
    with write_transaction(db.session):
        _locked_order(order, "create_return", bump=False)
        left = returnable_quantities(order)
        wanted = {item_id: qty for item_id, qty in quantities.items() if qty}
        if not wanted:
            raise InvalidInput("Enter the quantity of at least one item to return.")
        for item_id, qty in wanted.items():
            if item_id not in left:
                raise InvalidInput("That item is not part of this order.")
            if qty < 0:
                raise InvalidInput("Enter a quantity of 0 or more.", f"quantity-{item_id}")
            if qty > left[item_id]:
                raise ReturnQuantityExceeded(f"At most {left[item_id]} can be returned.", f"quantity-{item_id}")
        ret = ReturnRequest(order_id=order.id, reason=reason, created_at=now, created_by_id=user.id if user else None,
                            return_address=Settings.current().return_address,
                            items=[ReturnItem(order_item_id=i, quantity=q) for i, q in wanted.items()])
        db.session.add(ret)
        db.session.flush()
        skus = {i.id: i.sku for i in order.items}
        _event(order, user, "create_return", ret, reason=reason,
               items=[{"sku": skus[i], "quantity": q} for i, q in wanted.items()])
        return ret


def new_rma_number() -> str:
    return "RMA-" + secrets.token_hex(4).upper()


def authorize_return(ret: ReturnRequest, user: User | None, rma_number: str, return_address: str,
                     refund_timing: str = "after_receipt", *, now: datetime | None = None,
                     expected_version: int | None = None) -> ReturnRequest:
    """Pending Authorization -> Authorized, with a unique RMA number and the return address."""
    rma = (rma_number or "").strip().upper()
    if not re.fullmatch(r"[A-Z0-9][A-Z0-9-]{2,39}", rma):
        raise InvalidInput("Use 3 to 40 letters, digits or dashes.", "rma_number")
    if not (return_address or "").strip():
        raise InvalidInput("Enter the address the buyer sends the item to.", "return_address")
    if refund_timing not in ("now", "after_receipt"):
        raise InvalidInput("Choose when to refund.", "refund_timing")
    now = now or clock.now()
    try:
        with write_transaction(db.session):  # the guard sets the RMA number: a taken one fails its UNIQUE
            _locked_return(ret, "authorize_return", expected_version, status=R.AUTHORIZED.value, rma_number=rma,
                           return_address=return_address.strip(), refund_timing=refund_timing, authorized_at=now)
            _event(ret.order, user, "authorize_return", ret, rma_number=rma, return_address=ret.return_address,
                   refund_timing=refund_timing)
            return ret
    except IntegrityError:
        db.session.rollback()
        raise InvalidInput("That RMA number is already used by another return.", "rma_number") from None


def close_return(ret: ReturnRequest, user: User | None, reason: str, message: str = "", *,
                 now: datetime | None = None, expected_version: int | None = None
                 ) -> tuple[ReturnRequest, Message | None]:
    """Pending Authorization or Authorized -> Closed; a closed request cannot be authorized again.

    Returns the request and the message to the buyer it keeps (None without one), to e-mail after commit."""
    if reason not in CLOSE_REASONS:
        raise InvalidInput("Choose a reason for closing.", "reason")
    now = now or clock.now()
    note = None
    with write_transaction(db.session):
        _locked_return(ret, "close_return", expected_version, status=R.CLOSED.value, close_reason=reason,
                       close_message=(message or "").strip(), closed_at=now)
        if ret.close_message:
            note = Message(order_id=ret.order_id, return_request_id=ret.id, subject="Your return request",
                           body=ret.close_message, sent_by_id=user.id if user else None, created_at=now)
            db.session.add(note)
            db.session.flush()
        _event(ret.order, user, "close_return", ret, reason=reason, message=ret.close_message,
               message_id=note.id if note else None)
    return ret, note

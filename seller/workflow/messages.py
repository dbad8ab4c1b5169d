"""Contact buyer: a message kept in the order's history (e-mailed after commit by the view)."""
from __future__ import annotations

from datetime import datetime

from .. import clock
from ..db import write_transaction
from ..extensions import db
from ..models import Message, Order, ReturnRequest, User
from .core import _event, _locked_order
from .errors import InvalidInput
from ..i18n import _

def contact_buyer(order: Order, user: User | None, subject: str, body: str, *, ret: ReturnRequest | None = None,
                  now: datetime | None = None) -> Message:
    """Keep a message to the buyer in the order's history (it is e-mailed afterwards when SMTP is set)."""
    subject, body = (subject or "").strip(), (body or "").strip()
    if not subject:
        raise InvalidInput(_("Enter a subject."), "subject")
    if not body:
        raise InvalidInput(_("Enter a message."), "message")
    now = now or clock.now()
    with write_transaction(db.session):
        _locked_order(order, "contact_buyer", bump=False)
        message = Message(order_id=order.id, return_request_id=ret.id if ret else None, subject=subject, body=body,
                          sent_by_id=user.id if user else None, created_at=now)
        db.session.add(message)
        db.session.flush()
        _event(order, user, "contact_buyer", ret, message_id=message.id, subject=subject, message=body)
        return message

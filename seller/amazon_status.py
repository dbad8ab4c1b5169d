"""What people see of the Amazon connection: each order's state (Sent to Amazon / Waiting to send / Amazon refused)
and the Manage Orders summary. Nothing without a saved connection."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from flask import g
from sqlalchemy import func, select
from sqlalchemy.orm import joinedload, selectinload

from .extensions import db
from .models import AmazonConnection, AmazonMessage, Order


def connected() -> bool:
    """Whether a connection is saved (asked once a request)."""
    if "amazon_connected" not in g:
        g.amazon_connected = bool(db.session.scalar(select(AmazonConnection.seller_id).where(AmazonConnection.id == 1)))
    return g.amazon_connected


def loader() -> list:
    """Loader options for a list of orders: their outbox messages, when there can be any."""
    return [selectinload(Order.amazon_messages)] if connected() else []


@dataclass
class Summary:
    synced_at: datetime | None
    failed: bool
    waiting: int
    refused: int


def summary() -> Summary | None:
    if not connected():
        return None
    row = db.session.get(AmazonConnection, 1)
    counts = dict(db.session.execute(select(AmazonMessage.state, func.count()).where(
        AmazonMessage.state.in_(["waiting", "refused"])).group_by(AmazonMessage.state)).all())
    return Summary(row.synced_at, row.sync_failed, counts.get("waiting", 0), counts.get("refused", 0))


def refused() -> list[AmazonMessage]:
    return db.session.scalars(select(AmazonMessage).where(AmazonMessage.state == "refused")
                              .options(joinedload(AmazonMessage.order)).order_by(AmazonMessage.id.desc())
                              .limit(500)).all()

"""The outbox out: what actions wrote (`workflow.outbox`) is sent by the worker, and Amazon's answer recorded.

- Confirm shipment: `confirmShipment`, one package per shipment; its package reference ID is the shipment's id,
  so sending it again after a crash updates the same package on Amazon instead of adding one.
- Cancellations and refunds: XML feeds, many messages a feed. The feed document's id is recorded *before* the
  upload and the feed's id as soon as Amazon gives it; a worker that died in between finds its feed again
  (`getFeeds` since it was submitted: only this loop, holding the lock, sends feeds) instead of sending the
  messages twice. Then the feed is polled and its processing report maps each MessageID (the row's id) to
  Sent or Amazon refused.
- Throttling, 5xx and network failures wait and retry with exponential back-off (30 s, 1 min, 2 min, ... at most
  an hour), MAX_ATTEMPTS times, then Amazon refused; a 4xx or a processing error is Amazon refused at once.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import func, select, update

from .. import clock
from ..db import write_transaction
from ..extensions import db
from ..i18n import _
from ..models import AmazonConnection, AmazonMessage
from . import feeds
from .client import AmazonError, Refused, SellingPartner

MAX_ATTEMPTS = 8
BATCH = int(os.environ.get("AMAZON_FEED_BATCH", "200"))  # messages a feed
FEEDS = {"cancel_order": (feeds.ORDER_ACKNOWLEDGEMENT, feeds.cancellations),
         "refund": (feeds.PAYMENT_ADJUSTMENT, feeds.refunds)}


@dataclass
class PushResult:
    sent: int = 0
    refused: int = 0
    waiting: int = 0

    def summary(self) -> str:
        return _("Amazon: %(sent)d sent, %(refused)d refused, %(waiting)d waiting.", sent=self.sent,
                 refused=self.refused, waiting=self.waiting)


def backoff(attempts: int) -> timedelta:
    return timedelta(seconds=min(30 * 2 ** (attempts - 1), 3600))


def _set(ids: list[int], **values) -> None:
    if ids:
        with write_transaction(db.session):
            db.session.execute(update(AmazonMessage).where(AmazonMessage.id.in_(ids)).values(**values)
                               .execution_options(synchronize_session=False))


def _failed(ids: list[int], error: AmazonError, result: PushResult, *, forget_feed: bool = True) -> None:
    """Refused at once (4xx), or tried again later until MAX_ATTEMPTS. `forget_feed=False`: a feed may have been
    made of their document after all; `_recover` looks for it before they are sent again."""
    now = clock.now()
    if isinstance(error, Refused):
        _set(ids, state="refused", error=error.message)
        result.refused += len(ids)
        return
    for row in db.session.scalars(select(AmazonMessage).where(AmazonMessage.id.in_(ids))).all():
        attempts = row.attempts + 1
        if attempts >= MAX_ATTEMPTS:
            _set([row.id], state="refused", attempts=attempts, error=error.message)
            result.refused += 1
        else:
            again = {"feed_document_id": "", "feed_id": "", "submitted_at": None} if forget_feed else {}
            _set([row.id], attempts=attempts, error=error.message, due_at=now + backoff(attempts), **again)


def _due(kind: str, limit: int) -> list[AmazonMessage]:
    return db.session.scalars(select(AmazonMessage).where(
        AmazonMessage.state == "waiting", AmazonMessage.kind == kind, AmazonMessage.feed_document_id == "",
        AmazonMessage.due_at <= clock.now()).order_by(AmazonMessage.id).limit(limit)).all()


def _confirmations(sp: SellingPartner, result: PushResult) -> None:
    for row in _due("confirm_shipment", 500):
        row_id, payload = row.id, dict(row.payload)
        try:
            sp.confirm_shipment(payload["orderId"], payload)
        except AmazonError as exc:
            _failed([row_id], exc, result)
            continue
        _set([row_id], state="sent", sent_at=clock.now(), error="")
        result.sent += 1


def _submit(sp: SellingPartner, seller_id: str, kind: str, result: PushResult) -> None:
    """New messages of a kind: one feed for a batch."""
    feed_type, build = FEEDS[kind]
    rows = _due(kind, BATCH)
    if not rows:
        return
    ids, content = [r.id for r in rows], build(seller_id, [(r.id, r.payload) for r in rows])
    try:
        document, url = sp.feed_document(feeds.CONTENT_TYPE)
    except AmazonError as exc:
        _failed(ids, exc, result)
        return
    _set(ids, feed_document_id=document, submitted_at=clock.now())
    try:
        sp.upload(url, content, feeds.CONTENT_TYPE)
        feed_id = sp.create_feed(feed_type, document)
    except AmazonError as exc:
        _failed(ids, exc, result, forget_feed=False)
        return
    _set(ids, feed_id=feed_id)


def _recover(sp: SellingPartner, kind: str, result: PushResult) -> None:
    """Messages whose feed document was made but whose feed was not recorded: the worker stopped in between.
    A feed of that type made since, and not known here, is theirs; none: they were never sent."""
    feed_type, _build = FEEDS[kind]
    orphans = db.session.execute(select(AmazonMessage.feed_document_id, func.min(AmazonMessage.submitted_at))
                                 .where(AmazonMessage.state == "waiting", AmazonMessage.kind == kind,
                                        AmazonMessage.feed_document_id != "", AmazonMessage.feed_id == "")
                                 .group_by(AmazonMessage.feed_document_id)).all()
    for document, submitted in orphans:
        ids = list(db.session.scalars(select(AmazonMessage.id).where(AmazonMessage.feed_document_id == document)))
        try:
            made = sp.feeds_since(feed_type, submitted - timedelta(minutes=1))
        except AmazonError as exc:
            _failed(ids, exc, result)
            continue
        known = set(db.session.scalars(select(AmazonMessage.feed_id).where(AmazonMessage.feed_id != "")))
        mine = [f["feed_id"] for f in made if f["feed_id"] not in known]
        if mine:
            _set(ids, feed_id=mine[0])
        else:
            _set(ids, feed_document_id="", submitted_at=None)


def _reports(sp: SellingPartner, result: PushResult) -> None:
    """Feeds in flight: once Amazon processed one, each message is Sent or Amazon refused (its report says)."""
    in_flight = db.session.scalars(select(AmazonMessage.feed_id).where(
        AmazonMessage.state == "waiting", AmazonMessage.feed_id != "").distinct()).all()
    for feed_id in in_flight:
        ids = list(db.session.scalars(select(AmazonMessage.id).where(AmazonMessage.feed_id == feed_id,
                                                                     AmazonMessage.state == "waiting")))
        try:
            feed = sp.feed(feed_id)
            if feed["processing_status"] in ("IN_QUEUE", "IN_PROGRESS"):
                continue
            if feed["processing_status"] != "DONE":  # FATAL or CANCELLED: nothing of it was applied
                raise Refused(_("Amazon could not process the feed (%(status)s).", status=feed["processing_status"]))
            errors, _processed = feeds.report_errors(sp.document(feed["result_feed_document_id"]))
        except ValueError as exc:
            _failed(ids, Refused(str(exc)), result)
            continue
        except AmazonError as exc:
            _failed(ids, exc, result)
            continue
        whole = errors.get(0)
        refused = {i: errors.get(i, whole) for i in ids if i in errors or whole}
        for message_id, message in refused.items():
            _set([message_id], state="refused", error=message)
        result.refused += len(refused)
        sent = [i for i in ids if i not in refused]
        _set(sent, state="sent", sent_at=clock.now(), error="")
        result.sent += len(sent)


def push(sp: SellingPartner, row: AmazonConnection) -> PushResult:
    """One pass over the outbox."""
    result = PushResult()
    seller_id = row.seller_id
    _confirmations(sp, result)
    for kind in FEEDS:
        _recover(sp, kind, result)
        _submit(sp, seller_id, kind, result)
    _reports(sp, result)
    result.waiting = db.session.scalar(select(func.count()).select_from(AmazonMessage).where(
        AmazonMessage.state == "waiting")) or 0
    db.session.rollback()
    return result

"""Return requests: create, authorize (RMA), mark received, close — by hand or, when nothing came back in time,
by close-stale-returns."""
from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, insert, select, update
from sqlalchemy.exc import IntegrityError

from .. import clock
from ..db import write_transaction
from ..extensions import db
from ..i18n import N_, _
from ..models import Message, Order, OrderEvent, ReturnItem, ReturnRequest, ReturnStatus as R, Settings, User
from .core import _event, _locked_order, _locked_return
from .errors import InvalidInput, ReturnQuantityExceeded, WorkflowError
from .rules import CLOSE_REASONS, CONDITIONS, ITEM_NOT_RETURNED, RETURN_REASONS

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
        raise InvalidInput(_("Choose a return reason."), "reason")
    now = now or clock.now()
    with write_transaction(db.session):
        _locked_order(order, "create_return", bump=False)
        left = returnable_quantities(order)
        wanted = {item_id: qty for item_id, qty in quantities.items() if qty}
        if not wanted:
            raise InvalidInput(_("Enter the quantity of at least one item to return."))
        for item_id, qty in wanted.items():
            if item_id not in left:
                raise InvalidInput(_("That item is not part of this order."))
            if qty < 0:
                raise InvalidInput(_("Enter a quantity of 0 or more."), f"quantity-{item_id}")
            if qty > left[item_id]:
                raise ReturnQuantityExceeded(_("At most %(count)s can be returned.", count=left[item_id]), f"quantity-{item_id}")
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


MAX_LABEL_BYTES = 2 * 1024 * 1024  # a return label PDF


def authorize_return(ret: ReturnRequest, user: User | None, rma_number: str, return_address: str,
                     refund_timing: str = "after_receipt", *, label_pdf: bytes | None = None,
                     now: datetime | None = None, expected_version: int | None = None) -> ReturnRequest:
    """Pending Authorization -> Authorized, with a unique RMA number, the return address and optionally the return
    label (a PDF); the buyer's authorization message (RMA, address, label) is kept for e-mailing after commit
    (`authorization_message`)."""
    rma = (rma_number or "").strip().upper()
    if not re.fullmatch(r"[A-Z0-9][A-Z0-9-]{2,39}", rma):
        raise InvalidInput(_("Use 3 to 40 letters, digits or dashes."), "rma_number")
    if not (return_address or "").strip():
        raise InvalidInput(_("Enter the address the buyer sends the item to."), "return_address")
    if refund_timing not in ("now", "after_receipt"):
        raise InvalidInput(_("Choose when to refund."), "refund_timing")
    if label_pdf is not None and not label_pdf.startswith(b"%PDF-"):
        raise InvalidInput(_("The return label must be a PDF file."), "label")
    if label_pdf is not None and len(label_pdf) > MAX_LABEL_BYTES:
        raise InvalidInput(_("The return label is too large: at most 2 MB."), "label")
    now = now or clock.now()
    try:
        with write_transaction(db.session):  # the guard sets the RMA number: a taken one fails its UNIQUE
            _locked_return(ret, "authorize_return", expected_version, status=R.AUTHORIZED.value, rma_number=rma,
                           return_address=return_address.strip(), refund_timing=refund_timing, authorized_at=now,
                           **({"label_pdf": label_pdf} if label_pdf else {}))
            note = Message(order_id=ret.order_id, return_request_id=ret.id, subject="Your return is authorized",
                           body=(f"Your return for order {ret.order.order_id} is authorized.\n\nRMA number: {rma}\n"
                                 f"Send the item to:\n{ret.return_address}\n\n"
                                 + ("Print the return label attached and put it on the parcel.\n" if label_pdf
                                    else "Write the RMA number on the parcel.\n")),
                           sent_by_id=user.id if user else None, created_at=now)
            db.session.add(note)
            db.session.flush()
            _event(ret.order, user, "authorize_return", ret, rma_number=rma, return_address=ret.return_address,
                   refund_timing=refund_timing, label=bool(label_pdf), message_id=note.id)
            return ret
    except IntegrityError:
        db.session.rollback()
        raise InvalidInput(_("That RMA number is already used by another return."), "rma_number") from None


def authorization_message(ret: ReturnRequest) -> Message | None:
    """The buyer's authorization message of this request (to e-mail, with its label)."""
    return db.session.scalar(select(Message).where(Message.return_request_id == ret.id,
                                                   Message.subject == "Your return is authorized")
                             .order_by(Message.id.desc()))


def authorize_selected(ret_ids: list[int], user: User | None, return_address: str,
                       refund_timing: str = "after_receipt", *, now: datetime | None = None
                       ) -> list[tuple[int, ReturnRequest | None, str | None]]:
    """Authorize request for each of these requests, each in its own transaction with a generated RMA number:
    (id, the request or None, why it was refused or None), in order; one refusal doesn't stop the rest."""
    found = {ret.id: ret for ret in db.session.scalars(select(ReturnRequest).where(ReturnRequest.id.in_(ret_ids)))}
    results = []
    for ret_id in dict.fromkeys(ret_ids):
        ret = found.get(ret_id)
        if ret is None:
            results.append((ret_id, None, _("No such return request.")))
            continue
        try:
            authorize_return(ret, user, new_rma_number(), return_address, refund_timing, now=now)
        except WorkflowError as exc:
            results.append((ret_id, ret, exc.message))
        else:
            results.append((ret_id, ret, None))
    return results


def close_return(ret: ReturnRequest, user: User | None, reason: str, message: str = "", *,
                 now: datetime | None = None, expected_version: int | None = None
                 ) -> tuple[ReturnRequest, Message | None]:
    """Pending Authorization or Authorized -> Closed; a closed request cannot be authorized again.

    Returns the request and the message to the buyer it keeps (None without one), to e-mail after commit."""
    if reason not in CLOSE_REASONS:
        raise InvalidInput(_("Choose a reason for closing."), "reason")
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


@dataclass
class Received:
    """Mark received, for one returned item: how many came back in all, and in what condition."""
    quantity: int
    condition: str = ""


def mark_received(ret: ReturnRequest, user: User | None, received: dict[int, Received], note: str = "", *,
                  now: datetime | None = None, expected_version: int | None = None) -> ReturnRequest:
    """Record what came back of an Authorized request (return item id -> quantity received so far and its
    Condition). Quantities only grow; the request stays Authorized, and no longer closes by itself."""
    asked = {ri.id: ri.quantity for ri in ret.items}  # read before the transaction: quantities never change
    for item_id, got in received.items():
        if item_id not in asked:
            raise InvalidInput(_("That item is not part of this return request."))
        if got.quantity < 0 or got.quantity > asked[item_id]:
            raise InvalidInput(_("Enter 0 to %(num)d.", num=asked[item_id]), f"quantity-{item_id}")
        if got.quantity and got.condition not in CONDITIONS:
            raise InvalidInput(_("Choose the condition the item came back in."), f"condition-{item_id}")
    if not any(got.quantity for got in received.values()):
        raise InvalidInput(_("Enter the quantity received of at least one item."))
    now = now or clock.now()
    with write_transaction(db.session):
        _locked_return(ret, "mark_received", expected_version, received_at=now, received_note=(note or "").strip())
        for ri in ret.items:
            db.session.refresh(ri)
            got = received.get(ri.id)
            if got is None or (got.quantity, got.condition) == (ri.received_quantity, ri.condition):
                continue
            if got.quantity < ri.received_quantity:
                raise InvalidInput(_("%(num)d already marked received: enter at least that.",
                                     num=ri.received_quantity), f"quantity-{ri.id}")
            ri.received_quantity, ri.condition = got.quantity, got.condition if got.quantity else ""
        _event(ret.order, user, "mark_received", ret, received_note=ret.received_note,
               received=[{"sku": ri.item.sku, "quantity": ri.received_quantity, "of": ri.quantity,
                          "condition": ri.condition} for ri in ret.items])
    return ret


CLOSE_BATCH = 2000  # requests per transaction in close-stale-returns


def close_stale_returns(*, now: datetime | None = None) -> list[int]:
    """Close every Authorized request with nothing received `close_returns_after_days` after its authorization,
    with reason "Item not returned", a message to the buyer and History. Idempotent: run it every hour.

    Each batch's guard is one conditional UPDATE (still Authorized, still nothing received), so a Mark received
    or a Close request at the same moment wins or loses whole. Returns the ids of the messages kept, to e-mail."""
    now = now or clock.now()
    days = Settings.current().close_returns_after_days
    cutoff = now - timedelta(days=days)
    stale = (ReturnRequest.status == R.AUTHORIZED.value, ReturnRequest.received_at.is_(None),
             ReturnRequest.authorized_at <= cutoff)
    ids = db.session.scalars(select(ReturnRequest.id).where(*stale).order_by(ReturnRequest.id)).all()
    kept = []
    for start in range(0, len(ids), CLOSE_BATCH):
        with write_transaction(db.session):
            closed = db.session.execute(
                update(ReturnRequest).where(ReturnRequest.id.in_(ids[start:start + CLOSE_BATCH]), *stale)
                .values(status=R.CLOSED.value, close_reason=ITEM_NOT_RETURNED, closed_at=now,
                        version=ReturnRequest.version + 1)
                .returning(ReturnRequest.id, ReturnRequest.order_id, ReturnRequest.rma_number)
                .execution_options(synchronize_session=False)).all()
            if not closed:
                continue
            numbers = dict(db.session.execute(select(Order.id, Order.order_id).where(
                Order.id.in_({order_pk for _, order_pk, _ in closed}))).all())
            messages = db.session.scalars(  # Core inserts: a hundred thousand rows in seconds
                insert(Message.__table__).returning(Message.id, sort_by_parameter_order=True), [
                {"order_id": order_pk, "return_request_id": ret_id, "subject": "Your return request",
                 "body": _not_returned(numbers[order_pk], rma, days), "created_at": now}
                for ret_id, order_pk, rma in closed]).all()
            db.session.execute(insert(OrderEvent.__table__), [
                {"order_id": order_pk, "return_request_id": ret_id, "at": now, "action": "close_return",
                 "details": {"reason": ITEM_NOT_RETURNED, "days": days, "message_id": message_id}}
                for (ret_id, order_pk, _), message_id in zip(closed, messages)])
            kept += messages
    return kept


def _not_returned(order_id: str, rma: str | None, days: int) -> str:
    """The buyer's message (English, as Amazon's buyers read it)."""
    return (f"Your return request for order {order_id} (RMA {rma}) was closed: the item was not received within "
            f"{days} days of the authorization. If you have sent it, reply with its tracking ID.")


CLOSED_ON_AMAZON = N_("Closed on Amazon")
# Import returns moves a request only forward: what the desk did since (a refund, a close) stays.
IMPORT_MOVES = {R.PENDING_AUTHORIZATION: {R.AUTHORIZED, R.CLOSED, R.COMPLETED}, R.AUTHORIZED: {R.CLOSED, R.COMPLETED}}


class _Refused(Exception):
    """A line of the report was refused: leave the transaction, writing nothing."""


def import_returns(lines: list, result, user: User | None = None, *, now: datetime | None = None) -> None:
    """Create or update the return requests of Amazon's returns report (lines checked by `seller.returns_report`),
    keyed by order and Amazon RMA ID, items by SKU, all in one transaction: any line refused writes nothing
    (`result.errors` says why, by line). Lines whose order is not in the desk go to `result.unknown`."""
    from ..reports import RowError
    now = now or clock.now()
    groups: dict[tuple[str, str], list] = {}
    for line in lines:
        groups.setdefault((line.order_id, line.amazon_rma_id), []).append(line)
    try:
        with write_transaction(db.session):
            orders = {o.order_id: o for o in db.session.scalars(
                select(Order).where(Order.order_id.in_({order_id for order_id, _rma in groups})))}
            for (order_id, amazon_rma), group in groups.items():
                order = orders.get(order_id)
                if order is None:
                    result.unknown += [RowError(line.line, _("order %(order_id)s is not in the desk: import its "
                                                             "order report first", order_id=order_id))
                                       for line in group]
                    continue
                try:
                    _import_request(order, amazon_rma, group, result, user, now)
                except WorkflowError as exc:
                    result.errors.append(RowError(group[0].line, exc.message))
            if result.errors:
                raise _Refused
    except _Refused:
        result.new = result.updated = result.unchanged = 0
        result.errors.sort(key=lambda e: e.line)


def _import_request(order: Order, amazon_rma: str, group: list, result, user: User | None, now: datetime) -> None:
    from ..reports import RowError
    _locked_order(order, "create_return", bump=False)
    skus = {item.sku: item for item in order.items}
    wanted = {}
    for line in group:
        if line.sku not in skus:
            result.errors.append(RowError(line.line, _("SKU %(sku)s is not on order %(order_id)s", sku=line.sku,
                                                       order_id=order.order_id)))
            return
        wanted[skus[line.sku].id] = line.quantity
    first = group[0]
    if any(line.status != first.status for line in group):
        raise InvalidInput(_("the lines of RMA %(rma)s disagree on its status", rma=amazon_rma))
    ret = db.session.scalar(select(ReturnRequest).where(ReturnRequest.order_id == order.id,
                                                        ReturnRequest.amazon_rma_id == amazon_rma))
    held = {ri.order_item_id: ri.quantity for ri in ret.items} if ret else {}
    left = returnable_quantities(order)
    for item_id, quantity in wanted.items():
        if quantity > left[item_id] + held.get(item_id, 0):
            raise ReturnQuantityExceeded(_("At most %(num)d of SKU %(sku)s can be returned on order %(order_id)s.",
                                           num=left[item_id] + held.get(item_id, 0),
                                           sku=next(s for s, i in skus.items() if i.id == item_id),
                                           order_id=order.order_id))
    status = first.status
    if ret is None:
        rma = first.merchant_rma_id.upper() or (new_rma_number() if status != R.PENDING_AUTHORIZATION else None)
        if rma and db.session.scalar(select(ReturnRequest.id).where(ReturnRequest.rma_number == rma)):
            raise InvalidInput(_("Merchant RMA ID %(rma)s is used by another return request.", rma=rma))
        moved = {R.AUTHORIZED: {"authorized_at": first.requested_at},
                 R.CLOSED: {"closed_at": now, "close_reason": CLOSED_ON_AMAZON},
                 R.COMPLETED: {"authorized_at": first.requested_at, "completed_at": now}}.get(status, {})
        ret = ReturnRequest(order_id=order.id, status=status.value, reason=first.reason, rma_number=rma,
                            amazon_rma_id=amazon_rma, return_address=Settings.current().return_address,
                            created_at=first.requested_at, created_by_id=user.id if user else None, **moved,
                            items=[ReturnItem(order_item_id=i, quantity=q) for i, q in wanted.items()])
        db.session.add(ret)
        db.session.flush()
        result.new += 1
        _event(order, user, "import_return", ret, amazon_rma_id=amazon_rma, status=status.value,
               items=[{"sku": line.sku, "quantity": line.quantity} for line in group])
        return
    values = {"status": status.value} if status in IMPORT_MOVES.get(ret.status, ()) else {}
    if values.get("status") == R.CLOSED:
        values.update(closed_at=now, close_reason=CLOSED_ON_AMAZON)
    changed_items = {i: q for i, q in wanted.items() if held.get(i) != q}
    if not values and not changed_items:
        result.unchanged += 1
        return
    _locked_return(ret, "import_return", None, **values)
    for ri in ret.items:
        if ri.order_item_id in changed_items:
            ri.quantity = max(changed_items.pop(ri.order_item_id), ri.received_quantity)
    ret.items += [ReturnItem(order_item_id=i, quantity=q) for i, q in changed_items.items()]
    result.updated += 1
    _event(order, user, "import_return", ret, amazon_rma_id=amazon_rma, status=ret.status,
           items=[{"sku": line.sku, "quantity": line.quantity} for line in group])

"""Refunds: Full Refund and Partial Refund with concessions, never more than what is left, never twice."""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import case, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from .. import clock
from ..db import write_transaction
from ..extensions import db
from ..i18n import _, format_local
from ..models import (
    Order, OrderEvent, OrderItem, Refund, RefundLine, ReturnRequest, ReturnStatus as R, Settings, User,
)
from ..money import from_cents
from . import outbox
from .actions import awaiting_item
from .core import _event, _guard, _locked_order, _refused, store_tz
from .errors import (ConcessionExceedsCap, IdempotencyConflict, InvalidInput, InvalidTransition, NotRefundable,
                     RefundExceedsBalance)
from .rules import ORDER_ACTIONS, REFUND_REASONS, RETURN_ACTIONS
from ..i18n import _

@dataclass
class RefundInput:
    kind: str  # "full" or "partial"
    reason: str
    idempotency_key: str
    # order_items.id -> (item amount, shipping amount); ignored for a full refund
    amounts: dict[int, tuple[Decimal, Decimal]]
    return_concession: Decimal = Decimal("0")
    other_concession: Decimal = Decimal("0")
    memo_to_buyer: str = ""
    seller_memo: str = ""

    def fingerprint(self, return_request_id: int | None) -> str:
        """What the form asked for, in cents (10 and 10.00 ask the same); call after `check_amounts`."""
        amounts = {str(k): [_cents_of(a, ""), _cents_of(b, "")] for k, (a, b) in sorted(self.amounts.items())
                   if a or b}
        body = {"kind": self.kind, "reason": self.reason, "return": return_request_id,
                "amounts": amounts if self.kind == "partial" else {},
                "rc": _cents_of(self.return_concession, ""), "oc": _cents_of(self.other_concession, "")}
        return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()

    def check_amounts(self) -> None:
        """Every amount a finite, non-negative number of whole cents (whatever parsed it)."""
        _cents_of(self.return_concession, "return_concession")
        _cents_of(self.other_concession, "other_concession")
        if self.kind == "partial":
            for item_id, (item_amt, ship_amt) in self.amounts.items():
                _cents_of(item_amt, f"item-{item_id}-item")
                _cents_of(ship_amt, f"item-{item_id}-shipping")


MAX_CENTS = 10**11  # a billion dollars: anything larger is a typing error, and would overflow the columns


def _cents_of(value, field: str) -> int:
    """Cents of an amount, refusing NaN, infinities, negatives, fractions of a cent and absurd sizes."""
    if not isinstance(value, (Decimal, int)) or isinstance(value, bool) or \
            (isinstance(value, Decimal) and not value.is_finite()):
        raise InvalidInput(_("Enter an amount in dollars and cents, like 12.50."), field)
    if value < 0:
        raise InvalidInput(_("Enter an amount that is not negative."), field)
    cents = Decimal(value) * 100
    if cents != cents.to_integral_value():
        raise InvalidInput(_("Use at most two decimal places (cents)."), field)
    if cents >= MAX_CENTS:
        raise InvalidInput(_("That amount is too large."), field)
    return int(cents)


def _pro_rata(tax: int, part: int, whole: int, tax_left: int, part_left: int) -> int:
    """Tax refunded with `part` of `whole`: proportional, and exactly what is left on the last part."""
    if part == 0 or whole == 0:
        return 0
    if part == part_left:
        return tax_left
    share = (Decimal(tax) * part / whole).quantize(Decimal(1), rounding=ROUND_HALF_UP)
    return min(int(share), tax_left)


def refund_caps(order: Order) -> dict[str, int]:
    """What is left to give as concessions on this order, in cents, under the Settings caps."""
    cfg = Settings.current()
    shipping = sum(i.shipping_price_cents for i in order.items)
    items = sum(i.item_price_cents for i in order.items)
    rc_cap = cfg.return_concession_factor * shipping + cfg.return_concession_extra_cents
    oc_cap = items * cfg.other_concession_percent // 100
    return {"return_concession": max(rc_cap - order.return_concession_cents, 0),
            "other_concession": max(oc_cap - order.other_concession_cents, 0)}


def plan_refund_lines(order: Order, data: RefundInput) -> list[RefundLine]:
    """The per-item lines a refund would make, tax pro rata; raises when an amount is over what is left."""
    lines = []
    for item in order.items:
        item_left = item.item_price_cents - item.refunded_item_cents
        ship_left = item.shipping_price_cents - item.refunded_shipping_cents
        if data.kind == "full":
            item_cents, ship_cents = item_left, ship_left
        else:
            item_amt, ship_amt = data.amounts.get(item.id, (Decimal(0), Decimal(0)))
            item_cents = _cents_of(item_amt, f"item-{item.id}-item")
            ship_cents = _cents_of(ship_amt, f"item-{item.id}-shipping")
            if item_cents > item_left:
                raise RefundExceedsBalance(_("At most %(amount)s is left to refund on this item.", amount=from_cents(item_left)),
                                           f"item-{item.id}-item")
            if ship_cents > ship_left:
                raise RefundExceedsBalance(_("At most %(amount)s of shipping is left to refund.", amount=from_cents(ship_left)),
                                           f"item-{item.id}-shipping")
        item_tax = _pro_rata(item.item_tax_cents, item_cents, item.item_price_cents,
                             item.item_tax_cents - item.refunded_item_tax_cents, item_left)
        ship_tax = _pro_rata(item.shipping_tax_cents, ship_cents, item.shipping_price_cents,
                             item.shipping_tax_cents - item.refunded_shipping_tax_cents, ship_left)
        if data.kind == "full":
            item_tax = item.item_tax_cents - item.refunded_item_tax_cents
            ship_tax = item.shipping_tax_cents - item.refunded_shipping_tax_cents
        if item_cents or ship_cents or item_tax or ship_tax:
            lines.append(RefundLine(order_item_id=item.id, item_cents=item_cents, item_tax_cents=item_tax,
                                    shipping_cents=ship_cents, shipping_tax_cents=ship_tax))
    return lines


def received_amounts(ret: ReturnRequest) -> dict[int, Decimal]:
    """What the items received back on this request are worth (order item id -> item amount, its share of the
    price, within what is left to refund): what Issue refund suggests."""
    cents: dict[int, int] = {}
    for ri in ret.items:
        if ri.received_quantity:
            item = ri.item
            share = (Decimal(item.item_price_cents) * ri.received_quantity / item.quantity).quantize(
                Decimal(1), rounding=ROUND_HALF_UP)
            cents[item.id] = min(cents.get(item.id, 0) + int(share), item.item_price_cents - item.refunded_item_cents)
    return {item_id: from_cents(c) for item_id, c in cents.items() if c > 0}


def _existing_refund(order: Order, key: str) -> Refund | None:
    return db.session.scalar(select(Refund).where(Refund.order_id == order.id, Refund.idempotency_key == key))


def _replay(order: Order, data: RefundInput, return_request_id: int | None) -> Refund | None:
    """The refund already made with this form's key, if any (a double tap or a retry)."""
    existing = _existing_refund(order, data.idempotency_key)
    if existing is None:
        return None
    if existing.fingerprint != data.fingerprint(return_request_id):
        raise IdempotencyConflict(_("This form was already submitted with other amounts. Reload the page to "
                                    "make a new refund."))
    return existing


def refund(order: Order, user: User | None, data: RefundInput, *, return_request: ReturnRequest | None = None,
           expected_version: int | None = None, now: datetime | None = None) -> tuple[Refund, bool]:
    """Refund a shipped order in full or in part, with concessions. Returns (refund, replayed).

    Never more than what is left per item component, nor above the concession caps; a replayed key
    returns the first refund; a page older than the last change to the order is refused."""
    if data.reason not in REFUND_REASONS:
        raise InvalidInput(_("Choose a reason for refund."), "reason")
    if data.kind not in ("full", "partial"):
        raise InvalidInput(_("Choose Full Refund or Partial Refund."))
    if not data.idempotency_key or len(data.idempotency_key) > 64:
        raise InvalidInput(_("This form is missing its submission key. Reload the page."))
    data.check_amounts()
    now = now or clock.now()
    order_pk = order.id  # read before the transaction: its first statement must be the guard
    ret_id = return_request.id if return_request else None
    if return_request is not None and return_request.order_id != order_pk:
        raise InvalidInput(_("That return request belongs to another order."))
    try:
        with write_transaction(db.session):
            if not _guard(Order, order_pk, ORDER_ACTIONS["refund"][0], expected_version=expected_version):
                replayed = _replay(order, data, ret_id)
                if replayed:
                    return replayed, True
                _refused(order, "refund", expected_version)
            replayed = _replay(order, data, ret_id)
            if replayed:
                raise _Replayed(replayed)
            # The return row next (order -> return, always in this order), so a Close request cannot slip in.
            if return_request is not None and not _guard(ReturnRequest, ret_id,
                                                         RETURN_ACTIONS["issue_refund"][0]):
                _refused(return_request, "issue_refund", None, what="return request")
            if return_request is not None:
                db.session.refresh(return_request)
                if waiting := awaiting_item(return_request):
                    raise NotRefundable(waiting)
            db.session.refresh(order)
            if not order.amounts_known:
                raise NotRefundable(_("This order's amounts are unknown (imported from the Unshipped Orders Report): "
                                      "import the Order Report before refunding."))
            lines = plan_refund_lines(order, data)
            paid_part = sum(line.total_cents for line in lines)
            if data.kind == "full" and paid_part <= 0:
                raise NotRefundable(_("Nothing is left to refund on this order."))
            caps = refund_caps(order)
            rc = _cents_of(data.return_concession, "return_concession")
            oc = _cents_of(data.other_concession, "other_concession")
            if rc > caps["return_concession"]:
                raise ConcessionExceedsCap(_("The return shipping concession can be at most %(amount)s on this order.",
                                             amount=from_cents(caps["return_concession"])),
                                           "return_concession")
            if oc > caps["other_concession"]:
                raise ConcessionExceedsCap(_("Other concessions can be at most %(amount)s on this order.",
                                             amount=from_cents(caps["other_concession"])), "other_concession")
            if paid_part + rc + oc <= 0:
                raise InvalidInput(_("Enter an amount to refund."), f"item-{order.items[0].id}-item")
            ok = db.session.execute(
                update(Order).where(Order.id == order.id, Order.refunded_cents + paid_part <= Order.paid_cents)
                .values(refunded_cents=Order.refunded_cents + paid_part,
                        return_concession_cents=Order.return_concession_cents + rc,
                        other_concession_cents=Order.other_concession_cents + oc)
                .execution_options(synchronize_session=False)).rowcount == 1
            if not ok:
                raise RefundExceedsBalance(_("That is more than is left to refund on this order."))
            for line in lines:
                ok = db.session.execute(
                    update(OrderItem).where(
                        OrderItem.id == line.order_item_id,
                        OrderItem.refunded_item_cents + line.item_cents <= OrderItem.item_price_cents,
                        OrderItem.refunded_shipping_cents + line.shipping_cents <= OrderItem.shipping_price_cents)
                    .values(refunded_item_cents=OrderItem.refunded_item_cents + line.item_cents,
                            refunded_item_tax_cents=OrderItem.refunded_item_tax_cents + line.item_tax_cents,
                            refunded_shipping_cents=OrderItem.refunded_shipping_cents + line.shipping_cents,
                            refunded_shipping_tax_cents=OrderItem.refunded_shipping_tax_cents
                            + line.shipping_tax_cents)
                    .execution_options(synchronize_session=False)).rowcount == 1
                if not ok:
                    raise RefundExceedsBalance(_("That is more than is left to refund on this item."),
                                               f"item-{line.order_item_id}-item")
            window = timedelta(hours=Settings.current().refund_window_hours)
            if window:  # Pending until the window ends; the order says so, for its row's Cancel refund
                until = now + window
                db.session.execute(update(Order).where(Order.id == order.id).values(refund_pending_until=case(
                    (Order.refund_pending_until > until, Order.refund_pending_until), else_=until))
                                   .execution_options(synchronize_session=False))
            new = Refund(order_id=order.id, return_request_id=ret_id, idempotency_key=data.idempotency_key,
                         fingerprint=data.fingerprint(ret_id), kind=data.kind, reason=data.reason,
                         memo_to_buyer=(data.memo_to_buyer or "").strip(), seller_memo=(data.seller_memo or "").strip(),
                         return_concession_cents=rc, other_concession_cents=oc, total_cents=paid_part + rc + oc,
                         created_by_id=user.id if user else None, created_at=now, lines=lines,
                         status="pending" if window else "final", final_at=now + window)
            db.session.add(new)
            db.session.flush()
            db.session.refresh(order)
            _event(order, user, "refund", return_request, refund_id=new.id, kind=data.kind, reason=data.reason,
                   total=str(from_cents(new.total_cents)), return_concession=str(from_cents(rc)),
                   other_concession=str(from_cents(oc)), memo_to_buyer=new.memo_to_buyer,
                   seller_memo=new.seller_memo,
                   lines=[{"sku": next(i.sku for i in order.items if i.id == line.order_item_id),
                           "item": str(from_cents(line.item_cents)), "item_tax": str(from_cents(line.item_tax_cents)),
                           "shipping": str(from_cents(line.shipping_cents)),
                           "shipping_tax": str(from_cents(line.shipping_tax_cents))} for line in lines])
            if not window:  # final at once: Amazon hears of it now (else when its window ends: finalize_refunds)
                outbox.refund_message(order, new)
            fully = order.refunded_cents >= order.paid_cents
            open_returns = [r for r in order.returns if r.status in RETURN_ACTIONS["complete_return"][0]
                            and (fully or (data.kind == "full" and r.id == ret_id))]
            for ret in open_returns:
                earlier = db.session.scalar(select(ReturnRequest.status).where(ReturnRequest.id == ret.id))
                if earlier in RETURN_ACTIONS["complete_return"][0] and _guard(
                        ReturnRequest, ret.id, {earlier}, status=R.COMPLETED.value, completed_at=now):
                    new.reverts = {**new.reverts, str(ret.id): earlier}
                    _event(order, user, "complete_return", ret, refund_id=new.id)
            return new, False
    except _Replayed as r:
        return r.refund, True
    except IntegrityError:
        db.session.rollback()
        replayed = _replay(order, data, ret_id)
        if replayed:
            return replayed, True
        raise RefundExceedsBalance(_("That is more than is left to refund on this order."))


class _Replayed(Exception):
    """Leave the transaction (rolling back the guard's version bump) and return the earlier refund."""

    def __init__(self, refund_row: Refund):
        self.refund = refund_row


def cancel_refund(order: Order, user: User | None, refund_id: int, *, now: datetime | None = None,
                  expected_version: int | None = None) -> Refund:
    """Cancel refund (owner), within its window: every component it refunded is refundable again, the return
    requests it completed go back to their earlier status, and History keeps both the refund and its cancel.

    The order row is the guard (as for a refund), then the refund row's own conditional UPDATE: a second cancel,
    the window's end or a new refund at the same moment each wait for it and find the state it left."""
    now = now or clock.now()
    with write_transaction(db.session):
        _locked_order(order, "cancel_refund", expected_version)
        canceled = db.session.execute(
            update(Refund).where(Refund.id == refund_id, Refund.order_id == order.id, Refund.status == "pending",
                                 Refund.final_at > now)
            .values(status="canceled", canceled_at=now, canceled_by_id=user.id if user else None)
            .execution_options(synchronize_session=False)).rowcount == 1
        found = db.session.get(Refund, refund_id)
        if found is None or found.order_id != order.id:
            raise InvalidInput(_("That refund is not part of this order."), "refund_id")
        db.session.refresh(found)
        if not canceled:
            if found.status == "canceled":
                raise InvalidTransition(_("This refund was already canceled."), "refund_id")
            raise InvalidTransition(_("This refund is final: it could be canceled until %(when)s.",
                                      when=format_local(found.final_at, "datetime", store_tz())), "refund_id")
        paid_part = sum(line.total_cents for line in found.lines)
        db.session.execute(update(Order).where(Order.id == order.id).values(
            refunded_cents=Order.refunded_cents - paid_part,
            return_concession_cents=Order.return_concession_cents - found.return_concession_cents,
            other_concession_cents=Order.other_concession_cents - found.other_concession_cents,
            refund_pending_until=select(func.max(Refund.final_at)).where(
                Refund.order_id == order.id, Refund.status == "pending", Refund.final_at > now).scalar_subquery())
            .execution_options(synchronize_session=False))
        for line in found.lines:
            db.session.execute(update(OrderItem).where(OrderItem.id == line.order_item_id).values(
                refunded_item_cents=OrderItem.refunded_item_cents - line.item_cents,
                refunded_item_tax_cents=OrderItem.refunded_item_tax_cents - line.item_tax_cents,
                refunded_shipping_cents=OrderItem.refunded_shipping_cents - line.shipping_cents,
                refunded_shipping_tax_cents=OrderItem.refunded_shipping_tax_cents - line.shipping_tax_cents)
                .execution_options(synchronize_session=False))
        reopened = []
        for ret_id, earlier in (found.reverts or {}).items():
            if _guard(ReturnRequest, int(ret_id), {R.COMPLETED}, status=earlier, completed_at=None):
                reopened.append(int(ret_id))
        db.session.refresh(order)
        ret = db.session.get(ReturnRequest, found.return_request_id) if found.return_request_id else None
        _event(order, user, "cancel_refund", ret, refund_id=found.id, total=str(from_cents(found.total_cents)),
               reopened=[(db.session.get(ReturnRequest, r).rma_number or f"#{r}") for r in reopened])
        return found


def finalize_refunds(*, now: datetime | None = None) -> list[int]:
    """Record as final the Pending refunds whose window has ended (their History says so); returns their ids.
    A Cancel refund at the same moment updates the same rows under the same condition: one of them wins."""
    now = now or clock.now()
    with write_transaction(db.session):
        done = db.session.execute(
            update(Refund).where(Refund.status == "pending", Refund.final_at <= now).values(status="final")
            .returning(Refund.id, Refund.order_id, Refund.return_request_id)
            .execution_options(synchronize_session=False)).all()
        if done:
            db.session.execute(insert(OrderEvent), [
                {"order_id": order_pk, "return_request_id": ret_id, "at": now, "action": "refund_final",
                 "details": {"refund_id": refund_pk}} for refund_pk, order_pk, ret_id in done])
            for refund_pk, _order_pk, _ret_id in done:  # final: only now does Amazon hear of it
                final = db.session.get(Refund, refund_pk)
                outbox.refund_message(final.order, final)
    return [refund_pk for refund_pk, _, _ in done]

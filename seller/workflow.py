"""The only code that changes an order's or a return's state.

Every verb runs in one transaction (`db.write_transaction`) whose first write is its guard: a
conditional UPDATE of the order (or return) row that checks the status the transition table allows
and, when the page sent one, the version it was loaded at; the same UPDATE bumps the version. Two
tablets, a double tap or a retry therefore serialise on that row, and the loser is told why.
Each verb writes the order's history and raises a `WorkflowError` subclass instead of flashing.
"""
from __future__ import annotations

import hashlib
import json
import math
import re
import secrets
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import bindparam, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from . import clock
from .db import write_transaction
from .extensions import db
from .models import (
    Cancellation, Message, Order, OrderEvent, OrderItem, OrderStatus as S, Refund, RefundLine, ReturnItem,
    ReturnRequest, ReturnStatus as R, Settings, Shipment, User, utcnow,
)
from .models import Label
from .money import from_cents, to_cents

# ---------------------------------------------------------------- vocabularies (contract §5–§7)

CARRIERS = ["USPS", "UPS", "FedEx", "DHL", "OnTrac", "Lasership", "DHL Global Mail", "UPS Mail Innovations",
            "FedEx SmartPost", "Canada Post", "Royal Mail", "Amazon Shipping", "China Post", "Yun Express",
            "4PX", "Yanwen", "SF Express", "Other"]
CANCEL_REASONS = ["No inventory", "Buyer canceled", "General adjustment", "Pricing error",
                  "Shipping address undeliverable", "Customer exchange"]
REFUND_REASONS = ["No Inventory", "Customer Return", "General Adjustment", "Could Not Ship", "Different Item",
                  "Buyer Canceled", "Merchandise Not Received", "Merchandise Not As Described", "Pricing Error",
                  "Shipping Address Undeliverable", "Delivered Late by Carrier", "Missed Fulfillment Promise"]
RETURN_REASONS = ["No longer needed", "Bought by mistake", "Better price available", "Item arrived too late",
                  "Item defective or doesn't work", "Product damaged, but shipping box OK",
                  "Product and shipping box both damaged", "Wrong item was sent", "Missing parts or accessories",
                  "Inaccurate website description", "Received extra item I didn't buy",
                  "Incompatible or not useful", "Performance or quality not adequate", "Didn't approve purchase"]
CLOSE_REASONS = ["Buyer withdrew the request", "Item not returned", "Refunded outside of the return request",
                 "Replacement sent", "Return not eligible", "Other"]

# Published formats of the carriers' tracking numbers; a mismatch is a warning, not a block.
TRACKING_FORMATS = {
    "UPS": re.compile(r"1Z[0-9A-Z]{16}|T\d{10}|\d{9}|\d{26}"),
    "USPS": re.compile(r"(?:\d{20}|\d{22}|\d{26}|\d{30}|\d{34}|[A-Z]{2}\d{9}US)"),
    "FedEx": re.compile(r"\d{12}|\d{15}|\d{20}|\d{22}|\d{34}"),
    "DHL": re.compile(r"\d{10}|\d{11}|JJD\d{18,20}|JVGL\d{16,20}|GM\d{16,20}|[A-Z]{2}\d{9}[A-Z]{2}"),
}

# ---------------------------------------------------------------- transition tables and roles

ORDER_ACTIONS: dict[str, tuple[frozenset[str], str | None]] = {
    "confirm_shipment": (frozenset({S.UNSHIPPED}), S.SHIPPED),
    "buy_shipping": (frozenset({S.UNSHIPPED}), S.SHIPPED),
    "edit_shipment": (frozenset({S.SHIPPED}), S.SHIPPED),
    "cancel_order": (frozenset({S.UNSHIPPED}), S.CANCELED),
    "refund": (frozenset({S.SHIPPED}), S.SHIPPED),
    "create_return": (frozenset({S.SHIPPED}), S.SHIPPED),
    "print_packing_slip": (frozenset({S.UNSHIPPED, S.SHIPPED}), None),
    "contact_buyer": (frozenset(S), None),
    "mark_paid": (frozenset({S.PENDING}), S.UNSHIPPED),
}
RETURN_ACTIONS: dict[str, tuple[frozenset[str], str | None]] = {
    "authorize_return": (frozenset({R.PENDING_AUTHORIZATION}), R.AUTHORIZED),
    "issue_refund": (frozenset({R.PENDING_AUTHORIZATION, R.AUTHORIZED}), None),
    "close_return": (frozenset({R.PENDING_AUTHORIZATION, R.AUTHORIZED}), R.CLOSED),
    "complete_return": (frozenset({R.PENDING_AUTHORIZATION, R.AUTHORIZED}), R.COMPLETED),
    "contact_buyer": (frozenset(R), None),
}
# Who may do what (contract §1). Everything not listed here is the owner's alone.
STAFF_ACTIONS = frozenset({"view", "print_packing_slip", "confirm_shipment", "edit_shipment", "buy_shipping",
                           "contact_buyer"})


def permitted(user: User, action: str) -> bool:
    return user.is_authenticated and (user.role == "owner" or action in STAFF_ACTIONS)


def available_actions(order: Order, user: User) -> list[str]:
    """The order actions this user may take now, in the order the row shows them."""
    shown = ["print_packing_slip", "confirm_shipment", "buy_shipping", "cancel_order", "edit_shipment", "refund",
             "create_return", "contact_buyer"]
    return [a for a in shown if order.status in ORDER_ACTIONS[a][0] and permitted(user, a)
            and (a != "refund" or (order.amounts_known and order.refunded_cents < order.paid_cents))]


def available_return_actions(ret: ReturnRequest, user: User) -> list[str]:
    shown = ["authorize_return", "issue_refund", "close_return", "contact_buyer"]
    return [a for a in shown if ret.status in RETURN_ACTIONS[a][0] and permitted(user, a)
            and (a != "issue_refund" or (ret.order.amounts_known and ret.order.refunded_cents < ret.order.paid_cents))]


# ---------------------------------------------------------------- errors


class WorkflowError(Exception):
    """A rule said no. `field` names the form field the message belongs next to, if any."""
    status_code = 422

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field


class InvalidTransition(WorkflowError):
    status_code = 409


class StaleVersion(WorkflowError):
    status_code = 409


class IdempotencyConflict(WorkflowError):
    status_code = 409


class InvalidInput(WorkflowError):
    pass


class RefundExceedsBalance(WorkflowError):
    pass


class ConcessionExceedsCap(WorkflowError):
    pass


class NotRefundable(WorkflowError):
    status_code = 409


class ReturnQuantityExceeded(WorkflowError):
    pass


# ---------------------------------------------------------------- helpers


def settings() -> Settings:
    """The store's settings row, created with the defaults on first use."""
    row = db.session.get(Settings, 1)
    if row is None:
        row = Settings(id=1)
        db.session.add(row)
        db.session.flush()
    return row


def store_tz():
    return clock.store_tz(settings().timezone)


def compute_ship_by(purchased_at: datetime, promise_at: datetime | None, cfg: Settings) -> datetime:
    """Latest ship date: the report's promise date when given, else purchase + handling time."""
    if promise_at is not None:
        return promise_at
    if not cfg.handling_business_days:
        return purchased_at + timedelta(hours=cfg.handling_hours)
    tz = clock.store_tz(cfg.timezone)
    local = clock.to_local(purchased_at, tz)
    days = math.ceil(cfg.handling_hours / 24)
    day = local.date()
    while days:
        day += timedelta(days=1)
        if day.weekday() < 5:
            days -= 1
    moment = datetime.combine(day, local.timetz())
    return moment.astimezone(timezone.utc).replace(tzinfo=None)


def tracking_matches(carrier: str, tracking_id: str) -> bool:
    """Whether a tracking ID fits its carrier's published format (carriers without one: non-empty)."""
    if not tracking_id:
        return False
    pattern = TRACKING_FORMATS.get(carrier)
    return bool(pattern.fullmatch(tracking_id)) if pattern else carrier != "Other"


def normalize_tracking(tracking_id: str) -> str:
    """Scanners and people add spaces and lower case; carriers don't."""
    return re.sub(r"[\s-]+", "", tracking_id or "").upper()


def _event(order: Order, user: User | None, action: str, ret: ReturnRequest | None = None, **details):
    db.session.add(OrderEvent(order_id=order.id, return_request_id=ret.id if ret else None,
                              user_id=user.id if user else None, action=action, details=details, at=utcnow()))


def _guard(model, row_id: int, allowed, *, expected_version: int | None = None, bump: bool = True,
           **values) -> bool:
    """The first write of a verb: UPDATE the row only if its status (and version) is still as expected."""
    stmt = update(model).where(model.id == row_id, model.status.in_([str(s) for s in allowed]))
    if expected_version is not None:
        stmt = stmt.where(model.version == expected_version)
    values = {**values, "version": model.version + 1 if bump else model.version}
    if model is Order:
        values["updated_at"] = utcnow()
    return db.session.execute(stmt.values(**values).execution_options(synchronize_session=False)).rowcount == 1


def _refused(order_or_ret, action: str, expected_version: int | None, what: str = "order"):
    """Tell why a guard matched no row: wrong status, or a page older than the last change."""
    db.session.refresh(order_or_ret)
    table = ORDER_ACTIONS if what == "order" else RETURN_ACTIONS
    if order_or_ret.status not in table[action][0]:
        label = action.replace("_", " ")
        raise InvalidTransition(f"This {what} is {order_or_ret.status}: {label} is not possible.")
    if expected_version is not None and order_or_ret.version != expected_version:
        raise StaleVersion(f"This {what} was changed by someone else since you opened the page. "
                           "Check it again, then retry.")
    raise InvalidTransition(f"This {what} could not be changed. Reload the page and try again.")


def _locked_order(order: Order, action: str, expected_version: int | None = None, bump: bool = True, **values):
    """Guard an order action; on success the order row is locked until commit and reloaded."""
    if not _guard(Order, order.id, ORDER_ACTIONS[action][0], expected_version=expected_version, bump=bump,
                  **values):
        _refused(order, action, expected_version)
    db.session.refresh(order)
    return order


def _to_store_date(dt: datetime, tz) -> date:
    return clock.to_local(dt, tz).date()


# ---------------------------------------------------------------- shipping


@dataclass
class ShipmentInput:
    carrier: str
    tracking_id: str
    ship_date: date
    shipping_service: str = ""
    carrier_name: str = ""
    note: str = ""


def _check_shipment(order: Order, data: ShipmentInput, now: datetime) -> ShipmentInput:
    if data.carrier not in CARRIERS:
        raise InvalidInput("Choose a carrier from the list.", "carrier")
    carrier_name = (data.carrier_name or "").strip()
    if data.carrier == "Other" and not carrier_name:
        raise InvalidInput("Enter the carrier's name when the carrier is Other.", "carrier_name")
    tz = store_tz()
    if data.ship_date > clock.local_today(tz, now):
        raise InvalidInput("The ship date cannot be in the future.", "ship_date")
    if data.ship_date < _to_store_date(order.purchased_at, tz):
        raise InvalidInput("The ship date cannot be before the order date.", "ship_date")
    return ShipmentInput(carrier=data.carrier, carrier_name=carrier_name if data.carrier == "Other" else "",
                         tracking_id=normalize_tracking(data.tracking_id), ship_date=data.ship_date,
                         shipping_service=(data.shipping_service or "").strip(), note=(data.note or "").strip())


def _shipment_details(s: Shipment) -> dict:
    return {"carrier": s.carrier, "carrier_name": s.carrier_name, "shipping_service": s.shipping_service,
            "tracking_id": s.tracking_id, "ship_date": s.ship_date.isoformat(), "note": s.note,
            "tracking_valid": s.tracking_valid}


def _ship(order: Order, user: User | None, data: ShipmentInput, action: str, now: datetime,
          expected_version: int | None, **details) -> Shipment:
    late = now > order.ship_by
    _locked_order(order, action, expected_version, status=S.SHIPPED.value, late=late, shipped_at=now)
    shipment = Shipment(order_id=order.id, carrier=data.carrier, carrier_name=data.carrier_name,
                        shipping_service=data.shipping_service, tracking_id=data.tracking_id,
                        tracking_valid=tracking_matches(data.carrier, data.tracking_id), ship_date=data.ship_date,
                        note=data.note, confirmed_at=now, confirmed_by_id=user.id if user else None, late=late)
    db.session.add(shipment)
    db.session.flush()
    _event(order, user, action, late=late, **_shipment_details(shipment), **details)
    return shipment


def confirm_shipment(order: Order, user: User | None, data: ShipmentInput, *, now: datetime | None = None,
                     expected_version: int | None = None) -> Shipment:
    """Unshipped -> Shipped. Confirming after Ship by records a late shipment (the moment counts)."""
    now = now or utcnow()
    with write_transaction(db.session):
        data = _check_shipment(order, data, now)
        return _ship(order, user, data, "confirm_shipment", now, expected_version)


def edit_shipment(order: Order, user: User | None, data: ShipmentInput, *, now: datetime | None = None,
                  expected_version: int | None = None) -> Shipment:
    """Re-confirm a shipped order's shipment; the earlier record is kept (superseded), lateness unchanged."""
    now = now or utcnow()
    with write_transaction(db.session):
        data = _check_shipment(order, data, now)
        _locked_order(order, "edit_shipment", expected_version)
        previous = order.shipment
        if previous is not None:
            previous.superseded_at = now
        shipment = Shipment(order_id=order.id, carrier=data.carrier, carrier_name=data.carrier_name,
                            shipping_service=data.shipping_service, tracking_id=data.tracking_id,
                            tracking_valid=tracking_matches(data.carrier, data.tracking_id),
                            ship_date=data.ship_date, note=data.note, confirmed_at=now,
                            confirmed_by_id=user.id if user else None, late=order.late)
        db.session.add(shipment)
        db.session.flush()
        _event(order, user, "edit_shipment", previous=_shipment_details(previous) if previous else None,
               **_shipment_details(shipment))
        return shipment


def cancel_order(order: Order, user: User | None, reason: str, memo: str = "", *, now: datetime | None = None,
                 expected_version: int | None = None) -> Cancellation:
    """Unshipped -> Canceled, recording a pre-fulfillment cancellation with its reason."""
    if reason not in CANCEL_REASONS:
        raise InvalidInput("Choose a reason for cancellation.", "reason")
    now = now or utcnow()
    with write_transaction(db.session):
        _locked_order(order, "cancel_order", expected_version, status=S.CANCELED.value, canceled_at=now)
        cancellation = Cancellation(order_id=order.id, reason=reason, memo=(memo or "").strip(),
                                    canceled_by_id=user.id if user else None, canceled_at=now)
        db.session.add(cancellation)
        _event(order, user, "cancel_order", reason=reason, memo=cancellation.memo,
               counts_toward_cancel_rate=reason != "Buyer canceled")
        return cancellation


def check_packing_slips(orders: list[Order]) -> None:
    """Only Unshipped and Shipped orders have a packing slip: any other refuses the whole print, naming it."""
    refused = [f"{o.order_id} ({o.status})" for o in orders if o.status not in ORDER_ACTIONS["print_packing_slip"][0]]
    if refused:
        raise InvalidTransition(f"No packing slip for {', '.join(refused)}: only Unshipped and Shipped orders "
                                "have one.")


def record_packing_slips(orders: list[Order], user: User | None) -> None:
    """Write 'printed packing slip' into each order's history, once per order (see `check_packing_slips`)."""
    check_packing_slips(orders)
    # Ids read before the transaction: it begins by expiring what the request loaded, and a batch of 100
    # would otherwise reload every order while holding SQLite's write lock.
    order_ids, user_id, now = list(dict.fromkeys(o.id for o in orders)), user.id if user else None, utcnow()
    with write_transaction(db.session):
        db.session.execute(insert(OrderEvent), [{"order_id": order_id, "user_id": user_id, "at": now, "details": {},
                                                  "action": "print_packing_slip"} for order_id in order_ids])


# ---------------------------------------------------------------- refunds


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
        raise InvalidInput("Enter an amount in dollars and cents, like 12.50.", field)
    if value < 0:
        raise InvalidInput("Enter an amount that is not negative.", field)
    cents = Decimal(value) * 100
    if cents != cents.to_integral_value():
        raise InvalidInput("Use at most two decimal places (cents).", field)
    if cents >= MAX_CENTS:
        raise InvalidInput("That amount is too large.", field)
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
    cfg = settings()
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
                raise RefundExceedsBalance(f"At most {from_cents(item_left)} is left to refund on this item.",
                                           f"item-{item.id}-item")
            if ship_cents > ship_left:
                raise RefundExceedsBalance(f"At most {from_cents(ship_left)} of shipping is left to refund.",
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


def _existing_refund(order: Order, key: str) -> Refund | None:
    return db.session.scalar(select(Refund).where(Refund.order_id == order.id, Refund.idempotency_key == key))


def _replay(order: Order, data: RefundInput, return_request_id: int | None) -> Refund | None:
    """The refund already made with this form's key, if any (a double tap or a retry)."""
    existing = _existing_refund(order, data.idempotency_key)
    if existing is None:
        return None
    if existing.fingerprint != data.fingerprint(return_request_id):
        raise IdempotencyConflict("This form was already submitted with other amounts. Reload the page to "
                                  "make a new refund.")
    return existing


def refund(order: Order, user: User | None, data: RefundInput, *, return_request: ReturnRequest | None = None,
           expected_version: int | None = None, now: datetime | None = None) -> tuple[Refund, bool]:
    """Refund a shipped order in full or in part, with concessions. Returns (refund, replayed).

    Never more than what is left per item component, nor above the concession caps; a replayed key
    returns the first refund; a page older than the last change to the order is refused."""
    if data.reason not in REFUND_REASONS:
        raise InvalidInput("Choose a reason for refund.", "reason")
    if data.kind not in ("full", "partial"):
        raise InvalidInput("Choose Full Refund or Partial Refund.")
    if not data.idempotency_key or len(data.idempotency_key) > 64:
        raise InvalidInput("This form is missing its submission key. Reload the page.")
    data.check_amounts()
    now = now or utcnow()
    order_pk = order.id  # read before the transaction: its first statement must be the guard
    ret_id = return_request.id if return_request else None
    if return_request is not None and return_request.order_id != order_pk:
        raise InvalidInput("That return request belongs to another order.")
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
            db.session.refresh(order)
            if not order.amounts_known:
                raise NotRefundable("This order's amounts are unknown (imported from the Unshipped Orders Report): "
                                    "import the Order Report before refunding.")
            lines = plan_refund_lines(order, data)
            paid_part = sum(line.total_cents for line in lines)
            if data.kind == "full" and paid_part <= 0:
                raise NotRefundable("Nothing is left to refund on this order.")
            caps = refund_caps(order)
            rc = _cents_of(data.return_concession, "return_concession")
            oc = _cents_of(data.other_concession, "other_concession")
            if rc > caps["return_concession"]:
                raise ConcessionExceedsCap(f"The return shipping concession can be at most "
                                           f"{from_cents(caps['return_concession'])} on this order.",
                                           "return_concession")
            if oc > caps["other_concession"]:
                raise ConcessionExceedsCap(f"Other concessions can be at most {from_cents(caps['other_concession'])}"
                                           " on this order.", "other_concession")
            if paid_part + rc + oc <= 0:
                raise InvalidInput("Enter an amount to refund.", f"item-{order.items[0].id}-item")
            ok = db.session.execute(
                update(Order).where(Order.id == order.id, Order.refunded_cents + paid_part <= Order.paid_cents)
                .values(refunded_cents=Order.refunded_cents + paid_part,
                        return_concession_cents=Order.return_concession_cents + rc,
                        other_concession_cents=Order.other_concession_cents + oc)
                .execution_options(synchronize_session=False)).rowcount == 1
            if not ok:
                raise RefundExceedsBalance("That is more than is left to refund on this order.")
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
                    raise RefundExceedsBalance("That is more than is left to refund on this item.",
                                               f"item-{line.order_item_id}-item")
            new = Refund(order_id=order.id, return_request_id=ret_id, idempotency_key=data.idempotency_key,
                         fingerprint=data.fingerprint(ret_id), kind=data.kind, reason=data.reason,
                         memo_to_buyer=(data.memo_to_buyer or "").strip(), seller_memo=(data.seller_memo or "").strip(),
                         return_concession_cents=rc, other_concession_cents=oc, total_cents=paid_part + rc + oc,
                         created_by_id=user.id if user else None, created_at=now, lines=lines)
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
            fully = order.refunded_cents >= order.paid_cents
            open_returns = [r for r in order.returns if r.status in RETURN_ACTIONS["complete_return"][0]
                            and (fully or (data.kind == "full" and r.id == ret_id))]
            for ret in open_returns:
                if _guard(ReturnRequest, ret.id, RETURN_ACTIONS["complete_return"][0],
                          status=R.COMPLETED.value, completed_at=now):
                    _event(order, user, "complete_return", ret, refund_id=new.id)
            return new, False
    except _Replayed as r:
        return r.refund, True
    except IntegrityError:
        db.session.rollback()
        replayed = _replay(order, data, ret_id)
        if replayed:
            return replayed, True
        raise RefundExceedsBalance("That is more than is left to refund on this order.")


class _Replayed(Exception):
    """Leave the transaction (rolling back the guard's version bump) and return the earlier refund."""

    def __init__(self, refund_row: Refund):
        self.refund = refund_row


# ---------------------------------------------------------------- returns


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
    now = now or utcnow()
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
                            return_address=settings().return_address,
                            items=[ReturnItem(order_item_id=i, quantity=q) for i, q in wanted.items()])
        db.session.add(ret)
        db.session.flush()
        skus = {i.id: i.sku for i in order.items}
        _event(order, user, "create_return", ret, reason=reason,
               items=[{"sku": skus[i], "quantity": q} for i, q in wanted.items()])
        return ret


def new_rma_number() -> str:
    return "RMA-" + secrets.token_hex(4).upper()


def _locked_return(ret: ReturnRequest, action: str, expected_version: int | None, **values) -> ReturnRequest:
    if not _guard(ReturnRequest, ret.id, RETURN_ACTIONS[action][0], expected_version=expected_version, **values):
        _refused(ret, action, expected_version, what="return request")
    db.session.refresh(ret)
    return ret


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
    now = now or utcnow()
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
    now = now or utcnow()
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


def contact_buyer(order: Order, user: User | None, subject: str, body: str, *, ret: ReturnRequest | None = None,
                  now: datetime | None = None) -> Message:
    """Keep a message to the buyer in the order's history (it is e-mailed afterwards when SMTP is set)."""
    subject, body = (subject or "").strip(), (body or "").strip()
    if not subject:
        raise InvalidInput("Enter a subject.", "subject")
    if not body:
        raise InvalidInput("Enter a message.", "message")
    now = now or utcnow()
    with write_transaction(db.session):
        _locked_order(order, "contact_buyer", bump=False)
        message = Message(order_id=order.id, return_request_id=ret.id if ret else None, subject=subject, body=body,
                          sent_by_id=user.id if user else None, created_at=now)
        db.session.add(message)
        db.session.flush()
        _event(order, user, "contact_buyer", ret, message_id=message.id, subject=subject, message=body)
        return message


# ---------------------------------------------------------------- buy shipping

LABEL_DAYS_AHEAD = 3  # a label may carry a ship date up to this many days after today
LABEL_CLAIM_TTL = timedelta(minutes=2)  # a purchase unfinished after this was abandoned (its worker died)


class PurchaseInProgress(WorkflowError):
    """A label is being bought for this order right now (`same_key`: by this very form)."""
    status_code = 409

    def __init__(self, message: str, same_key: bool):
        super().__init__(message)
        self.same_key = same_key


def check_label_date(ship_date: date, now: datetime | None = None) -> None:
    """A label's ship date: today (store timezone) or a few days ahead."""
    today = clock.local_today(store_tz(), now)
    if ship_date < today:
        raise InvalidInput("The ship date cannot be in the past.", "ship_date")
    if ship_date > today + timedelta(days=LABEL_DAYS_AHEAD):
        raise InvalidInput(f"Choose a ship date at most {LABEL_DAYS_AHEAD} days from today.", "ship_date")


def _label(order: Order, key: str) -> Label | None:
    return db.session.scalar(select(Label).where(Label.order_id == order.id, Label.idempotency_key == key))


def claim_label(order: Order, user: User | None, idempotency_key: str, provider: str, *,
                expected_version: int | None = None, now: datetime | None = None) -> Label | None:
    """Reserve the order for one label purchase before the provider is called (that takes seconds, outside
    any transaction). Returns the label this key already bought (a double tap or a retry: nothing is bought
    again), or None once reserved. While a purchase is under way, a second one for the order is refused.

    The reservation is a Label row without a shipment; `buy_shipping` completes it, `release_label_claim`
    drops it."""
    if not idempotency_key or len(idempotency_key) > 64:
        raise InvalidInput("This form is missing its submission key. Reload the page.")
    now = now or utcnow()
    with write_transaction(db.session):
        if not _guard(Order, order.id, ORDER_ACTIONS["buy_shipping"][0], expected_version=expected_version,
                      bump=False):
            done = _label(order, idempotency_key)
            if done is not None and done.shipment_id is not None:
                return done
            _refused(order, "buy_shipping", expected_version)
        for pending in db.session.scalars(select(Label).where(Label.order_id == order.id,
                                                              Label.shipment_id.is_(None))).all():
            if pending.created_at < now - LABEL_CLAIM_TTL:
                db.session.delete(pending)
            elif pending.idempotency_key == idempotency_key:
                raise PurchaseInProgress("This label is being bought right now. Reload the page in a moment "
                                         "to see it.", same_key=True)
            else:
                raise PurchaseInProgress("Someone else is buying a label for this order right now. Reload the "
                                         "page in a moment.", same_key=False)
        db.session.flush()
        db.session.add(Label(order_id=order.id, idempotency_key=idempotency_key, provider=provider, carrier="",
                             service="", cost_cents=0, tracking_id="", pdf=b"", created_at=now,
                             created_by_id=user.id if user else None))
    return None


def release_label_claim(order: Order, idempotency_key: str) -> None:
    """Drop a reservation whose purchase failed: nothing was bought, so nothing is recorded."""
    with write_transaction(db.session):
        pending = _label(order, idempotency_key)
        if pending is not None and pending.shipment_id is None:
            db.session.delete(pending)


def buy_shipping(order: Order, user: User | None, purchase, idempotency_key: str, *, provider: str,
                 ship_date: date, parcel: dict | None = None, now: datetime | None = None,
                 expected_version: int | None = None) -> tuple[Label, bool]:
    """Unshipped -> Shipped with a bought label. Returns (label, replayed).

    A shipment confirmation (the late rule applies) with the label's carrier, service and tracking ID;
    the history records the purchase, its cost and who bought it; the label PDF is kept in the database.
    `purchase` has carrier, service, cost (Decimal), tracking_id, label_pdf and provider_shipment_id.
    A key that already bought a label returns that label and changes nothing."""
    now = now or utcnow()
    carrier = purchase.carrier if purchase.carrier in CARRIERS else "Other"
    data = ShipmentInput(carrier=carrier, carrier_name="" if carrier != "Other" else purchase.carrier,
                         tracking_id=normalize_tracking(purchase.tracking_id), ship_date=ship_date,
                         shipping_service=purchase.service)
    try:
        with write_transaction(db.session):
            label = _label(order, idempotency_key)
            if label is not None and label.shipment_id is not None:
                return label, True
            shipment = _ship(order, user, data, "buy_shipping", now, expected_version, provider=provider,
                             cost=str(purchase.cost), parcel=parcel or {})
            label = label or Label(order_id=order.id, idempotency_key=idempotency_key)
            label.shipment_id, label.provider = shipment.id, provider
            label.provider_shipment_id = purchase.provider_shipment_id[:100]
            label.carrier, label.service = purchase.carrier, purchase.service
            label.cost_cents, label.tracking_id = to_cents(purchase.cost), shipment.tracking_id
            label.pdf, label.created_at = purchase.label_pdf, now
            label.created_by_id = user.id if user else None
            db.session.add(label)
            db.session.flush()
            return label, False
    except InvalidTransition:
        done = _label(order, idempotency_key)
        if done is not None and done.shipment_id is not None:
            return done, True
        raise


# ---------------------------------------------------------------- orders coming in


_AMOUNT_COLUMNS = ("item_price_cents", "item_tax_cents", "shipping_price_cents", "shipping_tax_cents")


def _reported_order(fields: dict, items: list[dict], cfg: Settings) -> dict:
    """An order's columns as a report describes it: Pending without a payment date, Unshipped with one;
    Ship by from Settings (or the promise date); paid = the items' amounts, when the report had them."""
    return {**fields, "status": (S.UNSHIPPED if fields.get("paid_at") else S.PENDING).value,
            "ship_by": compute_ship_by(fields["purchased_at"], fields.get("promise_at"), cfg),
            "paid_cents": sum(item.get(c, 0) for item in items for c in _AMOUNT_COLUMNS)
            if fields.get("amounts_known", True) else 0}


def new_order(fields: dict, items: list[dict], user: User | None = None, *, source: str = "import") -> Order:
    """Add an order as a report describes it (no commit: the caller's transaction holds the whole file).

    `fields` are Order columns (purchased_at and order_id at least); `items` are OrderItem columns."""
    order = Order(**_reported_order(fields, items, settings()))
    order.items = [OrderItem(**item) for item in items]
    order.events = [OrderEvent(action=source, user_id=user.id if user else None, at=utcnow(),
                               details={"items": len(items), "status": order.status})]
    db.session.add(order)
    return order


def new_orders(batch: list[tuple[dict, list[dict]]], user: User | None = None, *, source: str = "import") -> None:
    """`new_order` for a whole file (its orders all have the same columns): the same rows and history,
    written with three multi-row INSERTs (no commit: the caller's transaction holds the whole file)."""
    if not batch:
        return
    cfg, now, user_id = settings(), utcnow(), user.id if user else None
    orders, items, events = Order.__table__, OrderItem.__table__, OrderEvent.__table__
    rows = [_reported_order(fields, lines, cfg) for fields, lines in batch]
    db.session.execute(insert(orders), rows)  # executemany: several times faster than RETURNING on PostgreSQL
    ids = {}
    for start in range(0, len(rows), 1000):
        ids.update(db.session.execute(select(orders.c.order_id, orders.c.id).where(
            orders.c.order_id.in_([row["order_id"] for row in rows[start:start + 1000]]))).tuples().all())
    db.session.execute(insert(items), [{**item, "order_id": ids[fields["order_id"]]}
                                       for fields, lines in batch for item in lines])
    db.session.execute(insert(events), [
        {"order_id": ids[row["order_id"]], "action": source, "user_id": user_id, "at": now,
         "details": {"items": len(lines), "status": row["status"]}} for row, (_, lines) in zip(rows, batch)])


@dataclass
class ReportUpdate:
    """What a later report changes on an order already here, with the rows the importer read it from
    (plain rows of `orders` and `order_items`: id, status, version and the columns that change)."""
    order: object
    items: list
    changes: dict  # Order columns that differ
    item_changes: dict[int, dict]  # OrderItem columns that differ, by order_items.id


def update_from_reports(updates: list[ReportUpdate], user: User | None = None) -> None:
    """Apply what a later report says about orders already here (no commit: the caller's transaction holds
    the whole file). A payment date on a Pending order makes it Unshipped ('mark_paid' in the history);
    anything else is an 'import_update'.

    Guarded in bulk: each order's UPDATE matches only the status and version the importer read, so when
    anyone changed one of them meanwhile nothing is written (StaleVersion)."""
    orders, items, events, now = Order.__table__, OrderItem.__table__, OrderEvent.__table__, utcnow()
    plain = lambda v: v.isoformat() if isinstance(v, datetime) else v  # noqa: E731  (JSON details)
    order_sets, item_sets, history = {}, {}, []
    for up in updates:
        order = up.order
        paid = order.status == S.PENDING and up.changes.get("paid_at") is not None
        values = {**up.changes, "status": S.UNSHIPPED.value} if paid else up.changes
        order_sets.setdefault(tuple(sorted(values)), []).append(
            {"w_id": order.id, "w_status": order.status, "w_version": order.version,
             **{"v_" + k: v for k, v in values.items()}})
        lines = []
        for item in up.items:
            if diff := up.item_changes.get(item.id):
                item_sets.setdefault(tuple(sorted(diff)), []).append(
                    {"w_id": item.id, **{"v_" + k: v for k, v in diff.items()}})
                lines.append({"order_item_id": item.order_item_id,
                              **{attr: [getattr(item, attr), value] for attr, value in diff.items()}})
        history.append({"order_id": order.id, "user_id": user.id if user else None, "at": now,
                        "action": "mark_paid" if paid else "import_update",
                        "details": {"changes": {k: [plain(getattr(order, k)), plain(v)]
                                                for k, v in up.changes.items()}, "items": lines}})
    for columns, params in order_sets.items():
        stmt = (update(orders).where(orders.c.id == bindparam("w_id"), orders.c.status == bindparam("w_status"),
                                     orders.c.version == bindparam("w_version"))
                .values(version=orders.c.version + 1, updated_at=now, **{c: bindparam("v_" + c) for c in columns}))
        if db.session.execute(stmt, params).rowcount != len(params):
            raise StaleVersion("Some of these orders were changed while the file was being imported. "
                               "Upload the file again.")
    for columns, params in item_sets.items():
        stmt = update(items).where(items.c.id == bindparam("w_id")).values(**{c: bindparam("v_" + c) for c in columns})
        db.session.execute(stmt, params)
    if history:
        db.session.execute(insert(events), history)

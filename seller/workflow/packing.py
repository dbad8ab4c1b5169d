"""Pack & ship (contract §10): an order scanned open, its units checked by SKU, then shipped.

What is being packed lives in the order's `PackSession`: who is packing it, since when, and the units checked
per line, so a reload or a second tablet sees them. Each write is one transaction that first locks the order row
(as the shipping verbs' guard does), so two tablets, a scanner's double read and a Confirm shipment serialise.
Shipping goes through `confirm_shipment`, the verb Manage Orders uses; shipping or canceling ends the session.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select

from .. import clock
from ..db import write_transaction
from ..extensions import db
from ..i18n import _, format_local, ngettext
from ..models import Label, Order, OrderItem, OrderStatus as S, PackSession, Shipment, User
from .core import store_tz
from .errors import InvalidInput, InvalidTransition
from .rules import normalize_tracking
from .shipping import ShipmentInput, confirm_shipment

DOUBLE_READ = timedelta(milliseconds=150)  # the same code again within this is the scanner reading twice


class PackedByOther(InvalidTransition):
    """Someone else is packing this order: take it over first."""


class NotInOrder(InvalidInput):
    """A scanned code that is no SKU of the order."""


class UncheckedUnits(InvalidInput):
    """Confirm shipment with units not checked: only with Confirm anyway."""


@dataclass(frozen=True)
class Line:
    """An order line as the packer sees it: `quantity` is what is to pack (of a partially shipped order, what is
    left to ship)."""
    item: OrderItem
    checked: int
    quantity: int

    @property
    def done(self) -> bool:
        return self.checked >= self.quantity


def refusal(order: Order) -> str | None:
    """Why this order cannot be packed (Pending, Canceled, already Shipped), or None for an Unshipped one."""
    if order.status == S.PENDING:
        return _("Order %(order_id)s is Pending: it is not paid yet. Do not ship it.", order_id=order.order_id)
    if order.status == S.CANCELED:
        return _("Order %(order_id)s is Canceled. Do not ship it.", order_id=order.order_id)
    if order.status == S.SHIPPED:
        shipment = order.shipment
        if shipment is None:
            return _("Order %(order_id)s is already Shipped.", order_id=order.order_id)
        return _("Order %(order_id)s is already Shipped: %(carrier)s %(tracking_id)s, confirmed %(when)s.",
                 order_id=order.order_id, carrier=shipment.carrier_name or shipment.carrier,
                 tracking_id=shipment.tracking_id or "—",
                 when=format_local(shipment.confirmed_at, "short", store_tz()))
    return None


def find_order(code: str) -> Order:
    """Scan order: the order with this order ID, or the order a tracking ID shipped; refused unless Unshipped."""
    code = (code or "").strip()
    if not code:
        raise InvalidInput(_("Scan or type an order ID."), "code")
    order = db.session.scalar(select(Order).where(Order.order_id == code))
    tracking = normalize_tracking(code)
    if order is None and tracking:
        order = db.session.scalar(select(Order).join(Shipment, Shipment.order_id == Order.id)
                                  .where(Shipment.tracking_id == tracking).limit(1))
    if order is None:
        raise InvalidInput(_("No order or tracking ID “%(code)s”.", code=code[:100]), "code")
    if reason := refusal(order):
        raise InvalidTransition(reason, "code")
    return order


def is_order_id(code: str) -> bool:
    return db.session.scalar(select(Order.id).where(Order.order_id == (code or "").strip())) is not None


def session_of(order: Order) -> PackSession | None:
    return db.session.scalar(select(PackSession).where(PackSession.order_id == order.id))


def lines(order: Order, pack: PackSession | None) -> list[Line]:
    counts = pack.counts if pack else {}
    return [Line(item, int(counts.get(str(item.id), 0)), left) for item, left in order.left_to_ship]


def unchecked(order: Order, pack: PackSession | None) -> list[dict]:
    """The units not checked yet, per SKU."""
    return [{"sku": line.item.sku, "quantity": line.quantity - line.checked}
            for line in lines(order, pack) if not line.done]


def _locked(order: Order) -> None:
    """The transaction's first statement: the order row locked, still Unshipped."""
    status = db.session.scalar(select(Order.status).where(Order.id == order.id).with_for_update())
    if status != S.UNSHIPPED:
        db.session.refresh(order)
        raise InvalidTransition(refusal(order) or "", "code")


def being_packed(pack: PackSession) -> str:
    return _("Being packed by %(who)s since %(when)s.", who=pack.packer.email if pack.packer else "?",
             when=format_local(pack.started_at, "short", store_tz()))


def open_pack(order: Order, user: User, *, now: datetime | None = None) -> PackSession:
    """Scan order: the order's pack session, started for this user when nobody is packing it."""
    now = now or clock.now()
    with write_transaction(db.session):
        _locked(order)
        pack = session_of(order)
        if pack is None:
            pack = PackSession(order_id=order.id, packer_id=user.id, started_at=now, counts={})
            db.session.add(pack)
        return pack


def take_over(order: Order, user: User, *, now: datetime | None = None) -> PackSession:
    """Go on packing an order someone else started (the units checked so far stay)."""
    now = now or clock.now()
    with write_transaction(db.session):
        _locked(order)
        pack = session_of(order) or PackSession(order_id=order.id, counts={})
        pack.packer_id, pack.started_at = user.id, now
        db.session.add(pack)
        return pack


def _mine(order: Order, user: User, now: datetime) -> PackSession:
    _locked(order)
    pack = session_of(order)
    if pack is None:
        pack = PackSession(order_id=order.id, packer_id=user.id, started_at=now, counts={})
        db.session.add(pack)
    elif pack.packer_id != user.id:
        raise PackedByOther(being_packed(pack) + " " + _("Take over to pack it here."))
    return pack


def _check_one(order: Order, pack: PackSession, code: str, now: datetime, pick) -> Line | None:
    """One unit checked on the line `pick(lines)` names; None when the same code came again within DOUBLE_READ."""
    if pack.last_code == code and pack.last_scan_at and timedelta(0) <= now - pack.last_scan_at < DOUBLE_READ:
        return None
    line = pick(lines(order, pack))
    counts = dict(pack.counts or {})
    counts[str(line.item.id)] = line.checked + 1
    pack.counts, pack.last_code, pack.last_scan_at = counts, code, now
    return Line(line.item, line.checked + 1, line.quantity)


def scan_item(order: Order, user: User, code: str, *, now: datetime | None = None) -> Line | None:
    """Scan item: one unit of the line whose SKU was scanned. Refused (nothing changes) for a SKU not in the order
    or one unit too many. Returns the line, or None for a scanner's double read (counted once)."""
    now, code = now or clock.now(), (code or "").strip()
    if not code:
        raise InvalidInput(_("Scan or type a SKU."), "code")

    def pick(found: list[Line]) -> Line:
        same = [line for line in found if line.item.sku.casefold() == code.casefold()]
        if not same:
            raise NotInOrder(_("%(code)s is not in order %(order_id)s.", code=code[:100], order_id=order.order_id),
                             "code")
        for line in same:
            if not line.done:
                return line
        raise InvalidInput(ngettext("One too many: order %(order_id)s has %(num)d × %(sku)s, already checked.",
                                    "One too many: order %(order_id)s has %(num)d × %(sku)s, all checked.",
                                    sum(line.quantity for line in same), order_id=order.order_id,
                                    sku=same[0].item.sku), "code")

    with write_transaction(db.session):
        return _check_one(order, _mine(order, user, now), code, now, pick)


def check_line(order: Order, user: User, item_id: int, *, now: datetime | None = None) -> Line | None:
    """+1: one unit of a line without a barcode (a double tap within DOUBLE_READ counts once)."""
    now = now or clock.now()

    def pick(found: list[Line]) -> Line:
        line = next((line for line in found if line.item.id == item_id), None)
        if line is None:
            raise InvalidInput(_("That line is not in order %(order_id)s.", order_id=order.order_id))
        if line.done:
            raise InvalidInput(_("One too many: every %(sku)s of order %(order_id)s is already checked.",
                                 sku=line.item.sku, order_id=order.order_id))
        return line

    with write_transaction(db.session):
        return _check_one(order, _mine(order, user, now), f"+{item_id}", now, pick)


def _replayed(order: Order, user: User, tracking_id: str) -> Shipment | None:
    """The shipment this user just confirmed with this tracking ID (a double Enter), if that is what happened."""
    db.session.refresh(order)
    shipment = order.shipment
    if (order.status == S.SHIPPED and shipment is not None and shipment.confirmed_by_id == user.id
            and shipment.tracking_id == normalize_tracking(tracking_id)):
        return shipment
    return None


def ready_to_ship(order: Order, user: User, *, anyway: bool = False, button: str | None = None) -> dict:
    """Before shipping from Pack & ship: the order still Unshipped, this user packing it, every unit checked (or
    `anyway`: the second tap, on `button`). Returns what the history records about the units."""
    if reason := refusal(order):
        raise InvalidTransition(reason)
    pack = session_of(order)
    if pack is not None and pack.packer_id != user.id:
        raise PackedByOther(being_packed(pack) + " " + _("Take over to pack it here."))
    missing = unchecked(order, pack)
    if missing and not anyway:
        units = sum(m["quantity"] for m in missing)
        raise UncheckedUnits(ngettext("%(num)d unit is not checked: %(which)s. Check it, or tap %(button)s.",
                                      "%(num)d units are not checked: %(which)s. Check them, or tap %(button)s.",
                                      units, which=", ".join(f"{m['quantity']} × {m['sku']}" for m in missing),
                                      button=button or _("Confirm anyway")))
    return {"confirm_anyway": True, "unchecked": missing} if missing else {"all_units_checked": True}


def confirm_packed(order: Order, user: User, data: ShipmentInput, *, anyway: bool = False,
                   expected_version: int | None = None) -> tuple[Shipment, bool]:
    """Confirm shipment from Pack & ship: `confirm_shipment` itself, refused while units are unchecked unless
    `anyway` (Confirm anyway, recorded in the history). Returns (shipment, replayed): a second Enter on the same
    tracking ID answers with the shipment the first one confirmed."""
    if order.status == S.SHIPPED and (done := _replayed(order, user, data.tracking_id)):
        return done, True
    details = ready_to_ship(order, user, anyway=anyway)
    try:
        return confirm_shipment(order, user, data, expected_version=expected_version, **details), False
    except InvalidTransition:
        if done := _replayed(order, user, data.tracking_id):
            return done, True
        raise


def bought(order: Order, key: str) -> Label | None:
    """The label this Buy shipping form (its idempotency key) already bought for the order, if any."""
    return db.session.scalar(select(Label).where(Label.order_id == order.id, Label.idempotency_key == key,
                                                 Label.shipment_id.is_not(None)))


def shipped_today(user: User, *, now: datetime | None = None) -> int:
    """Orders this user shipped (first confirmation, or a label bought) since the store's midnight."""
    tz = store_tz()
    start = clock.local_day_start(clock.local_today(tz, now), tz)
    return db.session.scalar(
        select(func.count()).select_from(Shipment).join(Order, Order.id == Shipment.order_id)
        .where(Shipment.confirmed_at >= start, Shipment.confirmed_by_id == user.id,
               Order.shipped_at == Shipment.confirmed_at)) or 0

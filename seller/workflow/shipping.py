"""Shipping an order: Confirm shipment, Edit shipment, Cancel order and printing packing slips."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import delete, insert, select
from sqlalchemy.orm import selectinload

from .. import clock
from ..db import write_transaction
from ..extensions import db
from ..i18n import _
from ..models import (
    Cancellation, Order, OrderEvent, OrderStatus as S, PackSession, Shipment, ShipmentItem, User, units_in,
)
from . import outbox
from .core import _event, _locked_order, store_tz
from .actions import partly_shipped
from .errors import InvalidInput, InvalidTransition
from .rules import CANCEL_REASONS, CARRIERS, ORDER_ACTIONS, carrier_of, normalize_tracking, tracking_matches


def _to_store_date(dt: datetime, tz) -> date:
    return clock.to_local(dt, tz).date()


@dataclass
class ShipmentInput:
    """One package of a confirmation. `items`: units per order item (`OrderItem.id` -> quantity); None: every
    unit left to ship that the confirmation's other packages don't hold (so one ShipmentInput ships it all)."""
    carrier: str
    tracking_id: str
    ship_date: date
    shipping_service: str = ""
    carrier_name: str = ""
    note: str = ""
    items: dict[int, int] | None = None


def package_field(index: int, name: str) -> str:
    """The form field a package's message goes next to: the first package's fields are the form's own, the
    others' are `packages-<n>-<name>` (forms.orders.ShipmentForm)."""
    return name if index == 0 else f"packages-{index - 1}-{name}"


def last_carrier(user: User | None) -> str | None:
    """The carrier of the last shipment this user confirmed (what the Confirm shipment form falls back to)."""
    if user is None or not user.is_authenticated:
        return None
    return db.session.scalar(select(Shipment.carrier).where(Shipment.confirmed_by_id == user.id)
                             .order_by(Shipment.id.desc()).limit(1))


def _check_shipment(order: Order, data: ShipmentInput, now: datetime, index: int = 0) -> ShipmentInput:
    """The package as it will be kept. No carrier: the one whose format the tracking ID has, if only one has it."""
    carrier = data.carrier or carrier_of(data.tracking_id)
    if not carrier:
        raise InvalidInput(_("Choose a carrier: the tracking ID does not show which one."),
                           package_field(index, "carrier"))
    if carrier not in CARRIERS:
        raise InvalidInput(_("Choose a carrier from the list."), package_field(index, "carrier"))
    carrier_name = (data.carrier_name or "").strip()
    if carrier == "Other" and not carrier_name:
        raise InvalidInput(_("Enter the carrier's name when the carrier is Other."),
                           package_field(index, "carrier_name"))
    tz = store_tz()
    if data.ship_date > clock.local_today(tz, now):
        raise InvalidInput(_("The ship date cannot be in the future."), "ship_date")
    if data.ship_date < _to_store_date(order.purchased_at, tz):
        raise InvalidInput(_("The ship date cannot be before the order date."), "ship_date")
    return ShipmentInput(carrier=carrier, carrier_name=carrier_name if carrier == "Other" else "",
                         tracking_id=normalize_tracking(data.tracking_id), ship_date=data.ship_date,
                         shipping_service=(data.shipping_service or "").strip(), note=(data.note or "").strip(),
                         items=data.items)


def _units(order: Order, packages: list[ShipmentInput], left: dict[int, int],
           exactly: dict[int, int] | None = None) -> list[dict[int, int]]:
    """Each package's units per item: every package holds one at least, and no item more than is `left` over
    all packages (when editing a confirmation, `exactly` what it held). A package without `items` takes what the
    others leave. Messages go next to the item's Quantity in the package."""
    items = {item.id: item for item in order.items}
    units: list[dict[int, int] | None] = []
    for index, package in enumerate(packages):
        if package.items is None:
            units.append(None)
            continue
        for item_id, quantity in package.items.items():
            if item_id not in items:
                raise InvalidInput(_("This item is not in the order. Reload the page and try again."))
            if quantity < 0:
                raise InvalidInput(_("Enter 0 or more."), package_field(index, f"qty_{item_id}"))
        units.append({item_id: quantity for item_id, quantity in package.items.items() if quantity})
    for index, held in enumerate(units):
        if held is None:
            taken = {i: sum((u or {}).get(i, 0) for u in units) for i in items}
            units[index] = held = {i: n - taken[i] for i, n in left.items() if n > taken[i]}
        if not held:
            first = next((i for i in items if left.get(i)), next(iter(items)))
            raise InvalidInput(_("Put at least one unit in this package."), package_field(index, f"qty_{first}"))
    for item_id, item in items.items():
        total = sum(u.get(item_id, 0) for u in units)
        last = max((index for index, u in enumerate(units) if item_id in u), default=0)
        field = package_field(last, f"qty_{item_id}")
        if exactly is not None and total != exactly.get(item_id, 0):
            raise InvalidInput(_("This shipment holds %(count)d of %(sku)s: its packages must hold %(count)d.",
                                 count=exactly.get(item_id, 0), sku=item.sku), field)
        if total > left.get(item_id, 0):
            raise InvalidInput(_("Only %(left)d of %(sku)s is left to ship: these packages hold %(total)d.",
                                 left=left.get(item_id, 0), sku=item.sku, total=total), field)
    return units


def check_packages(order: Order, packages: Sequence[ShipmentInput], *, now: datetime | None = None) -> None:
    """What `confirm_shipment` would say of these packages now (its message, as an InvalidInput), without writing:
    for a preview (Upload tracking). The order's packages must be loaded."""
    now = now or clock.now()
    checked = [_check_shipment(order, p, now, index) for index, p in enumerate(packages)]
    shipped = units_in(order.packages)
    _units(order, checked, {item.id: item.quantity - shipped.get(item.id, 0) for item in order.items})


def _package_details(s: Shipment, held: dict[int, int], skus: dict[int, str]) -> dict:
    """A package for the history: carrier, service, tracking ID, ship date, and its items by SKU."""
    return {"carrier": s.carrier, "carrier_name": s.carrier_name, "shipping_service": s.shipping_service,
            "tracking_id": s.tracking_id, "ship_date": s.ship_date.isoformat(), "tracking_valid": s.tracking_valid,
            "items": [{"sku": skus.get(i, ""), "quantity": n} for i, n in held.items()]}


def _done_packing(order: Order) -> None:
    """A shipped or canceled order is no longer being packed (Pack & ship)."""
    db.session.execute(delete(PackSession).where(PackSession.order_id == order.id))


def _confirm(order: Order, user: User | None, packages: ShipmentInput | Sequence[ShipmentInput], action: str,
             now: datetime, expected_version: int | None, *, confirmation: int | None = None,
             **details) -> Shipment | list[Shipment]:
    """Ship packages, in the caller's transaction. Confirming (`action` confirm_shipment or buy_shipping): a new
    confirmation of units left to ship; late when after Ship by; the order becomes Shipped once nothing is left.
    Editing (edit_shipment): `confirmation` (default: the last) gets new packages holding the same units, its
    lateness kept, the earlier ones superseded. One ShipmentInput in, one Shipment out; a list, a list."""
    single = isinstance(packages, ShipmentInput)
    checked = [_check_shipment(order, p, now, index) for index, p in enumerate([packages] if single else packages)]
    if not checked:
        raise InvalidInput(_("Add a package."))
    editing = action == "edit_shipment"
    late = now > order.ship_by
    _locked_order(order, action, expected_version, **({"late": True} if late and not editing else {}))
    every = list(db.session.scalars(select(Shipment).where(Shipment.order_id == order.id)
                                    .options(selectinload(Shipment.items)).order_by(Shipment.id)))
    current = [s for s in every if s.superseded_at is None]
    if editing:
        confirmation = confirmation or max((s.confirmation for s in current), default=0)
        replaced = [s for s in current if s.confirmation == confirmation]
        if not replaced:
            raise InvalidTransition(_("No shipment has been confirmed for this order yet.") if not current else
                                    _("This shipment was changed since the page was shown. Reload it and try "
                                      "again."))
        late, exactly = replaced[0].late, units_in(replaced)
        left = exactly
    else:
        confirmation = max((s.confirmation for s in every), default=0) + 1
        replaced, exactly, shipped = [], None, units_in(current)
        left = {item.id: item.quantity - shipped.get(item.id, 0) for item in order.items}
    units = _units(order, checked, left, exactly)
    if not editing:
        _done_packing(order)
    for old in replaced:
        old.superseded_at = now
    shipments = [Shipment(order_id=order.id, carrier=data.carrier, carrier_name=data.carrier_name,
                          shipping_service=data.shipping_service, tracking_id=data.tracking_id,
                          tracking_valid=tracking_matches(data.carrier, data.tracking_id), ship_date=data.ship_date,
                          note=checked[0].note, confirmed_at=now, confirmed_by_id=user.id if user else None,
                          late=late, confirmation=confirmation) for data in checked]
    if not editing and all(sum(u.get(i, 0) for u in units) == n for i, n in left.items()):
        order.status, order.shipped_at = S.SHIPPED.value, now
    db.session.add_all(shipments)
    db.session.flush()
    db.session.execute(insert(ShipmentItem), [{"shipment_id": shipment.id, "order_item_id": i, "quantity": n}
                                              for shipment, held in zip(shipments, units) for i, n in held.items()])
    skus = {item.id: item.sku for item in order.items}
    if editing:
        details["previous"] = [_package_details(s, units_in([s]), skus) for s in replaced]
    else:
        details["late"] = late
    _event(order, user, action, note=checked[0].note, confirmation=confirmation,
           packages=[_package_details(s, held, skus) for s, held in zip(shipments, units)], **details)
    for shipment, held in zip(shipments, units):
        outbox.shipment_message(order, shipment, held)
    return shipments[0] if single else shipments


def confirm_shipment(order: Order, user: User | None, packages: ShipmentInput | Sequence[ShipmentInput], *,
                     now: datetime | None = None, expected_version: int | None = None,
                     **details) -> Shipment | list[Shipment]:
    """Ship one or more packages of the units left to ship. The order becomes Shipped when nothing is left,
    else it stays Unshipped (partially shipped). Confirming after Ship by records a late shipment (the moment
    counts), for this confirmation and for the order. `details` go into the history beside the packages' (Pack &
    ship's units checked)."""
    now = now or clock.now()
    with write_transaction(db.session):
        return _confirm(order, user, packages, "confirm_shipment", now, expected_version, **details)


def edit_shipment(order: Order, user: User | None, packages: ShipmentInput | Sequence[ShipmentInput], *,
                  confirmation: int | None = None, now: datetime | None = None,
                  expected_version: int | None = None) -> Shipment | list[Shipment]:
    """Re-confirm one confirmation's packages (default: the last one): the same units, in packages as now given;
    the earlier records are kept (superseded), lateness unchanged."""
    now = now or clock.now()
    with write_transaction(db.session):
        return _confirm(order, user, packages, "edit_shipment", now, expected_version, confirmation=confirmation)


def cancel_order(order: Order, user: User | None, reason: str, memo: str = "", *, now: datetime | None = None,
                 expected_version: int | None = None) -> Cancellation:
    """Unshipped -> Canceled, recording a pre-fulfillment cancellation with its reason."""
    if reason not in CANCEL_REASONS:
        raise InvalidInput(_("Choose a reason for cancellation."), "reason")
    now = now or clock.now()
    with write_transaction(db.session):
        _locked_order(order, "cancel_order", expected_version, status=S.CANCELED.value, canceled_at=now)
        if order.packages:
            raise InvalidTransition(partly_shipped(order))
        _done_packing(order)
        cancellation = Cancellation(order_id=order.id, reason=reason, memo=(memo or "").strip(),
                                    canceled_by_id=user.id if user else None, canceled_at=now)
        db.session.add(cancellation)
        _event(order, user, "cancel_order", reason=reason, memo=cancellation.memo,
               counts_toward_cancel_rate=reason != "Buyer canceled")
        outbox.cancel_message(order, cancellation)
        return cancellation


def check_packing_slips(orders: list[Order]) -> None:
    """Only Unshipped and Shipped orders have a packing slip: any other refuses the whole print, naming it."""
    refused = [f"{o.order_id} ({o.status})" for o in orders if o.status not in ORDER_ACTIONS["print_packing_slip"][0]]
    if refused:
        raise InvalidTransition(_("No packing slip for %(orders)s: only Unshipped and Shipped orders have one.",
                                  orders=", ".join(refused)))


def record_packing_slips(orders: list[Order], user: User | None) -> None:
    """Write 'printed packing slip' into each order's history, once per order (see `check_packing_slips`)."""
    check_packing_slips(orders)
    # Ids read before the transaction: it begins by expiring what the request loaded, and a batch of 100
    # would otherwise reload every order while holding SQLite's write lock.
    order_ids, user_id, now = list(dict.fromkeys(o.id for o in orders)), user.id if user else None, clock.now()
    with write_transaction(db.session):
        db.session.execute(insert(OrderEvent), [{"order_id": order_id, "user_id": user_id, "at": now, "details": {},
                                                  "action": "print_packing_slip"} for order_id in order_ids])

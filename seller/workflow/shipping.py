"""Shipping an order: Confirm shipment, Edit shipment, Cancel order and printing packing slips."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import delete, insert, select

from .. import clock
from ..db import write_transaction
from ..extensions import db
from ..i18n import _
from ..models import Cancellation, Order, OrderEvent, OrderStatus as S, PackSession, Shipment, User
from .core import _event, _locked_order, store_tz
from .errors import InvalidInput, InvalidTransition
from .rules import CANCEL_REASONS, CARRIERS, ORDER_ACTIONS, carrier_of, normalize_tracking, tracking_matches


def _to_store_date(dt: datetime, tz) -> date:
    return clock.to_local(dt, tz).date()


@dataclass
class ShipmentInput:
    carrier: str
    tracking_id: str
    ship_date: date
    shipping_service: str = ""
    carrier_name: str = ""
    note: str = ""


def last_carrier(user: User | None) -> str | None:
    """The carrier of the last shipment this user confirmed (what the Confirm shipment form falls back to)."""
    if user is None or not user.is_authenticated:
        return None
    return db.session.scalar(select(Shipment.carrier).where(Shipment.confirmed_by_id == user.id)
                             .order_by(Shipment.id.desc()).limit(1))


def _check_shipment(order: Order, data: ShipmentInput, now: datetime) -> ShipmentInput:
    """The shipment as it will be kept. No carrier: the one whose format the tracking ID has, if only one has it."""
    carrier = data.carrier or carrier_of(data.tracking_id)
    if not carrier:
        raise InvalidInput(_("Choose a carrier: the tracking ID does not show which one."), "carrier")
    if carrier not in CARRIERS:
        raise InvalidInput(_("Choose a carrier from the list."), "carrier")
    carrier_name = (data.carrier_name or "").strip()
    if carrier == "Other" and not carrier_name:
        raise InvalidInput(_("Enter the carrier's name when the carrier is Other."), "carrier_name")
    tz = store_tz()
    if data.ship_date > clock.local_today(tz, now):
        raise InvalidInput("The ship date cannot be in the future.", "ship_date")
    if data.ship_date < _to_store_date(order.purchased_at, tz):
        raise InvalidInput("The ship date cannot be before the order date.", "ship_date")
    return ShipmentInput(carrier=carrier, carrier_name=carrier_name if carrier == "Other" else "",
                         tracking_id=normalize_tracking(data.tracking_id), ship_date=data.ship_date,
                         shipping_service=(data.shipping_service or "").strip(), note=(data.note or "").strip())


def _shipment_details(s: Shipment) -> dict:
    return {"carrier": s.carrier, "carrier_name": s.carrier_name, "shipping_service": s.shipping_service,
            "tracking_id": s.tracking_id, "ship_date": s.ship_date.isoformat(), "note": s.note,
            "tracking_valid": s.tracking_valid}


def _done_packing(order: Order) -> None:
    """A shipped or canceled order is no longer being packed (Pack & ship)."""
    db.session.execute(delete(PackSession).where(PackSession.order_id == order.id))


def _ship(order: Order, user: User | None, data: ShipmentInput, action: str, now: datetime,
          expected_version: int | None, **details) -> Shipment:
    late = now > order.ship_by
    _locked_order(order, action, expected_version, status=S.SHIPPED.value, late=late, shipped_at=now)
    _done_packing(order)
    shipment = Shipment(order_id=order.id, carrier=data.carrier, carrier_name=data.carrier_name,
                        shipping_service=data.shipping_service, tracking_id=data.tracking_id,
                        tracking_valid=tracking_matches(data.carrier, data.tracking_id), ship_date=data.ship_date,
                        note=data.note, confirmed_at=now, confirmed_by_id=user.id if user else None, late=late)
    db.session.add(shipment)
    db.session.flush()
    _event(order, user, action, late=late, **_shipment_details(shipment), **details)
    return shipment


def confirm_shipment(order: Order, user: User | None, data: ShipmentInput, *, now: datetime | None = None,
                     expected_version: int | None = None, **details) -> Shipment:
    """Unshipped -> Shipped. Confirming after Ship by records a late shipment (the moment counts). `details` go
    into the history beside the shipment's (Pack & ship's units checked)."""
    now = now or clock.now()
    with write_transaction(db.session):
        data = _check_shipment(order, data, now)
        return _ship(order, user, data, "confirm_shipment", now, expected_version, **details)


def edit_shipment(order: Order, user: User | None, data: ShipmentInput, *, now: datetime | None = None,
                  expected_version: int | None = None) -> Shipment:
    """Re-confirm a shipped order's shipment; the earlier record is kept (superseded), lateness unchanged."""
    now = now or clock.now()
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
    now = now or clock.now()
    with write_transaction(db.session):
        _locked_order(order, "cancel_order", expected_version, status=S.CANCELED.value, canceled_at=now)
        _done_packing(order)
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
    order_ids, user_id, now = list(dict.fromkeys(o.id for o in orders)), user.id if user else None, clock.now()
    with write_transaction(db.session):
        db.session.execute(insert(OrderEvent), [{"order_id": order_id, "user_id": user_id, "at": now, "details": {},
                                                  "action": "print_packing_slip"} for order_id in order_ids])

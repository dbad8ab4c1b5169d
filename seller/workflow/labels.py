"""Buy shipping: one label per order, reserved before the provider is asked and recorded after it answers."""
from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError  # noqa: F401

from .. import clock
from ..db import write_transaction
from ..extensions import db
from ..models import Label, Order, User
from ..money import to_cents
from .core import _guard, _refused, store_tz
from .errors import InvalidInput, InvalidTransition, PurchaseInProgress
from .rules import CARRIERS, ORDER_ACTIONS, normalize_tracking
from .shipping import ShipmentInput, _confirm
from ..i18n import _

LABEL_DAYS_AHEAD = 3  # a label may carry a ship date up to this many days after today
LABEL_CLAIM_TTL = timedelta(minutes=2)  # a purchase unfinished after this was abandoned (its worker died)


def check_label_date(ship_date: date, now: datetime | None = None) -> None:
    """A label's ship date: today (store timezone) or a few days ahead."""
    today = clock.local_today(store_tz(), now)
    if ship_date < today:
        raise InvalidInput(_("The ship date cannot be in the past."), "ship_date")
    if ship_date > today + timedelta(days=LABEL_DAYS_AHEAD):
        raise InvalidInput(_("Choose a ship date at most %(days)s days from today.", days=LABEL_DAYS_AHEAD), "ship_date")


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
        raise InvalidInput(_("This form is missing its submission key. Reload the page."))
    now = now or clock.now()
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
                raise PurchaseInProgress(_("This label is being bought right now. Reload the page in a moment "
                                           "to see it."), same_key=True)
            else:
                raise PurchaseInProgress(_("Someone else is buying a label for this order right now. Reload the "
                                           "page in a moment."), same_key=False)
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
                 expected_version: int | None = None, **details) -> tuple[Label, bool]:
    """A label bought for what is left to ship: one package, confirmed (the order becomes Shipped). Returns
    (label, replayed).

    A shipment confirmation (the late rule applies) with the label's carrier, service and tracking ID;
    the history records the purchase, its cost and who bought it; the label PDF is kept in the database.
    `purchase` has carrier, service, cost (Decimal), tracking_id, label_pdf and provider_shipment_id.
    A key that already bought a label returns that label and changes nothing. `details` go into the history too.
    """
    now = now or clock.now()
    carrier = purchase.carrier if purchase.carrier in CARRIERS else "Other"
    data = ShipmentInput(carrier=carrier, carrier_name="" if carrier != "Other" else purchase.carrier,
                         tracking_id=normalize_tracking(purchase.tracking_id), ship_date=ship_date,
                         shipping_service=purchase.service)
    try:
        with write_transaction(db.session):
            label = _label(order, idempotency_key)
            if label is not None and label.shipment_id is not None:
                return label, True
            shipment = _confirm(order, user, data, "buy_shipping", now, expected_version, provider=provider,
                                cost=str(purchase.cost), parcel=parcel or {}, **details)
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

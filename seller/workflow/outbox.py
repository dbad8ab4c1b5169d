"""What an action must tell Amazon, written into the outbox in the action's own transaction (no action without its
message, no message without its action). Only with an Amazon connection saved; `amazon.push` sends them.

Payloads are complete when written (later changes to the order do not change what was said), in the desk's own
words; `amazon.feeds` turns reasons into Amazon's codes."""
from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select, update

from .. import clock
from ..db import write_transaction
from ..extensions import db
from ..models import AmazonConnection, AmazonMessage, Cancellation, Order, Refund, Shipment, User
from .core import _event, store_tz


def _connected() -> bool:
    return bool(db.session.scalar(select(AmazonConnection.seller_id).where(AmazonConnection.id == 1)))


def _write(order: Order, kind: str, key: str, payload) -> None:
    """`payload` is made (a callable) only with a connection: without one, nothing is read or written."""
    if _connected():
        db.session.add(AmazonMessage(order_id=order.id, kind=kind, key=key, payload=payload(), due_at=clock.now()))


def _ship_moment(order: Order, shipment: Shipment) -> datetime:
    """The ship date as a moment Amazon accepts: noon that store day, never before the purchase nor after now."""
    tz = store_tz()
    noon = clock.local_day_start(shipment.ship_date, tz) + timedelta(hours=12)
    return min(max(noon, order.purchased_at + timedelta(minutes=1)), shipment.confirmed_at or clock.now())


def shipment_message(order: Order, shipment: Shipment, held: dict[int, int]) -> None:
    """Confirm shipment / Re-confirm shipment: each package its own `confirmShipment` (its reference ID is the
    package's id) with the units it holds (`held`: OrderItem.id -> quantity)."""
    _write(order, "confirm_shipment", f"shipment:{shipment.id}", lambda: {
        "orderId": order.order_id, "packageReferenceId": str(shipment.id), "carrierCode": shipment.carrier,
        "carrierName": shipment.carrier_name, "shippingMethod": shipment.shipping_service,
        "trackingNumber": shipment.tracking_id,
        "shipDate": _ship_moment(order, shipment).isoformat(timespec="seconds") + "Z",
        "orderItems": [{"orderItemId": item.order_item_id, "quantity": held[item.id]} for item in order.items
                       if held.get(item.id)]})


def cancel_message(order: Order, cancellation: Cancellation) -> None:
    _write(order, "cancel_order", f"cancel:{order.id}", lambda: {
        "orderId": order.order_id, "reason": cancellation.reason,
        "items": [item.order_item_id for item in order.items]})


def refund_message(order: Order, refund: Refund) -> None:
    """Each refunded item's components (cents), the concessions and the reason."""
    by_item = lambda: {item.id: item.order_item_id for item in order.items}  # noqa: E731
    _write(order, "refund", f"refund:{refund.id}", lambda: {
        "orderId": order.order_id, "reason": refund.reason, "currency": order.currency,
        "items": [{"orderItemId": by_item()[line.order_item_id], "principal": line.item_cents,
                   "tax": line.item_tax_cents, "shipping": line.shipping_cents, "shippingTax": line.shipping_tax_cents}
                  for line in refund.lines],
        "returnShipping": refund.return_concession_cents, "goodwill": refund.other_concession_cents,
        "firstItem": order.items[0].order_item_id})


def retry_amazon(order: Order, user: User | None) -> int:
    """Retry (owner): what Amazon refused for this order is sent again. Returns how many messages."""
    with write_transaction(db.session):
        again = db.session.execute(update(AmazonMessage).where(
            AmazonMessage.order_id == order.id, AmazonMessage.state == "refused").values(
            state="waiting", attempts=0, due_at=clock.now(), error="", feed_document_id="", feed_id="",
            submitted_at=None).execution_options(synchronize_session=False)).rowcount
        if again:
            _event(order, user, "retry_amazon", messages=again)
        return again

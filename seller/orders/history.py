"""An order's History in words: what each OrderEvent was, and its key details."""
from datetime import date
from decimal import Decimal, InvalidOperation

from ..models import OrderEvent
from ..money import fmt, to_cents
from . import bp

ACTIONS = {
    "import": "Imported from an order report",
    "seed-demo": "Created (demo data)",
    "mark_paid": "Payment received",
    "print_packing_slip": "Printed packing slip",
    "confirm_shipment": "Confirmed shipment",
    "buy_shipping": "Bought shipping",
    "edit_shipment": "Re-confirmed shipment",
    "cancel_order": "Canceled order",
    "refund": "Refunded",
    "create_return": "Return requested",
    "authorize_return": "Authorized return",
    "close_return": "Closed return request",
    "complete_return": "Return completed",
    "contact_buyer": "Contacted buyer",
}
LABELS = {
    "carrier_name": "Carrier name", "shipping_service": "Shipping service", "tracking_id": "Tracking ID",
    "ship_date": "Ship date", "note": "Seller note", "late": "Late shipment", "memo": "Seller memo",
    "counts_toward_cancel_rate": "Counts toward cancel rate", "kind": "Refund", "total": "Total",
    "return_concession": "Return shipping concession", "other_concession": "Other concession",
    "memo_to_buyer": "Memo to buyer", "seller_memo": "Seller memo", "rma_number": "RMA number",
    "return_address": "Return address", "refund_timing": "Refund", "previous": "Replaced",
}
HIDDEN = {"tracking_valid", "refund_id", "message_id", "label_id", "shipment_id"}
NOT_IF_ZERO = {"return_concession", "other_concession"}
MONEY = {"total", "return_concession", "other_concession"}
WORDS = {"refund_timing": {"now": "now", "after_receipt": "after the item is received"},
         "kind": {"full": "Full Refund", "partial": "Partial Refund"}}


def _money(value, currency: str) -> str:
    try:
        return fmt(to_cents(Decimal(str(value))), currency)
    except (InvalidOperation, ValueError):
        return str(value)


def _day(value) -> str:
    try:
        return date.fromisoformat(value).strftime("%b %d, %Y")
    except (TypeError, ValueError):
        return str(value)


def _text(key: str, value, currency: str) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if key in MONEY:
        return _money(value, currency)
    if key == "ship_date":
        return _day(value)
    if key == "previous" and isinstance(value, dict):
        carrier = value.get("carrier_name") or value.get("carrier", "")
        return " ".join(filter(None, [carrier, value.get("tracking_id"), "shipped", _day(value.get("ship_date"))]))
    if key == "lines" and isinstance(value, list):
        return "; ".join(f"{line.get('sku')}: item {_money(line.get('item'), currency)}, "
                         f"shipping {_money(line.get('shipping'), currency)}" for line in value)
    if key == "items" and isinstance(value, list):
        return ", ".join(f"{i.get('sku')} × {i.get('quantity')}" for i in value)
    return WORDS.get(key, {}).get(value, str(value))


@bp.app_template_filter("event_action")
def event_action(event: OrderEvent) -> str:
    return ACTIONS.get(event.action) or event.action.replace("_", " ").replace("-", " ").capitalize()


@bp.app_template_filter("event_details")
def event_details(event: OrderEvent) -> list[tuple[str, str]]:
    """(label, text) pairs worth showing, in the order the verb wrote them; a bad tracking ID is flagged."""
    details = event.details or {}
    shown = []
    for key, value in details.items():
        if key in HIDDEN or value in (None, "", [], {}) or (key == "late" and value is False) \
                or (key in NOT_IF_ZERO and value in ("0", "0.00")):
            continue
        shown.append((LABELS.get(key) or key.replace("_", " ").capitalize(), _text(key, value, event.order.currency)))
    if details.get("tracking_valid") is False:
        shown.append(("Warning", "the tracking ID does not match the carrier's format"))
    return shown

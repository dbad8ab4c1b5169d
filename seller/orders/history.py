"""An order's History in words: what each OrderEvent was, and every detail its verb wrote.

Details are JSON: text, numbers, booleans, dates as ISO text, lists and dicts. The ones we know get words
(money, dates, a parcel "2 lb · 10×8×4 in", a replaced shipment, refund lines, changed columns); anything
else is still shown, as plain text, so no detail a verb writes can break the order page."""
from datetime import date, datetime
from decimal import Decimal, InvalidOperation

from ..i18n import _, _l
from ..models import OrderEvent
from ..money import fmt, to_cents
from ..templating import local_time
from . import bp

ACTIONS = {
    "import": _l("Imported from an order report"),
    "seed-demo": _l("Created (demo data)"),
    "mark_paid": _l("Payment received"),
    "import_update": _l("Updated from an order report"),
    "print_packing_slip": _l("Printed packing slip"),
    "confirm_shipment": _l("Confirmed shipment"),
    "buy_shipping": _l("Bought shipping"),
    "edit_shipment": _l("Re-confirmed shipment"),
    "cancel_order": _l("Canceled order"),
    "refund": _l("Refunded"),
    "create_return": _l("Return requested"),
    "authorize_return": _l("Authorized return"),
    "close_return": _l("Closed return request"),
    "mark_received": _l("Marked return received"),
    "cancel_refund": _l("Canceled refund"),
    "refund_final": _l("Refund final"),
    "import_return": _l("Imported from the returns report"),
    "complete_return": _l("Return completed"),
    "contact_buyer": _l("Contacted buyer"),
    "amazon_sync": _l("Received from Amazon"),
    "amazon_shipped": _l("Shipped on Amazon"),
    "amazon_canceled": _l("Canceled on Amazon"),
}
LABELS = {
    "carrier": _l("Carrier"), "carrier_name": _l("Carrier name"), "shipping_service": _l("Shipping service"),
    "tracking_id": _l("Tracking ID"), "ship_date": _l("Ship date"), "note": _l("Seller note"),
    "late": _l("Late shipment"), "memo": _l("Seller memo"), "reason": _l("Reason"),
    "counts_toward_cancel_rate": _l("Counts toward cancel rate"), "kind": _l("Refund"), "total": _l("Total"),
    "return_concession": _l("Return shipping concession"), "other_concession": _l("Other concession"),
    "memo_to_buyer": _l("Memo to buyer"), "seller_memo": _l("Seller memo"), "rma_number": _l("RMA number"),
    "return_address": _l("Return address"), "refund_timing": _l("Refund"), "previous": _l("Replaced"),
    "provider": _l("Provider"), "cost": _l("Cost"), "parcel": _l("Parcel"), "lines": _l("Items"),
    "items": _l("Items"), "status": _l("Status"), "changes": _l("Changes"), "subject": _l("Subject"),
    "message": _l("Message"), "received": _l("Received"), "received_note": _l("Note"),
    "days": _l("Days without the item"), "reopened": _l("Return requests opened again"),
    "amazon_rma_id": _l("Amazon RMA ID"),
    "all_units_checked": _l("All items checked"), "confirm_anyway": _l("Confirm anyway"),
    "unchecked": _l("Units not checked"),
}
HIDDEN = {"tracking_valid", "refund_id", "message_id", "label_id", "shipment_id", "confirmation", "packages"}
NOT_IF_ZERO = {"return_concession", "other_concession"}
MONEY = {"total", "return_concession", "other_concession", "cost"}
WORDS = {"refund_timing": {"now": _l("now"), "after_receipt": _l("after the item is received")},
         "kind": {"full": _l("Full Refund"), "partial": _l("Partial Refund")}}


def _money(value, currency: str) -> str:
    try:
        return fmt(to_cents(Decimal(str(value))), currency)
    except (InvalidOperation, ValueError):
        return str(value)


def _day(value) -> str:
    try:
        return local_time(date.fromisoformat(value), "date")
    except (TypeError, ValueError):
        return str(value)


def _moment(value) -> str:
    """An ISO date or time as the store sees it; anything else as it is."""
    if isinstance(value, str):
        try:
            return local_time(datetime.fromisoformat(value)) if "T" in value else _day(value)
        except ValueError:
            pass
    return "—" if value in (None, "") else str(value)


def _plain(value) -> str:
    """Any JSON value as text: dicts as `key: value` pairs, lists joined."""
    if isinstance(value, dict):
        return "; ".join(f"{LABELS.get(k, k.replace('_', ' '))}: {_plain(v)}" for k, v in value.items())
    if isinstance(value, list):
        return ", ".join(_plain(v) for v in value)
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    return "—" if value is None else str(value)


def _parcel(p: dict) -> str:
    """'2 lb · 10×8×4 in'."""
    size = "×".join(str(p.get(side, "?")) for side in ("length", "width", "height"))
    return f"{p.get('weight', '?')} {p.get('weight_unit', '')} · {size} in".replace("  ", " ")


def _package(p: dict) -> str:
    """'UPS 1Z… shipped Nov 02, 2026 · Ground · MUG-1 × 2' (a package, or before packages a whole shipment)."""
    carrier = p.get("carrier_name") or p.get("carrier", "")
    items = p.get("items")
    return " · ".join(filter(None, [
        " ".join(filter(None, [carrier, p.get("tracking_id"), _("shipped"), _day(p.get("ship_date"))])),
        p.get("shipping_service"),
        _text("items", items, "") if isinstance(items, list) else ""]))


def _is_package_list(value) -> bool:
    return isinstance(value, list) and all(isinstance(p, dict) for p in value)


def _text(key: str, value, currency: str) -> str:
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    if key in MONEY:
        return _money(value, currency)
    if key == "ship_date":
        return _day(value)
    if key == "parcel" and isinstance(value, dict):
        return _parcel(value)
    if key == "previous" and isinstance(value, dict):
        return _package(value)
    if key == "previous" and _is_package_list(value):
        return "; ".join(_package(p) for p in value)
    if key == "lines" and isinstance(value, list) and all(isinstance(line, dict) for line in value):
        return "; ".join(_("%(sku)s: item %(item)s, shipping %(shipping)s", sku=line.get("sku"),
                           item=_money(line.get("item"), currency), shipping=_money(line.get("shipping"), currency))
                         for line in value)
    if key in ("items", "unchecked") and isinstance(value, list) and all(isinstance(i, dict) for i in value):
        return "; ".join(f"{i['sku']} × {i['quantity']}" if {"sku", "quantity"} <= i.keys() else _plain(i)
                         for i in value)
    if key == "received" and isinstance(value, list) and all(isinstance(i, dict) for i in value):
        return "; ".join(_("%(sku)s: %(got)s of %(of)s", sku=i.get("sku"), got=i.get("quantity"), of=i.get("of"))
                         + (f" · {_(i['condition'])}" if i.get("condition") else "") for i in value)
    if key == "changes" and isinstance(value, dict):
        return "; ".join(f"{LABELS.get(k, k.replace('_', ' '))}: {_moment(v[0])} → {_moment(v[1])}"
                         if isinstance(v, list) and len(v) == 2 else f"{k}: {_plain(v)}" for k, v in value.items())
    if isinstance(value, (dict, list)):
        return _plain(value)
    words = WORDS.get(key, {})
    return str(words[value]) if isinstance(value, str) and value in words else str(value)


@bp.app_template_filter("event_action")
def event_action(event: OrderEvent) -> str:
    return str(ACTIONS.get(event.action) or event.action.replace("_", " ").replace("-", " ").capitalize())


@bp.app_template_filter("event_details")
def event_details(event: OrderEvent) -> list[tuple[str, str]]:
    """(label, text) pairs worth showing, in the order the verb wrote them; a bad tracking ID is flagged."""
    details = event.details if isinstance(event.details, dict) else {}
    shown = []
    for key, value in details.items():
        if key in HIDDEN or value in (None, "", [], {}) or (key == "late" and value is False) \
                or (key in NOT_IF_ZERO and value in ("0", "0.00")):
            continue
        shown.append((str(LABELS.get(key) or key.replace("_", " ").capitalize()),
                      _text(key, value, event.order.currency)))
    packages = details.get("packages")
    if _is_package_list(packages):  # one line per package
        for n, package in enumerate(packages, 1):
            shown.append((_("Package %(number)d", number=n) if len(packages) > 1 else _("Package"),
                          _package(package)))
    else:
        packages = [details]
    for package in packages:
        if package.get("tracking_valid") is False:
            shown.append((_("Warning"), _("the tracking ID does not match the carrier's format")))
    return shown

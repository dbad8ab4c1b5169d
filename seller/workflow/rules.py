"""The rules every verb checks: vocabularies (contract §5–§7), transition tables, roles, Ship by and tracking
formats."""
from __future__ import annotations

import math
import re
from datetime import datetime, timedelta, timezone

from .. import clock
from ..i18n import N_
from ..models import OrderStatus as S, ReturnStatus as R, Settings

CARRIERS = ["USPS", "UPS", "FedEx", "DHL", "OnTrac", "Lasership", "DHL Global Mail", "UPS Mail Innovations",
            "FedEx SmartPost", "Canada Post", "Royal Mail", "Amazon Shipping", "China Post", "Yun Express",
            "4PX", "Yanwen", "SF Express", N_("Other")]
CANCEL_REASONS = [N_("No inventory"), N_("Buyer canceled"), N_("General adjustment"), N_("Pricing error"),
                  N_("Shipping address undeliverable"), N_("Customer exchange")]
REFUND_REASONS = [N_("No Inventory"), N_("Customer Return"), N_("General Adjustment"), N_("Could Not Ship"),
                  N_("Different Item"), N_("Buyer Canceled"), N_("Merchandise Not Received"),
                  N_("Merchandise Not As Described"), N_("Pricing Error"), N_("Shipping Address Undeliverable"),
                  N_("Delivered Late by Carrier"), N_("Missed Fulfillment Promise")]
RETURN_REASONS = [N_("No longer needed"), N_("Bought by mistake"), N_("Better price available"),
                  N_("Item arrived too late"), N_("Item defective or doesn't work"),
                  N_("Product damaged, but shipping box OK"), N_("Product and shipping box both damaged"),
                  N_("Wrong item was sent"), N_("Missing parts or accessories"),
                  N_("Inaccurate website description"), N_("Received extra item I didn't buy"),
                  N_("Incompatible or not useful"), N_("Performance or quality not adequate"),
                  N_("Didn't approve purchase")]
CLOSE_REASONS = [N_("Buyer withdrew the request"), N_("Item not returned"),
                 N_("Refunded outside of the return request"), N_("Replacement sent"), N_("Return not eligible"),
                 N_("Other")]
ITEM_NOT_RETURNED = CLOSE_REASONS[1]  # the reason close-stale-returns gives
CONDITIONS = [N_("Sellable"), N_("Damaged"), N_("Defective"), N_("Wrong item"), N_("Missing parts")]  # Mark received, per item

# Published formats of the carriers' tracking numbers; a mismatch is a warning, not a block.
# USPS's 20-22 digit Intelligent Mail package barcodes start 91-95 (FedEx's 22-digit Ground ones start 96), and
# an international number ending in US is USPS's: so most tracking IDs name their carrier (`carrier_of`).
TRACKING_FORMATS = {
    "UPS": re.compile(r"1Z[0-9A-Z]{16}|T\d{10}|\d{9}|\d{26}"),
    "USPS": re.compile(r"9[1-5]\d{18,20}|\d{26}|\d{30}|\d{34}|[A-Z]{2}\d{9}US"),
    "FedEx": re.compile(r"\d{12}|\d{15}|\d{20}|96\d{20}|\d{34}"),
    "DHL": re.compile(r"\d{10}|\d{11}|JJD\d{18,20}|JVGL\d{16,20}|GM\d{16,20}|[A-Z]{2}\d{9}(?!US$)[A-Z]{2}"),
}


# ---------------------------------------------------------------- transition tables and roles

ORDER_ACTIONS: dict[str, tuple[frozenset[str], str | None]] = {
    "confirm_shipment": (frozenset({S.UNSHIPPED}), S.SHIPPED),
    "buy_shipping": (frozenset({S.UNSHIPPED}), S.SHIPPED),
    "edit_shipment": (frozenset({S.UNSHIPPED, S.SHIPPED}), None),  # Unshipped: a partial shipment's packages
    "cancel_order": (frozenset({S.UNSHIPPED}), S.CANCELED),
    "refund": (frozenset({S.SHIPPED}), S.SHIPPED),
    "cancel_refund": (frozenset({S.SHIPPED}), S.SHIPPED),
    "create_return": (frozenset({S.SHIPPED}), S.SHIPPED),
    "print_packing_slip": (frozenset({S.UNSHIPPED, S.SHIPPED}), None),
    "print_label": (frozenset({S.SHIPPED}), None),
    "contact_buyer": (frozenset(S), None),
    "mark_paid": (frozenset({S.PENDING}), S.UNSHIPPED),
    "amazon_shipped": (frozenset({S.PENDING, S.UNSHIPPED}), S.SHIPPED),  # Amazon says so (amazon.sync)
    "amazon_canceled": (frozenset({S.PENDING, S.UNSHIPPED}), S.CANCELED),
    "retry_amazon": (frozenset(S), None),  # send again what Amazon refused (workflow.outbox)
}
RETURN_ACTIONS: dict[str, tuple[frozenset[str], str | None]] = {
    "authorize_return": (frozenset({R.PENDING_AUTHORIZATION}), R.AUTHORIZED),
    "issue_refund": (frozenset({R.PENDING_AUTHORIZATION, R.AUTHORIZED}), None),
    "close_return": (frozenset({R.PENDING_AUTHORIZATION, R.AUTHORIZED}), R.CLOSED),
    "complete_return": (frozenset({R.PENDING_AUTHORIZATION, R.AUTHORIZED}), R.COMPLETED),
    "mark_received": (frozenset({R.AUTHORIZED}), R.AUTHORIZED),
    "import_return": (frozenset({R.PENDING_AUTHORIZATION, R.AUTHORIZED}), None),
    "contact_buyer": (frozenset(R), None),
}
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


def carrier_of(tracking_id: str) -> str | None:
    """The carrier whose format the tracking ID has, when exactly one carrier's does (else None)."""
    tracking_id = normalize_tracking(tracking_id)
    found = [carrier for carrier, pattern in TRACKING_FORMATS.items() if pattern.fullmatch(tracking_id)]
    return found[0] if len(found) == 1 else None


def normalize_tracking(tracking_id: str) -> str:
    """Scanners and people add spaces and lower case; carriers don't."""
    return re.sub(r"[\s-]+", "", tracking_id or "").upper()

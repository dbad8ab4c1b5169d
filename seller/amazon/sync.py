"""Orders in: Amazon's Orders API through the same code as the report import (§8), so the same rules hold.

Each pull asks for the seller-fulfilled orders updated since the last pull that finished (minus an overlap, as
Amazon's clocks and ours differ; the first pull reaches back the connection's number of days), every page,
their items, and buyer and address through a restricted data token. Amazon's statuses:

| Amazon | here |
|---|---|
| Pending, PendingAvailability | Pending (no payment date) |
| Unshipped, PartiallyShipped | Unshipped (paid: the purchase date stands for the payment date) |
| Shipped, InvoiceUnconfirmed | an order here still Pending/Unshipped becomes Shipped ("Shipped on Amazon") |
| Canceled | an order here still Pending/Unshipped becomes Canceled ("Canceled on Amazon") |
| Unfulfillable (Multi-Channel Fulfillment) | skipped |

Shipped or canceled orders the desk never had are skipped (nothing is left to do for them). Amazon's
`LatestShipDate` is Ship by (it goes in as the report's promise date).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from .. import clock, reports, workflow
from ..db import write_transaction
from ..extensions import db
from ..i18n import _
from ..models import AmazonConnection, Order, OrderItem, OrderStatus as S
from ..money import AmountError, parse_amount, to_cents
from .client import AmazonError, SellingPartner

OVERLAP = timedelta(minutes=10)
STATUSES = {"Pending": S.PENDING, "PendingAvailability": S.PENDING, "Unshipped": S.UNSHIPPED,
            "PartiallyShipped": S.UNSHIPPED, "Shipped": S.SHIPPED, "InvoiceUnconfirmed": S.SHIPPED,
            "Canceled": S.CANCELED}
AMOUNTS = {"ItemPrice": "item_price_cents", "ItemTax": "item_tax_cents", "ShippingPrice": "shipping_price_cents",
           "ShippingTax": "shipping_tax_cents"}
ADDRESS = {"Name": "recipient_name", "AddressLine1": "ship_address_1", "AddressLine2": "ship_address_2",
           "AddressLine3": "ship_address_3", "City": "ship_city", "StateOrRegion": "ship_state",
           "PostalCode": "ship_postal_code", "Phone": "ship_phone"}


@dataclass
class PullResult:
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    finished: int = 0  # shipped or canceled on Amazon
    skipped: int = 0
    error: str = ""

    def summary(self) -> str:
        if self.error:
            return self.error
        return _("%(new)d new, %(updated)d updated, %(unchanged)d unchanged, %(finished)d shipped or canceled on "
                 "Amazon, %(skipped)d skipped.", new=self.new, updated=self.updated, unchanged=self.unchanged,
                 finished=self.finished, skipped=self.skipped)


def _text(model, column: str, value) -> str:
    """Amazon's text cut to what the column holds."""
    limit = reports._column_length(model, column)
    value = (value or "").strip()
    return value[:limit] if limit else value


def _date(text: str | None) -> datetime | None:
    return reports.parse_report_date(text, clock.store_tz("UTC")) if text else None


def _cents(money: dict | None) -> int | None:
    if not money or money.get("Amount") in (None, ""):
        return None
    return to_cents(parse_amount(str(money["Amount"])))


def reported(order: dict, items: list[dict], line: int) -> reports.ReportedOrder:
    """An Orders API order (Amazon's JSON) as the report import reads one: the same columns for every order."""
    paid = STATUSES[order["OrderStatus"]] != S.PENDING
    purchased = _date(order["PurchaseDate"])
    address, buyer = order.get("ShippingAddress") or {}, order.get("BuyerInfo") or {}
    fields = {"order_id": order["AmazonOrderId"], "purchased_at": purchased, "paid_at": purchased if paid else None,
              "promise_at": _date(order.get("LatestShipDate")),
              "buyer_email": _text(Order, "buyer_email", buyer.get("BuyerEmail")),
              "buyer_name": _text(Order, "buyer_name", buyer.get("BuyerName")),
              **{column: _text(Order, column, address.get(key)) for key, column in ADDRESS.items()},
              "ship_country": (address.get("CountryCode") or "US")[:2].upper(),
              "ship_service_level": _text(Order, "ship_service_level",
                                          order.get("ShipmentServiceLevelCategory") or "Standard"),
              "currency": ((order.get("OrderTotal") or {}).get("CurrencyCode") or "USD")[:3],
              "is_business_order": bool(order.get("IsBusinessOrder"))}
    lines, has_amounts = [], True
    for item in items:
        line_fields = {"order_item_id": item["OrderItemId"],
                       "sku": _text(OrderItem, "sku", item.get("SellerSKU") or item.get("ASIN")),
                       "product_name": (item.get("Title") or "").strip(),
                       "quantity": max(int(item.get("QuantityOrdered") or 0), 1)}
        amounts = {column: _cents(item.get(key)) for key, column in AMOUNTS.items()}
        if amounts["item_price_cents"] is None:
            has_amounts = False
        lines.append({**line_fields, **{k: v or 0 for k, v in amounts.items()}})
    if not has_amounts:
        lines = [{k: v for k, v in line.items() if k not in AMOUNTS.values()} for line in lines]
    return reports.ReportedOrder(line, fields, [(line, item) for item in lines], has_amounts)


def pull(sp: SellingPartner, row: AmazonConnection) -> PullResult:
    """One pull; the connection row records when it finished (the next one's start) or why it failed."""
    started, result = clock.now(), PullResult()
    since = row.synced_at - OVERLAP if row.synced_at else started - timedelta(days=row.first_sync_days)
    orders, finals = {}, []
    try:
        for number, order in enumerate(sp.orders_updated_since(since), start=1):
            status = STATUSES.get(order.get("OrderStatus"))
            if status is None:
                result.skipped += 1
            elif status in (S.SHIPPED, S.CANCELED):
                finals.append((order["AmazonOrderId"], status, _date(order.get("LastUpdateDate")) or started))
            else:
                orders[order["AmazonOrderId"]] = reported(order, sp.order_items(order["AmazonOrderId"]), number)
    except AmazonError as exc:
        result.error = _("Could not sync with Amazon: %(reason)s", reason=exc.message)
    except (AmountError, ValueError, KeyError) as exc:
        result.error = _("Could not sync with Amazon: an order could not be read (%(reason)s).", reason=str(exc))
    if not result.error:
        imported = reports.import_orders(orders, reports.ImportResult(variant="Amazon"), source="amazon_sync")
        if imported.errors:
            result.error = _("Could not sync with Amazon: %(reason)s", reason=imported.errors[0].message)
        else:
            result.new, result.updated, result.unchanged = imported.new, imported.updated, imported.unchanged
            for order_id, status, at in finals:
                if workflow.amazon_status(order_id, status, at):
                    result.finished += 1
                else:
                    result.skipped += 1
    with write_transaction(db.session):
        row = db.session.get(AmazonConnection, 1)
        if not result.error:
            row.synced_at = started
        row.sync_result, row.sync_failed = result.summary(), bool(result.error)
    return result

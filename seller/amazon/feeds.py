"""Amazon's XML feeds for what the Orders API cannot say: cancellations (the order acknowledgement feed) and
refunds (the payment adjustment feed), and reading their processing reports. Each message's MessageID is its
outbox row's id, so the report's results map back to their orders.

The codes Amazon wants, in one table each (contract §11)."""
from __future__ import annotations

import xml.etree.ElementTree as ET

from ..money import from_cents

ORDER_ACKNOWLEDGEMENT = "POST_ORDER_ACKNOWLEDGEMENT_DATA"
PAYMENT_ADJUSTMENT = "POST_PAYMENT_ADJUSTMENT_DATA"
CONTENT_TYPE = "text/xml; charset=UTF-8"

# Reason for cancellation (contract §5) -> the order acknowledgement's CancelReason.
CANCEL_REASONS = {"No inventory": "NoInventory", "Buyer canceled": "BuyerCanceled",
                  "General adjustment": "GeneralAdjustment", "Pricing error": "PricingError",
                  "Shipping address undeliverable": "ShippingAddressUndeliverable",
                  "Customer exchange": "CustomerExchange"}
# Reason for refund (contract §6) -> the payment adjustment's AdjustmentReason; the rest: GeneralAdjustment.
ADJUSTMENT_REASONS = {"No Inventory": "NoInventory", "Customer Return": "CustomerReturn",
                      "General Adjustment": "GeneralAdjustment", "Could Not Ship": "CouldNotShip",
                      "Different Item": "DifferentItem", "Buyer Canceled": "CustomerCancel",
                      "Pricing Error": "PriceError", "Shipping Address Undeliverable": "Undeliverable"}


def _envelope(seller_id: str, message_type: str) -> ET.Element:
    root = ET.Element("AmazonEnvelope", {"xmlns:xsi": "http://www.w3.org/2001/XMLSchema-instance",
                                         "xsi:noNamespaceSchemaLocation": "amzn-envelope.xsd"})
    header = ET.SubElement(root, "Header")
    ET.SubElement(header, "DocumentVersion").text = "1.01"
    ET.SubElement(header, "MerchantIdentifier").text = seller_id
    ET.SubElement(root, "MessageType").text = message_type
    return root


def _child(parent: ET.Element, name: str, text=None, **attrs) -> ET.Element:
    element = ET.SubElement(parent, name, attrs)
    if text is not None:
        element.text = str(text)
    return element


def cancellations(seller_id: str, messages: list[tuple[int, dict]]) -> bytes:
    """The order acknowledgement feed: each order refused (StatusCode Failure) with its CancelReason per item."""
    root = _envelope(seller_id, "OrderAcknowledgement")
    for message_id, payload in messages:
        message = _child(root, "Message")
        _child(message, "MessageID", message_id)
        ack = _child(message, "OrderAcknowledgement")
        _child(ack, "AmazonOrderID", payload["orderId"])
        _child(ack, "StatusCode", "Failure")
        for item_id in payload["items"]:
            item = _child(ack, "Item")
            _child(item, "AmazonOrderItemCode", item_id)
            _child(item, "CancelReason", CANCEL_REASONS.get(payload["reason"], "GeneralAdjustment"))
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)


def _amount(parent: ET.Element, kind: str, cents: int, currency: str) -> None:
    if cents:
        component = _child(parent, "Component")
        _child(component, "Type", kind)
        _child(component, "Amount", f"{from_cents(cents):.2f}", currency=currency)


def refunds(seller_id: str, messages: list[tuple[int, dict]]) -> bytes:
    """The payment adjustment feed: per item principal, shipping and their taxes; the concessions on the first
    item (ReturnShipping, Goodwill); Amazon's AdjustmentReason."""
    root = _envelope(seller_id, "PaymentAdjustment")
    for message_id, payload in messages:
        message = _child(root, "Message")
        _child(message, "MessageID", message_id)
        adjustment = _child(message, "PaymentAdjustment")
        _child(adjustment, "AmazonOrderID", payload["orderId"])
        reason, currency = ADJUSTMENT_REASONS.get(payload["reason"], "GeneralAdjustment"), payload["currency"]
        lines = {line["orderItemId"]: line for line in payload["items"]}
        lines.setdefault(payload["firstItem"], {"orderItemId": payload["firstItem"]})
        for item_id, line in lines.items():
            item = _child(adjustment, "AdjustedItem")
            _child(item, "AmazonOrderItemCode", item_id)
            _child(item, "AdjustmentReason", reason)
            components = _child(item, "ItemPriceAdjustments")
            for kind, key in (("Principal", "principal"), ("Shipping", "shipping"), ("Tax", "tax"),
                              ("ShippingTax", "shippingTax")):
                _amount(components, kind, line.get(key, 0), currency)
            if item_id == payload["firstItem"]:
                _amount(components, "ReturnShipping", payload["returnShipping"], currency)
                _amount(components, "Goodwill", payload["goodwill"], currency)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)


def report_errors(content: bytes) -> tuple[dict[int, str], int]:
    """A processing report: {MessageID: Amazon's message} for the messages with an error, and how many messages
    Amazon processed. A report that cannot be read raises ValueError."""
    try:
        root = ET.fromstring(content)
    except ET.ParseError as exc:
        raise ValueError(f"the processing report is not XML ({exc})") from None
    errors = {}
    for result in root.iter("Result"):
        if result.findtext("ResultCode") == "Error":
            message_id = int(result.findtext("MessageID") or 0)
            errors[message_id] = " ".join(filter(None, [result.findtext("ResultMessageCode"),
                                                        result.findtext("ResultDescription")]))
    processed = root.findtext(".//ProcessingSummary/MessagesProcessed")
    return errors, int(processed or 0)

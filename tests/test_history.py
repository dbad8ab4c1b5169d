"""The order page's History renders every event the workflow writes, with every kind of detail."""
import re
from decimal import Decimal

from conftest import item_fields, make_order
from seller import clock, workflow
from seller.extensions import db
from seller.models import Order, OrderEvent
from seller.reports import import_report

HX = {"HX-Request": "true"}
HEADER = ("order-id\torder-item-id\tpurchase-date\tpayments-date\tbuyer-email\tbuyer-name\tsku\tproduct-name\t"
          "quantity-purchased\titem-price\titem-tax\tshipping-price\tshipping-tax\tship-service-level\n")


def history(client, order) -> str:
    response = client.get(f"/orders/{order.order_id}")
    assert response.status_code == 200, response.text[:500]
    html = response.text
    return re.sub(r"\s+", " ", html[html.index("<h2>History</h2>"):])


def test_buy_shipping_history_shows_the_parcel(owner_client):
    """Bought shipping keeps the parcel as a dict: the order page showed a 500 (unhashable type: 'dict')."""
    order = make_order("Unshipped")
    url = f"/orders/{order.order_id}/buy-shipping"
    rates = owner_client.post(url, headers=HX, data={"weight": "2", "weight_unit": "lb", "length": "10", "width": "8",
                                                     "height": "4", "ship_date": clock.local_today(
                                                         workflow.store_tz()).isoformat()}).text
    quote = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"',
                            rates[rates.find('class="rates-form"'):]))
    assert owner_client.post(url, headers=HX, data={**quote, "rate_id": "0"}).status_code == 200
    text = history(owner_client, order)
    assert "Bought shipping" in text and "Parcel</dt><dd>2 lb · 10×8×4 in</dd>" in text
    assert re.search(r"Cost</dt><dd>\$\d+\.\d\d</dd>", text) and "Provider</dt><dd>Demo</dd>" in text


def test_every_event_kind_renders(owner_client, owner):
    shipped = make_order("Shipped", items=[item_fields(sku="MUG-1", quantity=2)])
    workflow.edit_shipment(shipped, owner, workflow.ShipmentInput(carrier="Other", carrier_name="Pony", tracking_id="",
                                                                  ship_date=shipped.shipment.ship_date, note="Fixed"))
    workflow.refund(shipped, owner, workflow.RefundInput(kind="partial", reason="Pricing Error", idempotency_key="p1",
                                                         amounts={shipped.items[0].id: (Decimal("1.00"), Decimal(0))},
                                                         other_concession=Decimal("2.00"), memo_to_buyer="Sorry"))
    ret = workflow.create_return(shipped, owner, workflow.RETURN_REASONS[0], {shipped.items[0].id: 1})
    workflow.authorize_return(ret, owner, "RMA-HIST-1", "1 Return Rd", "after_receipt")
    workflow.contact_buyer(shipped, owner, "Your return", "Send it back, please.", ret=ret)
    workflow.refund(shipped, owner, workflow.RefundInput(kind="full", reason="Customer Return", idempotency_key="f1",
                                                         amounts={}))
    workflow.record_packing_slips([shipped], owner)
    canceled = make_order("Canceled")
    closed = make_order("Shipped")
    workflow.close_return(workflow.create_return(closed, owner, workflow.RETURN_REASONS[1],
                                                 {closed.items[0].id: 1}), owner, "Other", "Never mind")
    # A report saying nothing was paid, then the same order paid with another price: mark_paid with its changes.
    row = "{}\t9{:013d}\t2026-11-20T10:00:00-08:00\t{}\tb@example.com\tBea\tSKU-9\tLamp\t1\t{}\t0\t0\t0\tStandard\n"
    assert import_report((HEADER + row.format("114-0000000-0000001", 1, "", "10.00")).encode()).ok
    assert import_report((HEADER + row.format("114-0000000-0000001", 1, "2026-11-20T11:00:00-08:00",
                                              "12.50")).encode()).ok
    paid = db.session.scalar(db.select(Order).where(Order.order_id == "114-0000000-0000001"))

    text = history(owner_client, shipped)
    for words in ("Confirmed shipment", "Re-confirmed shipment", "Replaced</dt><dd>UPS 1Z999AA10123456784 shipped",
                  "Refunded", "Partial Refund", "Full Refund", "MUG-1: item $1.00, shipping $0.00",
                  "Other concession</dt><dd>$2.00", "Return requested", "MUG-1 × 1", "Authorized return",
                  "RMA-HIST-1", "after the item is received", "Contacted buyer", "Send it back, please.",
                  "Return completed", "Printed packing slip",
                  "Warning</dt><dd>the tracking ID does not match the carrier"):
        assert words in text, words
    assert "Canceled order" in history(owner_client, canceled)
    assert "Closed return request" in history(owner_client, closed) and "Never mind" in history(owner_client, closed)
    paid_text = history(owner_client, paid)
    assert "Payment received" in paid_text and "Imported from an order report" in paid_text
    assert "→" in paid_text and "[" not in paid_text  # changes in words, not a Python list


def test_any_detail_a_verb_may_write_is_shown(owner_client):
    """Whatever JSON a verb (or a later one) writes, the page shows it instead of failing."""
    order = make_order("Unshipped")
    details = {"flag": True, "count": 3, "ratio": 1.5, "nothing": None, "word": "plain",
               "listed": [1, "two", {"three": 3}], "nested": {"inner": {"deep": [1, 2]}},
               "parcel": {"weight": "2", "weight_unit": "lb", "length": "10", "width": "8", "height": "4"},
               "previous": {"carrier": "UPS", "tracking_id": "1Z999AA10123456784", "ship_date": "2026-11-02"},
               "changes": {"ship_by": ["2026-11-02T10:00:00", "2026-11-03T10:00:00"], "odd": "value"},
               "items": [{"order_item_id": "1", "item_price_cents": [100, 200]}, {"sku": "A", "quantity": 2}],
               "lines": [{"sku": "A", "item": "1.00", "shipping": "0.50"}], "kind": {"not": "a word"},
               "refund_timing": ["also", "not", "a", "word"], "total": "12.5", "ship_date": "not a date"}
    db.session.add(OrderEvent(order_id=order.id, action="some_future_action", details=details))
    db.session.commit()
    text = history(owner_client, order)
    for words in ("Some future action", "Flag</dt><dd>yes", "Count</dt><dd>3", "Ratio</dt><dd>1.5",
                  "Word</dt><dd>plain", "1, two, three: 3", "inner: deep: 1, 2", "2 lb · 10×8×4 in",
                  "UPS 1Z999AA10123456784 shipped Nov 02, 2026", "→", "odd: value", "A × 2",
                  "A: item $1.00, shipping $0.50", "Total</dt><dd>$12.50", "not a date"):
        assert words in text, words

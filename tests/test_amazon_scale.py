"""5,000 orders over 50+ pages of getOrders, then a second sync with changes: the desk ends exactly as if the
equivalent Order Reports had been imported (contract §11: the same code, the same rules), each sync within 20 s."""
import copy
import random
import time
from datetime import timedelta

import pytest
from sqlalchemy import select

from seller import clock, reports, workflow
from seller.amazon import worker
from seller.extensions import db
from seller.models import Order, OrderEvent, OrderItem
from conftest import PG, fresh_pg_database
from test_amazon import connect, standin  # noqa: F401  (fixture)

ORDERS = 5000
HEADER = ["order-id", "order-item-id", "purchase-date", "payments-date", "promise-date", "buyer-email", "buyer-name",
          "sku", "product-name", "quantity-purchased", "currency", "item-price", "item-tax", "shipping-price",
          "shipping-tax", "ship-service-level", "recipient-name", "ship-address-1", "ship-address-2",
          "ship-address-3", "ship-city", "ship-state", "ship-postal-code", "ship-country", "ship-phone-number",
          "is-business-order"]


def make_orders(standin, rng):
    now = clock.now()
    for n in range(ORDERS):
        purchased = now - timedelta(days=rng.uniform(0.1, 20), seconds=n)
        status = rng.choices(["Pending", "Unshipped", "PartiallyShipped"], [1, 8, 1])[0]
        items = [{"OrderItemId": f"{n:08d}{k:06d}", "SellerSKU": f"SKU-{rng.randint(1, 300)}",
                  "Title": f"Product {n}-{k}", "QuantityOrdered": rng.randint(1, 3),
                  "ItemPrice": f"{rng.randint(100, 20000) / 100:.2f}", "ItemTax": f"{rng.randint(0, 900) / 100:.2f}",
                  "ShippingPrice": f"{rng.randint(0, 1500) / 100:.2f}", "ShippingTax": f"{rng.randint(0, 90) / 100:.2f}"}
                 for k in range(rng.randint(1, 3))]
        standin.add_order(f"114-{n:07d}-{rng.randint(0, 9999999):07d}", status=status, purchased=purchased,
                          latest_ship=purchased + timedelta(days=2), items=items,
                          buyer={"BuyerEmail": f"b{n}@marketplace.amazon.com", "BuyerName": f"Buyer {n}"},
                          address={"Name": f"Recipient {n}", "AddressLine1": f"{n} Elm St", "City": "Portland",
                                   "StateOrRegion": "OR", "PostalCode": "97201", "CountryCode": "US",
                                   "Phone": "503-555-0100"})


def report(orders: list[dict]) -> bytes:
    """The Order Report Amazon would give for these orders (the stand-in's own data)."""
    lines = ["\t".join(HEADER)]
    for o in orders:
        paid = o["OrderStatus"] not in ("Pending", "PendingAvailability")
        address = o["_address"] if paid else {}
        for item in o["_items"]:
            cells = {"order-id": o["AmazonOrderId"], "order-item-id": item["OrderItemId"],
                     "purchase-date": o["PurchaseDate"], "payments-date": o["PurchaseDate"] if paid else "",
                     "promise-date": o["LatestShipDate"], "buyer-email": o["_buyer"]["BuyerEmail"],
                     "buyer-name": o["_buyer"]["BuyerName"], "sku": item["SellerSKU"], "product-name": item["Title"],
                     "quantity-purchased": str(item["QuantityOrdered"]), "currency": "USD",
                     "item-price": item["ItemPrice"]["Amount"], "item-tax": item["ItemTax"]["Amount"],
                     "shipping-price": item["ShippingPrice"]["Amount"], "shipping-tax": item["ShippingTax"]["Amount"],
                     "ship-service-level": "Standard", "recipient-name": address.get("Name", ""),
                     "ship-address-1": address.get("AddressLine1", ""), "ship-address-2": "", "ship-address-3": "",
                     "ship-city": address.get("City", ""), "ship-state": address.get("StateOrRegion", ""),
                     "ship-postal-code": address.get("PostalCode", ""),
                     "ship-country": address.get("CountryCode", "US"), "ship-phone-number": address.get("Phone", ""),
                     "is-business-order": "false"}
            lines.append("\t".join(cells[h] for h in HEADER))
    return ("\n".join(lines) + "\n").encode()


def snapshot() -> dict:
    """Every order, item and history entry, without the database's own ids and clocks."""
    db.session.rollback()
    skip = {"id", "created_at", "updated_at"}
    orders = {o.id: o.order_id for o in db.session.scalars(select(Order))}
    return {
        "orders": sorted(tuple((c.key, getattr(o, c.key)) for c in Order.__table__.columns if c.key not in skip)
                         for o in db.session.scalars(select(Order))),
        "items": sorted((orders[i.order_id],) + tuple((c.key, getattr(i, c.key)) for c in OrderItem.__table__.columns
                                                      if c.key not in skip | {"order_id"})
                        for i in db.session.scalars(select(OrderItem))),
        "history": sorted((orders[e.order_id], "import" if e.action == "amazon_sync" else e.action,
                           sorted((k, str(v)) for k, v in e.details.items() if k != "changes"))
                          for e in db.session.scalars(select(OrderEvent))),
    }


@pytest.fixture
def report_app(app_with, tmp_path):
    other = app_with(db_url=fresh_pg_database("report") if PG else f"sqlite:///{tmp_path / 'report.db'}")
    return other


def test_sync_of_5000_orders_is_the_same_as_importing_the_report(app, report_app, standin, capsys):
    rng = random.Random(11)
    standin.page_size = 90
    make_orders(standin, rng)
    connect()
    began = time.perf_counter()
    ok, message = worker.run_once()
    first = time.perf_counter() - began
    assert ok, message
    pages = standin.calls[("GET", "/orders/v0/orders")]
    assert pages >= 50
    as_first_seen = copy.deepcopy(sorted(standin.orders.values(), key=lambda o: o["AmazonOrderId"]))
    # Changes: 300 paid, 300 new addresses (100 of them already shipped here: not changed).
    later = clock.now() + timedelta(seconds=1)
    pending = [o for o in standin.orders.values() if o["OrderStatus"] == "Pending"][:300]
    moved = [o for o in standin.orders.values() if o["OrderStatus"] == "Unshipped"][:300]
    shipped_here = [o["AmazonOrderId"] for o in moved[:100]]
    for o in pending:
        o.update(OrderStatus="Unshipped", LastUpdateDate=later.isoformat() + "Z")
    for o in moved:
        o["_address"] = {**o["_address"], "AddressLine1": "1 New Rd"}
        o["LastUpdateDate"] = later.isoformat() + "Z"

    def ship_here():
        for order_id in shipped_here:
            order = db.session.scalar(select(Order).where(Order.order_id == order_id))
            workflow.confirm_shipment(order, None, workflow.ShipmentInput(
                carrier="USPS", tracking_id="9400100000000000000000",
                ship_date=clock.local_today(workflow.store_tz())), now=later)

    ship_here()
    began = time.perf_counter()
    ok, message = worker.run_once()
    second = time.perf_counter() - began
    assert ok, message
    synced = snapshot()
    with report_app.app_context():
        assert reports.import_report(report(as_first_seen)).ok
        ship_here()
        assert reports.import_report(report(pending + moved)).ok
        imported = snapshot()
    assert synced["orders"] == imported["orders"]
    assert synced["items"] == imported["items"]
    assert synced["history"] == imported["history"]
    with capsys.disabled():
        print(f"\nsync of {ORDERS} orders over {pages} pages: {first:.1f} s; second sync, "
              f"{len(pending) + len(moved)} changed: {second:.1f} s (machine shared and loaded)")
    assert first <= 20 and second <= 20


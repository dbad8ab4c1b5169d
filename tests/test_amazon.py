"""Amazon connection (contract §11): Settings → Amazon connection, Test connection, and orders in from the
Selling Partner API through the report import's rules, against the stand-in (tests/amazon_standin.py)."""
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from seller import clock, workflow
from seller.amazon import connection, secrets, worker
from seller.extensions import db
from seller.models import AmazonConnection, Order, OrderEvent
from amazon_standin import AmazonStandIn

SECRET, REFRESH = "lwa-secret", "Atzr|refresh"


@pytest.fixture
def standin(monkeypatch):
    s = AmazonStandIn(client_secret=SECRET, refresh_token=REFRESH).start()
    monkeypatch.setenv("AMAZON_SP_API_ENDPOINT", s.url)
    monkeypatch.setenv("AMAZON_LWA_TOKEN_URL", s.url + "/auth/o2/token")
    yield s
    s.stop()
    assert not s.invalid, s.invalid  # every request body fitted Amazon's models


def connect(**overrides):
    values = {"seller_id": "A1SELLER", "marketplace_id": "ATVPDKIKX0DER", "client_id": "amzn1.application-oa2-client.test",
              "client_secret_sealed": secrets.seal(SECRET), "refresh_token_sealed": secrets.seal(REFRESH), **overrides}
    return workflow.save_amazon_connection(**values)


@pytest.fixture
def connected(app, standin):
    connect()
    return standin


def item(n, sku="SKU-1", price="20.00", tax="1.65", ship="4.99", ship_tax="0.41", qty=1):
    return {"OrderItemId": f"{n:014d}", "SellerSKU": sku, "Title": f"Product {sku}", "QuantityOrdered": qty,
            "ItemPrice": price, "ItemTax": tax, "ShippingPrice": ship, "ShippingTax": ship_tax}


def add(standin, n, status="Unshipped", hours_ago=3, **kw):
    purchased = clock.now() - timedelta(hours=hours_ago)
    return standin.add_order(f"112-{n:07d}-0000001", status=status, purchased=purchased,
                             latest_ship=kw.pop("latest_ship", purchased + timedelta(days=2)),
                             items=kw.pop("items", [item(n)]),
                             buyer={"BuyerEmail": f"b{n}@marketplace.amazon.com", "BuyerName": f"Buyer {n}"},
                             address={"Name": f"Recipient {n}", "AddressLine1": f"{n} Pine St", "City": "Seattle",
                                      "StateOrRegion": "WA", "PostalCode": "98101", "CountryCode": "US"}, **kw)


def by_id(order_id):
    db.session.rollback()
    return db.session.scalar(select(Order).where(Order.order_id == order_id))


# ---------------------------------------------------------------- Settings → Amazon connection


def test_connection_page_is_the_owners(staff_client, owner_client):
    assert staff_client.get("/settings/amazon").status_code == 403
    page = owner_client.get("/settings/amazon").get_data(as_text=True)
    for text in ("Seller ID", "Marketplace ID", "LWA client ID", "LWA client secret", "Refresh token",
                 "Save connection", "Test connection", "Sync now", 'value="ATVPDKIKX0DER"'):
        assert text in page


def form(**overrides):
    return {"seller_id": "A1SELLER", "marketplace_id": "ATVPDKIKX0DER", "client_id": "amzn1.application-oa2-client.test",
            "client_secret": SECRET, "refresh_token": REFRESH, "first_sync_days": "30", "do": "save", **overrides}


def test_save_keeps_secrets_sealed_and_never_shows_them(owner_client, standin):
    answer = owner_client.post("/settings/amazon", data=form(), follow_redirects=True)
    page = answer.get_data(as_text=True)
    assert "Amazon connection saved." in page
    assert SECRET not in page and REFRESH not in page
    row = db.session.get(AmazonConnection, 1)
    assert SECRET not in row.client_secret_sealed and REFRESH not in row.refresh_token_sealed
    assert secrets.unseal(row.client_secret_sealed) == SECRET
    # Saving again with the secrets left empty keeps them.
    owner_client.post("/settings/amazon", data=form(client_secret="", refresh_token="", seller_id="A2OTHER"))
    db.session.rollback()
    row = db.session.get(AmazonConnection, 1)
    assert row.seller_id == "A2OTHER" and secrets.unseal(row.refresh_token_sealed) == REFRESH


def test_first_save_needs_the_secrets(owner_client):
    answer = owner_client.post("/settings/amazon", data=form(client_secret=""))
    assert answer.status_code == 422
    assert "Enter the LWA client secret." in answer.get_data(as_text=True)
    assert db.session.get(AmazonConnection, 1) is None


def test_test_connection_says_what_works(owner_client, standin):
    page = owner_client.post("/settings/amazon", data=form(do="test"), follow_redirects=True).get_data(as_text=True)
    assert "Connected to Amazon: Amazon.com (ATVPDKIKX0DER)." in page
    page = owner_client.post("/settings/amazon", data=form(do="test", client_secret="wrong")).get_data(as_text=True)
    assert "Could not connect to Amazon:" in page and "Login with Amazon refused" in page
    page = owner_client.post("/settings/amazon", data=form(do="test", marketplace_id="A2EUQ1WTGCTBG2")).get_data(
        as_text=True)
    assert "does not sell in marketplace A2EUQ1WTGCTBG2" in page
    assert db.session.get(AmazonConnection, 1) is None  # testing saves nothing


def test_test_connection_without_network(owner_client, standin, monkeypatch):
    from conftest import free_port
    monkeypatch.setenv("AMAZON_LWA_TOKEN_URL", f"http://127.0.0.1:{free_port()}/auth/o2/token")
    page = owner_client.post("/settings/amazon", data=form(do="test")).get_data(as_text=True)
    assert "Could not connect to Amazon: Login with Amazon could not be reached" in page


def test_demo_desk_refuses_a_real_connection(owner_client, standin, monkeypatch):
    monkeypatch.setenv("SELLER_DEMO", "1")
    answer = owner_client.post("/settings/amazon", data=form())
    assert answer.status_code == 422
    assert "demo desk" in answer.get_data(as_text=True)
    assert db.session.get(AmazonConnection, 1) is None


def test_changed_secret_key_asks_for_the_secrets_again(app, standin):
    connect()
    app.config["SECRET_KEY"] = "another"
    assert "SECRET_KEY changed" in connection.problem(connection.current())
    ok, message = worker.run_once()
    assert not ok and "enter them again" in message


# ---------------------------------------------------------------- orders in


def test_sync_brings_orders_in_by_the_reports_rules(connected, owner_client):
    add(connected, 1, status="Pending")
    add(connected, 2, status="Unshipped", latest_ship=clock.now() + timedelta(hours=30))
    add(connected, 3, status="PartiallyShipped")
    add(connected, 4, status="Shipped")  # shipped elsewhere, never here: nothing to do
    add(connected, 5, status="Unfulfillable")
    page = owner_client.post("/settings/amazon", data=form(do="sync", client_secret="", refresh_token=""),
                             follow_redirects=True)
    assert "Sync now" in page.get_data(as_text=True)
    ok, message = True, ""
    pending, unshipped, partial = by_id("112-0000001-0000001"), by_id("112-0000002-0000001"), by_id(
        "112-0000003-0000001")
    assert pending.status == "Pending" and pending.paid_at is None
    assert unshipped.status == "Unshipped" and partial.status == "Unshipped"
    assert abs(unshipped.ship_by - (clock.now() + timedelta(hours=30))) < timedelta(seconds=2)  # LatestShipDate
    assert unshipped.buyer_name == "Buyer 2" and unshipped.ship_address_1 == "2 Pine St"
    assert unshipped.paid_cents == 2000 + 165 + 499 + 41 and unshipped.items[0].sku == "SKU-1"
    assert by_id("112-0000004-0000001") is None and by_id("112-0000005-0000001") is None
    row = db.session.get(AmazonConnection, 1)
    assert row.synced_at is not None and not row.sync_failed
    assert "3 new" in row.sync_result and "2 skipped" in row.sync_result
    assert ok or message


def test_second_sync_applies_changes_and_never_downgrades(connected, owner_client, owner):
    for n in (1, 2, 3, 4):
        add(connected, n, status="Pending" if n == 1 else "Unshipped", hours_ago=5)
    assert worker.run_once()[0]
    workflow.confirm_shipment(by_id("112-0000002-0000001"), owner, workflow.ShipmentInput(
        carrier="UPS", tracking_id="1Z999AA10123456784", ship_date=clock.local_today(workflow.store_tz())))
    later = clock.now() + timedelta(minutes=1)
    for n, status in ((1, "Unshipped"), (2, "Unshipped"), (3, "Canceled"), (4, "Shipped")):
        connected.orders[f"112-{n:07d}-0000001"].update(OrderStatus=status, LastUpdateDate=later.isoformat() + "Z")
    connected.orders["112-0000002-0000001"]["_address"]["AddressLine1"] = "changed"
    ok, message = worker.run_once()
    assert ok, message
    paid, shipped, canceled, elsewhere = (by_id(f"112-{n:07d}-0000001") for n in (1, 2, 3, 4))
    assert paid.status == "Unshipped" and paid.paid_at is not None
    assert shipped.status == "Shipped" and shipped.ship_address_1 == "2 Pine St"  # no change after shipping
    assert canceled.status == "Canceled" and elsewhere.status == "Shipped"
    actions = lambda o: [e.action for e in db.session.scalars(select(OrderEvent).where(  # noqa: E731
        OrderEvent.order_id == o.id).order_by(OrderEvent.id))]
    assert actions(paid) == ["amazon_sync", "mark_paid"]
    assert actions(canceled)[-1] == "amazon_canceled" and actions(elsewhere)[-1] == "amazon_shipped"
    assert "Canceled on Amazon" in owner_client.get(f"/orders/{canceled.order_id}").get_data(as_text=True)


def test_last_updated_after_is_the_last_sync_minus_an_overlap(connected, frozen_now):
    start = datetime(2026, 11, 20, 12, 0)
    frozen_now(start)
    add(connected, 1, hours_ago=1)
    assert worker.run_once()[0]
    asked = []
    real = connected._orders
    connected._orders = lambda query, token: (asked.append(query.get("LastUpdatedAfter")), real(query, token))[1]
    frozen_now(start + timedelta(hours=2))
    assert worker.run_once()[0]
    assert asked == [["2026-11-20T11:50:00Z"]]


def test_first_sync_reaches_back_the_days_set(connected, frozen_now):
    frozen_now(datetime(2026, 11, 20, 12, 0))
    connect(first_sync_days=10)
    asked = []
    real = connected._orders
    connected._orders = lambda query, token: (asked.append(query.get("LastUpdatedAfter")), real(query, token))[1]
    worker.run_once()
    assert asked == [["2026-11-10T12:00:00Z"]]


def test_throttling_errors_and_expired_tokens_are_retried(connected, monkeypatch):
    import time
    monkeypatch.setattr(time, "sleep", lambda s: None)
    for n in range(1, 4):
        add(connected, n)
    connected.fail("/orders/v0/orders$", 429, retry_after="1")
    connected.fail("/orderItems", 500, count=2)
    connected.expire_next = 1
    ok, message = worker.run_once()
    assert ok, message
    assert by_id("112-0000003-0000001") is not None


def test_a_failed_sync_says_why_and_keeps_the_last_sync_time(connected, monkeypatch):
    import time
    monkeypatch.setattr(time, "sleep", lambda s: None)
    add(connected, 1)
    connected.fail("/orders/v0/orders$", 500, count=10, message="We are down")
    ok, message = worker.run_once()
    assert not ok and "Could not sync with Amazon: Amazon answered 500: We are down" in message
    row = db.session.get(AmazonConnection, 1)
    assert row.synced_at is None and row.sync_failed


def test_cli_one_pass(connected, app):
    add(connected, 1)
    result = app.test_cli_runner().invoke(args=["amazon-sync"])
    assert result.exit_code == 0, result.output
    assert "Synced with Amazon: 1 new" in result.output

"""Out to Amazon (contract §11): Confirm / Re-confirm shipment, Cancel order and refunds write an outbox message in
their own transaction; the worker sends it (confirmShipment, the order acknowledgement and payment adjustment
feeds) and people see Sent to Amazon / Waiting to send / Amazon refused, with Retry for the owner."""
import time
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from seller import clock, workflow
from seller.amazon import connection, push as pushing, worker
from seller.extensions import db
from seller.models import AmazonMessage
from amazon_standin import AmazonStandIn
from conftest import item_fields, make_order
from test_amazon import REFRESH, SECRET, connect

UPS = "1Z999AA10123456784"


@pytest.fixture
def standin(monkeypatch):
    s = AmazonStandIn(client_secret=SECRET, refresh_token=REFRESH).start()
    monkeypatch.setenv("AMAZON_SP_API_ENDPOINT", s.url)
    monkeypatch.setenv("AMAZON_LWA_TOKEN_URL", s.url + "/auth/o2/token")
    monkeypatch.setattr(time, "sleep", lambda seconds: None)
    yield s
    s.stop()
    assert not s.invalid, s.invalid


@pytest.fixture
def connected(app, standin):
    connect()
    return standin


def amazon_order(standin, status="Unshipped", **kw):
    """An order both here and on the stand-in."""
    order = make_order(status, **kw)
    standin.add_order(order.order_id, purchased=order.purchased_at, items=[
        {"OrderItemId": i.order_item_id, "SellerSKU": i.sku, "QuantityOrdered": i.quantity} for i in order.items])
    return order


def ship(order, user=None, tracking=UPS, editing=False):
    data = workflow.ShipmentInput(carrier="UPS", tracking_id=tracking, ship_date=clock.local_today(
        workflow.store_tz()), shipping_service="Ground")
    return (workflow.edit_shipment if editing else workflow.confirm_shipment)(order, user, data)


def push():
    row = connection.current()
    return pushing.push(connection.client(row), row)


def messages(order=None):
    db.session.rollback()
    query = select(AmazonMessage).order_by(AmazonMessage.id)
    return db.session.scalars(query.where(AmazonMessage.order_id == order.id) if order else query).all()


def test_without_a_connection_nothing_is_written(app):
    order = make_order("Unshipped")
    ship(order)
    assert messages() == []


def test_confirm_shipment_writes_its_message_in_the_same_transaction(connected, owner):
    order = amazon_order(connected)
    with pytest.raises(workflow.InvalidInput):  # refused action: no message either
        workflow.confirm_shipment(order, owner, workflow.ShipmentInput(carrier="Nope", tracking_id="x",
                                                                       ship_date=clock.local_today(workflow.store_tz())))
    assert messages() == []
    shipment = ship(order, owner)
    [message] = messages()
    assert (message.kind, message.key, message.state) == ("confirm_shipment", f"shipment:{shipment.id}", "waiting")


def test_push_confirms_each_shipment_as_one_package(connected, owner, owner_client):
    order = amazon_order(connected, items=[item_fields(sku="A", quantity=2), item_fields(sku="B")])
    first = ship(order, owner)
    page = owner_client.get("/orders").get_data(as_text=True)
    assert "Waiting to send" in page and "Amazon:" in page and "1 waiting" in page
    assert push().sent == 1
    second = ship(order, owner, tracking="1Z999AA10123456785", editing=True)  # Re-confirm shipment
    assert push().sent == 1
    assert [m.state for m in messages()] == ["sent", "sent"]
    body = connected.packages[(order.order_id, str(first.id))]
    detail = body["packageDetail"]
    assert body["marketplaceId"] == "ATVPDKIKX0DER"
    assert (detail["carrierCode"], detail["trackingNumber"], detail["shippingMethod"]) == ("UPS", UPS, "Ground")
    assert sorted((i["orderItemId"], i["quantity"]) for i in detail["orderItems"]) == sorted(
        (i.order_item_id, i.quantity) for i in order.items)
    assert connected.packages[(order.order_id, str(second.id))]["packageDetail"]["trackingNumber"] == \
        "1Z999AA10123456785"
    page = owner_client.get(f"/orders/{order.order_id}").get_data(as_text=True)
    assert "Sent to Amazon" in page
    assert "Sent to Amazon" in owner_client.get("/orders").get_data(as_text=True)


def test_cancel_goes_out_in_the_order_acknowledgement_feed(connected, owner):
    order = amazon_order(connected)
    workflow.cancel_order(order, owner, "Buyer canceled", "asked by mail")
    assert push().sent == 1
    [(feed_type, _feed, order_id, message)] = connected.feed_messages
    assert feed_type == "POST_ORDER_ACKNOWLEDGEMENT_DATA" and order_id == order.order_id
    assert message.findtext("OrderAcknowledgement/StatusCode") == "Failure"
    assert message.findtext("OrderAcknowledgement/Item/CancelReason") == "BuyerCanceled"
    assert message.findtext("OrderAcknowledgement/Item/AmazonOrderItemCode") == order.items[0].order_item_id
    assert int(message.findtext("MessageID")) == messages(order)[0].id


def test_refund_goes_out_in_the_payment_adjustment_feed(connected, owner):
    workflow.save_settings(refund_window_hours=0)  # final at once
    order = amazon_order(connected, "Shipped")
    push()
    workflow.refund(order, owner, workflow.RefundInput(kind="full", reason="Customer Return",
                                                       return_concession=Decimal("3.00"), idempotency_key="k1", amounts={}))
    assert push().sent == 1
    [(feed_type, _feed, order_id, message)] = connected.feed_messages
    assert feed_type == "POST_PAYMENT_ADJUSTMENT_DATA"
    item = message.find("PaymentAdjustment/AdjustedItem")
    assert item.findtext("AdjustmentReason") == "CustomerReturn"
    amounts = {c.findtext("Type"): c.findtext("Amount") for c in item.iter("Component")}
    assert amounts == {"Principal": "20.00", "Tax": "1.65", "Shipping": "4.99", "ShippingTax": "0.41",
                       "ReturnShipping": "3.00"}
    assert item.find("ItemPriceAdjustments/Component/Amount").get("currency") == "USD"


def test_refund_reasons_without_an_amazon_code_go_as_general_adjustment(connected, owner):
    workflow.save_settings(refund_window_hours=0)
    order = amazon_order(connected, "Shipped")
    workflow.refund(order, owner, workflow.RefundInput(kind="full", reason="Delivered Late by Carrier",
                                                       idempotency_key="k2", amounts={}))
    push()
    assert connected.feed_messages[-1][3].findtext(".//AdjustmentReason") == "GeneralAdjustment"


def test_a_pending_refund_reaches_amazon_only_when_its_window_ends(connected, owner):
    order = amazon_order(connected, "Shipped")
    push()
    refund, _ = workflow.refund(order, owner, workflow.RefundInput(kind="full", reason="Customer Return",
                                                                   idempotency_key="k3", amounts={}))
    assert [m.kind for m in messages(order)] == ["confirm_shipment"]  # Pending: Amazon hears nothing yet
    workflow.finalize_refunds(now=clock.now() + timedelta(hours=3))
    assert [m.kind for m in messages(order)] == ["confirm_shipment", "refund"]
    assert push().sent == 1 and connected.feed_messages[-1][2] == order.order_id


def test_a_canceled_pending_refund_never_reaches_amazon(connected, owner):
    order = amazon_order(connected, "Shipped")
    refund, _ = workflow.refund(order, owner, workflow.RefundInput(kind="full", reason="Customer Return",
                                                                   idempotency_key="k4", amounts={}))
    workflow.cancel_refund(order, owner, refund.id)
    workflow.finalize_refunds(now=clock.now() + timedelta(hours=3))
    assert [m.kind for m in messages(order)] == ["confirm_shipment"]


def test_processing_error_is_amazon_refused_and_retry_sends_it_again(connected, owner, owner_client, staff_client):
    order = amazon_order(connected)
    connected.message_errors[order.order_id] = "The order is already shipped and cannot be canceled."
    workflow.cancel_order(order, owner, "No inventory")
    result = push()
    assert (result.sent, result.refused) == (0, 1)
    [message] = messages(order)
    assert message.state == "refused" and "already shipped" in message.error
    page = owner_client.get(f"/orders/{order.order_id}").get_data(as_text=True)
    assert "Amazon refused" in page and "The order is already shipped and cannot be canceled." in page
    assert "Retry" in page
    assert "Retry" not in staff_client.get(f"/orders/{order.order_id}").get_data(as_text=True)
    assert staff_client.post(f"/orders/{order.order_id}/amazon-retry").status_code == 403
    summary = owner_client.get("/orders").get_data(as_text=True)
    assert "1 refused" in summary and "/orders/amazon" in summary
    assert "already shipped" in owner_client.get("/orders/amazon").get_data(as_text=True)
    form = owner_client.get(f"/orders/{order.order_id}/amazon-retry", headers={"HX-Request": "true"})
    assert form.status_code == 200 and "already shipped" in form.get_data(as_text=True)
    del connected.message_errors[order.order_id]
    answer = owner_client.post(f"/orders/{order.order_id}/amazon-retry", headers={"HX-Request": "true"})
    assert answer.status_code == 200 and "Waiting to send" in answer.get_data(as_text=True)
    assert push().sent == 1
    assert messages(order)[0].state == "sent"
    assert owner_client.post(f"/orders/{order.order_id}/amazon-retry").status_code == 409  # nothing refused now


def test_a_4xx_is_refused_at_once_and_5xx_backs_off_then_gives_up(connected, owner, frozen_now):
    refused, busy = amazon_order(connected), amazon_order(connected)
    connected.refuse_confirm[refused.order_id] = "Invalid carrier code."
    connected.fail("shipmentConfirmation", 503, count=1000)
    del connected.faults[0]
    ship(refused, owner)
    result = push()
    assert result.refused == 1 and "Invalid carrier code." in messages(refused)[0].error
    connected.fail(f"/orders/v0/orders/{busy.order_id}/shipmentConfirmation", 503, count=1000, message="Busy")
    ship(busy, owner)
    now = clock.now()
    for attempt in range(1, pushing.MAX_ATTEMPTS):
        frozen_now(now)
        push()
        message = messages(busy)[0]
        assert (message.state, message.attempts) == ("waiting", attempt)
        assert message.due_at == now + pushing.backoff(attempt)
        frozen_now(now + timedelta(seconds=1))
        assert push().sent == 0 and messages(busy)[0].attempts == attempt  # not before it is due
        now = message.due_at
    frozen_now(now)
    push()
    message = messages(busy)[0]
    assert message.state == "refused" and "503" in message.error


def test_throttled_confirmation_waits_for_retry_after(connected, owner, monkeypatch):
    waited = []
    monkeypatch.setattr(time, "sleep", waited.append)
    order = amazon_order(connected)
    connected.fail("shipmentConfirmation", 429, retry_after="2")
    ship(order, owner)
    assert push().sent == 1 and waited == [2.0]


def test_a_feed_made_before_a_crash_is_found_not_sent_twice(connected, owner):
    """The worker died after createFeed, before recording the feed: the next pass finds the feed and reads its
    report instead of sending the cancellation again."""
    order = amazon_order(connected)
    workflow.cancel_order(order, owner, "No inventory")
    sp = connection.client(connection.current())
    real = sp.create_feed

    def dies(*args):
        real(*args)
        raise SystemExit("killed")
    sp.create_feed = dies
    with pytest.raises(SystemExit):
        pushing.push(sp, connection.current())
    [message] = messages(order)
    assert message.feed_document_id and not message.feed_id
    assert push().sent == 1
    assert len(connected.feeds) == 1 and len(connected.feed_messages) == 1


def test_a_document_without_its_feed_is_sent_again(connected, owner):
    order = amazon_order(connected)
    workflow.cancel_order(order, owner, "No inventory")
    sp = connection.client(connection.current())
    sp.upload = lambda *args: (_ for _ in ()).throw(SystemExit("killed"))
    with pytest.raises(SystemExit):
        pushing.push(sp, connection.current())
    assert push().sent == 1
    assert len(connected.feeds) == 1 and len(connected.feed_messages) == 1


def test_nothing_about_amazon_shows_without_a_connection(owner_client, app):
    order = make_order("Unshipped")
    page = owner_client.get("/orders").get_data(as_text=True)
    assert "Amazon:" not in page and "Waiting to send" not in page
    assert "Sent to Amazon" not in owner_client.get(f"/orders/{order.order_id}").get_data(as_text=True)


def test_two_loops_never_both_run(app):
    first, second = worker.Lock(), worker.Lock()
    second.holder = "elsewhere:1"
    assert first.acquire()
    assert not second.acquire()
    first.release()
    assert second.acquire()
    second.release()


def test_a_dead_loops_lock_is_taken_over(app):
    import socket
    dead = worker.Lock()
    dead.holder = f"{socket.gethostname()}:999999999"  # no such process
    assert dead.acquire()
    if db.engine.dialect.name == "postgresql":  # the advisory lock ends with its connection
        dead.conn.invalidate()
    taker = worker.Lock()
    assert taker.acquire()
    taker.release()


def test_loop_pulls_and_pushes(connected, owner):
    order = amazon_order(connected)
    ship(order, owner)
    worker.loop(pull_every=0, push_every=0, passes=2, echo=lambda text: None)
    assert [m.state for m in messages()] == ["sent"]
    assert db.session.scalar(select(func.count()).select_from(AmazonMessage).where(
        AmazonMessage.state == "waiting")) == 0


def test_sync_now_leaves_the_push_to_a_running_loop(connected, owner):
    order = amazon_order(connected)
    ship(order, owner)
    loop = worker.Lock()
    loop.holder = "elsewhere:1"
    assert loop.acquire()
    ok, message = worker.run_once()
    assert ok and "The Amazon loop is sending what waits." in message
    assert [m.state for m in messages()] == ["waiting"]
    loop.release()
    assert worker.run_once()[0] and [m.state for m in messages()] == ["sent"]

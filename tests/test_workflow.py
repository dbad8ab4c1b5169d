"""The domain layer without HTTP: the transition tables, the guards, money and history."""
import threading
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import event, func, select

from seller import workflow
from seller.extensions import db
from seller.models import Order, OrderEvent, Refund, ReturnRequest, Shipment, Settings
from seller.money import AmountError, parse_amount
from seller.workflow import InvalidTransition, RefundInput, ShipmentInput, StaleVersion

from conftest import item_fields, make_order
from seller import clock

STATUSES = ["Pending", "Unshipped", "Shipped", "Canceled"]


def today():
    return clock.local_today(workflow.store_tz())


def ship_input(**kw):
    return ShipmentInput(**{"carrier": "USPS", "tracking_id": "9400111899223197428490", "ship_date": today(), **kw})


def full(key="k1", **kw):
    return RefundInput(kind="full", reason="Customer Return", idempotency_key=key, amounts={}, **kw)


ORDER_VERBS = {
    "confirm_shipment": lambda o, u: workflow.confirm_shipment(o, u, ship_input()),
    "edit_shipment": lambda o, u: workflow.edit_shipment(o, u, ship_input(carrier="UPS",
                                                                             tracking_id="1Z999AA10123456784")),
    "cancel_order": lambda o, u: workflow.cancel_order(o, u, "No inventory"),
    "refund": lambda o, u: workflow.refund(o, u, full()),
    "create_return": lambda o, u: workflow.create_return(o, u, "No longer needed", {o.items[0].id: 1}),
    "contact_buyer": lambda o, u: workflow.contact_buyer(o, u, "Your order", "Thanks!"),
}


def snapshot(order):
    db.session.rollback()
    o = db.session.get(Order, order.id)
    counts = {m.__name__: db.session.scalar(select(func.count()).select_from(m).where(m.order_id == o.id))
              for m in (OrderEvent, Shipment, Refund, ReturnRequest)}
    return (o.status, o.version, o.refunded_cents, o.late), counts


@pytest.mark.parametrize("status", STATUSES)
@pytest.mark.parametrize("action", sorted(ORDER_VERBS))
def test_every_order_action_in_every_status(app, owner, status, action):
    """Allowed pairs change the order and write history; disallowed ones raise and change nothing. The registry
    (`why_not`) and the verbs agree (Edit shipment on Unshipped needs a partial shipment first)."""
    order = make_order(status)
    before = snapshot(order)
    allowed = workflow.why_not(order, action, owner) is None
    assert allowed == (status in workflow.ORDER_ACTIONS[action][0] and (action, status) != ("edit_shipment",
                                                                                         "Unshipped"))
    if allowed:
        ORDER_VERBS[action](order, owner)
        after = snapshot(order)
        assert after[1]["OrderEvent"] == before[1]["OrderEvent"] + 1
        event = db.session.scalars(select(OrderEvent).where(OrderEvent.order_id == order.id)
                                   .order_by(OrderEvent.id.desc())).first()
        assert (event.action, event.user_id) == (action, owner.id)
        target = workflow.ORDER_ACTIONS[action][1]
        assert after[0][0] == (target or status)
    else:
        with pytest.raises(InvalidTransition):
            ORDER_VERBS[action](order, owner)
        assert snapshot(order) == before


RETURN_VERBS = {
    "authorize_return": lambda r, u: workflow.authorize_return(r, u, workflow.new_rma_number(), "1 Return Rd"),
    "close_return": lambda r, u: workflow.close_return(r, u, "Buyer withdrew the request", "OK"),
    "issue_refund": lambda r, u: workflow.refund(r.order, u, full(), return_request=r),
}


def return_in(status, owner):
    order = make_order("Shipped", items=[item_fields(), item_fields(sku="SKU-2")])
    ret = workflow.create_return(order, owner, "No longer needed", {order.items[0].id: 1})
    if status in ("Authorized", "Completed"):
        workflow.authorize_return(ret, owner, workflow.new_rma_number(), "1 Return Rd", "now")
    if status == "Completed":
        workflow.refund(order, owner, full("first"), return_request=ret)
    if status == "Closed":
        workflow.close_return(ret, owner, "Item not returned")
    db.session.refresh(ret)
    assert ret.status == status
    return ret


@pytest.mark.parametrize("status", ["Pending Authorization", "Authorized", "Completed", "Closed"])
@pytest.mark.parametrize("action", sorted(RETURN_VERBS))
def test_every_return_action_in_every_status(app, owner, status, action):
    ret = return_in(status, owner)
    before = (ret.status, ret.version, ret.rma_number, snapshot(ret.order))
    if status in workflow.RETURN_ACTIONS[action][0]:
        RETURN_VERBS[action](ret, owner)
        db.session.refresh(ret)
        expected = {"authorize_return": "Authorized", "close_return": "Closed", "issue_refund": "Completed"}[action]
        assert ret.status == expected
    else:
        with pytest.raises(InvalidTransition):
            RETURN_VERBS[action](ret, owner)
        db.session.expire_all()
        ret = db.session.get(ReturnRequest, ret.id)
        assert (ret.status, ret.version, ret.rma_number, snapshot(ret.order)) == before


def test_closed_return_cannot_be_authorized_again(app, owner):
    ret = return_in("Closed", owner)
    assert "authorize_return" not in workflow.available_actions(ret, owner)
    with pytest.raises(InvalidTransition):
        workflow.authorize_return(ret, owner, "RMA-1", "addr")


def test_late_is_decided_by_the_moment_of_confirming(app, owner):
    order = make_order(purchased_at=clock.now() - timedelta(hours=50))
    workflow.confirm_shipment(order, owner, ship_input(ship_date=today() - timedelta(days=2)))
    assert order.late and order.shipment.late
    on_time = make_order(purchased_at=clock.now() - timedelta(hours=47))
    workflow.confirm_shipment(on_time, owner, ship_input())
    assert not on_time.late


def test_edit_shipment_keeps_the_earlier_record(app, owner):
    order = make_order("Shipped")
    first = order.shipment
    workflow.edit_shipment(order, owner, ship_input(carrier="Other", carrier_name="Yodel", tracking_id="abc 123"))
    db.session.refresh(order)
    assert len(order.shipments) == 2 and first.superseded_at is not None
    assert order.shipment.carrier_name == "Yodel" and order.shipment.tracking_id == "ABC123"
    assert not order.shipment.tracking_valid  # Other: not a listed carrier
    assert order.events[-1].details["previous"][0]["tracking_id"] == first.tracking_id


@pytest.mark.parametrize("kw, field", [
    ({"ship_date": "future"}, "ship_date"), ({"ship_date": "before"}, "ship_date"),
    ({"carrier": "Other"}, "carrier_name"), ({"carrier": "Pony Express"}, "carrier")])
def test_bad_shipment_input_is_refused_with_its_field(app, owner, kw, field):
    order = make_order(purchased_at=clock.now() - timedelta(days=3))
    if kw.get("ship_date") == "future":
        kw["ship_date"] = today() + timedelta(days=1)
    elif kw.get("ship_date") == "before":
        kw["ship_date"] = today() - timedelta(days=5)
    before = snapshot(order)
    with pytest.raises(workflow.InvalidInput) as exc:
        workflow.confirm_shipment(order, owner, ship_input(**kw))
    assert exc.value.field == field
    assert snapshot(order) == before


@pytest.mark.parametrize("carrier, tracking, ok", [
    ("UPS", "1Z999AA10123456784", True), ("UPS", "12345", False), ("USPS", "9400111899223197428490", True),
    ("USPS", "EA123456789US", True), ("FedEx", "123456789012", True), ("FedEx", "12345678901", False),
    ("DHL", "1234567890", True), ("DHL", "1Z999AA10123456784", False), ("OnTrac", "C11234567890123", True),
    ("Other", "ANYTHING", False), ("USPS", "", False)])
def test_tracking_formats(carrier, tracking, ok):
    assert workflow.tracking_matches(carrier, tracking) is ok


def test_stale_page_is_refused(app, owner):
    order = make_order("Unshipped")
    seen = order.version
    workflow.cancel_order(make_order(), owner, "No inventory")  # another order: no effect on ours
    workflow.contact_buyer(order, owner, "Hi", "Soon")  # no state change: version stays
    assert order.version == seen
    workflow.confirm_shipment(order, owner, ship_input(), expected_version=seen)
    with pytest.raises(StaleVersion):
        workflow.edit_shipment(order, owner, ship_input(), expected_version=seen)


# ---------------------------------------------------------------- money


@pytest.mark.parametrize("text, value", [("12", "12.00"), ("12.5", "12.50"), (" $1,234.56 ", "1234.56"),
                                         ("", "0.00"), (".5", "0.50"), ("0", "0.00")])
def test_amounts_parse(text, value):
    assert parse_amount(text) == Decimal(value)


@pytest.mark.parametrize("text", ["10.005", "1e3", "Infinity", "inf", "NaN", "sNaN", "-1", "٥", "1,2.3.4", "12$",
                                  "0x10", "1_000", "１２", "1.2.3", "\x00", "9" * 12])
def test_malformed_amounts_are_refused(text):
    with pytest.raises(AmountError):
        parse_amount(text)


def test_full_refund_refunds_what_is_left_with_tax(app, owner):
    order = make_order("Shipped", items=[item_fields(price=2000, tax=165, shipping=499, shipping_tax=41),
                                         item_fields(sku="B", price=1000, tax=83, shipping=0, shipping_tax=0)])
    first = order.items[0]
    partial = RefundInput(kind="partial", reason="Pricing Error", idempotency_key="p",
                          amounts={first.id: (Decimal("10.00"), Decimal("0"))})
    r1, _ = workflow.refund(order, owner, partial)
    assert [(line.item_cents, line.item_tax_cents) for line in r1.lines] == [(1000, 83)]  # 165 / 2, rounded half up
    r2, _ = workflow.refund(order, owner, full("f", return_concession=Decimal("3.00")))
    db.session.refresh(order)
    assert order.refunded_cents == order.paid_cents == 2000 + 165 + 499 + 41 + 1000 + 83
    assert r2.total_cents == order.paid_cents - r1.total_cents + 300
    assert all(i.refunded_cents == i.paid_cents for i in order.items)
    assert "refund" not in workflow.available_actions(order, owner)


def test_partial_refunds_cannot_exceed_a_component(app, owner):
    order = make_order("Shipped", items=[item_fields(price=2000, shipping=499)])
    item = order.items[0]
    workflow.refund(order, owner, RefundInput(kind="partial", reason="Pricing Error", idempotency_key="a",
                                              amounts={item.id: (Decimal("15.00"), Decimal("0"))}))
    with pytest.raises(workflow.RefundExceedsBalance) as exc:
        workflow.refund(order, owner, RefundInput(kind="partial", reason="Pricing Error", idempotency_key="b",
                                                  amounts={item.id: (Decimal("5.01"), Decimal("0"))}))
    assert exc.value.field == f"item-{item.id}-item"
    with pytest.raises(workflow.RefundExceedsBalance):
        workflow.refund(order, owner, RefundInput(kind="partial", reason="Pricing Error", idempotency_key="c",
                                                  amounts={item.id: (Decimal("0"), Decimal("5.00"))}))


def test_concession_caps(app, owner):
    order = make_order("Shipped", items=[item_fields(price=2000, shipping=499)])
    cap = Decimal("2") * Decimal("4.99") + Decimal("10.00")  # 19.98
    with pytest.raises(workflow.ConcessionExceedsCap):
        workflow.refund(order, owner, full("a", return_concession=cap + Decimal("0.01")))
    with pytest.raises(workflow.ConcessionExceedsCap):
        workflow.refund(order, owner, full("b", other_concession=Decimal("20.01")))
    refund, _ = workflow.refund(order, owner, full("c", return_concession=cap, other_concession=Decimal("20.00")))
    assert refund.return_concession_cents == 1998 and refund.other_concession_cents == 2000


def test_idempotent_replay_and_mismatch(app, owner):
    order = make_order("Shipped")
    seen = order.version
    first, replayed = workflow.refund(order, owner, full("same"), expected_version=seen)
    assert not replayed
    for _ in range(5):
        again, replayed = workflow.refund(order, owner, full("same"), expected_version=seen)
        assert replayed and again.id == first.id
    assert db.session.scalar(select(func.count()).select_from(Refund)) == 1
    with pytest.raises(workflow.IdempotencyConflict):
        workflow.refund(order, owner, full("same", other_concession=Decimal("1.00")), expected_version=seen)


def test_unknown_amounts_are_not_refundable(app, owner):
    order = make_order("Shipped", amounts_known=False)
    assert "refund" not in workflow.available_actions(order, owner)
    with pytest.raises(workflow.NotRefundable):
        workflow.refund(order, owner, full())


def test_return_quantities_are_capped(app, owner):
    order = make_order("Shipped", items=[item_fields(quantity=2)])
    item = order.items[0]
    workflow.create_return(order, owner, "No longer needed", {item.id: 1})
    with pytest.raises(workflow.ReturnQuantityExceeded):
        workflow.create_return(order, owner, "No longer needed", {item.id: 2})
    workflow.create_return(order, owner, "No longer needed", {item.id: 1})
    assert workflow.returnable_quantities(order) == {item.id: 0}


def test_rma_numbers_are_unique(app, owner):
    a, b = return_in("Pending Authorization", owner), return_in("Pending Authorization", owner)
    workflow.authorize_return(a, owner, "rma-7", "addr")
    with pytest.raises(workflow.InvalidInput) as exc:
        workflow.authorize_return(b, owner, "RMA-7", "addr")
    assert exc.value.field == "rma_number"


def test_ship_by_counts_business_days(app):
    cfg = Settings.current()
    cfg.handling_business_days = True
    friday_noon_la = clock.local_day_start(__import__("datetime").date(2026, 11, 20),
                                                    workflow.store_tz()) + timedelta(hours=12)
    assert workflow.compute_ship_by(friday_noon_la, None, cfg) == friday_noon_la + timedelta(days=4)  # Tuesday
    cfg.handling_business_days = False
    assert workflow.compute_ship_by(friday_noon_la, None, cfg) == friday_noon_la + timedelta(hours=48)
    promise = friday_noon_la + timedelta(days=9)
    assert workflow.compute_ship_by(friday_noon_la, promise, cfg) == promise


# ---------------------------------------------------------------- the guard comes first


def statements_of(fn):
    seen = []

    def listener(conn, cursor, statement, *args):
        seen.append(" ".join(statement.split()))
    event.listen(db.engine, "before_cursor_execute", listener)
    try:
        fn()
    finally:
        event.remove(db.engine, "before_cursor_execute", listener)
    return seen


@pytest.mark.parametrize("action", ["confirm_shipment", "cancel_order", "refund", "close_return"])
def test_first_write_is_the_guard(app, owner, action):
    order = make_order("Shipped" if action in ("refund", "close_return") else "Unshipped")
    if action == "close_return":
        ret = workflow.create_return(order, owner, "No longer needed", {order.items[0].id: 1})
        run = lambda: RETURN_VERBS["close_return"](ret, owner)  # noqa: E731
        table = "return_requests"
    else:
        run = lambda: ORDER_VERBS[action](order, owner)  # noqa: E731
        table = "orders"
    sql = statements_of(run)
    writes = [s for s in sql if s.split()[0] in ("INSERT", "UPDATE", "DELETE")]
    assert writes[0].startswith(f"UPDATE {table} SET") and "status IN" in writes[0], writes[0]
    if db.engine.dialect.name == "sqlite":
        assert "BEGIN IMMEDIATE" in sql[:3]


# ---------------------------------------------------------------- races: threads against the real database


def race(app, n, work):
    """Run work(i) in n threads released together; return results and exceptions."""
    barrier, results = threading.Barrier(n), [None] * n

    def run(i):
        with app.app_context():
            barrier.wait()
            try:
                results[i] = work(i)
            except Exception as exc:  # collected and asserted on by the caller
                results[i] = exc
            finally:
                db.session.remove()
    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return results


def naive_refund(app, order_id, amount, barrier):
    """Check what is left, then insert: the bug the notes reproduced (no guard)."""
    from sqlalchemy import text
    with app.app_context():
        engine = db.engine
        if engine.dialect.name == "sqlite":
            import sqlite3
            conn = sqlite3.connect(engine.url.database, timeout=5)  # Python's default (legacy) mode
            paid, refunded = conn.execute("SELECT paid_cents, (SELECT COALESCE(SUM(total_cents), 0) FROM refunds "
                                          "WHERE order_id = ?) FROM orders WHERE id = ?", (order_id, order_id)).fetchone()
            barrier.wait()
            if refunded + amount <= paid:
                conn.execute("INSERT INTO refunds (order_id, idempotency_key, fingerprint, kind, reason, memo_to_buyer,"
                             " seller_memo, return_concession_cents, other_concession_cents, total_cents, created_at)"
                             " VALUES (?, lower(hex(randomblob(8))), '', 'full', 'Customer Return', '', '', 0, 0, ?,"
                             " CURRENT_TIMESTAMP)", (order_id, amount))
                conn.commit()
            conn.close()
            return
        with engine.connect() as conn:
            paid, refunded = conn.execute(text(
                "SELECT paid_cents, (SELECT COALESCE(SUM(total_cents), 0) FROM refunds WHERE order_id = :o) "
                "FROM orders WHERE id = :o"), {"o": order_id}).one()
            barrier.wait()
            if refunded + amount <= paid:
                conn.execute(text(
                    "INSERT INTO refunds (order_id, idempotency_key, fingerprint, kind, reason, memo_to_buyer, "
                    "seller_memo, return_concession_cents, other_concession_cents, total_cents, created_at) VALUES "
                    "(:o, md5(random()::text), '', 'full', 'Customer Return', '', '', 0, 0, :a, now())"),
                    {"o": order_id, "a": amount})
                conn.commit()


def refunded_by_rows(order_id):
    db.session.rollback()  # end this thread's read snapshot: the other threads committed since
    return db.session.scalar(select(func.coalesce(func.sum(Refund.total_cents), 0)).where(Refund.order_id == order_id))


def test_the_race_harness_catches_a_naive_refund(app, owner):
    """Control: without the guard, five simultaneous full refunds all go through on this database."""
    order = make_order("Shipped")
    barrier = threading.Barrier(5)
    threads = [threading.Thread(target=naive_refund, args=(app, order.id, order.paid_cents, barrier))
               for _ in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert refunded_by_rows(order.id) > order.paid_cents  # over-refunded: the harness can see the bug


def test_simultaneous_full_refunds_refund_once(app, owner):
    orders = [make_order("Shipped") for _ in range(3)]
    ids = [(o.id, o.paid_cents) for o in orders]

    def work(i):
        order_id, _ = ids[i % len(ids)]
        order = db.session.get(Order, order_id)
        try:
            return workflow.refund(order, None, full(f"key-{i}"))[1]
        except workflow.WorkflowError as exc:
            return type(exc).__name__
    results = race(app, 15, work)
    assert not [r for r in results if isinstance(r, Exception) and not isinstance(r, workflow.WorkflowError)], results
    assert results.count(False) == 3  # one accepted refund per order
    for order_id, paid in ids:
        assert refunded_by_rows(order_id) == paid
        assert db.session.get(Order, order_id).refunded_cents == paid


def test_simultaneous_partials_never_exceed_the_item(app, owner):
    order = make_order("Shipped", items=[item_fields(price=1000, tax=0, shipping=0, shipping_tax=0)])
    item_id = order.items[0].id

    def work(i):
        o = db.session.get(Order, order.id)
        try:
            workflow.refund(o, None, RefundInput(kind="partial", reason="Pricing Error", idempotency_key=f"p{i}",
                                                 amounts={item_id: (Decimal("3.00"), Decimal("0"))}))
            return "ok"
        except workflow.WorkflowError as exc:
            return type(exc).__name__
    results = race(app, 8, work)
    assert results.count("ok") == 3, results
    assert refunded_by_rows(order.id) == 900

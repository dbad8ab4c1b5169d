"""Refunds under pressure: simultaneous submissions against the real server, and random workflows.

The race runs against gunicorn with 2 workers (the `live_server` fixture) with CSRF on, on whichever
database the suite runs on (SQLite by default, PostgreSQL with TEST_DATABASE_URL)."""
import re
import threading
import time
from collections import Counter
from decimal import Decimal

import pytest
import requests
from hypothesis import HealthCheck, settings, strategies as st
from hypothesis.stateful import (Bundle, RuleBasedStateMachine, initialize, invariant, multiple, rule,
                                 run_state_machine_as_test)
from sqlalchemy import func, select

from conftest import PASSWORD, _counter, add_user, item_fields, make_order
from seller import clock, workflow
from seller.extensions import db
from seller.models import (Order, OrderEvent, OrderItem, OrderStatus, Refund, RefundLine, ReturnItem, ReturnRequest,
                           ReturnStatus)

ORDERS, FULL_PER_ORDER, PARTIALS_PER_ORDER = 10, 20, 6


def signed_in_session(base: str, email: str) -> requests.Session:
    """Sign in through /login like a browser: the CSRF token comes from the form."""
    session = requests.Session()
    page = session.get(base + "/login", timeout=10).text
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    response = session.post(base + "/login", data={"email": email, "password": PASSWORD, "csrf_token": token},
                            allow_redirects=False, timeout=10)
    assert response.status_code == 303, response.text
    return session


def component_totals(order: Order) -> dict:
    """Per item, (paid, refunded, Σ refund lines) of each component."""
    lines = db.session.execute(
        select(RefundLine.order_item_id, func.sum(RefundLine.item_cents), func.sum(RefundLine.item_tax_cents),
               func.sum(RefundLine.shipping_cents), func.sum(RefundLine.shipping_tax_cents))
        .join(Refund).where(Refund.order_id == order.id, Refund.status != "canceled")
        .group_by(RefundLine.order_item_id)).all()
    summed = {row[0]: tuple(int(v or 0) for v in row[1:]) for row in lines}
    return {item.id: ((item.item_price_cents, item.item_tax_cents, item.shipping_price_cents,
                       item.shipping_tax_cents),
                      (item.refunded_item_cents, item.refunded_item_tax_cents, item.refunded_shipping_cents,
                       item.refunded_shipping_tax_cents),
                      summed.get(item.id, (0, 0, 0, 0))) for item in order.items}


def check_money(order: Order) -> None:
    """Refunded ≤ paid per component; the order's and the items' figures agree with the refunds made (and not
    canceled)."""
    for paid, refunded, lines in component_totals(order).values():
        assert all(0 <= r <= p for r, p in zip(refunded, paid)), (paid, refunded)
        assert refunded == lines
    refunds = db.session.scalars(select(Refund).where(Refund.order_id == order.id,
                                                      Refund.status != "canceled")).all()  # Cancel refund undid
    assert order.refunded_cents == sum(item.refunded_cents for item in order.items) <= order.paid_cents
    assert sum(r.total_cents for r in refunds) == (order.refunded_cents + order.return_concession_cents
                                                   + order.other_concession_cents)
    assert all(r.total_cents == sum(line.total_cents for line in r.lines) + r.return_concession_cents
               + r.other_concession_cents for r in refunds)


@pytest.mark.concurrency
def test_simultaneous_refunds_never_over_refund(live_server, live_db):
    email = f"racer{next(_counter)}@example.com"
    add_user(email, "owner")
    orders = [make_order("Shipped", items=[item_fields(price=2000, tax=165, shipping=499, shipping_tax=41),
                                          item_fields(sku="SKU-2", price=1250, tax=103, shipping=0, shipping_tax=0)])
              for _ in range(ORDERS)]
    session = signed_in_session(live_server.url, email)
    jobs = []
    for order in orders:
        page = session.get(f"{live_server.url}/orders/{order.order_id}/refund", timeout=10).text
        csrf = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
        base = {"csrf_token": csrf, "reason": "Customer Return"}
        for n in range(FULL_PER_ORDER):  # half from a loaded page (with its version), half without one
            jobs.append((order, "full", {**base, "kind": "full", "submit_full": "1", "idempotency_key": f"f{n}",
                                         **({"version": order.version} if n % 2 else {})}))
        for n in range(PARTIALS_PER_ORDER):  # each 60 % of the first item: any two together exceed it
            jobs.append((order, "partial", {**base, "kind": "partial", "submit_partial": "1",
                                            "idempotency_key": f"p{n}", f"item-{order.items[0].id}-item": "12.00"}))
    cookies = session.cookies.get_dict()
    session.close()
    barrier = threading.Barrier(len(jobs))
    results = []

    def submit(order, kind, data):
        with requests.Session() as client:
            client.cookies.update(cookies)
            barrier.wait()
            response = client.post(f"{live_server.url}/orders/{order.order_id}/refund", data=data,
                                   allow_redirects=False, timeout=60)
        results.append((order.id, kind, response.status_code))

    started = time.monotonic()
    threads = [threading.Thread(target=submit, args=job) for job in jobs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - started

    statuses = Counter(status for _, _, status in results)
    assert len(results) == len(jobs)
    assert not [s for s in statuses if s >= 500], statuses
    assert set(statuses) <= {303, 409, 422}, statuses
    db.session.rollback()  # a fresh snapshot: the server committed meanwhile
    over, full_counts = 0, []
    for order in orders:
        order = db.session.get(Order, order.id)
        refunds = db.session.scalars(select(Refund).where(Refund.order_id == order.id)).all()
        full_counts.append(sum(r.kind == "full" for r in refunds))
        accepted = sum(1 for oid, _, status in results if oid == order.id and status == 303)
        assert accepted == len(refunds)
        check_money(order)
        over += order.refunded_cents > order.paid_cents
        assert order.refunded_cents == order.paid_cents  # the one full refund took what the partial left
    assert full_counts == [1] * ORDERS
    accepted_partials = sum(1 for _, kind, status in results if kind == "partial" and status == 303)
    print(f"\nrace ({live_server.app.config['SQLALCHEMY_DATABASE_URI'].split(':')[0]}): {ORDERS} orders × "
          f"{FULL_PER_ORDER} full + {PARTIALS_PER_ORDER} partial refunds at once = {len(jobs)} POSTs in "
          f"{elapsed:.1f} s; answers {dict(sorted(statuses.items()))}; full refunds accepted per order "
          f"{full_counts}; partials accepted {accepted_partials}; over-refunded orders {over}/{ORDERS}; "
          f"0 5xx")


# ---------------------------------------------------------------- random workflows


ORDER_MOVES = {S: set() for S in OrderStatus}
ORDER_MOVES.update({OrderStatus.UNSHIPPED: {OrderStatus.SHIPPED, OrderStatus.CANCELED}})
RETURN_MOVES = {ReturnStatus.PENDING_AUTHORIZATION: {ReturnStatus.AUTHORIZED, ReturnStatus.CLOSED,
                                                     ReturnStatus.COMPLETED},
                ReturnStatus.AUTHORIZED: {ReturnStatus.CLOSED, ReturnStatus.COMPLETED},
                ReturnStatus.COMPLETED: set(), ReturnStatus.CLOSED: set()}
cents = st.one_of(st.integers(min_value=0, max_value=700), st.integers(min_value=0, max_value=2500))


class Workflows(RuleBasedStateMachine):
    """Ship, cancel, refund (full, partial, with concessions, replays) and return actions in any order."""
    orders = Bundle("orders")
    returns = Bundle("returns")

    def __init__(self):
        super().__init__()
        self.seen_orders: dict[int, str] = {}
        self.seen_returns: dict[int, str] = {}
        self.keys = 0

    def attempt(self, verb, *args, **kwargs):
        """A refusal is fine (it must change nothing, which the invariants check); anything else is a bug."""
        try:
            return verb(*args, **kwargs)
        except workflow.WorkflowError:
            db.session.rollback()
            return None

    @initialize(target=orders)
    def first_order(self):
        return self.new_order(2, "Shipped")

    @rule(target=orders, items=st.integers(min_value=1, max_value=3),
          status=st.sampled_from(["Unshipped", "Shipped", "Shipped"]))
    def new_order(self, items, status):
        order = make_order(status, items=[item_fields(sku=f"SKU-{n}", price=1000 + 333 * n, tax=83 + 7 * n,
                                                      shipping=499 * (n % 2), shipping_tax=41 * (n % 2),
                                                      quantity=1 + n) for n in range(items)])
        return order.id

    def order(self, order_id):
        return db.session.get(Order, order_id)

    @rule(order_id=orders, cancel=st.booleans())
    def ship_or_cancel(self, order_id, cancel):
        if cancel:
            self.attempt(workflow.cancel_order, self.order(order_id), None, "Buyer canceled")
        else:
            self.attempt(workflow.confirm_shipment, self.order(order_id), None, workflow.ShipmentInput(
                carrier="UPS", tracking_id="1Z999AA10123456784", ship_date=clock.local_today(
                    workflow.store_tz())))

    @rule(order_id=orders, kind=st.sampled_from(["full", "partial", "partial"]),
          amounts=st.lists(st.tuples(cents, st.sampled_from([0, 0, 100, 499, 700])), min_size=1, max_size=3),
          rc=st.sampled_from([0, 0, 0, 150, 2500]), oc=st.sampled_from([0, 0, 0, 99, 5000]),
          replay=st.sampled_from([False, False, True]), stale=st.sampled_from([False, False, False, True]))
    def refund(self, order_id, kind, amounts, rc, oc, replay, stale):
        order = self.order(order_id)
        if not replay:
            self.keys += 1
        data = workflow.RefundInput(
            kind=kind, reason="General Adjustment", idempotency_key=f"key-{self.keys}",
            amounts={item.id: (Decimal(a) / 100, Decimal(s) / 100) for item, (a, s) in zip(order.items, amounts)},
            return_concession=Decimal(rc) / 100, other_concession=Decimal(oc) / 100)
        self.attempt(workflow.refund, order, None, data, expected_version=order.version - 1 if stale else None)

    @rule(target=returns, order_id=orders, quantity=st.integers(min_value=1, max_value=3))
    def create_return(self, order_id, quantity):
        order = self.order(order_id)
        ret = self.attempt(workflow.create_return, order, None, workflow.RETURN_REASONS[0],
                           {order.items[0].id: quantity})
        return ret.id if ret else multiple()

    def ret(self, ret_id):
        return db.session.get(ReturnRequest, ret_id)

    @rule(ret_id=returns, timing=st.sampled_from(["now", "after_receipt"]))
    def authorize(self, ret_id, timing):
        self.attempt(workflow.authorize_return, self.ret(ret_id), None, workflow.new_rma_number(), "1 Dock St",
                         timing)

    @rule(ret_id=returns)
    def close(self, ret_id):
        self.attempt(workflow.close_return, self.ret(ret_id), None, "Other", "Closing this.")

    @rule(ret_id=returns, kind=st.sampled_from(["full", "partial"]), oc=st.sampled_from([0, 100]))
    def refund_return(self, ret_id, kind, oc):
        ret = self.ret(ret_id)
        self.keys += 1
        self.attempt(workflow.refund, ret.order, None, workflow.RefundInput(
            kind=kind, reason="Customer Return", idempotency_key=f"key-{self.keys}", amounts={},
            other_concession=Decimal(oc) / 100), return_request=ret)

    @invariant()
    def money_statuses_and_history(self):
        """Checked in a few set-wide queries after every step (per-order ORM loads would dominate the run)."""
        db.session.rollback()
        self.check_money()
        self.check_statuses()
        self.check_history()

    def check_money(self):
        items = db.session.execute(select(
            OrderItem.id, OrderItem.order_id, OrderItem.quantity,
            OrderItem.item_price_cents, OrderItem.item_tax_cents, OrderItem.shipping_price_cents,
            OrderItem.shipping_tax_cents, OrderItem.refunded_item_cents, OrderItem.refunded_item_tax_cents,
            OrderItem.refunded_shipping_cents, OrderItem.refunded_shipping_tax_cents)).all()
        lines = {row[0]: tuple(row[1:]) for row in db.session.execute(
            select(RefundLine.order_item_id, func.sum(RefundLine.item_cents), func.sum(RefundLine.item_tax_cents),
                   func.sum(RefundLine.shipping_cents), func.sum(RefundLine.shipping_tax_cents))
            .group_by(RefundLine.order_item_id))}
        refunded_per_order = Counter()
        for item_id, order_id, _, *figures in items:
            paid, refunded = figures[:4], figures[4:]
            assert all(0 <= r <= p for r, p in zip(refunded, paid)), (item_id, paid, refunded)
            assert tuple(refunded) == tuple(int(v) for v in lines.get(item_id, (0, 0, 0, 0)))
            refunded_per_order[order_id] += sum(refunded)
        totals = dict(db.session.execute(select(Refund.order_id, func.sum(Refund.total_cents))
                                         .group_by(Refund.order_id)).all())
        for oid, paid, refunded, rc, oc, shipping, goods in db.session.execute(
                select(Order.id, Order.paid_cents, Order.refunded_cents, Order.return_concession_cents,
                       Order.other_concession_cents, func.sum(OrderItem.shipping_price_cents),
                       func.sum(OrderItem.item_price_cents)).join(OrderItem).group_by(Order.id)):
            assert refunded == refunded_per_order[oid] <= paid
            assert int(totals.get(oid) or 0) == refunded + rc + oc
            assert rc <= 2 * shipping + 1000 and oc <= goods  # the default caps (Settings)
        held = db.session.execute(select(ReturnItem.order_item_id, func.sum(ReturnItem.quantity))
                                  .join(ReturnRequest).where(ReturnRequest.status != ReturnStatus.CLOSED)
                                  .group_by(ReturnItem.order_item_id)).all()
        quantities = {row[0]: row[2] for row in items}
        assert all(n <= quantities[item_id] for item_id, n in held)

    def check_statuses(self):
        for oid, status in db.session.execute(select(Order.id, Order.status)):
            before = self.seen_orders.get(oid, OrderStatus.UNSHIPPED)
            assert status == before or status in ORDER_MOVES[OrderStatus(before)], (before, status)
            self.seen_orders[oid] = status
        for rid, status, order_status in db.session.execute(
                select(ReturnRequest.id, ReturnRequest.status, Order.status).join(Order)):
            assert order_status == OrderStatus.SHIPPED
            before = self.seen_returns.get(rid, ReturnStatus.PENDING_AUTHORIZATION)
            assert status == before or status in RETURN_MOVES[ReturnStatus(before)], (before, status)
            self.seen_returns[rid] = status

    def check_history(self):
        """Every state change has its event: statuses, refunds, and each return request's steps."""
        events = Counter()
        refund_events = Counter()
        for oid, rid, action, details in db.session.execute(
                select(OrderEvent.order_id, OrderEvent.return_request_id, OrderEvent.action, OrderEvent.details)):
            events[(oid, rid, action)] += 1
            if action == "refund":
                refund_events[details["refund_id"]] += 1
        refunds = db.session.execute(select(Refund.id, Refund.order_id)).all()
        assert refund_events == Counter(rid for rid, _ in refunds)
        for oid, status in db.session.execute(select(Order.id, Order.status)):
            assert events[(oid, None, "confirm_shipment")] == (status == OrderStatus.SHIPPED)
            assert events[(oid, None, "cancel_order")] == (status == OrderStatus.CANCELED)
        for rid, oid, status, authorized_at in db.session.execute(
                select(ReturnRequest.id, ReturnRequest.order_id, ReturnRequest.status, ReturnRequest.authorized_at)):
            assert events[(oid, rid, "create_return")] == 1
            assert events[(oid, rid, "authorize_return")] == (authorized_at is not None)
            assert events[(oid, rid, "close_return")] == (status == ReturnStatus.CLOSED)
            assert events[(oid, rid, "complete_return")] == (status == ReturnStatus.COMPLETED)

    def teardown(self):
        db.session.rollback()
        for table in reversed(db.metadata.sorted_tables):
            if table.name not in ("users", "settings"):
                db.session.execute(table.delete())
        db.session.commit()


def test_random_workflows_keep_the_money_and_the_history_right(app):
    run_state_machine_as_test(Workflows, settings=settings(
        max_examples=30, stateful_step_count=25, deadline=None, derandomize=True,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much]))

"""Crash consistency (issue 18): gunicorn on this test's database (SQLite, or PostgreSQL with TEST_DATABASE_URL),
clients confirming, cancelling and refunding through HTTP, the whole server SIGKILLed 10 times at random moments
and restarted. Afterwards every acknowledged action is there, nothing is refunded above what was paid, no action
is half-written, and SQLite's integrity_check is ok (seller/checks.py)."""
import random
import secrets
import threading
import time

import pytest
import requests
from sqlalchemy import select

from bench import desk
from seller import checks
from seller.extensions import db
from seller.models import Cancellation, Order, Refund, Shipment

from conftest import PG, fresh_pg_database, make_app

pytestmark = pytest.mark.slow
KILLS, CLIENTS, ORDERS = 10, 4, 240


def work(base, orders, stop, acked, errors, seed):
    """One person: random orders (now and then one they shipped); Unshipped ones are confirmed or (1 in 5)
    canceled, Shipped ones get a $1.00 partial refund. A 303 is an acknowledged action, kept in `acked`; a dropped connection is not."""
    rng = random.Random(seed)
    client, shipped = None, []
    while not stop.is_set():
        try:
            if client is None:
                client = desk.Client(base, timeout=20)
                client.sign_in()
            order_id = rng.choice(shipped if shipped and rng.random() < 0.3 else orders)
            page = client.http.get(f"{base}/orders/{order_id}", timeout=20).text
            if "Refund order" in page and rng.random() < 0.8:
                items = sorted(set(__import__("re").findall(r'name="(item-\d+-item)"', client.http.get(
                    f"{base}/orders/{order_id}/refund", timeout=20).text)))
                if not items:
                    continue
                status, sent = client.submit(f"/orders/{order_id}/refund", kind="partial", reason="Customer Return",
                                             submit_partial="1", **{items[0]: "1.00"})
                kind, what = "refund", sent.get("idempotency_key")
            elif rng.random() < 0.2:
                status, _ = client.submit(f"/orders/{order_id}/cancel", reason="No inventory")
                kind, what = "cancel", None
            else:
                tracking = "1Z" + secrets.token_hex(8).upper()
                status, _ = client.submit(f"/orders/{order_id}/ship", carrier="UPS", shipping_service="Ground",
                                          tracking_id=tracking)
                kind, what = "ship", tracking
            if status == 303:
                acked.append((kind, order_id, what))
                if kind == "ship":
                    shipped.append(order_id)
            elif status >= 500 and status != 503:
                errors.append((kind, order_id, status))
        except requests.RequestException:
            time.sleep(0.2)  # the server is down (killed): try again once it is back
        except RuntimeError:
            client = None
            time.sleep(0.2)


def test_sigkill_loses_nothing_acknowledged_and_leaves_nothing_half_written(tmp_path):
    url = fresh_pg_database("crash") if PG else f"sqlite:///{tmp_path / 'crash.db'}"
    desk.prepare(url, ORDERS)
    app = make_app(url.replace("postgresql://", "postgresql+psycopg://", 1))
    with app.app_context():
        orders = list(db.session.scalars(select(Order.order_id)))
        db.session.remove()
    server = desk.Server(url, workers=2, log=tmp_path / "server.log")
    server.start()
    stop, acked, errors = threading.Event(), [], []
    threads = [threading.Thread(target=work, args=(server.base, orders, stop, acked, errors, n))
               for n in range(CLIENTS)]
    for thread in threads:
        thread.start()
    rng, kills = random.Random(18), []
    try:
        for _ in range(KILLS):
            time.sleep(rng.uniform(1.0, 4.0))
            kills.append(len(acked))
            server.kill()
            server.start()
        deadline = time.monotonic() + 90  # on a slow machine, go on until each kind was acknowledged a few times
        while time.monotonic() < deadline and min(
                sum(kind == k for kind, _, _ in acked) for k in ("ship", "cancel", "refund")) < 3:
            time.sleep(0.5)
    finally:
        stop.set()
        for thread in threads:
            thread.join(60)
        server.stop()
    print(f"{len(acked)} acknowledged actions, {len(kills)} kills (acknowledged before each: {kills})")
    assert not errors, errors
    assert len(acked) >= 10 and len({kind for kind, _, _ in acked}) == 3, acked[-10:]
    with app.app_context():
        for kind, order_id, what in acked:
            order = db.session.scalar(select(Order).where(Order.order_id == order_id))
            if kind == "ship":
                assert db.session.scalar(select(Shipment).where(Shipment.order_id == order.id,
                                                                Shipment.tracking_id == what)), (kind, order_id)
            elif kind == "cancel":
                assert order.status == "Canceled" and db.session.get(Cancellation, order.cancellation.id)
            else:
                assert db.session.scalar(select(Refund).where(Refund.order_id == order.id,
                                                              Refund.idempotency_key == what)), (kind, order_id)
        assert checks.problems() == []
        db.session.remove()
        db.engine.dispose()


def test_checks_name_what_is_half_written(app, order_factory):
    """The checks the crash run relies on do find each kind of damage."""
    shipped, canceled = order_factory("Shipped"), order_factory("Canceled")
    assert checks.problems() == []
    db.session.execute(Shipment.__table__.delete().where(Shipment.order_id == shipped.id))
    db.session.execute(Cancellation.__table__.delete().where(Cancellation.order_id == canceled.id))
    db.session.execute(Order.__table__.update().where(Order.id == shipped.id).values(refunded_cents=100))
    db.session.commit()
    found = checks.problems()
    assert f"{shipped.order_id}: Shipped without its shipment" in found
    assert f"{canceled.order_id}: Canceled without its cancellation" in found
    assert f"{shipped.order_id}: refunded amount differs from its refunds' lines" in found

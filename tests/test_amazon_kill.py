"""The worker killed (SIGKILL) at random moments while it pushes 300 actions, then started again: Amazon (the
stand-in) applied each exactly once and every outbox message ends Sent or Amazon refused."""
import os
import random
import signal
import subprocess
import sys
import time
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from seller import workflow
from seller.extensions import db
from seller.models import AmazonMessage, Order
from amazon_standin import AmazonStandIn
from conftest import PG, ROOT, fresh_pg_database, make_app, make_order, reset_schema
from test_amazon import REFRESH, SECRET, connect

pytestmark = pytest.mark.concurrency
EACH = 100  # confirmations, cancellations, refunds


def test_sigkilled_worker_sends_each_action_exactly_once(tmp_path):
    url = fresh_pg_database("kill") if PG else f"sqlite:///{tmp_path / 'kill.db'}"
    standin = AmazonStandIn(client_secret=SECRET, refresh_token=REFRESH).start()
    standin.delay, standin.polls_before_done = 0.03, 2
    app = make_app(url)
    reset_schema(app)
    try:
        with app.app_context():
            shipped = [make_order("Shipped") for _ in range(EACH)]  # before the connection: no messages
            to_ship = [make_order("Unshipped") for _ in range(EACH)]
            to_cancel = [make_order("Unshipped") for _ in range(EACH)]
            long_ago = shipped[0].purchased_at - timedelta(days=60)  # not in any pull: the workers only push
            for order in shipped + to_ship + to_cancel:
                standin.add_order(order.order_id, purchased=order.purchased_at, updated=long_ago, items=[
                    {"OrderItemId": i.order_item_id, "SellerSKU": i.sku} for i in order.items])
            connect()
            workflow.save_settings(refund_window_hours=0)  # refunds final at once: they go out with the rest
            today = workflow.store_tz()
            from seller import clock
            for order in to_ship:
                workflow.confirm_shipment(order, None, workflow.ShipmentInput(
                    carrier="UPS", tracking_id="1Z999AA10123456784", ship_date=clock.local_today(today)))
            for order in to_cancel:
                workflow.cancel_order(order, None, "No inventory")
            for n, order in enumerate(shipped):
                workflow.refund(order, None, workflow.RefundInput(
                    kind="partial" if n % 2 else "full", reason="Customer Return", idempotency_key=f"k{n}",
                    amounts={order.items[0].id: (Decimal("5.00"), Decimal("0"))}))
            expected = {(m.order.order_id, m.kind, m.key) for m in db.session.scalars(select(AmazonMessage))}
            assert len(expected) == 3 * EACH
            packages = {(m.order.order_id, m.payload["packageReferenceId"]) for m in db.session.scalars(
                select(AmazonMessage).where(AmazonMessage.kind == "confirm_shipment"))}

        env = dict(os.environ, DATABASE_URL=url, SECRET_KEY="test", AMAZON_SP_API_ENDPOINT=standin.url,
                   AMAZON_LWA_TOKEN_URL=standin.url + "/auth/o2/token", AMAZON_FEED_BATCH="10")
        command = [sys.executable, "-m", "flask", "--app", "app", "amazon-sync", "--loop", "--pull-minutes", "1000",
                   "--push-seconds", "0.2"]
        log = open(tmp_path / "worker.log", "w")
        start = lambda: subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=log)  # noqa: E731
        rng, sent_before_kill, began = random.Random(), [], time.monotonic()
        for _ in range(12):
            # Killed after a random number of requests into its work (not while it starts up).
            worker, seen = start(), sum(standin.calls.values())
            until = time.monotonic() + 90  # it starts (importing Amazon's SDK takes seconds on a loaded machine)
            while sum(standin.calls.values()) == seen and time.monotonic() < until:
                time.sleep(0.002)
            target, until = seen + rng.randint(1, 40), time.monotonic() + 20
            while sum(standin.calls.values()) < target and time.monotonic() < until:
                time.sleep(0.002)
            worker.send_signal(signal.SIGKILL)
            worker.wait(10)
            print(f"kill at {time.monotonic() - began:.1f} s")
            with app.app_context():
                sent_before_kill.append(db.session.scalar(select(func.count()).select_from(AmazonMessage).where(
                    AmazonMessage.state == "sent")))
                db.session.rollback()
            if sent_before_kill[-1] == 3 * EACH:
                break
        worker = start()
        deadline = time.monotonic() + 240
        with app.app_context():
            while time.monotonic() < deadline:
                db.session.rollback()
                if not db.session.scalar(select(func.count()).select_from(AmazonMessage).where(
                        AmazonMessage.state == "waiting")):
                    break
                time.sleep(0.5)
            print(f"all sent at {time.monotonic() - began:.1f} s")
            worker.send_signal(signal.SIGKILL)
            worker.wait(10)
            states = dict(db.session.execute(select(AmazonMessage.state, func.count()).group_by(
                AmazonMessage.state)).all())
            log.close()
            assert set(states) <= {"sent", "refused"}, (states, (tmp_path / "worker.log").read_text()[-3000:])
            assert states.get("sent") == 3 * EACH
        # Amazon applied each exactly once: one package per shipment, each cancellation and refund in one feed.
        assert set(standin.packages) == packages
        fed = [(kind, order_id) for kind, _feed, order_id, _m in standin.feed_messages]
        assert len(fed) == len(set(fed)) == 2 * EACH
        resent = sum(n - 1 for n in standin.confirm_requests.values())
        print(f"\nsent when each of {len(sent_before_kill)} kills landed: {sent_before_kill}; confirmShipment requests repeated for the same package (idempotent): {resent}; "
              f"feeds made: {len(standin.feeds)}")
    finally:
        standin.stop()
        with app.app_context():
            db.session.remove()
            db.engine.dispose()

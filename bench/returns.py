"""Returns at scale: close-stale-returns over 100,000 Authorized requests (goal ≤ 10 s), and Authorize selected
for 200 Pending Authorization requests (goal ≤ 5 s).

    uv run python bench/returns.py [--requests 100000] [--selected 200] [--database-url postgresql://...]

Data: a fresh SQLite database in a temporary folder (or the PostgreSQL database given, emptied first), schema by
`flask db upgrade`, filled with Core bulk inserts: one shipped order per request, one item, the request
Authorized 40 days ago with nothing received (so every one is stale: the worst case). Timed: the verb the command
runs (`workflow.close_stale_returns`, wall clock and this process's CPU), then the command itself run again in a
process of its own (`flask --app app close-stale-returns`, start-up included), which finds nothing (idempotent).
Then --selected more orders with a Pending Authorization request each, authorized in one POST of Authorize selected
(signed in as the owner, htmx: every request in its own transaction, the answer with their rows), timed the same.
On a shared, loaded machine the CPU figure is the one to compare.
"""
import argparse
import os
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, insert, select, text  # noqa: E402

from seller import clock, create_app, users, workflow  # noqa: E402
from seller.config import normalize_database_url  # noqa: E402
from seller.extensions import db  # noqa: E402
from seller.models import Order, OrderEvent, OrderItem, ReturnItem, ReturnRequest  # noqa: E402

CHUNK = 10_000


def fill(n: int, first: int = 1, status: str = "Authorized") -> None:
    """n shipped orders, each with one return request (Authorized 40 days ago, nothing received; or Pending)."""
    now = clock.now()
    long_ago = now - timedelta(days=40)
    authorized = status == "Authorized"
    for start in range(first, first + n, CHUNK):
        ids = range(start, min(start + CHUNK, first + n))
        db.session.execute(insert(Order), [
            {"id": i, "order_id": f"114-{i:07d}-{i * 7 % 10**7:07d}", "status": "Shipped", "purchased_at": long_ago,
             "ship_by": long_ago, "shipped_at": long_ago, "buyer_email": f"b{i}@marketplace.amazon.com",
             "buyer_name": f"Buyer {i}", "paid_cents": 2705} for i in ids])
        db.session.execute(insert(OrderItem), [
            {"id": i, "order_id": i, "order_item_id": f"{i:014d}", "sku": f"SKU-{i % 500}", "quantity": 1,
             "item_price_cents": 2000, "item_tax_cents": 165, "shipping_price_cents": 499,
             "shipping_tax_cents": 41} for i in ids])
        db.session.execute(insert(ReturnRequest), [
            {"id": i, "order_id": i, "status": status, "reason": "No longer needed",
             "rma_number": f"RMA-B{i:08d}" if authorized else None, "return_address": "1 Return Rd",
             "created_at": long_ago, "authorized_at": long_ago if authorized else None} for i in ids])
        db.session.execute(insert(ReturnItem), [
            {"id": i, "return_request_id": i, "order_item_id": i, "quantity": 1} for i in ids])
        db.session.commit()


def timed(env: dict, *args: str) -> tuple[float, str]:
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "flask", "--app", "app", *args], cwd=ROOT, env=env, check=True,
                          capture_output=True, text=True)
    return time.perf_counter() - started, done.stdout.strip()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=100_000)
    parser.add_argument("--selected", type=int, default=200)
    parser.add_argument("--database-url", default="", help="PostgreSQL (emptied first); default: a new SQLite file")
    args = parser.parse_args()
    folder = tempfile.mkdtemp(prefix="bench-returns-")
    url = args.database_url or f"sqlite:///{folder}/bench.db"
    env = dict(os.environ, DATABASE_URL=url, SECRET_KEY="bench")
    app = create_app({"SQLALCHEMY_DATABASE_URI": normalize_database_url(url), "SECRET_KEY": "bench",
                      "WTF_CSRF_ENABLED": False})
    with app.app_context():
        if db.engine.dialect.name == "postgresql":
            db.drop_all()
            with db.engine.begin() as conn:
                conn.execute(text("DROP TABLE IF EXISTS alembic_version"))
    subprocess.run([sys.executable, "-m", "flask", "--app", "app", "db", "upgrade"], cwd=ROOT, env=env, check=True,
                   capture_output=True)
    with app.app_context():
        started = time.perf_counter()
        fill(args.requests)
        print(f"{db.engine.dialect.name}: {args.requests:,} Authorized return requests, none received, made in "
              f"{time.perf_counter() - started:.1f} s")
        db.session.remove()
    with app.app_context():
        wall, cpu = time.perf_counter(), time.process_time()
        kept = workflow.close_stale_returns()
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        print(f"close-stale-returns, all stale:   {wall:6.2f} s wall, {cpu:.2f} s CPU  (closed {len(kept):,})  "
              "goal ≤ 10 s")
        db.session.remove()
    again, said = timed(env, "close-stale-returns")
    print(f"close-stale-returns, run again:   {again:6.2f} s  ({said})")
    with app.app_context():
        closed = db.session.scalar(select(func.count()).where(ReturnRequest.status == "Closed"))
        events = db.session.scalar(select(func.count()).select_from(OrderEvent))
        print(f"closed {closed:,}, history entries {events:,}")
        first = args.requests + 1
        fill(args.selected, first, "Pending Authorization")
        owner = users.create("bench-owner@example.com", "bench password 1", "owner")
        workflow.save_settings(return_address="Returns, 1200 Industrial Way, Reno, NV 89502")
        client = app.test_client()
        with client.session_transaction() as session:
            session["_user_id"], session["_fresh"] = owner.get_id(), True
        db.session.remove()
        wall, cpu = time.perf_counter(), time.process_time()
        response = client.post("/returns/authorize-selected", headers={"HX-Request": "true"}, data={
            "ids": [str(i) for i in range(first, first + args.selected)], "refund_timing": "after_receipt"})
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        authorized = db.session.scalar(select(func.count()).where(ReturnRequest.id >= first,
                                                                  ReturnRequest.status == "Authorized"))
        print(f"Authorize selected, {args.selected} requests: {wall:6.2f} s wall, {cpu:.2f} s CPU  "
              f"(HTTP {response.status_code}, {authorized} authorized)  goal ≤ 5 s")
        db.engine.dispose()


if __name__ == "__main__":
    main()

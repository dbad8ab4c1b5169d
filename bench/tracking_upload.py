"""Upload tracking at 100,000 orders on SQLite: a 5,000-line tracking file, previewed then confirmed.

    uv run python bench/tracking_upload.py [--orders 100000] [--lines 5000]

Seeds a temporary SQLite file as bench/orders_list.py does (bulk inserts), writes a CSV tracking file of
`--lines` lines — Unshipped orders (some with two lines: two packages), orders already shipped with that tracking
ID (unchanged), unknown orders and bad dates (refused); the seed's Shipped orders give the Unshipped ones needed
— and posts it to Upload tracking through the test
client, signed in as staff: the preview, then Confirm shipments, then the same file again. Prints the server
time of each (targets: preview ≤ 5 s, confirm ≤ 30 s), the outcome counts and the SQL statements.
"""
import argparse
import io
import os
import random
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from sqlalchemy import delete, func, select, update  # noqa: E402

from orders_list import QueryCounter, seed  # noqa: E402
from seller import clock, create_app, workflow  # noqa: E402
from seller.extensions import db  # noqa: E402
from seller.models import Order, OrderItem, Shipment, User  # noqa: E402

PREVIEW_TARGET, CONFIRM_TARGET = 5.0, 30.0


def make_unshipped(n: int) -> None:
    """The seed has about 1,200 Unshipped orders at 100,000: `n` more, from Shipped ones (their shipments gone)."""
    have = db.session.scalar(select(func.count()).where(Order.status == "Unshipped"))
    ids = db.session.scalars(select(Order.id).where(Order.status == "Shipped").limit(max(n - have, 0))).all()
    for start in range(0, len(ids), 500):
        chunk = ids[start:start + 500]
        db.session.execute(delete(Shipment).where(Shipment.order_id.in_(chunk)))
        db.session.execute(update(Order).where(Order.id.in_(chunk)).values(status="Unshipped", shipped_at=None,
                                                                          late=False))
    db.session.commit()


def tracking_file(n_lines: int, rng: random.Random) -> tuple[bytes, dict]:
    """About 90 % of the lines ship an Unshipped order (15 % of those with more than one unit get a second line:
    a second package), 6 % name an order already shipped with that tracking ID, 4 % are refused (unknown order,
    bad date)."""
    units = dict(db.session.execute(select(OrderItem.order_id, func.sum(OrderItem.quantity))
                                    .group_by(OrderItem.order_id)).all())
    unshipped = db.session.execute(select(Order.id, Order.order_id).where(Order.status == "Unshipped")).all()
    shipped = db.session.execute(select(Order.order_id, Shipment.tracking_id).join(Shipment)
                                 .where(Order.status == "Shipped").limit(n_lines * 6 // 100)).all()
    day = clock.local_today(workflow.store_tz()).isoformat()
    lines, counts = ["order-id,carrier,tracking-number,ship-date,shipping-service"], {"orders": 0, "two": 0}
    rng.shuffle(unshipped)
    for n, (pk, order_id) in enumerate(unshipped):
        if len(lines) - 1 >= n_lines * 90 // 100:
            break
        lines.append(f"{order_id},USPS,9400{n:018d},{day},Ground Advantage")
        counts["orders"] += 1
        if units[pk] > 1 and rng.random() < 0.15:  # a second package
            lines.append(f"{order_id},UPS,1ZB{n:015d},{day},Ground")
            counts["two"] += 1
    for order_id, tracking_id in shipped:
        lines.append(f"{order_id},UPS,{tracking_id},{day},Ground")
    refused = unshipped[counts["orders"]:]
    while len(lines) - 1 < n_lines:
        n = len(lines)
        lines.append(f"999-{n:07d}-0000000,UPS,1ZX{n:015d},{day}," if n % 2 or not refused else
                     f"{refused.pop()[1]},UPS,1ZY{n:015d},not-a-date,")
    return ("\n".join(lines) + "\n").encode(), counts


def timed(client, data: dict) -> tuple[float, float, str]:
    """Wall time and this process's CPU time (the server runs in it: a loaded machine inflates the wall time
    much more than the CPU time), and the answer."""
    start, cpu = time.perf_counter(), time.process_time()
    response = client.post("/orders/upload-tracking", data=data, headers={"HX-Request": "true"},
                           content_type="multipart/form-data")
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    return elapsed, cpu, response.get_data(as_text=True)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--orders", type=int, default=100_000)
    parser.add_argument("--lines", type=int, default=5_000)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="tracking-bench-"))
    try:
        app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{folder / 'bench.db'}", "SECRET_KEY": "bench",
                          "WTF_CSRF_ENABLED": False, "RATELIMIT_ENABLED": False})
        with app.app_context():
            db.create_all()
            start = time.perf_counter()
            seed(args.orders)
            staff = User(email="staff@example.com", role="staff", password_hash="x")
            db.session.add(staff)
            db.session.commit()
            print(f"seeded {args.orders:,} orders in {time.perf_counter() - start:.1f} s")
            make_unshipped(args.lines)
            data, counts = tracking_file(args.lines, random.Random(7))
            print(f"file: {args.lines:,} lines, {len(data) / 1024:.0f} KiB; {counts['orders']:,} Unshipped orders, "
                  f"{counts['two']:,} of them with a second package")
            client = app.test_client()
            with client.session_transaction() as session:
                session["_user_id"], session["_fresh"] = staff.get_id(), True
            queries = QueryCounter(db.engine)
            preview_s, cpu, html = timed(client, {"tracking_file": (io.BytesIO(data), "tracking.csv")})
            preview_q = queries.count
            print(f"preview: {preview_s:.2f} s (target ≤ {PREVIEW_TARGET:.0f} s; CPU {cpu:.2f} s), {preview_q:,} SQL "
                  f"statements, "
                  f"{len(html) / 1024:.0f} KiB answer — {re.search(r'<h2>(.*?)</h2>', html)[1]}")
            content = re.search(r'name="content" type="hidden" value="([^"]+)"', html)[1]
            confirm_s, cpu, html = timed(client, {"content": content})
            print(f"confirm: {confirm_s:.2f} s (target ≤ {CONFIRM_TARGET:.0f} s; CPU {cpu:.2f} s), "
                  f"{queries.count - preview_q:,} SQL statements — {re.search(r'<h2>(.*?)</h2>', html)[1]}")
            again_s, cpu, html = timed(client, {"content": content})
            print(f"the same file again: {again_s:.2f} s (CPU {cpu:.2f} s) — {re.search(r'<h2>(.*?)</h2>', html)[1]}")
            ok = preview_s <= PREVIEW_TARGET and confirm_s <= CONFIRM_TARGET
            print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs; "
                  + ("within targets" if ok else "OVER TARGET (wall time)"))
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()

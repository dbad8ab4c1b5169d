"""Pack & ship at 100,000 orders on SQLite: server time of each scan step, and the pick list of 500 orders.

    uv run python bench/pack.py [--orders 100000] [--packs 60] [--pick 500]

Seeds a temporary SQLite file as bench/orders_list.py does (bulk inserts), signs a staff member in, then packs
`--packs` Unshipped orders through the test client as a tablet with htmx would: Scan order (POST /pack), Scan item
once per unit (POST /pack/<id>/item), Confirm shipment with a USPS tracking ID (POST /pack/<id>/ship); and prints
p50/p95/max server time per step, wall and CPU. The scanner's double-read window is set to 0 here, so a SKU scanned again at
once counts (a person takes longer than 150 ms). Then it prints the time of `--pick` Unshipped orders' pick list
(POST /orders/pick-list.pdf), best and median of three.
"""
import argparse
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from sqlalchemy import select  # noqa: E402
from sqlalchemy.orm import selectinload  # noqa: E402

from orders_list import USER_AGENT, seed, session_cookie  # noqa: E402
from seller import create_app  # noqa: E402
from seller.extensions import db  # noqa: E402
from seller.models import Order, User  # noqa: E402
from seller.workflow import packing  # noqa: E402

HX = {"HX-Request": "true"}


def timed(client, url, data) -> tuple[float, float]:
    """(wall, CPU) milliseconds of one request: the test client runs the app in this process, so the CPU time is
    the server's (SQLite included), which a loaded machine does not inflate as it does the wall time."""
    start, cpu = time.perf_counter(), time.process_time()
    response = client.post(url, data=data, headers=HX)
    elapsed = ((time.perf_counter() - start) * 1000, (time.process_time() - cpu) * 1000)
    assert response.status_code == 200, (url, response.status_code, response.get_data(as_text=True)[:300])
    return elapsed


def percentiles(times: list[float]) -> str:
    ordered = sorted(times)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return f"p50 {statistics.median(ordered):5.1f}  p95 {p95:5.1f}  max {ordered[-1]:6.1f} ms"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--orders", type=int, default=100_000)
    ap.add_argument("--packs", type=int, default=60)
    ap.add_argument("--pick", type=int, default=500)
    a = ap.parse_args()
    packing.DOUBLE_READ = timedelta(0)

    folder = Path(tempfile.mkdtemp(prefix="pack-bench-"))
    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{folder / 'bench.db'}", "SECRET_KEY": "bench",
                      "WTF_CSRF_ENABLED": False, "ORDERS_LIST_CACHE": False})
    with app.app_context():
        db.create_all()
        start = time.perf_counter()
        seed(a.orders)
        print(f"seeded {a.orders:,} orders in {time.perf_counter() - start:.1f} s into {folder / 'bench.db'}")
        user = User(email="staff@example.com", role="staff", password_hash="x")
        db.session.add(user)
        db.session.commit()
        cookie = session_cookie(app, user)
        unshipped = db.session.scalars(select(Order).where(Order.status == "Unshipped")
                                       .options(selectinload(Order.items)).order_by(Order.id)).all()
        print(f"{len(unshipped):,} Unshipped orders")
        packs = [(o.order_id, [(i.sku, i.quantity) for i in o.items]) for o in unshipped[:a.packs]]
        pick = [o.order_id for o in unshipped[a.packs:a.packs + a.pick]]
        db.session.remove()

    client = app.test_client()
    client.environ_base.update({"REMOTE_ADDR": "127.0.0.1", "HTTP_USER_AGENT": USER_AGENT})
    client.set_cookie("session", cookie)
    steps = {"scan order": [], "scan item": [], "confirm": []}
    for order_id, items in packs:
        steps["scan order"].append(timed(client, "/pack", {"code": order_id}))
        for sku, quantity in items:
            for _ in range(quantity):
                steps["scan item"].append(timed(client, f"/pack/{order_id}/item", {"code": sku}))
        steps["confirm"].append(timed(client, f"/pack/{order_id}/ship", {"tracking_id": "9400111899223197428490",
                                                                         "carrier": ""}))
    print(f"\nserver time per scan step, {len(packs)} orders packed and shipped (htmx answers, test client):")
    for step, times in steps.items():
        print(f"  {step:<11} n={len(times):<4} wall: {percentiles([w for w, _ in times])}   "
              f"CPU: {percentiles([c for _, c in times])}")

    runs = []
    for _ in range(3):
        start, cpu = time.perf_counter(), time.process_time()
        response = client.post("/orders/pick-list.pdf", data={"order_ids": pick})
        runs.append((time.perf_counter() - start, time.process_time() - cpu))
        assert response.status_code == 200 and response.data.startswith(b"%PDF"), response.status_code
    walls, cpus = [w for w, _ in runs], [c for _, c in runs]
    print(f"\npick list of {len(pick)} orders ({len(response.data) / 1024:.0f} KB): wall best {min(walls):.2f} s, "
          f"median {statistics.median(walls):.2f} s; CPU best {min(cpus):.2f} s, median {statistics.median(cpus):.2f} s")


if __name__ == "__main__":
    main()

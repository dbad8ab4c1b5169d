"""Manage Orders with 100,000 orders on SQLite: server time per page, queries per page, answer size.

    uv run python bench/orders_list.py [--orders 100000] [--runs 60] [--wrk] [--p99] [--rss]

Seeds a temporary SQLite file with bulk inserts (not the workflow: that would take minutes), then
asks the app for the default page, a date range, searches and page sizes through the test client,
and prints the median server time (with the list cache off: every page rendered), the SQL queries
per page for 25/50/100 rows, and the size of the htmx answer to Confirm shipment. With `--wrk`,
also serves a bare Flask "hello" and /orders (list cache on, then off) with `gunicorn -w 5 -k sync`
and loads each with wrk in the same run, printing the ratios. With `--p99`, times 2,000 requests for /orders
sent one after another (one connection at a time) to the same gunicorn; with `--rss`, serves 10,000 requests
for /orders from one worker (`-w 1`, wrk) and prints its resident memory.
"""
import argparse
import os
import random
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from flask import Flask  # noqa: E402
from sqlalchemy import event, insert  # noqa: E402

from seller import create_app, workflow  # noqa: E402
from seller.extensions import db  # noqa: E402
from seller.models import Order, OrderEvent, OrderItem, Settings, Shipment, User  # noqa: E402
from seller import clock

SECRET = "bench-secret"
KINDS = ["Phone Stand", "Garlic Press", "Desk Lamp", "Dog Harness", "Gel Pens"]
PRODUCTS = [(f"SKU-{n:04d}", f"Product {n} {KINDS[n % len(KINDS)]}") for n in range(400)]


def hello_app():
    """The yardstick: a bare Flask endpoint (gunicorn 'bench.orders_list:hello_app()')."""
    app = Flask("hello")
    app.add_url_rule("/", "hello", lambda: "Hello, World!")
    return app


def seed(n_orders: int, seed_value: int = 1) -> dict:
    """n orders over the last 365 days, 1-3 items each, a shipment on the shipped ones (bulk inserts)."""
    rng = random.Random(seed_value)
    now = clock.now()
    cfg = Settings.current()
    db.session.commit()
    orders, items, shipments, events = [], [], [], []
    item_n = 0
    for n in range(1, n_orders + 1):
        purchased = now - timedelta(minutes=rng.randint(1, 365 * 24 * 60))
        age = now - purchased
        roll = rng.random()
        if age < timedelta(days=2):
            status = "Pending" if roll < 0.15 else "Unshipped" if roll < 0.7 else "Shipped"
        else:
            status = "Canceled" if roll < 0.03 else "Unshipped" if roll < 0.04 else "Shipped"
        ship_by = workflow.compute_ship_by(purchased, None, cfg)
        paid = 0
        for _ in range(rng.choice((1, 1, 1, 2, 2, 3))):
            item_n += 1
            sku, name = rng.choice(PRODUCTS)
            price = rng.randint(500, 6000)
            items.append({"id": item_n, "order_id": n, "order_item_id": f"{item_n:014d}", "sku": sku,
                          "product_name": name, "quantity": rng.choice((1, 1, 2)), "item_price_cents": price,
                          "item_tax_cents": price // 12, "shipping_price_cents": 499, "shipping_tax_cents": 41})
            paid += price + price // 12 + 540
        confirmed = purchased + timedelta(hours=rng.randint(2, 60))
        orders.append({"id": n, "order_id": f"{100 + n % 900:03d}-{n:07d}-{rng.randint(0, 9999999):07d}",
                       "status": status, "version": 2 if status in ("Shipped", "Canceled") else 1,
                       "purchased_at": purchased, "paid_at": None if status == "Pending" else purchased,
                       "ship_by": ship_by, "buyer_email": f"buyer{n}@marketplace.amazon.com",
                       "buyer_name": f"Buyer {rng.choice(['Smith', 'Garcia', 'Chen', 'Kim', 'Patel'])} {n}",
                       "recipient_name": f"Buyer {n}", "ship_address_1": f"{n} Main St", "ship_city": "Seattle",
                       "ship_state": "WA", "ship_postal_code": "98101", "ship_service_level": "Standard",
                       "paid_cents": paid, "late": status == "Shipped" and confirmed > ship_by,
                       "shipped_at": confirmed if status == "Shipped" else None,
                       "canceled_at": confirmed if status == "Canceled" else None,
                       "created_at": purchased, "updated_at": purchased})
        events.append({"order_id": n, "at": purchased, "action": "import", "details": {}})
        if status == "Shipped":
            shipments.append({"order_id": n, "carrier": "UPS", "shipping_service": "Ground",
                              "tracking_id": f"1Z{n:016d}", "ship_date": confirmed.date(), "confirmed_at": confirmed,
                              "late": confirmed > ship_by})
    for model, rows in ((Order, orders), (OrderItem, items), (Shipment, shipments), (OrderEvent, events)):
        for i in range(0, len(rows), 20000):
            db.session.execute(insert(model), rows[i:i + 20000])
    db.session.commit()
    recent = [o for o in orders if o["purchased_at"] > now - timedelta(days=7)]
    unshipped = next(o for o in reversed(orders) if o["status"] == "Unshipped"
                     and o["purchased_at"] > now - timedelta(days=1))
    return {"order_id": rng.choice(orders)["order_id"], "sku": rng.choice(items)["sku"],
            "tracking_id": rng.choice(shipments)["tracking_id"], "recent": len(recent), "unshipped": unshipped}


class QueryCounter:
    def __init__(self, engine):
        self.count = 0
        event.listen(engine, "before_cursor_execute", self)

    def __call__(self, *args, **kwargs):
        self.count += 1


def median_ms(client, url, runs, headers=None):
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        response = client.get(url, headers=headers or {})
        times.append((time.perf_counter() - start) * 1000)
        assert response.status_code == 200, (url, response.status_code)
    return statistics.median(times)


USER_AGENT = "orders-bench"


def session_cookie(app, user) -> str:
    """The session cookie a browser holds after signing in from 127.0.0.1 (with USER_AGENT)."""
    from flask_login.utils import _create_identifier
    with app.test_request_context(environ_base={"REMOTE_ADDR": "127.0.0.1"}, headers={"User-Agent": USER_AGENT}):
        session = {"_user_id": user.get_id(), "_fresh": True, "_id": _create_identifier(),
                   "csrf_token": secrets.token_hex(20)}
        return app.session_interface.get_signing_serializer(app).dumps(session)


def run_wrk(url, cookie, seconds):
    cmd = ["wrk", "-t2", "-c20", f"-d{seconds}s", "-H", f"User-Agent: {USER_AGENT}", url]
    if cookie:
        cmd[1:1] = ["-H", f"Cookie: session={cookie}"]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    line = next(line for line in out.splitlines() if line.startswith("Requests/sec"))
    non2xx = next((line for line in out.splitlines() if "Non-2xx" in line), "")
    return float(line.split()[1]), non2xx.strip()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve(target, port, env, workers=5):
    proc = subprocess.Popen([sys.executable, "-m", "gunicorn", "-w", str(workers), "-k", "sync",
                             "-b", f"127.0.0.1:{port}", "--log-level", "warning", target], cwd=ROOT, env=env)
    import urllib.request
    for _ in range(100):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz" if target == "app:app"
                                   else f"http://127.0.0.1:{port}/", timeout=1)
            return proc
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError(f"gunicorn {target} did not start")


def one_by_one(url, cookie, n) -> list[float]:
    """n requests sent one after another, each on its own connection (gunicorn's sync workers close it), in ms
    from connecting to the last byte."""
    import http.client
    host, port = url.split("//")[1].split("/")[0].split(":")
    path = "/" + url.split("//")[1].partition("/")[2]
    times = []
    for _ in range(n):
        start = time.perf_counter()
        conn = http.client.HTTPConnection(host, int(port), timeout=30)
        conn.request("GET", path, headers={"Cookie": f"session={cookie}", "User-Agent": USER_AGENT})
        response = conn.getresponse()
        response.read()
        conn.close()
        times.append((time.perf_counter() - start) * 1000)
        assert response.status == 200, response.status
    return times


def worker_rss_mb(master_pid: int) -> list[float]:
    """Resident memory of each of gunicorn's workers (the master's children), in MB."""
    children = Path(f"/proc/{master_pid}/task/{master_pid}/children").read_text().split()
    return [int(next(line for line in Path(f"/proc/{pid}/status").read_text().splitlines()
                     if line.startswith("VmRSS")).split()[1]) / 1024 for pid in children]


def stop(proc):
    proc.terminate()
    proc.wait(30)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--orders", type=int, default=100_000)
    ap.add_argument("--runs", type=int, default=60)
    ap.add_argument("--wrk", action="store_true", help="also compare with a bare Flask app under gunicorn + wrk")
    ap.add_argument("--seconds", type=int, default=10, help="wrk duration per endpoint")
    ap.add_argument("--p99", type=int, nargs="?", const=2000, default=0, metavar="N",
                    help="time N requests for /orders one after another (default 2,000)")
    ap.add_argument("--rss", type=int, nargs="?", const=10_000, default=0, metavar="N",
                    help="one worker's memory after N requests for /orders (default 10,000)")
    a = ap.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="orders-bench-"))
    url = f"sqlite:///{folder / 'bench.db'}"
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": SECRET, "WTF_CSRF_ENABLED": False,
                      "ORDERS_LIST_CACHE": False})
    try:
        with app.app_context():
            db.create_all()
            start = time.perf_counter()
            facts = seed(a.orders)
            print(f"seeded {a.orders:,} orders in {time.perf_counter() - start:.1f} s "
                  f"({facts['recent']:,} in the last 7 days) into {folder / 'bench.db'}")
            user = User(email="owner@example.com", role="owner", password_hash="x")
            db.session.add(user)
            db.session.commit()
            cookie = session_cookie(app, user)
            unshipped_id = facts["unshipped"]["order_id"]
            db.session.remove()

        client = app.test_client()
        client.environ_base.update({"REMOTE_ADDR": "127.0.0.1", "HTTP_USER_AGENT": USER_AGENT})
        client.set_cookie("session", cookie)
        pages = {
            "default /orders": "/orders",
            "default, htmx (list section)": ("/orders", {"HX-Request": "true"}),
            "date range (30 days)": "/orders?from={}&to={}".format(
                *[(clock.now() - timedelta(days=d)).date().isoformat() for d in (45, 15)]),
            "Unshipped tab, by Ship by": "/orders?status=Unshipped&sort=ship_by",
            "Order ID (Advanced)": f"/orders?order_id={facts['order_id']}",
            "SKU (Advanced)": f"/orders?sku={facts['sku']}",
            "Tracking ID (Advanced)": f"/orders?tracking_id={facts['tracking_id']}",
            "Search orders box: order ID": f"/orders?q={facts['order_id']}",
            "Search orders box: SKU": f"/orders?q={facts['sku']}",
            "Search orders box: tracking ID": f"/orders?q={facts['tracking_id']}",
            "page 2 of the default, 100 a page": "/orders?per_page=100&page=2",
        }
        print(f"\nmedian server time over {a.runs} requests (test client, in process, list cache off):")
        for name, spec in pages.items():
            path, headers = spec if isinstance(spec, tuple) else (spec, None)
            median_ms(client, path, 5, headers)
            print(f"  {name:36} {median_ms(client, path, a.runs, headers):7.2f} ms   {path}")
        app.config["ORDERS_LIST_CACHE"] = True
        median_ms(client, "/orders", 5)
        cpu = time.process_time()
        wall = median_ms(client, '/orders', a.runs)
        cpu = (time.process_time() - cpu) / a.runs * 1000
        print(f"  {'default /orders, list cache on':36} {wall:7.2f} ms   (CPU {cpu:.2f} ms a request, mean)")
        app.config["ORDERS_LIST_CACHE"] = False

        with app.app_context():
            engine = db.engine
        counter = QueryCounter(engine)
        print("\nSQL queries per page (list cache off):")
        for size in (25, 50, 100):
            counter.count = 0
            client.get(f"/orders?per_page={size}&from=2000-01-01")
            print(f"  {size:3} a page: {counter.count} queries")
        event.remove(engine, "before_cursor_execute", counter)

        client.get("/orders")
        ship = client.post(f"/orders/{unshipped_id}/ship", headers={"HX-Request": "true"},
                           data={"ship_date": clock.now().date().isoformat(), "carrier": "UPS",
                                 "tracking_id": "1Z999AA10123456784", "shipping_service": "Ground"})
        late_or_not = ship.status_code
        print(f"\nhtmx answer to Confirm shipment: {len(ship.data):,} bytes (status {late_or_not})")

        if a.wrk:
            env = dict(os.environ, DATABASE_URL=url, SECRET_KEY=SECRET)
            results = {}
            for name, target, path, with_cookie, cache in (
                    ("hello", "bench.orders_list:hello_app()", "/", False, "1"),
                    ("/orders", "app:app", "/orders", True, "1"),
                    ("/orders, list cache off", "app:app", "/orders", True, "0")):
                port = free_port()
                proc = serve(target, port, dict(env, ORDERS_LIST_CACHE=cache))
                try:
                    run_wrk(f"http://127.0.0.1:{port}{path}", cookie if with_cookie else None, 2)  # warm-up
                    results[name] = run_wrk(f"http://127.0.0.1:{port}{path}", cookie if with_cookie else None,
                                            a.seconds)
                finally:
                    stop(proc)
            print("\nwrk -t2 -c20, gunicorn -w 5 -k sync, 127.0.0.1:")
            for name, (rps, non2xx) in results.items():
                ratio = "" if name == "hello" else f"  = {rps / results['hello'][0]:.1%} of hello"
                print(f"  {name:24} {rps:9.1f} requests/s{ratio} {non2xx}")
        env = dict(os.environ, DATABASE_URL=url, SECRET_KEY=SECRET)
        if a.p99:
            port = free_port()
            proc = serve("app:app", port, env)
            try:
                one_by_one(f"http://127.0.0.1:{port}/orders", cookie, 50)  # every worker renders and keeps it
                times = sorted(one_by_one(f"http://127.0.0.1:{port}/orders", cookie, a.p99))
            finally:
                stop(proc)
            pick = lambda q: times[min(int(len(times) * q), len(times) - 1)]  # noqa: E731
            print(f"\n/orders, {a.p99:,} requests one after another, gunicorn -w 5 -k sync: p50 {pick(.5):.1f} ms, "
                  f"p95 {pick(.95):.1f} ms, p99 {pick(.99):.1f} ms, max {times[-1]:.1f} ms, "
                  f"{sum(t > 30 for t in times)} over 30 ms")
        if a.rss:
            port = free_port()
            proc = serve("app:app", port, env, workers=1)
            try:
                before = worker_rss_mb(proc.pid)[0]
                served = 0
                while served < a.rss:
                    rps, _ = run_wrk(f"http://127.0.0.1:{port}/orders", cookie, 5)
                    served += int(rps * 5)
                print(f"\none gunicorn worker (-w 1 -k sync): {before:.0f} MB resident after start, "
                      f"{worker_rss_mb(proc.pid)[0]:.0f} MB after about {served:,} requests for /orders")
            finally:
                stop(proc)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()

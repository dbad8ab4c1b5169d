"""Load: simulated people at the desk, through gunicorn, with Locust, bounded in time and in requests.

    uv run python bench/load.py [--users 25] [--seconds 60] [--orders 2000] [--workers 3] [--database URL]
                                [--think 1,5] [--json FILE]

Prepares a desk (a new SQLite file, or the empty PostgreSQL database given with --database) with an owner and
`--orders` paid Unshipped orders, serves it with gunicorn, warms each worker up (a list, an order, a packing
slip: the PDF library loads on first use), and runs Locust's users (geventhttpclient) against it, each signed in and
doing, by weight: 70 % Manage Orders lists and searches (tabs, buyer, order ID, SKU, next page), 10 % order
pages, 10 % shipping (open Confirm shipment, confirm it), 5 % refunds (open Refund order on a Shipped order,
refund $1.00 of an item), 5 % packing slips (PDF), waiting `--think` seconds between clicks (1-5: a person reads
the page). Stops after `--seconds` or 40 requests per user per second, whichever comes first. Prints, per kind
of request, the count, the refusals (409/422: two people on one order), 5xx answers and the p50/p95/max times,
and the CPU time gunicorn's workers spent per request (a figure the machine's other load does not inflate);
then `flask check` (money within what was paid, no half-written action).
Passes with no 5xx, p95 <= 500 ms over all requests, and the checks clean (exit 0), otherwise exit 1. On a
shared, loaded machine the times are inflated: say so beside any figure.
"""
from gevent import monkey

monkey.patch_all()

import argparse  # noqa: E402
import json  # noqa: E402
import random  # noqa: E402
import re  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
from pathlib import Path  # noqa: E402

import gevent  # noqa: E402
from locust import FastHttpUser, between, events, task  # noqa: E402
from locust.env import Environment  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench import desk  # noqa: E402

KINDS = {"list & search": 70, "order page": 10, "shipping": 10, "refund": 5, "slip": 5}
ORDERS: list[str] = []
SHIPPED: list[str] = []
SEARCHES = ["", "?status=Unshipped", "?status=Shipped", "?q=Buyer+1", "?q=SKU-01", "?page=2", "?q={order}",
            "?status=Unshipped&sort=ship_by", "?q=Seattle"]


class Person(FastHttpUser):  # geventhttpclient: the client takes less of the cores it shares with the server
    wait_time = between(1, 5)  # a person reads the page before the next click (`--think`)

    def on_start(self):
        page = self.client.get("/login", name="sign in").text
        fields = desk.form_of(page, "/login") or {}
        self.client.post("/login", data={**fields, "email": "owner@example.com", "password": desk.PASSWORD},
                         name="sign in", allow_redirects=False)

    def _refusals_are_fine(self, response):
        if response.status_code in (409, 422):  # someone else got there first: the desk said so, correctly
            response.success()

    def _submit(self, label, path, page=None, **values) -> bool:
        """Open the action's form (unless given), fill in `values`, post it; True when it was done (303)."""
        if page is None:
            with self.client.get(path, name=f"{label}: form", catch_response=True) as page:
                self._refusals_are_fine(page)
        fields = desk.form_of(page.text, path) if page.status_code == 200 else None
        if fields is None:
            return False
        fields.update(values)
        with self.client.post(path, data=fields, name=f"{label}: submit", allow_redirects=False,
                              catch_response=True) as answer:
            self._refusals_are_fine(answer)
        return answer.status_code == 303

    @task(KINDS["list & search"])
    def list_and_search(self):
        query = random.choice(SEARCHES).replace("{order}", random.choice(ORDERS)[-7:])
        self.client.get("/orders" + query, name="list & search")

    @task(KINDS["order page"])
    def order_page(self):
        self.client.get(f"/orders/{random.choice(ORDERS)}", name="order page")

    @task(KINDS["shipping"])
    def shipping(self):
        order = random.choice(ORDERS)
        if self._submit("shipping", f"/orders/{order}/ship", carrier="UPS", shipping_service="Ground",
                        tracking_id="1Z" + "".join(random.choices("0123456789ABCDEF", k=16))):
            SHIPPED.append(order)

    @task(KINDS["refund"])
    def refund(self):
        order = random.choice(SHIPPED or ORDERS)  # a Shipped order, once someone has shipped one
        path = f"/orders/{order}/refund"
        with self.client.get(path, name="refund: form", catch_response=True) as page:
            self._refusals_are_fine(page)
        items = re.findall(r'name="(item-\d+-item)"', page.text) if page.status_code == 200 else []
        if items:
            self._submit("refund", path, page, kind="partial", reason="Customer Return", submit_partial="1",
                         **{items[0]: "1.00"})

    @task(KINDS["slip"])
    def slip(self):
        self.client.get(f"/orders/{random.choice(ORDERS)}/packing-slip.pdf", name="slip")


def run(users: int, seconds: float, orders: int, workers: int, database: str | None, folder: Path,
        think: tuple[float, float] = (1, 5)) -> dict:
    Person.wait_time = between(*think)
    url = database or f"sqlite:///{folder / 'load.db'}"
    desk.prepare(url, orders)
    import sqlalchemy
    engine = sqlalchemy.create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    with engine.connect() as conn:
        ORDERS[:] = conn.execute(sqlalchemy.text("SELECT order_id FROM orders")).scalars().all()
    engine.dispose()
    server = desk.Server(url, workers=workers, log=folder / "server.log")
    server.start()
    warm = desk.Client(server.base)  # each worker loads what it loads on first use (PDF) before the clock runs
    warm.sign_in()
    for n in range(4 * workers):
        for path in ("/orders", f"/orders/{ORDERS[n]}", f"/orders/{ORDERS[n]}/packing-slip.pdf"):
            warm.http.get(server.base + path, timeout=60)
    errors_5xx: dict[str, int] = {}

    def count_5xx(name, response, **_):
        if response is not None and getattr(response, "status_code", 0) >= 500:
            errors_5xx[name] = errors_5xx.get(name, 0) + 1
    try:
        env = Environment(user_classes=[Person], host=server.base, events=events)
        env.events.request.add_listener(lambda request_type, name, response=None, **kw: count_5xx(name, response))
        cpu_before = server.cpu_seconds()
        runner = env.create_local_runner()
        runner.start(users, spawn_rate=users)
        cap = users * seconds * 40

        def stop_when_done():
            waited = 0.0
            while waited < seconds and env.stats.total.num_requests < cap:
                gevent.sleep(0.25)
                waited += 0.25
            runner.quit()
        gevent.spawn(stop_when_done).join()
        runner.greenlet.join()
        cpu = server.cpu_seconds() - cpu_before
    finally:
        server.stop()
    check = subprocess.run([sys.executable, "-m", "flask", "--app", "app", "check"], cwd=desk.ROOT,
                           env=desk.flask_env(url), capture_output=True, text=True)
    per_name = {}
    for (name, _method), entry in sorted(env.stats.entries.items()):
        per_name.setdefault(name, []).append(entry)
    figures = {}
    for name, entries in per_name.items():
        entry = entries[0]
        for other in entries[1:]:
            entry.extend(other)
        figures[name] = {"requests": entry.num_requests, "failures": entry.num_failures,
                         "5xx": errors_5xx.get(name, 0), "p50_ms": entry.get_response_time_percentile(0.5),
                         "p95_ms": entry.get_response_time_percentile(0.95), "max_ms": round(entry.max_response_time)}
    total = env.stats.total
    result = {"users": users, "seconds": seconds, "think": f"{think[0]:g}-{think[1]:g}", "orders": orders,
              "workers": workers,
              "database": "postgresql" if url.startswith("postgresql") else "sqlite",
              "requests": total.num_requests, "failures": total.num_failures, "5xx": sum(errors_5xx.values()),
              "p95_ms": total.get_response_time_percentile(0.95), "rps": round(total.total_rps, 1),
              "server_cpu_ms_per_request": round(1000 * cpu / max(total.num_requests, 1), 1),
              "kinds": figures, "checks": (check.stdout + check.stderr).strip(), "checks_ok": check.returncode == 0}
    result["passed"] = result["5xx"] == 0 and result["failures"] == 0 and result["p95_ms"] <= 500 \
        and result["checks_ok"]
    return result


def report(result: dict) -> str:
    lines = [f"{result['users']} users, {result['seconds']} s, {result['orders']} orders, {result['workers']} "
             f"gunicorn workers, {result['database']}: {result['requests']} requests ({result['rps']}/s), "
             f"{result['failures']} failures, {result['5xx']} 5xx, p95 {result['p95_ms']} ms; server CPU "
             f"{result['server_cpu_ms_per_request']} ms a request (think time {result['think']} s)",
             f"{'kind':<20} {'requests':>8} {'failed':>6} {'5xx':>4} {'p50 ms':>7} {'p95 ms':>7} {'max ms':>7}"]
    for name, f in result["kinds"].items():
        lines.append(f"{name:<20} {f['requests']:>8} {f['failures']:>6} {f['5xx']:>4} {f['p50_ms']:>7} "
                     f"{f['p95_ms']:>7} {f['max_ms']:>7}")
    lines.append(f"checks: {result['checks']}")
    lines.append("PASS" if result["passed"] else "FAIL (needs 0 5xx, 0 failures, p95 <= 500 ms, checks clean)")
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=25)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--orders", type=int, default=2000)
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--database", help="an empty PostgreSQL database (default: a new SQLite file)")
    parser.add_argument("--think", default="1,5", help="seconds a person waits between clicks, least,most")
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        think = tuple(float(x) for x in args.think.split(","))
        result = run(args.users, args.seconds, args.orders, args.workers, args.database, Path(folder), think)
    print(report(result))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))
    sys.exit(0 if result["passed"] else 1)


if __name__ == "__main__":
    main()

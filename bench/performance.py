"""Server time of GET /performance with 100,000 orders.

    uv run python bench/performance.py [--orders 100000] [--runs 21] [--database-url URL]

Seeds a temporary SQLite file (or an *empty* database given by URL; PostgreSQL is then vacuumed and analyzed,
as autovacuum does shortly after a bulk load) with bulk inserts: orders spread over
the last 60 days (busier weekdays and daytimes, a growing shop), most of them shipped (a few percent late,
a few with invalid tracking or carrier Other, some shipments edited), a few percent canceled (some by the
buyer), the newest still Pending or Unshipped, a handful left past Ship by. Then it signs an owner in and
times GET /performance in-process (Flask's test client: routing, queries, template; no network), printing
the median of the runs. Goal: under 100 ms.
"""
import argparse
import random
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import func, insert, select  # noqa: E402

from seller import create_app, workflow  # noqa: E402
from seller.config import normalize_database_url  # noqa: E402
from seller.extensions import db  # noqa: E402
from seller.models import Cancellation, Order, Settings, Shipment, User  # noqa: E402
from seller import metrics  # noqa: E402
from seller import clock

CARRIERS = ["USPS"] * 50 + ["UPS"] * 25 + ["FedEx"] * 18 + ["DHL"] * 3 + ["OnTrac"] * 2 + ["Other"] * 2


def tracking(rng, carrier, valid):
    if not valid:
        return rng.choice(["", "12345", "1Z12345", "TBA" + str(rng.randint(10**9, 10**10))])
    digits = lambda n: "".join(rng.choice("0123456789") for _ in range(n))  # noqa: E731
    return {"UPS": lambda: "1Z" + digits(16), "FedEx": lambda: digits(12), "DHL": lambda: digits(10),
            "USPS": lambda: "94" + digits(20)}.get(carrier, lambda: "C" + digits(12))()


def seed(count: int, rng: random.Random) -> None:
    now = clock.now()
    handling = timedelta(hours=Settings.current().handling_hours)
    db.session.commit()
    orders, shipments, cancellations = [], [], []
    day_weight = [(1.5 - 0.5 * d / 60) * (0.75 if (now - timedelta(days=d)).weekday() >= 5 else 1.0)
                  for d in range(60)]
    for n in range(1, count + 1):
        age = timedelta(days=rng.choices(range(60), day_weight)[0],
                        hours=rng.triangular(0, 24, 15), seconds=rng.randint(0, 3599))
        purchased = now - age
        ship_by = purchased + handling
        o = {"id": n, "order_id": f"1{n % 9 + 1:02d}-{n:07d}-{rng.randint(10**6, 10**7 - 1):07d}",
             "purchased_at": purchased, "paid_at": purchased + timedelta(minutes=3), "ship_by": ship_by,
             "status": "Unshipped", "late": False, "shipped_at": None, "canceled_at": None,
             "buyer_name": f"Buyer {n}", "buyer_email": f"{n}@marketplace.amazon.com", "paid_cents": 2499}
        orders.append(o)
        if age < timedelta(hours=2) and rng.random() < 0.3:
            o["status"], o["paid_at"] = "Pending", None
            continue
        roll = rng.random()
        if roll < 0.025 and age > timedelta(hours=2):
            at = purchased + min(timedelta(hours=rng.uniform(0.5, 30)), age)
            o["status"], o["canceled_at"] = "Canceled", at
            cancellations.append({"order_id": n, "reason": rng.choice(workflow.CANCEL_REASONS), "canceled_at": at})
            continue
        delay = timedelta(hours=rng.uniform(49, 90) if roll > 0.97 else rng.triangular(2, 47, 20))
        if roll < 0.0255 and age > handling or delay > age:  # a few forgotten; the newest not shipped yet
            continue
        at = purchased + delay
        o.update(status="Shipped", shipped_at=at, late=at > ship_by)
        carrier = rng.choice(CARRIERS)
        tid = tracking(rng, carrier, rng.random() > 0.03)
        row = {"order_id": n, "carrier": carrier, "carrier_name": "UPS" if carrier == "Other" else "",
               "tracking_id": tid, "tracking_valid": workflow.tracking_matches(carrier, tid),
               "ship_date": at.date(), "confirmed_at": at, "late": o["late"], "superseded_at": None}
        if rng.random() < 0.02:  # edited once: the first record superseded
            edited = at + timedelta(hours=rng.uniform(1, 24))
            shipments.append({**row, "superseded_at": edited})
            tid = tracking(rng, carrier, True)
            row = {**row, "tracking_id": tid, "tracking_valid": workflow.tracking_matches(carrier, tid),
                   "confirmed_at": edited}
        shipments.append(row)
    for model, rows in ((Order, orders), (Shipment, shipments), (Cancellation, cancellations)):
        for i in range(0, len(rows), 5000):
            db.session.execute(insert(model), rows[i:i + 5000])
    db.session.commit()
    if db.engine.dialect.name == "postgresql":  # what autovacuum does shortly after a bulk load
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM ANALYZE")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--orders", type=int, default=100_000)
    ap.add_argument("--runs", type=int, default=21)
    ap.add_argument("--database-url", help="an empty database (default: a temporary SQLite file)")
    a = ap.parse_args()
    folder = tempfile.TemporaryDirectory()
    url = normalize_database_url(a.database_url) if a.database_url else f"sqlite:///{Path(folder.name) / 'bench.db'}"
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "bench", "RATELIMIT_ENABLED": False})
    with app.app_context():
        db.create_all()
        started = time.perf_counter()
        seed(a.orders, random.Random(7))
        print(f"seeded {db.session.scalar(select(func.count()).select_from(Order)):,} orders, "
              f"{db.session.scalar(select(func.count()).select_from(Shipment)):,} shipments, "
              f"{db.session.scalar(select(func.count()).select_from(Cancellation)):,} cancellations "
              f"in {time.perf_counter() - started:.1f} s ({db.engine.dialect.name})")
        user = User(email="owner@example.com", role="owner", password_hash="x")
        db.session.add(user)
        db.session.commit()
        token = user.get_id()
        for m in metrics.report():
            print(f"  {m.definition.name}: " + ", ".join(
                f"{w.days} d {metrics.pct(w.rate.percent)} ({w.rate.count:,}/{w.rate.total:,})" for w in m.windows))
        print(f"  at risk: {metrics.at_risk_count()}")
    client = app.test_client()
    with client.session_transaction() as sess:
        sess["_user_id"], sess["_fresh"] = token, True
    times = []
    for i in range(a.runs + 1):
        started = time.perf_counter()
        response = client.get("/performance")
        elapsed = (time.perf_counter() - started) * 1000
        assert response.status_code == 200, response.status_code
        if i:  # the first run warms caches (templates, statement cache)
            times.append(elapsed)
    print(f"GET /performance: median {statistics.median(times):.1f} ms, min {min(times):.1f} ms, "
          f"max {max(times):.1f} ms over {a.runs} runs ({len(response.data):,} bytes)")
    with app.app_context():
        db.engine.dispose()


if __name__ == "__main__":
    main()

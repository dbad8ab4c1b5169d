"""A million orders on PostgreSQL: build them once, then time every page and action (issue 17).

    uv run python bench/scale_pg.py build [--orders 1000000]       # drops and refills the database
    uv run python bench/scale_pg.py measure [--runs 30] [--only TEXT] [--checkout DIR] [--json FILE] [--explain DIR]
    uv run python bench/scale_pg.py compare --before DIR [--runs 30] [--explain DIR]

The database is SCALE_DATABASE_URL (default postgresql://postgres@127.0.0.1:5432/seller_scale), a
database of its own: `build` drops and recreates it, applies the app's migrations, loads three years of
orders with COPY (about 1.2 items an order, shipments and edited shipments, cancellations, return
requests, refunds and every action's history, in the shares a small seller sees: see `_order`), with
buyer and product names a seller would search for, then vacuums and analyzes it as autovacuum would.

`measure` times requests through Flask's test client in this process (routing, session, SQL, templates;
no network), signed in as the owner, with the list cache off so every list is rendered: p50, p95 and p99
over `--runs` runs after 3 warm-up runs, with the SQL statements each request sent and their median time.
Anything over target is marked: pages p95 <= 50 ms, actions p95 <= 100 ms (files: no target). Confirm
shipment and the partial refund each use orders no earlier run touched, so measuring again needs no
rebuild. `--checkout DIR` measures the app code of another checkout (e.g. a `git worktree` of an older
commit) against the same database.

`--explain DIR` writes the plan (EXPLAIN (ANALYZE, BUFFERS)) of each request's slowest statement to DIR.

`compare --before DIR` is the before/after table of one run: it moves the schema back to the newest
migration DIR knows (`flask db downgrade`, so indexes added since are gone), measures DIR's code,
upgrades again, measures this checkout's code, and prints both side by side.
"""
import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
URL = os.environ.get("SCALE_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/seller_scale")
PAGE_MS, ACTION_MS = 50, 100
SECRET = "scale-bench"
USER_AGENT = "scale-bench"

# ---------------------------------------------------------------- what a seller's data looks like

FIRST = """James Mary Robert Patricia John Jennifer Michael Linda David Elizabeth William Barbara Richard Susan
Joseph Jessica Thomas Sarah Christopher Karen Charles Lisa Daniel Nancy Matthew Betty Anthony Sandra Mark Ashley
Donald Kimberly Steven Emily Andrew Donna Paul Michelle Joshua Carol Kenneth Amanda Kevin Melissa Brian Deborah
George Stephanie Timothy Rebecca Ronald Sharon Jason Laura Edward Cynthia Jeffrey Dorothy Ryan Amy Jacob Kathleen
Gary Angela Nicholas Shirley Eric Emma Jonathan Brenda Stephen Pamela Larry Nicole Justin Anna Scott Samantha
Brandon Katherine Benjamin Christine Samuel Debra Gregory Rachel Alexander Carolyn Patrick Janet Frank Maria
Raymond Olivia Jack Heather Dennis Helen Jerry Catherine Tyler Diane Aaron Julie José Zoë Chloé Wei Priya Noah
Grace Liam Hannah Lucas Mia Ava Sofia Mateo Camila Hiroshi Yuki Mohammed Fatima Ahmed Aisha Dmitri Olga""".split()
LAST = """Smith Johnson Williams Brown Jones Garcia Miller Davis Rodriguez Martinez Hernandez Lopez Gonzalez
Wilson Anderson Thomas Taylor Moore Jackson Martin Lee Perez Thompson White Harris Sanchez Clark Ramirez Lewis
Robinson Walker Young Allen King Wright Scott Torres Nguyen Hill Flores Green Adams Nelson Baker Hall Rivera
Campbell Mitchell Carter Roberts Gomez Phillips Evans Turner Diaz Parker Cruz Edwards Collins Reyes Stewart
Morris Morales Murphy Cook Rogers Gutierrez Ortiz Morgan Cooper Peterson Bailey Reed Kelly Howard Ramos Kim Cox
Ward Richardson Watson Brooks Chavez Wood James Bennett Gray Mendoza Ruiz Hughes Price Alvarez Castillo Sanders
Patel Myers Long Ross Foster Jimenez Powell Jenkins Perry Russell Sullivan Bell Coleman Butler Henderson Barnes
Gonzales Fisher Vasquez Simmons Romero Jordan Patterson Alexander Hamilton Graham Reynolds Griffin Wallace
Moreno West Cole Hayes Bryant Herrera Gibson Ellis Tran Medina Aguilar Stevens Murray Ford Castro Marshall Owens
García Müller O'Brien Nowak Kowalski Schmidt Rossi Dubois Chen Wang Li Zhang Liu Singh Kumar Tanaka Sato Suzuki
Ivanova Novak Larsen Jensen Okafor Mensah""".split()
PLACES = [("Seattle", "WA", "98101"), ("Portland", "OR", "97205"), ("Austin", "TX", "78701"),
          ("Denver", "CO", "80202"), ("Chicago", "IL", "60601"), ("Brooklyn", "NY", "11201"),
          ("San Jose", "CA", "95112"), ("Miami", "FL", "33130"), ("Atlanta", "GA", "30303"),
          ("Phoenix", "AZ", "85004"), ("Boston", "MA", "02108"), ("Columbus", "OH", "43215"),
          ("Nashville", "TN", "37203"), ("Minneapolis", "MN", "55401"), ("Raleigh", "NC", "27601"),
          ("Salt Lake City", "UT", "84101"), ("Kansas City", "MO", "64105"), ("Omaha", "NE", "68102"),
          ("Boise", "ID", "83702"), ("Anchorage", "AK", "99501"), ("Honolulu", "HI", "96813"),
          ("Madison", "WI", "53703"), ("Richmond", "VA", "23219"), ("Tucson", "AZ", "85701")]
STREETS = ["Maple Ave", "Oak St", "Pine Rd", "Cedar Ln", "Elm St", "Lakeview Dr", "Sunset Blvd", "Main St",
           "Washington St", "Park Ave", "2nd St", "Highland Ave", "Ridge Rd", "Church St", "Mill Rd"]
# 10 departments x 10 products x 4 variants = 400 SKUs, e.g. KT-2040-BLK "Stainless Steel Garlic Press ..., Black".
DEPARTMENTS = {
    "KT": ["Stainless Steel Garlic Press with Peeler", "Bamboo Cutting Board Set (3 Pieces) with Juice Groove",
           "Silicone Spatula Set, Heat Resistant", "Digital Kitchen Scale 11 lb", "Cast Iron Skillet 10 inch",
           "Glass Food Storage Containers with Lids", "Handheld Milk Frother", "French Press Coffee Maker 34 oz",
           "3-Stage Knife Sharpener", "Measuring Cups and Spoons Set"],
    "HM": ["Memory Foam Seat Cushion for Office Chair", "LED Desk Lamp with Wireless Charger and USB Port",
           "Blackout Curtains 2 Panels", "Cotton Bath Towels Set of 6", "Weighted Blanket 15 lbs",
           "Bamboo Drawer Organizer", "Essential Oil Diffuser 300 ml", "Shower Curtain Liner, Waterproof",
           "Wall Clock, Silent Non-Ticking 12 inch", "Velvet Throw Pillow Covers 18x18"],
    "PB": ["Silicone Phone Stand, Adjustable", "USB-C Charging Cable 6ft, 2-Pack", "Wireless Earbuds with Case",
           "Portable Power Bank 10000mAh", "Screen Protector Tempered Glass", "Bluetooth Speaker, Waterproof",
           "Car Phone Mount for Dashboard", "Laptop Stand, Aluminum", "Wall Charger 20W Fast Charging",
           "Smart Plug Mini, Works with Alexa"],
    "PT": ["Reflective Dog Harness, No Pull", "Cat Scratching Post 32 inch", "Dog Poop Bags 360 Count",
           "Stainless Steel Pet Bowls Set", "Interactive Cat Toy Feather Wand", "Orthopedic Dog Bed",
           "Retractable Dog Leash 16 ft", "Pet Grooming Brush, Self-Cleaning", "Dog Chew Toys 10-Pack",
           "Automatic Cat Water Fountain"],
    "OF": ["Gel Pens 24 Colors Fine Point 0.5mm", "Sticky Notes 3x3, 12 Pads", "Spiral Notebook College Ruled",
           "Desk Organizer with Drawer", "Mechanical Pencils 0.7mm, 10 Pack", "Dry Erase Markers, Low Odor",
           "Stapler Heavy Duty 40 Sheets", "Label Maker with Tape", "Paper Shredder 8-Sheet Cross-Cut",
           "Ergonomic Mouse Pad with Wrist Rest"],
    "TY": ["Magnetic Building Tiles 60 pcs 磁力片积木", "Wooden Puzzle Set for Toddlers", "Remote Control Car 1:18",
           "Play-Dough Starter Set", "Stuffed Animal Plush Bear 12 inch", "Kids Art Easel, Double-Sided",
           "Board Game for Family Night", "Bubble Machine for Kids", "Dinosaur Toys 12 Pack", "Kinetic Sand 3 lb"],
    "GD": ["Garden Kneeler and Seat, Foldable", "Expandable Garden Hose 50 ft", "Solar Pathway Lights 8 Pack",
           "Pruning Shears, Bypass", "Raised Garden Bed, Galvanized", "Bird Feeder for Outside",
           "Gardening Gloves, Thorn Proof", "Plant Pots with Drainage, Set of 5", "Hose Nozzle, 10 Patterns",
           "Compost Bin, Kitchen Countertop"],
    "SP": ["Yoga Mat, Non-Slip 6mm", "Resistance Bands Set of 5", "Insulated Water Bottle 32 oz",
           "Adjustable Dumbbells Pair", "Jump Rope, Tangle-Free", "Foam Roller for Muscle Massage",
           "Cycling Gloves, Padded", "Camping Hammock with Straps", "Headlamp Rechargeable LED",
           "Hiking Backpack 40L"],
    "BT": ["Hair Dryer Brush, One-Step", "Electric Toothbrush with 8 Heads", "Makeup Brush Set 14 pcs",
           "Facial Cleansing Brush", "Nail Clipper Set, Stainless", "Silk Pillowcase for Hair and Skin",
           "Heatless Curling Rod Headband", "Beard Trimmer, Cordless", "Jade Roller and Gua Sha Set",
           "Travel Toiletry Bag, Hanging"],
    "BB": ["Baby Monitor with Camera", "Silicone Baby Bibs 3 Pack", "Diaper Caddy Organizer",
           "Baby Bath Tub, Foldable", "Teething Toys 5 Pack", "Swaddle Blankets Muslin 4 Pack",
           "Stroller Organizer with Cup Holders", "Baby Food Maker", "Night Light for Nursery",
           "Toddler Sippy Cups 4 Pack"],
}
VARIANTS = [("Black", "BLK"), ("White", "WHT"), ("Grey", "GRY"), ("Blue", "BLU")]
SERVICES = ["Standard"] * 70 + ["Expedited"] * 15 + ["SecondDay"] * 8 + ["NextDay"] * 4 + ["FreeEconomy"] * 3
CARRIERS = ["USPS"] * 50 + ["UPS"] * 30 + ["FedEx"] * 17 + ["Other"] * 3
UPS_SHIPPER = "1ZA4E762"  # a seller's UPS account number starts each of its tracking IDs


def catalog():
    """400 SKUs: (sku, product name, price in cents), best sellers first."""
    rng = random.Random(4)
    products = []
    for dept, names in DEPARTMENTS.items():
        for n, name in enumerate(names):
            base = rng.choice([799, 999, 1299, 1499, 1899, 2499, 2999, 3499, 4999])
            for color, code in VARIANTS:
                products.append((f"{dept}-{2000 + n * 10}-{code}", f"{name}, {color}", base))
    rng.shuffle(products)
    return products


# ---------------------------------------------------------------- build


def _pg(dbname: str = "postgres"):
    import psycopg
    from sqlalchemy.engine import make_url
    url = make_url(URL)
    return psycopg.connect(host=url.host, port=url.port or 5432, user=url.username, password=url.password,
                           dbname=dbname, autocommit=True)


def _digits(rng, n: int) -> str:
    return str(rng.randrange(10 ** (n - 1), 10 ** n))


def _tracking(rng, carrier: str) -> str:
    if carrier == "UPS":
        return UPS_SHIPPER + "03" + _digits(rng, 8)
    if carrier == "FedEx":
        return _digits(rng, 12)
    if carrier == "USPS":
        return "9400" + _digits(rng, 18)
    return "LC" + _digits(rng, 10)


class Builder:
    """Rows of every table for orders 1..n, bought over the last three years, written by COPY in chunks."""

    def __init__(self, n_orders: int, owner_id: int, staff_id: int, cfg, tz, seed: int = 17):
        from seller import workflow
        self.workflow, self.cfg, self.tz = workflow, cfg, tz
        self.rng = rng = random.Random(seed)
        self.now = datetime.now(timezone.utc).replace(tzinfo=None)
        self.users = (owner_id, staff_id)
        self.products = catalog()
        self.product_weights = list(_cumulative(1 / (rank + 1) ** 0.8 for rank in range(len(self.products))))
        self.buyers = [(f"{rng.choice(FIRST)} {rng.choice(LAST)}",
                        "".join(rng.choices("abcdefghijklmnopqrstuvwxyz0123456789", k=15)))
                       for _ in range(int(n_orders * 0.6) + 1)]
        self.times = self._purchase_times(n_orders)
        self.ids = dict.fromkeys(("order_items", "shipments", "order_events", "cancellations", "refunds",
                                  "refund_lines", "return_requests", "return_items"), 0)
        self.order_ids = set()

    def _purchase_times(self, n: int) -> list[datetime]:
        """n times over 1,095 days, busier each year (x2.5 from first to last) and from Nov 20 to Dec 31."""
        days = 3 * 365
        weights = []
        for d in range(days):  # d days ago
            day = (self.now - timedelta(days=d)).date()
            weights.append((1 + 1.5 * (1 - d / days)) * (1.6 if (day.month, day.day) >= (11, 20) else 1))
        total = sum(weights)
        times = []
        for d, w in enumerate(weights):
            k = round(n * w / total) if d else 0
            times.extend(self.now - timedelta(days=d + self.rng.random()) for _ in range(k))
        times.extend(self.now - timedelta(days=self.rng.random()) for _ in range(n - len(times)))
        return sorted(times[:n])

    def next_id(self, table: str) -> int:
        self.ids[table] += 1
        return self.ids[table]

    def _order_id(self) -> str:
        while True:
            value = f"11{self.rng.randint(1, 4)}-{_digits(self.rng, 7)}-{_digits(self.rng, 7)}"
            if value not in self.order_ids:
                self.order_ids.add(value)
                return value

    def order(self, n: int, rows: dict) -> None:
        """Order n with its items and whatever a seller did to it by now, given its age."""
        rng, now, wf = self.rng, self.now, self.workflow
        purchased = self.times[n - 1]
        age = now - purchased
        name, handle = rng.choice(self.buyers)
        city, state, zip_code = rng.choice(PLACES)
        items, paid = [], 0
        for _ in range(rng.choices((1, 2, 3), (83, 14, 3))[0]):
            sku, product, base = self.products[_pick(rng, self.product_weights)]
            qty = rng.choices((1, 2, 3), (85, 12, 3))[0]
            price = base * qty
            shipping = 0 if price >= 3500 else 499
            item = {"id": self.next_id("order_items"), "order_id": n, "order_item_id": _digits(rng, 14), "sku": sku,
                    "product_name": product, "quantity": qty, "item_price_cents": price,
                    "item_tax_cents": round(price * 0.0825), "shipping_price_cents": shipping,
                    "shipping_tax_cents": round(shipping * 0.0825)}
            items.append(item)
            paid += price + item["item_tax_cents"] + shipping + item["shipping_tax_cents"]
        ship_by = purchased + timedelta(hours=self.cfg.handling_hours)
        hours = age.total_seconds() / 3600
        roll = rng.random()
        delay = timedelta(hours=rng.uniform(2, 40) if roll < 0.9 else rng.uniform(40, 50) if roll < 0.98
                          else rng.uniform(50, 90))
        if hours < 24 and rng.random() < 0.05:
            status = "Pending"
        elif rng.random() < (0.01 if hours < 72 else 0.025):
            status = "Canceled"
        elif purchased + delay > now or (hours > 72 and rng.random() < 0.0002):
            status = "Unshipped"
        else:
            status = "Shipped"
        order = {"id": n, "order_id": self._order_id(), "status": status, "version": 1, "purchased_at": purchased,
                 "paid_at": None if status == "Pending" else purchased + timedelta(minutes=rng.randint(1, 30)),
                 "ship_by": ship_by, "buyer_email": f"{handle}@marketplace.amazon.com", "buyer_name": name,
                 "buyer_phone": f"+1 {rng.randint(200, 989)}-555-{rng.randint(1000, 9999)}",
                 "recipient_name": name if rng.random() < 0.85 else f"{rng.choice(FIRST)} {name.split()[-1]}",
                 "ship_address_1": f"{rng.randint(10, 9999)} {rng.choice(STREETS)}",
                 "ship_address_2": rng.choice(["", "", "", f"Apt {rng.randint(1, 40)}"]), "ship_city": city,
                 "ship_state": state, "ship_postal_code": zip_code, "ship_service_level": rng.choice(SERVICES),
                 "paid_cents": paid, "created_at": purchased, "updated_at": purchased}
        rows["orders"].append(order)
        rows["order_items"].extend(items)
        user = rng.choice(self.users)
        self.event(rows, n, None, "import", purchased, items=len(items),
                   status="Pending" if status == "Pending" else "Unshipped")
        if status == "Canceled":
            at = purchased + timedelta(hours=rng.uniform(1, 20))
            reason = rng.choices(wf.CANCEL_REASONS, (30, 50, 5, 5, 5, 5))[0]
            order.update(canceled_at=at, version=2, updated_at=at)
            rows["cancellations"].append({"id": self.next_id("cancellations"), "order_id": n, "reason": reason,
                                          "canceled_by_id": user, "canceled_at": at})
            self.event(rows, n, user, "cancel_order", at, reason=reason, memo="",
                       counts_toward_cancel_rate=reason != "Buyer canceled")
        if status != "Shipped":
            return
        confirmed = purchased + delay
        late = confirmed > ship_by
        order.update(shipped_at=confirmed, late=late, version=2, updated_at=confirmed)
        if rng.random() < 0.6:
            self.event(rows, n, user, "print_packing_slip", confirmed - timedelta(minutes=20))
        shipment = self.shipment(rows, n, user, confirmed, late, "confirm_shipment")
        if rng.random() < 0.015:  # edited: the first record is kept, superseded
            edited = min(confirmed + timedelta(hours=rng.uniform(1, 20)), now)
            shipment["superseded_at"] = edited
            self.shipment(rows, n, user, edited, late, "edit_shipment")
            order["version"] += 1
        if hours > 24 * 7 and rng.random() < 0.05:
            self.returned(rows, order, items, user, confirmed)
        elif hours > 24 * 3 and rng.random() < 0.01:
            self.refund(rows, order, items, user, confirmed + timedelta(days=rng.uniform(2, 20)), "partial",
                        rng.choice(["Merchandise Not As Described", "Delivered Late by Carrier",
                                    "General Adjustment"]))

    def shipment(self, rows, n, user, at, late, action) -> dict:
        rng = self.rng
        carrier = rng.choice(CARRIERS)
        tracking = _tracking(rng, carrier)
        if rng.random() < 0.01:  # a digit missed when typed
            tracking = tracking[:-1]
        service = {"USPS": rng.choice(["Ground Advantage", "Priority Mail"]), "UPS": "Ground",
                   "FedEx": "Home Delivery", "Other": "Local delivery"}[carrier]
        row = {"id": self.next_id("shipments"), "order_id": n, "carrier": carrier,
               "carrier_name": "Metro Courier" if carrier == "Other" else "", "shipping_service": service,
               "tracking_id": tracking, "tracking_valid": self.workflow.tracking_matches(carrier, tracking),
               "ship_date": _local_date(at, self.tz), "confirmed_at": at, "confirmed_by_id": user, "late": late,
               "superseded_at": None}
        rows["shipments"].append(row)
        details = {k: row[k] for k in ("carrier", "carrier_name", "shipping_service", "tracking_id",
                                        "tracking_valid")}
        self.event(rows, n, user, action, at, **details, ship_date=row["ship_date"].isoformat(), note="", late=late)
        return row

    def returned(self, rows, order, items, user, shipped) -> None:
        """A return request, as old ones end (refunded and completed, or closed) and recent ones wait."""
        rng, n = self.rng, order["id"]
        created = min(shipped + timedelta(days=rng.uniform(3, 20)), self.now - timedelta(hours=1))
        recent = self.now - created < timedelta(days=30)
        status = rng.choices(["Pending Authorization", "Authorized", "Completed", "Closed"],
                             (25, 35, 25, 15) if recent else (0, 2, 65, 33))[0]
        ret = {"id": self.next_id("return_requests"), "order_id": n, "status": status, "version": 1,
               "reason": rng.choice(self.workflow.RETURN_REASONS), "created_at": created, "created_by_id": user,
               "refund_timing": "after_receipt", "rma_number": None, "authorized_at": None,
               "completed_at": None, "closed_at": None, "close_reason": "", "return_address": ""}
        rows["return_requests"].append(ret)
        rows["return_items"].append({"id": self.next_id("return_items"), "return_request_id": ret["id"],
                                     "order_item_id": items[0]["id"], "quantity": 1})
        self.event(rows, n, user, "create_return", created, ret["id"], reason=ret["reason"])
        if status in ("Authorized", "Completed"):
            ret.update(authorized_at=created + timedelta(hours=rng.uniform(1, 30)), version=2,
                       rma_number=f"RMA-{n:08d}", return_address=self.cfg.return_address)
            self.event(rows, n, user, "authorize_return", ret["authorized_at"], ret["id"],
                       rma_number=ret["rma_number"])
        if status == "Completed":
            at = ret["authorized_at"] + timedelta(days=rng.uniform(3, 9))
            ret.update(completed_at=at, version=3)
            self.refund(rows, order, items, user, at, "full", "Customer Return", ret["id"])
            self.event(rows, n, user, "complete_return", at, ret["id"])
        elif status == "Closed":
            at = created + timedelta(days=rng.uniform(1, 14))
            ret.update(closed_at=at, version=2, close_reason=rng.choice(self.workflow.CLOSE_REASONS))
            self.event(rows, n, user, "close_return", at, ret["id"], reason=ret["close_reason"], message="")

    def refund(self, rows, order, items, user, at, kind, reason, return_id=None) -> None:
        """A full refund of every item, or a quarter of the first item's price (tax pro rata)."""
        refund = {"id": self.next_id("refunds"), "order_id": order["id"], "return_request_id": return_id,
                  "idempotency_key": "%032x" % self.rng.getrandbits(128),
                  "fingerprint": "%064x" % self.rng.getrandbits(256), "kind": kind, "reason": reason,
                  "created_by_id": user, "created_at": at, "total_cents": 0}
        for item in items if kind == "full" else items[:1]:
            line = ({"item_cents": item["item_price_cents"], "item_tax_cents": item["item_tax_cents"],
                     "shipping_cents": item["shipping_price_cents"],
                     "shipping_tax_cents": item["shipping_tax_cents"]} if kind == "full" else
                    {"item_cents": item["item_price_cents"] // 4, "item_tax_cents": item["item_tax_cents"] // 4,
                     "shipping_cents": 0, "shipping_tax_cents": 0})
            rows["refund_lines"].append({"id": self.next_id("refund_lines"), "refund_id": refund["id"],
                                         "order_item_id": item["id"], **line})
            item.update(refunded_item_cents=line["item_cents"], refunded_item_tax_cents=line["item_tax_cents"],
                        refunded_shipping_cents=line["shipping_cents"],
                        refunded_shipping_tax_cents=line["shipping_tax_cents"])
            refund["total_cents"] += sum(line.values())
        rows["refunds"].append(refund)
        order["refunded_cents"] = order.get("refunded_cents", 0) + refund["total_cents"]
        order["version"] += 1
        self.event(rows, order["id"], user, "refund", at, return_id, refund_id=refund["id"], kind=kind,
                   reason=reason, total_cents=refund["total_cents"])

    def event(self, rows, order_id, user, action, at, return_id=None, **details) -> None:
        rows["order_events"].append({"id": self.next_id("order_events"), "order_id": order_id,
                                     "return_request_id": return_id, "user_id": user, "action": action,
                                     "at": at, "details": json.dumps(details)})


def _cumulative(values):
    total = 0.0
    for v in values:
        total += v
        yield total


def _pick(rng, cumulative: list[float]) -> int:
    from bisect import bisect
    return bisect(cumulative, rng.random() * cumulative[-1])


def _local_date(at: datetime, tz) -> date:
    return at.replace(tzinfo=timezone.utc).astimezone(tz).date()


def build(n_orders: int) -> None:
    started = time.perf_counter()
    name = URL.rsplit("/", 1)[1]
    with _pg() as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    app = _app()
    from flask_migrate import upgrade
    from sqlalchemy import text
    from seller import clock, users, workflow
    from seller.extensions import db
    with app.app_context():
        upgrade()
        owner = users.create("owner@example.com", "scale bench password", "owner")
        staff = users.create("staff@example.com", "scale bench password", "staff")
        cfg = workflow.save_settings(store_name="Maple & Pine Goods", return_address="Maple & Pine Goods Returns\n"
                                     "1200 Industrial Way, Unit 4\nReno, NV 89502")
        builder = Builder(n_orders, owner.id, staff.id, cfg, clock.store_tz(cfg.timezone))
        tables = {t.name: t for t in db.metadata.sorted_tables}
        with db.engine.connect() as conn:  # secondary indexes go while loading, and come back afterwards
            indexes = conn.execute(text(
                "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public' AND indexname NOT IN "
                "(SELECT conname FROM pg_constraint)")).all()
            for index_name, _ in indexes:
                conn.execute(text(f'DROP INDEX "{index_name}"'))
            conn.commit()
        print(f"schema and {len(builder.times):,} purchase times in {time.perf_counter() - started:.0f} s")
        raw = db.engine.raw_connection()
        try:
            cur = raw.cursor()
            cur.execute("SET session_replication_role = replica")  # no foreign key triggers while loading
            loaded = dict.fromkeys(builder.ids, 0) | {"orders": 0}
            for start in range(1, n_orders + 1, 20_000):
                rows = {name: [] for name in loaded}
                for n in range(start, min(start + 20_000, n_orders + 1)):
                    builder.order(n, rows)
                for table_name, table_rows in rows.items():
                    _copy(cur, tables[table_name], table_rows)
                    loaded[table_name] += len(table_rows)
                raw.commit()
            print(f"loaded in {time.perf_counter() - started:.0f} s: "
                  + ", ".join(f"{count:,} {table_name}" for table_name, count in loaded.items()))
            for table_name in loaded:
                cur.execute(f"SELECT setval(pg_get_serial_sequence('{table_name}', 'id'), "
                            f"(SELECT coalesce(max(id), 1) FROM {table_name}))")
            for _, definition in indexes:
                cur.execute(definition)
            raw.commit()
            print(f"indexes in {time.perf_counter() - started:.0f} s")
            raw.driver_connection.autocommit = True
            cur.execute("VACUUM (ANALYZE)")
        finally:
            raw.close()
        size = db.session.execute(text("SELECT pg_size_pretty(pg_database_size(current_database()))")).scalar()
    print(f"built {n_orders:,} orders in {time.perf_counter() - started:.0f} s ({size})")


def _copy(cur, table, rows: list[dict]) -> None:
    """COPY rows into a table; columns a row leaves out take the model's default."""
    columns = [c for c in table.columns]
    defaults = {c.name: None if c.default is None or callable(c.default.arg) else c.default.arg for c in columns}
    names = [c.name for c in columns]
    with cur.copy(f"COPY {table.name} ({', '.join(names)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row([row[k] if k in row else defaults[k] for k in names])


# ---------------------------------------------------------------- measure


def _app():
    os.environ["DATABASE_URL"] = URL  # the engine options of production (pool_pre_ping, lock_timeout)
    from seller import create_app
    return create_app({"SECRET_KEY": SECRET, "WTF_CSRF_ENABLED": False, "ORDERS_LIST_CACHE": False,
                       "RATELIMIT_ENABLED": False})


def session_cookie(app, user) -> str:
    """The session cookie a browser holds after signing in from 127.0.0.1 (with USER_AGENT)."""
    import secrets
    from flask_login.utils import _create_identifier
    with app.test_request_context(environ_base={"REMOTE_ADDR": "127.0.0.1"}, headers={"User-Agent": USER_AGENT}):
        session = {"_user_id": user.get_id(), "_fresh": True, "_id": _create_identifier(),
                   "csrf_token": secrets.token_hex(20)}
        return app.session_interface.get_signing_serializer(app).dumps(session)


def facts(db) -> dict:
    """What the requests ask for, read from the data (the same values on every run)."""
    from sqlalchemy import text
    one = lambda sql, **kw: db.session.execute(text(sql), kw).one()  # noqa: E731
    order_id, email = one("SELECT order_id, buyer_email FROM orders WHERE id = "
                          "(SELECT max(id) / 3 FROM orders)")
    sku, = one("SELECT sku FROM order_items GROUP BY sku ORDER BY count(*) DESC OFFSET 20 LIMIT 1")
    tracking, = one("SELECT tracking_id FROM shipments WHERE id > (SELECT max(id) / 2 FROM shipments) AND "
                    "carrier = 'UPS' AND superseded_at IS NULL ORDER BY id LIMIT 1")
    newest, = one("SELECT max(purchased_at) FROM orders")
    return {"order_id": order_id, "email": email, "sku": sku, "tracking": tracking, "newest": newest}


def requests_to_time(f: dict, today: date) -> list[tuple[str, str, str]]:
    """(name, kind, path) of every request in the table; POSTs are filled in by `measure`."""
    day = today - timedelta(days=200)
    month = (today - timedelta(days=400)).replace(day=1)
    month_end = (month + timedelta(days=32)).replace(day=1) - timedelta(days=1)
    year = (today - timedelta(days=365 + 200), today - timedelta(days=201))
    m = f"from={month}&to={month_end}"
    sku_part, tracking_part = f["sku"][:7], f["tracking"][-10:-2]
    return [
        ("default list", "page", "/orders"),
        ("default list, htmx", "page", "/orders?hx=1"),
        ("tab Pending", "page", "/orders?status=Pending"),
        ("tab Unshipped", "page", "/orders?status=Unshipped"),
        ("tab Unshipped, by Ship by", "page", "/orders?status=Unshipped&sort=ship_by"),
        ("tab Shipped", "page", "/orders?status=Shipped"),
        ("tab Canceled", "page", "/orders?status=Canceled"),
        ("adv Order ID", "page", f"/orders?order_id={f['order_id']}"),
        ("adv Buyer name (Nguyen)", "page", "/orders?buyer_name=Nguyen"),
        ("adv Buyer email", "page", f"/orders?buyer_email={f['email']}"),
        ("adv SKU", "page", f"/orders?sku={f['sku']}"),
        ("adv Product name (garlic press)", "page", "/orders?product_name=garlic+press"),
        ("adv Tracking ID", "page", f"/orders?tracking_id={f['tracking']}"),
        ("adv Shipping service (NextDay)", "page", "/orders?service=NextDay"),
        ("adv From/To (a month)", "page", f"/orders?{m}"),
        ("adv Buyer name + month", "page", f"/orders?buyer_name=garcia&{m}"),
        ("adv Product + Shipped", "page", "/orders?product_name=dog+harness&status=Shipped"),
        ("adv SKU + service + year", "page", f"/orders?sku={f['sku']}&service=Standard&from={year[0]}&to={year[1]}"),
        ("adv Buyer name + product", "page", "/orders?buyer_name=smith&product_name=lamp"),
        ("box exact order ID", "page", f"/orders?q={f['order_id']}"),
        ("box exact tracking ID", "page", f"/orders?q={f['tracking']}"),
        ("box exact SKU", "page", f"/orders?q={f['sku']}"),
        ("box exact e-mail", "page", f"/orders?q={f['email']}"),
        ("box partial buyer (ohnso)", "page", "/orders?q=ohnso"),
        ("box partial product (frother)", "page", "/orders?q=frother"),
        (f"box partial SKU ({sku_part})", "page", f"/orders?q={sku_part}"),
        (f"box partial tracking ({tracking_part})", "page", f"/orders?q={tracking_part}"),
        ("dates: a day", "page", f"/orders?from={day}&to={day}"),
        ("dates: a month", "page", f"/orders?from={today - timedelta(days=30)}&to={today}"),
        ("dates: a year", "page", f"/orders?from={year[0]}&to={year[1]}"),
        ("page 2 (default list)", "page", "/orders?page=2"),
        ("page 2,000 of a year", "page", f"/orders?from={year[0]}&to={year[1]}&page=2000"),
        ("order page", "page", f"/orders/{f['order_id']}"),
        ("Manage Returns", "page", "/returns"),
        ("performance", "page", "/performance"),
        ("export: a month", "file", f"/orders/export?{m}"),
        ("packing slips: 100 (PDF)", "file", "POST slips"),
        ("Confirm shipment (POST)", "action", "POST ship"),
        ("partial refund (POST)", "action", "POST refund"),
    ]


class SqlTimer:
    """Statements sent and their time, per request; the slowest one with its parameters."""

    def __init__(self, engine):
        from sqlalchemy import event
        self.count, self.seconds, self._start, self.slowest = 0, 0.0, 0.0, (0.0, "", None)
        event.listen(engine, "before_cursor_execute", self.before)
        event.listen(engine, "after_cursor_execute", self.after)

    def before(self, *args):
        self._start = time.perf_counter()

    def after(self, conn, cursor, statement, parameters, context, executemany):
        took = time.perf_counter() - self._start
        self.count += 1
        self.seconds += took
        if took > self.slowest[0] and not executemany:
            self.slowest = (took, statement, parameters)


def explain(engine, statement: str, parameters) -> str:
    """EXPLAIN (ANALYZE, BUFFERS) of a statement as the app sent it."""
    with engine.connect() as conn:
        cursor = conn.connection.driver_connection.cursor()
        cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + statement, parameters)
        plan = "\n".join(row[0] for row in cursor.fetchall())
        conn.rollback()
    return plan


def measure(runs: int, only: str | None, plans: Path | None = None) -> list[dict]:
    from sqlalchemy import select, text
    from seller.extensions import db
    from seller.models import Order, User
    app = _app()
    with app.app_context():
        owner = db.session.scalar(select(User).where(User.email == "owner@example.com"))
        cookie = session_cookie(app, owner)
        f = facts(db)
        tz_name = db.session.execute(text("SELECT timezone FROM settings")).scalar()
        from zoneinfo import ZoneInfo
        today = _local_date(datetime.now(timezone.utc).replace(tzinfo=None), ZoneInfo(tz_name))
        need = runs + 3
        # Orders no earlier run touched: Unshipped ones to confirm, shipped ones without refunds to refund.
        to_ship = db.session.execute(text(
            "SELECT order_id, version FROM orders WHERE status = 'Unshipped' AND purchased_at > now() - interval "
            "'20 days' AND NOT EXISTS (SELECT 1 FROM order_events e WHERE e.order_id = orders.id AND "
            "e.action = 'print_packing_slip') ORDER BY purchased_at LIMIT :n"), {"n": need}).all()
        to_refund = db.session.execute(text(
            "SELECT o.order_id, o.version, min(i.id) FROM orders o JOIN order_items i ON i.order_id = o.id "
            "WHERE o.status = 'Shipped' AND o.refunded_cents = 0 AND o.id > (SELECT max(id) - 300000 FROM orders) "
            "AND o.id % 97 = 5 GROUP BY o.id ORDER BY o.id LIMIT :n"), {"n": need}).all()
        slips = db.session.scalars(select(Order.order_id).where(Order.status == "Shipped")
                                   .order_by(Order.id.desc()).offset(1000).limit(100)).all()
        engine = db.engine
        if f["newest"] < datetime.now(timezone.utc).replace(tzinfo=None) - timedelta(days=2):
            print(f"warning: the newest order is of {f['newest']:%Y-%m-%d}: the recent lists are thin "
                  "(build again)", file=sys.stderr)
        db.session.remove()
    timer = SqlTimer(engine)
    client = app.test_client()
    client.environ_base.update({"REMOTE_ADDR": "127.0.0.1", "HTTP_USER_AGENT": USER_AGENT})
    client.set_cookie("session", cookie)
    hx = {"HX-Request": "true"}
    shipped, refunded = iter(to_ship), iter(to_refund)

    def post_ship():
        order_id, version = next(shipped)
        return client.post(f"/orders/{order_id}/ship", headers=hx, data={
            "ship_date": today.isoformat(), "carrier": "UPS", "tracking_id": UPS_SHIPPER + "03" + order_id[-8:],
            "shipping_service": "Ground", "version": version})

    def post_refund():
        order_id, version, item_id = next(refunded)
        return client.post(f"/orders/{order_id}/refund", headers=hx, data={
            "kind": "partial", "submit_partial": "1", "reason": "General Adjustment", "version": version,
            "idempotency_key": f"scale-{order_id}", f"item-{item_id}-item": "1.00", f"item-{item_id}-shipping": ""})

    def post_slips():
        return client.post("/orders/packing-slips.pdf", data={"order_ids": slips})

    posts = {"POST ship": post_ship, "POST refund": post_refund, "POST slips": post_slips}
    results = []
    for name, kind, path in requests_to_time(f, today):
        if only and only.lower() not in name.lower():
            continue
        if path in posts:
            send = posts[path]
        else:
            path, headers = (path.replace("?hx=1", ""), hx) if "hx=1" in path else (path, {})
            send = lambda path=path, headers=headers: client.get(path, headers=headers)  # noqa: E731
        times, sql_ms, statements = [], [], 0
        timer.slowest = (0.0, "", None)
        for run in range(runs + 3):
            timer.count, timer.seconds = 0, 0.0
            start = time.perf_counter()
            response = send()
            elapsed = time.perf_counter() - start
            assert response.status_code == 200, (name, response.status_code, response.text[:500])
            if run >= 3:
                times.append(elapsed * 1000)
                sql_ms.append(timer.seconds * 1000)
                statements = timer.count
        q = statistics.quantiles(times, n=100, method="inclusive")
        results.append({"name": name, "kind": kind, "path": path, "p50": statistics.median(times), "p95": q[94],
                        "p99": q[98], "sql_ms": statistics.median(sql_ms), "statements": statements})
        print(_row(results[-1]), flush=True)
        if plans:  # the slowest statement of any run, explained now
            took, statement, parameters = timer.slowest
            slug = "".join(c if c.isalnum() else "-" for c in name.lower()).strip("-")
            (plans / f"{slug}.txt").write_text(
                f"-- {name}: {path}\n-- p50 {results[-1]['p50']:.1f} ms, p95 {results[-1]['p95']:.1f} ms; its slowest "
                f"statement took {took * 1000:.1f} ms\n{statement}\n-- {parameters}\n\n{explain(engine, statement, parameters)}\n")
    return results


def _over(r: dict) -> str:
    target = {"page": PAGE_MS, "action": ACTION_MS}.get(r["kind"])
    return " OVER" if target and r["p95"] > target else ""


def _row(r: dict) -> str:
    return (f"{r['name']:42} {r['kind']:6} {r['p50']:8.1f} {r['p95']:8.1f} {r['p99']:8.1f} "
            f"{r['sql_ms']:8.1f} {r['statements']:4}{_over(r)}")


HEADER = f"{'request':42} {'kind':6} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'SQL ms':>8} {'SQL':>4}"


def _flask(checkout: Path, *args) -> str:
    env = dict(os.environ, DATABASE_URL=URL, SECRET_KEY=SECRET)
    return subprocess.run([sys.executable, "-m", "flask", "--app", "app", "db", *args], cwd=checkout, env=env,
                          check=True, capture_output=True, text=True).stdout


def _measure_in(checkout: Path, runs: int, only: str | None, plans: Path | None = None) -> list[dict]:
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        command = [sys.executable, __file__, "measure", "--checkout", str(checkout), "--runs", str(runs),
                   "--json", out.name] + (["--only", only] if only else []) + (["--explain", plans] if plans else [])
        subprocess.run(command, check=True)
        return json.loads(Path(out.name).read_text())


def compare(before: Path, runs: int, only: str | None, plans: Path | None) -> None:
    head = _flask(before, "heads").split()[0]
    print(f"before: {before} (migration {head}); after: {ROOT}", flush=True)
    started = time.perf_counter()
    _flask(ROOT, "downgrade", head)
    print(f"downgraded to {head} in {time.perf_counter() - started:.0f} s", flush=True)
    old = _measure_in(before, runs, only)
    started = time.perf_counter()
    _flask(ROOT, "upgrade")
    with _pg(URL.rsplit("/", 1)[1]) as conn:
        conn.execute("ANALYZE")
    print(f"upgraded in {time.perf_counter() - started:.0f} s", flush=True)
    new = _measure_in(ROOT, runs, only, plans)
    print(f"\n{runs} runs each; ms; pages p95 <= {PAGE_MS}, actions p95 <= {ACTION_MS}\n")
    print(f"{'request':42} {'before p50':>10} {'p95':>8} {'p99':>8} {'after p50':>10} {'p95':>8} {'p99':>8}  SQL")
    for b, a in zip(old, new):
        print(f"{a['name']:42} {b['p50']:10.1f} {b['p95']:8.1f} {b['p99']:8.1f} {a['p50']:10.1f} {a['p95']:8.1f} "
              f"{a['p99']:8.1f}  {b['statements']}->{a['statements']}{_over(a)}")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("command", choices=["build", "measure", "compare"])
    ap.add_argument("--orders", type=int, default=1_000_000)
    ap.add_argument("--runs", type=int, default=30)
    ap.add_argument("--only", help="measure only the requests whose name contains this")
    ap.add_argument("--checkout", type=Path, default=ROOT, help="measure the app code of this checkout")
    ap.add_argument("--before", type=Path, help="compare: the checkout whose code is 'before'")
    ap.add_argument("--json", type=Path, help="measure: also write the results here")
    ap.add_argument("--explain", type=Path, help="measure (compare: of the after code): EXPLAIN (ANALYZE, BUFFERS) "
                                                 "each request's slowest statement into this folder")
    a = ap.parse_args()
    sys.path.insert(0, str(a.checkout.resolve()))
    if a.command == "build":
        build(a.orders)
    elif a.command == "measure":
        commit = subprocess.run(["git", "-C", str(a.checkout), "log", "-1", "--format=%h %s"], capture_output=True,
                                text=True).stdout.strip()
        print(f"{a.checkout.resolve()} at {commit}; {URL}; {a.runs} runs each, list cache off; load average "
              f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs\n{HEADER}", flush=True)
        results = measure(a.runs, a.only, a.explain)
        print(f"load average {os.getloadavg()[0]:.1f}")
        if a.json:
            a.json.write_text(json.dumps(results))
    else:
        compare(a.before.resolve(), a.runs, a.only, a.explain)


if __name__ == "__main__":
    main()

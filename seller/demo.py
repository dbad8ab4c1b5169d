"""Demo data: orders of the last 60 days in every status, with shipments, cancellations, returns and refunds.

Everything goes through the workflow verbs, so the history reads as if people had done the work."""
import itertools
import random
import secrets
from datetime import timedelta
from decimal import Decimal

from sqlalchemy import exists, select

from . import clock, users, workflow
from .db import write_transaction
from .extensions import db
from .models import Order, Settings, User

FIRST = ["Emily", "James", "Olivia", "Michael", "Sophia", "David", "Ava", "Daniel", "Mia", "José", "Chloé",
         "Wei", "Priya", "Noah", "Grace", "Liam", "Zoë", "Ethan", "Hannah", "Lucas"]
LAST = ["Johnson", "Smith", "García", "Nguyen", "Williams", "Brown", "Lee", "Martinez", "Chen", "Taylor",
        "Anderson", "O'Brien", "Patel", "Kim", "Müller", "Davis", "Wilson", "Lopez"]
PLACES = [("Seattle", "WA", "98101"), ("Portland", "OR", "97205"), ("Austin", "TX", "78701"),
          ("Denver", "CO", "80202"), ("Chicago", "IL", "60601"), ("Brooklyn", "NY", "11201"),
          ("San Jose", "CA", "95112"), ("Miami", "FL", "33130"), ("Atlanta", "GA", "30303"),
          ("Phoenix", "AZ", "85004"), ("Boston", "MA", "02108"), ("Columbus", "OH", "43215")]
STREETS = ["Maple Ave", "Oak St", "Pine Rd", "Cedar Ln", "Elm St", "Lakeview Dr", "Sunset Blvd", "Main St"]
PRODUCTS = [
    ("PB-1001-BLK", "Silicone Phone Stand, Adjustable, Black", Decimal("12.99")),
    ("PB-1002-WHT", "USB-C Charging Cable 6ft, 2-Pack, White", Decimal("9.99")),
    ("KT-2040", "Stainless Steel Garlic Press with Peeler", Decimal("15.49")),
    ("KT-2101-S", "Bamboo Cutting Board Set (3 Pieces) with Juice Groove", Decimal("24.95")),
    ("HM-3300-GRY", "Memory Foam Seat Cushion for Office Chair, Grey", Decimal("29.99")),
    ("HM-3410", "LED Desk Lamp with Wireless Charger and USB Port, Dimmable, 5 Color Modes", Decimal("36.50")),
    ("TY-5001", "Magnetic Building Tiles 60 pcs 磁力片积木", Decimal("39.99")),
    ("PT-7700-M", "Reflective Dog Harness, No Pull, Medium", Decimal("18.99")),
    ("GD-8800", "Garden Kneeler and Seat, Foldable", Decimal("44.00")),
    ("OF-9120", "Gel Pens 24 Colors Fine Point 0.5mm", Decimal("8.49")),
]
SERVICES = ["Standard", "Standard", "Standard", "Expedited", "SecondDay", "NextDay"]
# A public demo desk (SELLER_DEMO) shows its sign-ins on the sign-in page, so they are fixed and known.
DEMO_ACCOUNTS = {"owner": ("owner@example.com", "demo-owner-pass"), "staff": ("staff@example.com", "demo-staff-pass")}
DEMO_ORDERS = 120


def _cents(d: Decimal) -> int:
    return int(d * 100)


def _tracking(rng: random.Random, carrier: str) -> str:
    if carrier == "UPS":
        return "1Z" + "".join(rng.choice("0123456789ABCDEFGHJKLMNPRSTUVWXYZ") for _ in range(16))
    if carrier == "FedEx":
        return "".join(rng.choice("0123456789") for _ in range(12))
    return "94" + "".join(rng.choice("0123456789") for _ in range(20))


def _make_order(rng: random.Random, n: int, purchased, paid: bool):
    first, last = rng.choice(FIRST), rng.choice(LAST)
    city, state, zip_code = rng.choice(PLACES)
    order_id = f"11{rng.randint(1, 4)}-{rng.randint(1000000, 9999999)}-{rng.randint(1000000, 9999999)}"
    items = []
    for k in range(rng.choice([1, 1, 1, 2, 2, 3])):
        sku, name, price = rng.choice(PRODUCTS)
        qty = rng.choice([1, 1, 1, 2, 3])
        item_total = price * qty
        shipping = Decimal("0.00") if item_total > 35 else Decimal("4.99")
        items.append({"order_item_id": f"{rng.randint(10**13, 10**14 - 1)}", "sku": sku, "product_name": name,
                      "quantity": qty, "item_price_cents": _cents(item_total),
                      "item_tax_cents": _cents((item_total * Decimal("0.0825")).quantize(Decimal("0.01"))),
                      "shipping_price_cents": _cents(shipping),
                      "shipping_tax_cents": _cents((shipping * Decimal("0.0825")).quantize(Decimal("0.01")))})
    business = rng.random() < 0.08
    fields = {"order_id": order_id, "purchased_at": purchased, "paid_at": purchased + timedelta(minutes=3) if paid else None,
              "buyer_email": f"{rng.randint(10**9, 10**10)}@marketplace.amazon.com", "buyer_name": f"{first} {last}",
              "buyer_phone": f"+1 {rng.randint(200, 989)}-555-{rng.randint(1000, 9999)}",
              "recipient_name": f"{first} {last}",
              "ship_address_1": f"{rng.randint(10, 9999)} {rng.choice(STREETS)}",
              "ship_address_2": rng.choice(["", "", f"Apt {rng.randint(1, 40)}"]), "ship_city": city,
              "ship_state": state, "ship_postal_code": zip_code, "ship_country": "US",
              "ship_service_level": rng.choice(SERVICES), "is_business_order": business,
              "purchase_order_number": f"PO-{rng.randint(10000, 99999)}" if business else ""}
    return workflow.new_order(fields, items, source="seed-demo")


def seed(count: int, seed_value: int = 7, accounts: dict[str, tuple[str, str]] | None = None
         ) -> dict[str, tuple[str, str]]:
    """Demo orders, returns and refunds, and an owner and a staff account (random passwords unless given)."""
    rng = random.Random(seed_value)
    given, accounts, boss = accounts or {}, {}, None
    for role in ("owner", "staff"):
        email, password = given.get(role) or (f"{role}@example.com", secrets.token_urlsafe(9))
        user = users.create(email, password, role)
        accounts[role] = (email, password)
        boss = boss or user
    now = clock.now()
    workflow.save_settings(
        store_name="Maple & Pine Goods", seller_name="Maple & Pine Goods LLC",
        return_address="Maple & Pine Goods Returns\n1200 Industrial Way, Unit 4\nReno, NV 89502",
        ship_from_name="Maple & Pine Goods", ship_from_street1="1200 Industrial Way, Unit 4", ship_from_city="Reno",
        ship_from_state="NV", ship_from_zip="89502", ship_from_phone="+1 775-555-0100")
    with write_transaction(db.session):
        orders = []
        for n in range(count):
            recent = rng.random() < 0.45  # a busy last week, then the quieter weeks before it
            age = timedelta(minutes=rng.randint(5, 60 * 24 * (7 if recent else 60)))
            paid = age > timedelta(days=1) or rng.random() > 0.25
            if n % 25 == 0:  # a few orders placed today and not paid yet
                age, paid = timedelta(minutes=rng.randint(5, 600)), False
            orders.append(_make_order(rng, n, now - age, paid=paid))
    fates = itertools.cycle(["pending", "authorized", "completed", "closed", "partial"])
    for order in orders:
        _work_on(rng, order, boss, now, fates)
    # One order shipped in part (its first item; the rest Partially shipped), to show how that looks.
    partial = next((o for o in reversed(orders) if o.status == "Unshipped" and len(o.items) > 1), None)
    if partial is not None:
        first = partial.items[0]
        workflow.confirm_shipment(partial, boss, workflow.ShipmentInput(
            carrier="USPS", tracking_id=_tracking(random.Random(partial.id), "USPS"),
            ship_date=clock.local_today(workflow.store_tz()), shipping_service="Ground Advantage",
            items={first.id: first.quantity}))
    return accounts


def _work_on(rng: random.Random, order, user, now, fates):
    """Do to an order what a seller would have done by now, given its age."""
    age = now - order.purchased_at
    if order.status != "Unshipped" or age < timedelta(hours=rng.randint(6, 60)) or \
            (age < timedelta(days=4) and rng.random() < 0.15):  # a few left behind, past Ship by
        return
    roll = rng.random()
    if roll < 0.06:
        workflow.cancel_order(order, user, rng.choice(workflow.CANCEL_REASONS), "Demo", now=order.purchased_at
                              + timedelta(hours=rng.randint(1, 20)))
        return
    when = order.purchased_at + timedelta(hours=rng.choice([6, 12, 20, 30, 40, 44, 47, 60]))
    when = min(when, now)
    carrier = rng.choice(["USPS", "USPS", "UPS", "FedEx"])
    day = clock.to_local(when, workflow.store_tz()).date()
    package = workflow.ShipmentInput(
        carrier=carrier, tracking_id=_tracking(rng, carrier), ship_date=day,
        shipping_service={"USPS": "Ground Advantage", "UPS": "Ground", "FedEx": "Home Delivery"}[carrier])
    first, *rest = order.items
    if rest and roll < 0.15:  # the first item in a box of its own (its own random: the demo's fates stay put)
        package.items = {first.id: first.quantity}
        package = [package, workflow.ShipmentInput(carrier="UPS", tracking_id=_tracking(random.Random(order.id), "UPS"),
                                                   ship_date=day, shipping_service="Ground")]
    workflow.confirm_shipment(order, user, package, now=when)
    if age < timedelta(days=5) or rng.random() > 0.35:
        return
    later = min(when + timedelta(days=rng.randint(3, 9)), now - timedelta(days=1))  # never in the future
    reason = rng.choice(workflow.RETURN_REASONS)
    ret = workflow.create_return(order, user, reason, {order.items[0].id: 1}, now=later)
    fate = next(fates)
    if fate == "pending":
        return
    if fate == "closed":
        workflow.close_return(ret, user, "Buyer withdrew the request", "Thanks for letting us know.", now=later)
        return
    workflow.authorize_return(ret, user, workflow.new_rma_number(), Settings.current().return_address, now=later)
    if fate in ("completed", "partial"):  # refunded after the item came back
        workflow.mark_received(ret, user, {ret.items[0].id: workflow.Received(1, rng.choice(["Sellable", "Damaged"]))},
                               now=min(later + timedelta(days=1), now))
    if fate == "completed":
        workflow.refund(order, user, workflow.RefundInput(kind="full", reason="Customer Return",
                                                          idempotency_key=secrets.token_hex(16), amounts={}),
                        return_request=ret, now=min(later + timedelta(days=4), now))
    elif fate == "partial":
        item = order.items[0]
        workflow.refund(order, user, workflow.RefundInput(
            kind="partial", reason="Merchandise Not As Described", idempotency_key=secrets.token_hex(16),
            amounts={item.id: (Decimal(item.item_price_cents // 4) / 100, Decimal(0))},
            other_concession=Decimal("2.00")), return_request=ret, now=min(later + timedelta(days=2), now))


def is_empty() -> bool:
    """No user and no order: a desk nobody has used."""
    return not (db.session.scalar(select(exists().select_from(User))) or
                db.session.scalar(select(exists().select_from(Order))))


def start_demo() -> bool:
    """A demo desk's first start: seed it (with the published sign-ins) if it is empty. True when it seeded."""
    if not is_empty():
        return False
    seed(DEMO_ORDERS, accounts=DEMO_ACCOUNTS)
    return True


def reset_demo() -> None:
    """Empty every table and seed the demo again (for a scheduler, e.g. nightly)."""
    with write_transaction(db.session):
        for table in reversed(db.metadata.sorted_tables):
            db.session.execute(table.delete())
    db.session.expunge_all()
    seed(DEMO_ORDERS, accounts=DEMO_ACCOUNTS)

"""Packages and partial shipments (contract §12): the verbs, what reads shipments, and the migration that turned
every earlier shipment into one package."""
import io
import os
import re
import subprocess
import sys
from datetime import timedelta
from decimal import Decimal

import pypdf
import pytest
from sqlalchemy import create_engine, select, text

from conftest import PG, ROOT, fresh_pg_database, item_fields, make_order
from seller import clock, config, metrics, reports, workflow
from seller.extensions import db
from seller.models import Order, OrderEvent, Shipment
from seller.workflow import InvalidInput, InvalidTransition, ShipmentInput


def today():
    return clock.local_today(workflow.store_tz())


def package(tracking="1Z999AA10123456784", carrier="UPS", items=None, **kw):
    return ShipmentInput(carrier=carrier, tracking_id=tracking, ship_date=today(), items=items, **kw)


USPS = "9400111899223197428490"


@pytest.fixture
def two_items(app):
    """An Unshipped order of 1 × MUG and 3 × CUP."""
    return make_order("Unshipped", items=[item_fields(sku="MUG", quantity=1), item_fields(sku="CUP", quantity=3)])


def ids(order):
    return [item.id for item in order.items]


def refuse(call, field):
    with pytest.raises(InvalidInput) as exc:
        call()
    assert exc.value.field == field, (exc.value.field, exc.value.message)
    return exc.value.message


def test_one_package_ships_everything_as_before(app, two_items, owner):
    shipment = workflow.confirm_shipment(two_items, owner, package())
    db.session.refresh(two_items)
    assert isinstance(shipment, Shipment) and two_items.status == "Shipped" and two_items.shipped_at
    assert [(line.item.sku, line.quantity) for line in shipment.items] == [("MUG", 1), ("CUP", 3)]
    assert not two_items.partially_shipped and two_items.left_to_ship == []


def test_two_packages_then_the_order_is_shipped(app, two_items, owner):
    mug, cup = ids(two_items)
    shipments = workflow.confirm_shipment(two_items, owner, [package(items={mug: 1, cup: 1}),
                                                             package(USPS, "USPS", items={cup: 2})])
    db.session.refresh(two_items)
    assert two_items.status == "Shipped" and [s.confirmation for s in shipments] == [1, 1]
    assert [(s.tracking_id, {line.item.sku: line.quantity for line in s.items}) for s in two_items.packages] == [
        ("1Z999AA10123456784", {"MUG": 1, "CUP": 1}), (USPS, {"CUP": 2})]
    event = two_items.events[-1]
    assert event.action == "confirm_shipment" and len(event.details["packages"]) == 2
    assert event.details["packages"][1]["items"] == [{"sku": "CUP", "quantity": 2}]


def test_a_partial_shipment_then_the_rest(app, two_items, owner, frozen_now):
    mug, cup = ids(two_items)
    workflow.confirm_shipment(two_items, owner, package(items={mug: 1, cup: 1}))
    db.session.refresh(two_items)
    assert two_items.status == "Unshipped" and two_items.partially_shipped and not two_items.late
    assert [(item.sku, left) for item, left in two_items.left_to_ship] == [("CUP", 2)]
    assert two_items.slip_lines == two_items.left_to_ship
    assert workflow.why_not(two_items, "confirm_shipment", owner) is None
    assert workflow.why_not(two_items, "edit_shipment", owner) is None
    assert "has shipped" in workflow.why_not(two_items, "cancel_order", owner)
    with pytest.raises(InvalidTransition):
        workflow.cancel_order(two_items, owner, "No inventory")
    # The rest, after Ship by: that confirmation is late, and so is the order; "everything" is what is left.
    frozen_now(two_items.ship_by + timedelta(hours=1))
    rest = workflow.confirm_shipment(two_items, owner, package(USPS, "USPS"))
    db.session.refresh(two_items)
    assert rest.late and rest.confirmation == 2 and [(line.item.sku, line.quantity) for line in rest.items] == [
        ("CUP", 2)]
    assert two_items.status == "Shipped" and two_items.late and two_items.shipped_at == two_items.ship_by + timedelta(
        hours=1)
    assert [s.late for s in two_items.packages] == [False, True]
    assert two_items.events[-1].details["late"] is True


def test_partial_on_time_keeps_the_order_on_time_until_ship_by(app, two_items, owner):
    mug, _ = ids(two_items)
    workflow.confirm_shipment(two_items, owner, package(items={mug: 1}))
    db.session.refresh(two_items)
    assert not two_items.is_late(two_items.ship_by - timedelta(minutes=1))
    assert two_items.is_late(two_items.ship_by + timedelta(minutes=1))  # the rest is still to ship


def test_validation_names_the_field(app, two_items, owner):
    mug, cup = ids(two_items)
    ship = lambda *packages: lambda: workflow.confirm_shipment(two_items, owner, list(packages))  # noqa: E731
    assert "at least one unit" in refuse(ship(package(items={mug: 1, cup: 3}), package(items={})),
                                         f"packages-0-qty_{mug}")
    assert "at least one unit" in refuse(ship(package(items={mug: 0, cup: 0})), f"qty_{mug}")
    message = refuse(ship(package(items={cup: 2}), package(items={cup: 2})), f"packages-0-qty_{cup}")
    assert message == "Only 3 of CUP is left to ship: these packages hold 4."
    assert "0 or more" in refuse(ship(package(items={cup: -1})), f"qty_{cup}")
    assert "carrier" in refuse(ship(package(items={mug: 1}), package(carrier="", tracking="X", items={cup: 1})),
                               "packages-0-carrier").lower()
    assert "Other" in refuse(ship(package(items={mug: 1}), package(carrier="Other", items={cup: 1})),
                             "packages-0-carrier_name")
    future = ShipmentInput(carrier="UPS", tracking_id="1Z999AA10123456784", ship_date=today() + timedelta(days=1))
    assert "future" in refuse(ship(future), "ship_date")
    db.session.refresh(two_items)
    assert two_items.status == "Unshipped" and two_items.shipments == [] and two_items.version == 1
    # After a partial shipment, earlier confirmations count too.
    workflow.confirm_shipment(two_items, owner, package(items={cup: 2}))
    assert refuse(ship(package(items={cup: 2})), f"qty_{cup}") == "Only 1 of CUP is left to ship: these packages " \
                                                                  "hold 2."


def test_edit_shipment_edits_one_confirmation(app, two_items, owner):
    mug, cup = ids(two_items)
    workflow.confirm_shipment(two_items, owner, package(items={mug: 1}))
    workflow.confirm_shipment(two_items, owner, package(USPS, "USPS", items={cup: 3}))
    edit = lambda *packages, n=2: lambda: workflow.edit_shipment(two_items, owner, list(packages),  # noqa: E731
                                                                 confirmation=n)
    message = refuse(edit(package(items={cup: 2})), f"qty_{cup}")
    assert message == "This shipment holds 3 of CUP: its packages must hold 3."
    assert "must hold 0" in refuse(edit(package(items={cup: 3, mug: 1})), f"qty_{mug}")
    edited = edit(package("1Z999AA10123456784", items={cup: 1}), package(USPS, "USPS", items={cup: 2}))()
    db.session.refresh(two_items)
    assert two_items.status == "Shipped" and [s.confirmation for s in edited] == [2, 2]
    assert [(s.confirmation, s.tracking_id, s.items[0].quantity) for s in two_items.packages] == [
        (1, "1Z999AA10123456784", 1), (2, "1Z999AA10123456784", 1), (2, USPS, 2)]
    assert len([s for s in two_items.shipments if s.superseded_at]) == 1
    event = two_items.events[-1]
    assert event.action == "edit_shipment" and event.details["previous"][0]["tracking_id"] == USPS
    # Without a number: the last confirmation.
    workflow.edit_shipment(two_items, owner, package("1Z999AA10123456784"))
    db.session.refresh(two_items)
    assert [(s.confirmation, s.items[0].quantity) for s in two_items.packages] == [(1, 1), (2, 3)]


def test_buy_shipping_buys_for_what_is_left(app, two_items, owner):
    mug, cup = ids(two_items)
    workflow.confirm_shipment(two_items, owner, package(items={mug: 1, cup: 1}))
    assert workflow.claim_label(two_items, owner, "key-1", "Demo") is None

    class Purchase:
        carrier, service, cost, tracking_id = "USPS", "Ground Advantage", Decimal("4.85"), USPS
        label_pdf, provider_shipment_id = b"%PDF", "shp_1"
    label, replayed = workflow.buy_shipping(two_items, owner, Purchase, "key-1", provider="Demo", ship_date=today())
    db.session.refresh(two_items)
    assert not replayed and two_items.status == "Shipped"
    bought = db.session.get(Shipment, label.shipment_id)
    assert bought.confirmation == 2 and [(line.item.sku, line.quantity) for line in bought.items] == [("CUP", 2)]


def test_export_has_one_row_per_package_item(app, two_items, owner):
    mug, cup = ids(two_items)
    workflow.confirm_shipment(two_items, owner, [package(items={mug: 1, cup: 1}), package(USPS, "USPS")])
    text_, rows = reports.shipping_confirmations(today(), today())
    lines = text_.splitlines()[2:]
    assert rows == 3 and [line.split("\t")[2:7:4] for line in lines] == [
        ["1", "1Z999AA10123456784"], ["1", "1Z999AA10123456784"], ["2", USPS]]
    assert [line.split("\t")[1] for line in lines] == [two_items.items[0].order_item_id,
                                                       two_items.items[1].order_item_id,
                                                       two_items.items[1].order_item_id]


def test_valid_tracking_rate_counts_packages(app, two_items, owner):
    mug, cup = ids(two_items)
    workflow.confirm_shipment(two_items, owner, [package(items={mug: 1}), package("NOT-A-UPS-ID", items={cup: 3})])
    tracking = next(m for m in metrics.report() if m.definition.slug == "valid-tracking-rate")
    assert (tracking.windows[0].rate.count, tracking.windows[0].rate.total) == (1, 2)


def test_packing_slip_of_a_partially_shipped_order_lists_what_is_left(staff_client, two_items, owner):
    mug, cup = ids(two_items)
    workflow.confirm_shipment(two_items, owner, package(items={mug: 1, cup: 1}))
    pdf = staff_client.get(f"/orders/{two_items.order_id}/packing-slip.pdf")
    words = " ".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(pdf.data)).pages)
    assert "SKU: CUP" in words and "SKU: MUG" not in words
    batch = staff_client.post("/orders/packing-slips.pdf", data={"order_ids": [two_items.order_id]})
    assert "SKU: MUG" not in " ".join(p.extract_text() for p in pypdf.PdfReader(io.BytesIO(batch.data)).pages)


def test_row_and_order_page_show_partially_shipped(owner_client, two_items, owner):
    mug, _ = ids(two_items)
    workflow.confirm_shipment(two_items, owner, package(items={mug: 1}))
    row = owner_client.get(f"/orders/{two_items.order_id}/row").get_data(as_text=True)
    assert "Partially shipped" in row and "Unshipped" in row and "Edit shipment" in row and "Cancel order" not in row
    page = owner_client.get(f"/orders/{two_items.order_id}").get_data(as_text=True)
    assert "Partially shipped" in page and "Left to ship:" in page and "CUP × 3" in page and "MUG × 1" in page


def test_pack_and_ship_packs_what_is_left(app, two_items, owner):
    """Pack & ship on a partially shipped order: only the units left are to check, and its Confirm ships them."""
    from seller.workflow import packing
    mug, cup = ids(two_items)
    workflow.confirm_shipment(two_items, owner, package(items={mug: 1, cup: 1}))
    db.session.refresh(two_items)
    packing.open_pack(two_items, owner)
    assert [(line.item.sku, line.quantity) for line in packing.lines(two_items, packing.session_of(two_items))] == [
        ("CUP", 2)]
    packing.scan_item(two_items, owner, "CUP")
    packing.check_line(two_items, owner, cup)
    with pytest.raises(InvalidInput, match="One too many"):
        packing.scan_item(two_items, owner, "CUP")
    assert packing.unchecked(two_items, packing.session_of(two_items)) == []
    shipment, _replayed = packing.confirm_packed(two_items, owner, package(USPS, "USPS"))
    db.session.refresh(two_items)
    assert two_items.status == "Shipped" and [(line.item.sku, line.quantity) for line in shipment.items] == [
        ("CUP", 2)]


def test_flask_check_counts_packages(app, two_items, owner):
    from seller import checks
    mug, cup = ids(two_items)
    workflow.confirm_shipment(two_items, owner, package(items={cup: 1}))
    bought = make_order("Unshipped")
    assert workflow.claim_label(bought, owner, "k", "Demo") is None

    class Purchase:
        carrier, service, cost, tracking_id = "USPS", "Ground Advantage", Decimal("4.85"), USPS
        label_pdf, provider_shipment_id = b"%PDF", "shp_1"
    workflow.buy_shipping(bought, owner, Purchase, "k", provider="Demo", ship_date=today())
    assert checks.problems() == []
    db.session.execute(text("UPDATE shipment_items SET quantity = 5"))
    db.session.execute(text("UPDATE orders SET status = 'Shipped' WHERE id = :id"), {"id": two_items.id})
    db.session.commit()
    assert sorted(checks.problems()) == sorted([f"{two_items.order_id}: more units in its packages than ordered",
                                                f"{bought.order_id}: more units in its packages than ordered",
                                                f"{two_items.order_id}: Shipped with units in no package",
                                                f"{two_items.order_id}: Shipped without its shipment"])


# ---------------------------------------------------------------- the forms

HX = {"HX-Request": "true"}


def form_data(order, *packages, **extra):
    """The Confirm shipment form as a browser sends it: `packages` as (tracking, carrier, {item id: units})."""
    data = {"ship_date": today().isoformat(), "version": order.version, **extra}
    for n, (tracking, carrier, units) in enumerate(packages):
        prefix = "" if n == 0 else f"packages-{n - 1}-"
        data.update({f"{prefix}tracking_id": tracking, f"{prefix}carrier": carrier, f"{prefix}carrier_name": "",
                     f"{prefix}shipping_service": "Ground"})
        data.update({f"{prefix}qty_{i}": str(q) for i, q in units.items()})
    return data


@pytest.mark.parametrize("headers", [{}, HX], ids=["no-js", "htmx"])
def test_confirm_form_offers_what_is_left_and_add_package(staff_client, two_items, owner, headers):
    mug, cup = ids(two_items)
    workflow.confirm_shipment(two_items, owner, package(items={cup: 1}))
    html = staff_client.get(f"/orders/{two_items.order_id}/ship", headers=headers).text
    assert "Package 1" in html and "Add package" in html and "Left to ship" in html and "Package 2" not in html
    assert f'name="qty_{mug}"' in html and f'name="qty_{cup}"' in html
    assert re.search(rf'name="qty_{cup}"[^>]*value="2"', html) and re.search(rf'name="qty_{mug}"[^>]*value="1"', html)
    added = staff_client.post(f"/orders/{two_items.order_id}/ship", headers=headers,
                              data={**form_data(two_items, ("1Z999AA10123456784", "UPS", {mug: 1, cup: 2})),
                                    "add_package": "1"})
    assert added.status_code == 200 and "Package 2" in added.text and "Remove package" in added.text
    assert f'name="packages-0-qty_{cup}"' in added.text and 'name="packages-0-tracking_id"' in added.text
    assert ("<html" in added.text) == (not headers)
    db.session.refresh(two_items)
    assert len(two_items.shipments) == 1  # nothing shipped by adding a package
    removed = staff_client.post(f"/orders/{two_items.order_id}/ship", headers=headers, data={
        **form_data(two_items, ("1Z999AA10123456784", "UPS", {mug: 1, cup: 2}), ("", "", {mug: 0, cup: 0})),
        "remove_package": "packages-0"})
    assert removed.status_code == 200 and "Package 2" not in removed.text


@pytest.mark.parametrize("headers", [{}, HX], ids=["no-js", "htmx"])
def test_two_packages_through_the_form(staff_client, two_items, headers):
    mug, cup = ids(two_items)
    url = f"/orders/{two_items.order_id}/ship"
    bad = staff_client.post(url, headers=headers, data=form_data(
        two_items, ("1Z999AA10123456784", "UPS", {mug: 1, cup: 3}), (USPS, "USPS", {mug: 0, cup: 0})))
    assert bad.status_code == 422 and "Put at least one unit in this package." in bad.text
    assert f'id="packages-0-qty_{mug}-{two_items.id}-error"' in bad.text
    too_many = staff_client.post(url, headers=headers, data=form_data(
        two_items, ("1Z999AA10123456784", "UPS", {mug: 1, cup: 2}), (USPS, "USPS", {mug: 0, cup: 2})))
    assert too_many.status_code == 422 and "Only 3 of CUP is left to ship: these packages hold 4." in too_many.text
    assert f'id="packages-0-qty_{cup}-{two_items.id}-error"' in too_many.text
    malformed = staff_client.post(url, headers=headers, data=form_data(
        two_items, ("1Z999AA10123456784", "UPS", {mug: "١", cup: "2e0"})))
    assert malformed.status_code == 422 and malformed.text.count("Enter a whole number of units") == 2
    db.session.refresh(two_items)
    assert two_items.shipments == [] and two_items.status == "Unshipped"
    done = staff_client.post(url, headers=headers, data=form_data(
        two_items, ("1Z999AA10123456784", "UPS", {mug: 1, cup: 1}), (USPS, "USPS", {mug: 0, cup: 2})))
    assert done.status_code == (200 if headers else 303)
    db.session.refresh(two_items)
    assert two_items.status == "Shipped" and [p.tracking_id for p in two_items.packages] == [
        "1Z999AA10123456784", USPS]


def test_a_partial_shipment_through_the_form_then_the_rest(owner_client, two_items):
    mug, cup = ids(two_items)
    url = f"/orders/{two_items.order_id}/ship"
    first = owner_client.post(url, headers=HX, data=form_data(two_items, ("1Z999AA10123456784", "UPS",
                                                                          {mug: 1, cup: 0})))
    assert first.status_code == 200 and "Partially shipped" in first.text
    assert "Left to ship: CUP × 3." in first.text
    db.session.refresh(two_items)
    html = owner_client.get(url, headers=HX).text
    assert f'name="qty_{mug}"' not in html and re.search(rf'name="qty_{cup}"[^>]*value="3"', html)
    rest = owner_client.post(url, headers=HX, data=form_data(two_items, (USPS, "USPS", {cup: 3})))
    db.session.refresh(two_items)
    assert rest.status_code == 200 and two_items.status == "Shipped" and "Partially shipped" not in rest.text


def test_edit_shipment_form_edits_one_confirmation(owner_client, two_items, owner):
    mug, cup = ids(two_items)
    workflow.confirm_shipment(two_items, owner, package(items={mug: 1}))
    workflow.confirm_shipment(two_items, owner, [package(USPS, "USPS", items={cup: 1}), package(items={cup: 2})])
    db.session.refresh(two_items)
    url = f"/orders/{two_items.order_id}/edit-shipment"
    last = owner_client.get(url, headers=HX).text
    assert "Package 2" in last and f'name="qty_{mug}"' not in last and USPS in last and "In this shipment" in last
    assert f'href="/orders/{two_items.order_id}/edit-shipment?confirmation=1' in last  # the other shipment
    assert '<strong aria-current="true">Shipment 2</strong>' in last
    first = owner_client.get(url, query_string={"confirmation": 1}).text
    assert "Package 2" not in first and f'name="qty_{mug}"' in first and 'name="confirmation" type="hidden" value="1"' \
        in first
    response = owner_client.post(url, headers=HX, data={
        **form_data(two_items, ("1Z999AA10123456784", "UPS", {cup: 3})), "confirmation": "2"})
    db.session.refresh(two_items)
    assert response.status_code == 200 and "Shipment re-confirmed" in response.text
    assert [(p.confirmation, p.items[0].quantity) for p in two_items.packages] == [(1, 1), (2, 3)]


# ---------------------------------------------------------------- the migration


MIGRATION = ROOT / "seller/migrations/versions/b5d1e3a9c7f2_packages.py"
PREVIOUS_HEAD = re.search(r"^down_revision = '(\w+)'", MIGRATION.read_text(), re.M).group(1)


def _flask(url, *args):
    env = dict(os.environ, DATABASE_URL=url, SECRET_KEY="x")
    subprocess.run([sys.executable, "-m", "flask", "--app", "app", *args], cwd=ROOT, env=env, check=True,
                   capture_output=True)


def test_migration_turns_each_shipment_into_one_package_of_all_its_items(tmp_path):
    """A database filled at the previous head, then upgraded: every shipment (a replaced one too) holds all its
    order's items, as confirmation 1."""
    url = fresh_pg_database("packages") if PG else f"sqlite:///{tmp_path / 'before.db'}"
    _flask(url, "db", "upgrade", PREVIOUS_HEAD)
    engine = create_engine(config.normalize_database_url(url))
    now = "2026-11-20 10:00:00"
    with engine.begin() as conn:
        for n in (1, 2):
            conn.execute(text(
                "INSERT INTO orders (id, order_id, status, version, purchased_at, ship_by, buyer_email, buyer_name, "
                "buyer_phone, recipient_name, ship_address_1, ship_address_2, ship_address_3, ship_city, ship_state, "
                "ship_postal_code, ship_country, ship_phone, currency, ship_service_level, is_business_order, "
                "purchase_order_number, amounts_known, paid_cents, refunded_cents, return_concession_cents, "
                "other_concession_cents, late, created_at, updated_at) VALUES (:id, :oid, :status, 1, :now, :now, "
                "'', '', '', '', '', '', '', '', '', '', 'US', '', 'USD', 'Standard', false, '', true, 0, 0, 0, 0, "
                "false, :now, :now)"), {"id": n, "oid": f"111-000000{n}-0000000",
                                        "status": "Shipped" if n == 1 else "Unshipped", "now": now})
        for n, (order, sku, quantity) in enumerate([(1, "A", 2), (1, "B", 1), (2, "C", 5)], 1):
            conn.execute(text(
                "INSERT INTO order_items (id, order_id, order_item_id, sku, product_name, quantity, "
                "item_price_cents, item_tax_cents, shipping_price_cents, shipping_tax_cents, refunded_item_cents, "
                "refunded_item_tax_cents, refunded_shipping_cents, refunded_shipping_tax_cents) VALUES (:id, :order, "
                ":oiid, :sku, '', :q, 0, 0, 0, 0, 0, 0, 0, 0)"), {"id": n, "order": order, "oiid": f"0000{n}",
                                                                  "sku": sku, "q": quantity})
        for n, (tracking, superseded) in enumerate([("1ZOLD", now), ("1ZNEW", None)], 1):
            conn.execute(text(
                "INSERT INTO shipments (id, order_id, carrier, carrier_name, shipping_service, tracking_id, "
                "tracking_valid, ship_date, note, confirmed_at, late, superseded_at) VALUES (:id, 1, 'UPS', '', '', "
                ":t, true, '2026-11-20', '', :now, false, :sup)"), {"id": n, "t": tracking, "now": now,
                                                                     "sup": superseded})
    engine.dispose()
    _flask(url, "db", "upgrade")
    engine = create_engine(config.normalize_database_url(url))
    with engine.connect() as conn:
        lines = conn.execute(text("SELECT s.tracking_id, s.confirmation, i.sku, si.quantity FROM shipment_items si "
                                  "JOIN shipments s ON s.id = si.shipment_id JOIN order_items i ON "
                                  "i.id = si.order_item_id ORDER BY s.id, i.id")).all()
    engine.dispose()
    assert [tuple(row) for row in lines] == [("1ZOLD", 1, "A", 2), ("1ZOLD", 1, "B", 1), ("1ZNEW", 1, "A", 2),
                                             ("1ZNEW", 1, "B", 1)]

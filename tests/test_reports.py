"""Order report import and shipping confirmation export (contract §8): the code, the CLI and the web."""
import io
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select, text

from seller import reports, workflow
from seller.extensions import db
from seller.models import Order, OrderEvent, OrderItem, Shipment

from conftest import add_user, item_fields, make_app, reset_schema, sign_in
from fixtures.generate import order_report

FIXTURES = Path(__file__).parent / "fixtures"
LA = ZoneInfo("America/Los_Angeles")
HEADER = ("order-id order-item-id purchase-date payments-date buyer-email buyer-name buyer-phone-number sku "
          "product-name quantity-purchased currency item-price item-tax shipping-price shipping-tax "
          "ship-service-level recipient-name ship-address-1 ship-address-2 ship-address-3 ship-city ship-state "
          "ship-postal-code ship-country ship-phone-number").split()
UNSHIPPED_HEADER = [c for c in HEADER if c not in reports.AMOUNTS and c != "currency"] + [
    "promise-date", "is-business-order", "purchase-order-number"]


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def row(**cells) -> dict:
    """A good Order Report row; keyword names use _ for -, e.g. item_price="12.00"."""
    base = {"order-id": "111-0000001-0000001", "order-item-id": "10000000000001",
            "purchase-date": "2026-11-20T08:15:22-08:00", "payments-date": "2026-11-20T08:17:03-08:00",
            "buyer-email": "b1@marketplace.amazon.com", "buyer-name": "Ava Brown", "sku": "SKU-1",
            "product-name": "Thing", "quantity-purchased": "1", "currency": "USD", "item-price": "10.00",
            "item-tax": "0.83", "shipping-price": "4.99", "shipping-tax": "0.41", "ship-service-level": "Standard",
            "recipient-name": "Ava Brown", "ship-address-1": "1 Main St", "ship-city": "Seattle",
            "ship-state": "WA", "ship-postal-code": "98101", "ship-country": "US"}
    return {**base, **{k.replace("_", "-"): v for k, v in cells.items()}}


def report(rows: list[dict], header=HEADER) -> bytes:
    lines = ["\t".join(header)] + ["\t".join(r.get(c, "") for c in header) for r in rows]
    return ("\n".join(lines) + "\n").encode()


def snapshot() -> dict:
    """Every row the import or the export could touch, for "the database is unchanged"."""
    db.session.expire_all()
    return {m.__tablename__: db.session.execute(select(m.__table__).order_by(m.__table__.c.id)).all()
            for m in (Order, OrderItem, OrderEvent, Shipment)}


def order(order_id: str) -> Order:
    db.session.expire_all()
    return db.session.scalar(select(Order).where(Order.order_id == order_id))


def events(order_id: str) -> list[OrderEvent]:
    return order(order_id).events


def errors(result) -> list[tuple[int, str]]:
    return [(e.line, e.message) for e in result.errors]


# ---------------------------------------------------------------- Order Report


def test_order_report_creates_orders_with_exact_amounts_and_statuses(app):
    result = reports.import_report(fixture("order-report.txt"))
    assert result.ok and (result.new, result.updated, result.unchanged, result.rows) == (3, 0, 0, 4)
    assert result.variant == "Order Report"

    o = order("112-3456789-1234567")
    assert o.status == "Unshipped" and o.amounts_known
    assert o.purchased_at == datetime(2026, 11, 20, 16, 15, 22)  # 08:15:22 -08:00, stored as UTC
    assert o.paid_at == datetime(2026, 11, 20, 16, 17, 3)
    assert o.ship_by == o.purchased_at + timedelta(hours=48)
    assert (o.buyer_name, o.ship_address_2, o.ship_postal_code, o.buyer_phone) == (
        "Emily Johnson", "Apt 12", "98101-2204", "+1 206-555-0142")
    stand, pens = o.items
    assert (stand.sku, stand.quantity, stand.item_price_cents, stand.item_tax_cents, stand.shipping_price_cents,
            stand.shipping_tax_cents) == ("PB-1001-BLK", 2, 2598, 214, 499, 41)  # totals for the quantity
    assert (pens.item_price_cents, pens.item_tax_cents, pens.shipping_price_cents) == (849, 70, 0)
    assert o.paid_cents == 2598 + 214 + 499 + 41 + 849 + 70

    utc = order("113-9081726-5544332")  # dates with Z, names beyond ASCII
    assert utc.purchased_at == datetime(2026, 11, 21, 23, 48, 9) and utc.recipient_name == "Zoë Müller-García"
    assert utc.items[0].product_name == "Magnetic Building Tiles 60 pcs 磁力片积木"

    pending = order("114-2200456-7781234")  # no payments-date: Pending, no address
    assert pending.status == "Pending" and pending.paid_at is None and pending.ship_address_1 == ""
    assert [(e.action, e.details) for e in events("114-2200456-7781234")] == [
        ("import", {"items": 1, "status": "Pending"})]


def test_importing_the_same_file_twice_changes_nothing(app):
    reports.import_report(fixture("order-report.txt"))
    before = snapshot()
    again = reports.import_report(fixture("order-report.txt"))
    assert again.ok and (again.new, again.updated, again.unchanged) == (0, 0, 3)
    assert snapshot() == before


def test_bom_crlf_shuffled_and_unknown_columns_read_the_same(app):
    """The same orders written with a BOM, CRLF, the columns shuffled and extra columns."""
    assert fixture("order-report-bom-shuffled.txt").startswith(b"\xef\xbb\xbf")
    first = reports.import_report(fixture("order-report-bom-shuffled.txt"))
    assert first.ok and first.new == 3
    o = order("112-3456789-1234567")
    assert (o.buyer_name, o.paid_cents, o.ship_city, [i.sku for i in o.items]) == (
        "Emily Johnson", 4271, "Seattle", ["PB-1001-BLK", "OF-9120"])
    plain = reports.import_report(fixture("order-report.txt"))
    assert plain.ok and (plain.new, plain.updated, plain.unchanged) == (0, 0, 3)


def test_a_file_with_bad_rows_imports_nothing(app, order_factory):
    order_factory("Unshipped")
    reports.import_report(fixture("order-report.txt"))
    before = snapshot()
    result = reports.import_report(fixture("order-report-bad-rows.txt"))
    assert errors(result) == [
        (2, 'item-price "25.985": Use at most two decimal places (cents).'),
        (3, "order-id is missing"),
        (4, 'purchase-date "21/11/2026" is not a date like 2026-11-20T08:15:22-08:00'),
        (5, 'quantity-purchased "0" is not a whole number of 1 or more'),
    ]
    assert (result.new, result.updated, result.unchanged) == (0, 0, 0)
    assert snapshot() == before  # line 6 is a good new order: not imported either
    assert order("111-7000001-0000001") is None


@pytest.mark.parametrize("cells, message", [
    ({"order_id": ""}, "order-id is missing"),
    ({"order_item_id": " "}, "order-item-id is missing"),
    ({"sku": ""}, "sku is missing"),
    ({"purchase_date": ""}, "purchase-date is missing"),
    ({"purchase_date": "2026-02-30T10:00:00-08:00"}, 'purchase-date "2026-02-30T10:00:00-08:00" is not a date'),
    ({"payments_date": "20261120"}, 'payments-date "20261120" is not a date'),
    ({"payments_date": "Nov 20, 2026"}, 'payments-date "Nov 20, 2026" is not a date'),
    ({"item_price": "1e3"}, 'item-price "1e3": Enter an amount in dollars and cents'),
    ({"item_tax": "NaN"}, 'item-tax "NaN": Enter an amount in dollars and cents'),
    ({"shipping_price": "-4.99"}, 'shipping-price "-4.99": Enter an amount that is not negative.'),
    ({"shipping_tax": "٠.٤١"}, 'shipping-tax "٠.٤١": Enter an amount in dollars and cents'),
    ({"item_price": "10.005"}, 'item-price "10.005": Use at most two decimal places (cents).'),
    ({"item_price": "1000000.01"}, 'item-price "1000000.01" is too large'),
    ({"quantity_purchased": "1.5"}, 'quantity-purchased "1.5" is not a whole number of 1 or more'),
    ({"quantity_purchased": "-2"}, 'quantity-purchased "-2" is not a whole number of 1 or more'),
    ({"quantity_purchased": ""}, 'quantity-purchased "" is not a whole number of 1 or more'),
    ({"quantity_purchased": "²"}, 'quantity-purchased "²" is not a whole number of 1 or more'),
    ({"quantity_purchased": "100001"}, 'quantity-purchased "100001" is too large'),
    ({"ship_country": "USA"}, 'ship-country "USA" is not a two-letter country code'),
    ({"currency": "$"}, 'currency "$" is not a currency code like USD'),
    ({"buyer_name": "x" * 201}, "buyer-name is longer than 200 characters"),
    ({"ship_city": "Seattle\x00"}, "a cell holds a NUL character (the file is damaged)"),
])
def test_each_bad_cell_is_reported_on_its_line(app, cells, message):
    data = report([row(), row(**{"order_id": "111-0000002-0000002", "order_item_id": "20000000000002", **cells})])
    result = reports.import_report(data)
    assert len(result.errors) == 1 and result.errors[0].line == 3
    assert result.errors[0].message.startswith(message)
    assert snapshot() == {"orders": [], "order_items": [], "order_events": [], "shipments": []}


@pytest.mark.parametrize("data, expected", [
    (b"", [(1, "the file is empty")]),
    (b"\xef\xbb\xbf\n", [(1, "the file is empty")]),
    (b"order-id,order-item-id,purchase-date\n1,2,3\n", [(1, "the file is not tab-delimited: upload the report as "
                                                           "Amazon writes it (a .txt file), not a spreadsheet "
                                                           "saved as CSV")]),
    (b"order-id\tsku\tquantity-purchased\n", [(1, "not an Amazon order report: the header has no order-item-id, "
                                                  "purchase-date, payments-date")]),
    (report([], HEADER + ["sku"]), [(1, "the header names a column twice: sku")]),
    (report([], [c for c in HEADER if c != "shipping-tax"]), [(1, "the header has item-price but no shipping-tax")]),
    (report([]), [(2, "the file has a header but no orders")]),
    (report([row()]) + b"a\tb\t\xff\xfe\n", [(3, "the file is not UTF-8 text: download the report again from "
                                                 "Seller Central and upload it unchanged")]),
    (report([row()]) + "\t".join(["x"] * (len(HEADER) + 1)).encode() + b"\n",
     [(3, f"{len(HEADER) + 1} cells, but the header has {len(HEADER)} columns")]),
])
def test_files_that_are_not_order_reports_are_refused(app, data, expected):
    result = reports.import_report(data)
    assert errors(result) == expected
    assert db.session.scalar(select(func.count()).select_from(Order)) == 0


def test_rows_of_one_order_must_agree_and_item_ids_must_be_unique(app):
    data = report([row(), row(order_item_id="10000000000002", buyer_name="Someone Else"),
                   row(order_id="111-0000002-0000002"),
                   row(order_id="111-0000003-0000003", order_item_id="30000000000003"),
                   row(order_id="111-0000003-0000003", order_item_id="30000000000004",
                       payments_date="")])
    assert errors(reports.import_report(data)) == [
        (3, "order 111-0000001-0000001 has another buyer-name on line 2"),
        (4, "order-item-id 10000000000001 is also on line 2"),
        (6, "order 111-0000003-0000003 has another payments-date on line 5"),
    ]


def test_rows_of_one_order_are_grouped_wherever_they_are(app):
    data = report([row(), row(order_id="111-0000002-0000002", order_item_id="20000000000001"),
                   row(order_item_id="10000000000002", sku="SKU-2", item_price="2.50", quantity_purchased="2")])
    result = reports.import_report(data)
    assert (result.new, result.rows) == (2, 3)
    first = order("111-0000001-0000001")
    assert [(i.sku, i.quantity, i.item_price_cents) for i in first.items] == [("SKU-1", 1, 1000), ("SKU-2", 2, 250)]
    assert first.paid_cents == 1000 + 83 + 499 + 41 + 250 + 83 + 499 + 41


def test_item_ids_of_other_orders_and_new_items_on_known_orders_are_refused(app):
    reports.import_report(report([row()]))
    before = snapshot()
    taken = report([row(order_id="111-0000009-0000009")])  # same order-item-id, another order
    assert errors(reports.import_report(taken)) == [
        (2, "order-item-id 10000000000001 belongs to order 111-0000001-0000001")]
    grown = report([row(), row(order_item_id="10000000000002")])
    assert errors(reports.import_report(grown)) == [
        (3, "order 111-0000001-0000001 was imported before without item 10000000000002; an order cannot gain items")]
    assert snapshot() == before


@pytest.mark.parametrize("text, expected", [
    ("2026-11-20T08:15:22-08:00", datetime(2026, 11, 20, 16, 15, 22)),
    ("2026-11-20T16:15:22Z", datetime(2026, 11, 20, 16, 15, 22)),
    ("2026-11-20T16:15:22+00:00", datetime(2026, 11, 20, 16, 15, 22)),
    ("2026-07-04T09:00:00-07:00", datetime(2026, 7, 4, 16, 0)),
    ("2026-11-20T08:15:22", datetime(2026, 11, 20, 16, 15, 22)),  # no offset: store time (PST)
    ("2026-07-04 09:00:00", datetime(2026, 7, 4, 16, 0)),  # PDT
    ("2026-11-20", datetime(2026, 11, 20, 8, 0)),  # a plain date: 00:00 of that store day
    ("2026-03-08", datetime(2026, 3, 8, 8, 0)),  # the day DST starts begins in PST
    ("2026-03-09", datetime(2026, 3, 9, 7, 0)),  # and the next in PDT
])
def test_report_dates_become_naive_utc(text, expected):
    assert reports.parse_report_date(text, LA) == expected


def test_a_plain_promise_date_lasts_until_the_end_of_the_store_day():
    assert reports.parse_report_date("2026-11-25", LA, end_of_day=True) == datetime(2026, 11, 26, 7, 59, 59)
    assert reports.parse_report_date("2026-11-25T23:59:59-08:00", LA, end_of_day=True) == datetime(2026, 11, 26, 7,
                                                                                                  59, 59)


# ---------------------------------------------------------------- later reports: payments, changes


def test_a_later_report_pays_a_pending_order_through_the_workflow(app):
    reports.import_report(report([row(payments_date="", recipient_name="", ship_address_1="", ship_city="")]))
    pending = order("111-0000001-0000001")
    assert pending.status == "Pending" and pending.version == 1
    result = reports.import_report(report([row(payments_date="2026-11-21T09:30:00-08:00")]))
    assert (result.new, result.updated, result.unchanged) == (0, 1, 0)
    paid = order("111-0000001-0000001")
    assert (paid.status, paid.paid_at, paid.ship_address_1, paid.version) == (
        "Unshipped", datetime(2026, 11, 21, 17, 30), "1 Main St", 2)
    event = paid.events[-1]
    assert event.action == "mark_paid"
    assert event.details["changes"]["paid_at"] == [None, "2026-11-21T17:30:00"]
    assert event.details["changes"]["ship_address_1"] == ["", "1 Main St"]
    again = reports.import_report(report([row(payments_date="2026-11-21T09:30:00-08:00")]))
    assert (again.updated, again.unchanged, len(events("111-0000001-0000001"))) == (0, 1, 2)


def test_an_older_report_without_the_payment_does_not_undo_it(app):
    older = report([row(payments_date="", recipient_name="", ship_address_1="")])
    reports.import_report(older)
    reports.import_report(report([row()]))
    before = snapshot()
    result = reports.import_report(older)
    assert (result.updated, result.unchanged) == (0, 1)
    assert snapshot() == before and order("111-0000001-0000001").ship_address_1 == "1 Main St"


def test_a_changed_address_updates_an_unshipped_order_with_a_history_event(app):
    reports.import_report(report([row()]))
    result = reports.import_report(report([row(ship_address_1="9 New Rd", quantity_purchased="2",
                                               item_price="20.00")]))
    assert (result.new, result.updated, result.unchanged) == (0, 1, 0)
    o = order("111-0000001-0000001")
    assert (o.ship_address_1, o.items[0].quantity, o.items[0].item_price_cents, o.paid_cents) == (
        "9 New Rd", 2, 2000, 2000 + 83 + 499 + 41)
    event = o.events[-1]
    assert event.action == "import_update"
    assert event.details["changes"] == {"ship_address_1": ["1 Main St", "9 New Rd"],
                                        "paid_cents": [1000 + 83 + 499 + 41, 2000 + 83 + 499 + 41]}
    assert event.details["items"] == [{"order_item_id": "10000000000001", "quantity": [1, 2],
                                       "item_price_cents": [1000, 2000]}]


def test_shipped_and_canceled_orders_keep_what_was_shipped_or_canceled(app, order_factory):
    shipped, canceled = order_factory("Shipped"), order_factory("Canceled")
    before = snapshot()
    rows = [row(order_id=o.order_id, order_item_id=o.items[0].order_item_id, sku=o.items[0].sku,
                purchase_date=o.purchased_at.isoformat() + "Z", payments_date=o.paid_at.isoformat() + "Z",
                ship_address_1="Somewhere Else", item_price="99.00") for o in (shipped, canceled)]
    result = reports.import_report(report(rows))
    assert (result.updated, result.unchanged) == (0, 2)
    assert snapshot() == before


def test_a_change_made_while_importing_refuses_the_whole_file(app, monkeypatch):
    """The bulk guard: an order changed between the importer's read and its write is never overwritten."""
    reports.import_report(report([row(payments_date="")]))
    before = snapshot()
    read = reports._existing

    def read_then_someone_changes_it(orders):
        found = read(orders)
        db.session.execute(text("UPDATE orders SET version = version + 1"))  # another tablet, meanwhile
        return found

    monkeypatch.setattr(reports, "_existing", read_then_someone_changes_it)
    result = reports.import_report(report([row(), row(order_id="111-0000002-0000002", order_item_id="2")]))
    assert errors(result) == [(1, "Some of these orders were changed while the file was being imported. "
                                  "Upload the file again.")]
    assert (result.new, result.updated) == (0, 0)
    assert snapshot() == before


# ---------------------------------------------------------------- Unshipped Orders Report


def test_unshipped_report_alone_makes_orders_that_ship_but_do_not_refund(app, owner):
    result = reports.import_report(fixture("unshipped-orders-report.txt"))
    assert result.ok and (result.new, result.variant) == (2, "Unshipped Orders Report")
    business = order("111-5566778-9900112")
    assert (business.status, business.amounts_known, business.paid_cents) == ("Unshipped", False, 0)
    assert (business.is_business_order, business.purchase_order_number, business.ship_address_3) == (
        True, "PO-48213", "Suite 400")
    assert business.promise_at == datetime(2026, 11, 27, 7, 59, 59)
    assert business.ship_by == business.promise_at  # the report's promise date, not purchase + 48 h
    assert business.items[0].quantity == 3 and business.items[0].item_price_cents == 0
    workflow.confirm_shipment(business, None, workflow.ShipmentInput(
        carrier="UPS", tracking_id="1Z999AA10123456784", ship_date=date(2026, 11, 24)),
        now=datetime(2026, 11, 24, 20, 0))
    assert order("111-5566778-9900112").status == "Shipped"
    assert "refund" not in workflow.available_actions(order("111-5566778-9900112"), owner)
    with pytest.raises(workflow.NotRefundable):
        workflow.refund(order("111-5566778-9900112"), None, workflow.RefundInput(
            kind="full", reason="No Inventory", idempotency_key="k1", amounts={}))


def test_unshipped_report_never_overwrites_known_amounts(app):
    reports.import_report(fixture("order-report.txt"))
    lamp = order("114-2200456-7781234")
    amounts = (lamp.paid_cents, [(i.item_price_cents, i.item_tax_cents) for i in lamp.items])
    assert amounts == (3650 + 301, [(3650, 301)])
    result = reports.import_report(fixture("unshipped-orders-report.txt"))
    assert (result.new, result.updated, result.unchanged) == (1, 1, 0)
    lamp = order("114-2200456-7781234")
    assert (lamp.paid_cents, [(i.item_price_cents, i.item_tax_cents) for i in lamp.items]) == amounts
    assert lamp.amounts_known and lamp.status == "Unshipped" and lamp.buyer_name == "Daniel Chen"
    assert lamp.promise_at == datetime(2026, 11, 26, 7, 59, 59) and lamp.ship_by == lamp.promise_at
    assert [e.action for e in lamp.events] == ["import", "mark_paid"]
    again = reports.import_report(fixture("order-report.txt"))  # older: the lamp's row has no payment yet
    assert (again.new, again.updated, again.unchanged) == (0, 0, 3)


def test_the_order_report_fills_in_amounts_the_unshipped_report_did_not_have(app, owner):
    reports.import_report(fixture("unshipped-orders-report.txt"))
    o = order("111-5566778-9900112")
    workflow.confirm_shipment(o, None, workflow.ShipmentInput(carrier="USPS", tracking_id="9400111899223197428490",
                                                              ship_date=date(2026, 11, 24)),
                              now=datetime(2026, 11, 24, 20, 0))
    priced = report([row(order_id="111-5566778-9900112", order_item_id="83310274650091", sku="KT-2101-S",
                         purchase_date="2026-11-23T06:12:40-08:00", payments_date="2026-11-23T06:14:02-08:00",
                         quantity_purchased="3", item_price="74.85", item_tax="6.18", shipping_price="0.00",
                         shipping_tax="0.00")])
    result = reports.import_report(priced)
    assert (result.updated, result.unchanged) == (1, 0)
    o = order("111-5566778-9900112")
    assert (o.status, o.amounts_known, o.paid_cents) == ("Shipped", True, 7485 + 618)
    assert o.ship_address_1 == "Patel Catering LLC"  # shipped: the address shipped to stays
    assert o.events[-1].details["changes"] == {"paid_cents": [0, 8103], "amounts_known": [False, True]}
    assert "refund" in workflow.available_actions(o, owner)


# ---------------------------------------------------------------- 10,000 rows


def test_ten_thousand_rows(app):
    data = order_report(10_000)
    rows = [line.split("\t") for line in data.decode().splitlines()[1:]]
    order_ids = {r[0] for r in rows}
    pending = {r[0] for r in rows if not r[3]}
    paid_total = sum(sum(Decimal(r[c]) for c in (11, 12, 13, 14)) for r in rows) * 100

    result = reports.import_report(data)
    assert result.ok and (result.rows, result.new, result.updated, result.unchanged) == (10_000, len(order_ids), 0, 0)
    count = lambda q: db.session.scalar(q)  # noqa: E731
    assert count(select(func.count()).select_from(OrderItem)) == 10_000
    assert count(select(func.count()).where(Order.status == "Pending")) == len(pending)
    assert count(select(func.sum(Order.paid_cents))) == paid_total
    assert count(select(func.count()).select_from(OrderEvent)) == len(order_ids)

    again = reports.import_report(data)
    assert (again.new, again.updated, again.unchanged) == (0, 0, len(order_ids))
    assert count(select(func.count()).select_from(OrderEvent)) == len(order_ids)

    later = reports.import_report(order_report(10_000, later=True))
    assert (later.new, later.updated, later.unchanged) == (0, len(pending), len(order_ids) - len(pending))
    assert count(select(func.count()).where(Order.status == "Pending")) == 0
    assert count(select(func.count()).where(OrderEvent.action == "mark_paid")) == len(pending)


# ---------------------------------------------------------------- CLI


def test_cli_import_prints_counts(app):
    path = FIXTURES / "order-report.txt"
    result = app.test_cli_runner().invoke(args=["import-orders", str(path)])
    assert result.exit_code == 0, result.output
    assert result.output == f"Imported {path}: 3 new, 0 updated, 0 unchanged (4 rows, Order Report).\n"
    again = app.test_cli_runner().invoke(args=["import-orders", str(path)])
    assert "0 new, 0 updated, 3 unchanged" in again.output


def test_cli_import_lists_bad_rows_and_fails(app):
    result = app.test_cli_runner().invoke(args=["import-orders", str(FIXTURES / "order-report-bad-rows.txt")])
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        'Line 2: item-price "25.985": Use at most two decimal places (cents).',
        "Line 3: order-id is missing",
        'Line 4: purchase-date "21/11/2026" is not a date like 2026-11-20T08:15:22-08:00',
        'Line 5: quantity-purchased "0" is not a whole number of 1 or more',
        "Error: Nothing was imported: 4 bad rows.",
    ]
    assert db.session.scalar(select(func.count()).select_from(Order)) == 0


# ---------------------------------------------------------------- web upload


def upload(client, data: bytes, **headers):
    return client.post("/orders/import", data={"report": (io.BytesIO(data), "report.txt")},
                       content_type="multipart/form-data", headers=headers)


def test_import_page_has_the_upload_form_with_progress(owner_client):
    page = owner_client.get("/orders/import")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert '<label for="report">Order report</label>' in html and 'type="file"' in html
    assert 'enctype="multipart/form-data"' in html and 'hx-encoding="multipart/form-data"' in html
    assert "<progress" in html and ">Upload</button>" in html


def test_owner_uploads_a_report(owner_client):
    page = upload(owner_client, fixture("order-report.txt"))
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "<html" in html
    assert "Imported: 3 new, 0 updated, 0 unchanged" in html
    assert order("112-3456789-1234567").events[0].user.email == "owner@example.com"


def test_owner_uploads_a_report_with_htmx(owner_client):
    page = upload(owner_client, fixture("order-report.txt"), **{"HX-Request": "true"})
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "<html" not in html and 'id="import"' in html
    assert "Imported: 3 new, 0 updated, 0 unchanged" in html and "HX-Request" in page.headers["Vary"]
    again = upload(owner_client, fixture("order-report.txt"), **{"HX-Request": "true"})
    assert "Imported: 0 new, 0 updated, 3 unchanged" in again.get_data(as_text=True)


@pytest.mark.parametrize("htmx", [False, True])
def test_upload_with_bad_rows_shows_them_and_imports_nothing(owner_client, htmx):
    page = upload(owner_client, fixture("order-report-bad-rows.txt"), **({"HX-Request": "true"} if htmx else {}))
    html = page.get_data(as_text=True)
    assert page.status_code == 422 and ("<html" in html) != htmx
    assert "Nothing was imported: 4 bad rows" in html
    assert '<td class="num">3</td><td>order-id is missing</td>' in html
    assert "25.985" in html and "21/11/2026" in html
    assert db.session.scalar(select(func.count()).select_from(Order)) == 0


def test_upload_without_a_file_asks_for_one(owner_client):
    page = owner_client.post("/orders/import", data={}, content_type="multipart/form-data")
    assert page.status_code == 422
    assert "Choose the order report file to upload." in page.get_data(as_text=True)


@pytest.mark.browser
def test_browser_upload_shows_progress_and_swaps_in_the_result(page, live_server, browser_user, tmp_path):
    from playwright.sync_api import expect
    from conftest import browser_sign_in
    order_id = f"111-{datetime.now():%H%M%S%f}"[:19]
    path = tmp_path / "report.txt"
    path.write_bytes(report([row(order_id=order_id, order_item_id=order_id.replace("-", ""))]))
    browser_sign_in(page, live_server.url, *browser_user)
    page.goto(live_server.url + "/orders/import")
    page.evaluate("window.samePage = true")
    page.locator("#import form").evaluate("""form => form.dispatchEvent(new CustomEvent("htmx:xhr:progress",
        {bubbles: true, detail: {lengthComputable: true, loaded: 40, total: 100}}))""")  # as htmx sends it
    expect(page.locator("[data-upload-progress]")).to_be_visible()
    expect(page.locator("[data-upload-progress]")).to_contain_text("Uploading… 40 %")
    assert page.locator("[data-upload-progress] progress").evaluate("bar => bar.value") == 40
    page.get_by_label("Order report").set_input_files(path)
    page.get_by_role("button", name="Upload").click()
    expect(page.locator(".import-result")).to_contain_text("Imported: 1 new, 0 updated, 0 unchanged",
                                                           timeout=15_000)  # a busy 2-core CI box
    assert page.evaluate("window.samePage") is True  # swapped in place, no page load


def test_staff_cannot_import(staff_client):
    assert staff_client.get("/orders/import").status_code == 403
    assert upload(staff_client, fixture("order-report.txt")).status_code == 403
    assert db.session.scalar(select(func.count()).select_from(Order)) == 0


def test_upload_needs_the_csrf_token(db_url):
    strict = make_app(db_url, WTF_CSRF_ENABLED=True)
    reset_schema(strict)
    with strict.app_context():
        client = sign_in(strict.test_client(), add_user("owner@example.com", "owner"))
        assert upload(client, fixture("order-report.txt")).status_code == 400
        token = client.get("/orders/import").get_data(as_text=True).split('name="csrf_token" type="hidden" value="')[1]
        token = token.split('"')[0]
        assert upload(client, fixture("order-report.txt"), **{"X-CSRFToken": token}).status_code == 200
        assert order("112-3456789-1234567") is not None
        db.session.remove()
    with strict.app_context():
        db.engine.dispose()


# ---------------------------------------------------------------- export


def ship(o: Order, confirmed_local: datetime, carrier="UPS", tracking="1Z999AA10123456784", **more):
    """Confirm `o` at a wall-clock moment of the store (Los Angeles)."""
    now = confirmed_local.replace(tzinfo=LA).astimezone(ZoneInfo("UTC")).replace(tzinfo=None)
    workflow.confirm_shipment(o, None, workflow.ShipmentInput(
        carrier=carrier, tracking_id=tracking, ship_date=confirmed_local.date(), shipping_service="Ground", **more),
        now=now)


@pytest.fixture
def shipped(order_factory):
    """Shipments around the store day 2026-11-20 (PST) and the DST change of 2026-03-08."""
    bought = datetime(2026, 3, 1, 12, 0)
    make = lambda *items: order_factory("Unshipped", purchased_at=bought, items=list(items))  # noqa: E731
    o = {"day_before": make(item_fields()), "first_minute": make(item_fields(quantity=2), item_fields(sku="SKU-2")),
         "last_minute": make(item_fields()), "next_day": make(item_fields()), "edited": make(item_fields()),
         "dst_last": make(item_fields()), "dst_next": make(item_fields()), "unshipped": make(item_fields())}
    ship(o["day_before"], datetime(2026, 11, 19, 23, 59, 59))
    ship(o["first_minute"], datetime(2026, 11, 20, 0, 0), carrier="Other", tracking="PB123456",
         carrier_name="Pitney Bowes")
    ship(o["last_minute"], datetime(2026, 11, 20, 23, 59, 59), carrier="FedEx", tracking="123456789012")
    ship(o["next_day"], datetime(2026, 11, 21, 0, 0))
    ship(o["edited"], datetime(2026, 11, 15, 9, 0))
    workflow.edit_shipment(o["edited"], None, workflow.ShipmentInput(
        carrier="USPS", tracking_id="9400111899223197428490", ship_date=date(2026, 11, 15),
        shipping_service="Priority Mail"), now=datetime(2026, 11, 20, 18, 30))  # 10:30 PST
    ship(o["dst_last"], datetime(2026, 3, 8, 23, 59))  # 23 h day: ends 07:00 UTC
    ship(o["dst_next"], datetime(2026, 3, 9, 0, 0))
    return {k: order(v.order_id) for k, v in o.items()}


def lines_of(o: Order, ship_date: str, carrier="UPS", name="", tracking="1Z999AA10123456784", method="Ground"):
    return [f"{o.order_id}\t{i.order_item_id}\t{i.quantity}\t{ship_date}\t{carrier}\t{name}\t{tracking}\t{method}"
            for i in o.items]


HEAD = ["TemplateType=OrderFulfillment\tVersion=2011.1102",
        "order-id\torder-item-id\tquantity\tship-date\tcarrier-code\tcarrier-name\ttracking-number\tship-method"]


def test_export_one_store_day_exactly(app, shipped):
    text, rows = reports.shipping_confirmations(date(2026, 11, 20), date(2026, 11, 20))
    expected = HEAD + (
        lines_of(shipped["first_minute"], "2026-11-20", "Other", "Pitney Bowes", "PB123456")
        + lines_of(shipped["edited"], "2026-11-15", "USPS", "", "9400111899223197428490", "Priority Mail")
        + lines_of(shipped["last_minute"], "2026-11-20", "FedEx", "", "123456789012"))
    assert text == "\n".join(expected) + "\n" and rows == 4
    assert len(lines_of(shipped["first_minute"], "")) == 2  # one row per shipped item


def test_export_day_edges_in_the_store_timezone(app, shipped):
    ids = lambda since, until: [line.split("\t")[0] for line in  # noqa: E731
                                reports.shipping_confirmations(since, until)[0].splitlines()[2:]]
    assert ids(date(2026, 11, 19), date(2026, 11, 19)) == [shipped["day_before"].order_id]
    assert ids(date(2026, 11, 21), date(2026, 11, 21)) == [shipped["next_day"].order_id]
    assert ids(date(2026, 11, 15), date(2026, 11, 15)) == []  # the superseded shipment is not exported
    assert ids(date(2026, 3, 8), date(2026, 3, 8)) == [shipped["dst_last"].order_id]
    assert ids(date(2026, 3, 9), date(2026, 3, 9)) == [shipped["dst_next"].order_id]
    everything = ids(None, None)
    assert len(everything) == 8 and shipped["unshipped"].order_id not in everything


def test_export_with_nothing_shipped_is_the_two_header_lines(app):
    assert reports.shipping_confirmations(date(2026, 11, 20), date(2026, 11, 20)) == ("\n".join(HEAD) + "\n", 0)


def test_cli_export_to_stdout_and_to_a_file(app, shipped, tmp_path):
    expected, _ = reports.shipping_confirmations(date(2026, 11, 20), date(2026, 11, 21))
    runner = app.test_cli_runner()
    out = runner.invoke(args=["export-shipments", "--since", "2026-11-20", "--until", "2026-11-21"])
    assert out.exit_code == 0 and out.stdout == expected
    target = tmp_path / "confirm.txt"
    written = runner.invoke(args=["export-shipments", "--since", "2026-11-20", "--output", str(target)])
    assert written.exit_code == 0 and written.stdout == f"Wrote 5 rows to {target}.\n"
    assert target.read_text(encoding="utf-8") == expected
    bad = runner.invoke(args=["export-shipments", "--since", "20/11/2026"])
    assert bad.exit_code == 2 and "--since" in bad.stderr


@pytest.mark.parametrize("who", ["owner_client", "staff_client"])
def test_web_export_downloads_the_file(request, shipped, who):
    client = request.getfixturevalue(who)
    page = client.get("/orders/export?from=2026-11-20&to=2026-11-20")
    assert page.status_code == 200 and page.mimetype == "text/plain"
    assert page.headers["Content-Disposition"] == "attachment; filename=shipping-confirmation-2026-11-20-2026-11-20.txt"
    assert page.get_data(as_text=True) == reports.shipping_confirmations(date(2026, 11, 20), date(2026, 11, 20))[0]


def test_web_export_form_and_its_errors(staff_client):
    form = staff_client.get("/orders/export").get_data(as_text=True)
    assert '<label for="from">From</label>' in form and '<label for="to">To</label>' in form
    assert 'type="date"' in form and ">Download</button>" in form
    backwards = staff_client.get("/orders/export?from=2026-11-21&to=2026-11-20")
    assert backwards.status_code == 422 and "To must be on or after From." in backwards.get_data(as_text=True)
    garbage = staff_client.get("/orders/export?from=yesterday&to=2026-11-20")
    assert garbage.status_code == 422 and "Content-Disposition" not in garbage.headers
    assert staff_client.get("/orders/export?from=2026-11-20").status_code == 422


def test_export_needs_sign_in(client):
    page = client.get("/orders/export?from=2026-11-20&to=2026-11-20")
    assert page.status_code == 302 and "/login" in page.headers["Location"]


def test_export_starts_since_the_last_export(staff_client, shipped, frozen_now):
    """The form's From is the day of the last export (web or CLI), so nothing confirmed since is left out."""
    frozen_now(datetime(2026, 11, 25, 20, 0))  # Nov 25, 12:00 in Los Angeles
    assert "Not exported yet." in staff_client.get("/orders/export").text
    assert 'id="from" name="from" required type="date" value="2026-11-25"' in staff_client.get("/orders/export").text
    assert staff_client.get("/orders/export?from=2026-11-20&to=2026-11-25").status_code == 200
    frozen_now(datetime(2026, 11, 28, 20, 0))
    form = staff_client.get("/orders/export").text
    assert 'id="from" name="from" required type="date" value="2026-11-25"' in form  # the last export's day
    assert 'id="to" name="to" required type="date" value="2026-11-28"' in form
    assert "Last exported Nov 25, 2026 12:00 PM PST" in form

"""Upload tracking (contract §12): a tracking file previewed order by order, then confirmed, each order on its own."""
import base64
import re
from datetime import timedelta

import pytest

from conftest import item_fields, make_order
from seller import clock, reports, tracking, workflow
from seller.extensions import db
from seller.models import Order

HX = {"HX-Request": "true"}
UPS, UPS2, USPS = "1Z999AA10123456784", "1Z999AA10123456791", "9400111899223197428490"


def today():
    return clock.local_today(workflow.store_tz())


@pytest.fixture
def orders(app):
    """Orders in every state a tracking file meets."""
    made = {name: make_order(status, items=items or None) for name, status, items in [
        ("a", "Unshipped", None), ("b", "Unshipped", [item_fields(sku="MUG", quantity=1),
                                                      item_fields(sku="CUP", quantity=3)]),
        ("c", "Unshipped", None), ("pending", "Pending", None), ("canceled", "Canceled", None),
        ("shipped", "Shipped", None), ("d", "Unshipped", None)]}
    return {name: order.order_id for name, order in made.items()}


def csv_file(orders, *, bom=False, sep=","):
    day, future = today().isoformat(), (today() + timedelta(days=2)).isoformat()
    rows = [["order-id", "carrier", "tracking-number", "ship-date", "shipping-service"],
            [orders["a"], "UPS", UPS, day, "Ground"],                  # 2: ships
            [orders["b"], "ups", UPS2, day, ""],                        # 3: b's first package
            [orders["b"], "USPS", USPS, day, "Ground Advantage"],       # 4: b's second package
            [orders["a"], "UPS", UPS, day, "Ground"],                  # 5: repeats line 2
            ["999-9999999-9999999", "UPS", UPS, day, ""],              # 6: unknown order
            [orders["pending"], "UPS", UPS, day, ""],                  # 7: Pending
            [orders["canceled"], "UPS", UPS, day, ""],                 # 8: Canceled
            [orders["c"], "Pony Express", "PX1", day, ""],             # 9: unknown carrier
            [orders["d"], "UPS", UPS, "31/31/2026", ""],               # 10: bad date
            [orders["d"], "UPS", UPS2, future, ""],                    # 11: future date
            [orders["shipped"], "UPS", "1Z999AA10123456784", day, ""],  # 12: shipped with it: unchanged
            ["only", "three", "cells"]]                                 # 13: malformed
    text = "\n".join(sep.join(row) for row in rows) + "\n"
    return ("\ufeff" if bom else "").encode() + text.encode()


def table(plan):
    return [(o.lines, o.order_id, o.state, o.reasons) for o in plan.outcomes]


EXPECTED_REASONS = {
    "unknown": ["Line 6: unknown order."],
    "pending": ["Line 7: the order is Pending (not paid yet)."],
    "canceled": ["Line 8: the order is Canceled."],
    "c": ["Line 9: unknown carrier “Pony Express”."],
    "d": ["Line 10: the ship date “31/31/2026” is not a date (YYYY-MM-DD).",
          "Line 11: the ship date {future} is in the future."],
    "malformed": ["Line 13: this line has 3 columns; the header has 5."],
}


def expected(orders, first_state):
    future = (today() + timedelta(days=2)).isoformat()
    return [([2, 5], orders["a"], first_state, ["Line 5 repeats line 2."]),
            ([3, 4], orders["b"], first_state, []),
            ([6], "999-9999999-9999999", "refused", EXPECTED_REASONS["unknown"]),
            ([7], orders["pending"], "refused", EXPECTED_REASONS["pending"]),
            ([8], orders["canceled"], "refused", EXPECTED_REASONS["canceled"]),
            ([9], orders["c"], "refused", EXPECTED_REASONS["c"]),
            ([10, 11], orders["d"], "refused", [r.format(future=future) for r in EXPECTED_REASONS["d"]]),
            ([12], orders["shipped"], "unchanged", []),
            ([13], "only", "refused", EXPECTED_REASONS["malformed"])]


def state(order_id):
    db.session.rollback()
    order = db.session.scalar(db.select(Order).where(Order.order_id == order_id))
    return order.status, [(p.tracking_id, {line.item.sku: line.quantity for line in p.items}) for p in order.packages]


@pytest.mark.parametrize("bom, sep", [(False, ","), (True, "\t")], ids=["csv", "tab-bom"])
def test_preview_then_confirm_exactly_as_listed(orders, owner, bom, sep):
    data = csv_file(orders, bom=bom, sep=sep)
    before = {name: state(order_id) for name, order_id in orders.items()}
    plan = tracking.preview(data)
    assert plan.error == "" and plan.lines == 12
    assert table(plan) == expected(orders, "will ship")
    assert [p.tracking_id for p in plan.outcomes[1].packages] == [UPS2, USPS]
    assert {name: state(order_id) for name, order_id in orders.items()} == before  # a preview writes nothing
    done = tracking.confirm(data, owner)
    assert table(done) == expected(orders, "shipped")
    assert tracking.summary(done) == "2 orders shipped, 1 unchanged, 6 refused (12 lines)."
    assert state(orders["a"]) == ("Shipped", [(UPS, {"SKU-1": 1})])
    # Two lines, two packages: the 4 units divided between them in item order.
    assert state(orders["b"]) == ("Shipped", [(UPS2, {"MUG": 1, "CUP": 1}), (USPS, {"CUP": 2})])
    for name in ("pending", "canceled", "c", "d", "shipped"):  # nothing half-applied
        assert state(orders[name]) == before[name], name
    # The same file again changes nothing.
    again = tracking.confirm(data, owner)
    assert [o.state for o in again.outcomes][:2] == ["unchanged", "unchanged"]
    assert state(orders["b"]) == ("Shipped", [(UPS2, {"MUG": 1, "CUP": 1}), (USPS, {"CUP": 2})])


def test_a_refused_order_changed_since_the_preview_does_not_stop_the_others(orders, owner, monkeypatch):
    data = csv_file(orders)
    real = workflow.confirm_shipment

    def cancel_a_first(order, user, packages, **kw):
        if order.order_id == orders["a"]:
            workflow.cancel_order(order, user, "No inventory")
        return real(order, user, packages, **kw)
    monkeypatch.setattr(workflow, "confirm_shipment", cancel_a_first)
    done = tracking.confirm(data, owner)
    assert done.outcomes[0].state == "refused" and "Canceled" in done.outcomes[0].reasons[-1]
    assert done.outcomes[1].state == "shipped" and state(orders["b"])[0] == "Shipped"


def test_amazon_confirmation_file_ships_its_items(app, owner):
    """The §8 export format: each line names an item and its quantity; a file of part of an order ships that part."""
    source = make_order("Unshipped", items=[item_fields(sku="MUG", quantity=1), item_fields(sku="CUP", quantity=3)])
    mug, cup = source.items
    text = (f"{reports.EXPORT_FIRST_LINE}\n" + "\t".join(reports.EXPORT_HEADER) + "\n"
            f"{source.order_id}\t{mug.order_item_id}\t1\t{today()}\tUPS\t\t{UPS}\tGround\n"
            f"{source.order_id}\t{cup.order_item_id}\t1\t{today()}\tUPS\t\t{UPS}\tGround\n"
            f"{source.order_id}\t{cup.order_item_id}\t1\t{today()}\tOther\tPony\tPX-1\t\n")
    plan = tracking.confirm(text.encode(), owner)
    assert [(o.lines, o.state) for o in plan.outcomes] == [([3, 4, 5], "shipped")]
    status, packages = state(source.order_id)
    assert status == "Unshipped" and packages == [(UPS, {"MUG": 1, "CUP": 1}), ("PX1", {"CUP": 1})]
    # The export of these packages, uploaded again: unchanged.
    exported, _rows = reports.shipping_confirmations(today(), today())
    assert [o.state for o in tracking.preview(exported.encode()).outcomes] == ["unchanged"]


@pytest.mark.parametrize("data, message", [
    (b"order,carrier\n1,UPS\n", "Missing: order-id, tracking-number, ship-date."),
    (b"\xff\xfeo\x00r\x00", "not UTF-8"),
    (b"", "empty"),
    (b"order-id,carrier,tracking-number,ship-date\n", "no lines"),
])
def test_files_that_cannot_be_read(app, data, message):
    plan = tracking.preview(data)
    assert message in plan.error and plan.outcomes == []


def test_more_packages_than_units_is_refused(app, owner):
    order = make_order("Unshipped")
    data = (f"order-id,carrier,tracking-number,ship-date\n{order.order_id},UPS,{UPS},{today()}\n"
            f"{order.order_id},USPS,{USPS},{today()}\n").encode()
    [outcome] = tracking.preview(data).outcomes
    assert outcome.state == "refused" and outcome.reasons == [
        "Lines 2, 3: 2 packages, but only 1 unit is left to ship."]


# ---------------------------------------------------------------- the page and the command


@pytest.mark.parametrize("headers", [{}, HX], ids=["no-js", "htmx"])
def test_upload_tracking_page(staff_client, orders, headers):
    assert "Upload tracking" in staff_client.get("/orders").text
    page = staff_client.get("/orders/upload-tracking")
    assert page.status_code == 200 and "Tracking file" in page.text and "Preview" in page.text
    data = csv_file(orders)
    preview = staff_client.post("/orders/upload-tracking", headers=headers,
                                data={"tracking_file": (__import__("io").BytesIO(data), "tracking.csv")})
    html = preview.text
    assert preview.status_code == 200 and "Confirm shipments" in html and ("<html" in html) == (not headers)
    assert "2 orders will ship, 1 unchanged, 6 refused (12 lines)." in html
    assert "Line 6: unknown order." in html and "will ship" in html
    assert state(orders["a"])[0] == "Unshipped"
    content = re.search(r'name="content" type="hidden" value="([^"]+)"', html)[1]
    assert base64.b64decode(content) == data
    done = staff_client.post("/orders/upload-tracking", headers=headers, data={"content": content})
    assert done.status_code == 200 and "2 orders shipped, 1 unchanged, 6 refused (12 lines)." in done.text
    assert "Confirm shipments</button>" not in done.text and state(orders["a"])[0] == "Shipped"
    stale = staff_client.post("/orders/upload-tracking", headers=headers, data={"content": "not base64!"})
    assert stale.status_code == 422 and "Upload the tracking file again." in stale.text
    empty = staff_client.post("/orders/upload-tracking", headers=headers, data={})
    assert empty.status_code == 422 and "Choose the tracking file to upload." in empty.text


def test_import_tracking_command(app, orders, tmp_path):
    path = tmp_path / "tracking.csv"
    path.write_bytes(csv_file(orders))
    runner = app.test_cli_runner()
    preview = runner.invoke(args=["import-tracking", "--preview", str(path)])
    assert preview.exit_code == 0 and "2 orders will ship, 1 unchanged, 6 refused (12 lines)." in preview.output
    assert state(orders["a"])[0] == "Unshipped"
    result = runner.invoke(args=["import-tracking", str(path)])
    assert result.exit_code == 0 and "2 orders shipped, 1 unchanged, 6 refused (12 lines)." in result.output
    assert "999-9999999-9999999: Line 6: unknown order." in result.output
    assert state(orders["a"])[0] == "Shipped"
    bad = tmp_path / "bad.csv"
    bad.write_bytes(b"nothing,useful\n")
    assert runner.invoke(args=["import-tracking", str(bad)]).exit_code == 1

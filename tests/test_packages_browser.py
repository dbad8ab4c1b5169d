"""Packages in Chromium (contract §12): two items in two packages with their own tracking IDs; a partial shipment,
then the rest; the export file and the order's History show every package; Upload tracking with its preview."""
import pytest
from playwright.sync_api import expect

from seller import clock, workflow
from seller.models import Order

from conftest import axe_violations, browser_sign_in, item_fields, make_order

pytestmark = pytest.mark.browser
UPS, UPS2, USPS = "1Z999AA10123456784", "1Z999AA10123456791", "9400111899223197428490"


def quantity(package, sku):
    return package.get_by_label(f"Quantity {sku}")


def test_two_packages_then_a_partial_shipment_and_the_rest(page, live_server, live_db, browser_user):
    two = make_order("Unshipped", items=[item_fields(sku="MUG", quantity=1), item_fields(sku="CUP", quantity=2)])
    part = make_order("Unshipped", items=[item_fields(sku="LAMP", quantity=1), item_fields(sku="BULB", quantity=4)])
    page.set_viewport_size({"width": 1024, "height": 768})
    browser_sign_in(page, live_server.url, *browser_user)
    page.goto(live_server.url + "/orders")

    # Two items in two packages, with htmx: Add package adds Package 2 in the panel, the page stays.
    row = page.locator(f'tr[data-order-id="{two.order_id}"]')
    row.get_by_role("link", name="Confirm shipment").or_(row.get_by_role("button", name="Confirm shipment")).click()
    panel = page.locator(f"#order-{two.id}-panel")
    first = panel.locator("fieldset.package").nth(0)
    expect(first.get_by_label("Tracking ID")).to_be_focused()
    expect(quantity(first, "CUP")).to_have_value("2")  # everything starts in the first package
    first.get_by_label("Tracking ID").fill(UPS)
    quantity(first, "CUP").fill("0")
    panel.get_by_role("button", name="Add package").click()
    second = panel.locator("fieldset.package").nth(1)
    expect(second.locator("legend")).to_have_text("Package 2")
    assert page.url == live_server.url + "/orders"
    second.get_by_label("Tracking ID").fill(USPS)
    expect(second.get_by_label("Carrier", exact=True)).to_have_value("USPS")  # named by the tracking ID as it is typed
    assert axe_violations(page) == []
    panel.get_by_role("button", name="Confirm shipment", exact=True).click()
    expect(panel.get_by_text("Put at least one unit in this package.")).to_be_visible()  # package 2 is empty
    quantity(panel.locator("fieldset.package").nth(1), "CUP").fill("2")
    panel.get_by_role("button", name="Confirm shipment", exact=True).click()
    expect(row.locator(".status-Shipped")).to_be_visible()
    expect(row).to_contain_text(UPS)
    expect(row).to_contain_text(USPS)

    # A partial shipment: the lamp now, the bulbs later. Enter in Tracking ID confirms (not Add package).
    row = page.locator(f'tr[data-order-id="{part.order_id}"]')
    row.get_by_role("link", name="Confirm shipment").or_(row.get_by_role("button", name="Confirm shipment")).click()
    panel = page.locator(f"#order-{part.id}-panel")
    quantity(panel, "BULB").fill("0")
    panel.get_by_label("Tracking ID").fill(UPS2)
    panel.get_by_label("Tracking ID").press("Enter")
    expect(row.locator(".badge-partial")).to_have_text("Partially shipped")
    expect(row.locator(".status-Unshipped")).to_be_visible()
    expect(page.locator("#flash")).to_contain_text("Left to ship: BULB × 4.")
    row.get_by_role("link", name="Confirm shipment").or_(row.get_by_role("button", name="Confirm shipment")).click()
    expect(panel.get_by_label("Quantity BULB")).to_have_value("4")
    expect(panel.get_by_label("Quantity LAMP")).to_have_count(0)  # only what is left is offered
    panel.get_by_label("Tracking ID").fill("9400111899223197428506")
    panel.get_by_role("button", name="Confirm shipment", exact=True).click()
    expect(row.locator(".status-Shipped")).to_be_visible()
    expect(row.locator(".badge-partial")).to_have_count(0)

    # The export file: one row per package item; the order's History: both packages.
    today = clock.local_today(workflow.store_tz()).isoformat()
    export = page.request.get(f"{live_server.url}/orders/export?from={today}&to={today}").text()
    rows = [line.split("\t") for line in export.splitlines()[2:]]
    assert [(r[0], r[2], r[6]) for r in rows if r[0] == two.order_id] == [
        (two.order_id, "1", UPS), (two.order_id, "2", USPS)]
    assert [(r[2], r[6]) for r in rows if r[0] == part.order_id] == [("1", UPS2), ("4", "9400111899223197428506")]
    page.goto(f"{live_server.url}/orders/{two.order_id}")
    history = page.locator("ol.history")
    expect(history).to_contain_text("Package 1")
    expect(history).to_contain_text(f"UPS {UPS} shipped")
    expect(history).to_contain_text(f"USPS {USPS} shipped")
    expect(history).to_contain_text("CUP × 2")
    assert axe_violations(page) == []
    live_db.session.rollback()
    assert [p.tracking_id for p in live_db.session.get(Order, two.id).packages] == [UPS, USPS]


def test_without_javascript_add_package_is_a_page(browser, live_server, live_db, browser_user):
    """JavaScript off: Confirm shipment is a page of its own; Add package sends it and comes back with Package 2."""
    order = make_order("Unshipped", items=[item_fields(sku="MUG", quantity=1), item_fields(sku="CUP", quantity=1)])
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    browser_sign_in(page, live_server.url, *browser_user)
    page.goto(f"{live_server.url}/orders/{order.order_id}/ship")
    page.get_by_label("Tracking ID").fill(UPS)
    page.get_by_label("Quantity CUP").fill("0")
    page.get_by_role("button", name="Add package").click()
    second = page.locator("fieldset.package").nth(1)
    second.get_by_label("Tracking ID").fill(USPS)
    second.get_by_label("Carrier", exact=True).select_option("USPS")
    second.get_by_label("Quantity CUP").fill("1")
    page.get_by_role("button", name="Confirm shipment", exact=True).click()
    page.wait_for_url(f"{live_server.url}/orders")
    live_db.session.rollback()
    shipped = live_db.session.get(Order, order.id)
    assert shipped.status == "Shipped" and [p.tracking_id for p in shipped.packages] == [UPS, USPS]
    context.close()


def test_upload_tracking_preview_then_confirm(page, live_server, live_db, browser_user, tmp_path):
    order = make_order("Unshipped")
    day = clock.local_today(workflow.store_tz()).isoformat()
    path = tmp_path / "tracking.csv"
    path.write_text(f"order-id,carrier,tracking-number,ship-date\n{order.order_id},UPS,{UPS},{day}\n"
                    f"999-0000000-0000000,UPS,{UPS2},{day}\n")
    browser_sign_in(page, live_server.url, *browser_user)
    page.goto(live_server.url + "/orders")
    page.get_by_role("link", name="Upload tracking").click()
    page.get_by_label("Tracking file").set_input_files(str(path))
    page.get_by_role("button", name="Preview").click()
    expect(page.get_by_role("heading", name="1 order will ship, 0 unchanged, 1 refused (2 lines).")).to_be_visible()
    expect(page.get_by_text("Line 3: unknown order.")).to_be_visible()
    assert axe_violations(page) == []
    page.get_by_role("button", name="Confirm shipments").click()
    expect(page.get_by_role("heading", name="1 order shipped, 0 unchanged, 1 refused (2 lines).")).to_be_visible()
    live_db.session.rollback()
    assert live_db.session.get(Order, order.id).status == "Shipped"

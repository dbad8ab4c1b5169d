"""Pack & ship in Chromium against a real server: a scanner's keyboard alone at 1024×768 (scan order, each item, a
wrong SKU and one too many refused, the tracking ID, Confirm shipment, the order Shipped on Manage Orders), the
page at 768×1024 (no sideways scrolling, every control at least 48×48 CSS px), axe-core and the CSP check;
Buy shipping opens the label. Screenshots go to $PACK_SHOTS (default /tmp/pack-shots) to be looked at."""
import os
from pathlib import Path

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from conftest import CspWatch, axe_violations, browser_sign_in, item_fields, make_order
from seller import workflow
from seller.models import Order, Shipment

pytestmark = pytest.mark.browser

SHOTS = Path(os.environ.get("PACK_SHOTS", "/tmp/pack-shots"))
USPS = "9400111899223197428490"
CONTROLS = "a.btn, button:not(.flash-close), input:not([type=hidden]), select, textarea, summary, .mainnav a, .who a"


def tablet(browser, live_server, browser_user, width, height):
    context = browser.new_context(viewport={"width": width, "height": height}, has_touch=width < 1024)
    watch = CspWatch(context)
    page = context.new_page()
    browser_sign_in(page, live_server.url, *browser_user)
    return context, watch, page


def scan(page, code):
    """What a keyboard-wedge scanner does: type the code, press Enter."""
    page.keyboard.type(code)
    page.keyboard.press("Enter")


def shot(page, name):
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True, caret="initial")  # hiding it is an inline style


def expect_refused(page, words):
    said = page.locator(".pack-said-refused")
    expect(said).to_contain_text(words)
    assert float(said.evaluate("e => parseFloat(getComputedStyle(e).fontSize)")) >= 24
    expect(page.locator("#pack")).to_have_class("pack pack-refused flash-refused")  # the red flash
    field = page.locator("#pack .scan-field input").first
    expect(field).to_be_focused()
    value = field.input_value()
    assert field.evaluate("e => [e.selectionStart, e.selectionEnd]") == [0, len(value)]  # the next scan replaces it


def test_a_scanner_packs_and_ships_an_order_with_the_keyboard_alone(browser, live_server, live_db, browser_user):
    order = make_order(items=[item_fields(sku="MUG-RED", quantity=2), item_fields(sku="CUP-1")])
    canceled = make_order("Canceled")
    context, watch, page = tablet(browser, live_server, browser_user, 1024, 768)
    page.goto(live_server.url + "/pack")
    expect(page.get_by_label("Scan order")).to_be_focused()
    shot(page, "1024-scan-order")
    scan(page, canceled.order_id)
    expect_refused(page, f"Order {canceled.order_id} is Canceled")
    shot(page, "1024-refused-order")
    scan(page, order.order_id)
    expect(page.get_by_role("heading", name=f"Order {order.order_id}")).to_be_visible()
    expect(page.get_by_label("Scan item")).to_be_focused()
    assert page.url.endswith(f"/pack/{order.order_id}")
    assert axe_violations(page) == []
    scan(page, "PLATE-9")
    expect_refused(page, f"PLATE-9 is not in order {order.order_id}.")
    shot(page, "1024-refused-item")
    scan(page, "MUG-RED")
    expect(page.locator(".pack-said-ok")).to_have_text("MUG-RED: 1 of 2 checked.")
    page.wait_for_timeout(200)  # a person scans the second unit; within 150 ms it would be the scanner reading twice
    scan(page, "MUG-RED")
    expect(page.locator(".pack-said-ok")).to_have_text("MUG-RED: 2 of 2 checked.")
    page.wait_for_timeout(200)
    scan(page, "MUG-RED")
    expect_refused(page, "One too many")
    scan(page, "CUP-1")
    expect(page.get_by_text("All items checked")).to_be_visible()
    expect(page.get_by_label("Tracking ID")).to_be_focused()
    page.keyboard.type(USPS)
    expect(page.get_by_label("Carrier", exact=True)).to_have_value("USPS")  # named by the tracking ID's format
    shot(page, "1024-all-checked")
    page.locator("#pack").evaluate("e => Promise.all(e.getAnimations().map(a => a.finished))")
    assert axe_violations(page) == []
    page.keyboard.press("Enter")
    expect(page.locator(".pack-said-ok")).to_have_text(f"Order {order.order_id} shipped: USPS {USPS}.")
    expect(page.get_by_text("Shipped today: 1")).to_be_visible()
    expect(page.get_by_label("Scan order")).to_be_focused()
    shot(page, "1024-shipped")
    page.goto(live_server.url + "/orders?status=Shipped")
    row = page.locator(f'tr[data-order-id="{order.order_id}"]')
    expect(row.locator(".status-Shipped")).to_be_visible()
    expect(row.locator(".tracking")).to_have_text(f"USPS {USPS}")
    context.close()
    live_db.session.rollback()
    shipment = live_db.session.scalar(select(Shipment).where(Shipment.order_id == order.id))
    assert (shipment.carrier, shipment.tracking_id) == ("USPS", USPS)
    assert live_db.session.get(Order, order.id).status == "Shipped"
    assert watch.violations == []


def too_small(page, least=48) -> list:
    return page.locator(CONTROLS).evaluate_all(
        "(els, least) => els.filter(e => e.offsetParent !== null && e.getClientRects().length)"
        ".map(e => [e.textContent.trim().slice(0, 30) || e.getAttribute('aria-label') || e.name || e.tagName,"
        " Math.round(e.getBoundingClientRect().width), Math.round(e.getBoundingClientRect().height)])"
        ".filter(([, w, h]) => w < least || h < least)", least)


def test_pack_and_ship_upright_no_sideways_scrolling_and_every_control_finger_sized(browser, live_server, live_db,
                                                                                    browser_user):
    workflow.save_settings(parcel_weight="2", parcel_weight_unit="lb", parcel_length="10", parcel_width="8",
                           parcel_height="4")
    order = make_order(items=[item_fields(sku="LONG-SKU-WITH-MANY-PARTS-0001", quantity=3,
                                          product_name="Ceramic pour-over coffee dripper, size 02, matte black "
                                                       "with bamboo stand and 100 paper filters"),
                              item_fields(sku="CUP-1")])
    context, watch, page = tablet(browser, live_server, browser_user, 768, 1024)
    screens = {"768-scan-order": "/pack", "768-order": f"/pack/{order.order_id}"}
    for name, path in screens.items():
        page.goto(live_server.url + path)
        assert page.evaluate("document.documentElement.scrollWidth") <= 768, path
        assert too_small(page) == [], path
        shot(page, name)
    page.get_by_role("button", name="Confirm shipment").click()  # units unchecked: Confirm anyway appears
    expect(page.get_by_role("button", name="Confirm anyway")).to_be_focused()
    assert page.evaluate("document.documentElement.scrollWidth") <= 768
    assert too_small(page) == []
    page.locator("#pack").evaluate("e => Promise.all(e.getAnimations().map(a => a.finished))")  # the red flash
    assert axe_violations(page) == []
    shot(page, "768-confirm-anyway")
    with context.expect_page() as label:  # Buy shipping: the label opens to be printed
        page.get_by_role("button", name="Buy shipping").click()
        page.get_by_role("button", name="Buy anyway").click()
    expect(page.get_by_text("Shipped today: 1")).to_be_visible()
    assert label.value.url.endswith(f"/orders/{order.order_id}/label.pdf")
    shot(page, "768-bought")
    context.close()
    live_db.session.rollback()
    assert live_db.session.get(Order, order.id).status == "Shipped"
    assert watch.violations == []


def test_without_javascript_the_scanner_still_packs_and_ships(browser, live_server, live_db, browser_user):
    """Plain forms: every scan is a form a scanner's Enter submits; the page comes back focused on the next field."""
    order = make_order(items=[item_fields(sku="MUG-RED", quantity=2)])
    context = browser.new_context(viewport={"width": 1024, "height": 768}, java_script_enabled=False)
    page = context.new_page()
    browser_sign_in(page, live_server.url, *browser_user)
    page.goto(live_server.url + "/pack")
    expect(page.get_by_label("Scan order")).to_be_focused()
    scan(page, order.order_id)
    page.wait_for_url(f"**/pack/{order.order_id}")
    expect(page.get_by_label("Scan item")).to_be_focused()
    scan(page, "MUG-RED")
    expect(page.locator(".pack-said-ok")).to_have_text("MUG-RED: 1 of 2 checked.")
    page.reload()  # a reload counts nothing again
    expect(page.get_by_role("cell", name="1", exact=True)).to_be_visible()
    expect(page.get_by_label("Scan item")).to_be_focused()
    page.wait_for_timeout(200)
    scan(page, "MUG-RED")
    expect(page.get_by_text("All items checked")).to_be_visible()
    expect(page.get_by_label("Tracking ID")).to_be_focused()
    scan(page, USPS)
    page.wait_for_url("**/pack")
    expect(page.locator(".pack-said-ok")).to_have_text(f"Order {order.order_id} shipped: USPS {USPS}.")
    expect(page.get_by_text("Shipped today: 1")).to_be_visible()
    context.close()
    live_db.session.rollback()
    assert live_db.session.get(Order, order.id).status == "Shipped"

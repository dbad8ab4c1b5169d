"""Buy shipping in Chromium with the demo provider: inside the list with htmx, from Buy shipping to the label."""
import os
import re

import pytest
from playwright.sync_api import expect
from sqlalchemy import func, select

from seller.models import Label, Order

from conftest import browser_sign_in, make_order

pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(bool(os.environ.get("EASYPOST_API_KEY")), reason="the demo provider needs no key")]


def buy_shipping(row):
    return row.get_by_role("button", name="Buy shipping").or_(row.get_by_role("link", name="Buy shipping"))


def test_buy_shipping_with_the_demo_provider(page, live_server, live_db, browser_user):
    order = make_order("Unshipped")
    page.set_viewport_size({"width": 1024, "height": 768})
    browser_sign_in(page, live_server.url, *browser_user)
    page.goto(live_server.url + "/orders")
    row = page.locator(f'tr[data-order-id="{order.order_id}"]')
    expect(row).to_be_visible()
    buy_shipping(row).click()
    panel = page.locator(f"#order-{order.id}-panel")
    expect(panel.get_by_text("Provider: Demo")).to_be_visible()  # the form opens under the row, same page
    assert page.url == live_server.url + "/orders"
    panel.get_by_label("Weight").fill("2.5")
    panel.get_by_label("Unit").select_option("lb")
    panel.get_by_label("Length").fill("10")
    panel.get_by_label("Width").fill("8")
    panel.get_by_label("Height").fill("4")
    panel.get_by_role("button", name="Get rates").click()

    buy = panel.get_by_role("button", name=re.compile(r"^Buy "))
    expect(buy).to_have_count(4)
    names = [b.get_attribute("aria-label") for b in buy.all()]  # each Buy says what it buys
    assert len(set(names)) == 4 and names[0] == "Buy USPS Ground Advantage, $6.20"
    assert panel.locator("table.rates tbody td.num:not(:has(button))").all_inner_texts() == [
        "$6.20", "$11.10", "$11.40", "$11.60"]  # cheapest first
    assert buy.first.bounding_box()["height"] >= 44
    posts = []
    page.on("request", lambda r: posts.append(r) if r.method == "POST" else None)
    buy.first.dblclick()

    expect(row.locator(".status-Shipped")).to_be_visible()
    print_label = row.get_by_role("link", name="Print label")  # the shipped row offers its label
    expect(print_label).to_be_visible()
    expect(page.locator("#flash")).to_contain_text("Bought USPS Ground Advantage for $6.20")
    assert len(posts) == 1  # the double click sent one request
    pdf = page.request.get(live_server.url + print_label.get_attribute("href"))
    assert pdf.ok and pdf.headers["content-type"] == "application/pdf" and pdf.body().startswith(b"%PDF")

    live_db.session.rollback()
    shipped = live_db.session.get(Order, order.id)
    label = live_db.session.scalar(select(Label).where(Label.order_id == order.id))
    assert shipped.status == "Shipped" and shipped.shipment.tracking_id == label.tracking_id
    assert live_db.session.scalar(select(func.count()).select_from(Label).where(Label.order_id == order.id)) == 1
    assert pdf.body() == label.pdf

    page.goto(f"{live_server.url}/orders/{order.order_id}")  # the order page after a label (it answered 500)
    history = page.locator("ol.history")
    expect(history).to_contain_text("Bought shipping")
    expect(history).to_contain_text("2.5 lb · 10×8×4 in")
    expect(page.locator(".head-actions").get_by_role("link", name="Print label")).to_be_visible()


def test_close_puts_the_row_back(page, live_server, live_db, browser_user):
    order = make_order("Unshipped")
    browser_sign_in(page, live_server.url, *browser_user)
    page.goto(live_server.url + "/orders")
    row = page.locator(f'tr[data-order-id="{order.order_id}"]')
    panel = page.locator(f"#order-{order.id}-panel")
    buy_shipping(row).click()
    for label, value in (("Weight", "0"), ("Length", "10"), ("Width", "8"), ("Height", "4")):
        panel.get_by_label(label).fill(value)
    panel.get_by_role("button", name="Get rates").click()  # refused: the message comes back next to the field
    expect(panel.get_by_text("Enter a number greater than 0, like 2.5.")).to_be_visible()
    expect(panel.get_by_label("Weight")).to_have_attribute("aria-invalid", "true")
    panel.get_by_role("link", name="Close").click()
    expect(buy_shipping(row)).to_be_visible()
    expect(page.get_by_text("Provider: Demo")).to_have_count(0)

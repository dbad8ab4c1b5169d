"""Manage Orders at the packing table, in Chromium against a real server: a tablet held either way and a phone
(no sideways scrolling, every control a finger can hit), a barcode scanner (it types a code and presses Enter),
the keyboard alone, axe-core on every page and every form, and the Content-Security-Policy check itself."""
import re

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from conftest import CspWatch, axe_violations, browser_sign_in, make_order
from seller import workflow
from seller.models import Order, Shipment

pytestmark = pytest.mark.browser

SIZES = {"tablet": (1024, 768), "portrait": (768, 1024), "phone": (390, 844)}
# What a finger has to hit: buttons and links that act, fields, tabs, check boxes (their 44 px label).
CONTROLS = ("a.btn, button:not(.flash-close), input:not([type=hidden], [type=checkbox], [type=radio]), select, "
            "textarea, summary, .tabs a, label.tap, a.oid, .mainnav a, .subject a")


@pytest.fixture
def world(live_db, browser_user):
    """An order in every status, a return request in every status, a label bought, and the owner signing in."""
    orders = {s: make_order(s) for s in ("Pending", "Unshipped", "Shipped", "Canceled")}
    returns = {}
    for status in ("Pending Authorization", "Authorized", "Closed"):
        order = make_order("Shipped")
        ret = workflow.create_return(order, None, workflow.RETURN_REASONS[0], {order.items[0].id: 1})
        if status == "Authorized":
            workflow.authorize_return(ret, None, workflow.new_rma_number(), "1 Return Rd")
        elif status == "Closed":
            workflow.close_return(ret, None, "Other")
        returns[status] = ret
    return type("World", (), {"orders": orders, "returns": returns, "user": browser_user})


def pages(world) -> list[str]:
    o, r = world.orders, world.returns
    paths = ["/orders", "/orders?status=Unshipped", "/orders?status=Shipped", "/returns", "/performance",
             "/performance/late-shipment-rate", "/settings", "/orders/import", "/orders/export", "/account/password"]
    paths += [f"/orders/{order.order_id}" for order in o.values()]
    paths += [f"/orders/{o['Unshipped'].order_id}/{a}" for a in ("ship", "cancel", "buy-shipping")]
    paths += [f"/orders/{o['Shipped'].order_id}/{a}" for a in ("edit-shipment", "refund", "contact")]
    paths += [f"/returns/new/{o['Shipped'].order_id}", f"/returns/{r['Pending Authorization'].id}/authorize",
              f"/returns/{r['Authorized'].id}/close", f"/returns/{r['Authorized'].id}/refund"]
    return paths


def sized(browser, live_server, world, size):
    width, height = SIZES[size]
    context = browser.new_context(viewport={"width": width, "height": height}, has_touch=size != "tablet")
    watch = CspWatch(context)
    page = context.new_page()
    browser_sign_in(page, live_server.url, *world.user)
    return context, watch, page


def too_small(page) -> list:
    """Visible controls smaller than 44×44 CSS px."""
    return page.locator(CONTROLS).evaluate_all(
        "els => els.filter(e => e.offsetParent !== null && e.getClientRects().length)"
        ".map(e => [e.textContent.trim().slice(0, 30) || e.getAttribute('aria-label') || e.name || e.tagName,"
        " Math.round(e.getBoundingClientRect().width), Math.round(e.getBoundingClientRect().height)])"
        ".filter(([, w, h]) => w < 44 || h < 44)")


@pytest.mark.parametrize("size", SIZES)
def test_no_page_scrolls_sideways_and_every_control_is_finger_sized(browser, live_server, world, size):
    context, watch, page = sized(browser, live_server, world, size)
    width = SIZES[size][0]
    for path in pages(world):
        page.goto(live_server.url + path)
        assert page.evaluate("document.documentElement.scrollWidth") <= width, (size, path)
        assert too_small(page) == [], (size, path)
    page.goto(f"{live_server.url}/orders?status=Unshipped")  # and an inline form, opened
    page.locator("tr.st-unshipped").first.get_by_role("button", name="Confirm shipment").click()
    page.locator("tr.panel-row form").wait_for()
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    assert too_small(page) == []
    context.close()
    assert watch.violations == []


def test_axe_finds_nothing_critical_or_serious_on_any_page_or_form(browser, live_server, world):
    context, watch, page = sized(browser, live_server, world, "tablet")
    found = {}
    for path in pages(world):
        page.goto(live_server.url + path)
        found[path] = axe_violations(page)
    for path, subject in (("/orders?status=Unshipped", "tr.st-unshipped"), ("/orders?status=Shipped", "tr.st-shipped"),
                          ("/returns", "tr[id^=return-]")):
        page.goto(live_server.url + path)
        names = page.locator(subject).first.locator("td.act button").all_inner_texts()
        for name in names:  # every inline form, opened in its panel
            page.goto(live_server.url + path)
            page.locator(subject).first.get_by_role("button", name=name, exact=True).click()
            page.locator("tr.panel-row form").first.wait_for()
            found[f"{path} {name}"] = axe_violations(page)
    context.close()
    page = browser.new_page()  # and the sign-in page
    page.goto(live_server.url + "/login")
    found["/login"] = axe_violations(page)
    assert {k: v for k, v in found.items() if v} == {}
    assert watch.violations == []


def test_a_scanner_works_the_list_with_the_keyboard_alone(browser, live_server, world, live_db):
    """Scan the packing slip's order ID (Enter), scan the label's tracking ID (Enter): confirmed, no tap. The next
    scan goes to Search orders whatever has the focus, and replaces the last one."""
    first, second = make_order("Unshipped"), make_order("Unshipped", ship_service_level="SecondDay")
    context, watch, page = sized(browser, live_server, world, "tablet")
    page.goto(live_server.url + "/orders")
    expect(page.get_by_label("Search orders")).to_be_focused()  # the first scan is not lost
    page.keyboard.type(first.order_id)
    page.keyboard.press("Enter")
    panel = page.locator(f"#order-{first.id}-panel")
    expect(panel.get_by_label("Tracking ID")).to_be_focused()  # its Confirm shipment opened, ready for the label
    page.keyboard.type("9400 1118 9922 3197 4284 90")
    page.keyboard.press("Enter")
    row = page.locator(f"#order-{first.id}")
    expect(row.locator(".status-Shipped")).to_be_visible()
    expect(row.locator("a.oid")).to_be_focused()  # focus back on the row
    page.keyboard.type(second.order_id)  # the next scan, typed while the row link has the focus
    expect(page.get_by_label("Search orders")).to_have_value(second.order_id)
    page.keyboard.press("Enter")
    panel = page.locator(f"#order-{second.id}-panel")
    expect(panel.get_by_label("Shipping service")).to_have_value("SecondDay")
    expect(panel.get_by_label("Tracking ID")).to_be_focused()
    page.keyboard.press("Escape")  # Escape closes the form and gives the row the focus
    expect(panel.locator("form")).to_have_count(0)
    expect(page.locator(f"#order-{second.id} a.oid")).to_be_focused()
    context.close()
    live_db.session.rollback()
    shipment = live_db.session.scalar(select(Shipment).where(Shipment.order_id == first.id))
    assert (shipment.carrier, shipment.tracking_id) == ("USPS", "9400111899223197428490")
    assert live_db.session.get(Order, second.id).status == "Unshipped"
    assert watch.violations == []


def test_focus_follows_tabs_forms_and_the_message_stays_in_view(browser, live_server, world):
    orders = [make_order("Unshipped") for _ in range(12)]
    context, watch, page = sized(browser, live_server, world, "tablet")
    page.goto(live_server.url + "/orders")
    page.locator("#order-tabs a").filter(has_text="Unshipped").click()
    page.wait_for_url("**/orders?status=Unshipped")
    page.locator(f"#order-{orders[0].id}").wait_for()
    expect(page.locator("#order-tabs a").filter(has_text="Unshipped")).to_be_focused()
    expect(page.locator("details.advanced")).not_to_have_attribute("open", "")  # a tab is not a search
    low = page.locator(f"#order-{orders[0].id}")  # the oldest: far down the list
    low.scroll_into_view_if_needed()
    low.get_by_role("button", name="Cancel order").click()
    expect(page.locator(f"#order-{orders[0].id}-panel").get_by_label("Reason for cancellation")).to_be_focused()
    page.get_by_label("Reason for cancellation").select_option("No inventory")
    main_top = "document.querySelector('main').getBoundingClientRect().top + window.scrollY"
    top = page.evaluate(main_top)
    page.locator(f"#order-{orders[0].id}-panel").get_by_role("button", name="Submit").click()
    expect(low.locator(".status-Canceled")).to_be_visible()
    flash = page.locator("#flash").get_by_text(f"Order {orders[0].order_id} was canceled")
    expect(flash).to_be_in_viewport()  # where the action happened, not 2,500 px above
    assert page.evaluate(main_top) == top  # and the message pushed nothing down
    assert page.locator("#flash").get_attribute("aria-live") == "polite"
    context.close()
    assert watch.violations == []


def test_the_csp_check_catches_an_inline_script(browser, live_server):
    """The check every browser test runs would fail on an inline script: the server's own CSP blocks it and the
    watch records the violation."""
    context = browser.new_context()
    watch = CspWatch(context)
    page = context.new_page()

    def with_inline_script(route):
        response = route.fetch()
        body = response.text().replace("</body>", "<script>document.title = 'ran'</script></body>")
        route.fulfill(response=response, body=body)
    page.route(re.compile(r".*/login$"), with_inline_script)
    page.goto(live_server.url + "/login")
    expect(page).not_to_have_title("ran")
    page.wait_for_timeout(200)
    assert any("script-src" in v for v in watch.violations), watch.violations
    context.close()

"""Manage Orders in Chromium against a real server: actions swap their row in place, and every
control a finger has to hit is at least 44 px tall on a 1024x768 tablet."""
import pytest
from sqlalchemy import select

from conftest import browser_sign_in, make_order
from seller.models import Cancellation, Order, Shipment

pytestmark = pytest.mark.browser


@pytest.fixture
def signed_in(page, live_server, browser_user):
    page.set_viewport_size({"width": 1024, "height": 768})
    browser_sign_in(page, live_server.url, *browser_user)
    return page


def open_list(page, live_server, order):
    """The list, narrowed to one order; a marker on `window` tells whether the page was reloaded since."""
    page.goto(f"{live_server.url}/orders?q={order.order_id}")
    page.evaluate("window.__notReloaded = true")
    return page.locator(f'tr[data-order-id="{order.order_id}"]')


def panel_of(page, order):
    """The panel under the order's row, where its action forms open."""
    return page.locator(f"#order-{order.id}-panel")


def still_same_page(page) -> bool:
    return page.evaluate("window.__notReloaded === true")


def unshipped_count(page) -> str:
    return page.locator("#order-tabs a").filter(has_text="Unshipped").locator(".count").inner_text()


def fresh(live_db, order) -> Order:
    live_db.session.rollback()  # end the read transaction: see what the server committed
    return live_db.session.get(Order, order.id)


def test_confirm_shipment_swaps_the_row_without_reloading(signed_in, live_server, live_db):
    page = signed_in
    order = make_order("Unshipped")
    row = open_list(page, live_server, order)
    assert unshipped_count(page) == "1"
    row.get_by_role("button", name="Confirm shipment").click()
    form_row = panel_of(page, order)
    form_row.get_by_label("Carrier", exact=True).select_option("Other")
    form_row.get_by_label("Tracking ID").fill("LOCAL-1")
    form_row.get_by_role("button", name="Confirm shipment").click()
    # Other without a carrier name: the form comes back (422) with the message next to the field.
    page.get_by_text("Enter the carrier's name when the carrier is Other.").wait_for()
    form_row.get_by_label("Carrier name").fill("Village Courier")
    form_row.get_by_role("button", name="Confirm shipment").click()
    page.locator(f'tr[data-order-id="{order.order_id}"] .status-Shipped').wait_for()
    assert still_same_page(page)
    assert page.locator("#flash").get_by_text(f"Shipment confirmed for order {order.order_id}.").is_visible()
    assert unshipped_count(page) == "0"  # the tab counts were swapped out of band
    assert fresh(live_db, order).status == "Shipped"
    assert live_db.session.scalar(select(Shipment.carrier_name).where(Shipment.order_id == order.id)) \
        == "Village Courier"


def test_cancel_with_a_reason(signed_in, live_server, live_db):
    page = signed_in
    order = make_order("Unshipped")
    row = open_list(page, live_server, order)
    row.get_by_role("button", name="Cancel order").click()
    form_row = panel_of(page, order)
    form_row.get_by_role("button", name="Submit").click()
    page.get_by_text("Choose a reason for cancellation.").wait_for()
    form_row.get_by_label("Reason for cancellation").select_option("Pricing error")
    form_row.get_by_label("Seller memo").fill("Listed at the wrong price")
    form_row.get_by_role("button", name="Submit").click()
    page.locator(f'tr[data-order-id="{order.order_id}"] .status-Canceled').wait_for()
    assert still_same_page(page)
    assert fresh(live_db, order).status == "Canceled"
    assert live_db.session.scalar(select(Cancellation.reason).where(Cancellation.order_id == order.id)) \
        == "Pricing error"


def test_edit_and_reconfirm_shipment(signed_in, live_server, live_db):
    page = signed_in
    order = make_order("Shipped")
    row = open_list(page, live_server, order)
    row.get_by_role("button", name="Edit shipment").click()
    form_row = panel_of(page, order)
    tracking = form_row.get_by_label("Tracking ID")
    assert tracking.input_value() == "1Z999AA10123456784"
    form_row.get_by_label("Carrier", exact=True).select_option("FedEx")
    tracking.fill("123456789012")
    form_row.get_by_role("button", name="Re-confirm shipment").click()
    page.locator(f'tr[data-order-id="{order.order_id}"]').get_by_text("FedEx 123456789012").wait_for()
    assert still_same_page(page)
    live_db.session.rollback()  # end the read transaction: see what the server committed
    shipments = live_db.session.scalars(select(Shipment).where(Shipment.order_id == order.id)
                                        .order_by(Shipment.id)).all()
    assert [s.tracking_id for s in shipments] == ["1Z999AA10123456784", "123456789012"]
    assert shipments[0].superseded_at is not None


def test_closing_a_form_puts_the_row_back(signed_in, live_server):
    page = signed_in
    order = make_order("Unshipped")
    row = open_list(page, live_server, order)
    row.get_by_role("button", name="Confirm shipment").click()
    panel_of(page, order).get_by_role("link", name="Close").click()
    page.locator(f'tr[data-order-id="{order.order_id}"]').get_by_role("button", name="Cancel order").wait_for()
    assert still_same_page(page)


def heights(locator) -> list[tuple[str, float]]:
    return locator.evaluate_all(
        "els => els.filter(e => e.offsetParent !== null)"
        ".map(e => [e.textContent.trim() || e.getAttribute('aria-label') || e.tagName, e.getBoundingClientRect().height])")


def test_every_action_control_is_touch_sized_on_a_tablet(signed_in, live_server):
    page = signed_in
    make_order("Unshipped")
    make_order("Shipped")
    page.goto(f"{live_server.url}/orders")
    controls = page.locator("#orders-list :is(a, button, summary, select, label.tap, "
                            "input:not([type=hidden], [type=checkbox]))")
    measured = heights(controls)
    assert len(measured) >= 20
    assert [m for m in measured if m[1] < 44] == []
    unshipped = page.locator("tr[data-order-id].st-unshipped").first
    unshipped.get_by_role("button", name="Confirm shipment").click()
    form = page.locator("tr.panel-row form")
    form.wait_for()
    measured = heights(page.locator("tr.panel-row :is(a, button, input:not([type=hidden]), select, textarea)"))
    assert len(measured) >= 6
    assert [m for m in measured if m[1] < 44] == []
    assert page.evaluate("document.documentElement.scrollWidth") <= 1024  # no sideways scrolling


def test_tabs_search_and_sort_swap_the_list_and_keep_a_shareable_url(signed_in, live_server):
    page = signed_in
    unshipped, shipped = make_order("Unshipped"), make_order("Shipped")
    page.goto(f"{live_server.url}/orders")
    page.evaluate("window.__notReloaded = true")
    page.locator("#order-tabs a").filter(has_text="Unshipped").click()
    page.wait_for_url("**/orders?status=Unshipped")
    assert page.locator('tr[data-order-id] .status-Shipped').count() == 0
    assert page.locator(f'tr[data-order-id="{unshipped.order_id}"]').is_visible()
    page.get_by_label("Search orders").fill(shipped.order_id)
    page.get_by_label("Search orders").press("Enter")
    page.wait_for_url(f"**q={shipped.order_id}**")
    page.locator("#order-tabs a").filter(has_text="All").click()
    page.locator(f'tr[data-order-id="{shipped.order_id}"]').wait_for()
    page.get_by_text("Filters", exact=True).click()  # dates and sort fold away on a tablet
    page.get_by_label("Sort by").select_option("ship_by")
    page.wait_for_url("**sort=ship_by**")
    assert still_same_page(page)
    page.reload()  # the pushed URL renders the same list as a full page
    assert page.locator(f'tr[data-order-id="{shipped.order_id}"]').is_visible()
    assert page.get_by_label("Search orders").input_value() == shipped.order_id

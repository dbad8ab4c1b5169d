"""Performance in a real browser, at desktop and tablet size: the charts draw, nothing errs, a rate opens its
orders in place."""
from datetime import timedelta

import pytest
from conftest import browser_sign_in, make_order

from seller import workflow
from seller import clock

SIZES = {"desktop": (1366, 900), "tablet": (1024, 768)}


def arrange():
    """Shipments on days of their own: the live server is shared by every browser test, and today's many on-time
    confirmations from other tests would dilute a late one below the target (4 %): five days ago, two late."""
    now = clock.now()
    for hours, late in ((123, True), (123, True), (30, False), (80, False)):
        order = make_order("Unshipped", purchased_at=now - timedelta(hours=hours + (49 if late else 1)))
        workflow.confirm_shipment(order, None, workflow.ShipmentInput(
            carrier="UPS", tracking_id="1Z999AA10123456784",
            ship_date=clock.local_today(workflow.store_tz(), now - timedelta(hours=hours))),
            now=now - timedelta(hours=hours))
    workflow.cancel_order(make_order("Unshipped", purchased_at=now - timedelta(days=2)), None, "No inventory")
    return make_order("Unshipped", purchased_at=now - timedelta(hours=50))  # past Ship by


@pytest.mark.browser
@pytest.mark.parametrize("size", SIZES)
def test_performance_charts_render(page, live_server, live_db, browser_user, size):
    at_risk = arrange()
    width, height = SIZES[size]
    page.set_viewport_size({"width": width, "height": height})
    problems = []
    page.on("console", lambda m: m.type == "error" and not m.location.get("url", "").endswith("/favicon.ico")
            and problems.append(m.text))
    page.on("pageerror", lambda e: problems.append(str(e)))
    browser_sign_in(page, live_server.url, *browser_user)
    assert "/login" not in page.url  # signed in (the helper waits for any URL holding "/orders")
    page.goto(live_server.url + "/performance")

    charts = page.locator("figure.perf-chart svg[role=img]")
    assert charts.count() == 3
    for i in range(3):
        box = charts.nth(i).bounding_box()
        assert box["width"] > 0.6 * width - 100 and box["x"] + box["width"] <= width  # wide, and no sideways scroll
        assert box["height"] > 150
        assert charts.nth(i).locator("circle").count() >= 1
        assert charts.nth(i).locator("line.target").count() == 1
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    late_chart = page.locator("#late-shipment-rate svg")
    assert late_chart.locator("title").first.text_content() == "Late Shipment Rate per day, last 30 days"
    assert late_chart.locator("circle.misses").count() >= 1

    assert page.locator(f'#at-risk tr[data-order-id="{at_risk.order_id}"] a').get_attribute("href") \
        == f"/orders?q={at_risk.order_id}#order-{at_risk.id}"

    page.locator("#late-shipment-rate a.perf-rate").first.click()  # htmx: the orders open under the rate
    drill = page.locator("#drill-late-shipment-rate .perf-drill-list")
    drill.wait_for()
    assert drill.locator("tr[data-order-id]").count() >= 1
    assert "/performance" == page.url.removeprefix(live_server.url)  # no navigation
    assert drill.get_by_role("link", name="Download CSV").is_visible()
    assert problems == []

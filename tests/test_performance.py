"""Performance (issue 7): the three rates against hand-computed fixtures, their windows in store time (DST
included), the at-risk list, the drill-downs and their CSV, the charts, and who may see the page.

Fixtures are made through the workflow verbs with `now=`, in the store's default timezone
(America/Los_Angeles); each expected figure is worked out by hand in the test's comments."""
import csv
import io
import re
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import event

from seller import clock, workflow
from seller.extensions import db
from seller.models import Shipment
from seller import metrics
from seller.performance import charts
from seller.metrics import Rate

TZ = ZoneInfo("America/Los_Angeles")
UPS_OK = "1Z999AA10123456784"


def at(y, m, d, hh=12, mm=0, ss=0):
    """A store wall-clock time as stored: naive UTC."""
    return datetime(y, m, d, hh, mm, ss, tzinfo=TZ).astimezone(timezone.utc).replace(tzinfo=None)


def ship(order, when, carrier="UPS", tracking=UPS_OK, carrier_name=""):
    return workflow.confirm_shipment(order, None, workflow.ShipmentInput(
        carrier=carrier, tracking_id=tracking, carrier_name=carrier_name,
        ship_date=clock.to_local(when, TZ).date()), now=when)


def shipped(order_factory, confirmed, late=False, **shipment):
    """An order confirmed at `confirmed`, bought 1 hour before (on time) or 49 hours before (late)."""
    order = order_factory("Unshipped", purchased_at=confirmed - timedelta(hours=49 if late else 1))
    ship(order, confirmed, **shipment)
    return order


def canceled(order_factory, purchased, reason, after=timedelta(hours=1)):
    order = order_factory("Unshipped", purchased_at=purchased)
    workflow.cancel_order(order, None, reason, now=purchased + after)
    return order


def by_slug(report):
    return {m.definition.slug: m for m in report}


def window(metric, days):
    return next(w for w in metric.windows if w.days == days)


# ---------------------------------------------------------------- Late Shipment Rate


def test_late_shipment_rate_hand_computed(app, order_factory):
    now = at(2026, 6, 20, 15, 0)  # 10 days: Jun 11-20; 30 days: May 22-Jun 20 (no DST change inside)
    shipped(order_factory, at(2026, 6, 20, 9, 0))  # on time, both windows
    shipped(order_factory, at(2026, 6, 17, 9, 0), late=True)  # late, both windows
    edited = shipped(order_factory, at(2026, 6, 12, 9, 0), late=True)  # late, both; edited: still one order
    workflow.edit_shipment(edited, None, workflow.ShipmentInput(carrier="UPS", tracking_id=UPS_OK,
                                                                ship_date=clock.to_local(now, TZ).date()), now=now)
    shipped(order_factory, at(2026, 6, 4, 9, 0), late=True)  # late, 30 days only
    shipped(order_factory, at(2026, 5, 25, 9, 0))  # on time, 30 days only
    shipped(order_factory, at(2026, 5, 10, 9, 0), late=True)  # before both windows
    order_factory("Unshipped", purchased_at=at(2026, 6, 10))  # never confirmed: not in the rate
    canceled(order_factory, at(2026, 6, 15), "No inventory")  # canceled: not in the rate
    lsr = by_slug(metrics.report(now))["late-shipment-rate"]
    # 10 days: 2 late of 3 confirmed; 30 days: 3 late of 5.
    assert window(lsr, 10).rate == Rate(2, 3)
    assert window(lsr, 30).rate == Rate(3, 5)
    assert window(lsr, 10).rate.percent.quantize(Decimal("0.01")) == Decimal("66.67")
    assert window(lsr, 30).rate.percent == Decimal(60)
    assert lsr.definition.meets(window(lsr, 30).rate) is False
    assert (window(lsr, 10).first, window(lsr, 10).last) == (datetime(2026, 6, 11).date(), datetime(2026, 6, 20).date())
    daily = dict(lsr.daily)
    assert daily[datetime(2026, 6, 17).date()] == Rate(1, 1) and daily[datetime(2026, 6, 20).date()] == Rate(0, 1)
    assert sum((r for _, r in lsr.daily), Rate()) == Rate(3, 5)


def test_late_shipment_window_edges_at_00_00_and_23_59(app, order_factory):
    now = at(2026, 6, 20, 23, 59, 30)
    shipped(order_factory, at(2026, 6, 10, 23, 59), late=True)  # the day before the 10-day window: out
    shipped(order_factory, at(2026, 6, 11, 0, 0), late=True)  # first minute of the window: in
    shipped(order_factory, at(2026, 6, 20, 23, 59))  # last minute of today: in
    shipped(order_factory, at(2026, 5, 21, 23, 59))  # the day before the 30-day window: out
    shipped(order_factory, at(2026, 5, 22, 0, 0))  # first minute of the 30-day window: in
    lsr = by_slug(metrics.report(now))["late-shipment-rate"]
    assert window(lsr, 10).rate == Rate(1, 2)
    assert window(lsr, 30).rate == Rate(2, 4)
    daily = dict(lsr.daily)
    assert daily[datetime(2026, 6, 10).date()] == Rate(1, 1)  # 23:59 stays on its own day
    assert daily[datetime(2026, 6, 11).date()] == Rate(1, 1)


@pytest.mark.parametrize("now, first_in, last_out, after_change, day", [
    # Spring forward, Sunday Mar 8 2026: the window Mar 3-12 starts in PST (UTC-8) and ends in PDT (UTC-7).
    (at(2026, 3, 12, 12), at(2026, 3, 3, 0, 0), at(2026, 3, 2, 23, 59), at(2026, 3, 9, 0, 30), (2026, 3, 9)),
    # Fall back, Sunday Nov 1 2026: the window Oct 25-Nov 3 starts in PDT and ends in PST.
    (at(2026, 11, 3, 12), at(2026, 10, 25, 0, 0), at(2026, 10, 24, 23, 59), at(2026, 11, 1, 23, 30), (2026, 11, 1)),
])
def test_windows_and_days_across_a_dst_change(app, order_factory, now, first_in, last_out, after_change, day):
    shipped(order_factory, first_in, late=True)
    shipped(order_factory, last_out, late=True)
    shipped(order_factory, after_change)  # a fixed offset would put it on the neighbouring day
    lsr = by_slug(metrics.report(now))["late-shipment-rate"]
    assert window(lsr, 10).rate == Rate(1, 2)
    daily = dict(lsr.daily)
    assert daily[datetime(*day).date()] == Rate(0, 1)
    assert daily[clock.to_local(first_in, TZ).date()] == Rate(1, 1)


# ---------------------------------------------------------------- Pre-fulfillment Cancel Rate


def test_cancel_rate_hand_computed_buyer_canceled_excluded(app, order_factory):
    now = at(2026, 6, 20, 23, 30)  # 7 days on the order date: Jun 14-20
    counted = canceled(order_factory, at(2026, 6, 14, 0, 0), "No inventory")  # counts
    canceled(order_factory, at(2026, 6, 13, 23, 59), "Pricing error")  # ordered the day before: out
    canceled(order_factory, at(2026, 6, 15), "Buyer canceled")  # an order, but not the seller's doing
    shipped(order_factory, at(2026, 6, 16, 13))  # an order
    order_factory("Pending", purchased_at=at(2026, 6, 20, 23, 0))  # an order
    order_factory("Unshipped", purchased_at=at(2026, 6, 20, 9))  # an order
    canceled(order_factory, at(2026, 6, 1), "No inventory")  # long before the window
    cr = by_slug(metrics.report(now))["cancel-rate"]
    # 1 canceled by the seller of 5 orders placed Jun 14-20 = 20 %.
    assert window(cr, 7).rate == Rate(1, 5)
    assert window(cr, 7).rate.percent == Decimal(20)
    assert cr.definition.meets(window(cr, 7).rate) is False
    drill = metrics.counted_against("cancel-rate", now)
    assert [(r.order_id, r.reason) for r in drill.rows] == [(counted.order_id, "No inventory")]
    assert drill.total == 1


def test_cancel_rate_meets_target_just_under(app, order_factory):
    now = at(2026, 6, 20, 18)
    canceled(order_factory, at(2026, 6, 18), "General adjustment")
    for _ in range(40):  # 1 of 41 = 2.44 %: under 2.5 %
        order_factory("Unshipped", purchased_at=at(2026, 6, 19))
    cr = by_slug(metrics.report(now))["cancel-rate"]
    assert window(cr, 7).rate == Rate(1, 41)
    assert cr.definition.meets(window(cr, 7).rate) is True
    order_factory("Unshipped", purchased_at=at(2026, 6, 5))  # outside the 7 days: changes nothing
    assert window(by_slug(metrics.report(now))["cancel-rate"], 7).rate == Rate(1, 41)
    assert metrics.CANCEL.meets(Rate(1, 40)) is False  # exactly 2.5 % is not under 2.5 %
    assert metrics.VALID_TRACKING.meets(Rate(19, 20)) is True  # exactly 95 % is at least 95 %


# ---------------------------------------------------------------- Valid Tracking Rate


def test_valid_tracking_rate_hand_computed(app, order_factory):
    now = at(2026, 6, 20, 18)
    shipped(order_factory, at(2026, 6, 19))  # UPS, valid
    shipped(order_factory, at(2026, 6, 18), carrier="OnTrac", tracking="C11234567890")  # no format known: valid
    bad = shipped(order_factory, at(2026, 6, 17), carrier="USPS", tracking="12345")  # wrong format
    other_listed = shipped(order_factory, at(2026, 6, 16), carrier="Other", carrier_name="UPS")  # a listed one
    other = shipped(order_factory, at(2026, 6, 15), carrier="Other", carrier_name="Speedy Couriers", tracking="SC1")
    fixed = shipped(order_factory, at(2026, 6, 14), carrier="USPS", tracking="999")  # then corrected
    workflow.edit_shipment(fixed, None, workflow.ShipmentInput(carrier="UPS", tracking_id=UPS_OK,
                                                               ship_date=datetime(2026, 6, 15).date()),
                           now=at(2026, 6, 15))
    shipped(order_factory, at(2026, 5, 20), carrier="USPS", tracking="1")  # before the 30 days
    vtr = by_slug(metrics.report(now))["valid-tracking-rate"]
    # Valid: UPS, OnTrac, the corrected one = 3 of 6 shipments in force = 50 %.
    assert window(vtr, 30).rate == Rate(3, 6)
    assert vtr.definition.meets(window(vtr, 30).rate) is False
    assert vtr.definition.against_count(window(vtr, 30).rate) == 3
    reasons = {r.order_id: r.reason for r in metrics.counted_against("valid-tracking-rate", now).rows}
    assert reasons == {
        bad.order_id: "Tracking ID 12345 does not match the USPS format",
        other_listed.order_id: "Carrier Other with the name UPS: choose UPS from the carrier list",
        other.order_id: "Carrier Other (Speedy Couriers) is not a listed carrier, so its tracking cannot be checked",
    }


def test_other_carrier_named_as_a_listed_one_is_invalid_whatever_was_stored(app, order_factory):
    """The workflow never marks Other valid; the rate checks the carrier again, so a row written any other
    way (an import, an old version) still counts invalid."""
    now = at(2026, 6, 20, 18)
    assert workflow.tracking_matches("Other", UPS_OK) is False
    order = shipped(order_factory, at(2026, 6, 19), carrier="Other", carrier_name="ups")
    shipment = db.session.scalar(db.select(Shipment).where(Shipment.order_id == order.id))
    assert shipment.tracking_valid is False
    shipment.tracking_valid = True  # as if written without the workflow
    db.session.commit()
    assert window(by_slug(metrics.report(now))["valid-tracking-rate"], 30).rate == Rate(0, 1)
    [row] = metrics.counted_against("valid-tracking-rate", now).rows
    assert row.reason == "Carrier Other with the name ups: choose UPS from the carrier list"


@pytest.mark.parametrize("carrier, tracking", [
    ("UPS", UPS_OK), ("UPS", "1Z123"), ("USPS", "9400111899223100000000"), ("USPS", "94001"),
    ("FedEx", "123456789012"), ("FedEx", "12345"), ("DHL", "1234567890"), ("Canada Post", "X1"), ("Other", UPS_OK),
])
def test_validity_agrees_with_workflow_tracking_matches(app, order_factory, carrier, tracking):
    now = at(2026, 6, 20, 18)
    shipped(order_factory, at(2026, 6, 19), carrier=carrier, tracking=tracking, carrier_name="X")
    expected = workflow.tracking_matches(carrier, workflow.normalize_tracking(tracking))
    assert window(by_slug(metrics.report(now))["valid-tracking-rate"], 30).rate == Rate(int(expected), 1)


# ---------------------------------------------------------------- empty windows, query budget


def test_empty_windows_have_no_rate(app, order_factory):
    now = at(2026, 6, 20, 18)
    shipped(order_factory, at(2026, 6, 1), late=True)  # only in the 30-day window
    report = by_slug(metrics.report(now))
    lsr = report["late-shipment-rate"]
    assert window(lsr, 10).rate == Rate(0, 0)
    assert window(lsr, 10).rate.percent is None and lsr.definition.meets(window(lsr, 10).rate) is None
    assert window(lsr, 30).rate == Rate(1, 1)
    assert window(report["cancel-rate"], 7).rate.percent is None
    assert metrics.pct(None) == "no orders"


def test_the_report_is_one_statement_whatever_the_orders(app, order_factory):
    for k in range(5):
        shipped(order_factory, clock.now() - timedelta(days=k, hours=1), late=k % 2 == 0)
    statements = []
    listener = lambda *args: statements.append(args[2])  # noqa: E731
    event.listen(db.engine, "before_cursor_execute", listener)
    try:
        metrics.report()
    finally:
        event.remove(db.engine, "before_cursor_execute", listener)
    queries = [s for s in statements if "FROM settings" not in s and s.lstrip().upper().startswith("SELECT")]
    assert len(queries) == 1 and queries[0].lower().count("count(*)") == 6


# ---------------------------------------------------------------- at risk of shipping late


def test_at_risk_at_the_12_hour_edge(app, order_factory):
    now = at(2026, 6, 20, 10)
    hours = timedelta(hours=48)  # Ship by = purchase + the default 48 hours of handling

    def due(ship_by, status="Unshipped"):
        return order_factory(status, purchased_at=ship_by - hours)

    edge = due(now + timedelta(hours=12))  # exactly 12 hours left: at risk
    due(now + timedelta(hours=12, seconds=1))  # a second more: not yet
    late = due(now - timedelta(hours=1))  # past Ship by
    due_now = due(now)  # due this very moment: not past, 0 left
    due(now - timedelta(hours=5), "Pending")  # not paid: nothing to ship
    due(now - timedelta(hours=5), "Canceled")
    shipped(order_factory, now - timedelta(hours=2), late=True)  # shipped: no longer at risk
    assert metrics.at_risk_count(now) == 3
    rows = metrics.at_risk(now)
    assert [r.order_id for r in rows] == [due_now.order_id, edge.order_id, late.order_id]
    assert [r.past for r in rows] == [False, False, True]
    assert rows[1].left == timedelta(hours=12) and rows[2].left == -timedelta(hours=1)
    assert metrics.duration(rows[1].left) == "12 h" and metrics.duration(rows[0].left) == "less than a minute"
    assert [r.order_id for r in metrics.at_risk(now, limit=1)] == [due_now.order_id]


def test_at_risk_list_on_the_page_links_to_manage_orders(owner_client, order_factory):
    late = order_factory("Unshipped", purchased_at=clock.now() - timedelta(hours=50))
    soon = order_factory("Unshipped", purchased_at=clock.now() - timedelta(hours=40))
    order_factory("Unshipped", purchased_at=clock.now() - timedelta(hours=2))  # 46 hours left
    html = owner_client.get("/performance").get_data(as_text=True)
    assert '<span class="badge badge-late" id="at-risk-count">2</span>' in html
    for order, text in ((late, "past Ship by"), (soon, "left")):
        row = re.search(rf'<tr data-order-id="{order.order_id}">(.*?)</tr>', html, re.S).group(1)
        assert f'href="/orders?q={order.order_id}#order-{order.id}"' in row and text in row


def test_at_risk_shows_ten_then_all(owner_client, order_factory):
    for k in range(12):
        order_factory("Unshipped", purchased_at=clock.now() - timedelta(hours=50 + k))
    html = owner_client.get("/performance").get_data(as_text=True)
    assert html.count("past Ship by</td>") == 10 and "Show all 12" in html
    html = owner_client.get("/performance?at_risk=all").get_data(as_text=True)
    assert html.count("past Ship by</td>") == 12 and "Show all" not in html


# ---------------------------------------------------------------- the page


def test_page_shows_each_rate_with_counts_target_status_and_chart(owner_client, order_factory):
    now = clock.now()
    shipped(order_factory, now - timedelta(hours=3), late=True)
    shipped(order_factory, now - timedelta(days=2))
    response = owner_client.get("/performance")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    for name in ("Late Shipment Rate", "Pre-fulfillment Cancel Rate", "Valid Tracking Rate"):
        assert f">{name}</h2>" in html
    lsr = html[html.index('id="late-shipment-rate"'):html.index('id="cancel-rate"')]
    assert "Target: under 4%" in lsr and "50.00%" in lsr and "✗ Misses target" in lsr
    assert "1 late of 2 orders confirmed" in lsr and "Show the 1 order counted against it" in lsr
    vtr = html[html.index('id="valid-tracking-rate"'):]
    assert "100.00%" in vtr and "✓ Meets target" in vtr and "Target: at least 95%" in vtr
    cr = html[html.index('id="cancel-rate"'):html.index('id="valid-tracking-rate"')]
    assert "0 canceled by you of 2 orders" in cr and "0.00%" in cr and "✓ Meets target" in cr
    assert html.count("<svg") == 3 and html.count("<title id=\"chart-") == 3 and html.count("<desc") == 3
    assert html.count("<details>") == 3 and "Daily figures (table)" in html
    assert html.count('<circle class="misses"') == 1  # today's late shipment on the Late Shipment chart


def test_empty_store_shows_no_orders_not_zero(owner_client):
    html = owner_client.get("/performance").get_data(as_text=True)
    assert html.count('<span class="perf-rate">no orders</span>') == 4  # 10 and 30 days, 7 days, 30 days
    assert html.count("No orders in this window") == 4
    assert "0.00%" not in html and "<circle" not in html
    assert "No orders on any of these days." in html and html.count("No orders in these 30 days</text>") == 3
    assert " of 0 " not in html
    assert "No unshipped order is past Ship by or due within 12 hours." in html


def test_staff_can_see_the_page_and_the_drill_downs(staff_client):
    assert staff_client.get("/performance").status_code == 200
    assert staff_client.get("/performance/cancel-rate").status_code == 200
    assert staff_client.get("/performance/cancel-rate.csv").status_code == 200


@pytest.mark.parametrize("url", ["/performance", "/performance/late-shipment-rate",
                                 "/performance/valid-tracking-rate.csv"])
def test_anonymous_is_sent_to_sign_in(client, url):
    response = client.get(url)
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    assert client.get(url, headers={"HX-Request": "true"}).status_code == 401


def test_unknown_metric_is_404(owner_client):
    assert owner_client.get("/performance/order-defect-rate").status_code == 404
    assert owner_client.get("/performance/order-defect-rate.csv").status_code == 404


# ---------------------------------------------------------------- drill-down and CSV


def table_rows(html):
    body = html[html.index('<div class="perf-drill-list">'):]
    return [[re.sub(r"<[^>]+>", "", cell).strip().replace("&#39;", "'").replace("&amp;", "&")
             for cell in re.findall(r"<td>(.*?)</td>", row, re.S)]
            for row in re.findall(r"<tr data-order-id=[^>]*>(.*?)</tr>", body, re.S)]


def fill_all_metrics(order_factory):
    now = clock.now()
    shipped(order_factory, now - timedelta(hours=2), late=True)
    shipped(order_factory, now - timedelta(days=3), late=True, carrier="USPS", tracking="12")
    shipped(order_factory, now - timedelta(days=1), carrier="Other", carrier_name="FedEx")
    canceled(order_factory, now - timedelta(days=2), "Shipping address undeliverable")
    canceled(order_factory, now - timedelta(days=1), "Buyer canceled")


@pytest.mark.parametrize("slug, expected", [("late-shipment-rate", 2), ("cancel-rate", 1),
                                            ("valid-tracking-rate", 2)])
def test_csv_rows_match_the_page(owner_client, order_factory, slug, expected):
    fill_all_metrics(order_factory)
    page = table_rows(owner_client.get(f"/performance/{slug}").get_data(as_text=True))
    response = owner_client.get(f"/performance/{slug}.csv")
    assert response.mimetype == "text/csv"
    assert f'filename="{slug}-' in response.headers["Content-Disposition"]
    header, *rows = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
    assert header == ["Order ID", metrics.DEFINITIONS[slug].date_label, "Reason"]
    assert len(rows) == expected and rows == page


def test_drill_down_with_htmx_is_a_fragment(owner_client, order_factory):
    fill_all_metrics(order_factory)
    response = owner_client.get("/performance/late-shipment-rate", headers={"HX-Request": "true"})
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "<html" not in html and "HX-Request" in response.headers["Vary"]
    assert html.count("<tr data-order-id=") == 2 and "after Ship by" in html
    assert 'href="/performance/late-shipment-rate.csv"' in html
    full = owner_client.get("/performance/late-shipment-rate").get_data(as_text=True)
    assert "<html" in full and "← Performance" in full


def test_drill_down_pages(owner_client, order_factory, monkeypatch):
    monkeypatch.setattr("seller.performance.routes.PAGE_SIZE", 2)
    now = clock.now()
    orders = [shipped(order_factory, now - timedelta(hours=1 + k), late=True) for k in range(3)]
    first = owner_client.get("/performance/late-shipment-rate").get_data(as_text=True)
    second = owner_client.get("/performance/late-shipment-rate?page=2").get_data(as_text=True)
    assert [r[0] for r in table_rows(first)] == [o.order_id for o in orders[:2]]  # newest first
    assert [r[0] for r in table_rows(second)] == [orders[2].order_id]
    assert "Page 1 of 2" in first and "?page=2" in first and "Page 2 of 2" in second
    assert "There is no such page." in owner_client.get("/performance/late-shipment-rate?page=9").get_data(
        as_text=True)


def test_csv_cells_cannot_start_a_formula(owner_client, order_factory):
    order = order_factory("Unshipped", order_id="=HYPERLINK(\"http://x\")", purchased_at=clock.now() - timedelta(hours=3))
    workflow.cancel_order(order, None, "Pricing error")
    rows = list(csv.reader(io.StringIO(owner_client.get("/performance/cancel-rate.csv").get_data(as_text=True))))
    assert ["'=HYPERLINK(\"http://x\")"] == [r[0] for r in rows if "HYPERLINK" in r[0]]


# ---------------------------------------------------------------- the chart's drawing


def test_chart_draws_a_dot_per_day_with_orders_and_breaks_the_line_on_empty_days():
    days = [datetime(2026, 6, 1).date() + timedelta(days=i) for i in range(30)]
    daily = [Rate()] * 30
    daily[0], daily[1], daily[2], daily[10], daily[29] = Rate(0, 4), Rate(1, 10), Rate(1, 2), Rate(0, 3), Rate(0, 1)
    metric = metrics.Metric(metrics.LATE_SHIPMENT, [], list(zip(days, daily)))
    chart = charts.daily_chart(metric)
    assert len(chart.points) == 5 and [p.meets for p in chart.points] == [True, False, False, True, True]
    assert len(chart.lines) == 1 and chart.lines[0].count(",") == 3  # days 0-2; days 10 and 29 stand alone
    # The scale goes to 50 % (the 50 % day), the target line sits at 4 % of it.
    assert chart.y_ticks[-1][1] == "50%" and chart.target_tick == "4%"
    bottom, top = chart.bottom, chart.top
    assert chart.target_y == round(top + (1 - 4 / 50) * (bottom - top), 1)
    assert chart.points[2].y == top and chart.points[0].y == bottom
    assert chart.points[1].text == "Jun 2: 10.00% (1 late of 10 orders confirmed)"
    assert "2 of 5 days with orders missed the target. The highest was 50.00% on Jun 3. 25 days without orders." \
        in chart.desc
    assert [label for _, label in chart.x_ticks] == ["Jun 2", "Jun 9", "Jun 16", "Jun 23", "Today"]


def test_valid_tracking_chart_keeps_the_top_of_the_scale():
    days = [datetime(2026, 6, 1).date() + timedelta(days=i) for i in range(30)]
    metric = metrics.Metric(metrics.VALID_TRACKING, [], [(d, Rate(97, 100)) for d in days])
    chart = charts.daily_chart(metric)
    assert [label for _, label in chart.y_ticks] == ["90%", "92%", "94%", "96%", "98%", "100%"]
    assert chart.band[0] == chart.target_y  # the shaded miss zone is below 95 %
    assert all(p.meets for p in chart.points) and "0 of 30 days with orders missed the target." in chart.desc

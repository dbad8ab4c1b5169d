"""Manage Orders: the list (window, dates, tabs, search, pages, sort), the order page, and
Confirm shipment / Edit shipment / Cancel order with and without htmx."""
import io
import re
from datetime import date, datetime, timedelta

import pypdf
import pytest
from sqlalchemy import event, func, select
from werkzeug.datastructures import MultiDict

from conftest import add_user, item_fields, make_app, reset_schema, sign_in
from seller import clock, workflow
from seller.extensions import db
from seller.models import Cancellation, Order, OrderEvent, Shipment
from seller.search import filtered_orders

HX = {"HX-Request": "true"}


def ids_in(response) -> list[str]:
    """The order IDs of the rows in a list page or fragment, in order."""
    return re.findall(r'<tr id="order-\d+" data-order-id="([^"]+)"', response.get_data(as_text=True))


def tab_counts(response) -> dict[str, int]:
    html = response.get_data(as_text=True)
    nav = html[html.index('id="order-tabs"'):]
    nav = nav[:nav.index("</nav>")]
    return {name: int(n) for name, n in re.findall(r'>(\w+) <span class="count">(\d+)</span>', nav)}


def local(y, m, d, hh=0, mm=0, tz="America/Los_Angeles"):
    """A store wall-clock time as the naive UTC the database keeps."""
    from zoneinfo import ZoneInfo
    from datetime import timezone
    return datetime(y, m, d, hh, mm, tzinfo=ZoneInfo(tz)).astimezone(timezone.utc).replace(tzinfo=None)


def today():
    return clock.local_today(workflow.store_tz())


def ship_data(**overrides):
    data = {"ship_date": today().isoformat(), "carrier": "UPS", "carrier_name": "", "shipping_service": "Ground",
            "tracking_id": "1Z999AA10123456784", "note": ""}
    data.update(overrides)
    return data


# ---------------------------------------------------------------- the list: window, dates, tabs


def test_default_list_is_the_last_7_store_days_across_a_dst_change(owner_client, order_factory, frozen_now):
    # DST starts on Sunday 2026-03-08 in Los Angeles: the window Mar 4..Mar 10 starts at 08:00 UTC (PST)
    # and ends at 07:00 UTC (PDT).
    frozen_now(local(2026, 3, 10, 13, 0))
    inside = [order_factory(purchased_at=local(2026, 3, 4, 0, 0)), order_factory(purchased_at=local(2026, 3, 10, 23, 59)),
              order_factory(purchased_at=local(2026, 3, 8, 3, 30))]
    outside = [order_factory(purchased_at=local(2026, 3, 3, 23, 59)), order_factory(purchased_at=local(2026, 3, 11, 0, 0))]
    shown = ids_in(owner_client.get("/orders"))
    assert sorted(shown) == sorted(o.order_id for o in inside)
    assert not set(shown) & {o.order_id for o in outside}
    assert shown[0] == inside[1].order_id  # newest first


def test_from_to_are_inclusive_store_days_over_the_autumn_dst_change(owner_client, order_factory):
    # 2026-11-01 is 25 hours long in Los Angeles (PDT -> PST).
    edge = {"before": local(2026, 10, 31, 23, 59), "first": local(2026, 11, 1, 0, 0),
            "last": local(2026, 11, 1, 23, 59), "after": local(2026, 11, 2, 0, 0)}
    orders = {k: order_factory(purchased_at=v) for k, v in edge.items()}
    assert edge["last"] - edge["first"] == timedelta(hours=24, minutes=59)
    shown = ids_in(owner_client.get("/orders?from=2026-11-01&to=2026-11-01"))
    assert sorted(shown) == sorted([orders["first"].order_id, orders["last"].order_id])
    only_from = ids_in(owner_client.get("/orders?from=2026-11-02"))
    assert only_from == [orders["after"].order_id]
    only_to = ids_in(owner_client.get("/orders?to=2026-10-31"))
    assert only_to == [orders["before"].order_id]


def test_to_before_from_is_a_message_not_a_crash(owner_client, order_factory):
    response = owner_client.get("/orders?from=2026-11-05&to=2026-11-01")
    assert response.status_code == 200
    assert "To must be the same day as From or later." in response.get_data(as_text=True)
    bad = owner_client.get("/orders?from=yesterday")
    assert bad.status_code == 200 and "Not a valid date value" in bad.get_data(as_text=True)


def test_tabs_count_each_status_and_filter_the_rows(owner_client, order_factory):
    made = {s: [order_factory(s) for _ in range(n)] for s, n in
            (("Pending", 1), ("Unshipped", 2), ("Shipped", 3), ("Canceled", 1))}
    order_factory(purchased_at=clock.now() - timedelta(days=20))  # outside the default window, still Unshipped
    response = owner_client.get("/orders")
    # All, Shipped and Canceled count the last 7 days; Unshipped and Pending are work queues: every date
    assert tab_counts(response) == {"All": 7, "Pending": 1, "Unshipped": 3, "Shipped": 3, "Canceled": 1}
    shipped = owner_client.get("/orders?status=Shipped")
    assert sorted(ids_in(shipped)) == sorted(o.order_id for o in made["Shipped"])
    assert tab_counts(shipped)["All"] == 7  # the tab does not narrow the counts
    assert 'aria-current="page">Shipped' in shipped.get_data(as_text=True)


def test_counts_follow_the_search(owner_client, order_factory):
    order_factory("Unshipped", items=[item_fields(sku="MUG-1")])
    order_factory("Shipped", items=[item_fields(sku="MUG-1")])
    order_factory("Shipped", items=[item_fields(sku="CUP-2")])
    assert tab_counts(owner_client.get("/orders?sku=MUG-1")) == {"All": 2, "Pending": 0, "Unshipped": 1,
                                                                "Shipped": 1, "Canceled": 0}


def test_the_list_shows_an_orders_columns(owner_client, order_factory):
    order = order_factory("Shipped", buyer_name="Ada Lovelace", ship_service_level="Expedited",
                          items=[item_fields(sku="LAMP-9", product_name="Desk Lamp", quantity=2, price=3000, tax=0,
                                             shipping=0, shipping_tax=0)])
    html = owner_client.get("/orders").get_data(as_text=True)
    row = html[html.index(f'data-order-id="{order.order_id}"'):]
    row = row[:row.index("</tr>")]
    for text in (f'href="/orders/{order.order_id}"', "Ada Lovelace", "Desk Lamp", "SKU LAMP-9", "Qty <b>2</b>",
                 "$30.00", "Expedited", "UPS 1Z999AA10123456784", "status-Shipped",
                 clock.to_local(order.purchased_at, workflow.store_tz()).strftime("%b %d, %Y"),
                 clock.to_local(order.ship_by, workflow.store_tz()).strftime("%I:%M %p")):
        assert text in row, text


def actions_of(response, order) -> list[str]:
    html = response.get_data(as_text=True)
    row = html[html.index(f'data-order-id="{order.order_id}"'):]
    row = row[:row.index("</tr>")]
    return re.findall(r'class="btn[^"]*"[^>]*>([^<]+)</(?:a|button)>', row)


def test_each_status_shows_exactly_its_actions(owner_client, order_factory):
    orders = {s: order_factory(s) for s in ("Pending", "Unshipped", "Shipped", "Canceled")}
    page = owner_client.get("/orders")
    assert actions_of(page, orders["Unshipped"]) == ["Print packing slip", "Confirm shipment", "Buy shipping",
                                                     "Cancel order"]
    assert actions_of(page, orders["Shipped"]) == ["Print packing slip", "Edit shipment", "Refund order"]
    assert actions_of(page, orders["Pending"]) == []
    assert actions_of(page, orders["Canceled"]) == []
    html = page.get_data(as_text=True)
    assert f'href="/orders/{orders["Unshipped"].order_id}/packing-slip.pdf" target="_blank"' in html
    assert f'href="/shipping/{orders["Unshipped"].order_id}/buy-shipping"' in html or "buy-shipping" in html
    assert f'action="/orders/{orders["Shipped"].order_id}/refund"' in html


def test_staff_sees_no_cancel_order(staff_client, order_factory):
    order = order_factory("Unshipped")
    assert actions_of(staff_client.get("/orders"), order) == ["Print packing slip", "Confirm shipment",
                                                              "Buy shipping"]


def test_pending_rows_and_page_show_no_address(owner_client, order_factory):
    order = order_factory("Pending", ship_address_1="77 Secret Lane")
    assert "77 Secret Lane" not in owner_client.get("/orders").get_data(as_text=True)
    page = owner_client.get(f"/orders/{order.order_id}").get_data(as_text=True)
    assert "77 Secret Lane" not in page and "The address is shown once the buyer has paid." in page
    order_factory("Unshipped", ship_address_1="12 Open Road")
    paid = db.session.scalar(select(Order).where(Order.ship_address_1 == "12 Open Road"))
    assert "12 Open Road" in owner_client.get(f"/orders/{paid.order_id}").get_data(as_text=True)


# ---------------------------------------------------------------- search


@pytest.fixture
def searchable(order_factory):
    a = order_factory("Shipped", buyer_name="Grace Hopper", buyer_email="grace@example.com",
                      ship_service_level="NextDay",
                      items=[item_fields(sku="COBOL-1", product_name="Compiler Handbook, Blue")])
    b = order_factory("Unshipped", buyer_name="Alan Turing", buyer_email="alan@example.com",
                      items=[item_fields(sku="ENIGMA-2", product_name="Rotor Set")])
    c = order_factory("Canceled", buyer_name="Ada Byron", buyer_email="ada@example.com",
                      purchased_at=clock.now() - timedelta(days=40),
                      items=[item_fields(sku="ENGINE-3", product_name="Difference Engine Kit")])
    return a, b, c


@pytest.mark.parametrize("query, expected", [
    ("order_id={a.order_id}", "a"),
    ("buyer_name=hopper", "a"),
    ("buyer_email=ALAN@example.com", "b"),
    ("sku=engine-3", "c"),
    ("product_name=rotor", "b"),
    ("tracking_id=1z999aa1012 3456784", "a"),
    ("status=Canceled&from=2000-01-01", "c"),
    ("service=nextday", "a"),
    ("q={b.order_id}", "b"),
    ("q=Ada Byron", "c"),
    ("q=grace@example.com", "a"),
    ("q=ENIGMA-2", "b"),
    ("q=difference engine", "c"),
    ("q=1Z999AA10123456784", "a"),
    ("q=IGMA", "b"),
    ("q=10123456", "a"),
    ("buyer_name=a&sku=ENIGMA-2", "b"),
])
def test_each_search_criterion(owner_client, searchable, query, expected):
    a, b, c = searchable
    orders = {"a": a, "b": b, "c": c}
    response = owner_client.get("/orders?" + query.format(a=a, b=b, c=c))
    assert response.status_code == 200
    assert ids_in(response) == [orders[expected].order_id]


def test_search_covers_all_dates_unless_from_or_to_are_given(owner_client, searchable):
    old = searchable[2]
    assert ids_in(owner_client.get(f"/orders?q={old.order_id}")) == [old.order_id]
    assert ids_in(owner_client.get(f"/orders?q={old.order_id}&from={today().isoformat()}")) == []
    assert "Matching orders of all dates." in owner_client.get("/orders?q=x").get_data(as_text=True)


def test_search_treats_like_wildcards_as_text(owner_client, order_factory):
    order_factory(buyer_name="100% Cotton")
    order_factory(buyer_name="Plain Name")
    assert len(ids_in(owner_client.get("/orders?buyer_name=%25"))) == 1
    assert len(ids_in(owner_client.get("/orders?buyer_name=_"))) == 0


def test_advanced_search_panel_has_the_contract_fields(owner_client):
    html = owner_client.get("/orders?sku=X").get_data(as_text=True)
    start = html.index('<details class="advanced" open>')
    details = html[start:html.index("</details>", start)]
    assert "<summary>Advanced Search</summary>" in details
    for label in ("Order ID", "Buyer name", "Buyer email", "SKU", "Product name", "Tracking ID", "Status",
                  "Shipping service"):
        assert re.search(rf"<label for=\"\w+\">{label}</label>", details), label
    assert ">Search</button>" in details
    for label in ("Search orders", "From", "To"):
        assert re.search(rf"<label for=\"\w+\">{label}</label>", html), label
    assert 'type="date"' in html
    assert '<details class="advanced">' in owner_client.get("/orders").get_data(as_text=True)  # closed by default


def test_filtered_orders_is_the_list_without_the_status_tab(app, order_factory, frozen_now):
    recent_unshipped = order_factory("Unshipped")
    recent_shipped = order_factory("Shipped")
    old_unshipped = order_factory("Unshipped", purchased_at=clock.now() - timedelta(days=30))
    args = MultiDict({"status": "Shipped"})
    found = db.session.scalars(filtered_orders(args)).all()
    assert {o.id for o in found} == {recent_unshipped.id, recent_shipped.id}
    unshipped = db.session.scalars(filtered_orders(args, "Unshipped")).all()  # a work queue: every date
    assert {o.id for o in unshipped} == {recent_unshipped.id, old_unshipped.id}
    assert len(db.session.scalars(filtered_orders({"from": "2000-01-01"})).all()) == 3


# ---------------------------------------------------------------- pages and sort


def test_pages_of_25_50_100(owner_client, order_factory):
    base = clock.now() - timedelta(hours=1)
    made = [order_factory(purchased_at=base - timedelta(minutes=n)) for n in range(30)]
    first = owner_client.get("/orders")
    assert ids_in(first) == [o.order_id for o in made[:25]]
    assert "Page 1 of 2" in first.get_data(as_text=True)
    assert ids_in(owner_client.get("/orders?page=2")) == [o.order_id for o in made[25:]]
    assert len(ids_in(owner_client.get("/orders?per_page=50"))) == 30
    assert len(ids_in(owner_client.get("/orders?per_page=100"))) == 30
    assert len(ids_in(owner_client.get("/orders?per_page=7&page=-3"))) == 25  # nonsense falls back to defaults


def test_sort_by_order_date_and_ship_by(owner_client, order_factory):
    now = clock.now()
    a = order_factory(purchased_at=now - timedelta(hours=5))
    b = order_factory(purchased_at=now - timedelta(hours=3), promise_at=now + timedelta(days=5))
    c = order_factory(purchased_at=now - timedelta(hours=1))
    assert ids_in(owner_client.get("/orders")) == [c.order_id, b.order_id, a.order_id]
    assert ids_in(owner_client.get("/orders?sort=date_asc")) == [a.order_id, b.order_id, c.order_id]
    assert ids_in(owner_client.get("/orders?sort=ship_by")) == [a.order_id, c.order_id, b.order_id]
    assert ids_in(owner_client.get("/orders?sort=ship_by_desc")) == [b.order_id, c.order_id, a.order_id]


def test_filters_answer_htmx_with_the_list_section_only(owner_client, order_factory):
    order = order_factory()
    response = owner_client.get("/orders?status=Unshipped", headers=HX)
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "<html" not in html
    assert 'id="order-filter"' in html and 'id="order-tabs"' in html and ids_in(response) == [order.order_id]
    assert "HX-Request" in response.headers["Vary"]
    full = owner_client.get("/orders?status=Unshipped").get_data(as_text=True)
    assert "<html" in full and 'hx-push-url="true"' in full and 'id="orders-list"' in full


def test_query_count_does_not_grow_with_page_size(app, owner_client, order_factory):
    for n in range(120):
        order = workflow.new_order(
            {"order_id": f"900-{n:07d}-0000000", "purchased_at": clock.now() - timedelta(minutes=n + 5),
             "paid_at": clock.now() - timedelta(minutes=n + 4), "buyer_name": f"B {n}"},
            [item_fields(), item_fields(sku="SKU-2")])
    db.session.commit()
    for order in db.session.scalars(select(Order).limit(60)):
        workflow.confirm_shipment(order, None, workflow.ShipmentInput(carrier="USPS", tracking_id="9400100000000000000000",
                                                                      ship_date=today()))
    counts = {}
    statements = []

    def count(conn, cursor, statement, *args):
        statements.append(statement)

    owner_client.get("/orders")
    event.listen(db.engine, "before_cursor_execute", count)
    try:
        for size in (25, 50, 100):
            statements.clear()
            response = owner_client.get(f"/orders?per_page={size}")
            assert len(ids_in(response)) == size
            counts[size] = len(statements)
    finally:
        event.remove(db.engine, "before_cursor_execute", count)
    assert counts[25] == counts[50] == counts[100], counts
    # BEGIN, the user, the list cache's data version, settings, tab counts, the page, its items, its shipments,
    # the at-risk count and when it next changes, whether an Amazon connection is saved
    assert counts[100] <= 11, [s[:60] for s in statements]


# ---------------------------------------------------------------- the order page


def test_order_page_shows_everything_and_its_history(owner, owner_client, order_factory):
    order = order_factory("Unshipped", buyer_name="Mary Shelley", buyer_email="mary@example.com",
                          recipient_name="Percy Shelley", ship_address_1="1 Lake Geneva Rd",
                          items=[item_fields(sku="BOOK-1", product_name="Frankenstein", price=1599, tax=132,
                                             shipping=399, shipping_tax=33)])
    workflow.confirm_shipment(order, owner, workflow.ShipmentInput(carrier="USPS", tracking_id="123",
                                                                   ship_date=today(), shipping_service="Ground"))
    workflow.edit_shipment(order, owner, workflow.ShipmentInput(carrier="UPS", tracking_id="1Z999AA10123456784",
                                                                ship_date=today(), note="re-labelled"))
    response = owner_client.get(f"/orders/{order.order_id}")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    for text in ("Mary Shelley", "mary@example.com", "Percy Shelley", "1 Lake Geneva Rd", "Frankenstein", "BOOK-1",
                 "$15.99", "$1.32", "$3.99", "$0.33", "$21.63", "Replaced", "Current", "re-labelled",
                 "Imported from an order report", "Confirmed shipment", "Re-confirmed shipment",
                 "by owner@example.com", "History", "Check tracking"):
        assert text in html, text
    history = html[html.index("<h2>History</h2>"):]
    for ev in db.session.scalars(select(OrderEvent).where(OrderEvent.order_id == order.id)):
        assert clock.to_local(ev.at, workflow.store_tz()).strftime("%b %d, %Y %I:%M %p %Z") in history
    assert "Package</dt><dd>UPS 1Z999AA10123456784 shipped" in history
    assert owner_client.get("/orders/999-0000000-0000000").status_code == 404


def test_order_page_shows_cancellation_and_actions(owner_client, order_factory):
    canceled = order_factory("Canceled")
    html = owner_client.get(f"/orders/{canceled.order_id}").get_data(as_text=True)
    assert "Reason for cancellation" in html and "No inventory" in html and "Canceled order" in html
    unshipped = order_factory("Unshipped")
    html = owner_client.get(f"/orders/{unshipped.order_id}").get_data(as_text=True)
    for label in ("Print packing slip", "Confirm shipment", "Buy shipping", "Cancel order"):
        assert f">{label}</" in html


# ---------------------------------------------------------------- Confirm shipment


def test_confirm_shipment_form_opens_inline_with_htmx_and_as_a_page_without(owner_client, order_factory):
    order = order_factory()
    inline = owner_client.get(f"/orders/{order.order_id}/ship?next=/orders%3Fstatus%3DUnshipped", headers=HX)
    html = inline.get_data(as_text=True)
    assert inline.status_code == 200 and "<html" not in html
    assert html.lstrip().startswith(f'<tr id="order-{order.id}-panel"')  # the form opens under the order's row
    assert f'hx-post="/orders/{order.order_id}/ship"' in html and 'hx-disabled-elt="find button"' in html
    assert f'value="{today().isoformat()}"' in html  # Ship date defaults to today in the store's timezone
    assert '<input type="hidden" name="next" value="/orders?status=Unshipped">' in html
    for label in ("Ship date", "Carrier", "Carrier name", "Shipping service", "Tracking ID", "Seller note"):
        assert re.search(rf'<label for="\w+-{order.id}">{label}</label>', html), label
    assert all(f'<option value="{c}">{c}</option>' in html for c in workflow.CARRIERS)
    assert ">Confirm shipment</button>" in html and ">Close</a>" in html
    page = owner_client.get(f"/orders/{order.order_id}/ship")
    assert page.status_code == 200 and "<html" in page.get_data(as_text=True)
    assert "hx-post" not in page.get_data(as_text=True).split('<form method="post"')[2]


def test_confirm_shipment_without_js(owner_client, order_factory, owner):
    order = order_factory()
    response = owner_client.post(f"/orders/{order.order_id}/ship",
                                 data={**ship_data(), "version": order.version, "next": "/orders?status=Unshipped"})
    assert response.status_code == 303 and response.headers["Location"] == "/orders?status=Unshipped"
    db.session.refresh(order)
    assert order.status == "Shipped" and not order.late
    shipment = db.session.scalar(select(Shipment).where(Shipment.order_id == order.id))
    assert (shipment.carrier, shipment.tracking_id, shipment.shipping_service, shipment.confirmed_by_id) == \
        ("UPS", "1Z999AA10123456784", "Ground", owner.id)
    event_ = db.session.scalar(select(OrderEvent).where(OrderEvent.order_id == order.id).order_by(OrderEvent.id.desc()))
    assert event_.action == "confirm_shipment" and event_.user_id == owner.id
    page = owner_client.get("/orders?status=Shipped").get_data(as_text=True)
    assert f"Shipment confirmed for order {order.order_id}." in page


def test_confirm_shipment_with_htmx(owner_client, order_factory):
    order = order_factory()
    order_factory()  # another unshipped order
    response = owner_client.post(f"/orders/{order.order_id}/ship", headers=HX,
                                 data={**ship_data(), "version": order.version})
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "<html" not in html
    assert html.lstrip().startswith(f'<tr id="order-{order.id}" data-order-id="{order.order_id}"')
    assert "status-Shipped" in html and ">Edit shipment</button>" in html
    assert re.search(r'<nav id="order-tabs"[^>]*hx-swap-oob="true"', html)
    assert 'Unshipped <span class="count">1</span>' in html and 'Shipped <span class="count">1</span>' in html
    assert re.search(r'<div id="flash"[^>]*hx-swap-oob="true"', html)
    assert f"Shipment confirmed for order {order.order_id}." in html
    assert "HX-Request" in response.headers["Vary"]
    assert len(response.data) <= 4096
    db.session.refresh(order)
    assert order.status == "Shipped"


def test_counts_after_an_action_follow_the_lists_filters(owner_client, order_factory):
    order = order_factory("Unshipped", items=[item_fields(sku="MUG-1")])
    order_factory("Unshipped", items=[item_fields(sku="CUP-2")])
    response = owner_client.post(f"/orders/{order.order_id}/ship", headers=HX,
                                 data={**ship_data(), "next": "/orders?sku=MUG-1"})
    html = response.get_data(as_text=True)
    assert 'All <span class="count">1</span>' in html and 'Unshipped <span class="count">0</span>' in html
    assert "/orders?sku=MUG-1&amp;status=Shipped" in html


@pytest.mark.parametrize("headers", [{}, HX], ids=["no-js", "htmx"])
@pytest.mark.parametrize("change, field, message", [
    ({"ship_date": "2999-01-01"}, "ship_date", "The ship date cannot be in the future."),
    ({"ship_date": "2001-01-01"}, "ship_date", "The ship date cannot be before the order date."),
    ({"carrier": "Other", "carrier_name": ""}, "carrier_name", "Enter the carrier&#39;s name when the carrier is Other."),
    ({"carrier": "", "tracking_id": "LOCAL-1"}, "carrier", "Choose a carrier: the tracking ID does not show which one."),
    ({"ship_date": ""}, "ship_date", "Enter the ship date."),
])
def test_confirm_shipment_refuses_bad_input_with_422(owner_client, order_factory, headers, change, field, message):
    order = order_factory()
    response = owner_client.post(f"/orders/{order.order_id}/ship", headers=headers,
                                 data={**ship_data(**change), "version": order.version})
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert re.search(rf'<p class="error" id="{field}-{order.id}-error">{re.escape(message)}</p>', html), html
    assert ("<html" in html) == (not headers)
    db.session.refresh(order)
    assert order.status == "Unshipped" and order.shipments == []


def test_ship_date_before_the_purchase_in_store_time(owner_client, order_factory):
    """Purchased at 23:30 store time on the 1st (already the 2nd in UTC): a ship date of the 1st is fine."""
    purchased = local(2026, 11, 1, 23, 30)
    order = order_factory(purchased_at=purchased)
    assert purchased.date() == date(2026, 11, 2)
    response = owner_client.post(f"/orders/{order.order_id}/ship", data=ship_data(ship_date="2026-11-01"))
    assert response.status_code == 303
    too_early = order_factory(purchased_at=purchased)
    response = owner_client.post(f"/orders/{too_early.order_id}/ship", data=ship_data(ship_date="2026-10-31"))
    assert response.status_code == 422


def test_other_carrier_with_its_name(owner_client, order_factory):
    order = order_factory()
    response = owner_client.post(f"/orders/{order.order_id}/ship",
                                 data=ship_data(carrier="Other", carrier_name="Local Courier", tracking_id="LC-1"))
    assert response.status_code == 303
    db.session.refresh(order)
    assert order.shipment.carrier_name == "Local Courier"


def test_a_tracking_id_in_the_wrong_format_is_a_warning_not_a_block(owner_client, order_factory):
    order = order_factory()
    response = owner_client.post(f"/orders/{order.order_id}/ship", headers=HX, data=ship_data(tracking_id="12345"))
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "flash-warning" in html and "does not look like a UPS tracking ID" in html
    assert "Check tracking" in html
    db.session.refresh(order)
    assert order.status == "Shipped" and order.shipment.tracking_valid is False
    page = owner_client.get(f"/orders/{order.order_id}").get_data(as_text=True)
    assert "does not match the format of UPS tracking IDs" in page


def test_late_rule_the_moment_of_confirming_counts(owner_client, order_factory):
    overdue = order_factory(purchased_at=clock.now() - timedelta(days=3))
    on_time = order_factory(purchased_at=clock.now() - timedelta(hours=2))
    page = owner_client.get("/orders").get_data(as_text=True)
    assert "badge-late" in page.split(f'data-order-id="{overdue.order_id}"')[1].split("</tr>")[0]
    assert "badge-late" not in page.split(f'data-order-id="{on_time.order_id}"')[1].split("</tr>")[0]
    response = owner_client.post(f"/orders/{overdue.order_id}/ship", headers=HX,
                                 data=ship_data(ship_date=(today() - timedelta(days=2)).isoformat()))
    html = response.get_data(as_text=True)
    assert '<span class="badge badge-late">Late</span>' in html and "counts as a late shipment" in html
    db.session.refresh(overdue)
    assert overdue.late is True and overdue.shipment.late is True
    response = owner_client.post(f"/orders/{on_time.order_id}/ship", headers=HX, data=ship_data())
    assert "badge-late" not in response.get_data(as_text=True)
    db.session.refresh(on_time)
    assert on_time.late is False


# ---------------------------------------------------------------- Edit shipment


def test_edit_shipment_form_is_filled_in(owner_client, order_factory):
    order = order_factory("Shipped")
    html = owner_client.get(f"/orders/{order.order_id}/edit-shipment", headers=HX).get_data(as_text=True)
    assert 'value="1Z999AA10123456784"' in html and '<option selected value="UPS">UPS</option>' in html
    assert ">Re-confirm shipment</button>" in html


@pytest.mark.parametrize("headers", [{}, HX], ids=["no-js", "htmx"])
def test_edit_shipment_keeps_the_earlier_record(owner_client, order_factory, headers):
    order = order_factory("Shipped")
    first = order.shipment
    response = owner_client.post(f"/orders/{order.order_id}/edit-shipment", headers=headers,
                                 data={**ship_data(carrier="FedEx", tracking_id="123456789012"),
                                       "version": order.version})
    if headers:
        html = response.get_data(as_text=True)
        assert response.status_code == 200 and f'<tr id="order-{order.id}"' in html and "<html" not in html
        assert "FedEx 123456789012" in html and 'hx-swap-oob="true"' in html
        assert f"Shipment re-confirmed for order {order.order_id}." in html
    else:
        assert response.status_code == 303 and response.headers["Location"] == "/orders"
    db.session.refresh(order)
    assert [s.carrier for s in order.shipments] == ["UPS", "FedEx"]
    assert order.shipments[0].superseded_at is not None and order.shipment.tracking_id == "123456789012"
    last = db.session.scalar(select(OrderEvent).where(OrderEvent.order_id == order.id).order_by(OrderEvent.id.desc()))
    assert last.action == "edit_shipment" and last.details["previous"][0]["tracking_id"] == first.tracking_id


# ---------------------------------------------------------------- Cancel order


def test_cancel_form(owner_client, order_factory):
    order = order_factory()
    html = owner_client.get(f"/orders/{order.order_id}/cancel", headers=HX).get_data(as_text=True)
    assert re.search(rf'<label for="reason-{order.id}">Reason for cancellation</label>', html)
    options = re.findall(r'<option value="([^"]*)">', html)
    assert options == [""] + workflow.CANCEL_REASONS
    assert re.search(rf'<label for="memo-{order.id}">Seller memo</label>', html) and ">Submit</button>" in html


@pytest.mark.parametrize("headers", [{}, HX], ids=["no-js", "htmx"])
def test_cancel_order(owner, owner_client, order_factory, headers):
    order = order_factory()
    response = owner_client.post(f"/orders/{order.order_id}/cancel", headers=headers,
                                 data={"reason": "Buyer canceled", "memo": "asked by e-mail", "version": order.version})
    if headers:
        html = response.get_data(as_text=True)
        assert response.status_code == 200 and "<html" not in html
        assert html.lstrip().startswith(f'<tr id="order-{order.id}"') and "status-Canceled" in html
        assert re.search(r'<nav id="order-tabs"[^>]*hx-swap-oob="true"', html)
        assert re.search(r'<div id="flash"[^>]*hx-swap-oob="true"', html) and "was canceled" in html
        assert "HX-Request" in response.headers["Vary"]
    else:
        assert response.status_code == 303
        assert "was canceled (Buyer canceled)" in owner_client.get("/orders").get_data(as_text=True)
    db.session.refresh(order)
    assert order.status == "Canceled"
    cancellation = db.session.scalar(select(Cancellation).where(Cancellation.order_id == order.id))
    assert (cancellation.reason, cancellation.memo, cancellation.canceled_by_id) == ("Buyer canceled",
                                                                                     "asked by e-mail", owner.id)
    last = db.session.scalar(select(OrderEvent).where(OrderEvent.order_id == order.id).order_by(OrderEvent.id.desc()))
    assert last.action == "cancel_order" and last.details["counts_toward_cancel_rate"] is False


@pytest.mark.parametrize("headers", [{}, HX], ids=["no-js", "htmx"])
def test_cancel_needs_a_reason(owner_client, order_factory, headers):
    order = order_factory()
    for reason in ("", "Because"):
        response = owner_client.post(f"/orders/{order.order_id}/cancel", headers=headers, data={"reason": reason})
        assert response.status_code == 422
        assert f'id="reason-{order.id}-error"' in response.get_data(as_text=True)
    db.session.refresh(order)
    assert order.status == "Unshipped" and order.cancellation is None


# ---------------------------------------------------------------- illegal transitions, stale pages, roles


def snapshot(order):
    db.session.expire_all()
    fresh = db.session.get(Order, order.id)
    return (fresh.status, fresh.version, len(fresh.shipments), fresh.cancellation is not None,
            db.session.scalar(select(func.count()).select_from(OrderEvent).where(OrderEvent.order_id == order.id)))


@pytest.mark.parametrize("status, action, data", [
    ("Shipped", "ship", ship_data),
    ("Canceled", "ship", ship_data),
    ("Pending", "ship", ship_data),
    ("Unshipped", "edit-shipment", ship_data),
    ("Canceled", "edit-shipment", ship_data),
    ("Shipped", "cancel", lambda: {"reason": "No inventory"}),
    ("Canceled", "cancel", lambda: {"reason": "No inventory"}),
    ("Pending", "cancel", lambda: {"reason": "No inventory"}),
])
@pytest.mark.parametrize("headers", [{}, HX], ids=["no-js", "htmx"])
def test_illegal_transitions_change_nothing(owner_client, order_factory, status, action, data, headers):
    order = order_factory(status)
    before = snapshot(order)
    for method in ("get", "post"):
        response = getattr(owner_client, method)(f"/orders/{order.order_id}/{action}", headers=headers, data=data())
        assert response.status_code == 409
        assert f"is {status}" in response.get_data(as_text=True)
    if headers:
        html = response.get_data(as_text=True)
        assert f'<tr id="order-{order.id}"' in html and 'id="flash" class="flash-area" aria-live="polite" hx-swap-oob' in html
    assert snapshot(order) == before


@pytest.mark.parametrize("action, data", [("ship", ship_data), ("cancel", lambda: {"reason": "No inventory"})])
def test_a_stale_page_is_refused(owner_client, order_factory, action, data):
    order = order_factory()
    stale_version = order.version
    db.session.execute(Order.__table__.update().where(Order.id == order.id).values(version=Order.version + 1))
    db.session.commit()
    before = snapshot(order)
    response = owner_client.post(f"/orders/{order.order_id}/{action}", headers=HX,
                                 data={**data(), "version": stale_version})
    assert response.status_code == 409
    assert "changed by someone else" in response.get_data(as_text=True)
    assert snapshot(order) == before


def test_staff_cannot_cancel_but_can_ship(staff, staff_client, order_factory):
    order = order_factory()
    assert staff_client.get(f"/orders/{order.order_id}/cancel").status_code == 403
    assert staff_client.post(f"/orders/{order.order_id}/cancel", data={"reason": "No inventory"}).status_code == 403
    forbidden = staff_client.post(f"/orders/{order.order_id}/cancel", headers=HX, data={"reason": "No inventory"})
    assert forbidden.status_code == 403 and "Your account cannot do that" in forbidden.get_data(as_text=True)
    db.session.refresh(order)
    assert order.status == "Unshipped"
    assert staff_client.post(f"/orders/{order.order_id}/ship", data=ship_data()).status_code == 303
    db.session.refresh(order)
    assert order.status == "Shipped" and order.shipment.confirmed_by_id == staff.id
    assert staff_client.post(f"/orders/{order.order_id}/edit-shipment", data=ship_data()).status_code == 303


def test_signed_out_is_sent_to_sign_in(client, order_factory):
    order = order_factory()
    assert client.get("/orders").status_code == 302
    response = client.post(f"/orders/{order.order_id}/ship", headers=HX, data=ship_data())
    assert response.status_code == 401 and "HX-Redirect" in response.headers


def test_next_only_goes_back_to_the_list(owner_client, order_factory):
    order = order_factory()
    response = owner_client.post(f"/orders/{order.order_id}/ship", data={**ship_data(), "next": "https://evil.example/"})
    assert response.headers["Location"] == "/orders"


def test_closing_an_inline_form_puts_the_row_back(owner_client, order_factory):
    order = order_factory()
    response = owner_client.get(f"/orders/{order.order_id}/row?next=/orders%3Fsku%3DX", headers=HX)
    html = response.get_data(as_text=True)
    assert html.lstrip().startswith(f'<tr id="order-{order.id}" data-order-id="{order.order_id}"')
    assert '<input type="hidden" name="next" value="/orders?sku=X">' in html


def test_bulk_packing_slips_form(owner_client, order_factory):
    order = order_factory()
    html = owner_client.get("/orders?sku=SKU-1").get_data(as_text=True)
    assert re.search(r'<form id="slips-form" method="post" action="/orders/packing-slips.pdf" target="_blank">', html)
    assert f'name="order_ids" value="{order.order_id}" form="slips-form"' in html
    assert ">Print packing slips</button>" in html
    assert 'action="/orders/packing-slips.pdf?sku=SKU-1"' in html and 'name="scope" value="unshipped"' in html


class TestWithCsrf:
    @pytest.fixture
    def csrf_app(self, db_url):
        app = make_app(db_url, WTF_CSRF_ENABLED=True)
        reset_schema(app)
        with app.app_context():
            yield app
            db.session.remove()
        with app.app_context():
            db.engine.dispose()

    def test_actions_need_the_token(self, csrf_app):
        from conftest import add_user, make_order
        user = add_user("owner@example.com", "owner")
        order = make_order()
        client = sign_in(csrf_app.test_client(), user)
        refused = client.post(f"/orders/{order.order_id}/ship", headers=HX, data=ship_data())
        assert refused.status_code == 400 and "out of date" in refused.get_data(as_text=True)
        page = client.get("/orders").get_data(as_text=True)
        token = re.search(r'"X-CSRFToken": "([^"]+)"', page).group(1)
        form = client.get(f"/orders/{order.order_id}/ship", headers=HX).get_data(as_text=True)
        assert 'name="csrf_token"' in form
        ok = client.post(f"/orders/{order.order_id}/ship", headers={**HX, "X-CSRFToken": token}, data=ship_data())
        assert ok.status_code == 200


# ---------------------------------------------------------------- the list's section cache


def test_the_list_shows_a_change_committed_by_another_process(owner_client, order_factory, db_url):
    import subprocess
    import sys
    order = order_factory(buyer_name="Before Change")
    assert "Before Change" in owner_client.get("/orders").get_data(as_text=True)
    script = ("import sys; from sqlalchemy import create_engine, text; e = create_engine(sys.argv[1]);\n"
              "with e.begin() as c: c.execute(text('UPDATE orders SET buyer_name = :n WHERE id = :i'), "
              "{'n': 'After Change', 'i': int(sys.argv[2])})")
    subprocess.run([sys.executable, "-c", script, str(db.engine.url.render_as_string(hide_password=False)),
                    str(order.id)], check=True)
    db.session.remove()  # as at the end of a request (the test's app context outlives them)
    html = owner_client.get("/orders").get_data(as_text=True)
    assert "After Change" in html and "Before Change" not in html


def test_the_list_shows_this_servers_own_changes_at_once(owner_client, order_factory):
    order = order_factory()
    assert "status-Unshipped" in owner_client.get("/orders").get_data(as_text=True)
    assert owner_client.post(f"/orders/{order.order_id}/ship", data=ship_data()).status_code == 303
    html = owner_client.get("/orders").get_data(as_text=True)
    assert "status-Shipped" in html and "status-Unshipped" not in html


def test_the_list_turns_late_when_ship_by_passes(owner_client, order_factory, frozen_now):
    now = clock.now()
    order = order_factory(purchased_at=now - timedelta(hours=47))
    frozen_now(now)
    assert "badge-late" not in owner_client.get("/orders").get_data(as_text=True)
    frozen_now(order.ship_by + timedelta(seconds=1))
    assert "badge-late" in owner_client.get("/orders").get_data(as_text=True)


def test_the_list_is_not_shared_between_owner_and_staff(app, owner_client, order_factory):
    order = order_factory()
    from flask import g
    assert "Cancel order" in actions_of(owner_client.get("/orders"), order)
    g.pop("_login_user", None)  # the test's app context outlives requests; Flask-Login keeps the user in `g`
    staff_client = sign_in(app.test_client(), add_user("staff@example.com", "staff"))
    assert "Cancel order" not in actions_of(staff_client.get("/orders"), order)


def test_the_list_without_its_cache(app, owner_client, order_factory):
    app.config["ORDERS_LIST_CACHE"] = False
    order = order_factory()
    assert ids_in(owner_client.get("/orders")) == [order.order_id]
    assert ids_in(owner_client.get("/orders", headers=HX)) == [order.order_id]


def test_order_page_shows_refunds_returns_and_messages(owner, owner_client, order_factory):
    import secrets
    from decimal import Decimal
    order = order_factory("Shipped", items=[item_fields(sku="MUG-1", price=1000, tax=80, shipping=500,
                                                        shipping_tax=40)])
    item = order.items[0]
    ret = workflow.create_return(order, owner, workflow.RETURN_REASONS[0], {item.id: 1})
    workflow.refund(order, owner, workflow.RefundInput(kind="partial", reason="Customer Return",
                                                       idempotency_key=secrets.token_hex(8),
                                                       amounts={item.id: (Decimal("4.00"), Decimal("0"))},
                                                       memo_to_buyer="Sorry about that"), return_request=ret)
    workflow.contact_buyer(order, owner, "About your mug", "It ships tomorrow.")
    html = owner_client.get(f"/orders/{order.order_id}").get_data(as_text=True)
    for text in ("<h2>Refunds</h2>", "Partial Refund", "Customer Return", "$4.32", "To buyer: Sorry about that",
                 "<h2>Returns</h2>", workflow.RETURN_REASONS[0], "1 × MUG-1", "About your mug", "It ships tomorrow.",
                 "Refunded", "Return requested", "Contacted buyer", "Create return request"):
        assert text in html, text


def test_tabs_show_the_orders_at_risk_of_late_shipment(app, owner_client, order_factory):
    order_factory("Unshipped", purchased_at=clock.now() - timedelta(hours=40))  # due in 8 hours
    order_factory("Unshipped", purchased_at=clock.now() - timedelta(hours=30))  # due in 18 hours: not yet
    page = owner_client.get("/orders").get_data(as_text=True)
    assert "1 at risk of late shipment" in page
    order_factory("Unshipped", purchased_at=clock.now() - timedelta(hours=50))  # already past Ship by
    assert "2 at risk of late shipment" in owner_client.get("/orders").get_data(as_text=True)


def test_the_list_links_to_import_and_export_by_role(owner_client, staff_client):
    owner_page = owner_client.get("/orders").get_data(as_text=True)
    assert ">Import orders</a>" in owner_page and ">Export shipments</a>" in owner_page
    staff_page = staff_client.get("/orders").get_data(as_text=True)
    assert ">Import orders</a>" not in staff_page and ">Export shipments</a>" in staff_page


@pytest.mark.parametrize("url", ["/orders?page=99999999999999999999", "/orders?to=9999-12-31",
                                 "/orders?from=0001-01-01", "/orders/export?from=0001-01-01&to=9999-12-31"])
def test_far_off_numbers_and_dates_are_refused_not_500(owner_client, url):
    assert owner_client.get(url).status_code in (200, 422)


def test_a_forged_version_is_refused_not_500(owner_client, order_factory):
    order = order_factory("Unshipped")
    for path, data in ((f"/orders/{order.order_id}/ship", {"carrier": "USPS", "tracking_id": "9400111899223197428490",
                                                           "ship_date": today().isoformat()}),
                       (f"/orders/{order.order_id}/cancel", {"reason": "No inventory"})):
        response = owner_client.post(path, data={**data, "version": str(10**30)})
        assert response.status_code == 422, path
    db.session.refresh(order)
    assert order.status == "Unshipped"


def test_after_a_stale_page_the_form_carries_the_current_version(owner_client, order_factory, owner):
    order = order_factory("Shipped")
    seen = order.version
    workflow.edit_shipment(order, owner, workflow.ShipmentInput(carrier="UPS", tracking_id="1Z999AA10123456784",
                                                                ship_date=today()))
    data = {"carrier": "USPS", "tracking_id": "9400111899223197428490", "ship_date": today().isoformat()}
    stale = owner_client.post(f"/orders/{order.order_id}/edit-shipment", data={**data, "version": seen})
    assert stale.status_code == 409 and "changed by someone else" in stale.get_data(as_text=True)
    current = re.search(r'name="version"[^>]*value="(\d+)"|value="(\d+)"[^>]*name="version"', stale.get_data(
        as_text=True))
    version = current.group(1) or current.group(2)
    assert int(version) == seen + 1
    again = owner_client.post(f"/orders/{order.order_id}/edit-shipment", data={**data, "version": version})
    assert again.status_code == 303


# ---------------------------------------------------------------- at the packing table (issue 10)


def test_unshipped_and_pending_are_work_queues_of_every_date(owner_client, order_factory):
    """An order paid 12 days ago and never shipped stays in Unshipped, its count and Print all Unshipped."""
    old = order_factory("Unshipped", purchased_at=clock.now() - timedelta(days=12))
    old_pending = order_factory("Pending", purchased_at=clock.now() - timedelta(days=12))
    order_factory("Shipped", purchased_at=clock.now() - timedelta(days=12))
    recent = order_factory("Unshipped")
    queue = owner_client.get("/orders?status=Unshipped")
    assert sorted(ids_in(queue)) == sorted([old.order_id, recent.order_id])
    assert tab_counts(queue) == {"All": 1, "Pending": 1, "Unshipped": 2, "Shipped": 0, "Canceled": 0}
    assert "Print all Unshipped (2)" in queue.text and "whatever its date" in queue.text
    assert ids_in(owner_client.get("/orders?status=Pending")) == [old_pending.order_id]
    default = owner_client.get("/orders")
    assert ids_in(default) == [recent.order_id] and "last 7 days" in default.text  # All keeps the 7 days
    assert ids_in(owner_client.get("/orders?status=Shipped")) == []
    pdf = owner_client.post("/orders/packing-slips.pdf?status=Unshipped", data={"scope": "unshipped"})
    assert pdf.status_code == 200 and len(pypdf.PdfReader(io.BytesIO(pdf.data)).pages) == 2
    events = db.session.scalars(select(OrderEvent.order_id).where(OrderEvent.action == "print_packing_slip")).all()
    assert sorted(events) == sorted([old.id, recent.id])
    day = clock.to_local(recent.purchased_at, workflow.store_tz()).date().isoformat()
    dated = owner_client.get(f"/orders?status=Unshipped&from={day}")  # From/To narrow the queue
    assert ids_in(dated) == [recent.order_id]


def test_search_orders_is_ready_for_a_scanner(owner_client, order_factory):
    """Search orders has the focus; a scan that names one order exactly opens its Confirm shipment at once."""
    order = order_factory("Unshipped")
    shipped = order_factory("Shipped")
    page = owner_client.get("/orders").text
    assert re.search(r'<input[^>]*autofocus[^>]*id="q"', page) or re.search(r'<input[^>]*id="q"[^>]*autofocus', page)
    scanned = owner_client.get(f"/orders?q={order.order_id}", headers=HX).text
    panel = re.search(rf'<tr id="order-{order.id}-panel"[^>]*>', scanned).group(0)
    assert f'hx-get="/orders/{order.order_id}/ship?next=' in panel and 'hx-trigger="load"' in panel
    assert 'hx-trigger="load"' not in owner_client.get(f"/orders?q={order.order_id}").text  # a link opens nothing
    by_tracking = owner_client.get("/orders?q=1z999aa10123456784", headers=HX).text  # shipped: shown, nothing opens
    assert ids_in_text(by_tracking) == [shipped.order_id], re.findall(r'<tr id="order-[^>]*>', by_tracking)
    assert 'hx-trigger="load"' not in by_tracking
    partial = owner_client.get(f"/orders?q={order.order_id[:8]}", headers=HX).text  # not exact: nothing opens
    assert 'hx-trigger="load"' not in partial


def ids_in_text(html: str) -> list[str]:
    return re.findall(r'<tr id="order-\d+" data-order-id="([^"]+)"', html)


def test_confirm_shipment_is_ready_for_a_scanner(owner_client, order_factory, owner):
    """Tracking ID first and focused, Shipping service from the order, and the carrier the tracking ID names: a
    scan and Enter confirm. An ambiguous number falls back to the carrier this person used last."""
    order = order_factory("Unshipped", ship_service_level="SecondDay")
    form = owner_client.get(f"/orders/{order.order_id}/ship", headers=HX).text
    fields = re.findall(r'<(?:input|select|textarea)[^>]* name="(\w+)"', form)
    assert [f for f in fields if f not in ("csrf_token", "version", "confirmation", "next")][0] == "tracking_id"
    assert re.search(r'<input[^>]*autofocus[^>]*name="tracking_id"', form)
    assert re.search(r'name="shipping_service"[^>]* value="SecondDay"', form)
    defaults = dict(re.findall(r'<input[^>]* name="(\w+)"[^>]* value="([^"]*)"', form))
    response = owner_client.post(f"/orders/{order.order_id}/ship", headers=HX,
                                 data={**defaults, "carrier": "", "tracking_id": "9400111899223197428490"})
    assert response.status_code == 200, response.text
    db.session.refresh(order)
    assert (order.status, order.shipment.carrier, order.shipment.shipping_service) == ("Shipped", "USPS", "SecondDay")
    other = order_factory("Unshipped")  # 20 digits: USPS or FedEx; this person last used USPS
    assert "From the tracking ID, else USPS" in owner_client.get(f"/orders/{other.order_id}/ship").text
    owner_client.post(f"/orders/{other.order_id}/ship", data={"carrier": "", "tracking_id": "94001118992231974284",
                                                               "ship_date": today().isoformat()})
    db.session.refresh(other)
    assert other.shipment.carrier == "USPS"


def test_an_action_keeps_print_all_unshipped_current_and_badges_read_as_words(owner_client, order_factory):
    orders = [order_factory("Unshipped", purchased_at=clock.now() - timedelta(days=3)) for _ in range(3)]
    assert "Print all Unshipped (3)" in owner_client.get("/orders").text
    done = owner_client.post(f"/orders/{orders[0].order_id}/ship", headers=HX, data=ship_data(version=orders[0].version))
    assert re.search(r'<form id="print-unshipped"[^>]*hx-swap-oob="true"', done.text)
    assert "Print all Unshipped (2)" in done.text
    row = re.search(r'<td class="status">.*?</td>', done.text, re.S).group(0)
    assert re.sub(r"<[^>]+>", "", row).startswith("Shipped Late")  # two words, not "ShippedLate"

"""Pack & ship (contract §10) through the test client, with and without htmx: Scan order and its refusals, Scan item
and +1 with counts on the server, two tablets, the scanner's double read, Confirm shipment (Confirm anyway, the
carrier from the tracking ID, late rule, version guard, a second Enter), Shipped today; and the pick list."""
import io
import re
from datetime import timedelta

import pypdf
import pytest
from sqlalchemy import func, select

from conftest import add_user, item_fields, make_order, sign_in
from seller import clock, workflow
from seller.extensions import db
from seller.models import Order, OrderEvent, PackSession

HX = {"HX-Request": "true"}
USPS = "9400111899223197428490"  # only USPS's format
AMBIGUOUS = "12345678901234567890123456"  # 26 digits: UPS and USPS both use them


@pytest.fixture(params=[False, True], ids=["plain", "htmx"])
def htmx(request):
    return HX if request.param else {}


def text(response) -> str:
    return re.sub(r"\s+", " ", response.get_data(as_text=True))


def said(response) -> str:
    found = re.search(r'class="pack-said[^"]*"[^>]*>([^<]*)<', response.get_data(as_text=True))
    return found.group(1).strip() if found else ""


def follow(client, response, headers):
    """The page a no-JS answer redirects to, or the htmx answer itself."""
    if response.status_code == 303:
        return client.get(response.headers["Location"], headers=headers)
    return response


def two_line_order(**kw):
    return make_order(items=[item_fields(sku="MUG-RED", quantity=2), item_fields(sku="CUP-1")], **kw)


def counts(order) -> dict:
    pack = db.session.scalar(select(PackSession).where(PackSession.order_id == order.id))
    return {} if pack is None else {int(k): v for k, v in pack.counts.items()}


def scan(client, order, code, headers=HX):
    return client.post(f"/pack/{order.order_id}/item", data={"code": code}, headers=headers)


# ---------------------------------------------------------------- Scan order


@pytest.mark.parametrize("who", ["staff_client", "owner_client"])
def test_staff_and_owner_have_pack_and_ship_in_the_header(request, who):
    client = request.getfixturevalue(who)
    page = client.get("/orders")
    assert re.search(r"<a href=\"/pack\" *>Pack (&amp;|&) ship</a>", page.get_data(as_text=True))
    scan_page = client.get("/pack")
    assert scan_page.status_code == 200
    assert re.search(r'<label for="scan-order">Scan order</label>\s*<input[^>]*autofocus', scan_page.get_data(as_text=True))
    assert "Shipped today: 0" in text(scan_page)


def test_strangers_are_sent_to_sign_in(client):
    assert client.get("/pack").status_code == 302
    assert client.post("/pack", data={"code": "x"}).status_code == 302


def test_scan_order_opens_the_order_and_starts_packing_it(staff_client, staff, htmx):
    order = two_line_order()
    answer = follow(staff_client, staff_client.post("/pack", data={"code": order.order_id}, headers=htmx), htmx)
    assert answer.status_code == 200
    page = text(answer)
    assert f"Order {order.order_id}" in page and "Recipient" in page and "MUG-RED" in page and "Product CUP-1" in page
    assert 'id="scan-item"' in page and "Scan item" in page
    if htmx:
        assert answer.headers["HX-Push-Url"] == f"/pack/{order.order_id}"
        assert not page.lstrip().startswith("<!doctype")
    pack = db.session.scalar(select(PackSession).where(PackSession.order_id == order.id))
    assert pack.packer_id == staff.id and pack.counts == {}


@pytest.mark.parametrize("status, words", [("Pending", "is Pending: it is not paid yet"),
                                           ("Canceled", "is Canceled"), ("Shipped", "is already Shipped: UPS")])
def test_scan_order_refuses_orders_not_to_ship_naming_them(staff_client, status, words, htmx):
    order = make_order(status)
    answer = staff_client.post("/pack", data={"code": order.order_id}, headers=htmx)
    assert answer.status_code == 409
    assert said(answer).startswith(f"Order {order.order_id} {words}")
    assert 'data-refusal' in answer.get_data(as_text=True)
    # the code stays in the focused field (app.js selects it, so the next scan replaces it)
    assert re.search(rf'id="scan-order"[^>]*value="{order.order_id}"', answer.get_data(as_text=True))
    assert re.search(r'<input[^>]*autofocus[^>]*id="scan-order"', answer.get_data(as_text=True))
    assert db.session.scalar(select(func.count()).select_from(PackSession)) == 0


def test_a_shipped_orders_tracking_id_names_its_order(staff_client, htmx):
    order = make_order("Shipped")
    answer = staff_client.post("/pack", data={"code": "1z999aa1 0123456784"}, headers=htmx)
    assert answer.status_code == 409 and f"Order {order.order_id} is already Shipped" in said(answer)


def test_an_unknown_code_is_refused(staff_client, htmx):
    answer = staff_client.post("/pack", data={"code": "113-0000000-0000000"}, headers=htmx)
    assert answer.status_code == 422 and said(answer) == "No order or tracking ID “113-0000000-0000000”."
    assert staff_client.post("/pack", data={"code": "  "}, headers=htmx).status_code == 422


def test_the_order_page_of_an_order_not_to_ship_is_scan_order_with_the_refusal(staff_client):
    order = make_order("Canceled")
    answer = staff_client.get(f"/pack/{order.order_id}")
    assert answer.status_code == 409 and "is Canceled" in said(answer) and 'id="scan-order"' in text(answer)
    assert staff_client.get("/pack/nope").status_code == 404


# ---------------------------------------------------------------- Scan item, +1


def test_each_scan_checks_one_unit_and_the_counts_live_on_the_server(staff_client, frozen_now, htmx):
    order = two_line_order()
    mug, cup = order.items
    staff_client.post("/pack", data={"code": order.order_id}, headers=htmx)
    now = clock.now()
    for n, code in enumerate(["MUG-RED", "mug-red", "CUP-1"]):
        frozen_now(now + timedelta(seconds=n))
        answer = follow(staff_client, scan(staff_client, order, code, htmx), htmx)
        assert answer.status_code == 200
    assert counts(order) == {mug.id: 2, cup.id: 1}
    assert "CUP-1: 1 of 1 checked." == said(answer)
    page = staff_client.get(f"/pack/{order.order_id}")  # a reload (or another tablet of this user) sees the counts
    assert "All items checked" in text(page) and 'id="scan-item"' not in text(page)
    assert re.search(r'<input[^>]*autofocus[^>]*id="tracking_id"|<input[^>]*id="tracking_id"[^>]*autofocus',
                     page.get_data(as_text=True)) or 'autofocus' in re.search(r'<input[^>]*id="tracking_id"[^>]*>',
                                                                                page.get_data(as_text=True)).group(0)


def test_a_sku_not_in_the_order_and_one_too_many_are_refused_and_change_nothing(staff_client, frozen_now, htmx):
    order = two_line_order()
    mug, cup = order.items
    now = clock.now()
    frozen_now(now)
    scan(staff_client, order, "CUP-1")
    frozen_now(now + timedelta(seconds=1))
    wrong = scan(staff_client, order, "PLATE-9", htmx)
    assert wrong.status_code == 422 and said(wrong) == f"PLATE-9 is not in order {order.order_id}."
    assert "data-refusal" in wrong.get_data(as_text=True)
    assert re.search(r'id="scan-item"[^>]*value="PLATE-9"', wrong.get_data(as_text=True))
    frozen_now(now + timedelta(seconds=2))
    extra = scan(staff_client, order, "CUP-1", htmx)
    assert extra.status_code == 422
    assert said(extra) == f"One too many: order {order.order_id} has 1 × CUP-1, already checked."
    assert counts(order) == {cup.id: 1}


def test_the_same_code_twice_within_150_ms_counts_once(staff_client, frozen_now):
    order = two_line_order()
    mug = order.items[0]
    now = clock.now()
    frozen_now(now)
    scan(staff_client, order, "MUG-RED")
    frozen_now(now + timedelta(milliseconds=100))
    twice = scan(staff_client, order, "MUG-RED")
    assert twice.status_code == 200 and "counted once" in said(twice)
    assert counts(order) == {mug.id: 1}
    frozen_now(now + timedelta(milliseconds=400))  # a second unit scanned by hand
    scan(staff_client, order, "MUG-RED")
    assert counts(order) == {mug.id: 2}


def test_plus_one_checks_a_line_without_a_barcode(staff_client, frozen_now, htmx):
    order = two_line_order()
    cup = order.items[1]
    now = clock.now()
    frozen_now(now)
    answer = follow(staff_client, staff_client.post(f"/pack/{order.order_id}/item/{cup.id}", headers=htmx), htmx)
    assert answer.status_code == 200 and "CUP-1: 1 of 1 checked." == said(answer)
    assert 'aria-label="+1 CUP-1"' not in answer.get_data(as_text=True)  # full: no +1 any more
    frozen_now(now + timedelta(seconds=1))
    again = staff_client.post(f"/pack/{order.order_id}/item/{cup.id}", headers=htmx)
    assert again.status_code == 422 and "One too many" in said(again)
    other = make_order()
    assert staff_client.post(f"/pack/{order.order_id}/item/{other.items[0].id}", headers=htmx).status_code == 422
    assert counts(order) == {cup.id: 1}


def test_a_second_tablet_sees_who_is_packing_and_may_take_over(app, staff_client, frozen_now, htmx):
    order = two_line_order()
    mug = order.items[0]
    scan(staff_client, order, "MUG-RED")
    other_user = add_user("second@example.com", "staff")
    second = sign_in(app.test_client(), other_user)
    opened = follow(second, second.post("/pack", data={"code": order.order_id}, headers=htmx), htmx)
    assert "Being packed by staff@example.com since" in text(opened) and "Take over" in text(opened)
    assert 'id="scan-item"' not in text(opened) and "Confirm shipment" not in text(opened)
    refused = scan(second, order, "MUG-RED", htmx)
    assert refused.status_code == 409 and "Take over to pack it here." in said(refused)
    assert counts(order) == {mug.id: 1}
    taken = follow(second, second.post(f"/pack/{order.order_id}/take-over", headers=htmx), htmx)
    assert taken.status_code == 200 and "Being packed by" not in text(taken)
    frozen_now(clock.now() + timedelta(seconds=1))
    scan(second, order, "MUG-RED")
    assert counts(order) == {mug.id: 2}  # the units checked before stay
    assert "Being packed by second@example.com" in text(staff_client.get(f"/pack/{order.order_id}"))
    assert scan(staff_client, order, "CUP-1").status_code == 409


# ---------------------------------------------------------------- Confirm shipment


def ship(client, order, headers=HX, **data):
    return client.post(f"/pack/{order.order_id}/ship", data={"version": order.version, "carrier": "", **data},
                       headers=headers)


def check_all(client, order, frozen_now):
    now = clock.now()
    for n, item in enumerate(order.items):
        for unit in range(item.quantity):
            frozen_now(now + timedelta(seconds=n * 10 + unit))
            assert scan(client, order, item.sku).status_code == 200


def test_confirm_shipment_ships_through_the_workflow_and_is_back_at_scan_order(staff_client, staff, frozen_now, htmx):
    order = two_line_order()
    check_all(staff_client, order, frozen_now)
    answer = follow(staff_client, ship(staff_client, order, htmx, tracking_id=USPS.lower()), htmx)
    assert answer.status_code == 200, said(answer)
    assert said(answer) == f"Order {order.order_id} shipped: USPS {USPS}."
    assert "Shipped today: 1" in text(answer) and 'id="scan-order"' in text(answer)
    db.session.refresh(order)
    assert order.status == "Shipped" and order.shipment.carrier == "USPS" and order.shipment.tracking_id == USPS
    assert order.shipment.confirmed_by_id == staff.id and order.shipment.shipping_service == "Standard"
    event = db.session.scalar(select(OrderEvent).where(OrderEvent.order_id == order.id,
                                                       OrderEvent.action == "confirm_shipment"))
    assert event.details["all_units_checked"] is True and event.user_id == staff.id
    assert counts(order) == {}  # done packing
    if htmx:
        assert answer.headers["HX-Push-Url"] == "/pack"


def test_units_unchecked_need_confirm_anyway_which_the_history_records(staff_client, frozen_now, htmx):
    order = two_line_order()
    scan(staff_client, order, "MUG-RED")
    first = ship(staff_client, order, htmx, tracking_id=USPS)
    assert first.status_code == 422
    assert said(first) == "2 units are not checked: 1 × MUG-RED, 1 × CUP-1. Check them, or tap Confirm anyway."
    assert re.search(r'<button[^>]*name="anyway"[^>]*autofocus>Confirm anyway</button>', first.get_data(as_text=True))
    assert f'value="{USPS}"' in first.get_data(as_text=True)  # what was scanned stays
    db.session.refresh(order)
    assert order.status == "Unshipped"
    second = follow(staff_client, ship(staff_client, order, htmx, tracking_id=USPS, anyway="y"), htmx)
    assert second.status_code == 200 and "shipped" in said(second)
    event = db.session.scalar(select(OrderEvent).where(OrderEvent.order_id == order.id,
                                                       OrderEvent.action == "confirm_shipment"))
    assert event.details["confirm_anyway"] is True
    assert event.details["unchecked"] == [{"sku": "MUG-RED", "quantity": 1}, {"sku": "CUP-1", "quantity": 1}]
    history = text(staff_client.get(f"/orders/{order.order_id}"))
    assert "Confirm anyway" in history and "MUG-RED × 1" in history


def test_a_tracking_id_more_than_one_carrier_uses_needs_the_carrier(staff_client, frozen_now, htmx):
    order = two_line_order()
    check_all(staff_client, order, frozen_now)
    refused = ship(staff_client, order, htmx, tracking_id=AMBIGUOUS)
    assert refused.status_code == 422 and "Choose a carrier" in said(refused)
    assert re.search(r'<select[^>]*autofocus[^>]*id="carrier"|<select[^>]*id="carrier"[^>]*autofocus',
                     refused.get_data(as_text=True)) or "autofocus" in re.search(
        r'<select[^>]*id="carrier"[^>]*>', refused.get_data(as_text=True)).group(0)
    db.session.refresh(order)
    assert order.status == "Unshipped"
    follow(staff_client, ship(staff_client, order, htmx, tracking_id=AMBIGUOUS, carrier="UPS"), htmx)
    db.session.refresh(order)
    assert order.status == "Shipped" and order.shipment.carrier == "UPS"


def test_confirming_late_records_a_late_shipment(staff_client, frozen_now):
    order = make_order(items=[item_fields(sku="A")], purchased_at=clock.now() - timedelta(days=5))
    frozen_now(clock.now())
    scan(staff_client, order, "A")
    answer = ship(staff_client, order, tracking_id=USPS)
    assert "late shipment" in said(answer)
    db.session.refresh(order)
    assert order.late and order.shipment.late


def test_a_second_enter_answers_with_the_first_confirmation_and_a_stale_page_is_refused(staff_client, frozen_now):
    order = make_order(items=[item_fields(sku="A")])
    scan(staff_client, order, "A")
    version = order.version
    assert ship(staff_client, order, tracking_id=USPS).status_code == 200
    again = ship(staff_client, order, version=version, tracking_id=USPS)
    assert again.status_code == 200 and "shipped" in said(again)
    assert db.session.scalar(select(func.count()).select_from(OrderEvent).where(
        OrderEvent.order_id == order.id, OrderEvent.action == "confirm_shipment")) == 1
    other = make_order(items=[item_fields(sku="B")])
    scan(staff_client, other, "B")
    stale = ship(staff_client, other, version=other.version + 5, tracking_id=USPS)
    assert stale.status_code == 409 and f'name="version" type="hidden" value="{other.version}"' in stale.get_data(
        as_text=True)
    db.session.refresh(other)
    assert other.status == "Unshipped"


def test_an_order_canceled_meanwhile_is_refused_back_at_scan_order(staff_client, owner):
    order = make_order(items=[item_fields(sku="A")])
    scan(staff_client, order, "A")
    workflow.cancel_order(order, owner, "No inventory")
    answer = ship(staff_client, order, tracking_id=USPS)
    assert answer.status_code == 409 and "is Canceled" in said(answer) and 'id="scan-order"' in text(answer)
    assert counts(order) == {}


def test_shipped_today_counts_this_users_shipments_since_the_stores_midnight(app, staff_client, staff, owner):
    for _ in range(2):
        make_order("Shipped", user=staff)
    make_order("Shipped", user=owner)
    assert "Shipped today: 2" in text(staff_client.get("/pack"))
    assert workflow.packing.shipped_today(staff, now=clock.now() + timedelta(days=1)) == 0


# ---------------------------------------------------------------- the pick list


def pdf_text(data: bytes) -> str:
    return "\n".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(data)).pages)


def sku_lines(data: bytes) -> dict[str, tuple[int, int]]:
    """SKU -> (total quantity, number of orders) as the pick list prints them."""
    found = re.findall(r"^(\d+) × (SKU-[A-Z]+) — .* \((\d+) orders?\)$", pdf_text(data), re.M)
    return {sku: (int(q), int(n)) for q, sku, n in found}


def test_pick_list_quantities_are_the_sums_over_the_covered_orders(staff_client):
    orders = [make_order(items=[item_fields(sku="SKU-B", quantity=2), item_fields(sku="SKU-A")]),
              make_order(items=[item_fields(sku="SKU-A", quantity=3), item_fields(sku="SKU-A", quantity=1),
                                item_fields(sku="SKU-C")]),
              make_order(items=[item_fields(sku="SKU-B", quantity=5)])]
    make_order("Shipped", items=[item_fields(sku="SKU-A", quantity=7)])  # not Unshipped: not covered
    answer = staff_client.post("/orders/pick-list.pdf", data={"scope": "unshipped"})
    assert answer.status_code == 200 and answer.mimetype == "application/pdf"
    expected = {}
    for order in orders:
        for item in order.items:
            quantity, seen = expected.get(item.sku, (0, set()))
            expected[item.sku] = (quantity + item.quantity, seen | {order.id})
    assert sku_lines(answer.data) == {sku: (q, len(seen)) for sku, (q, seen) in expected.items()}
    assert sku_lines(answer.data) == {"SKU-A": (5, 2), "SKU-B": (7, 2), "SKU-C": (1, 1)}
    words = pdf_text(answer.data)
    assert words.index("× SKU-A —") < words.index("× SKU-B —") < words.index("× SKU-C —")  # sorted by SKU
    for order in orders:
        assert order.order_id in words
    assert "3 orders · 13 units · 3 SKUs" in words


def test_pick_list_of_the_selected_rows_refuses_orders_not_unshipped(staff_client):
    first, second = make_order(items=[item_fields(sku="SKU-X", quantity=2)]), make_order(items=[item_fields(sku="SKU-X")])
    make_order(items=[item_fields(sku="SKU-Y")])
    answer = staff_client.post("/orders/pick-list.pdf", data={"order_ids": [first.order_id, second.order_id]})
    assert sku_lines(answer.data) == {"SKU-X": (3, 2)}
    shipped = make_order("Shipped")
    refused = staff_client.post("/orders/pick-list.pdf", data={"order_ids": [first.order_id, shipped.order_id]})
    assert refused.status_code == 409 and f"{shipped.order_id} (Shipped)" in text(refused)
    assert staff_client.post("/orders/pick-list.pdf", data={}).status_code == 422


def test_pick_list_of_the_current_filter(staff_client):
    old = make_order(items=[item_fields(sku="SKU-OLD")], purchased_at=clock.now() - timedelta(days=20))
    make_order(items=[item_fields(sku="SKU-NEW")])
    day = clock.local_today(workflow.store_tz(), old.purchased_at).isoformat()
    answer = staff_client.post(f"/orders/pick-list.pdf?from={day}&to={day}", data={"scope": "unshipped"})
    assert list(sku_lines(answer.data)) == ["SKU-OLD"]


def test_print_pick_list_buttons(staff_client):
    make_order()
    assert 'action="/orders/pick-list.pdf"' in staff_client.get("/pack").get_data(as_text=True)
    listing = staff_client.get("/orders").get_data(as_text=True)
    assert re.search(r'formaction="/orders/pick-list.pdf[^"]*"[^>]*>Print pick list<', listing)


# ---------------------------------------------------------------- Buy shipping with the parcel preset


@pytest.fixture
def preset(app):
    workflow.save_settings(parcel_weight="2", parcel_weight_unit="lb", parcel_length="10", parcel_width="8",
                           parcel_height="4")


def buy(client, order, headers=HX, **data):
    page = client.get(f"/pack/{order.order_id}").get_data(as_text=True)
    key = re.search(r'name="idempotency_key" type="hidden" value="([^"]+)"', page).group(1)
    return client.post(f"/pack/{order.order_id}/buy", data={"version": order.version, "idempotency_key": key,
                                                            **data}, headers=headers), key


def test_settings_keep_a_parcel_preset_all_or_nothing(owner_client):
    page = owner_client.get("/settings").get_data(as_text=True)
    assert "Parcel preset: weight" in page
    base = {"store_name": "Shop", "timezone": "America/Los_Angeles", "handling_hours": "48", "slip_size": "letter",
            "ship_from_country": "US", "return_concession_factor": "2", "other_concession_percent": "100",
            "parcel_weight_unit": "lb"}
    half = owner_client.post("/settings", data={**base, "parcel_weight": "2"})
    assert half.status_code == 422 and "weight, length, width and height, or none of them" in text(half)
    heavy = owner_client.post("/settings", data={**base, "parcel_weight": "200", "parcel_length": "10",
                                                 "parcel_width": "8", "parcel_height": "4"})
    assert heavy.status_code == 422 and "up to 150 lb" in text(heavy)
    saved = owner_client.post("/settings", data={**base, "parcel_weight": "1.5", "parcel_length": "10",
                                                 "parcel_width": "8", "parcel_height": "4"})
    assert saved.status_code == 303
    from seller.models import Settings
    cfg = Settings.current()
    assert (cfg.parcel_weight, cfg.parcel_weight_unit, cfg.parcel_length) == ("1.5", "lb", "10")


def test_without_a_preset_buy_shipping_says_where_to_set_it(staff_client):
    order = make_order(items=[item_fields(sku="A")])
    page = text(staff_client.get(f"/pack/{order.order_id}"))
    assert "Set a parcel preset in Settings" in page and ">Buy shipping<" not in page
    answer = staff_client.post(f"/pack/{order.order_id}/buy", data={"idempotency_key": "k" * 20}, headers=HX)
    assert answer.status_code == 422 and "Set a parcel preset" in said(answer)


def test_buy_shipping_buys_the_cheapest_rate_ships_and_opens_the_label(staff_client, preset, frozen_now, htmx):
    from seller.models import Label
    order = two_line_order()
    check_all(staff_client, order, frozen_now)
    answer, key = buy(staff_client, order, htmx)
    answer = follow(staff_client, answer, htmx)
    assert answer.status_code == 200, said(answer)
    assert said(answer).startswith(f"Order {order.order_id} shipped: bought USPS Ground Advantage for $5.75")
    assert re.search(rf'href="/orders/{order.order_id}/label.pdf" target="_blank" data-open-label>Print label<',
                     answer.get_data(as_text=True))
    assert "Shipped today: 1" in text(answer)
    db.session.refresh(order)
    assert order.status == "Shipped" and order.shipment.carrier == "USPS"
    assert db.session.scalar(select(func.count()).select_from(Label).where(Label.order_id == order.id)) == 1
    event = db.session.scalar(select(OrderEvent).where(OrderEvent.order_id == order.id,
                                                       OrderEvent.action == "buy_shipping"))
    assert event.details["parcel"]["weight"] == "2" and event.details["all_units_checked"] is True
    again = staff_client.post(f"/pack/{order.order_id}/buy", data={"version": 1, "idempotency_key": key}, headers=HX)
    assert again.status_code == 200 and "bought USPS" in said(again)  # a double tap: the same label
    assert db.session.scalar(select(func.count()).select_from(Label).where(Label.order_id == order.id)) == 1
    assert staff_client.get(f"/orders/{order.order_id}/label.pdf").data.startswith(b"%PDF")


def test_buy_shipping_with_units_unchecked_needs_buy_anyway(staff_client, preset):
    order = two_line_order()
    first, key = buy(staff_client, order)
    assert first.status_code == 422 and "Check them, or tap Buy anyway." in said(first)
    assert re.search(r'name="anyway" value="y"[^>]*autofocus>Buy anyway<', first.get_data(as_text=True))
    db.session.refresh(order)
    assert order.status == "Unshipped"
    second = staff_client.post(f"/pack/{order.order_id}/buy", data={"version": order.version, "idempotency_key": key,
                                                                      "anyway": "y"}, headers=HX)
    assert second.status_code == 200 and "shipped" in said(second)
    event = db.session.scalar(select(OrderEvent).where(OrderEvent.order_id == order.id,
                                                       OrderEvent.action == "buy_shipping"))
    assert event.details["confirm_anyway"] is True and len(event.details["unchecked"]) == 2


def test_the_next_orders_slip_scanned_into_scan_item_opens_that_order(staff_client, htmx):
    first, second, canceled = two_line_order(), make_order(items=[item_fields(sku="B")]), make_order("Canceled")
    scan(staff_client, first, "CUP-1")
    answer = follow(staff_client, scan(staff_client, first, second.order_id, htmx), htmx)
    assert answer.status_code == 200 and f"Order {second.order_id}" in text(answer) and 'id="scan-item"' in text(answer)
    assert counts(first) == {first.items[1].id: 1}  # the first keeps what was checked
    refused = scan(staff_client, second, canceled.order_id, htmx)
    assert refused.status_code == 409 and "is Canceled" in said(refused)

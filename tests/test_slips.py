"""Packing slips (contract §5, W5): what the PDF says, that its barcode scans back, sizes, batches, history, access."""
import io
import random
import re
import socket
import threading

import jinja2
import pypdf
import pypdfium2
import pytest
import zxingcpp
from sqlalchemy import select
from xhtml2pdf.config.resources import ResourceAccessError

from conftest import item_fields
from seller import clock, pdf, workflow
from seller.extensions import db
from seller.orders import slips
from seller.models import OrderEvent

LETTER, FOUR_BY_SIX = (612, 792), (288, 432)


def pages_text(data: bytes) -> list[str]:
    return [page.extract_text() for page in pypdf.PdfReader(io.BytesIO(data)).pages]


def page_sizes(data: bytes) -> set[tuple[int, int]]:
    return {(round(p.mediabox.width), round(p.mediabox.height)) for p in pypdf.PdfReader(io.BytesIO(data)).pages}


def scanned(data: bytes, page: int = 0, dpi: int = 200) -> list[str]:
    """What a barcode reader finds on a page printed at `dpi`."""
    image = pypdfium2.PdfDocument(data)[page].render(scale=dpi / 72).to_pil()
    return [r.text for r in zxingcpp.read_barcodes(image) if r.format == zxingcpp.BarcodeFormat.Code128]


def slip(client, order_id, **query):
    return client.get(f"/orders/{order_id}/packing-slip.pdf", query_string=query)


def ink_outside_margins(data: bytes, margin: float) -> list[str]:
    """Characters drawn in or beyond the page's margins (running off the page, or clipped by a printer)."""
    outside = []
    for page in pypdfium2.PdfDocument(data):
        width, height, text = page.get_width(), page.get_height(), page.get_textpage()
        for i in range(text.count_chars()):
            left, bottom, right, top = text.get_charbox(i)
            if min(left, bottom) < margin - 1 or right > width - margin + 1 or top > height - margin + 1:
                outside.append(text.get_text_range(i, 1))
    return outside


def events(order, action="print_packing_slip"):
    return db.session.scalars(select(OrderEvent).where(OrderEvent.order_id == order.id,
                                                       OrderEvent.action == action)).all()


@pytest.fixture
def store(app):
    return workflow.save_settings(store_name="Maple & Pine Goods", seller_name="Maple & Pine Goods LLC")


# ---------------------------------------------------------------- content


def test_slip_shows_contract_content_and_no_prices(staff_client, order_factory, store):
    order = order_factory("Unshipped", recipient_name="Dana Whitfield", buyer_name="Dana W.",
                          ship_address_1="742 Evergreen Terrace", ship_address_2="Unit 3", ship_city="Springfield",
                          ship_state="OR", ship_postal_code="97477", ship_service_level="Expedited",
                          items=[item_fields(sku="MUG-12OZ", product_name="Stoneware Mug 12 oz", quantity=3,
                                             price=2599, order_item_id="55501234567890")])
    response = slip(staff_client, order.order_id)
    assert response.status_code == 200
    assert response.mimetype == "application/pdf"
    assert response.headers["Content-Disposition"] == f'inline; filename="packing-slip-{order.order_id}.pdf"'
    [text] = pages_text(response.data)
    flat = " ".join(text.split())
    for expected in ["Ship to:", "Dana Whitfield", "742 Evergreen Terrace", "Unit 3", "Springfield, OR 97477",
                     "United States", order.order_id,
                     "Thank you for buying from Maple & Pine Goods on Amazon Marketplace.",
                     "Order date:", clock.to_local(order.purchased_at, workflow.store_tz()).strftime("%b %d, %Y"),
                     "Shipping service: Expedited", "Buyer name: Dana W.", "Seller name: Maple & Pine Goods LLC",
                     "Qty", "Product details", "Stoneware Mug 12 oz", "SKU: MUG-12OZ",
                     "Order item ID: 55501234567890", "Returns:"]:
        assert expected in flat, expected
    assert re.search(r"\b3\b", flat)  # the quantity
    assert "$" not in text and "25.99" not in flat and "USD" not in flat
    assert "PO number" not in flat


def test_seller_name_falls_back_to_the_store_name_and_business_orders_show_the_po(staff_client, order_factory,
                                                                                  store):
    store.seller_name = ""
    db.session.commit()
    order = order_factory("Shipped", is_business_order=True, purchase_order_number="PO-88172")
    flat = " ".join(pages_text(slip(staff_client, order.order_id).data)[0].split())
    assert "Seller name: Maple & Pine Goods" in flat
    assert "PO number: PO-88172" in flat


def test_accents_and_chinese_print_as_characters(staff_client, order_factory):
    order = order_factory("Unshipped", recipient_name="José Álvarez-Müller", buyer_name="Zoë Łukasiewicz",
                          ship_address_1="Straße 5, Dvořákova", items=[
                              item_fields(sku="CN-CUP", product_name="儿童保温杯 500ml 不锈钢 Kids Cup")])
    text = pages_text(slip(staff_client, order.order_id).data)[0]
    for expected in ["José Álvarez-Müller", "Zoë Łukasiewicz", "Straße 5, Dvořákova", "儿童保温杯 500ml 不锈钢 Kids Cup"]:
        assert expected in text, expected


@pytest.mark.parametrize("size, page", [("letter", LETTER), ("4x6", FOUR_BY_SIX)])
def test_barcode_scans_back_to_the_order_id(staff_client, order_factory, size, page):
    order = order_factory("Unshipped", order_id="113-4567890-1234567")
    data = slip(staff_client, order.order_id, size=size).data
    assert page_sizes(data) == {page}
    assert scanned(data) == ["113-4567890-1234567"]
    assert scanned(data, dpi=300) == ["113-4567890-1234567"]


def test_letter_by_default_4x6_from_settings_and_the_print_choice_wins(staff_client, order_factory, store):
    order = order_factory("Unshipped")
    assert page_sizes(slip(staff_client, order.order_id).data) == {LETTER}
    store.slip_size = "4x6"
    db.session.commit()
    assert page_sizes(slip(staff_client, order.order_id).data) == {FOUR_BY_SIX}
    assert page_sizes(slip(staff_client, order.order_id, size="letter").data) == {LETTER}
    batch = staff_client.post("/orders/packing-slips.pdf", data={"order_ids": [order.order_id], "size": "letter"})
    assert page_sizes(batch.data) == {LETTER}
    refused = slip(staff_client, order.order_id, size="a4")
    assert refused.status_code == 400 and "letter or 4x6" in refused.text


@pytest.mark.parametrize("size, margin", [("letter", 36), ("4x6", 13)])
def test_many_items_flow_onto_more_pages_each_printed_once_with_the_header_again(staff_client, order_factory, size,
                                                                                 margin):
    long_name = "Extra long product title " + "that keeps going and wraps onto more lines " * 3
    order = order_factory("Unshipped", items=[
        item_fields(sku=f"LOT-{i:02d}X", product_name=f"{long_name}#{i}") for i in range(60)])
    data = slip(staff_client, order.order_id, size=size).data
    assert ink_outside_margins(data, margin) == []
    pages = pages_text(data)
    assert len(pages) > 2
    text = " ".join(" ".join(pages).split())
    for i in range(60):
        assert text.count(f"SKU: LOT-{i:02d}X") == 1, i
        assert text.count(f"#{i} SKU") == 1, i  # the whole name, wrapped, is there
    for page in pages:
        assert "Product details" in page and order.order_id in page


@pytest.mark.parametrize("size, margin", [("letter", 36), ("4x6", 13)])
def test_long_words_and_chinese_titles_wrap_inside_the_page(staff_client, order_factory, size, margin):
    chinese = "儿童保温杯带吸管316不锈钢幼儿园小学生水杯男女宝宝防摔水壶500ml大容量便携保温水杯" * 2
    order = order_factory("Unshipped", recipient_name="Bartholomew Fitzgerald-Montgomery-Worthington-Kensington",
                          ship_address_1="Suite 1200, Building C, 4500 Northwest Technology Boulevard East " * 2,
                          items=[item_fields(sku="CN-LONG", product_name=chinese),
                                 item_fields(sku="X" * 60, product_name="Supercalifragilistic" * 8)])
    data = slip(staff_client, order.order_id, size=size).data
    assert ink_outside_margins(data, margin) == []
    text = "".join("".join(pages_text(data)).split())
    assert chinese in text and "Supercalifragilistic" * 8 in text and "X" * 60 in text


def test_markup_in_buyer_data_prints_as_text_and_nothing_is_fetched(staff_client, order_factory):
    hits = []
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def accept():
        try:
            while True:
                conn, _ = listener.accept()
                hits.append(conn.recv(1024))
                conn.close()
        except OSError:
            pass

    threading.Thread(target=accept, daemon=True).start()
    image = f'<img src="http://127.0.0.1:{port}/pixel.png">'
    order = order_factory("Unshipped", buyer_name="<b>x</b>", recipient_name=image,
                          ship_address_1=f"<link rel=stylesheet href=http://127.0.0.1:{port}/a.css>",
                          items=[item_fields(product_name=f'<pdf:barcode value="1"/>{image}')])
    try:
        response = slip(staff_client, order.order_id)
    finally:
        listener.close()
    assert response.status_code == 200
    text = " ".join(pages_text(response.data)[0].split())
    assert "Buyer name: <b>x</b>" in text
    assert image in text
    assert f"<link rel=stylesheet href=http://127.0.0.1:{port}/a.css>" in text
    assert f'<pdf:barcode value="1"/>{image}' in text
    assert hits == []


def test_the_renderer_reads_only_static_files(app):
    assert pdf.static_file("/static/fonts/wqy-microhei.ttc") == str(pdf.STATIC / "fonts" / "wqy-microhei.ttc")
    assert pdf.static_file("data:image/png;base64,AAAA") is None
    for uri in ["http://example.com/x.png", "https://127.0.0.1/x.png", "file:///etc/passwd", "/etc/passwd",
                "/static/../config.py", "/static/missing.png", "../seller/config.py", "//example.com/x.png"]:
        with pytest.raises(ResourceAccessError):
            pdf.static_file(uri)


def test_a_template_asking_for_anything_else_does_not_render(app):
    app.jinja_loader = jinja2.ChoiceLoader([jinja2.DictLoader({
        "pdf/remote.html": '<html><body><p>x</p><img src="https://example.com/logo.png"></body></html>'}),
        app.jinja_loader])
    with app.test_request_context(), pytest.raises(ResourceAccessError):
        pdf.render_pdf("pdf/remote.html")


def test_errors_xhtml2pdf_reports_raise(app, monkeypatch):
    status = type("Status", (), {"err": 1, "log": [("error", 3, "cannot draw the frame", None)]})()
    monkeypatch.setattr(pdf.pisa, "pisaDocument", lambda *args, **kwargs: status)
    with app.test_request_context(), pytest.raises(pdf.PDFError, match="cannot draw the frame"):
        pdf.render_pdf("pdf/packing_slip.html", orders=[], size="letter", page_size="letter", page_margin="0.5in",
                       store_name="S", seller_name="S")


def test_code128_carries_ascii_only(app):
    assert pdf.code128("113-1234567-1234567").src.startswith("data:image/png;base64,")
    assert pdf.code128("") is None
    assert pdf.code128("113-é") is None


def test_an_order_id_code128_cannot_carry_still_prints_without_a_barcode(staff_client, order_factory):
    order = order_factory("Unshipped", order_id="ORDER-Ü1")
    response = slip(staff_client, order.order_id)
    assert response.status_code == 200
    assert "ORDER-Ü1" in pages_text(response.data)[0]
    assert scanned(response.data) == []


# ---------------------------------------------------------------- batches


def test_batch_prints_one_slip_a_page_in_the_order_given(staff_client, order_factory):
    orders = [order_factory(random.choice(["Unshipped", "Shipped"])) for _ in range(100)]
    random.Random(4).shuffle(orders)
    ids = [o.order_id for o in orders]
    response = staff_client.post("/orders/packing-slips.pdf", data={"order_ids": ids})
    assert response.status_code == 200
    assert response.mimetype == "application/pdf"
    assert re.fullmatch(r'inline; filename="packing-slips-\d{4}-\d\d-\d\d-100-orders\.pdf"',
                        response.headers["Content-Disposition"])
    pages = pages_text(response.data)
    assert len(pages) >= 100
    first_seen = []
    for page in pages:
        found = [i for i in ids if i in page]
        assert len(found) == 1
        if found[0] not in first_seen:
            first_seen.append(found[0])
    assert first_seen == ids


def test_batch_records_one_history_event_per_order(staff_client, staff, order_factory):
    a, b = order_factory("Unshipped"), order_factory("Shipped")
    response = staff_client.post("/orders/packing-slips.pdf", data={"order_ids": [a.order_id, b.order_id,
                                                                                  a.order_id]})
    assert len(pages_text(response.data)) == 2
    for order in (a, b):
        [event] = events(order)
        assert event.user_id == staff.id
    slip(staff_client, a.order_id)
    assert len(events(a)) == 2


def test_scope_unshipped_prints_every_unshipped_order_of_the_list(owner_client, order_factory):
    unshipped = [order_factory("Unshipped") for _ in range(3)]
    others = [order_factory(status) for status in ("Shipped", "Pending", "Canceled")]
    response = owner_client.post("/orders/packing-slips.pdf", data={"scope": "unshipped"})
    assert response.status_code == 200
    text = "\n".join(pages_text(response.data))
    assert all(o.order_id in text for o in unshipped)
    assert not any(o.order_id in text for o in others)
    assert all(len(events(o)) == 1 for o in unshipped)
    assert not any(events(o) for o in others)


def test_scope_unshipped_with_nothing_unshipped_says_so(owner_client, order_factory):
    order_factory("Shipped")
    response = owner_client.post("/orders/packing-slips.pdf", data={"scope": "unshipped"})
    assert response.status_code == 422
    assert "No Unshipped orders" in response.text


def test_a_print_too_large_for_one_request_is_refused(owner_client, order_factory, monkeypatch):
    monkeypatch.setattr(slips, "MAX_SLIPS", 2)
    orders = [order_factory("Unshipped") for _ in range(3)]
    response = owner_client.post("/orders/packing-slips.pdf", data={"scope": "unshipped"})
    assert response.status_code == 422
    assert "more than the 2 slips" in response.text
    assert not any(events(o) for o in orders)
    assert owner_client.post("/orders/packing-slips.pdf",
                             data={"order_ids": [o.order_id for o in orders[:2]]}).status_code == 200


@pytest.mark.parametrize("htmx", [False, True])
def test_batch_without_a_selection_asks_for_one(owner_client, htmx):
    headers = {"HX-Request": "true"} if htmx else {}
    response = owner_client.post("/orders/packing-slips.pdf", data={}, headers=headers)
    assert response.status_code == 422
    assert "Select the orders" in response.text
    assert ("<html" in response.text) is not htmx


# ---------------------------------------------------------------- refusals and access


@pytest.mark.parametrize("status", ["Pending", "Canceled"])
@pytest.mark.parametrize("htmx", [False, True])
def test_pending_and_canceled_orders_have_no_slip(staff_client, order_factory, status, htmx):
    order = order_factory(status)
    headers = {"HX-Request": "true"} if htmx else {}
    response = staff_client.get(f"/orders/{order.order_id}/packing-slip.pdf", headers=headers)
    assert response.status_code == 409
    assert response.mimetype == "text/html"
    assert f"{order.order_id} ({status})" in response.text
    good = order_factory("Unshipped")
    batch = staff_client.post("/orders/packing-slips.pdf", data={"order_ids": [good.order_id, order.order_id]},
                              headers=headers)
    assert batch.status_code == 409
    assert not events(order) and not events(good)


def test_unknown_orders_are_404(staff_client, order_factory):
    assert slip(staff_client, "000-0000000-0000000").status_code == 404
    good = order_factory("Unshipped")
    response = staff_client.post("/orders/packing-slips.pdf", data={"order_ids": [good.order_id,
                                                                                  "000-0000000-0000000"]})
    assert response.status_code == 404
    assert "000-0000000-0000000" in response.text
    assert not events(good)


def test_strangers_are_sent_to_sign_in(client, order_factory):
    order = order_factory("Shipped")
    assert "/login" in slip(client, order.order_id).location
    assert "/login" in client.post("/orders/packing-slips.pdf", data={"order_ids": [order.order_id]}).location
    assert not events(order)


@pytest.mark.parametrize("role", ["staff", "owner"])
def test_staff_and_owner_may_print(app, request, order_factory, role):
    signed_in, user = request.getfixturevalue(f"{role}_client"), request.getfixturevalue(role)
    order = order_factory("Shipped")
    assert slip(signed_in, order.order_id).status_code == 200
    assert signed_in.post("/orders/packing-slips.pdf", data={"order_ids": [order.order_id]}).status_code == 200
    assert [e.user_id for e in events(order)] == [user.id, user.id]


def test_print_all_unshipped_prints_only_the_filtered_list(owner_client, order_factory):
    wanted = order_factory("Unshipped", items=[item_fields(sku="AAA-1")])
    other = order_factory("Unshipped", items=[item_fields(sku="BBB-2")])
    response = owner_client.post("/orders/packing-slips.pdf?sku=AAA-1", data={"scope": "unshipped"})
    assert response.status_code == 200
    text = "".join(pages_text(response.data))
    assert wanted.order_id in text and other.order_id not in text

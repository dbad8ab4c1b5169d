"""Buy shipping: EasyPost through its official client against a local stand-in of its API, and the demo provider.

The stand-in (`FakeEasyPost`) listens on 127.0.0.1 only and answers as EasyPost's API reference describes:
POST /v2/shipments returns the shipment with its rates, POST /v2/shipments/<id>/buy the shipment with its
postage label (the PDF served by the same server), errors in EasyPost's `{"error": {code, message, errors}}`
shape with its status codes, and `SHIPMENT.POSTAGE.EXISTS` for a shipment bought twice.
"""
import io
import json
import re
import threading
import time
from datetime import timedelta
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from pypdf import PdfReader
from reportlab.pdfgen.canvas import Canvas
from sqlalchemy import func, select

from seller import clock, workflow
from seller.extensions import db
from seller.models import Label, Order, OrderEvent, Shipment
from seller.shipping import providers
from seller.shipping.providers import Parcel, parse_rate_table

from conftest import make_order, sign_in

HX = {"HX-Request": "true"}
KEY = "EZTK_test_key_for_the_fake"


def label_pdf(text: str) -> bytes:
    buf = io.BytesIO()
    c = Canvas(buf, pagesize=(288, 432))
    c.drawString(20, 400, text)
    c.showPage()
    c.save()
    return buf.getvalue()


def pdf_text(data: bytes) -> str:
    return " ".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)


class FakeEasyPost(ThreadingHTTPServer):
    """EasyPost's v2 API for shipments, as documented, on 127.0.0.1. `mode` makes it misbehave."""
    daemon_threads = True

    def __init__(self):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.base = f"http://127.0.0.1:{self.server_port}"
        self.mode = None  # "bad_address", "no_rates", "slow", "no_funds", "slow_buy", "lost_answer", "png_only"
        self.shipments, self.created, self.buy_calls, self.refunds = {}, [], [], []
        self.lock = threading.Lock()
        self.tracking = iter(range(10**16, 10**17))

    def handle_error(self, request, client_address):
        pass  # a client that gave up waiting (the timeout tests) is expected

    def rates(self, shipment_id):
        rows = [("USPS", "Priority", "8.24", 2), ("USPS", "GroundAdvantage", "5.93", 3),
                ("UPS", "Ground", "11.10", None)]
        return [{"id": f"rate_{shipment_id[4:]}_{n}", "object": "Rate", "mode": "test", "service": service,
                 "carrier": carrier, "rate": rate, "currency": "USD", "retail_rate": rate, "list_rate": rate,
                 "delivery_days": days, "est_delivery_days": days, "delivery_date_guaranteed": False,
                 "shipment_id": shipment_id, "carrier_account_id": "ca_test"}
                for n, (carrier, service, rate, days) in enumerate(rows)]


class _Handler(BaseHTTPRequestHandler):
    server: FakeEasyPost

    def log_message(self, *args):
        pass

    def answer(self, status, body, content_type="application/json"):
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def error(self, status, code, message, errors=()):
        self.answer(status, {"error": {"code": code, "message": message, "errors": list(errors)}})

    def do_GET(self):
        fake = self.server
        if self.path.startswith("/files/"):
            shipment = fake.shipments[self.path.split("/")[2].removesuffix(".pdf")]
            return self.answer(200, label_pdf(f"FAKE EASYPOST LABEL {shipment['tracking_code']}"), "application/pdf")
        if not self.authorized():
            return
        path, _, query = self.path.partition("?")
        shipment = fake.shipments.get(path.split("/")[3])
        if shipment is None:
            return self.error(404, "NOT_FOUND", "The requested resource could not be found.")
        if path.endswith("/label") and query == "file_format=PDF":  # convert the label to PDF
            shipment["postage_label"]["label_pdf_url"] = f"{fake.base}/files/{shipment['id']}.pdf"
        self.answer(200, shipment)

    def do_POST(self):
        fake = self.server
        if not self.authorized():
            return
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])) or b"{}")
        parts = self.path.split("/")  # ['', 'v2', 'shipments', id, verb]
        if self.path == "/v2/shipments":
            return self.create(body["shipment"])
        shipment = fake.shipments.get(parts[3])
        if shipment is None:
            return self.error(404, "NOT_FOUND", "The requested resource could not be found.")
        if parts[4] == "buy":
            return self.buy(shipment, body)
        if parts[4] == "refund":
            fake.refunds.append(shipment["id"])
            shipment["refund_status"] = "submitted"
            return self.answer(200, shipment)
        self.error(404, "NOT_FOUND", "The requested resource could not be found.")

    def authorized(self):
        if self.headers.get("Authorization") != f"Bearer {KEY}":
            self.error(401, "APIKEY.INACTIVE", "This api key is no longer active. Please use a different api key "
                                               "or reactivate this key.")
            return False
        return True

    def create(self, params):
        fake = self.server
        fake.created.append(params)
        if fake.mode == "slow":
            time.sleep(1.5)
        if fake.mode == "bad_address":
            return self.error(422, "ADDRESS.VERIFY.FAILURE", "Unable to verify address.",
                              [{"field": "street1", "message": "House number is missing", "suggestion": None}])
        shipment_id = f"shp_{len(fake.shipments) + 1:032x}"
        no_rates = fake.mode == "no_rates"
        shipment = {"id": shipment_id, "object": "Shipment", "mode": "test", "reference": params.get("reference"),
                    "to_address": params["to_address"], "from_address": params["from_address"],
                    "parcel": params["parcel"], "options": params.get("options", {}), "status": "unknown",
                    "rates": [] if no_rates else fake.rates(shipment_id), "selected_rate": None,
                    "postage_label": None, "tracking_code": None, "refund_status": None,
                    "messages": [{"carrier": "USPS", "carrier_account_id": "ca_test", "type": "rate_error",
                                  "message": "Unable to retrieve rates: the parcel exceeds the maximum weight."}]
                    if no_rates else []}
        fake.shipments[shipment_id] = shipment
        self.answer(201, shipment)

    def buy(self, shipment, body):
        fake = self.server
        fake.buy_calls.append(shipment["id"])
        if fake.mode == "no_funds":
            return self.error(402, "SHIPMENT.POSTAGE.PAYMENT_ERROR", "Insufficient funds.")
        if fake.mode == "slow_buy":
            time.sleep(0.6)
        with fake.lock:
            if shipment["postage_label"] is not None:
                return self.error(422, "SHIPMENT.POSTAGE.EXISTS", "Postage already exists for this shipment.")
            rate = next((r for r in shipment["rates"] if r["id"] == body["rate"]["id"]), None)
            if rate is None:
                return self.error(422, "SHIPMENT.RATE.INVALID", "Invalid rate.")
            shipment.update(selected_rate=rate, tracking_code=f"94001{next(fake.tracking)}", status="pre_transit",
                            postage_label={"object": "PostageLabel", "id": "pl_" + shipment["id"][4:],
                                           "label_size": "4x6", "label_file_type": "application/pdf",
                                           "label_url": f"{fake.base}/files/{shipment['id']}.png",
                                           "label_pdf_url": f"{fake.base}/files/{shipment['id']}.pdf"})
        if fake.mode == "png_only":  # the carrier made a PNG label: EasyPost converts it on request
            shipment["postage_label"]["label_pdf_url"] = None
        if fake.mode == "lost_answer":  # bought, but the answer comes after the client gave up
            time.sleep(1.0)
        self.answer(200, shipment)


@pytest.fixture
def easypost(app):
    fake = FakeEasyPost()
    thread = threading.Thread(target=fake.serve_forever, daemon=True)
    thread.start()
    app.config.update(EASYPOST_API_KEY=KEY, EASYPOST_API_BASE=fake.base + "/v2", EASYPOST_TIMEOUT=5)
    yield fake
    fake.shutdown()
    fake.server_close()


@pytest.fixture
def ship_from(app):
    return workflow.save_settings(store_name="Maple Goods", ship_from_name="Maple Goods",
                                  ship_from_street1="500 Pine St", ship_from_city="Portland", ship_from_state="OR",
                                  ship_from_zip="97205")


def today():
    return clock.local_today(workflow.store_tz())


def parcel(**kw):
    return {"weight": "2", "weight_unit": "lb", "length": "10", "width": "8", "height": "4",
            "ship_date": today().isoformat(), **kw}


def url(order):
    return f"/orders/{order.order_id}/buy-shipping"


def get_rates(client, order, headers=HX, **kw):
    """Get rates; returns (response, the hidden fields of the Buy form)."""
    r = client.post(url(order), data={**parcel(**kw), "version": order.version}, headers=headers)
    body = r.get_data(as_text=True)
    form = body[body.find('class="rates-form"'):]
    return r, dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', form))


def buy(client, order, quote, rate_id, headers=HX):
    return client.post(url(order), data={**quote, "rate_id": rate_id}, headers=headers)


def rate_ids(body):
    return re.findall(r'name="rate_id" value="([^"]+)"', body)


def state(order):
    """What a failed attempt must leave exactly as it was."""
    db.session.rollback()
    o = db.session.get(Order, order.id)
    return (o.status, o.version, o.late,
            db.session.scalar(select(func.count()).select_from(Label).where(Label.order_id == o.id)),
            db.session.scalar(select(func.count()).select_from(Shipment).where(Shipment.order_id == o.id)),
            db.session.scalar(select(func.count()).select_from(OrderEvent).where(OrderEvent.order_id == o.id)))


def labels():
    db.session.rollback()  # see what other threads committed
    return db.session.scalar(select(func.count()).select_from(Label))


def label_of(order):
    db.session.rollback()
    return db.session.scalar(select(Label).where(Label.order_id == order.id))


# ---------------------------------------------------------------- EasyPost through the official client


def test_rates_come_from_easypost_cheapest_first(owner_client, easypost, ship_from):
    order = make_order("Unshipped", recipient_name="Ada Lovelace", ship_address_1="12 Harbor Dr",
                       ship_city="Redondo Beach", ship_state="CA", ship_postal_code="90277")
    r, quote = get_rates(owner_client, order, weight="2.5")
    body = r.get_data(as_text=True)
    assert r.status_code == 200 and "<html" not in body
    assert "Provider: EasyPost" in body and "test mode" in body
    assert [m for m in re.findall(r"\$(\d+\.\d\d)</td>", body)] == ["5.93", "8.24", "11.10"]
    assert "Ground Advantage" in body and "GroundAdvantage" not in body
    sent = easypost.created[0]
    assert sent["parcel"] == {"weight": 40.0, "length": 10.0, "width": 8.0, "height": 4.0}  # ounces and inches
    assert sent["options"]["label_format"] == "PDF" and sent["options"]["label_size"] == "4x6"
    assert sent["to_address"]["name"] == "Ada Lovelace" and sent["to_address"]["zip"] == "90277"
    assert sent["from_address"]["street1"] == "500 Pine St" and sent["from_address"]["zip"] == "97205"
    assert sent["reference"] == order.order_id
    assert quote["shipment_ref"] == "shp_" + "1".rjust(32, "0") and len(quote["idempotency_key"]) >= 24
    assert state(order)[0] == "Unshipped"


def test_buy_through_easypost_ships_the_order_with_the_labels_tracking_id(app, staff, easypost, ship_from):
    client = sign_in(app.test_client(), staff)  # staff may buy shipping
    order = make_order("Unshipped")
    rates, quote = get_rates(client, order)
    r = buy(client, order, quote, rate_ids(rates.get_data(as_text=True))[0])
    body = r.get_data(as_text=True)
    assert r.status_code == 200 and "<html" not in body
    assert body.lstrip().startswith(f'<tr id="order-{order.id}"')
    assert f'<a class="btn" href="/orders/{order.order_id}/label.pdf" target="_blank">Print label</a>' in body
    assert body.count('hx-swap-oob="true"') >= 2 and 'id="flash"' in body  # tab counts and flash, out of band
    assert "HX-Request" in r.headers["Vary"] and "Print label" in body
    label = label_of(order)
    shipped = db.session.get(Order, order.id)
    shipment = shipped.shipment
    assert shipped.status == "Shipped"
    assert (shipment.carrier, shipment.shipping_service) == ("USPS", "Ground Advantage")
    assert shipment.tracking_id == label.tracking_id == easypost.shipments[quote["shipment_ref"]]["tracking_code"]
    assert shipment.tracking_valid and shipment.confirmed_by_id == staff.id
    assert label.cost_cents == 593 and label.provider == "EasyPost" and label.shipment_id == shipment.id
    assert label.provider_shipment_id == quote["shipment_ref"]
    assert pdf_text(label.pdf).strip() == f"FAKE EASYPOST LABEL {label.tracking_id}"
    event = db.session.scalars(select(OrderEvent).where(OrderEvent.order_id == order.id)
                               .order_by(OrderEvent.id.desc())).first()
    assert event.action == "buy_shipping" and event.user_id == staff.id
    assert event.details["cost"] == "5.93" and event.details["provider"] == "EasyPost"
    assert event.details["packages"][0]["tracking_id"] == label.tracking_id and event.details["parcel"]["weight"] == "2"
    pdf = client.get(f"/orders/{order.order_id}/label.pdf")
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf" and pdf.data == label.pdf
    assert pdf.headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize("mode, key, status, message", [
    ("bad_address", KEY, 422, "The address was refused: Unable to verify address. (street1: House number is missing)"),
    ("no_rates", KEY, 422, "No carrier offered a rate for this parcel and address."),
    ("slow", KEY, 503, "EasyPost did not answer in time."),
    (None, "EZAK_revoked", 503, "EasyPost refused the API key."),
])
@pytest.mark.parametrize("headers", [HX, {}], ids=["htmx", "nojs"])
def test_rate_errors_show_a_message_and_change_nothing(app, owner_client, easypost, ship_from, mode, key, status,
                                                      message, headers):
    easypost.mode = mode
    app.config.update(EASYPOST_API_KEY=key, EASYPOST_TIMEOUT=0.4)
    order = make_order("Unshipped")
    before = state(order)
    r, quote = get_rates(owner_client, order, headers=headers)
    body = r.get_data(as_text=True)
    assert r.status_code == status
    assert message in body.replace("&#39;", "'")
    assert ("<html" in body) == (not headers) and not quote
    assert state(order) == before


def test_a_refused_purchase_changes_nothing_and_offers_try_again(owner_client, easypost, ship_from):
    order = make_order("Unshipped")
    r, quote = get_rates(owner_client, order)
    before = state(order)
    easypost.mode = "no_funds"
    r = buy(owner_client, order, quote, rate_ids(r.get_data(as_text=True))[0])
    body = r.get_data(as_text=True)
    assert r.status_code == 422 and "the account needs funds" in body and "Try again" in body
    assert state(order) == before
    easypost.mode = None  # funds added: Try again (same key, same shipment) buys
    retry_form = body[body.find('class="retry"'):body.find('class="parcel-form"')]
    retry = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', retry_form))
    assert retry["idempotency_key"] == quote["idempotency_key"]
    assert owner_client.post(url(order), data=retry, headers=HX).status_code == 200
    assert state(order)[0] == "Shipped" and len(easypost.buy_calls) == 2


def test_an_answer_lost_in_a_timeout_is_recovered_without_buying_twice(app, owner_client, easypost, ship_from):
    """EasyPost bought the label but answered after the client gave up: Try again fetches that label."""
    order = make_order("Unshipped")
    r, quote = get_rates(owner_client, order)
    app.config["EASYPOST_TIMEOUT"] = 0.4
    easypost.mode = "lost_answer"
    rate = rate_ids(r.get_data(as_text=True))[0]
    r = buy(owner_client, order, quote, rate)
    assert r.status_code == 503 and "did not answer in time" in r.get_data(as_text=True)
    assert state(order)[0] == "Unshipped" and label_of(order) is None
    easypost.mode = None
    r = buy(owner_client, order, quote, rate)
    assert r.status_code == 200
    bought = easypost.shipments[quote["shipment_ref"]]
    shipment = db.session.get(Order, order.id).shipment
    assert label_of(order).tracking_id == bought["tracking_code"] == shipment.tracking_id
    assert len(easypost.buy_calls) == 2  # the second one was told SHIPMENT.POSTAGE.EXISTS
    assert [s["id"] for s in easypost.shipments.values() if s["postage_label"]] == [quote["shipment_ref"]]


def test_a_label_made_in_another_format_is_fetched_as_pdf(owner_client, easypost, ship_from):
    order = make_order("Unshipped")
    r, quote = get_rates(owner_client, order)
    easypost.mode = "png_only"
    assert buy(owner_client, order, quote, rate_ids(r.get_data(as_text=True))[0]).status_code == 200
    assert pdf_text(label_of(order).pdf).startswith("FAKE EASYPOST LABEL 94001")


def test_missing_ship_from_address_is_asked_for(owner_client, easypost):
    order = make_order("Unshipped")
    r, _ = get_rates(owner_client, order)
    assert r.status_code == 422 and "Enter the ship-from address in Settings" in r.get_data(as_text=True)
    assert easypost.created == []


def test_an_order_shipped_while_its_label_was_bought_gets_the_label_voided(owner_client, owner, easypost, ship_from,
                                                                          monkeypatch):
    order = make_order("Unshipped")
    r, quote = get_rates(owner_client, order)
    real_buy = providers.EasyPostProvider.buy

    def other_tablet_confirms_first(self, *args):
        workflow.confirm_shipment(db.session.get(Order, order.id), owner, workflow.ShipmentInput(
            carrier="UPS", tracking_id="1Z999AA10123456784", ship_date=today()))
        return real_buy(self, *args)

    monkeypatch.setattr(providers.EasyPostProvider, "buy", other_tablet_confirms_first)
    r = buy(owner_client, order, quote, rate_ids(r.get_data(as_text=True))[0])
    body = r.get_data(as_text=True)
    assert r.status_code == 409 and "The label just bought was voided with EasyPost." in body
    assert easypost.refunds == [quote["shipment_ref"]] and label_of(order) is None
    assert db.session.get(Order, order.id).shipment.carrier == "UPS"


# ---------------------------------------------------------------- one label per order


def test_a_double_click_buys_once(owner_client, easypost, ship_from):
    order = make_order("Unshipped")
    r, quote = get_rates(owner_client, order)
    rate = rate_ids(r.get_data(as_text=True))[0]
    first, second = buy(owner_client, order, quote, rate), buy(owner_client, order, quote, rate)
    assert first.status_code == second.status_code == 200
    assert "This label was already bought" in second.get_data(as_text=True)
    assert len(easypost.buy_calls) == 1
    assert labels() == 1


def test_two_clicks_at_once_buy_once(app, owner, easypost, ship_from):
    """Both submissions race: the second waits for the first one's label instead of buying again."""
    order = make_order("Unshipped")
    client = sign_in(app.test_client(), owner)
    r, quote = get_rates(client, order)
    rate = rate_ids(r.get_data(as_text=True))[0]
    easypost.mode = "slow_buy"
    barrier, results, target = threading.Barrier(2), [], url(order)  # threads touch no ORM object

    def click(c):
        with app.app_context():
            barrier.wait()
            results.append(c.post(target, data={**quote, "rate_id": rate}, headers=HX))
            db.session.remove()

    threads = [threading.Thread(target=click, args=(sign_in(app.test_client(), owner),)) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(r.status_code for r in results) == [200, 200]
    assert len(easypost.buy_calls) == 1
    assert labels() == 1
    assert sum("This label was already bought" in r.get_data(as_text=True) for r in results) == 1


def test_two_tablets_cannot_buy_two_labels(app, owner, easypost, ship_from):
    """Two tablets quoted the same order (two shipments, two keys) and press Buy at once: one label."""
    order = make_order("Unshipped")
    tablets = [sign_in(app.test_client(), owner) for _ in range(2)]
    quotes = []
    for tablet in tablets:
        r, quote = get_rates(tablet, order)
        quotes.append((quote, rate_ids(r.get_data(as_text=True))[0]))
    easypost.mode = "slow_buy"
    barrier, results, target = threading.Barrier(2), [], url(order)  # threads touch no ORM object

    def press(i):
        quote, rate = quotes[i]
        with app.app_context():
            barrier.wait()
            results.append(tablets[i].post(target, data={**quote, "rate_id": rate}, headers=HX))
            db.session.remove()

    threads = [threading.Thread(target=press, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(r.status_code for r in results) == [200, 409]
    refused = next(r for r in results if r.status_code == 409).get_data(as_text=True)
    assert "Someone else is buying a label for this order" in refused or " is Shipped: " in refused
    assert len(easypost.buy_calls) == 1
    assert labels() == 1


def test_a_shipped_order_offers_no_buy_shipping(owner, owner_client, easypost, ship_from):
    order = make_order("Unshipped")
    r, quote = get_rates(owner_client, order)
    assert buy(owner_client, order, quote, rate_ids(r.get_data(as_text=True))[0]).status_code == 200
    db.session.refresh(order)
    assert "buy_shipping" not in workflow.available_actions(order, owner)
    before = state(order)
    for headers in (HX, {}):
        again = owner_client.get(url(order), headers=headers)
        assert again.status_code == 409 and f"Order {order.order_id} is Shipped: Buy shipping is not possible." in again.get_data(
            as_text=True)
        assert get_rates(owner_client, order, headers=headers)[0].status_code == 409
    late = buy(owner_client, order, {**quote, "idempotency_key": "a-second-purchase"}, "0")
    assert late.status_code == 409 and " is Shipped: " in late.get_data(as_text=True)
    assert state(order) == before and len(easypost.buy_calls) == 1


@pytest.mark.parametrize("status", ["Pending", "Canceled"])
def test_buy_shipping_needs_an_unshipped_order(owner_client, status):
    order = make_order(status)
    r = owner_client.get(url(order))
    assert r.status_code == 409 and f" is {status}: Buy shipping is not possible" in r.get_data(as_text=True)


def test_a_stale_page_buys_nothing(owner_client, easypost, ship_from):
    order = make_order("Unshipped")
    r, quote = get_rates(owner_client, order)
    db.session.execute(Order.__table__.update().where(Order.id == order.id).values(version=Order.version + 1))
    db.session.commit()
    before = state(order)
    r = buy(owner_client, order, quote, rate_ids(r.get_data(as_text=True))[0])
    assert r.status_code == 409 and "changed by someone else" in r.get_data(as_text=True)
    assert state(order) == before and easypost.buy_calls == []


# ---------------------------------------------------------------- the demo provider


def test_demo_provider_end_to_end(owner_client):
    order = make_order("Unshipped")
    page = owner_client.get(url(order), headers=HX)
    body = page.get_data(as_text=True)
    assert page.status_code == 200 and "<html" not in body and f'<tr id="order-{order.id}-panel"' in body
    assert "Provider: Demo" in body and "sample labels that cannot be mailed" in body
    for label in ("Weight", "Unit", "Length", "Width", "Height", "Ship date"):
        assert f">{label}</label>" in body
    r, quote = get_rates(owner_client, order, weight="36", weight_unit="oz")  # 2.25 lb: 3 pounds billed
    body = r.get_data(as_text=True)
    assert re.findall(r"\$(\d+\.\d\d)</td>", body) == ["6.20", "11.10", "11.40", "11.60"]
    assert re.findall(r"<td>(\d(?:–\d)?)\s*<span class=\"arrives", body) == ["3–5", "1–3", "1–5", "1–5"]
    r = buy(owner_client, order, quote, rate_ids(body)[1])  # USPS Priority Mail
    assert r.status_code == 200 and "Bought USPS Priority Mail for $11.10" in r.get_data(as_text=True)
    label = label_of(order)
    shipment = db.session.get(Order, order.id).shipment
    assert (label.carrier, label.service, label.cost_cents, label.provider) == ("USPS", "Priority Mail", 1110, "Demo")
    assert label.tracking_id == shipment.tracking_id and workflow.tracking_matches("USPS", label.tracking_id)
    assert shipment.tracking_valid and shipment.carrier == "USPS"
    text = pdf_text(owner_client.get(f"/orders/{order.order_id}/label.pdf").data)
    assert providers.SAMPLE_TEXT in text and order.order_id in text and "USPS PRIORITY MAIL" in text
    assert " ".join(label.tracking_id[i:i + 4] for i in range(0, 22, 4)) in text
    assert order.recipient_name in text and order.ship_address_1 in text


@pytest.mark.parametrize("carrier", ["USPS", "UPS", "FedEx", "DHL"])
def test_demo_tracking_ids_are_well_formed_for_their_carrier(carrier):
    ids = {providers.demo_tracking_id(carrier, f"key-{n}") for n in range(20)}
    assert len(ids) == 20 and all(workflow.tracking_matches(carrier, t) for t in ids)
    assert providers.demo_tracking_id(carrier, "same") == providers.demo_tracking_id(carrier, "same")


def test_demo_rates_come_from_the_settings_table(owner_client):
    workflow.save_settings(demo_rates="# our own\nOnTrac, Ground, 7 + 1.25/lb, 2 days\nDHL, Express, 30\n")
    order = make_order("Unshipped")
    r, quote = get_rates(owner_client, order, weight="1.2", weight_unit="kg")  # 42.4 oz: 3 pounds
    body = r.get_data(as_text=True)
    assert re.findall(r"<td>([A-Za-z]+)</td>\s*<td>([A-Za-z ]+)</td>\s*<td class=\"num\">\$([\d.]+)", body) == [
        ("OnTrac", "Ground", "10.75"), ("DHL", "Express", "30.00")]
    assert buy(owner_client, order, quote, rate_ids(body)[0]).status_code == 200
    shipment = db.session.get(Order, order.id).shipment
    assert shipment.carrier == "OnTrac" and shipment.tracking_valid


def test_a_mistake_in_the_demo_rate_table_is_shown(owner_client):
    workflow.save_settings(demo_rates="USPS, Ground Advantage, cheap, 3-5 days")
    r, _ = get_rates(owner_client, make_order("Unshipped"))
    assert r.status_code == 422 and "Line 1: write the price as 4.85 or 4.85 + 0.45/lb." in r.get_data(as_text=True)


def test_a_tampered_quote_buys_nothing(owner_client):
    order = make_order("Unshipped")
    r, quote = get_rates(owner_client, order)
    before = state(order)
    r = buy(owner_client, order, {**quote, "shipment_ref": quote["shipment_ref"][:-3] + "abc"}, "0")
    assert r.status_code == 422 and "These rates are no longer valid" in r.get_data(as_text=True)
    assert state(order) == before


def test_parse_rate_table():
    rates = parse_rate_table(providers.DEFAULT_DEMO_RATES)
    assert [(r.carrier, r.service, r.base, r.per_lb, r.days) for r in rates][0] == (
        "USPS", "Ground Advantage", Decimal("4.85"), Decimal("0.45"), "3–5")
    assert parse_rate_table("\n# nothing\n") == []
    assert parse_rate_table("UPS, Next Day Air, 25.00, 1 day")[0].days == "1"
    for bad, line in [("USPS, Ground", 1), ("\nUPS, Ground, 1e3", 2), ("UPS, Ground, NaN", 1),
                      ("UPS, Ground, 5 + 1/kg", 1), ("UPS, Ground, 5, soon", 1), ("UPS, Ground, -5", 1)]:
        with pytest.raises(ValueError, match=f"Line {line}:"):
            parse_rate_table(bad)


@pytest.mark.parametrize("weight, unit, ounces", [("12", "oz", "12.0"), ("2.5", "lb", "40.0"), ("454", "g", "16.1"),
                                                  ("1", "kg", "35.3"), ("0.01", "oz", "0.1")])
def test_parcel_weight_in_ounces(weight, unit, ounces):
    assert Parcel.of(Decimal(weight), unit, Decimal(1), Decimal(1), Decimal(1)).weight_oz == Decimal(ounces)


# ---------------------------------------------------------------- the form, with and without htmx


@pytest.mark.parametrize("headers", [HX, {}], ids=["htmx", "nojs"])
@pytest.mark.parametrize("field, value, message", [
    ("weight", "", "Enter the parcel&#39;s weight."),
    ("weight", "1e3", "Enter a number greater than 0"),
    ("weight", "NaN", "Enter a number greater than 0"),
    ("weight", "-2", "Enter a number greater than 0"),
    ("weight", "٥", "Enter a number greater than 0"),
    ("weight", "151", "Carriers take parcels up to 150 lb"),
    ("length", "0", "Enter a number greater than 0"),
    ("height", "109", "At most 108 in."),
    ("weight_unit", "stone", "Not a valid choice"),
    ("ship_date", "2020-01-01", "The ship date cannot be in the past."),
    ("ship_date", "tomorrow", "Not a valid date value"),
])
def test_invalid_parcel_is_refused_next_to_its_field(owner_client, field, value, message, headers):
    order = make_order("Unshipped")
    r, quote = get_rates(owner_client, order, headers=headers, **{field: value})
    body = r.get_data(as_text=True)
    assert r.status_code == 422 and message in body and not quote
    assert f'id="{field}-{order.id}-error"' in body and ("<html" in body) == (not headers)
    assert state(order)[0] == "Unshipped"


def test_a_quote_from_yesterday_buys_nothing(owner_client):
    order = make_order("Unshipped")
    r, quote = get_rates(owner_client, order)
    before = state(order)
    r = buy(owner_client, order, {**quote, "ship_date": (today() - timedelta(days=1)).isoformat()}, "0")
    assert r.status_code == 422 and "The ship date cannot be in the past." in r.get_data(as_text=True)
    assert state(order) == before


def test_ship_date_at_most_three_days_ahead(owner_client):
    order = make_order("Unshipped")
    assert get_rates(owner_client, order, ship_date=(today() + timedelta(days=3)).isoformat())[0].status_code == 200
    r, _ = get_rates(owner_client, order, ship_date=(today() + timedelta(days=4)).isoformat())
    assert r.status_code == 422 and "at most 3 days from today" in r.get_data(as_text=True)


def test_without_javascript_the_form_is_a_page_and_buying_returns_to_the_list(owner_client):
    order = make_order("Unshipped")
    page = owner_client.get(url(order) + "?next=/orders?status=Unshipped")
    body = page.get_data(as_text=True)
    assert page.status_code == 200 and "<html" in body and 'hx-post' not in body
    assert 'name="next" value="/orders?status=Unshipped"' in body
    r, quote = get_rates(owner_client, order, headers={}, next="/orders?status=Unshipped")
    assert r.status_code == 200 and "<html" in r.get_data(as_text=True) and quote["next"] == "/orders?status=Unshipped"
    done = buy(owner_client, order, quote, "0", headers={})
    assert done.status_code == 303 and done.headers["Location"] == "/orders?status=Unshipped"
    listing = owner_client.get(done.headers["Location"]).get_data(as_text=True)
    assert "Bought USPS Ground Advantage" in listing
    shipped = owner_client.get("/orders?status=Shipped").get_data(as_text=True)  # its row offers the label again
    assert f'<a class="btn" href="/orders/{order.order_id}/label.pdf" target="_blank">Print label</a>' in shipped


def test_close_gives_the_row_back(owner_client):
    order = make_order("Unshipped")
    form = owner_client.get(url(order) + "?next=/orders?page=2", headers=HX).get_data(as_text=True)
    close = re.search(r'hx-get="([^"]+)"[^>]*>Close</a>', form).group(1).replace("&amp;", "&")
    r = owner_client.get(close, headers=HX)
    assert r.status_code == 200 and r.get_data(as_text=True).lstrip().startswith(f'<tr id="order-{order.id}"')
    assert "Buy shipping" in r.get_data(as_text=True) and "Get rates" not in r.get_data(as_text=True)
    assert 'name="next" value="/orders?page=2"' in r.get_data(as_text=True)  # its forms still return to the list


def test_the_row_offers_buy_shipping_inside_the_list(owner_client):
    order = make_order("Unshipped")
    row = owner_client.get("/orders").get_data(as_text=True)
    assert f'hx-get="{url(order)}" hx-target="#order-{order.id}-panel" hx-swap="outerHTML"' in row


def test_buying_late_records_a_late_shipment(owner_client):
    order = make_order("Unshipped", purchased_at=clock.now() - timedelta(days=4))
    r, quote = get_rates(owner_client, order)
    assert buy(owner_client, order, quote, "0").status_code == 200
    shipped = db.session.get(Order, order.id)
    assert shipped.late and shipped.shipment.late


def test_no_label_yet_is_404(owner_client):
    assert owner_client.get(f"/orders/{make_order('Unshipped').order_id}/label.pdf").status_code == 404


def test_staff_may_buy_shipping(staff_client):
    assert staff_client.get(url(make_order("Unshipped"))).status_code == 200


def test_signed_out_goes_to_sign_in(client):
    response = client.get(url(make_order("Unshipped")))
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_csrf_is_required(db_url):
    from conftest import add_user, make_app, reset_schema
    app = make_app(db_url, WTF_CSRF_ENABLED=True)
    reset_schema(app)
    with app.app_context():
        client = sign_in(app.test_client(), add_user("csrf@example.com", "owner"))
        order = make_order("Unshipped")
        assert client.post(url(order), data=parcel()).status_code == 400
        page = client.get(url(order)).get_data(as_text=True)
        token = re.search(r'name="csrf_token" value="([^"]+)"', page)[1]
        assert client.post(url(order), data=parcel(), headers={"X-CSRFToken": token, **HX}).status_code == 200
        db.session.remove()
        db.engine.dispose()


# ---------------------------------------------------------------- the workflow verbs


class FakePurchase:
    def __init__(self, carrier="USPS", tracking="9400111899223197428490"):
        self.carrier, self.service, self.cost = carrier, "Ground Advantage", Decimal("4.85")
        self.tracking_id, self.label_pdf, self.provider_shipment_id = tracking, b"%PDF-1.4 test", "shp_1"


def test_buy_shipping_verb_replays_a_key_and_refuses_a_second_label(owner):
    order = make_order("Unshipped")
    label, replayed = workflow.buy_shipping(order, owner, FakePurchase(), "key-1", provider="Demo", ship_date=today())
    assert not replayed and label.shipment_id == order.shipment.id and order.status == "Shipped"
    again, replayed = workflow.buy_shipping(order, owner, FakePurchase(), "key-1", provider="Demo", ship_date=today())
    assert replayed and again.id == label.id
    with pytest.raises(workflow.InvalidTransition):
        workflow.buy_shipping(order, owner, FakePurchase(), "key-2", provider="Demo", ship_date=today())
    assert labels() == 1


def test_a_carrier_without_an_amazon_code_is_other_with_its_name(owner):
    order = make_order("Unshipped")
    workflow.buy_shipping(order, owner, FakePurchase("Acme Post", "AP123"), "k", provider="Demo", ship_date=today())
    shipment = order.shipment
    assert (shipment.carrier, shipment.carrier_name, shipment.tracking_id) == ("Other", "Acme Post", "AP123")


def test_an_abandoned_claim_expires(owner):
    order = make_order("Unshipped")
    assert workflow.claim_label(order, owner, "first", "Demo", now=clock.now() - timedelta(minutes=3)) is None
    with pytest.raises(workflow.PurchaseInProgress):
        workflow.claim_label(order, owner, "second", "Demo", now=clock.now() - timedelta(minutes=2, seconds=50))
    assert workflow.claim_label(order, owner, "second", "Demo") is None  # the first one's worker died
    keys = db.session.scalars(select(Label.idempotency_key).where(Label.order_id == order.id)).all()
    assert keys == ["second"]
    workflow.release_label_claim(order, "second")
    assert labels() == 0


def test_an_address_not_in_latin_letters_is_typed_in_latin_for_the_label(owner_client):
    """Carriers read Latin letters only: the form says so and takes the address typed in Latin (pinyin)."""
    order = make_order("Unshipped", recipient_name="王小明", ship_address_1="朝阳路 88 号", ship_city="Flushing",
                       ship_state="NY")
    form = owner_client.get(url(order), headers=HX).get_data(as_text=True)
    assert "not written in Latin letters" in form and 'value="王小明"' in form
    r, quote = get_rates(owner_client, order)
    assert r.status_code == 422 and "Type the ship-to address in Latin letters" in r.get_data(as_text=True)
    assert not quote
    r, quote = get_rates(owner_client, order, to_name="Wang Xiaoming", to_street1="88 Chaoyang Rd")
    assert r.status_code == 200 and quote
    label = buy(owner_client, order, quote, "0")
    assert label.status_code == 200
    pdf = PdfReader(io.BytesIO(label_of(order).pdf)).pages[0].extract_text()
    assert "Wang Xiaoming" in pdf and "88 Chaoyang Rd" in pdf and "王" not in pdf


def test_each_rate_says_when_it_arrives_and_each_buy_button_what_it_buys(owner_client):
    order = make_order("Unshipped", promise_at=clock.now() + timedelta(days=4))
    r, _ = get_rates(owner_client, order)
    body = r.get_data(as_text=True)
    names = re.findall(r'aria-label="(Buy [^"]+)"', body)
    assert len(names) == len(set(names)) >= 2 and names[0].startswith("Buy USPS Ground Advantage, $")
    assert "arrives by" in body and "by the promise date" in body and "after the promise date" in body

"""Hostile and malformed input on every form, and buyer data that tries to be markup (goals G7, G9)."""
import re

import pytest
from sqlalchemy import func, select

from seller import workflow
from seller.extensions import db
from seller.models import Order, ReturnRequest

from conftest import item_fields, make_order, sign_in

CORPUS = ["sNaN", "Infinity", "1e999999", "10.005", "٥", "-1", "", "\x00", "\u202egnp.exe", "A" * 5000,
          "<script>alert(1)</script>", "' OR 1=1 --", "9" * 40, "2026-02-30", "１２"]
PAYLOAD = '<script>alert("owned")</script><img src=x onerror=alert(1)>'
FIELD = re.compile(r'<(?:input|select|textarea)[^>]*\bname="([^"]+)"')


def snapshot():
    db.session.rollback()
    tables = {t.name: db.session.scalar(select(func.count()).select_from(t)) for t in db.metadata.sorted_tables}
    versions = (db.session.scalar(select(func.sum(Order.version))), db.session.scalar(select(func.sum(
        ReturnRequest.version))))
    return tables, versions


@pytest.fixture
def world(app, owner):
    orders = {status: make_order(status) for status in ("Unshipped", "Shipped")}
    ret = workflow.create_return(orders["Shipped"], owner, "No longer needed", {orders["Shipped"].items[0].id: 1})
    return orders, ret


def form_routes(app, orders, ret):
    """(url, field names) of every page that shows a form and accepts POST, with real ids filled in."""
    adapter = app.url_map.bind("localhost")
    for rule in app.url_map.iter_rules():
        if "POST" not in rule.methods or "GET" not in rule.methods:
            continue
        for order in orders.values():
            values = {"order_id": order.order_id, "return_id": ret.id}
            if set(rule.arguments) <= set(values):
                yield adapter.build(rule.endpoint, {a: values[a] for a in rule.arguments})
                if "order_id" not in rule.arguments:
                    break


def test_hostile_values_in_every_field_never_500_and_rejections_change_nothing(app, owner, world):
    client = sign_in(app.test_client(), owner)
    checked = 0
    for url in sorted(set(form_routes(app, *world))):
        page = client.get(url)
        if page.status_code != 200:
            continue
        names = sorted(set(FIELD.findall(page.get_data(as_text=True))) - {"csrf_token"})
        for value in CORPUS:
            before = snapshot()
            for headers in ({}, {"HX-Request": "true"}):
                response = client.post(url, data={name: value for name in names}, headers=headers)
                assert response.status_code < 500, (url, value, response.status_code)
                if response.status_code >= 400:
                    assert snapshot() == before, (url, value)
            checked += 1
    assert checked >= len(CORPUS) * 3


def test_buyer_data_is_never_markup(app, owner):
    hostile = {"buyer_name": PAYLOAD, "recipient_name": PAYLOAD, "ship_address_1": PAYLOAD, "ship_city": PAYLOAD}
    orders = [make_order(status, items=[item_fields(sku=PAYLOAD[:90], product_name=PAYLOAD)], **hostile)
              for status in ("Pending", "Unshipped", "Shipped", "Canceled")]
    shipped = orders[2]
    workflow.create_return(shipped, owner, "No longer needed", {shipped.items[0].id: 1})
    workflow.contact_buyer(shipped, owner, PAYLOAD, PAYLOAD)
    client = sign_in(app.test_client(), owner)
    adapter = app.url_map.bind("localhost")
    pages = 0
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods or rule.endpoint == "static":
            continue
        for order in orders:
            values = {"order_id": order.order_id, "return_id": 1}
            if not set(rule.arguments) <= set(values):
                break
            url = adapter.build(rule.endpoint, {a: values[a] for a in rule.arguments})
            for headers in ({}, {"HX-Request": "true"}):
                response = client.get(url, headers=headers)
                if response.mimetype == "text/html":
                    body = response.get_data(as_text=True)
                    assert "<script>alert" not in body and "<img src=x" not in body, url
                    pages += 1
                response.close()
            if not rule.arguments:
                break
    assert pages >= 10

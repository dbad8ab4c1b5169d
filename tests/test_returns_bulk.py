"""Authorize selected (contract §13): the checked Pending Authorization requests, each authorized on its own."""
import re

import pytest
from sqlalchemy import select

from seller import workflow
from seller.extensions import db
from seller.models import OrderEvent, ReturnRequest, Settings
from test_returns import HX, new_return, row_of, snapshot


@pytest.fixture
def address(app):
    workflow.save_settings(return_address="Returns Dept\n1 Main St\nReno, NV")


def statuses(*rets):
    db.session.rollback()
    return [db.session.get(ReturnRequest, r.id).status for r in rets]


def test_pending_rows_have_check_boxes_for_the_owner(owner_client, staff_client, order_factory):
    pending, authorized = new_return(order_factory("Shipped")), new_return(order_factory("Shipped"), status="Authorized")
    page = owner_client.get("/returns").text
    assert 'form="bulk-authorize"' in row_of(page, pending) and 'form="bulk-authorize"' not in row_of(page, authorized)
    assert ">Authorize selected</button>" in page
    staff_page = staff_client.get("/returns").text
    assert 'form="bulk-authorize"' not in staff_page and "Authorize selected" not in staff_page
    assert staff_client.get(f"/returns/authorize-selected?ids={pending.id}").status_code == 403
    assert staff_client.post("/returns/authorize-selected", data={"ids": [pending.id]}).status_code == 403


@pytest.mark.parametrize("headers", [{}, HX], ids=["no-js", "htmx"])
def test_authorize_selected(owner_client, owner, order_factory, address, headers):
    rets = [new_return(order_factory("Shipped")) for _ in range(3)]
    closed = new_return(order_factory("Shipped"), status="Closed")
    confirm = owner_client.get("/returns/authorize-selected", headers=headers,
                               query_string={"ids": [r.id for r in rets]})
    assert confirm.status_code == 200
    assert "3 requests will be authorized" in confirm.text and "Returns Dept" in confirm.text
    assert all(r.order.order_id in confirm.text for r in rets)
    assert ">Authorize selected</button>" in confirm.text
    response = owner_client.post("/returns/authorize-selected", headers=headers, data={
        "ids": [rets[0].id, closed.id, rets[1].id, rets[2].id], "refund_timing": "after_receipt"})
    assert response.status_code == 200
    assert statuses(*rets, closed) == ["Authorized"] * 3 + ["Closed"]
    for ret in rets:
        ret = db.session.get(ReturnRequest, ret.id)
        assert re.fullmatch(r"RMA-[0-9A-F]{8}", ret.rma_number) and ret.return_address.startswith("Returns Dept")
        assert f"authorized with RMA {ret.rma_number}" in response.text
    assert "This return request is Closed: Authorize request is not possible." in response.text
    assert "3 return requests authorized." in response.text
    if headers:  # the rows and the tab counts, out of band
        assert re.search(rf'<tr id="return-{rets[0].id}"[^>]*hx-swap-oob="true"', response.text)
        assert 'id="return-tabs"' in response.text and '>Authorized <span class="count">3</span>' in response.text
    events = db.session.scalars(select(OrderEvent).where(OrderEvent.action == "authorize_return")).all()
    assert len(events) == 3 and {e.user_id for e in events} == {owner.id}


@pytest.mark.parametrize("headers", [{}, HX], ids=["no-js", "htmx"])
def test_authorize_selected_refusals(owner_client, order_factory, headers):
    ret = new_return(order_factory("Shipped"))
    before = snapshot()
    page = owner_client.get("/returns/authorize-selected", headers=headers).text
    assert "Check the Pending Authorization requests to authorize first." in page
    page = owner_client.get(f"/returns/authorize-selected?ids={ret.id}", headers=headers).text
    assert "Save your return address in Settings first" in page and "Authorize selected</button>" not in page
    response = owner_client.post("/returns/authorize-selected", headers=headers, data={"ids": [ret.id]})
    assert response.status_code == 422  # no return address saved
    workflow.save_settings(return_address="1 Main St")
    for data, message in (({}, "Select 1 to 500 Pending Authorization requests."),
                          ({"ids": ["x"]}, "could not be coerced"),
                          ({"ids": [str(n) for n in range(1, 502)]}, "Select 1 to 500")):
        response = owner_client.post("/returns/authorize-selected", headers=headers, data=data)
        assert response.status_code == 422 and message in response.text, message
    response = owner_client.post("/returns/authorize-selected", headers=headers, data={"ids": [ret.id + 99]})
    assert response.status_code == 200 and "No such return request." in response.text
    assert snapshot() == before


def test_one_refusal_does_not_stop_the_rest(app, order_factory, address):
    a, b = new_return(order_factory("Shipped")), new_return(order_factory("Shipped"))
    workflow.authorize_return(b, None, "RMA-TAKEN", "x")
    results = workflow.authorize_selected([b.id, a.id, a.id], None, Settings.current().return_address)
    assert [(ret_id, why is None) for ret_id, _, why in results] == [(b.id, False), (a.id, True)]
    assert statuses(a, b) == ["Authorized", "Authorized"]

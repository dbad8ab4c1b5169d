"""Mark received, refunds after receipt, and close-stale-returns (contract §13)."""
import io
import re
import threading
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from conftest import item_fields
from seller import clock, workflow
from seller.extensions import db
from seller.models import Message, OrderEvent, ReturnRequest
from test_returns import HX, Inbox, buttons, new_return, row_of, smtp, snapshot  # noqa: F401 (smtp: a fixture)


def two_of(order_factory, status="Authorized", timing="after_receipt"):
    """A request for 2 of a 2-piece item ($20.00 each, shipping apart), authorized to refund after receipt."""
    order = order_factory("Shipped", items=[item_fields(quantity=2, price=4000, tax=330)])
    return new_return(order, quantity=2, status=status, timing=timing)


def receive_data(ret, quantity="1", condition="Damaged", **extra):
    ri = ret.items[0]
    return {f"quantity-{ri.id}": quantity, f"condition-{ri.id}": condition, "note": "Box crushed",
            "version": ret.version, **extra}


# ---------------------------------------------------------------- Mark received


def test_the_mark_received_form(staff_client, order_factory):
    ret = two_of(order_factory)
    page = staff_client.get(f"/returns/{ret.id}/receive").text
    for label in ("Quantity received", "Condition", "Sellable", "Damaged", "Defective", "Wrong item",
                  "Missing parts", "Note", ">Mark received</button>", ret.items[0].item.sku):
        assert label in page, label


@pytest.mark.parametrize("headers", [{}, HX], ids=["no-js", "htmx"])
def test_staff_marks_received(staff_client, staff, order_factory, headers):
    ret = two_of(order_factory)
    assert buttons(row_of(staff_client.get("/returns").text, ret)) == ["Mark received", "Contact buyer"]
    response = staff_client.post(f"/returns/{ret.id}/receive", headers=headers, data=receive_data(ret))
    db.session.refresh(ret)
    assert (ret.status, ret.items[0].received_quantity, ret.items[0].condition) == ("Authorized", 1, "Damaged")
    assert ret.received_at is not None and ret.received_note == "Box crushed"
    if headers:
        assert response.status_code == 200 and response.headers["HX-Retarget"] == f"#return-{ret.id}"
        row = row_of(response.text, ret)
    else:
        assert response.status_code == 303
        row = row_of(staff_client.get("/returns").text, ret)
    assert "Received 1 of 2 · Damaged" in row and "Closes on" not in row
    event = db.session.scalar(select(OrderEvent).where(OrderEvent.action == "mark_received"))
    assert event.user_id == staff.id and event.details["received"][0]["condition"] == "Damaged"
    page = staff_client.get(f"/orders/{ret.order.order_id}").text
    assert "Received 1 of 2 · Damaged" in page and "Marked return received" in page and "Box crushed" in page


@pytest.mark.parametrize("headers", [{}, HX], ids=["no-js", "htmx"])
def test_mark_received_refusals(owner_client, order_factory, headers):
    ret = two_of(order_factory)
    ri = ret.items[0]
    before = snapshot()
    cases = [(receive_data(ret, quantity="3"), f'id="quantity-{ri.id}-{ret.id}-error">Enter 0 to 2.'),
             (receive_data(ret, quantity="0"), "Enter the quantity received of at least one item."),
             (receive_data(ret, condition=""), f'id="condition-{ri.id}-{ret.id}-error">Choose the condition'),
             (receive_data(ret, quantity="x"), "Not a valid integer value")]
    for data, message in cases:
        response = owner_client.post(f"/returns/{ret.id}/receive", headers=headers, data=data)
        assert response.status_code == 422 and message in response.text, message
    response = owner_client.post(f"/returns/{ret.id}/receive", headers=headers,
                                 data=receive_data(ret, version=ret.version + 3))
    assert response.status_code == 409 and "changed by someone else" in response.text
    assert snapshot() == before


def test_received_quantities_only_grow(app, order_factory):
    ret = two_of(order_factory)
    ri_id = ret.items[0].id
    workflow.mark_received(ret, None, {ri_id: workflow.Received(2, "Sellable")})
    with pytest.raises(workflow.InvalidInput, match="2 already marked received"):
        workflow.mark_received(ret, None, {ri_id: workflow.Received(1, "Sellable")})


@pytest.mark.parametrize("status", ["Pending Authorization", "Completed", "Closed"])
def test_only_authorized_requests_are_marked_received(owner_client, staff_client, order_factory, status):
    ret = two_of(order_factory, status=status, timing="now")
    assert "Mark received" not in buttons(row_of(owner_client.get("/returns").text, ret))
    for client in (owner_client, staff_client):
        response = client.post(f"/returns/{ret.id}/receive", data=receive_data(ret))
        assert response.status_code == 409 and f"This return request is {status}: Mark received is not possible" \
            in response.text


def test_refund_after_receipt_waits_for_the_item(owner_client, order_factory):
    ret = two_of(order_factory)
    row = row_of(owner_client.get("/returns").text, ret)
    assert buttons(row) == ["Mark received", "Close request", "Contact buyer"]
    before = snapshot()
    response = owner_client.post(f"/returns/{ret.id}/refund", data={
        "kind": "full", "reason": "Customer Return", "idempotency_key": "early", "submit_full": "1"})
    assert response.status_code == 409 and "refunded after the item is received: Mark received first" in response.text
    with pytest.raises(workflow.NotRefundable):
        workflow.refund(ret.order, None, workflow.RefundInput(kind="full", reason="Customer Return",
                                                              idempotency_key="k", amounts={}), return_request=ret)
    assert snapshot() == before
    workflow.mark_received(ret, None, {ret.items[0].id: workflow.Received(1, "Sellable")})
    assert "Issue refund" in buttons(row_of(owner_client.get("/returns").text, ret))
    # The refund form suggests what came back: 1 of 2 at $40.00 -> $20.00, as a partial refund.
    page = owner_client.get(f"/returns/{ret.id}/refund").text
    item = ret.order.items[0]
    assert f'name="item-{item.id}-item" placeholder="0.00" type="text" value="20.00"' in page
    assert re.search(r"<input checked[^>]*value=\"partial\"", page) and "Received 1 of 2 · Sellable" in page


# ---------------------------------------------------------------- auto-close


def test_rows_show_when_they_close(owner_client, order_factory, frozen_now):
    ret = two_of(order_factory)
    assert ret.closes_at == ret.authorized_at + timedelta(days=30)
    row = row_of(owner_client.get("/returns").text, ret)
    assert "Closes on" in row
    workflow.save_settings(close_returns_after_days=5)
    db.session.expire_all()
    assert db.session.get(ReturnRequest, ret.id).closes_at == ret.authorized_at + timedelta(days=5)


def test_close_stale_returns(app, order_factory, frozen_now):
    start = clock.now()
    stale, fresh, received = (two_of(order_factory) for _ in range(3))
    pending = two_of(order_factory, status="Pending Authorization")
    workflow.mark_received(received, None, {received.items[0].id: workflow.Received(1, "Sellable")})
    workflow.save_settings(close_returns_after_days=10)
    db.session.execute(ReturnRequest.__table__.update().where(ReturnRequest.id == fresh.id)
                       .values(authorized_at=start + timedelta(days=2)))
    db.session.commit()
    frozen_now(start + timedelta(days=10, minutes=1))
    result = app.test_cli_runner().invoke(args=["close-stale-returns"])
    assert result.exit_code == 0 and "Closed 1 return request: item not returned." in result.output
    db.session.expire_all()
    statuses = [db.session.get(ReturnRequest, r.id).status for r in (stale, fresh, received, pending)]
    assert statuses == ["Closed", "Authorized", "Authorized", "Pending Authorization"]
    closed = db.session.get(ReturnRequest, stale.id)
    assert closed.close_reason == "Item not returned" and closed.closed_at == start + timedelta(days=10, minutes=1)
    event = db.session.scalar(select(OrderEvent).where(OrderEvent.action == "close_return"))
    assert (event.return_request_id, event.user_id, event.details["reason"]) == (stale.id, None, "Item not returned")
    message = db.session.scalar(select(Message).where(Message.subject == "Your return request"))
    assert message.return_request_id == stale.id and "was closed: the item was not received" in message.body
    before = snapshot()
    again = app.test_cli_runner().invoke(args=["close-stale-returns"])
    assert again.exit_code == 0 and "Closed 0 return requests" in again.output
    assert snapshot() == before


def test_auto_close_emails_the_buyer(app, order_factory, frozen_now, smtp):
    ret = two_of(order_factory)
    frozen_now(clock.now() + timedelta(days=31))
    assert app.test_cli_runner().invoke(args=["close-stale-returns"]).exit_code == 0
    assert len(smtp.received) == 1 and smtp.received[0][0] == [ret.order.buyer_email]
    assert "Subject: Your return request" in smtp.received[0][1]
    assert db.session.scalar(select(Message).where(Message.subject == "Your return request")).emailed_at is not None


def test_zero_days_closes_at_the_next_run(app, order_factory, frozen_now):
    ret = two_of(order_factory)
    workflow.save_settings(close_returns_after_days=0)
    frozen_now(clock.now() + timedelta(seconds=1))
    assert len(workflow.close_stale_returns()) == 1
    db.session.refresh(ret)
    assert ret.status == "Closed"


def test_the_days_are_a_setting(owner_client):
    page = owner_client.get("/settings").text
    assert "Close returns after (days)" in page and 'name="close_returns_after_days" type="number" value="30"' in page
    response = owner_client.post("/settings", data={"store_name": "S", "timezone": "UTC", "handling_hours": "48",
                                                    "slip_size": "letter", "ship_from_country": "US",
                                                    "return_concession_extra": "10",
                                                    "close_returns_after_days": "-1"})
    assert response.status_code == 422 and "Between 0 and 365 days." in response.text


@pytest.mark.parametrize("round_", range(4))
def test_auto_close_racing_mark_received_has_one_outcome(app, order_factory, frozen_now, round_):
    """close-stale-returns and Mark received at the same moment: either the request closed and the receipt was
    refused, or the receipt went in and the request stays open; never both."""
    ret = two_of(order_factory)
    later = clock.now() + timedelta(days=31)
    frozen_now(later)
    barrier = threading.Barrier(2)
    results = {}

    def close():
        with app.app_context():
            barrier.wait()
            results["close"] = len(workflow.close_stale_returns())
            db.session.remove()

    def receive():
        with app.app_context():
            r = db.session.get(ReturnRequest, ret.id)
            items = {ri.id: workflow.Received(1, "Sellable") for ri in r.items}
            barrier.wait()
            try:
                workflow.mark_received(r, None, items)
                results["receive"] = "ok"
            except workflow.WorkflowError as exc:
                results["receive"] = exc.message
            db.session.remove()

    threads = [threading.Thread(target=close), threading.Thread(target=receive)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    db.session.rollback()  # a fresh snapshot: the threads committed meanwhile
    final = db.session.get(ReturnRequest, ret.id)
    actions = db.session.scalars(select(OrderEvent.action).where(OrderEvent.return_request_id == ret.id)).all()
    if results["receive"] == "ok":
        assert results["close"] == 0 and final.status == "Authorized" and final.items[0].received_quantity == 1
        assert "close_return" not in actions
    else:
        assert results["close"] == 1 and final.status == "Closed" and final.items[0].received_quantity == 0
        assert "is Closed: Mark received is not possible" in results["receive"] and "mark_received" not in actions


# ---------------------------------------------------------------- return label and the authorization e-mail

PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"


@pytest.mark.parametrize("headers", [{}, HX], ids=["no-js", "htmx"])
def test_authorize_with_a_return_label_emails_it(owner_client, order_factory, smtp, headers):
    ret = new_return(order_factory("Shipped"))
    page = owner_client.get(f"/returns/{ret.id}/authorize", headers=headers).text
    assert "Return label (PDF)" in page and 'enctype="multipart/form-data"' in page
    response = owner_client.post(f"/returns/{ret.id}/authorize", headers=headers, content_type="multipart/form-data",
                                 data={"rma_number": "RMA-LBL-1", "return_address": "9 Dock St\nReno, NV",
                                       "refund_timing": "after_receipt", "version": ret.version,
                                       "label": (io.BytesIO(PDF), "label.pdf")})
    assert response.status_code == (200 if headers else 303), response.text
    db.session.refresh(ret)
    assert ret.label_pdf == PDF and ret.has_label
    (recipients, content, committed), = smtp.received
    assert recipients == [ret.order.buyer_email] and committed == 1
    assert "RMA number: RMA-LBL-1" in content and "9 Dock St" in content
    assert 'filename="return-label-RMA-LBL-1.pdf"' in content and "application/pdf" in content
    label = owner_client.get(f"/returns/{ret.id}/label.pdf")
    assert label.status_code == 200 and label.data == PDF
    assert "Return label" in owner_client.get(f"/orders/{ret.order.order_id}").text


@pytest.mark.parametrize("headers", [{}, HX], ids=["no-js", "htmx"])
def test_a_return_label_must_be_a_small_pdf(owner_client, order_factory, headers):
    ret = new_return(order_factory("Shipped"))
    before = snapshot()
    for name, data, message in (("label.png", b"\x89PNG....", "must be a PDF file"),
                                ("label.pdf", b"GIF89a", "must be a PDF file")):
        response = owner_client.post(f"/returns/{ret.id}/authorize", headers=headers,
                                     content_type="multipart/form-data",
                                     data={"rma_number": "RMA-LBL-2", "return_address": "9 Dock St",
                                           "refund_timing": "now", "label": (io.BytesIO(data), name)})
        assert response.status_code == 422 and message in response.text, name
    with pytest.raises(workflow.InvalidInput, match="too large: at most 2 MB"):
        workflow.authorize_return(ret, None, "RMA-LBL-3", "9 Dock St", label_pdf=b"%PDF-" + b"0" * 2 * 1024 * 1024)
    assert snapshot() == before
    assert owner_client.get(f"/returns/{ret.id}/label.pdf").status_code == 404


@pytest.mark.parametrize("headers", [{}, HX], ids=["no-js", "htmx"])
def test_buy_return_label_with_the_demo_provider(owner_client, order_factory, smtp, headers):
    ret = new_return(order_factory("Shipped"))
    data = {"rma_number": "RMA-BUY-1", "return_address": "9 Dock St", "refund_timing": "now", "buy_label": "1",
            "version": ret.version}
    before = snapshot()
    response = owner_client.post(f"/returns/{ret.id}/authorize", headers=headers, data=data)
    assert response.status_code == 422 and "Save the parcel preset (weight and size) in Settings" in response.text
    assert snapshot() == before
    workflow.save_settings(parcel_weight="2", parcel_weight_unit="lb", parcel_length="10", parcel_width="8",
                           parcel_height="4", ship_from_name="Lotus Home", ship_from_street1="1200 Industrial Way",
                           ship_from_city="Reno", ship_from_state="NV", ship_from_zip="89502")
    response = owner_client.post(f"/returns/{ret.id}/authorize", headers=headers, data=data)
    assert response.status_code == (200 if headers else 303), response.text
    db.session.refresh(ret)
    assert ret.status == "Authorized" and ret.label_pdf.startswith(b"%PDF")
    (_, content, _), = smtp.received
    assert 'filename="return-label-RMA-BUY-1.pdf"' in content

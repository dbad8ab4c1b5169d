"""Manage Returns: the list, Create return request, Authorize, Issue refund, Close, Contact buyer, and e-mail."""
import re
import socket
from decimal import Decimal

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import create_engine, func, select, text

from conftest import free_port, item_fields
from seller import workflow
from seller.extensions import db
from seller.models import Message, Order, OrderEvent, Refund, ReturnRequest, Settings

HX = {"HX-Request": "true"}
REASON = workflow.RETURN_REASONS[4]


def new_return(order, quantity=1, status="Pending Authorization", timing="now"):
    ret = workflow.create_return(order, None, REASON, {order.items[0].id: quantity})
    if status in ("Authorized", "Completed"):
        workflow.authorize_return(ret, None, workflow.new_rma_number(), "1 Return Rd", timing)
    if status == "Completed":
        workflow.refund(order, None, workflow.RefundInput(kind="full", reason="Customer Return",
                                                          idempotency_key=f"done-{ret.id}", amounts={}),
                        return_request=ret)
    if status == "Closed":
        workflow.close_return(ret, None, "Buyer withdrew the request")
    db.session.refresh(ret)
    assert ret.status == status
    return ret


def snapshot():
    """Every return request, refund, message and history entry, read fresh."""
    db.session.rollback()
    db.session.expire_all()
    returns = db.session.execute(select(ReturnRequest.id, ReturnRequest.status, ReturnRequest.version,
                                        ReturnRequest.rma_number).order_by(ReturnRequest.id)).all()
    counts = [db.session.scalar(select(func.count()).select_from(m)) for m in (Refund, Message, OrderEvent)]
    orders = db.session.execute(select(Order.id, Order.version, Order.refunded_cents)).all()
    return returns, counts, orders


def row_of(html, ret):
    match = re.search(rf'<tr id="return-{ret.id}".*?</tr>', html, re.S)
    assert match, html
    return match.group(0)


def buttons(row):
    return re.findall(r'<button type="submit" class="btn[^"]*">([^<]+)</button>', row)


# ---------------------------------------------------------------- the list


def test_manage_returns_lists_requests_by_status(owner_client, order_factory):
    made = {status: new_return(order_factory("Shipped", items=[item_fields(quantity=2)]), status=status)
            for status in ("Pending Authorization", "Authorized", "Completed", "Closed")}
    page = owner_client.get("/returns")
    assert page.status_code == 200 and "Manage Returns" in page.text
    for name, n in (("All", 4), ("Pending Authorization", 1), ("Authorized", 1), ("Completed", 1), ("Closed", 1)):
        assert re.search(rf'>{name} <span class="count">{n}</span>', page.text), name
    expected = {"Pending Authorization": ["Authorize request", "Issue refund", "Close request", "Contact buyer"],
                "Authorized": ["Mark received", "Issue refund", "Close request", "Contact buyer"],
                "Completed": ["Contact buyer"], "Closed": ["Contact buyer"]}
    for status, ret in made.items():
        row = row_of(page.text, ret)
        assert f'data-order-id="{ret.order.order_id}"' in row and ret.order.buyer_name in row
        assert f"1 ×</span> {ret.order.items[0].product_name}" in row and REASON.replace("'", "&#39;") in row
        assert status in row and buttons(row) == expected[status]
        if ret.rma_number:
            assert ret.rma_number in row
    tab = owner_client.get("/returns?status=Authorized").text
    assert f'id="return-{made["Authorized"].id}"' in tab
    assert f'id="return-{made["Closed"].id}"' not in tab
    assert 'aria-current="page">Authorized' in tab


def test_staff_sees_returns_but_only_contact_buyer(staff_client, order_factory):
    ret = new_return(order_factory("Shipped"))
    page = staff_client.get("/returns")
    assert page.status_code == 200
    assert buttons(row_of(page.text, ret)) == ["Contact buyer"]
    assert "Create return request for order" not in page.text


def test_an_empty_tab_says_so(owner_client):
    assert "No return requests with status Closed" in owner_client.get("/returns?status=Closed").text


def test_pages_of_fifty(owner_client, order_factory, monkeypatch):
    from seller.returns import routes
    monkeypatch.setattr(routes, "PER_PAGE", 2)
    made = [new_return(order_factory("Shipped")) for _ in range(3)]
    first = owner_client.get("/returns").text
    assert "Page 1 of 2" in first and f'id="return-{made[2].id}"' in first and f'id="return-{made[0].id}"' not in first
    for page in ("2", "99999999999999999999999", "x"):
        response = owner_client.get(f"/returns?page={page}")
        assert response.status_code == 200
    assert f'id="return-{made[0].id}"' in owner_client.get("/returns?page=2").text


@pytest.mark.parametrize("method, path, staff_status", [
    ("get", "/returns", 200), ("get", "/returns/new/{order_id}", 403), ("post", "/returns/new/{order_id}", 403),
    ("get", "/returns/{ret}/authorize", 403), ("post", "/returns/{ret}/authorize", 403),
    ("get", "/returns/{ret}/refund", 403), ("post", "/returns/{ret}/refund", 403),
    ("get", "/returns/{ret}/close", 403), ("post", "/returns/{ret}/close", 403),
    ("get", "/returns/{ret}/contact", 200), ("get", "/orders/{order_id}/contact", 200),
    ("get", "/returns/new?order_id={order_id}", 403),
])
def test_roles(staff_client, order_factory, method, path, staff_status):
    ret = new_return(order_factory("Shipped"))
    before = snapshot()
    url = path.format(order_id=ret.order.order_id, ret=ret.id)
    response = getattr(staff_client, method)(url, data={"reason": "Other", "rma_number": "RMA-1", "return_address": "x",
                                                        "subject": "s", "message": "m"})
    assert response.status_code == staff_status
    assert snapshot() == before


@pytest.mark.parametrize("target", ["//evil.example/returns", "https://evil.example/returns", "/returns\\..",
                                    "javascript:alert(1)"])
def test_next_never_leaves_the_site(owner_client, order_factory, target):
    ret = new_return(order_factory("Shipped"))
    response = owner_client.post(f"/returns/{ret.id}/close", data={"reason": "Other", "next": target})
    assert response.status_code == 303 and response.headers["Location"] == "/returns"


def test_signed_out_people_are_sent_to_sign_in(client, order_factory):
    ret = new_return(order_factory("Shipped"))
    assert client.get("/returns").status_code == 302
    assert client.post(f"/returns/{ret.id}/close", headers=HX).status_code == 401


# ---------------------------------------------------------------- Create return request


def test_the_create_return_form(owner_client, order_factory):
    order = order_factory("Shipped", items=[item_fields(sku="A", quantity=3), item_fields(sku="B", quantity=1)])
    new_return(order, quantity=2)
    page = owner_client.get(f"/returns/new/{order.order_id}")
    assert page.status_code == 200
    a, b = order.items
    assert re.search(rf'id="quantity-{a.id}-{order.id}" max="1" min="0"', page.text)
    assert re.search(rf'id="quantity-{b.id}-{order.id}" max="1" min="0"', page.text)
    assert "<legend>A</legend>" in page.text and "Return reason" in page.text
    options = re.findall(r'<option[^>]*value="([^"]*)"', page.text.split('name="reason"')[1].split("</select>")[0])
    assert [o.replace("&#39;", "'") for o in options] == ["", *workflow.RETURN_REASONS]
    assert '>Create return request</button>' in page.text


@pytest.mark.parametrize("headers", [{}, HX], ids=["no-js", "htmx"])
def test_create_a_return_request(owner_client, owner, order_factory, headers):
    order = order_factory("Shipped", items=[item_fields(quantity=3)])
    item = order.items[0]
    response = owner_client.post(f"/returns/new/{order.order_id}", headers=headers,
                                 data={"reason": REASON, f"quantity-{item.id}": "2", "next": "/orders"})
    ret = db.session.scalar(select(ReturnRequest))
    assert (ret.status, ret.reason, [(i.order_item_id, i.quantity) for i in ret.items], ret.created_by_id) == (
        "Pending Authorization", REASON, [(item.id, 2)], owner.id)
    if headers:
        assert response.status_code == 200 and f'<tr id="order-{order.id}"' in response.text
        assert response.headers["HX-Retarget"] == f"#order-{order.id}"
    else:
        assert response.status_code == 303 and response.headers["Location"] == "/orders"
    event = db.session.scalar(select(OrderEvent).where(OrderEvent.action == "create_return"))
    assert event.details == {"reason": REASON, "items": [{"sku": "SKU-1", "quantity": 2}]}
    assert event.return_request_id == ret.id


@pytest.mark.parametrize("headers", [{}, HX], ids=["no-js", "htmx"])
def test_create_return_refusals(owner_client, order_factory, headers):
    order = order_factory("Shipped", items=[item_fields(quantity=2)])
    item = order.items[0]
    new_return(order, quantity=1)
    before = snapshot()
    url = f"/returns/new/{order.order_id}"
    quantity, reason = f'id="quantity-{item.id}-{order.id}-error">', f'id="reason-{order.id}-error">'
    cases = [({"reason": REASON, f"quantity-{item.id}": "2"}, quantity + "Enter 0 to 1."),
             ({"reason": REASON, f"quantity-{item.id}": "-1"}, quantity + "Enter 0 to 1."),
             ({"reason": REASON, f"quantity-{item.id}": "x"}, quantity),
             ({"reason": REASON, f"quantity-{item.id}": "0"}, "Enter the quantity of at least one item"),
             ({"reason": "", f"quantity-{item.id}": "1"}, reason + "Choose a return reason."),
             ({"reason": "Bored", f"quantity-{item.id}": "1"}, reason)]
    for data, message in cases:
        response = owner_client.post(url, data=data, headers=headers)
        assert response.status_code == 422, data
        assert message in response.text, data
    assert snapshot() == before


def test_quantities_held_by_closed_requests_can_be_returned_again(app, order_factory):
    order = order_factory("Shipped", items=[item_fields(quantity=1)])
    ret = new_return(order)
    assert workflow.returnable_quantities(order) == {order.items[0].id: 0}
    with pytest.raises(workflow.ReturnQuantityExceeded):
        workflow.create_return(order, None, REASON, {order.items[0].id: 1})
    workflow.close_return(ret, None, "Other")
    assert workflow.returnable_quantities(order) == {order.items[0].id: 1}


@pytest.mark.parametrize("status", ["Unshipped", "Canceled", "Pending"])
def test_returns_are_recorded_on_shipped_orders_only(owner_client, order_factory, status):
    order = order_factory(status)
    assert f"Order {order.order_id} is {status}: Create return request is not possible." in \
        owner_client.get(f"/returns/new/{order.order_id}").text
    before = snapshot()
    response = owner_client.post(f"/returns/new/{order.order_id}",
                                 data={"reason": REASON, f"quantity-{order.items[0].id}": "1"})
    assert response.status_code == 409 and f"Order {order.order_id} is {status}: " in response.text
    assert snapshot() == before


def test_find_an_order_to_create_a_return_for(owner_client, order_factory):
    order = order_factory("Shipped")
    response = owner_client.get(f"/returns/new?order_id=+{order.order_id}+")
    assert response.status_code == 303 and response.headers["Location"].startswith(f"/returns/new/{order.order_id}")
    response = owner_client.get("/returns/new?order_id=999-nope", follow_redirects=True)
    assert "No order &#39;999-nope&#39; was found" in response.text


# ---------------------------------------------------------------- Authorize request


def test_the_authorize_form(owner_client, order_factory):
    db.session.add(Settings(id=1, return_address="Returns Dept\n1 Main St\nReno, NV"))
    db.session.commit()
    ret = new_return(order_factory("Shipped"))
    page = owner_client.get(f"/returns/{ret.id}/authorize").text
    assert re.search(r'name="rma_number" type="text" value="RMA-[0-9A-F]{8}"', page)
    assert "Returns Dept\n1 Main St\nReno, NV</textarea>" in page
    for label in ("RMA number", "Return address", "Refund now", "Refund after the item is received",
                  '>Authorize request</button>', ret.order.items[0].sku):
        assert label in page, label
    assert "Items to be returned" in page


@pytest.mark.parametrize("headers", [{}, HX], ids=["no-js", "htmx"])
def test_authorize_a_request(owner_client, owner, order_factory, headers):
    ret = new_return(order_factory("Shipped"))
    response = owner_client.post(f"/returns/{ret.id}/authorize", headers=headers, data={
        "rma_number": "rma-2024-07", "return_address": " 9 Dock St ", "refund_timing": "after_receipt",
        "version": ret.version, "next": "/returns?status=Pending+Authorization"})
    db.session.refresh(ret)
    assert (ret.status, ret.rma_number, ret.return_address, ret.refund_timing) == (
        "Authorized", "RMA-2024-07", "9 Dock St", "after_receipt")
    if headers:
        assert response.status_code == 200
        assert response.text.lstrip().startswith(f'<tr id="return-{ret.id}"')
        assert 'id="return-tabs" class="tabs" aria-label="Return status" hx-swap-oob="true"' in response.text
        assert '>Authorized <span class="count">1</span>' in response.text
        assert "authorized with RMA RMA-2024-07" in response.text
        assert response.headers["HX-Retarget"] == f"#return-{ret.id}"
        assert "Authorize request" not in row_of(response.text, ret)
    else:
        assert response.status_code == 303
        assert response.headers["Location"] == "/returns?status=Pending+Authorization"
    event = db.session.scalar(select(OrderEvent).where(OrderEvent.action == "authorize_return"))
    assert event.user_id == owner.id and event.details["rma_number"] == "RMA-2024-07"


def test_authorize_and_refund_now_opens_the_refund_page(owner_client, order_factory):
    ret = new_return(order_factory("Shipped"))
    response = owner_client.post(f"/returns/{ret.id}/authorize", data={
        "rma_number": "RMA-NOW-1", "return_address": "x", "refund_timing": "now", "version": ret.version})
    assert response.status_code == 303 and response.headers["Location"].startswith(f"/returns/{ret.id}/refund")
    page = owner_client.get(response.headers["Location"]).text
    assert '<option selected value="Customer Return">' in page and "Submit Full Refund" in page

    other = new_return(order_factory("Shipped"))
    response = owner_client.post(f"/returns/{other.id}/authorize", headers=HX, data={
        "rma_number": "RMA-NOW-2", "return_address": "x", "refund_timing": "now", "version": other.version})
    assert response.status_code == 200  # the row swapped, and its panel loads the refund form at once
    assert response.headers["HX-Retarget"] == f"#return-{other.id}"
    assert response.text.lstrip().startswith(f'<tr id="return-{other.id}" data-order-id="{other.order.order_id}"')
    panel = re.search(rf'<tr id="return-{other.id}-panel"[^>]*>', response.text).group(0)
    assert f'hx-get="/returns/{other.id}/refund?next=' in panel and 'hx-trigger="load"' in panel
    form = owner_client.get(f"/returns/{other.id}/refund", headers=HX).text
    assert form.lstrip().startswith(f'<tr id="return-{other.id}-panel"') and "Submit Full Refund" in form


@pytest.mark.parametrize("headers", [{}, HX], ids=["no-js", "htmx"])
def test_authorize_refusals(owner_client, order_factory, headers):
    taken = new_return(order_factory("Shipped"), status="Authorized")
    ret = new_return(order_factory("Shipped"))
    before = snapshot()
    rma, address = f'id="rma_number-{ret.id}-error">', f'id="return_address-{ret.id}-error">'
    cases = [({"rma_number": taken.rma_number.lower()}, 422, rma + "That RMA number is already used"),
             ({"rma_number": "!!"}, 422, rma + "Use 3 to 40 letters"),
             ({"rma_number": "R" * 41}, 422, rma),
             ({"return_address": "  "}, 422, address + "Enter the address"),
             ({"refund_timing": "never"}, 422, "Not a valid choice"),
             ({"version": ret.version + 5}, 409, "changed by someone else")]
    for change, status, message in cases:
        data = {"rma_number": "RMA-OK-1", "return_address": "x", "refund_timing": "after_receipt",
                "version": ret.version, **change}
        response = owner_client.post(f"/returns/{ret.id}/authorize", data=data, headers=headers)
        assert response.status_code == status, change
        assert message in response.text, change
    assert snapshot() == before


@pytest.mark.parametrize("status", ["Authorized", "Completed", "Closed"])
def test_only_pending_requests_can_be_authorized(owner_client, order_factory, status):
    ret = new_return(order_factory("Shipped"), status=status)
    before = snapshot()
    response = owner_client.post(f"/returns/{ret.id}/authorize", headers=HX,
                                 data={"rma_number": "RMA-AGAIN", "return_address": "x", "refund_timing": "now"})
    assert response.status_code == 409 and f"This return request is {status}" in response.text
    assert snapshot() == before


# ---------------------------------------------------------------- Issue refund


def test_issue_refund_defaults_to_customer_return(owner_client, order_factory):
    ret = new_return(order_factory("Shipped"), status="Authorized")
    page = owner_client.get(f"/returns/{ret.id}/refund")
    assert page.status_code == 200
    assert '<option selected value="Customer Return">' in page.text
    assert f"RMA {ret.rma_number}" in page.text and "Submit Partial Refund" in page.text
    panel = owner_client.get(f"/returns/{ret.id}/refund", headers=HX)
    assert panel.text.lstrip().startswith(f'<tr id="return-{ret.id}-panel"')


@pytest.mark.parametrize("headers", [{}, HX], ids=["no-js", "htmx"])
def test_a_full_refund_completes_the_request(owner_client, order_factory, headers):
    ret = new_return(order_factory("Shipped"), status="Authorized")
    page = owner_client.get(f"/returns/{ret.id}/refund").text
    key = re.search(r'name="idempotency_key" type="hidden" value="([^"]+)"', page).group(1)
    response = owner_client.post(f"/returns/{ret.id}/refund", headers=headers, data={
        "kind": "full", "reason": "Customer Return", "idempotency_key": key, "submit_full": "1",
        "next": "/returns?status=Authorized"})
    db.session.refresh(ret)
    assert ret.status == "Completed"
    refund = db.session.scalar(select(Refund))
    assert refund.return_request_id == ret.id and refund.total_cents == ret.order.paid_cents
    if headers:
        assert response.status_code == 200 and response.headers["HX-Retarget"] == f"#return-{ret.id}"
        row = row_of(response.text, ret)
        assert "Completed" in row and buttons(row) == ["Contact buyer"]
        assert '>Completed <span class="count">1</span>' in response.text
        assert f'<tr id="return-{ret.id}-panel" class="panel-row" hidden hx-swap-oob="true">' in response.text
    else:
        assert response.status_code == 303 and response.headers["Location"] == "/returns?status=Authorized"
    assert [e.action for e in db.session.get(Order, ret.order_id).events][-2:] == ["refund", "complete_return"]


def test_a_partial_refund_leaves_the_request_open(owner_client, order_factory):
    ret = new_return(order_factory("Shipped"), status="Authorized")
    item = ret.order.items[0]
    response = owner_client.post(f"/returns/{ret.id}/refund", headers=HX, data={
        "kind": "partial", "reason": "Customer Return", "idempotency_key": "p-1", "submit_partial": "1",
        f"item-{item.id}-item": "5.00"})
    assert response.status_code == 200
    row = row_of(response.text, ret)
    assert "Authorized" in row and "Refunded $5.41 of $27.05" in row
    assert buttons(row) == ["Mark received", "Issue refund", "Close request", "Contact buyer"]


def test_no_refund_from_a_closed_request(owner_client, order_factory):
    ret = new_return(order_factory("Shipped"), status="Closed")
    assert "This return request is Closed: Issue refund is not possible." in \
        owner_client.get(f"/returns/{ret.id}/refund").text
    before = snapshot()
    response = owner_client.post(f"/returns/{ret.id}/refund", headers=HX, data={
        "kind": "full", "reason": "Customer Return", "idempotency_key": "c-1", "submit_full": "1"})
    assert response.status_code == 409 and "This return request is Closed" in response.text
    assert snapshot() == before


# ---------------------------------------------------------------- Close request


def test_the_close_form(owner_client, order_factory):
    ret = new_return(order_factory("Shipped"))
    page = owner_client.get(f"/returns/{ret.id}/close").text
    options = re.findall(r'<option[^>]*value="([^"]*)"', page.split('name="reason"')[1].split("</select>")[0])
    assert options == ["", *workflow.CLOSE_REASONS]
    assert "Reason for closing" in page and "Message to buyer" in page and '>Close request</button>' in page


@pytest.mark.parametrize("headers", [{}, HX], ids=["no-js", "htmx"])
def test_close_a_request(owner_client, owner, order_factory, headers):
    ret = new_return(order_factory("Shipped"))
    response = owner_client.post(f"/returns/{ret.id}/close", headers=headers, data={
        "reason": "Buyer withdrew the request", "message": "Glad it works now!", "version": ret.version})
    db.session.refresh(ret)
    assert (ret.status, ret.close_reason, ret.close_message) == ("Closed", "Buyer withdrew the request",
                                                                 "Glad it works now!")
    message = db.session.scalar(select(Message))
    assert (message.body, message.return_request_id, message.sent_by_id) == ("Glad it works now!", ret.id, owner.id)
    if headers:
        row = row_of(response.text, ret)
        assert "Closed" in row and "Authorize request" not in row and buttons(row) == ["Contact buyer"]
        assert '>Closed <span class="count">1</span>' in response.text
    else:
        assert response.status_code == 303
        page = owner_client.get("/returns").text
        assert "Authorize request" not in row_of(page, ret)
    before = snapshot()
    again = owner_client.post(f"/returns/{ret.id}/authorize", headers=headers,
                              data={"rma_number": "RMA-LATE", "return_address": "x", "refund_timing": "now"})
    assert again.status_code == 409 and "This return request is Closed: Authorize request is not possible" in again.text
    assert owner_client.get(f"/returns/{ret.id}/close", headers=headers).status_code == 409
    assert owner_client.post(f"/returns/{ret.id}/close", headers=headers,
                             data={"reason": "Other"}).status_code == 409
    assert snapshot() == before


@pytest.mark.parametrize("headers", [{}, HX], ids=["no-js", "htmx"])
def test_close_refusals(owner_client, order_factory, headers):
    ret = new_return(order_factory("Shipped"))
    before = snapshot()
    response = owner_client.post(f"/returns/{ret.id}/close", headers=headers, data={"reason": ""})
    assert response.status_code == 422 and f'id="reason-{ret.id}-error">Choose a reason for closing.' in response.text
    response = owner_client.post(f"/returns/{ret.id}/close", headers=headers,
                                 data={"reason": "Other", "version": ret.version + 7})
    assert response.status_code == 409 and "changed by someone else" in response.text
    assert snapshot() == before


def test_a_refund_makes_an_open_close_form_stale(owner_client, order_factory):
    ret = new_return(order_factory("Shipped"), status="Authorized")
    close_page_version = ret.version
    workflow.refund(ret.order, None, workflow.RefundInput(kind="partial", reason="Customer Return",
                                                          idempotency_key="x", amounts={},
                                                          other_concession=Decimal("1.00")), return_request=ret)
    before = snapshot()
    response = owner_client.post(f"/returns/{ret.id}/close", data={"reason": "Other", "version": close_page_version})
    assert response.status_code == 409
    assert snapshot() == before


# ---------------------------------------------------------------- Contact buyer, and e-mail


@pytest.mark.parametrize("headers", [{}, HX], ids=["no-js", "htmx"])
def test_staff_contacts_the_buyer_about_a_return(staff_client, order_factory, headers):
    ret = new_return(order_factory("Shipped"))
    page = staff_client.get(f"/returns/{ret.id}/contact", headers=headers)
    assert page.status_code == 200 and f"Your return for order {ret.order.order_id}" in page.text
    response = staff_client.post(f"/returns/{ret.id}/contact", headers=headers,
                                 data={"subject": "Label", "message": "Your return label is attached."})
    assert response.status_code == (200 if headers else 303)
    message = db.session.scalar(select(Message))
    assert message.return_request_id == ret.id and message.order_id == ret.order_id
    if headers:
        assert response.headers["HX-Retarget"] == f"#return-{ret.id}"


class Inbox:
    """An aiosmtpd handler that keeps what it receives, and whether the message was already committed."""

    def __init__(self, db_url):
        self.received = []
        self.engine = create_engine(db_url)

    async def handle_DATA(self, server, session, envelope):
        with self.engine.connect() as conn:
            committed = conn.execute(text("SELECT count(*) FROM messages")).scalar()
        self.received.append((envelope.rcpt_tos, envelope.content.decode(), committed))
        return "250 Message accepted for delivery"


@pytest.fixture
def smtp(app, db_url):
    inbox = Inbox(db_url.replace("postgresql://", "postgresql+psycopg://", 1))
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    app.config.update(SMTP_HOST="127.0.0.1", SMTP_PORT=controller.port, SMTP_STARTTLS=False,
                      MAIL_FROM="desk@maple.example")
    yield inbox
    controller.stop()
    inbox.engine.dispose()


def test_a_message_is_emailed_after_it_is_kept(owner_client, order_factory, smtp):
    order = order_factory("Shipped", buyer_name="Ana Díaz", buyer_email="ana@marketplace.amazon.com")
    response = owner_client.post(f"/orders/{order.order_id}/contact", headers=HX,
                                 data={"subject": "Your mug", "message": "It left our warehouse today. ☕"})
    assert response.status_code == 200 and "Message e-mailed to Ana Díaz." in response.text
    assert len(smtp.received) == 1
    recipients, content, committed = smtp.received[0]
    assert recipients == ["ana@marketplace.amazon.com"] and committed == 1
    assert "Subject: Your mug" in content and "desk@maple.example" in content
    message = db.session.scalar(select(Message))
    assert message.emailed_at is not None


def test_closing_with_a_message_emails_it(owner_client, order_factory, smtp):
    ret = new_return(order_factory("Shipped"))
    owner_client.post(f"/returns/{ret.id}/close", data={"reason": "Replacement sent", "message": "A new one is on "
                                                                                                  "its way."})
    assert len(smtp.received) == 1 and "A new one is on its way." in smtp.received[0][1]
    assert db.session.scalar(select(Message)).emailed_at is not None


def test_closing_without_a_message_sends_nothing(owner_client, order_factory, smtp):
    ret = new_return(order_factory("Shipped"))
    assert owner_client.post(f"/returns/{ret.id}/close", data={"reason": "Other"}).status_code == 303
    assert smtp.received == [] and db.session.scalar(select(func.count()).select_from(Message)) == 0


@pytest.mark.parametrize("headers", [{}, HX], ids=["no-js", "htmx"])
def test_smtp_down_keeps_the_message_and_warns(app, owner_client, order_factory, headers):
    with socket.socket() as closed:  # a port nobody listens on
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    app.config.update(SMTP_HOST="127.0.0.1", SMTP_PORT=port, SMTP_STARTTLS=False)
    order = order_factory("Shipped")
    response = owner_client.post(f"/orders/{order.order_id}/contact", headers=headers,
                                 data={"subject": "Hello", "message": "Still there?"}, follow_redirects=not headers)
    assert response.status_code == 200
    assert "could not be e-mailed" in response.text
    message = db.session.scalar(select(Message))
    assert message.body == "Still there?" and message.emailed_at is None
    assert [e.action for e in db.session.get(Order, order.id).events][-1] == "contact_buyer"

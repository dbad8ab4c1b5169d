"""Refunds and Manage Returns in Chromium, against the real server (gunicorn, 2 workers, CSRF on)."""
import re

import pytest
from playwright.sync_api import expect
from sqlalchemy import func, select

from conftest import browser_sign_in, item_fields, make_order
from seller import workflow
from seller.extensions import db
from seller.models import Order, Refund, ReturnRequest

pytestmark = pytest.mark.browser


def refunds_of(order_id: int) -> list[Refund]:
    db.session.rollback()  # a fresh snapshot: the server committed meanwhile
    return db.session.scalars(select(Refund).where(Refund.order_id == order_id).order_by(Refund.id)).all()


def status_of(ret_id: int) -> str:
    db.session.rollback()
    return db.session.get(ReturnRequest, ret_id).status


def tab_count(status: str) -> int:
    db.session.rollback()
    return db.session.scalar(select(func.count()).select_from(ReturnRequest).where(ReturnRequest.status == status))


def shipped_return(status="Pending Authorization"):
    order = make_order("Shipped", items=[item_fields(sku="MUG-RED", price=2000, tax=165, shipping=499,
                                                     shipping_tax=41)])
    ret = workflow.create_return(order, None, "Wrong item was sent", {order.items[0].id: 1})
    if status == "Authorized":
        workflow.authorize_return(ret, None, workflow.new_rma_number(), "1 Dock St", "now")
    return order.id, ret.id


def test_a_partial_then_a_full_refund(page, live_server, live_db, browser_user):
    order = make_order("Shipped", items=[item_fields(sku="MUG-RED", price=2000, tax=165, shipping=499,
                                                     shipping_tax=41)])
    order_id, public_id = order.id, order.order_id
    browser_sign_in(page, live_server.url, *browser_user)
    page.goto(f"{live_server.url}/orders/{public_id}/refund")
    page.get_by_label("Partial Refund", exact=True).check()
    expect(page.get_by_role("button", name="Submit Full Refund")).to_be_hidden()
    group = page.get_by_role("group", name="MUG-RED")
    group.get_by_label("Item amount").fill("5.00")
    summary = page.get_by_role("region", name="Refund summary")
    expect(summary).to_contain_text("$5.41")  # 5.00 + 0.41 of tax, pro rata, from the server
    page.get_by_label("Reason for refund").select_option("Merchandise Not As Described")
    page.get_by_label("Other concession").fill("1.50")
    expect(summary.locator(".grand")).to_contain_text("$6.91")
    page.get_by_role("button", name="Submit Partial Refund").click()
    page.wait_for_url("**/orders")
    expect(page.locator("#flash")).to_contain_text("Partial refund of $6.91 (tax $0.41)")
    [partial] = refunds_of(order_id)
    assert (partial.kind, partial.total_cents, partial.reason) == ("partial", 691, "Merchandise Not As Described")

    page.goto(f"{live_server.url}/orders/{public_id}/refund")
    expect(page.get_by_role("group", name="MUG-RED")).to_contain_text("$5.00")  # refunded so far
    page.get_by_label("Reason for refund").select_option("Customer Return")
    expect(page.get_by_role("region", name="Refund summary").locator(".grand")).to_contain_text("$21.64")
    page.get_by_role("button", name="Submit Full Refund").click()
    page.wait_for_url("**/orders")
    expect(page.locator("#flash")).to_contain_text("Full refund of $21.64")
    assert [r.kind for r in refunds_of(order_id)] == ["partial", "full"]
    assert db.session.get(Order, order_id).refunded_cents == 2705


def test_authorize_then_issue_refund_completes_the_request(page, live_server, live_db, browser_user):
    order_id, ret_id = shipped_return()
    authorized, completed = tab_count("Authorized"), tab_count("Completed")
    browser_sign_in(page, live_server.url, *browser_user)
    page.goto(f"{live_server.url}/returns")
    row = page.locator(f"#return-{ret_id}")
    row.get_by_role("button", name="Authorize request").click()
    panel = page.locator(f"#return-{ret_id}-panel")
    expect(panel.get_by_label("RMA number")).to_have_value(re.compile(r"RMA-[0-9A-F]{8}"))
    panel.get_by_label("RMA number").fill("RMA-BROWSER-1")
    panel.get_by_label("Return address").fill("Returns, 1200 Industrial Way, Reno, NV 89502")
    panel.get_by_role("button", name="Authorize request").click()
    expect(row).to_contain_text("Authorized")
    expect(row).to_contain_text("RMA-BROWSER-1")
    expect(row.get_by_role("button", name="Authorize request")).to_have_count(0)
    expect(page.locator("#return-tabs")).to_contain_text(f"Authorized {authorized + 1}")
    assert page.url.endswith("/returns")  # swapped in place, no navigation

    # Refunded after the item is received: Mark received (staff's job too) first.
    expect(row.get_by_role("button", name="Issue refund")).to_have_count(0)
    row.get_by_role("button", name="Mark received").click()
    expect(panel.get_by_label("Quantity received")).to_have_value("1")
    panel.get_by_label("Condition").select_option("Damaged")
    panel.get_by_role("button", name="Mark received").click()
    expect(row).to_contain_text("Received 1 of 1 · Damaged")
    expect(panel).to_be_hidden()

    row.get_by_role("button", name="Issue refund").click()
    expect(panel.get_by_label("Reason for refund")).to_have_value("Customer Return")
    expect(panel.get_by_label("Item amount")).to_have_value("20.00")  # what came back, suggested
    panel.get_by_text("Full Refund", exact=True).click()
    panel.get_by_role("button", name="Submit Full Refund").click()
    expect(row).to_contain_text("Completed")
    expect(row).to_contain_text("Refunded $27.05 of $27.05")
    expect(panel).to_be_hidden()
    expect(page.locator("#return-tabs")).to_contain_text(f"Completed {completed + 1}")
    assert status_of(ret_id) == "Completed"


def test_close_request(page, live_server, live_db, browser_user):
    order_id, ret_id = shipped_return()
    browser_sign_in(page, live_server.url, *browser_user)
    page.goto(f"{live_server.url}/returns")
    row = page.locator(f"#return-{ret_id}")
    row.get_by_role("button", name="Close request").click()
    panel = page.locator(f"#return-{ret_id}-panel")
    panel.get_by_role("button", name="Close request").click()  # no reason yet: told so, nothing changes
    expect(panel.get_by_text("Choose a reason for closing.")).to_be_visible()
    panel.get_by_label("Reason for closing").select_option("Buyer withdrew the request")
    panel.get_by_label("Message to buyer").fill("Thanks for letting us know.")
    panel.get_by_role("button", name="Close request").click()
    expect(row).to_contain_text("Closed")
    expect(row.get_by_role("button", name="Authorize request")).to_have_count(0)
    expect(row.get_by_role("link")).to_have_text([re.compile(r"\d{3}-")])
    expect(row.get_by_role("button")).to_have_text(["Contact buyer"])
    assert status_of(ret_id) == "Closed"
    page.reload()
    expect(page.locator(f"#return-{ret_id}").get_by_role("button", name="Authorize request")).to_have_count(0)


def test_a_double_click_on_submit_full_refund_refunds_once(page, live_server, live_db, browser_user):
    order_id, ret_id = shipped_return("Authorized")
    other = make_order("Shipped")
    other_id, other_public = other.id, other.order_id
    browser_sign_in(page, live_server.url, *browser_user)
    requests = []
    page.on("request", lambda r: r.method == "POST" and "/refund" in r.url and not r.url.endswith("/preview")
            and requests.append(r.url))

    # In the list, with htmx: the buttons are disabled while the request runs.
    page.goto(f"{live_server.url}/returns")
    page.locator(f"#return-{ret_id}").get_by_role("button", name="Issue refund").click()
    page.locator(f"#return-{ret_id}-panel").get_by_role("button", name="Submit Full Refund").dblclick()
    expect(page.locator(f"#return-{ret_id}")).to_contain_text("Completed")
    assert len(refunds_of(order_id)) == 1

    # As a page of its own (a plain form).
    page.goto(f"{live_server.url}/orders/{other_public}/refund")
    page.get_by_label("Reason for refund").select_option("Pricing Error")
    page.get_by_role("button", name="Submit Full Refund").dblclick()
    page.wait_for_url("**/orders")
    [refund] = refunds_of(other_id)
    assert refund.kind == "full" and refund.total_cents == 2705
    assert len(requests) == 2, requests


def test_refund_order_opens_under_its_row_in_manage_orders(page, live_server, live_db, browser_user):
    order = make_order("Shipped", items=[item_fields(sku="MUG-RED", price=2000, tax=165, shipping=499,
                                                     shipping_tax=41)])
    order_id, public_id, row_id = order.id, order.order_id, f"order-{order.id}"
    browser_sign_in(page, live_server.url, *browser_user)
    page.goto(f"{live_server.url}/orders?q={public_id}")
    page.evaluate("window.notReloaded = true")
    page.locator(f"#{row_id}").get_by_role("button", name="Refund order").click()
    panel = page.locator(f"#{row_id}-panel")
    expect(panel.get_by_role("button", name="Submit Full Refund")).to_be_visible()
    panel.get_by_label("Partial Refund", exact=True).check()
    panel.get_by_role("group", name="MUG-RED").get_by_label("Item amount").fill("5.00")
    panel.get_by_label("Reason for refund").select_option("Pricing Error")
    panel.get_by_role("button", name="Submit Partial Refund").click()
    expect(page.locator("#flash")).to_contain_text("Partial refund of $5.41")
    expect(panel).to_be_hidden()
    assert page.evaluate("window.notReloaded") is True  # the row was swapped in place
    assert [r.total_cents for r in refunds_of(order_id)] == [541]

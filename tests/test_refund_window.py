"""The refund window (contract §13): a new refund is Pending for Settings' Refund window (hours), Cancel refund undoes
it exactly meanwhile, then it is final."""
import re
import threading
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from conftest import item_fields
from seller import checks, clock, workflow
from seller.extensions import db
from seller.models import Order, OrderEvent, Refund, ReturnRequest
from test_refund_races import check_money
from test_returns import HX, new_return, snapshot


def full(key="k"):
    return workflow.RefundInput(kind="full", reason="Customer Return", idempotency_key=key, amounts={})


def partial(order, key, cents):
    item = order.items[0]
    return workflow.RefundInput(kind="partial", reason="Pricing Error", idempotency_key=key,
                                amounts={item.id: (Decimal(cents) / 100, Decimal(0))},
                                other_concession=Decimal("1.00"))


def state(order_pk):
    """What a refund changes: the order's and its items' refunded amounts, the refunds' and returns' statuses."""
    db.session.rollback()
    order = db.session.get(Order, order_pk)
    return (order.refunded_cents, order.return_concession_cents, order.other_concession_cents,
            [(i.refunded_item_cents, i.refunded_item_tax_cents, i.refunded_shipping_cents,
              i.refunded_shipping_tax_cents) for i in order.items],
            [r.status for r in order.returns])


def cancel_button(html):
    return "Cancel refund</button>" in html


# ---------------------------------------------------------------- Pending, then final


def test_a_new_refund_is_pending_for_the_window(owner_client, order_factory):
    order = order_factory("Shipped")
    made, _ = workflow.refund(order, None, full())
    assert made.status == "pending" and made.final_at == made.created_at + timedelta(hours=2)
    assert made.is_pending() and made.shown_status == "Pending"
    db.session.refresh(order)
    assert order.refunded_cents == order.paid_cents  # it reserves the money: nothing is left to refund
    page = owner_client.get(f"/orders/{order.order_id}").text
    assert "Pending" in page and "until" in page and cancel_button(page)
    row = owner_client.get("/orders?status=Shipped").text
    assert cancel_button(row)
    assert "This order has been refunded in full" in owner_client.get(f"/orders/{order.order_id}/refund").text


def test_a_zero_window_makes_refunds_final_at_once(owner_client, order_factory):
    workflow.save_settings(refund_window_hours=0)
    order = order_factory("Shipped")
    made, _ = workflow.refund(order, None, full())
    assert made.status == "final" and not made.is_pending()
    page = owner_client.get(f"/orders/{order.order_id}").text
    assert "Final" in page and not cancel_button(page)
    response = owner_client.post(f"/orders/{order.order_id}/refund/cancel", data={"refund_id": made.id})
    assert response.status_code == 409 and "No refund of this order is pending" in response.text


def test_when_the_window_ends_the_refund_is_final(owner_client, order_factory, frozen_now):
    order = order_factory("Shipped")
    made, _ = workflow.refund(order, None, full())
    frozen_now(made.final_at)
    assert not made.is_pending()
    assert not cancel_button(owner_client.get(f"/orders/{order.order_id}").text)
    with pytest.raises(workflow.InvalidTransition, match="This refund is final"):
        workflow.cancel_refund(order, None, made.id)
    assert workflow.finalize_refunds() == [made.id]
    assert workflow.finalize_refunds() == []  # once
    db.session.refresh(made)
    assert made.status == "final"
    events = db.session.scalars(select(OrderEvent.action).where(OrderEvent.order_id == order.id)).all()
    assert events[-1] == "refund_final"
    assert "Refund final" in owner_client.get(f"/orders/{order.order_id}").text


def test_the_order_list_drops_cancel_refund_when_the_window_ends(owner_client, order_factory, frozen_now):
    order = order_factory("Shipped")
    made, _ = workflow.refund(order, None, full())
    assert cancel_button(owner_client.get("/orders?status=Shipped").text)
    assert cancel_button(owner_client.get("/orders?status=Shipped").text)  # the same list again (cached)
    frozen_now(made.final_at)
    assert not cancel_button(owner_client.get("/orders?status=Shipped").text)


def test_the_window_is_a_setting(owner_client):
    page = owner_client.get("/settings").text
    assert "Refund window (hours)" in page and 'name="refund_window_hours" type="number" value="2"' in page
    response = owner_client.post("/settings", data={"store_name": "S", "timezone": "UTC", "handling_hours": "48",
                                                    "slip_size": "letter", "ship_from_country": "US",
                                                    "return_concession_extra": "10", "refund_window_hours": "73"})
    assert response.status_code == 422 and "Between 0 and 72 hours." in response.text


# ---------------------------------------------------------------- Cancel refund


@pytest.mark.parametrize("headers", [{}, HX], ids=["no-js", "htmx"])
def test_cancel_refund_undoes_it_exactly(owner_client, owner, order_factory, headers):
    order = order_factory("Shipped", items=[item_fields(), item_fields(sku="SKU-2", price=1000)])
    ret = new_return(order, status="Authorized")
    before = state(order.id)
    first, _ = workflow.refund(order, None, partial(order, "p", 500))
    made, _ = workflow.refund(order, None, full("f"), return_request=ret)
    assert state(order.id)[-1] == ["Completed"]
    form = owner_client.get(f"/orders/{order.order_id}/refund/cancel", headers=headers).text
    assert "Refund to cancel" in form and re.search(rf'<input checked[^>]*value="{made.id}"', form)
    response = owner_client.post(f"/orders/{order.order_id}/refund/cancel", headers=headers,
                                 data={"refund_id": made.id, "version": order.version + 3})
    assert response.status_code == 409 and "changed by someone else" in response.text
    db.session.rollback()
    version = db.session.get(Order, order.id).version
    response = owner_client.post(f"/orders/{order.order_id}/refund/cancel", headers=headers,
                                 data={"refund_id": made.id, "version": version, "next": "/orders?status=Shipped"})
    if headers:
        assert response.status_code == 200 and response.headers["HX-Retarget"] == f"#order-{order.id}"
        assert "canceled: it can be refunded again" in response.text
    else:
        assert response.status_code == 303 and response.headers["Location"] == "/orders?status=Shipped"
    # What is left is exactly what it was after the first refund; the return is Authorized again.
    db.session.rollback()
    o = db.session.get(Order, order.id)
    assert o.refunded_cents == first.total_cents - first.other_concession_cents
    assert o.other_concession_cents == first.other_concession_cents
    assert state(order.id)[-1] == ["Authorized"] and db.session.get(ReturnRequest, ret.id).completed_at is None
    assert db.session.get(Refund, made.id).status == "canceled"
    assert db.session.get(Refund, made.id).canceled_by_id == owner.id
    workflow.cancel_refund(o, None, first.id)
    assert state(order.id) == before
    actions = db.session.scalars(select(OrderEvent.action).where(OrderEvent.order_id == order.id)).all()
    assert actions[-5:] == ["refund", "refund", "complete_return", "cancel_refund", "cancel_refund"]
    page = owner_client.get(f"/orders/{order.order_id}").text
    assert page.count("Canceled refund") == 2 and "Canceled" in page and not cancel_button(page)
    check_money(db.session.get(Order, order.id))  # canceled refunds no longer count
    assert checks.problems() == []  # flask check agrees


def test_cancel_refund_refusals(owner_client, staff_client, order_factory):
    order = order_factory("Shipped")
    made, _ = workflow.refund(order, None, full())
    other = order_factory("Shipped")
    theirs, _ = workflow.refund(other, None, full("o"))
    assert staff_client.get(f"/orders/{order.order_id}/refund/cancel").status_code == 403
    assert staff_client.post(f"/orders/{order.order_id}/refund/cancel", data={"refund_id": made.id}).status_code == 403
    assert not cancel_button(staff_client.get(f"/orders/{order.order_id}").text)
    before = state(order.id)
    response = owner_client.post(f"/orders/{order.order_id}/refund/cancel", data={"refund_id": theirs.id})
    assert response.status_code == 422 and "Not a valid choice" in response.text
    with pytest.raises(workflow.InvalidInput, match="not part of this order"):
        workflow.cancel_refund(db.session.get(Order, order.id), None, theirs.id)
    assert state(order.id) == before
    workflow.cancel_refund(db.session.get(Order, order.id), None, made.id)
    with pytest.raises(workflow.InvalidTransition, match="already canceled"):
        workflow.cancel_refund(db.session.get(Order, order.id), None, made.id)
    response = owner_client.post(f"/orders/{order.order_id}/refund/cancel", data={"refund_id": made.id})
    assert response.status_code == 409 and "No refund of this order is pending" in response.text


# ---------------------------------------------------------------- races (both databases)


def race(app, *jobs):
    """Run the jobs at the same moment, each in its own app context and session; their results, in order."""
    barrier = threading.Barrier(len(jobs))
    results = [None] * len(jobs)

    def run(n, job):
        with app.app_context():
            try:
                results[n] = job(barrier)
            except workflow.WorkflowError as exc:
                results[n] = exc
            finally:
                db.session.remove()
    threads = [threading.Thread(target=run, args=(n, job)) for n, job in enumerate(jobs)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    db.session.rollback()
    return results


def canceling(order_pk, refund_pk):
    def job(barrier):
        order = db.session.get(Order, order_pk)
        barrier.wait()
        return workflow.cancel_refund(order, None, refund_pk).id
    return job


def test_ten_simultaneous_cancels_cancel_once(app, order_factory):
    order = order_factory("Shipped")
    before = state(order.id)
    made, _ = workflow.refund(order, None, full())
    results = race(app, *[canceling(order.id, made.id) for _ in range(10)])
    assert sum(r == made.id for r in results) == 1, results
    assert all(isinstance(r, workflow.WorkflowError) for r in results if r != made.id)
    assert state(order.id) == before
    assert len(db.session.scalars(select(OrderEvent).where(OrderEvent.action == "cancel_refund")).all()) == 1


@pytest.mark.parametrize("round_", range(3))
def test_cancel_racing_a_new_refund_never_over_refunds(app, order_factory, round_):
    order = order_factory("Shipped")
    made, _ = workflow.refund(order, None, partial(order, "p", 1500))

    def refunding(barrier):
        o = db.session.get(Order, order.id)
        barrier.wait()
        return workflow.refund(o, None, full(f"f{round_}"))[0].id
    results = race(app, canceling(order.id, made.id), refunding)
    o = db.session.get(Order, order.id)
    check_money(o)
    assert o.refunded_cents <= o.paid_cents
    live = [r for r in db.session.scalars(select(Refund).where(Refund.order_id == order.id)) if r.status != "canceled"]
    assert sum(r.total_cents - r.return_concession_cents - r.other_concession_cents for r in live) == o.refunded_cents
    assert results[0] == made.id  # the cancel always goes through; the full refund took what was left then


@pytest.mark.parametrize("round_", range(3))
def test_cancel_racing_the_window_end_has_one_outcome(app, order_factory, frozen_now, round_):
    order = order_factory("Shipped")
    made, _ = workflow.refund(order, None, full())
    frozen_now(made.final_at - timedelta(microseconds=1))  # the cancel's last moment ...

    def finalizing(barrier):
        barrier.wait()
        return workflow.finalize_refunds(now=made.final_at)  # ... and the window's end, at once
    results = race(app, canceling(order.id, made.id), finalizing)
    final = db.session.get(Refund, made.id)
    if results[0] == made.id:
        assert results[1] == [] and final.status == "canceled" and state(order.id)[0] == 0
    else:
        assert results[1] == [made.id] and final.status == "final"
        assert "This refund is final" in results[0].message and state(order.id)[0] == order.paid_cents

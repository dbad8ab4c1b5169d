"""Refunds: the money rules in the workflow, and the refund page (Refund order) with and without htmx."""
import re
import threading
from decimal import Decimal

import pytest
from sqlalchemy import event, func, select

from conftest import item_fields
from seller import workflow
from seller.extensions import db
from seller.models import Message, Order, OrderEvent, Refund
from seller.money import AmountError, parse_amount

D = Decimal
HX = {"HX-Request": "true"}
# item_fields() defaults: item 20.00 + tax 1.65, shipping 4.99 + tax 0.41 = 27.05 paid.
PAID = 2705


def refund_input(kind="full", key="key-1", amounts=None, rc="0", oc="0", reason="Customer Return"):
    return workflow.RefundInput(kind=kind, reason=reason, idempotency_key=key, amounts=amounts or {},
                                return_concession=D(rc), other_concession=D(oc))


def state(order):
    """Everything a refund may change, read fresh from the database."""
    db.session.rollback()
    db.session.expire_all()
    o = db.session.get(Order, order.id)
    items = tuple((i.refunded_item_cents, i.refunded_item_tax_cents, i.refunded_shipping_cents,
                   i.refunded_shipping_tax_cents) for i in o.items)
    returns = tuple((r.status, r.version) for r in o.returns)
    return (o.status, o.version, o.refunded_cents, o.return_concession_cents, o.other_concession_cents, items,
            returns, db.session.scalar(select(func.count()).select_from(Refund)),
            db.session.scalar(select(func.count()).select_from(OrderEvent)))


def key_of(html):
    return re.search(r'name="idempotency_key" type="hidden" value="([^"]+)"', html).group(1)


def version_of(html):
    return int(re.search(r'name="version" type="hidden" value="(\d+)"', html).group(1))


def post_refund(client, order, headers=None, **fields):
    data = {"reason": "Customer Return", "idempotency_key": "k-" + order.order_id, **fields}
    return client.post(f"/orders/{order.order_id}/refund", data=data, headers=headers or {})


# ---------------------------------------------------------------- the strict parser


@pytest.mark.parametrize("text, expected", [
    ("12", "12.00"), ("12.5", "12.50"), ("12.50", "12.50"), (".5", "0.50"), ("$1,234.56", "1234.56"),
    ("  7.00 ", "7.00"), ("", "0.00"), ("0", "0.00"), ("999999999.99", "999999999.99"),
])
def test_parse_amount_accepts_dollars_and_cents(text, expected):
    assert parse_amount(text) == D(expected)


MALFORMED = ["10.005", "1e3", "1E3", "Infinity", "-Infinity", "inf", "NaN", "nan", "sNaN", "٥", "５", "-5", "-0.01",
             "+5", "1,00", "1,2345", "12.3.4", "0x10", "1_000", "1 000", "5\x00", "9999999999", "12.", "$-5", "١٢.٣٤",
             "1e999999", "‮5"]


@pytest.mark.parametrize("text", MALFORMED)
def test_parse_amount_refuses(text):
    with pytest.raises(AmountError):
        parse_amount(text)


# ---------------------------------------------------------------- the workflow's money rules


def test_full_refund_pays_back_everything_left_with_tax(app, order_factory, owner):
    order = order_factory("Shipped")
    version = order.version
    refund, replayed = workflow.refund(order, owner, refund_input())
    assert not replayed and refund.kind == "full" and refund.total_cents == PAID
    item = order.items[0]
    db.session.refresh(item)
    assert (item.refunded_item_cents, item.refunded_item_tax_cents, item.refunded_shipping_cents,
            item.refunded_shipping_tax_cents) == (2000, 165, 499, 41)
    assert order.refunded_cents == order.paid_cents == PAID and order.version == version + 1
    events = [e for e in order.events if e.action == "refund"]
    assert len(events) == 1 and events[0].details["kind"] == "full" and events[0].user_id == owner.id
    assert events[0].details["lines"] == [{"sku": "SKU-1", "item": "20.00", "item_tax": "1.65", "shipping": "4.99",
                                           "shipping_tax": "0.41"}]


def test_partial_refunds_take_tax_pro_rata_and_the_last_one_takes_what_is_left(app, order_factory):
    order = order_factory("Shipped")
    item = order.items[0]
    first, _ = workflow.refund(order, None, refund_input("partial", "a", {item.id: (D("10.00"), D("2.50"))}))
    line = first.lines[0]
    # 165 x 1000/2000 = 82.5 -> 83 (half up); 41 x 250/499 = 20.54 -> 21
    assert (line.item_cents, line.item_tax_cents, line.shipping_cents, line.shipping_tax_cents) == (1000, 83, 250, 21)
    second, _ = workflow.refund(order, None, refund_input("partial", "b", {item.id: (D("10.00"), D("2.49"))}))
    line = second.lines[0]
    assert (line.item_cents, line.item_tax_cents, line.shipping_cents, line.shipping_tax_cents) == (1000, 82, 249, 20)
    db.session.refresh(order)
    assert order.refunded_cents == order.paid_cents
    with pytest.raises(workflow.NotRefundable, match="Nothing is left"):
        workflow.refund(order, None, refund_input("full", "c"))


def test_full_refund_after_partials_refunds_exactly_the_remainder_per_component(app, order_factory):
    order = order_factory("Shipped", items=[item_fields(price=1999, tax=167, shipping=333, shipping_tax=29),
                                             item_fields(sku="SKU-2", price=501, tax=41, shipping=0, shipping_tax=0)])
    a, b = order.items
    workflow.refund(order, None, refund_input("partial", "p1", {a.id: (D("3.33"), D("1.11")), b.id: (D("1.01"), 0)}))
    workflow.refund(order, None, refund_input("partial", "p2", {a.id: (D("7.77"), D("0")), b.id: (D(0), D(0))}))
    workflow.refund(order, None, refund_input("full", "f"))
    for item in order.items:
        db.session.refresh(item)
        assert (item.refunded_item_cents, item.refunded_item_tax_cents, item.refunded_shipping_cents,
                item.refunded_shipping_tax_cents) == (item.item_price_cents, item.item_tax_cents,
                                                      item.shipping_price_cents, item.shipping_tax_cents)
    refunds = db.session.scalars(select(Refund).where(Refund.order_id == order.id)).all()
    assert sum(r.total_cents for r in refunds) == order.paid_cents == order.refunded_cents
    assert all(r.total_cents == sum(line.total_cents for line in r.lines) for r in refunds)


def test_concessions_are_kept_apart_from_what_was_paid(app, order_factory):
    order = order_factory("Shipped")
    refund, _ = workflow.refund(order, None, refund_input("full", rc="5.00", oc="3.00"))
    assert refund.total_cents == PAID + 800
    assert (order.refunded_cents, order.return_concession_cents, order.other_concession_cents) == (PAID, 500, 300)


# Each case: (description, refund input maker given the item id, expected error, field or None).
# Caps for the default order: return shipping concession 2 x 4.99 + 10.00 = 19.98; other concessions 20.00.
REFUSED = [
    ("item over its price", lambda i: refund_input("partial", amounts={i: (D("20.01"), 0)}),
     workflow.RefundExceedsBalance, "item-{i}-item"),
    ("shipping over its price", lambda i: refund_input("partial", amounts={i: (0, D("5.00"))}),
     workflow.RefundExceedsBalance, "item-{i}-shipping"),
    ("return concession over 2 x shipping + 10", lambda i: refund_input("partial", rc="19.99"),
     workflow.ConcessionExceedsCap, "return_concession"),
    ("other concession over the items' total", lambda i: refund_input("partial", oc="20.01"),
     workflow.ConcessionExceedsCap, "other_concession"),
    ("full refund with a return concession over the cap", lambda i: refund_input("full", rc="100"),
     workflow.ConcessionExceedsCap, "return_concession"),
    ("empty partial refund", lambda i: refund_input("partial"), workflow.InvalidInput, "item-{i}-item"),
    ("zero partial refund", lambda i: refund_input("partial", amounts={i: (D("0.00"), D("0"))}),
     workflow.InvalidInput, "item-{i}-item"),
    ("negative item amount", lambda i: refund_input("partial", amounts={i: (D("-1"), 0)}),
     workflow.InvalidInput, "item-{i}-item"),
    ("negative concession", lambda i: refund_input("partial", rc="-1"), workflow.InvalidInput, "return_concession"),
    ("NaN concession", lambda i: refund_input("partial", oc="NaN"), workflow.InvalidInput, "other_concession"),
    ("sNaN item", lambda i: refund_input("partial", amounts={i: (D("sNaN"), 0)}), workflow.InvalidInput,
     "item-{i}-item"),
    ("infinite shipping", lambda i: refund_input("partial", amounts={i: (0, D("Infinity"))}),
     workflow.InvalidInput, "item-{i}-shipping"),
    ("a fraction of a cent", lambda i: refund_input("partial", amounts={i: (D("10.005"), 0)}),
     workflow.InvalidInput, "item-{i}-item"),
    ("an absurd amount", lambda i: refund_input("partial", oc="1e12"), workflow.InvalidInput, "other_concession"),
    ("unknown reason", lambda i: refund_input(reason="Because"), workflow.InvalidInput, "reason"),
    ("no reason", lambda i: refund_input(reason=""), workflow.InvalidInput, "reason"),
    ("unknown kind", lambda i: refund_input(kind="most"), workflow.InvalidInput, None),
    ("no idempotency key", lambda i: refund_input(key=""), workflow.InvalidInput, None),
    ("an overlong idempotency key", lambda i: refund_input(key="k" * 65), workflow.InvalidInput, None),
]


@pytest.mark.parametrize("name, make, error, field", REFUSED, ids=[r[0] for r in REFUSED])
def test_refused_refunds_change_nothing(app, order_factory, name, make, error, field):
    order = order_factory("Shipped")
    item_id = order.items[0].id
    before = state(order)
    with pytest.raises(error) as exc:
        workflow.refund(order, None, make(item_id))
    assert exc.value.field == (field.format(i=item_id) if field else None)
    assert state(order) == before


def test_caps_are_exactly_reachable_and_count_every_refund(app, order_factory):
    order = order_factory("Shipped")
    i = order.items[0].id
    workflow.refund(order, None, refund_input("partial", "a", {i: (D("1.00"), 0)}, rc="9.98", oc="15.00"))
    with pytest.raises(workflow.ConcessionExceedsCap, match="at most 10.00"):
        workflow.refund(order, None, refund_input("partial", "b", rc="10.01"))
    with pytest.raises(workflow.ConcessionExceedsCap, match="at most 5.00"):
        workflow.refund(order, None, refund_input("partial", "c", oc="5.01"))
    workflow.refund(order, None, refund_input("partial", "d", rc="10.00", oc="5.00"))
    assert (order.return_concession_cents, order.other_concession_cents) == (1998, 2000)
    assert workflow.refund_caps(order) == {"return_concession": 0, "other_concession": 0}


def test_caps_come_from_settings(app, order_factory):
    order = order_factory("Shipped")
    workflow.save_settings(return_concession_factor=1, return_concession_extra_cents=0, other_concession_percent=50)
    assert workflow.refund_caps(order) == {"return_concession": 499, "other_concession": 1000}
    with pytest.raises(workflow.ConcessionExceedsCap):
        workflow.refund(order, None, refund_input("partial", "a", rc="5.00"))
    with pytest.raises(workflow.ConcessionExceedsCap):
        workflow.refund(order, None, refund_input("partial", "b", oc="10.01"))
    workflow.refund(order, None, refund_input("partial", "c", rc="4.99", oc="10.00"))


@pytest.mark.parametrize("status", ["Pending", "Unshipped", "Canceled"])
def test_only_shipped_orders_are_refunded(app, order_factory, status):
    order = order_factory(status)
    before = state(order)
    with pytest.raises(workflow.InvalidTransition, match=f" is {status}: Refund order is not possible"):
        workflow.refund(order, None, refund_input())
    assert state(order) == before


def test_orders_with_unknown_amounts_are_not_refunded(app, order_factory):
    order = order_factory("Shipped")
    order.amounts_known = False
    db.session.commit()
    before = state(order)
    with pytest.raises(workflow.NotRefundable, match="amounts are unknown"):
        workflow.refund(order, None, refund_input())
    assert state(order) == before


def test_a_replay_returns_the_first_refund_and_other_amounts_are_refused(app, order_factory):
    order = order_factory("Shipped")
    i = order.items[0].id
    first, replayed = workflow.refund(order, None, refund_input("partial", "same", {i: (D("10"), 0)}))
    assert not replayed
    after_first = state(order)
    for _ in range(5):
        again, replayed = workflow.refund(order, None, refund_input("partial", "same", {i: (D("10.00"), D(0))}))
        assert replayed and again.id == first.id
    # ... also when the page's version is now stale (a retry after a timeout).
    again, replayed = workflow.refund(order, None, refund_input("partial", "same", {i: (D("10"), 0)}),
                                      expected_version=after_first[1] - 1)
    assert replayed and again.id == first.id
    assert state(order) == after_first
    with pytest.raises(workflow.IdempotencyConflict):
        workflow.refund(order, None, refund_input("partial", "same", {i: (D("11"), 0)}))
    assert state(order) == after_first


def test_a_stale_page_is_refused(app, order_factory):
    order = order_factory("Shipped")
    i = order.items[0].id
    loaded = order.version
    workflow.refund(order, None, refund_input("partial", "tablet-a", {i: (D("5"), 0)}), expected_version=loaded)
    before = state(order)
    with pytest.raises(workflow.StaleVersion, match="changed by someone else"):
        workflow.refund(order, None, refund_input("partial", "tablet-b", {i: (D("5"), 0)}), expected_version=loaded)
    assert state(order) == before


def test_the_guard_is_the_first_statement_of_the_refund(app, order_factory):
    """reliability-notes §4.2: the conditional UPDATE of the order comes before any read or insert."""
    order = order_factory("Shipped")
    statements = []

    def record(conn, cursor, statement, *args):
        statements.append(" ".join(statement.split()[:3]))
    event.listen(db.engine, "before_cursor_execute", record)
    try:
        workflow.refund(order, None, refund_input())
    finally:
        event.remove(db.engine, "before_cursor_execute", record)
    body = [s for s in statements if not s.startswith(("BEGIN", "SAVEPOINT"))]
    assert body[0].startswith("UPDATE orders SET"), statements[:4]
    assert next(i for i, s in enumerate(body) if s.startswith("INSERT")) > 0


def test_a_refund_through_a_return_request_guards_the_request_too(app, order_factory):
    order = order_factory("Shipped")
    ret = workflow.create_return(order, None, workflow.RETURN_REASONS[0], {order.items[0].id: 1})
    workflow.close_return(ret, None, "Other")
    before = state(order)
    with pytest.raises(workflow.InvalidTransition, match="return request is Closed"):
        workflow.refund(order, None, refund_input(), return_request=ret)
    assert state(order) == before
    other = order_factory("Shipped")
    with pytest.raises(workflow.InvalidInput, match="another order"):
        workflow.refund(other, None, refund_input(), return_request=ret)


def test_a_full_refund_completes_open_return_requests(app, order_factory):
    order = order_factory("Shipped", items=[item_fields(quantity=2)])
    ret = workflow.create_return(order, None, workflow.RETURN_REASONS[0], {order.items[0].id: 1})
    i = order.items[0].id
    workflow.refund(order, None, refund_input("partial", "p", {i: (D("10"), 0)}), return_request=ret)
    db.session.refresh(ret)
    assert ret.status == "Pending Authorization"
    workflow.refund(order, None, refund_input("full", "f"), return_request=ret)
    db.session.refresh(ret)
    assert ret.status == "Completed" and ret.completed_at is not None
    assert [e.action for e in order.events][-2:] == ["refund", "complete_return"]


def test_two_threads_one_refund(app, order_factory):
    """Two sessions submitting full refunds at the same moment (different keys): exactly one is accepted."""
    order = order_factory("Shipped")
    barrier = threading.Barrier(2)
    results = []

    def attempt(key):
        with app.app_context():
            o = db.session.get(Order, order.id)
            barrier.wait()
            try:
                workflow.refund(o, None, refund_input("full", key))
                results.append("ok")
            except workflow.WorkflowError as exc:
                results.append(type(exc).__name__)
            finally:
                db.session.remove()
    threads = [threading.Thread(target=attempt, args=(f"t{n}",)) for n in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == ["NotRefundable", "ok"]
    assert state(order)[2] == PAID


# ---------------------------------------------------------------- the refund page


LABELS = ["Full Refund", "Partial Refund", "Reason for refund", "Item amount", "Shipping amount",
          "Return shipping concession", "Other concession", "Memo to buyer", "Seller memo", "Submit Full Refund",
          "Submit Partial Refund"]


def test_the_refund_page(owner_client, order_factory):
    order = order_factory("Shipped", items=[item_fields(sku="MUG-RED"), item_fields(sku="MUG-BLUE", price=1000)])
    response = owner_client.get(f"/orders/{order.order_id}/refund")
    html = response.text
    assert response.status_code == 200 and "<html" in html
    for label in LABELS:
        assert label in html, label
    for item in order.items:
        assert f"<legend>{item.sku}</legend>" in html
        assert f'<label for="item-{item.id}-item-{order.id}">Item amount</label>' in html
        assert f'<label for="item-{item.id}-shipping-{order.id}">Shipping amount</label>' in html
    options = re.findall(r'<option[^>]*value="([^"]*)"', html.split('name="reason"')[1].split("</select>")[0])
    assert options == ["", *workflow.REFUND_REASONS]
    assert len(key_of(html)) >= 24 and version_of(html) == order.version
    assert "<td class=\"num\">$10.00</td>" in html  # MUG-BLUE's price, paid
    assert 'data-total="4410"' in html  # the full refund's preview: 27.05 + 17.05
    assert key_of(owner_client.get(f"/orders/{order.order_id}/refund").text) != key_of(html)


def test_as_a_page_of_its_own_the_form_is_a_plain_form(owner_client, order_factory):
    """Its success goes back to the list (303), so it must not post with htmx; only the summary does."""
    order = order_factory("Shipped")
    html = owner_client.get(f"/orders/{order.order_id}/refund").text
    form_tag = re.search(r"<form[^>]*refund-form[^>]*>", html).group(0)
    assert "hx-post" not in form_tag and "data-submit-once" in form_tag
    assert f'hx-post="/orders/{order.order_id}/refund/preview"' in html


def test_the_refund_form_opens_under_the_row_with_htmx(owner_client, order_factory):
    order = order_factory("Shipped")
    response = owner_client.get(f"/orders/{order.order_id}/refund", headers=HX)
    assert response.status_code == 200 and "<html" not in response.text
    assert response.text.lstrip().startswith(f'<tr id="order-{order.id}-panel"')
    assert f'hx-post="/orders/{order.order_id}/refund"' in response.text
    assert "HX-Request" in response.headers["Vary"]


def test_full_refund_without_javascript(owner_client, order_factory, owner):
    order = order_factory("Shipped")
    page = owner_client.get(f"/orders/{order.order_id}/refund?next=/orders?status=Shipped").text
    response = owner_client.post(f"/orders/{order.order_id}/refund", data={
        "kind": "full", "reason": "Customer Return", "idempotency_key": key_of(page), "version": version_of(page),
        "submit_full": "1", "next": "/orders?status=Shipped", "memo_to_buyer": "Sorry!"})
    assert response.status_code == 303 and response.headers["Location"] == "/orders?status=Shipped"
    followed = owner_client.get("/orders")
    assert "Full refund of $27.05 (tax $2.06)" in followed.text
    refund = db.session.scalar(select(Refund))
    assert refund.total_cents == PAID and refund.memo_to_buyer == "Sorry!" and refund.created_by_id == owner.id


def test_partial_refund_with_htmx_swaps_the_row(owner_client, order_factory):
    order = order_factory("Shipped")
    i = order.items[0].id
    response = post_refund(owner_client, order, HX, kind="partial", submit_partial="1", version=order.version,
                           **{f"item-{i}-item": "10.00", f"item-{i}-shipping": "", "other_concession": "1.50"})
    assert response.status_code == 200, response.text
    assert f'<tr id="order-{order.id}"' in response.text and "<html" not in response.text
    assert 'id="order-tabs" class="tabs" aria-label="Order status" hx-swap-oob="true"' in response.text
    assert f'<tr id="order-{order.id}-panel" class="panel-row" hidden hx-swap-oob="true">' in response.text
    assert "Partial refund of $12.33 (tax $0.83)" in response.text
    assert response.headers["HX-Retarget"] == f"#order-{order.id}" and response.headers["HX-Reswap"] == "outerHTML"
    assert "HX-Request" in response.headers["Vary"]
    assert state(order)[2] == 1083


@pytest.mark.parametrize("headers", [{}, HX], ids=["no-js", "htmx"])
@pytest.mark.parametrize("field", ["item", "shipping", "return_concession", "other_concession"])
def test_malformed_amounts_are_shown_next_to_their_field(owner_client, order_factory, headers, field):
    order = order_factory("Shipped")
    i = order.items[0].id
    name = f"item-{i}-{field}" if field in ("item", "shipping") else field
    before = state(order)
    for text in MALFORMED:
        response = post_refund(owner_client, order, headers, kind="partial", submit_partial="1",
                               **{f"item-{i}-item": "1.00", name: text})
        if "\x00" in text:  # refused for the whole request, whichever field holds it (errors.py)
            assert response.status_code == 400 and "cannot be saved (NUL)" in response.text
            continue
        assert response.status_code == 422, text
        assert re.search(rf'<p class="error" id="{name}-{order.id}-error">([^<]+)</p>', response.text), text
        assert ("<html" in response.text) == (not headers)
    assert state(order) == before


def test_an_empty_partial_refund_is_refused_next_to_the_first_amount(owner_client, order_factory):
    order = order_factory("Shipped")
    before = state(order)
    response = post_refund(owner_client, order, HX, kind="partial", submit_partial="1")
    assert response.status_code == 422
    assert (f'<p class="error" id="item-{order.items[0].id}-item-{order.id}-error">Enter an amount to refund.</p>'
            in response.text)
    assert state(order) == before


@pytest.mark.parametrize("field, value, status", [
    ("kind", "most", 422), ("reason", "Because", 422), ("version", "abc", 422), ("idempotency_key", "", 422),
    ("idempotency_key", "x" * 65, 422), ("memo_to_buyer", "m" * 2001, 422), ("version", "99999999999999999999", 422),
])
def test_hostile_form_values_never_break_the_page(owner_client, order_factory, field, value, status):
    order = order_factory("Shipped")
    before = state(order)
    response = post_refund(owner_client, order, HX, **{"kind": "full", "submit_full": "1", field: value})
    assert response.status_code == status
    assert 'class="error' in response.text
    assert state(order) == before


def test_garbage_in_the_partial_amounts_does_not_block_a_full_refund(owner_client, order_factory):
    order = order_factory("Shipped")
    response = post_refund(owner_client, order, HX, kind="full", submit_full="1",
                           **{f"item-{order.items[0].id}-item": "sNaN"})
    assert response.status_code == 200
    assert state(order)[2] == PAID


def test_over_what_is_left_is_shown_next_to_the_field(owner_client, order_factory):
    order = order_factory("Shipped")
    i = order.items[0].id
    before = state(order)
    response = post_refund(owner_client, order, None, kind="partial", submit_partial="1",
                           **{f"item-{i}-shipping": "4.99", f"item-{i}-item": "20.01", "return_concession": "20"})
    assert response.status_code == 422 and "<html" in response.text
    assert f'id="item-{i}-item-{order.id}-error">At most 20.00 is left to refund on this item.</p>' in response.text
    assert state(order) == before


def test_recalculate_shows_the_figures_and_refunds_nothing(owner_client, order_factory):
    order = order_factory("Shipped")
    i = order.items[0].id
    before = state(order)
    response = post_refund(owner_client, order, None, kind="partial", recalculate="1", **{f"item-{i}-item": "10"})
    assert response.status_code == 200 and "Partial Refund summary" in response.text
    assert 'data-total="1083"' in response.text
    assert re.search(r'value="partial"[^>]*checked|checked[^>]*value="partial"', response.text)
    assert state(order) == before


@pytest.mark.parametrize("kind, amounts, total, tax", [
    ("partial", {"item": "10", "shipping": "2.50"}, 1000 + 83 + 250 + 21, 104),  # 82.5 rounds up
    ("partial", {"item": "20.00"}, 2165, 165),
    ("full", {"item": "1"}, PAID, 206),
    ("full", {"item": "sNaN"}, PAID, 206),
])
def test_the_preview_computes_the_tax_pro_rata(owner_client, order_factory, kind, amounts, total, tax):
    order = order_factory("Shipped")
    i = order.items[0].id
    before = state(order)
    response = owner_client.post(f"/orders/{order.order_id}/refund/preview", headers=HX,
                                 data={"kind": kind, **{f"item-{i}-{k}": v for k, v in amounts.items()}})
    assert response.status_code == 200 and response.text.lstrip().startswith("<section class=\"refund-summary")
    assert f'data-total="{total}"' in response.text
    assert f"Tax refunded (pro rata)</dt><dd>${tax / 100:.2f}" in response.text
    assert state(order) == before


@pytest.mark.parametrize("kind, fields, message", [
    ("partial", {"item-{i}-item": "25"}, "At most 20.00 is left to refund on this item."),
    ("partial", {"item-{i}-item": "abc"}, "SKU-1, Item amount: Enter an amount in dollars and cents"),
    ("partial", {"item-{i}-shipping": "1e3"}, "SKU-1, Shipping amount: Enter an amount in dollars and cents"),
    ("full", {"other_concession": "10.005"}, "Other concession: Use at most two decimal places"),
    ("full", {"return_concession": "20"}, "Return shipping concession: at most $19.98 more on this order."),
    ("partial", {"other_concession": "20.01", "item-{i}-item": "1"}, "Other concession: at most $20.00 more"),
])
def test_the_preview_says_what_to_fix_and_shows_no_total(owner_client, order_factory, kind, fields, message):
    order = order_factory("Shipped")
    i = order.items[0].id
    response = owner_client.post(f"/orders/{order.order_id}/refund/preview", headers=HX,
                                 data={"kind": kind, **{k.format(i=i): v for k, v in fields.items()}})
    assert response.status_code == 200
    assert message in response.text and 'data-total="None">—</dd>' in response.text


def test_five_replays_make_one_refund(owner_client, order_factory):
    order = order_factory("Shipped")
    page = owner_client.get(f"/orders/{order.order_id}/refund").text
    data = {"kind": "full", "reason": "Customer Return", "idempotency_key": key_of(page), "version": version_of(page),
            "submit_full": "1"}
    first = owner_client.post(f"/orders/{order.order_id}/refund", data=data, headers=HX)
    assert first.status_code == 200 and "Full refund of $27.05" in first.text
    for _ in range(5):
        again = owner_client.post(f"/orders/{order.order_id}/refund", data=data, headers=HX)
        assert again.status_code == 200 and "was already made with this form" in again.text
    assert db.session.scalar(select(func.count()).select_from(Refund)) == 1
    other = owner_client.post(f"/orders/{order.order_id}/refund", headers=HX, data={
        **data, "kind": "partial", "submit_full": "", "submit_partial": "1", f"item-{order.items[0].id}-item": "1"})
    assert other.status_code == 409 and "already submitted with other amounts" in other.text
    assert db.session.scalar(select(func.count()).select_from(Refund)) == 1


@pytest.mark.parametrize("headers", [{}, HX], ids=["no-js", "htmx"])
def test_a_second_tablet_with_a_stale_page_gets_a_conflict(owner_client, order_factory, headers):
    order = order_factory("Shipped")
    i = order.items[0].id
    tablet_a = owner_client.get(f"/orders/{order.order_id}/refund").text
    tablet_b = owner_client.get(f"/orders/{order.order_id}/refund").text
    partial = {"kind": "partial", "reason": "Customer Return", "submit_partial": "1", f"item-{i}-item": "5"}
    assert owner_client.post(f"/orders/{order.order_id}/refund", data={
        **partial, "idempotency_key": key_of(tablet_a), "version": version_of(tablet_a)}).status_code == 303
    before = state(order)
    response = owner_client.post(f"/orders/{order.order_id}/refund", headers=headers, data={
        **partial, "idempotency_key": key_of(tablet_b), "version": version_of(tablet_b)})
    assert response.status_code == 409
    assert "changed by someone else since you opened the page" in response.text
    assert state(order) == before
    # The answer shows the current figures and carries the current version: a deliberate retry goes through.
    assert "$5.00" in response.text and version_of(response.text) == before[1]
    retry = owner_client.post(f"/orders/{order.order_id}/refund", headers=headers, data={
        **partial, "idempotency_key": key_of(response.text), "version": version_of(response.text)})
    assert retry.status_code in (200, 303) and state(order)[2] == 2 * (500 + 41)


def test_unknown_amounts_refused_with_a_clear_message(owner_client, order_factory):
    order = order_factory("Shipped")
    order.amounts_known = False
    db.session.commit()
    page = owner_client.get(f"/orders/{order.order_id}/refund")
    assert page.status_code == 200 and "amounts are unknown" in page.text
    assert "Submit Full Refund</button>" not in page.text
    before = state(order)
    response = post_refund(owner_client, order, HX, kind="full", submit_full="1")
    assert response.status_code == 409 and "amounts are unknown" in response.text
    assert state(order) == before


@pytest.mark.parametrize("status", ["Unshipped", "Canceled"])
def test_refunding_an_order_that_is_not_shipped(owner_client, order_factory, status):
    order = order_factory(status)
    not_possible = f"Order {order.order_id} is {status}: Refund order is not possible."
    assert not_possible in owner_client.get(f"/orders/{order.order_id}/refund").text
    before = state(order)
    response = post_refund(owner_client, order, None, kind="full", submit_full="1")
    assert response.status_code == 409 and not_possible in response.text
    assert state(order) == before


def test_staff_cannot_refund(staff_client, order_factory):
    order = order_factory("Shipped")
    before = state(order)
    assert staff_client.get(f"/orders/{order.order_id}/refund").status_code == 403
    assert post_refund(staff_client, order, None, kind="full", submit_full="1").status_code == 403
    assert post_refund(staff_client, order, HX, kind="full", submit_full="1").status_code == 403
    assert staff_client.post(f"/orders/{order.order_id}/refund/preview", data={}).status_code == 403
    assert state(order) == before


def test_unknown_order_is_404(owner_client):
    assert owner_client.get("/orders/000-0000000-0000000/refund").status_code == 404


def test_csrf_is_required(db_url, order_factory, owner):
    from conftest import make_app, sign_in
    csrf_app = make_app(db_url, WTF_CSRF_ENABLED=True)
    order = order_factory("Shipped")
    client = sign_in(csrf_app.test_client(), owner)
    page = client.get(f"/orders/{order.order_id}/refund").text
    data = {"kind": "full", "reason": "Customer Return", "idempotency_key": key_of(page), "submit_full": "1"}
    assert client.post(f"/orders/{order.order_id}/refund", data=data, headers=HX).status_code == 400
    assert state(order)[2] == 0
    token = re.search(r'"X-CSRFToken": "([^"]+)"', page).group(1)
    response = client.post(f"/orders/{order.order_id}/refund", data=data, headers={**HX, "X-CSRFToken": token})
    assert response.status_code == 200
    assert state(order)[2] == PAID
    with csrf_app.app_context():
        db.engine.dispose()


# ---------------------------------------------------------------- Contact buyer from Manage Orders


@pytest.mark.parametrize("headers", [{}, HX], ids=["no-js", "htmx"])
def test_staff_can_contact_the_buyer(staff_client, staff, order_factory, headers):
    order = order_factory("Unshipped")
    form = staff_client.get(f"/orders/{order.order_id}/contact")
    assert form.status_code == 200
    for label in ("Subject", "Message", "Send message"):
        assert label in form.text
    response = staff_client.post(f"/orders/{order.order_id}/contact", headers=headers,
                                 data={"subject": "Your parcel", "message": "It ships today."})
    if headers:
        assert response.status_code == 200 and f'<tr id="order-{order.id}"' in response.text
        assert "Message saved in the order&#39;s history (e-mail is not set up here" in response.text
    else:
        assert response.status_code == 303
    message = db.session.scalar(select(Message))
    assert (message.subject, message.body, message.sent_by_id, message.emailed_at) == (
        "Your parcel", "It ships today.", staff.id, None)
    events = [e for e in db.session.get(Order, order.id).events if e.action == "contact_buyer"]
    assert events[0].details["message"] == "It ships today." and events[0].user_id == staff.id


@pytest.mark.parametrize("headers", [{}, HX], ids=["no-js", "htmx"])
def test_a_message_needs_a_subject_and_a_body(owner_client, order_factory, headers):
    order = order_factory("Shipped")
    before = state(order)
    response = owner_client.post(f"/orders/{order.order_id}/contact", headers=headers,
                                 data={"subject": " ", "message": "Hello"})
    assert response.status_code == 422 and f'id="subject-{order.id}-error">Enter a subject.' in response.text
    response = owner_client.post(f"/orders/{order.order_id}/contact", headers=headers,
                                 data={"subject": "Hi", "message": ""})
    assert response.status_code == 422 and f'id="message-{order.id}-error">Enter a message.' in response.text
    assert state(order) == before

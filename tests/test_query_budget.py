"""How many SQL statements each page and each action runs: a change that adds one fails here.

`CEILINGS` is the table: a page or action that now needs more (a new column in the row, a new check) raises its
number in the same change, and says why in the commit; one that needs fewer lowers it. Counted with a
`before_cursor_execute` listener during the request only, transaction control (BEGIN, COMMIT) left out so that
SQLite and PostgreSQL count alike, after a first signed-in request (so the user comes from the process's cache,
as it does until any write is committed). The order list is counted with its section cache off (every request renders),
and once with it on. The store's settings are saved (a shop that never saved them reads the defaults instead).
"""
import re

import pytest
from sqlalchemy import event

from seller import clock, workflow
from seller.extensions import db

from conftest import item_fields, make_order

# name: (ceiling, method, path, htmx). Paths name orders of the seeded store (see `store`).
# Amazon connection (issue 14): a page showing orders asks once whether a connection is saved (each row's Amazon
# state and Retry need it); an action that tells Amazon asks it in its own transaction too (its outbox message).
CEILINGS = {
    "/orders":                        (9, "GET", "/orders", False),
    "/orders, htmx":                  (9, "GET", "/orders", True),
    "/orders, cached":                (2, "GET", "/orders", False),
    "tab Pending":                    (9, "GET", "/orders?status=Pending", True),
    "tab Unshipped":                  (9, "GET", "/orders?status=Unshipped", True),
    "tab Shipped":                    (9, "GET", "/orders?status=Shipped", True),
    "tab Canceled":                   (9, "GET", "/orders?status=Canceled", True),
    "Search orders (order ID)":       (10, "GET", "/orders?q={unshipped}", True),
    "Search orders (buyer name)":     (10, "GET", "/orders?q=Buyer", True),
    "order page":                     (12, "GET", "/orders/{shipped}", False),  # +1: the packages' items (§12)
    "/returns":                       (7, "GET", "/returns", False),
    "/performance":                   (5, "GET", "/performance", False),
    "/settings":                      (3, "GET", "/settings", False),
    # Packages (§12), +4: the order's packages and items (what is left to ship), the items they hold (one INSERT),
    # the status once nothing is left (Shipped, or still Unshipped after a partial shipment) and, for the message,
    # whether something is left.
    "Confirm shipment (htmx)":        (21, "POST", "/orders/{unshipped}/ship", True),
    "Confirm shipment (no JS)":       (16, "POST", "/orders/{unshipped}/ship", False),
    # +2: a partially shipped order cannot be canceled (its packages, asked by the button's check and the verb)
    "Cancel order (htmx)":            (18, "POST", "/orders/{unshipped}/cancel", True),
    "partial refund (htmx)":          (26, "POST", "/orders/{shipped}/refund", True),
}
TRANSACTION_CONTROL = re.compile(r"\s*(BEGIN|COMMIT|ROLLBACK|SAVEPOINT|RELEASE)\b", re.I)


@pytest.fixture
def store(app, owner):
    """A few orders in every status, one with two items, a return request and a refund; the settings saved."""
    workflow.save_settings(store_name="Budget Store")
    orders = {status: [make_order(status, items=[item_fields(), item_fields(sku="SKU-2")]) for _ in range(3)]
              for status in ("Pending", "Unshipped", "Shipped", "Canceled")}
    shipped = orders["Shipped"][0]
    workflow.create_return(orders["Shipped"][1], None, "No longer needed", {orders["Shipped"][1].items[0].id: 1})
    workflow.refund(orders["Shipped"][2], None, workflow.RefundInput(kind="full", reason="Customer Return",
                                                                     idempotency_key="budget", amounts={}))
    db.session.commit()
    return {"unshipped": orders["Unshipped"][0], "shipped": shipped}


def form_for(name: str, order) -> dict:
    if "Confirm" in name:
        return {"version": order.version, "carrier": "UPS", "tracking_id": "1Z999AA10123456784",
                "shipping_service": "Ground", "ship_date": clock.local_today(workflow.store_tz()).isoformat()}
    if "Cancel" in name:
        return {"version": order.version, "reason": "No inventory"}
    if "refund" in name:
        return {"version": order.version, "kind": "partial", "reason": "Customer Return",
                f"item-{order.items[0].id}-item": "1.00", "submit_partial": "y", "idempotency_key": "k" * 32}
    return {}


def count_statements(app, client, method: str, path: str, htmx: bool, data: dict) -> tuple[int, list[str]]:
    seen: list[str] = []

    def record(_conn, _cursor, statement, *_):
        if not TRANSACTION_CONTROL.match(statement):
            seen.append(" ".join(statement.split())[:200])
    engine = db.engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        response = client.open(path, method=method, data=data or None, headers={"HX-Request": "true"} if htmx else {})
    finally:
        event.remove(engine, "before_cursor_execute", record)
    assert response.status_code in (200, 303), (path, response.status_code, response.get_data(as_text=True)[:500])
    return len(seen), seen


@pytest.mark.parametrize("name", CEILINGS)
def test_statements_per_request_stay_within_the_ceiling(app, owner_client, store, name):
    ceiling, method, path, htmx = CEILINGS[name]
    names = {key: order.order_id for key, order in store.items()}
    subject = store["shipped" if "{shipped}" in path else "unshipped"]
    data = form_for(name, subject)
    path = path.format(**names)
    app.config["ORDERS_LIST_CACHE"] = name.endswith("cached")
    owner_client.get("/returns")  # signed in: the user is then reused until a write is committed (auth.load_user)
    if name.endswith("cached"):
        for _ in range(3):  # rendered and kept (a first request also makes the CSRF token; one per pooled connection)
            owner_client.get(path)
    runs = 3 if name.endswith("cached") else 1  # PostgreSQL's snapshot moves with any write on the server
    count, seen = min(count_statements(app, owner_client, method, path, htmx, data) for _ in range(runs))
    listing = "\n".join(seen)
    assert count <= ceiling, f"{name}: {count} statements, ceiling {ceiling}:\n{listing}"


def test_the_order_list_reads_the_same_number_of_times_for_more_rows(app, owner_client, store):
    """No statement per row: 12 orders or 24 on the page cost the same."""
    app.config["ORDERS_LIST_CACHE"] = False
    before, _ = count_statements(app, owner_client, "GET", "/orders?status=Shipped", True, {})
    for _ in range(12):
        make_order("Shipped", items=[item_fields(), item_fields(sku="SKU-3")])
    after, seen = count_statements(app, owner_client, "GET", "/orders?status=Shipped", True, {})
    assert after == before, "\n".join(seen)

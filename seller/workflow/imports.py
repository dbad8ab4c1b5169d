"""Orders coming in from Amazon's reports: new orders and what a later report changes (no commit: the
importer's transaction holds the whole file)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, insert, select, update

from .. import clock
from ..extensions import db
from ..models import Order, OrderEvent, OrderItem, OrderStatus as S, Settings, User
from .errors import StaleVersion
from .rules import compute_ship_by
from ..i18n import _

_AMOUNT_COLUMNS = ("item_price_cents", "item_tax_cents", "shipping_price_cents", "shipping_tax_cents")


def _reported_order(fields: dict, items: list[dict], cfg: Settings) -> dict:
    """An order's columns as a report describes it: Pending without a payment date, Unshipped with one;
    Ship by from Settings (or the promise date); paid = the items' amounts, when the report had them."""
    return {**fields, "status": (S.UNSHIPPED if fields.get("paid_at") else S.PENDING).value,
            "ship_by": compute_ship_by(fields["purchased_at"], fields.get("promise_at"), cfg),
            "paid_cents": sum(item.get(c, 0) for item in items for c in _AMOUNT_COLUMNS)
            if fields.get("amounts_known", True) else 0}


def new_order(fields: dict, items: list[dict], user: User | None = None, *, source: str = "import") -> Order:
    """Add an order as a report describes it (no commit: the caller's transaction holds the whole file).

    `fields` are Order columns (purchased_at and order_id at least); `items` are OrderItem columns."""
    order = Order(**_reported_order(fields, items, Settings.current()))
    order.items = [OrderItem(**item) for item in items]
    order.events = [OrderEvent(action=source, user_id=user.id if user else None, at=clock.now(),
                               details={"items": len(items), "status": order.status})]
    db.session.add(order)
    return order


def new_orders(batch: list[tuple[dict, list[dict]]], user: User | None = None, *, source: str = "import") -> None:
    """`new_order` for a whole file (its orders all have the same columns): the same rows and history,
    written with three multi-row INSERTs (no commit: the caller's transaction holds the whole file)."""
    if not batch:
        return
    cfg, now, user_id = Settings.current(), clock.now(), user.id if user else None
    orders, items, events = Order.__table__, OrderItem.__table__, OrderEvent.__table__
    rows = [_reported_order(fields, lines, cfg) for fields, lines in batch]
    db.session.execute(insert(orders), rows)  # executemany: several times faster than RETURNING on PostgreSQL
    ids = {}
    for start in range(0, len(rows), 1000):
        ids.update(db.session.execute(select(orders.c.order_id, orders.c.id).where(
            orders.c.order_id.in_([row["order_id"] for row in rows[start:start + 1000]]))).tuples().all())
    db.session.execute(insert(items), [{**item, "order_id": ids[fields["order_id"]]}
                                       for fields, lines in batch for item in lines])
    db.session.execute(insert(events), [
        {"order_id": ids[row["order_id"]], "action": source, "user_id": user_id, "at": now,
         "details": {"items": len(lines), "status": row["status"]}} for row, (_, lines) in zip(rows, batch)])


@dataclass
class ReportUpdate:
    """What a later report changes on an order already here, with the rows the importer read it from
    (plain rows of `orders` and `order_items`: id, status, version and the columns that change)."""
    order: object
    items: list
    changes: dict  # Order columns that differ
    item_changes: dict[int, dict]  # OrderItem columns that differ, by order_items.id


def update_from_reports(updates: list[ReportUpdate], user: User | None = None) -> None:
    """Apply what a later report says about orders already here (no commit: the caller's transaction holds
    the whole file). A payment date on a Pending order makes it Unshipped ('mark_paid' in the history);
    anything else is an 'import_update'.

    Guarded in bulk: each order's UPDATE matches only the status and version the importer read, so when
    anyone changed one of them meanwhile nothing is written (StaleVersion)."""
    orders, items, events, now = Order.__table__, OrderItem.__table__, OrderEvent.__table__, clock.now()
    plain = lambda v: v.isoformat() if isinstance(v, datetime) else v  # noqa: E731  (JSON details)
    order_sets, item_sets, history = {}, {}, []
    for up in updates:
        order = up.order
        paid = order.status == S.PENDING and up.changes.get("paid_at") is not None
        values = {**up.changes, "status": S.UNSHIPPED.value} if paid else up.changes
        order_sets.setdefault(tuple(sorted(values)), []).append(
            {"w_id": order.id, "w_status": order.status, "w_version": order.version,
             **{"v_" + k: v for k, v in values.items()}})
        lines = []
        for item in up.items:
            if diff := up.item_changes.get(item.id):
                item_sets.setdefault(tuple(sorted(diff)), []).append(
                    {"w_id": item.id, **{"v_" + k: v for k, v in diff.items()}})
                lines.append({"order_item_id": item.order_item_id,
                              **{attr: [getattr(item, attr), value] for attr, value in diff.items()}})
        history.append({"order_id": order.id, "user_id": user.id if user else None, "at": now,
                        "action": "mark_paid" if paid else "import_update",
                        "details": {"changes": {k: [plain(getattr(order, k)), plain(v)]
                                                for k, v in up.changes.items()}, "items": lines}})
    for columns, params in order_sets.items():
        stmt = (update(orders).where(orders.c.id == bindparam("w_id"), orders.c.status == bindparam("w_status"),
                                     orders.c.version == bindparam("w_version"))
                .values(version=orders.c.version + 1, updated_at=now, **{c: bindparam("v_" + c) for c in columns}))
        if db.session.execute(stmt, params).rowcount != len(params):
            raise StaleVersion(_("Some of these orders were changed while the file was being imported. "
                                 "Upload the file again."))
    for columns, params in item_sets.items():
        stmt = update(items).where(items.c.id == bindparam("w_id")).values(**{c: bindparam("v_" + c) for c in columns})
        db.session.execute(stmt, params)
    if history:
        db.session.execute(insert(events), history)

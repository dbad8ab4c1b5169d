"""Amazon's files (contract §8): the order report in, the shipping confirmation file out.

One code path for the web upload and `flask import-orders`: `import_report(data)` checks every row
first (a file with any bad row imports nothing), then writes the whole file in one transaction.
Columns come in any order, unknown ones are ignored, and a column the file does not have never
overwrites what an earlier report said (the Unshipped Orders Report has no prices: it never touches
amounts). Orders are created by `workflow.new_order` and changed by `workflow.update_from_reports`.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from functools import cache
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import contains_eager, selectinload

from . import clock, workflow
from .db import write_transaction
from .extensions import db
from .models import Order, OrderItem, Settings, Shipment, ShipmentItem, User
from .models import OrderStatus as S
from .money import AmountError, parse_amount, to_cents
from .i18n import _, N_

ORDER_REPORT = N_("Order Report")
UNSHIPPED_REPORT = N_("Unshipped Orders Report")

REQUIRED = ("order-id", "order-item-id", "purchase-date", "payments-date", "sku", "quantity-purchased")
# Report column -> Order column, for plain text.
ORDER_TEXT = {
    "buyer-email": "buyer_email", "buyer-name": "buyer_name", "buyer-phone-number": "buyer_phone",
    "recipient-name": "recipient_name", "ship-address-1": "ship_address_1", "ship-address-2": "ship_address_2",
    "ship-address-3": "ship_address_3", "ship-city": "ship_city", "ship-state": "ship_state",
    "ship-postal-code": "ship_postal_code", "ship-phone-number": "ship_phone",
    "ship-service-level": "ship_service_level", "purchase-order-number": "purchase_order_number",
}
ORDER_DATES = {"purchase-date": "purchased_at", "payments-date": "paid_at", "promise-date": "promise_at"}
# Totals for the row's quantity, as Amazon writes them; all four or none (the Unshipped Orders Report).
AMOUNTS = {"item-price": "item_price_cents", "item-tax": "item_tax_cents", "shipping-price": "shipping_price_cents",
           "shipping-tax": "shipping_tax_cents"}
MAX_AMOUNT_CENTS = 100_000_000  # 1,000,000.00 a cell
MAX_ORDER_CENTS = 2**31 - 1  # what an integer column holds
MAX_QUANTITY = 100_000
OPEN = frozenset({S.PENDING.value, S.UNSHIPPED.value})

_DATE = re.compile(r"(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,6})?)?"
                   r"(Z|[+-]\d{2}:?\d{2})?)?", re.ASCII)
_BOOL = {"": False, "true": True, "false": False, "yes": True, "no": False, "y": True, "n": False}


@dataclass
class RowError:
    line: int
    message: str


@dataclass
class ImportResult:
    variant: str = ""
    rows: int = 0
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[RowError] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors

    def summary(self) -> str:
        return _("%(new)s new, %(updated)s updated, %(unchanged)s unchanged (%(rows)s rows, %(variant)s).",
                 new=self.new, updated=self.updated, unchanged=self.unchanged, rows=self.rows, variant=_(self.variant))


@dataclass
class _Order:
    """One order's rows of the file: order columns (as Order fields) and its items (as OrderItem fields);
    `has_amounts`: whether its item rows carry the four amounts (the Unshipped Orders Report's don't)."""
    line: int
    fields: dict
    items: list[tuple[int, dict]]
    has_amounts: bool = True


ReportedOrder = _Order  # what another source of orders (the Amazon sync) hands to `import_orders`


class _BadRow(ValueError):
    pass


class _Refused(Exception):
    """Leave the import's transaction: something in the file conflicts with the database."""


# ---------------------------------------------------------------- reading


@cache
def _column_length(model, name: str) -> int | None:
    return getattr(model.__table__.c[name].type, "length", None)


def parse_report_date(text: str, tz: ZoneInfo, *, end_of_day: bool = False) -> datetime:
    """An Amazon report date -> naive UTC.

    ISO 8601 with an offset or Z as Amazon writes it (2026-11-20T08:15:22-08:00); without an offset,
    store time; a plain date is the start of that store day (its end for a promise date)."""
    m = _DATE.fullmatch(text)
    if not m:
        raise ValueError(text)
    moment = datetime.fromisoformat(text.replace(" ", "T"))
    if m.group(4) is None and end_of_day:
        moment = datetime.combine(moment.date(), time(23, 59, 59))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=tz)
    return moment.astimezone(timezone.utc).replace(tzinfo=None)


class _Row:
    """Reads one line's cells by column name; each reader raises `_BadRow` with the reason."""

    def __init__(self, cells: dict[str, str], tz: ZoneInfo):
        self.cells, self.tz = cells, tz

    def text(self, column: str, model, attr: str, *, required: bool = False) -> str:
        value = self.cells[column].strip()
        if required and not value:
            raise _BadRow(_("%(column)s is missing", column=column))
        limit = _column_length(model, attr)
        if limit and len(value) > limit:
            raise _BadRow(_("%(column)s is longer than %(limit)s characters", column=column, limit=limit))
        return value

    def date(self, column: str, *, required: bool = False, end_of_day: bool = False) -> datetime | None:
        value = self.cells[column].strip()
        if not value:
            if required:
                raise _BadRow(f"{column} is missing")
            return None
        try:
            return parse_report_date(value, self.tz, end_of_day=end_of_day)
        except ValueError:
            raise _BadRow(_('%(column)s "%(value)s" is not a date like 2026-11-20T08:15:22-08:00', column=column,
                             value=value)) from None

    def amount(self, column: str) -> int:
        value = self.cells[column].strip()
        try:
            cents = to_cents(parse_amount(value))
        except AmountError as exc:
            raise _BadRow(f'{column} "{value}": {exc}') from None
        if cents > MAX_AMOUNT_CENTS:
            raise _BadRow(_('%(column)s "%(value)s" is too large', column=column, value=value))
        return cents

    def quantity(self) -> int:
        value = self.cells["quantity-purchased"].strip()
        if not (value.isascii() and value.isdigit()) or int(value) < 1:
            raise _BadRow(_('quantity-purchased "%(value)s" is not a whole number of 1 or more', value=value))
        if int(value) > MAX_QUANTITY:
            raise _BadRow(_('%(column)s "%(value)s" is too large', column="quantity-purchased", value=value))
        return int(value)

    def choice(self, column: str, pattern: str, what: str) -> str:
        value = self.cells[column].strip()
        if not re.fullmatch(pattern, value, re.ASCII):
            raise _BadRow(_('%(column)s "%(value)s" is not %(what)s', column=column, value=value, what=what))
        return value


def _order_fields(row: _Row, columns: set[str]) -> dict:
    fields = {"order_id": row.text("order-id", Order, "order_id", required=True)}
    for column, attr in ORDER_DATES.items():
        if column in columns:
            fields[attr] = row.date(column, required=column == "purchase-date", end_of_day=column == "promise-date")
    for column, attr in ORDER_TEXT.items():
        if column in columns:
            fields[attr] = row.text(column, Order, attr)
    if "ship-country" in columns:
        fields["ship_country"] = row.choice("ship-country", r"([A-Za-z]{2})?", _("a two-letter country code")).upper()
    if "currency" in columns:
        fields["currency"] = row.choice("currency", r"[A-Za-z]{3}", _("a currency code like USD")).upper()
    if "is-business-order" in columns:
        flag = row.cells["is-business-order"].strip().lower()
        if flag not in _BOOL:
            raise _BadRow(_('is-business-order "%(value)s" is not true or false', value=flag))
        fields["is_business_order"] = _BOOL[flag]
    return fields


def _item_fields(row: _Row, has_amounts: bool) -> dict:
    item = {"order_item_id": row.text("order-item-id", OrderItem, "order_item_id", required=True),
            "sku": row.text("sku", OrderItem, "sku", required=True), "quantity": row.quantity()}
    if "product-name" in row.cells:
        item["product_name"] = row.cells["product-name"].strip()
    if has_amounts:
        item.update({attr: row.amount(column) for column, attr in AMOUNTS.items()})
    return item


def parse(data: bytes, tz: ZoneInfo) -> tuple[ImportResult, dict[str, _Order]]:
    """Check every row of a report. Returns the result (variant, rows, errors) and the orders by order-id."""
    result, orders = ImportResult(), {}
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        result.errors.append(RowError(data.count(b"\n", 0, exc.start) + 1, _(
            "the file is not UTF-8 text: download the report again from Seller Central and upload it unchanged")))
        return result, orders
    lines = text.split("\n")
    header = [name.strip().lower() for name in lines[0].rstrip("\r").split("\t")]
    columns = set(header)
    missing = [name for name in REQUIRED if name not in columns]
    amounts = [name for name in AMOUNTS if name in columns]
    if not text.strip():
        result.errors.append(RowError(1, _("the file is empty")))
    elif len(header) == 1 and "," in header[0]:
        result.errors.append(RowError(1, _("the file is not tab-delimited: upload the report as Amazon writes it "
                                           "(a .txt file), not a spreadsheet saved as CSV")))
    elif missing:
        result.errors.append(RowError(1, _("not an Amazon order report: the header has no %(columns)s", columns=", ".join(missing))))
    elif twice := sorted({name for name in header if name and header.count(name) > 1}):
        result.errors.append(RowError(1, _("the header names a column twice: %(columns)s", columns=", ".join(twice))))
    elif amounts and len(amounts) != len(AMOUNTS):
        absent = [name for name in AMOUNTS if name not in columns]
        result.errors.append(RowError(1, _("the header has item-price but no %(columns)s", columns=", ".join(absent))))
    if result.errors:
        return result, orders
    has_amounts = bool(amounts)
    result.variant = ORDER_REPORT if has_amounts else UNSHIPPED_REPORT
    item_lines: dict[str, int] = {}
    for number, raw in enumerate(lines[1:], start=2):
        raw = raw.rstrip("\r")
        if not raw.strip():
            continue
        result.rows += 1
        values = raw.split("\t")
        while len(values) > len(header) and not values[-1].strip():
            values.pop()
        if len(values) > len(header):
            result.errors.append(RowError(number, _("%(cells)s cells, but the header has %(columns)s columns", cells=len(values),
                                                                 columns=len(header))))
            continue
        if "\x00" in raw:
            result.errors.append(RowError(number, _("a cell holds a NUL character (the file is damaged)")))
            continue
        row = _Row(dict(zip(header, values + [""] * (len(header) - len(values)))), tz)
        try:
            fields, item = _order_fields(row, columns), _item_fields(row, has_amounts)
            item_id = item["order_item_id"]
            if item_id in item_lines:
                raise _BadRow(_("order-item-id %(item)s is also on line %(line)s", item=item_id, line=item_lines[item_id]))
            known = orders.get(fields["order_id"])
            if known is not None and known.fields != fields:
                differs = next(k for k in fields if fields[k] != known.fields.get(k))
                raise _BadRow(_("order %(order_id)s has another %(column)s on line %(line)s", order_id=fields["order_id"],
                                 column=_column_of(differs), line=known.line))
        except _BadRow as exc:
            result.errors.append(RowError(number, str(exc)))
            continue
        item_lines[item_id] = number
        if known is None:
            orders[fields["order_id"]] = known = _Order(number, fields, [], has_amounts)
        known.items.append((number, item))
    if has_amounts:
        for order in orders.values():
            if sum(sum(item[a] for a in AMOUNTS.values()) for _, item in order.items) > MAX_ORDER_CENTS:
                result.errors.append(RowError(order.line, _("order %(order_id)s: the total is too large",
                                                              order_id=order.fields["order_id"])))
    if not result.rows and not result.errors:
        result.errors.append(RowError(2, _("the file has a header but no orders")))
    result.errors.sort(key=lambda e: e.line)
    return result, orders


def _column_of(attr: str) -> str:
    names = {v: k for k, v in {**ORDER_TEXT, **ORDER_DATES}.items()}
    names.update(ship_country="ship-country", currency="currency", is_business_order="is-business-order")
    return names.get(attr, attr)


# ---------------------------------------------------------------- importing


def _chunks(values: list, size: int = 1000):
    for start in range(0, len(values), size):
        yield values[start:start + size]


def _existing(orders: dict[str, _Order]) -> tuple[dict[str, tuple], dict[str, str]]:
    """The file's orders already in the database as plain rows: order ID -> (order row, its item rows);
    and the order ID owning each of the file's item ids. A few queries, whatever the file's size."""
    found, owners = {}, {}
    table, items = Order.__table__, OrderItem.__table__
    for chunk in _chunks(list(orders)):
        found.update((row.order_id, (row, [])) for row in db.session.execute(
            select(table).where(table.c.order_id.in_(chunk))))
    by_pk = {row.id: lines for row, lines in found.values()}
    for chunk in _chunks(list(by_pk)):
        for item in db.session.execute(select(items).where(items.c.order_id.in_(chunk)).order_by(items.c.id)):
            by_pk[item.order_id].append(item)
    item_ids = [item["order_item_id"] for o in orders.values() for _, item in o.items]
    for chunk in _chunks(item_ids):
        owners.update(db.session.execute(select(items.c.order_item_id, table.c.order_id).join(table)
                                         .where(items.c.order_item_id.in_(chunk))).all())
    return found, owners


def _changes(order, items: list, parsed: _Order, cfg) -> tuple[dict, dict[int, dict]]:
    """What the file says differently about an order already imported (its row and item rows):
    Order columns, and OrderItem columns by item id.

    Buyer, address and items change while the order is Pending or Unshipped; afterwards the record is
    what was shipped or canceled. Amounts: updated while open, filled in once when they were unknown
    (and the file has all the order's items)."""
    is_open, has_amounts = order.status in OPEN, parsed.has_amounts
    # A row without payments-date for an order known to be paid comes from an older report.
    outdated = parsed.fields.get("paid_at") is None and order.paid_at is not None
    changes = {}
    if is_open and not outdated:
        changes = {attr: value for attr, value in parsed.fields.items() if getattr(order, attr) != value}
        if {"purchased_at", "promise_at"} & changes.keys():
            ship_by = workflow.compute_ship_by(changes.get("purchased_at", order.purchased_at),
                                               changes.get("promise_at", order.promise_at), cfg)
            if ship_by != order.ship_by:
                changes["ship_by"] = ship_by
    by_id = {item.order_item_id: item for item in items}
    file_items = {item["order_item_id"]: item for _, item in parsed.items}
    fill = has_amounts and not order.amounts_known and by_id.keys() <= file_items.keys()
    take_amounts = fill or (has_amounts and order.amounts_known and is_open)
    item_changes = {}
    for oid, new in file_items.items():
        item = by_id[oid]
        attrs = [a for a in new if (is_open and a not in AMOUNTS.values()) or (take_amounts and a in AMOUNTS.values())]
        diff = {a: new[a] for a in attrs if getattr(item, a) != new[a]}
        if diff:
            item_changes[item.id] = diff
    if take_amounts:
        paid = sum(sum(item_changes.get(i.id, {}).get(a, getattr(i, a)) for a in AMOUNTS.values()) for i in items)
        if paid != order.paid_cents:
            changes["paid_cents"] = paid
        if fill:
            changes["amounts_known"] = True
    return changes, item_changes


def import_report(data: bytes, user: User | None = None) -> ImportResult:
    """Import an Amazon order report: every order of the file, or (with any bad row) none of them."""
    result, orders = parse(data, workflow.store_tz())
    if result.errors:
        return result
    return import_orders(orders, result, user)


def import_orders(orders: dict[str, _Order], result: ImportResult, user: User | None = None, *,
                  source: str = "import") -> ImportResult:
    """Write checked orders (from a report, or from Amazon's Orders API) in one transaction: new ones added,
    known ones changed by the rules of §8 (nothing downgraded, Pending -> Unshipped when paid)."""
    new = updated = 0
    try:
        with write_transaction(db.session):
            cfg = Settings.current()
            existing, owners = _existing(orders)
            plans = []
            for order_id, parsed in orders.items():
                order, items = existing.get(order_id, (None, []))
                for line, item in parsed.items:
                    owner = owners.get(item["order_item_id"])
                    if owner is not None and owner != order_id:
                        result.errors.append(RowError(line, _("order-item-id %(item)s belongs to order %(owner)s",
                                                              item=item["order_item_id"], owner=owner)))
                    elif order is not None and owner is None:
                        result.errors.append(RowError(line, _(
                            "order %(order_id)s was imported before without item %(item)s; an order cannot gain items",
                            order_id=order_id, item=item["order_item_id"])))
                if order is not None and not result.errors:
                    changes, item_changes = _changes(order, items, parsed, cfg)
                    if changes or item_changes:
                        plans.append(workflow.ReportUpdate(order, items, changes, item_changes))
            if result.errors:
                result.errors.sort(key=lambda e: e.line)
                raise _Refused
            workflow.update_from_reports(plans, user)
            for has_amounts in (True, False):
                workflow.new_orders([(p.fields if has_amounts else {**p.fields, "amounts_known": False},
                                      [item for _, item in p.items]) for oid, p in orders.items()
                                     if oid not in existing and p.has_amounts == has_amounts], user, source=source)
            new, updated = len(orders) - len(existing), len(plans)
    except _Refused:
        return result
    except workflow.WorkflowError as exc:
        result.errors.append(RowError(1, exc.message))
        return result
    except IntegrityError:
        db.session.rollback()
        result.errors.append(RowError(1, _("another import added some of these orders at the same time; "
                                           "upload the file again")))
        return result
    result.new, result.updated, result.unchanged = new, updated, len(orders) - new - updated
    return result


# ---------------------------------------------------------------- exporting

EXPORT_FIRST_LINE = "TemplateType=OrderFulfillment\tVersion=2011.1102"
EXPORT_HEADER = ("order-id", "order-item-id", "quantity", "ship-date", "carrier-code", "carrier-name",
                 "tracking-number", "ship-method")


def _cell(value) -> str:
    """A value on one line of a tab-delimited file."""
    return re.sub(r"[\t\r\n]+", " ", str(value)).strip()


def shipping_confirmations(since: date | None = None, until: date | None = None) -> tuple[str, int]:
    """Amazon's OrderFulfillment file: one row per item of every package in force confirmed (or re-confirmed)
    on the store days since..until, both included, with the units in that package. Returns the text and its
    row count."""
    tz = workflow.store_tz()
    query = (select(Shipment).join(Shipment.order).where(Shipment.superseded_at.is_(None))
             .options(contains_eager(Shipment.order), selectinload(Shipment.items).joinedload(ShipmentItem.item))
             .order_by(Shipment.confirmed_at, Shipment.id))
    if since is not None:
        query = query.where(Shipment.confirmed_at >= clock.local_day_start(since, tz))
    if until is not None:
        query = query.where(Shipment.confirmed_at < clock.local_day_start(until + timedelta(days=1), tz))
    lines = [EXPORT_FIRST_LINE, "\t".join(EXPORT_HEADER)]
    for shipment in db.session.scalars(query):
        for line in shipment.items:
            lines.append("\t".join(_cell(v) for v in (
                shipment.order.order_id, line.item.order_item_id, line.quantity, shipment.ship_date.isoformat(),
                shipment.carrier, shipment.carrier_name, shipment.tracking_id, shipment.shipping_service)))
    return "\n".join(lines) + "\n", len(lines) - 2

"""Upload tracking (contract §12): a file of tracking numbers for many orders, previewed, then confirmed.

Two kinds of file, UTF-8 with or without a BOM: a CSV (comma or tab) whose header names `order-id`, `carrier`,
`tracking-number`, `ship-date` and optionally `shipping-service` (and `carrier-name`, for Other); or Amazon's
shipping confirmation file (the export's format, contract §8: `TemplateType=OrderFulfillment...`, then
`order-id order-item-id quantity ship-date carrier-code carrier-name tracking-number ship-method`).

`preview(data)` reads it and says for each order what would happen: **will ship** (its packages), **unchanged**
(it already shipped with those tracking IDs) or **refused** (the line numbers and why); lines that name no order
are refused on their own. `confirm(data, user)` does it: each order that will ship is confirmed by
`workflow.confirm_shipment` in its own transaction, so a refused order never blocks the others and uploading
the same file again changes nothing. An order's lines with different tracking IDs are its packages; a line of
the Amazon file names its item and quantity, a CSV line doesn't (the units left to ship are then divided
between the order's packages in item order).
"""
from __future__ import annotations

import csv
import gc
import io
import re
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import make_transient_to_detached, selectinload

from . import clock, workflow
from .extensions import db
from .i18n import _, ngettext
from .models import Order, OrderStatus as S, Shipment

MAX_LINES = 20_000
COLUMNS = ("order-id", "carrier", "tracking-number", "ship-date")
# The names a header may use for a column (Amazon's file says carrier-code and ship-method).
ALIASES = {"carrier-code": "carrier", "tracking-id": "tracking-number", "ship-method": "shipping-service",
           "shipping-method": "shipping-service", "service": "shipping-service", "tracking": "tracking-number"}
CARRIERS = {re.sub(r"\W", "", c).lower(): c for c in workflow.CARRIERS}
_DAY = re.compile(r"(\d{4})-(\d{2})-(\d{2})(?:[T ].*)?|(\d{1,2})/(\d{1,2})/(\d{4})", re.ASCII)

WILL_SHIP, SHIPPED, UNCHANGED, REFUSED = "will ship", "shipped", "unchanged", "refused"


@dataclass
class Line:
    """One line of the file, read."""
    number: int
    order_id: str
    carrier: str = ""
    carrier_name: str = ""
    tracking_id: str = ""
    ship_date: date | None = None
    service: str = ""
    order_item_id: str = ""
    quantity: int | None = None
    problem: str = ""  # why this line cannot be used ("" when it can)


@dataclass
class Outcome:
    """What happens (or happened) to one order of the file: `state` is WILL_SHIP, SHIPPED, UNCHANGED or REFUSED."""
    order_id: str
    lines: list[int]
    state: str
    reasons: list[str] = field(default_factory=list)  # why refused, line by line; notes for the others
    packages: list[workflow.ShipmentInput] = field(default_factory=list)
    order: Order | None = field(default=None, repr=False)
    known: bool = False  # the order exists (its ID links to its page)

    def __post_init__(self):
        self.known = self.known or self.order is not None

    @property
    def what(self) -> str:
        """The packages in words: 'UPS 1Z…, USPS 94…'."""
        return ", ".join(f"{p.carrier_name or p.carrier} {p.tracking_id}" for p in self.packages)


@dataclass
class Plan:
    """The file's outcomes, one per order in the order of the file; `error`: the file can't be read at all."""
    outcomes: list[Outcome] = field(default_factory=list)
    lines: int = 0
    error: str = ""
    confirmed: bool = False  # done by `confirm` (else a preview)

    def count(self, state: str) -> int:
        return sum(1 for o in self.outcomes if o.state == state)

    @property
    def to_ship(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.state == WILL_SHIP]


# ---------------------------------------------------------------- reading


def _header_name(cell: str) -> str:
    name = re.sub(r"[\s_]+", "-", cell.strip().lower())
    return ALIASES.get(name, name)


def _day(text: str, today: date) -> tuple[date | None, str]:
    m = _DAY.fullmatch(text.strip())
    try:
        if m and m.group(1):
            day = date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
        elif m:
            day = date(int(m.group(6)), int(m.group(4)), int(m.group(5)))
        else:
            raise ValueError(text)
    except ValueError:
        return None, _("the ship date “%(value)s” is not a date (YYYY-MM-DD).", value=text.strip()[:40])
    if day > today:
        return None, _("the ship date %(day)s is in the future.", day=day.isoformat())
    if day.year < 2000:
        return None, _("the ship date %(day)s is too long ago.", day=day.isoformat())
    return day, ""


def read(data: bytes, today: date) -> tuple[list[Line], str]:
    """The file's lines (each with its problem, if any), or the reason the whole file can't be read."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return [], _("This file is not UTF-8 text. Save it as CSV UTF-8 (or tab-delimited text) and upload it again.")
    rows = text.splitlines()
    first = 1
    if rows and rows[0].startswith("TemplateType="):  # Amazon's shipping confirmation file
        first = 2
    if len(rows) < first:
        return [], _("This file is empty.")
    header_line = rows[first - 1]
    delimiter = "\t" if "\t" in header_line else ","
    reader = csv.reader(io.StringIO("\n".join(rows[first - 1:])), delimiter=delimiter)
    header = [_header_name(cell) for cell in next(reader, [])]
    missing = [c for c in COLUMNS if c not in header]
    if missing:
        return [], _("The first line must name the columns order-id, carrier, tracking-number, ship-date (and "
                     "optionally shipping-service). Missing: %(missing)s.", missing=", ".join(missing))
    at = {name: header.index(name) for name in set(header)}
    lines = []
    for number, cells in enumerate(reader, first + 1):
        if not any(c.strip() for c in cells):
            continue
        if len(lines) >= MAX_LINES:
            return [], _("This file has more than %(count)d lines: upload it in parts.", count=MAX_LINES)
        lines.append(_line(number, cells, at, len(header), today))
    if not lines:
        return [], _("This file has a header but no lines.")
    return lines, ""


def _line(number: int, cells: list[str], at: dict[str, int], width: int, today: date) -> Line:
    cell = lambda name: cells[at[name]].strip() if name in at and at[name] < len(cells) else ""  # noqa: E731
    line = Line(number, cell("order-id"), carrier_name=cell("carrier-name"),
                tracking_id=workflow.normalize_tracking(cell("tracking-number")), service=cell("shipping-service"),
                order_item_id=cell("order-item-id"))
    if len(cells) < len(COLUMNS) or len(cells) > width:
        line.problem = _("this line has %(found)d columns; the header has %(count)d.", found=len(cells), count=width)
        return line
    if not line.order_id:
        line.problem = _("the order-id is empty.")
        return line
    carrier = cell("carrier")
    line.carrier = CARRIERS.get(re.sub(r"\W", "", carrier).lower(), "")
    if not line.carrier:
        line.problem = _("unknown carrier “%(carrier)s”.", carrier=carrier[:40]) if carrier else _("no carrier.")
    elif line.carrier == "Other" and not line.carrier_name:
        line.problem = _("carrier Other needs a carrier-name.")
    elif not line.tracking_id:
        line.problem = _("no tracking number.")
    elif len(line.tracking_id) > 100 or len(line.service) > 100 or len(line.carrier_name) > 100:
        line.problem = _("a value is longer than 100 characters.")
    else:
        line.ship_date, line.problem = _day(cell("ship-date"), today)
    quantity = cell("quantity")
    if not line.problem and "quantity" in at and line.order_item_id:
        if not re.fullmatch(r"[0-9]{1,5}", quantity, re.ASCII) or int(quantity) == 0:
            line.problem = _("the quantity “%(value)s” is not a number of units.", value=quantity[:20])
        else:
            line.quantity = int(quantity)
    return line


# ---------------------------------------------------------------- planning


def _orders(order_ids: list[str]) -> dict[str, Order]:
    found = {}
    for start in range(0, len(order_ids), 500):
        chunk = order_ids[start:start + 500]
        found.update((o.order_id, o) for o in db.session.scalars(
            select(Order).where(Order.order_id.in_(chunk))
            .options(selectinload(Order.items), selectinload(Order.shipments).selectinload(Shipment.items))))
    return found


def _split(left: list[tuple[int, int]], parts: int) -> list[dict[int, int]]:
    """`left` units ((item id, units) in item order) divided into `parts` packages as evenly as possible."""
    units = [item_id for item_id, n in left for _ in range(n)]
    size, extra = divmod(len(units), parts)
    packages, start = [], 0
    for k in range(parts):
        end = start + size + (1 if k < extra else 0)
        held: dict[int, int] = {}
        for item_id in units[start:end]:
            held[item_id] = held.get(item_id, 0) + 1
        packages.append(held)
        start = end
    return packages


def _outcome(order_id: str, lines: list[Line], order: Order | None) -> Outcome:
    """What the file's lines for one order make of it."""
    numbers = [line.number for line in lines]
    refused = lambda *reasons: Outcome(order_id, numbers, REFUSED, list(reasons), order=order)  # noqa: E731
    problems = [_("Line %(line)d: %(problem)s", line=line.number, problem=line.problem) for line in lines
                if line.problem]
    if problems:
        return refused(*problems)
    if order is None:
        return refused(_("Line %(line)d: unknown order.", line=numbers[0]))
    if order.status == S.PENDING:
        return refused(_("Line %(line)d: the order is Pending (not paid yet).", line=numbers[0]))
    if order.status == S.CANCELED:
        return refused(_("Line %(line)d: the order is Canceled.", line=numbers[0]))
    items = {item.order_item_id: item for item in order.items}
    notes, seen, packages = [], {}, {}  # packages: tracking ID -> its lines
    for line in lines:
        key = (line.tracking_id, line.order_item_id)
        if key in seen:
            notes.append(_("Line %(line)d repeats line %(first)d.", line=line.number, first=seen[key]))
            continue
        seen[key] = line.number
        if line.order_item_id and line.order_item_id not in items:
            return refused(_("Line %(line)d: the order has no item %(item)s.", line=line.number,
                             item=line.order_item_id[:40]))
        packages.setdefault(line.tracking_id, []).append(line)
    in_force = {p.tracking_id for p in order.packages}
    new = {tracking: group for tracking, group in packages.items() if tracking not in in_force}
    if not new:
        return Outcome(order_id, numbers, UNCHANGED, notes, order=order)
    if order.status == S.SHIPPED:
        return refused(_("Line %(line)d: the order has already shipped with tracking ID %(tracking)s. Use Edit "
                         "shipment to change it.", line=new[next(iter(new))][0].number,
                         tracking=", ".join(p.tracking_id for p in order.packages)))
    inputs = []
    for group in new.values():
        first = group[0]
        units = None
        if any(line.order_item_id for line in group):
            units = {}
            for line in group:
                if line.order_item_id:
                    item_id = items[line.order_item_id].id
                    units[item_id] = units.get(item_id, 0) + (line.quantity or items[line.order_item_id].quantity)
        inputs.append(workflow.ShipmentInput(carrier=first.carrier, carrier_name=first.carrier_name,
                                             tracking_id=first.tracking_id, ship_date=first.ship_date,
                                             shipping_service=first.service, items=units))
    loose = [p for p in inputs if p.items is None]
    if len(loose) > 1:  # a CSV's lines: the units left are divided between them
        left = [(item.id, n) for item, n in order.left_to_ship]
        if sum(n for _i, n in left) < len(loose):
            return refused(ngettext("Lines %(lines)s: %(count)d packages, but only %(num)d unit is left to ship.",
                                    "Lines %(lines)s: %(count)d packages, but only %(num)d units are left to ship.",
                                    sum(n for _i, n in left), lines=", ".join(map(str, numbers)), count=len(loose)))
        for package, units in zip(loose, _split(left, len(loose))):
            package.items = units
    try:
        workflow.check_packages(order, inputs)
    except workflow.WorkflowError as exc:
        return refused(_("Lines %(lines)s: %(problem)s", lines=", ".join(map(str, numbers)), problem=exc.message))
    return Outcome(order_id, numbers, WILL_SHIP, notes, inputs, order=order)


def preview(data: bytes) -> Plan:
    """What the file would do, order by order; nothing is written."""
    lines, error = read(data, clock.local_today(workflow.store_tz()))
    if error:
        return Plan(error=error)
    groups: dict[str, list[Line]] = {}
    outcomes = []
    for line in lines:
        if line.order_id:
            groups.setdefault(line.order_id, []).append(line)
        else:
            outcomes.append(Outcome("", [line.number], REFUSED, [_("Line %(line)d: %(problem)s", line=line.number,
                                                                   problem=line.problem)]))
    orders = _orders(list(groups))
    outcomes += [_outcome(order_id, group, orders.get(order_id)) for order_id, group in groups.items()]
    outcomes.sort(key=lambda o: o.lines[0])
    return Plan(outcomes, len(lines))


def summary(plan: Plan) -> str:
    """'3 orders will ship, 1 unchanged, 2 refused (6 lines).' (once confirmed: shipped)."""
    first = (ngettext("%(num)d order shipped", "%(num)d orders shipped", plan.count(SHIPPED)) if plan.confirmed else
             ngettext("%(num)d order will ship", "%(num)d orders will ship", plan.count(WILL_SHIP)))
    return _("%(first)s, %(unchanged)d unchanged, %(refused)d refused (%(lines)d lines).", first=first,
             unchanged=plan.count(UNCHANGED), refused=plan.count(REFUSED), lines=plan.lines)


def _by_id(pk: int) -> Order:
    """The order with this id, read when the verb first asks (in its transaction) instead of once before it."""
    order = db.session.identity_map.get(db.session.identity_key(Order, pk))
    if order is None:
        order = Order(id=pk)
        make_transient_to_detached(order)
        db.session.add(order)
    return order


def confirm(data: bytes, user) -> Plan:
    """Do what the preview says: each order that will ship is confirmed in its own transaction (a refusal there,
    say the order changed since, refuses that order alone). Returns the outcomes, SHIPPED for those confirmed."""
    plan = preview(data)
    plan.confirmed = not plan.error
    # Each order is read again by itself: a session holding thousands of orders would expire all of them at every
    # commit (and the order may have changed since the preview read it). Unreferenced, they leave the session's
    # (weak) identity map; an order and its items refer to each other, hence the collection.
    todo = [(outcome, outcome.order.id) for outcome in plan.to_ship]
    for outcome in plan.outcomes:
        outcome.order = None
    gc.collect()
    for outcome, pk in todo:
        try:
            workflow.confirm_shipment(_by_id(pk), user, outcome.packages)
        except workflow.WorkflowError as exc:
            outcome.state, outcome.reasons = REFUSED, [*outcome.reasons, exc.message]
        else:
            outcome.state = SHIPPED
    return plan

"""Which orders a list request means: tabs, dates, Advanced Search and the Search orders box.

Order ID, Buyer email, SKU and Tracking ID are exact matches on indexed columns (an IN subquery
for the items' and shipments' columns); Buyer name and Product name match what they contain,
case aside (on PostgreSQL through pg_trgm indexes; SQLite scans). The Search orders box first asks
which of order ID, buyer email, SKU and tracking ID equal what was typed (one statement of four
indexed EXISTS) and keeps only those, so the list's queries can use that one index; only when none
does, it looks for orders whose ID, buyer name, SKU, product name or tracking ID contains it (a
UNION of one query per table, each of which PostgreSQL answers from its trigram indexes).

A page is picked by its ids first (from an index that holds the filter's and the sort's columns,
without reading the rows it skips), then only those orders are loaded: page 2,000 costs about
what page 2 does.
"""
from datetime import date, datetime, timedelta

from sqlalchemy import Select, and_, case, exists, func, or_, select, union
from werkzeug.datastructures import MultiDict

from . import clock
from .forms.orders import PAGE_SIZES, SORTS, STATUSES, FilterForm
from .extensions import db
from .models import Order, OrderItem, Shipment
from .templating import store_settings
from .workflow import normalize_tracking

DEFAULT_DAYS = 7
# Work queues: their tabs list every order in that status, whatever its date (the default 7 days would hide the
# most overdue), unless From or To is set.
QUEUES = ("Pending", "Unshipped")
ORDERINGS = {
    "date": (Order.purchased_at.desc(), Order.id.desc()),
    "date_asc": (Order.purchased_at.asc(), Order.id.asc()),
    "ship_by": (Order.ship_by.asc(), Order.id.asc()),
    "ship_by_desc": (Order.ship_by.desc(), Order.id.desc()),
}


def _contains(column, text: str, wildcard: str = "%"):
    """Case-insensitive "contains" (with `wildcard=""`: equals). SQLite's LIKE already ignores (ASCII) case, and
    is twice as fast as ILIKE; PostgreSQL answers ILIKE from the column's pg_trgm index."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    like = column.like if db.engine.dialect.name == "sqlite" else column.ilike
    return like(f"{wildcard}{escaped}{wildcard}", escape="\\")


def _variants(*values: str) -> list[str]:
    """As typed and in the column's usual case (SKUs upper, e-mail addresses lower), once each."""
    return list(dict.fromkeys(values))


def _sku_orders(sku: str) -> Select:
    return select(OrderItem.order_id).where(OrderItem.sku.in_(_variants(sku, sku.upper())))


def _tracking_orders(tracking_id: str) -> Select:
    """Any shipment the order had, the superseded ones included."""
    return select(Shipment.order_id).where(Shipment.tracking_id == normalize_tracking(tracking_id))


def _with_sku(sku: str):
    return Order.id.in_(_sku_orders(sku))


def _with_tracking(tracking_id: str):
    return Order.id.in_(_tracking_orders(tracking_id))


def _with_product(text: str):
    return Order.id.in_(select(OrderItem.order_id).where(_contains(OrderItem.product_name, text)))


def _with_email(email: str):
    return Order.buyer_email.in_(_variants(email, email.lower()))


def _search_box(q: str):
    """Search orders: the exact order ID, buyer email, SKU or tracking ID matches there are (each kind that
    matches, alone: one index each), else "contains" over order ID, buyer name, SKU, product name, tracking ID."""
    exact = [(exists().where(Order.order_id == q), Order.order_id == q),
             (exists().where(_with_email(q)), _with_email(q)),
             (exists(_sku_orders(q)), _with_sku(q)), (exists(_tracking_orders(q)), _with_tracking(q))]
    hits = db.session.execute(select(*[probe for probe, _ in exact])).one()
    found = [kind for (_, kind), hit in zip(exact, hits) if hit]
    if found:
        return or_(*found)
    return Order.id.in_(union(
        select(Order.id).where(or_(_contains(Order.order_id, q), _contains(Order.buyer_name, q))),
        select(OrderItem.order_id).where(or_(_contains(OrderItem.sku, q), _contains(OrderItem.product_name, q))),
        select(Shipment.order_id).where(_contains(Shipment.tracking_id, normalize_tracking(q) or q))))


class OrderFilter:
    """The list's GET arguments, parsed once: the criteria, the date window, the tab, sort and page."""

    def __init__(self, args, now: datetime | None = None):
        self.form = form = FilterForm(formdata=args if hasattr(args, "getlist") else MultiDict(args))
        form.validate()
        self.tz = clock.store_tz(store_settings().timezone)
        value = lambda field: "" if field.errors else (field.data or "")  # noqa: E731
        self.values = {name: value(form[name]) for name in FilterForm.CRITERIA}
        self.status = form.status.data if form.status.data in STATUSES else ""
        self.sort = form.sort.data if form.sort.data in SORTS else "date"
        self.per_page = int(form.per_page.data) if form.per_page.data in {str(n) for n in PAGE_SIZES} \
            else PAGE_SIZES[0]
        self.page = form.page.data if not form.page.errors and (form.page.data or 0) > 0 else 1
        first = None if form.date_from.errors or form.date_to.errors else form.date_from.data
        last = None if form.date_from.errors or form.date_to.errors else form.date_to.data
        # No dates and no criteria: the orders purchased in the last 7 days of the store's calendar.
        self.default_window = not (first or last or any(self.values.values()))
        if self.default_window:
            last = clock.local_today(self.tz, now or clock.now())
            first = last - timedelta(days=DEFAULT_DAYS - 1)
        self.first_day: date | None = first
        self.last_day: date | None = last
        self._box = _search_box(self.values["q"]) if self.values["q"] else None

    def dated(self, status: str = "") -> bool:
        """Whether the tab of `status` ("" = All) is narrowed by dates (typed, or the default 7 days)."""
        return bool(self.first_day or self.last_day) and not (self.default_window and status in QUEUES)

    @property
    def advanced(self) -> bool:
        """Whether an Advanced Search criterion is set (the panel then stays open)."""
        return any(self.form[name].data for name in FilterForm.ADVANCED if name != "status")  # a tab is no criterion

    def conditions(self, status: str = "") -> list:
        """Everything but the status tab, for the tab of `status` ("" = All)."""
        v, found = self.values, []
        if self.dated(status) and self.first_day:
            found.append(Order.purchased_at >= clock.local_day_start(self.first_day, self.tz))
        if self.dated(status) and self.last_day:
            found.append(Order.purchased_at < clock.local_day_start(self.last_day + timedelta(days=1), self.tz))
        if v["q"]:
            found.append(self._box)
        if v["order_id"]:
            found.append(Order.order_id == v["order_id"])
        if v["buyer_name"]:
            found.append(_contains(Order.buyer_name, v["buyer_name"]))
        if v["buyer_email"]:
            found.append(_with_email(v["buyer_email"]))
        if v["sku"]:
            found.append(_with_sku(v["sku"]))
        if v["product_name"]:
            found.append(_with_product(v["product_name"]))
        if v["tracking_id"]:
            found.append(_with_tracking(v["tracking_id"]))
        if v["service"]:
            found.append(_contains(Order.ship_service_level, v["service"], wildcard=""))
        return found

    def select(self, status: str = "") -> Select:
        """select(Order) with every criterion, of one status when given (its tab's dates), newest first."""
        stmt = select(Order).where(*self.conditions(status))
        return (stmt.where(Order.status == status) if status else stmt).order_by(*ORDERINGS["date"])

    def page_select(self) -> Select:
        """The orders of the current tab, sort and page: the page's ids first (a deferred join), then the rows."""
        ids = select(Order.id).where(*self.conditions(self.status))
        if self.status:
            ids = ids.where(Order.status == self.status)
        page = (ids.order_by(*ORDERINGS[self.sort]).limit(self.per_page)
                .offset((self.page - 1) * self.per_page).subquery())
        return select(Order).join(page, Order.id == page.c.id).order_by(*ORDERINGS[self.sort])

    def counts(self) -> dict[str, int]:
        """Orders per status tab under the current criteria, each tab counted over its own dates ("All" over the
        list's): a GROUP BY, and a second one for the work queues when only the default window hides them.

        Naming the statuses lets SQLite count from the (status, purchased_at) index alone."""
        dated = self.conditions()
        if self.dated() and not self.dated(QUEUES[0]):  # one query: the window, and the queues of every date
            in_window = and_(*dated)
            rows = db.session.execute(select(
                Order.status, func.count(), func.sum(case((in_window, 1), else_=0))).where(
                *self.conditions(QUEUES[0]), or_(in_window, Order.status.in_(QUEUES))).group_by(Order.status)).all()
            counts = {status: every if status in QUEUES else window for status, every, window in rows}
            total = sum(window for _, _, window in rows)
        else:
            counts = dict(db.session.execute(select(Order.status, func.count()).where(
                *dated, Order.status.in_(STATUSES)).group_by(Order.status)).all())
            total = sum(counts.values())
        return {"All": total, **{s: counts.get(s, 0) for s in STATUSES}}


def filtered_orders(args, status: str = "", now: datetime | None = None) -> Select:
    """select(Order) narrowed by the list's GET arguments, of one status when given, newest first.

    Without dates or criteria it is the default list: the last 7 days in the store's timezone, except for the
    work queues (Pending, Unshipped), which hold every order in their status."""
    return OrderFilter(args, now).select(status)

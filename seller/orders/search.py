"""Which orders a list request means: tabs, dates, Advanced Search and the Search orders box.

Order ID, Buyer email, SKU and Tracking ID are exact matches on indexed columns (an IN subquery
for the items' and shipments' columns); Buyer name and Product name match what they contain,
case aside, and scan. The Search orders box first looks for an order ID, buyer email, SKU or
tracking ID equal to what was typed (indexed, so instant); only when none is, it looks for orders
whose ID, buyer name, SKU or product name contains it.
"""
from datetime import date, datetime, timedelta

from sqlalchemy import Select, func, or_, select
from werkzeug.datastructures import MultiDict

from .. import clock
from ..forms.orders import PAGE_SIZES, SORTS, STATUSES, FilterForm
from ..extensions import db
from ..models import Order, OrderItem, Shipment
from ..templating import store_settings
from ..workflow import normalize_tracking

DEFAULT_DAYS = 7
ORDERINGS = {
    "date": (Order.purchased_at.desc(), Order.id.desc()),
    "date_asc": (Order.purchased_at.asc(), Order.id.asc()),
    "ship_by": (Order.ship_by.asc(), Order.id.asc()),
    "ship_by_desc": (Order.ship_by.desc(), Order.id.desc()),
}


def _contains(column, text: str):
    """Case-insensitive "contains": SQLite's LIKE already ignores (ASCII) case, and is twice as fast as ILIKE."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    like = column.like if db.engine.dialect.name == "sqlite" else column.ilike
    return like(f"%{escaped}%", escape="\\")


def _variants(*values: str) -> list[str]:
    """As typed and in the column's usual case (SKUs upper, e-mail addresses lower), once each."""
    return list(dict.fromkeys(values))


def _with_sku(sku: str):
    return Order.id.in_(select(OrderItem.order_id).where(OrderItem.sku.in_(_variants(sku, sku.upper()))))


def _with_tracking(tracking_id: str):
    """Any shipment the order had, the superseded ones included."""
    return Order.id.in_(select(Shipment.order_id).where(Shipment.tracking_id == normalize_tracking(tracking_id)))


def _with_product(text: str):
    return Order.id.in_(select(OrderItem.order_id).where(_contains(OrderItem.product_name, text)))


def _with_email(email: str):
    return Order.buyer_email.in_(_variants(email, email.lower()))


def _search_box(q: str):
    """Search orders: an exact order ID, buyer email, SKU or tracking ID if one matches, else "contains"."""
    exact = or_(Order.order_id == q, _with_email(q), _with_sku(q), _with_tracking(q))
    if db.session.scalar(select(Order.id).where(exact).limit(1)) is not None:
        return exact
    return or_(_contains(Order.order_id, q), _contains(Order.buyer_name, q),
               Order.id.in_(select(OrderItem.order_id).where(or_(_contains(OrderItem.sku, q),
                                                                  _contains(OrderItem.product_name, q)))))


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

    @property
    def advanced(self) -> bool:
        """Whether an Advanced Search criterion is set (the panel then stays open)."""
        return any(self.form[name].data for name in FilterForm.ADVANCED)

    def conditions(self) -> list:
        """Everything but the status tab."""
        v, found = self.values, []
        if self.first_day:
            found.append(Order.purchased_at >= clock.local_day_start(self.first_day, self.tz))
        if self.last_day:
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
            found.append(func.lower(Order.ship_service_level) == v["service"].lower())
        return found

    def select(self) -> Select:
        """select(Order) with every criterion but the status tab, newest first."""
        return select(Order).where(*self.conditions()).order_by(*ORDERINGS["date"])

    def page_select(self) -> Select:
        """The orders of the current tab, sort and page."""
        stmt = select(Order).where(*self.conditions())
        if self.status:
            stmt = stmt.where(Order.status == self.status)
        return (stmt.order_by(*ORDERINGS[self.sort]).limit(self.per_page)
                .offset((self.page - 1) * self.per_page))

    def counts_select(self) -> Select:
        """Orders per status under the current criteria: one GROUP BY.

        With dates only, naming every status lets SQLite count from the (status, purchased_at) index alone."""
        stmt = select(Order.status, func.count()).where(*self.conditions()).group_by(Order.status)
        if not any(self.values.values()):
            stmt = stmt.where(Order.status.in_(STATUSES))
        return stmt


def filtered_orders(args, now: datetime | None = None) -> Select:
    """select(Order) narrowed by the list's GET arguments (status tab excluded), newest first.

    Without dates or criteria it is the default list: the last 7 days in the store's timezone."""
    return OrderFilter(args, now).select()

"""Seller performance as Amazon measures it, computed from the app's own records.

- **Late Shipment Rate**: orders whose shipment was confirmed after Ship by ÷ orders confirmed, over the
  last 10 and the last 30 days, by the day the order was shipped in full, `orders.shipped_at`; lateness is the
  `orders.late` the workflow records: any confirmation of it (a partial one too) after Ship by. Target: under 4 %.
- **Pre-fulfillment Cancel Rate**: orders canceled by the seller ÷ all orders, last 7 days. The window is on
  the *order date*, as Amazon's is: a cancellation counts on the day the order was placed, so the figure of
  a week can still rise while its orders are open. Cancellations with reason "Buyer canceled" do not count.
  Every cancellation in this app is pre-fulfillment (shipped orders cannot be canceled). Target: under 2.5 %.
- **Valid Tracking Rate**: packages whose tracking ID matches its carrier's format *and* whose carrier is a
  listed one ÷ packages, last 30 days, as Amazon counts it (per package). The packages in force (a tracking ID
  corrected with Edit shipment counts as corrected), dated by their confirmation (a re-confirmation anew). Validity is
  `shipments.tracking_valid` (written by `workflow.tracking_matches`) and a listed carrier, so "Other" never
  counts as valid, whatever carrier name was typed. Target: at least 95 %.

A window of N days is today and the N - 1 store days before it, in the store's timezone (its own UTC offset
on each side of a DST change). Rates come from SQL counts per store day, each over an index range, never from
orders loaded into Python; a window without orders has no rate (`Rate.percent` is None: "no orders"), not 0 %.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import DateTime, Integer, and_, bindparam, case, column, func, select, text

from . import clock, workflow
from .extensions import db
from .models import Cancellation, Order, OrderStatus, Shipment
from .templating import local_time
from .i18n import _, _l

CHART_DAYS = 30
AT_RISK_HOURS = 12  # Amazon's "verge of late shipment"
BUYER_CANCELED = "Buyer canceled"
LISTED_CARRIERS = [c for c in workflow.CARRIERS if c != "Other"]


@dataclass(frozen=True)
class Rate:
    """`count` of `total`; no rate at all when nothing happened."""
    count: int = 0
    total: int = 0

    def __add__(self, other: Rate) -> Rate:
        return Rate(self.count + other.count, self.total + other.total)

    @property
    def percent(self) -> Decimal | None:
        return Decimal(self.count * 100) / self.total if self.total else None


@dataclass(frozen=True)
class Definition:
    slug: str
    name: str
    target: Decimal  # percent
    higher_is_better: bool
    windows: tuple[int, ...]  # days; the drill-down lists the longest
    counted: str  # what the numerator counts, e.g. "late"
    of: str  # what the denominator counts, e.g. "orders confirmed"
    against: str  # what counts against the rate, for the drill-down's heading
    date_label: str  # the date that places an order in the window
    explain: str  # how it is counted, in a seller's words

    @property
    def target_text(self) -> str:
        target = pct(self.target, places=None)
        return _("at least %(target)s", target=target) if self.higher_is_better else _("under %(target)s", target=target)

    def meets(self, rate: Rate) -> bool | None:
        """True when the rate meets the target, None when there is no rate."""
        if not rate.total:
            return None
        scaled = Decimal(rate.count * 100)
        return scaled >= self.target * rate.total if self.higher_is_better else scaled < self.target * rate.total

    def against_count(self, rate: Rate) -> int:
        """Orders counted against the rate: the numerator, or for a higher-is-better rate what is missing."""
        return rate.total - rate.count if self.higher_is_better else rate.count


LATE_SHIPMENT = Definition(
    "late-shipment-rate", _l("Late Shipment Rate"), Decimal(4), False, (10, 30), _l("late"), _l("orders confirmed"),
    _l("Shipments confirmed after Ship by"), _l("Confirmed"),
    _l("Orders whose shipment you confirmed after Ship by, of the orders you confirmed, by day of confirmation."))
CANCEL = Definition(
    "cancel-rate", _l("Pre-fulfillment Cancel Rate"), Decimal("2.5"), False, (7,), _l("canceled by you"), _l("orders"),
    _l("Orders you canceled (Buyer canceled not counted)"), _l("Order date"),
    _l("Orders you canceled before shipping, of all orders, by order date. Buyer canceled does not count."))
VALID_TRACKING = Definition(
    "valid-tracking-rate", _l("Valid Tracking Rate"), Decimal(95), True, (30,), _l("with valid tracking"), _l("shipments"),
    _l("Shipments without valid tracking"), _l("Confirmed"),
    _l("Shipments whose tracking ID fits a listed carrier's format, by day of confirmation. Carrier Other never counts."))
DEFINITIONS = {d.slug: d for d in (LATE_SHIPMENT, CANCEL, VALID_TRACKING)}


def pct(value: Decimal | None, places: int | None = 2) -> str:
    """'3.45%'; a whole target as '4%'; None as 'no orders'."""
    if value is None:
        return _("no orders")
    if places is None:
        return f"{value.normalize():f}%"
    return f"{value.quantize(Decimal(1).scaleb(-places)):f}%"


@dataclass(frozen=True)
class Window:
    days: int
    first: date
    last: date
    rate: Rate


@dataclass(frozen=True)
class Metric:
    definition: Definition
    windows: list[Window]
    daily: list[tuple[date, Rate]]  # the last CHART_DAYS store days, oldest first

    @property
    def longest(self) -> Window:
        return self.windows[-1]


# ---------------------------------------------------------------- store days as SQL


@dataclass(frozen=True)
class Days:
    """The last CHART_DAYS store days and their UTC bounds (bounds[i] <= a time of day i < bounds[i + 1])."""
    days: list[date]
    bounds: list[datetime]

    @classmethod
    def ending(cls, now: datetime, tz) -> Days:
        today = clock.local_today(tz, now)
        days = [today - timedelta(days=CHART_DAYS - 1 - i) for i in range(CHART_DAYS)]
        return cls(days, [clock.local_day_start(d, tz) for d in days]
                   + [clock.local_day_start(today + timedelta(days=1), tz)])

    def last(self, n: int) -> tuple[datetime, datetime]:
        """[start, end) in UTC of the last n days."""
        return self.bounds[-n - 1], self.bounds[-1]

    def table(self):
        """The days as a derived table (i, lo, hi) of UTC bounds: constant rows (as text: a cheap cache key)."""
        sql = " UNION ALL ".join(f"SELECT {i} AS i, :lo{i} AS lo, :hi{i} AS hi" for i in range(len(self.days)))
        params = [bindparam(f"{k}{i}", t, DateTime) for i, (lo, hi) in enumerate(zip(self.bounds, self.bounds[1:]))
                  for k, t in (("lo", lo), ("hi", hi))]
        return (text(sql).bindparams(*params)
                .columns(column("i", Integer), column("lo", DateTime), column("hi", DateTime)).subquery("days"))


def _count(model, column_, *where):
    """A count of `model` rows whose `column_` falls on a given day (the day's bounds are filled in later)."""
    return lambda lo, hi: select(func.count()).select_from(model).where(column_ >= lo, column_ < hi, *where)


def _per_day(days: Days, *counts) -> list[tuple[int, ...]]:
    """For each store day, each of `counts`, in one statement: a correlated COUNT per day and count, each an
    index range scan (in SQLite three times faster than one GROUP BY day, which sorts every row)."""
    t = days.table()
    rows = db.session.execute(select(t.c.i, *[count(t.c.lo, t.c.hi).scalar_subquery() for count in counts]))
    by_day = {i: tuple(row) for i, *row in rows}
    return [by_day[i] for i in range(len(days.days))]


CURRENT_SHIPMENT = and_(Shipment.order_id == Order.id, Shipment.superseded_at.is_(None))
TRACKING_VALID = and_(Shipment.tracking_valid.is_(True), Shipment.carrier.in_(LISTED_CARRIERS))


def _metric(definition: Definition, days: Days, daily: list[Rate]) -> Metric:
    windows = [Window(n, days.days[-n], days.days[-1], sum(daily[-n:], Rate())) for n in definition.windows]
    return Metric(definition, windows, list(zip(days.days, daily)))


def report(now: datetime | None = None) -> list[Metric]:
    """The three rates with their windows and their last CHART_DAYS days, from one statement."""
    days = Days.ending(now or clock.now(), workflow.store_tz())
    # Only cancel_order makes an order Canceled: the status narrows the scan to canceled orders (by index).
    canceled = and_(Order.status == OrderStatus.CANCELED.value, Cancellation.order_id == Order.id,
                    Cancellation.reason != BUYER_CANCELED)
    current = Shipment.superseded_at.is_(None)
    counts = _per_day(days, _count(Order, Order.shipped_at), _count(Order, Order.shipped_at, Order.late.is_(True)),
                      _count(Order, Order.purchased_at), _count(Order, Order.purchased_at, canceled),
                      _count(Shipment, Shipment.confirmed_at, current),
                      _count(Shipment, Shipment.confirmed_at, current, TRACKING_VALID))
    late, cancel, tracking = [], [], []
    for confirmed, confirmed_late, ordered, seller_canceled, shipments, valid in counts:
        late.append(Rate(confirmed_late, confirmed))
        cancel.append(Rate(seller_canceled, ordered))
        tracking.append(Rate(valid, shipments))
    return [_metric(LATE_SHIPMENT, days, late), _metric(CANCEL, days, cancel),
            _metric(VALID_TRACKING, days, tracking)]


# ---------------------------------------------------------------- orders at risk of shipping late


@dataclass(frozen=True)
class AtRisk:
    id: int
    order_id: str
    purchased_at: datetime
    ship_by: datetime
    left: timedelta  # until Ship by; negative once past it

    @property
    def past(self) -> bool:
        return self.left < timedelta(0)


def _at_risk(now: datetime):
    return and_(Order.status == OrderStatus.UNSHIPPED.value, Order.ship_by <= now + timedelta(hours=AT_RISK_HOURS))


def at_risk_count(now: datetime | None = None) -> int:
    """Unshipped orders past Ship by or due within 12 hours (Manage Orders shows it as a badge on its tabs)."""
    return db.session.scalar(select(func.count()).select_from(Order).where(_at_risk(now or clock.now())))


def next_at_risk_change(now: datetime) -> datetime:
    """When the at-risk count next grows by time alone: an Unshipped order coming within 12 hours of Ship by."""
    due = db.session.scalar(select(func.min(Order.ship_by)).where(Order.status == OrderStatus.UNSHIPPED.value,
                                                                  Order.ship_by > now + timedelta(hours=AT_RISK_HOURS)))
    return due - timedelta(hours=AT_RISK_HOURS) if due else datetime.max


def at_risk(now: datetime | None = None, limit: int | None = None) -> list[AtRisk]:
    """Those orders, the ones that can still ship on time first (soonest due first), then those past Ship by
    (most recently due first: the long-forgotten ones are the least likely to be saved)."""
    now = now or clock.now()
    rows = db.session.execute(select(Order.id, Order.order_id, Order.purchased_at, Order.ship_by)
                              .where(_at_risk(now))
                              .order_by(Order.ship_by < now, case((Order.ship_by >= now, Order.ship_by)),
                                        Order.ship_by.desc(), Order.id).limit(limit))
    return [AtRisk(r.id, r.order_id, r.purchased_at, r.ship_by, r.ship_by - now) for r in rows]


def duration(span: timedelta) -> str:
    """'2 d 3 h', '5 h 20 min', '12 min' (sign ignored)."""
    minutes = int(abs(span).total_seconds() // 60)
    d, rest = divmod(minutes, 24 * 60)
    h, m = divmod(rest, 60)
    parts = ([_("%(num)s d", num=d)] if d else []) + ([_("%(num)s h", num=h)] if h else []) + \
        ([_("%(num)s min", num=m)] if m and not d else [])
    return " ".join(parts) or _("less than a minute")


# ---------------------------------------------------------------- drill-down: the orders counted against a rate


@dataclass(frozen=True)
class Against:
    id: int
    order_id: str
    at: datetime  # the time that places the order in the window (UTC)
    reason: str


@dataclass(frozen=True)
class Drill:
    definition: Definition
    first: date
    last: date
    total: int
    rows: list[Against]


def tracking_problem(carrier: str, carrier_name: str, tracking_id: str) -> str:
    """Why a shipment does not count as valid tracking (in the words a seller can act on)."""
    if carrier == "Other":
        listed = next((c for c in LISTED_CARRIERS if c.casefold() == carrier_name.strip().casefold()), None)
        if listed:
            return _("Carrier Other with the name %(name)s: choose %(listed)s from the carrier list", name=carrier_name,
                     listed=listed)
        return _("Carrier Other (%(name)s) is not a listed carrier, so its tracking cannot be checked", name=carrier_name)
    if carrier not in LISTED_CARRIERS:
        return _("%(carrier)s is not a listed carrier", carrier=carrier)
    if not tracking_id:
        return _("No tracking ID")
    return _("Tracking ID %(tracking_id)s does not match the %(carrier)s format", tracking_id=tracking_id, carrier=carrier)


def _against(definition: Definition, start: datetime, end: datetime):
    """The query of the orders counted against a rate in [start, end), with an `at` column to sort on."""
    if definition is LATE_SHIPMENT:
        return (select(Order.id, Order.order_id, Order.shipped_at.label("at"), Order.ship_by)
                .where(Order.shipped_at >= start, Order.shipped_at < end, Order.late.is_(True)))
    if definition is CANCEL:
        return (select(Order.id, Order.order_id, Order.purchased_at.label("at"), Cancellation.reason)
                .join(Cancellation, Cancellation.order_id == Order.id)
                .where(Order.purchased_at >= start, Order.purchased_at < end, Cancellation.reason != BUYER_CANCELED))
    return (select(Order.id, Order.order_id, Shipment.confirmed_at.label("at"), Shipment.carrier,
                   Shipment.carrier_name, Shipment.tracking_id)
            .join(Shipment, CURRENT_SHIPMENT)
            .where(Shipment.confirmed_at >= start, Shipment.confirmed_at < end, ~TRACKING_VALID))


def _reason(definition: Definition, row) -> str:
    if definition is LATE_SHIPMENT:
        return _("Confirmed %(duration)s after Ship by (%(ship_by)s)", duration=duration(row.at - row.ship_by),
                 ship_by=local_time(row.ship_by))
    if definition is CANCEL:
        return _(row.reason)
    return tracking_problem(row.carrier, row.carrier_name, row.tracking_id)


def counted_against(slug: str, now: datetime | None = None, offset: int = 0, limit: int | None = None) -> Drill:
    """The orders counted against a rate over its longest window, newest first (`limit` None: all of them)."""
    definition = DEFINITIONS[slug]
    days = Days.ending(now or clock.now(), workflow.store_tz())
    n = definition.windows[-1]
    query = _against(definition, *days.last(n))
    total = db.session.scalar(select(func.count()).select_from(query.subquery()))
    rows = db.session.execute(query.order_by(query.selected_columns.at.desc(), Order.id.desc())
                              .offset(offset).limit(limit))
    return Drill(definition, days.days[-n], days.days[-1], total,
                 [Against(r.id, r.order_id, r.at, _reason(definition, r)) for r in rows])

"""The list a request belongs to: for Manage Orders its filter, tab counts and URLs (on the list page, and for an
action sent from it, the list its `next` names), for Manage Returns its tab and counts; and where a form returns.
"""
from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qs, parse_qsl, urlsplit

from flask import request, url_for
from sqlalchemy import func, select
from werkzeug.datastructures import MultiDict

from . import metrics
from .extensions import db
from .i18n import _, N_, ngettext
from .models import OrderStatus, ReturnRequest, ReturnStatus
from .search import QUEUES, OrderFilter

ORDER_TABS = [N_("All")] + [s.value for s in OrderStatus]
RETURN_TABS = [N_("All")] + [s.value for s in ReturnStatus]


@dataclass(frozen=True)
class Tab:
    label: str
    count: int
    url: str
    current: bool
    scope: str = ""  # what the count counts, when it is not what the sentence above the tabs says


@dataclass(frozen=True)
class Tabs:
    """A row of status tabs (templates/_tabs.html). `target`: what htmx swaps with a tab's list, if anything."""
    id: str
    label: str
    tabs: list[Tab]
    target: str | None = None
    note: tuple[str, str, str] | None = None  # a link after the tabs: (url, text, title)


def safe_back(default_endpoint: str) -> str:
    """Where a no-JS form returns: `next` when it is one of our lists or pages, else `default_endpoint`."""
    target = request.values.get("next", "")
    if target.startswith(("/orders", "/returns", "/pack")) and not urlsplit(target).netloc and "\\" not in target:
        return target
    return url_for(default_endpoint)


def _once(key: str, make):
    """`make()` once per request (not `g`: an app context can outlive requests, as in tests)."""
    cache = request.environ.setdefault("seller.listing", {})
    if key not in cache:
        cache[key] = make()
    return cache[key]


class OrderList:
    """Manage Orders as one request sees it: the filter of its arguments, the counts, its URLs."""

    def __init__(self, args: MultiDict):
        self.args = args
        self.filter = OrderFilter(args)

    def counts(self) -> dict[str, int]:
        return _once("order-counts", self.filter.counts)

    def url(self, **changes) -> str:
        """The list URL with some arguments changed (None removes one); the page goes back to 1 unless given."""
        args = {k: v for k, v in self.args.items() if v and k != "page"}
        args.update(changes)
        return url_for("orders.index", **{k: v for k, v in args.items() if v not in (None, "")})

    def tabs(self) -> Tabs:
        counts, current = self.counts(), self.filter.status or "All"
        risk = metrics.at_risk_count()
        window = self.filter.dated() and self.filter.default_window
        return Tabs("order-tabs", _("Order status"), [
            Tab(_(name), counts[name], self.url(status=None if name == "All" else name), name == current,
                scope=_("all dates") if window and name in QUEUES else "")
            for name in ORDER_TABS], target="#orders-list",
            note=(url_for("performance.index") + "#at-risk",
                  ngettext("%(num)d at risk of late shipment", "%(num)d at risk of late shipment", risk),
                  _("Unshipped orders past Ship by or due within 12 hours")) if risk else None)


def order_list() -> OrderList:
    """The order list of this request: the list itself, or the one the action came from (its `next`)."""
    def make():
        if request.endpoint == "orders.index":
            return OrderList(request.args)
        target = urlsplit(safe_back("orders.index"))
        return OrderList(MultiDict(parse_qsl(target.query)) if target.path == url_for("orders.index") else MultiDict())
    return _once("order-list", make)


def next_url() -> str:
    """Where a form opened from this page returns: the list with its filters, or the order page ("": the list)."""
    if request.endpoint in ("orders.index", "returns.index"):
        target = request.full_path.rstrip("?")
    elif request.endpoint == "orders.detail":
        target = request.path
    else:
        target = safe_back("orders.index")
    return "" if target == url_for("orders.index") else target


def return_tab() -> str:
    """The tab Manage Returns shows: `?status=`, or for an htmx action the tab of the page it was sent from."""
    status = request.args.get("status")
    if status is None and request.headers.get("HX-Request") == "true":
        status = parse_qs(urlsplit(request.headers.get("HX-Current-URL", "")).query).get("status", [None])[0]
    return status if status in RETURN_TABS else "All"


def return_counts() -> dict[str, int]:
    """Return requests per status tab."""
    def make():
        counts = dict(db.session.execute(select(ReturnRequest.status, func.count())
                                         .group_by(ReturnRequest.status)).all())
        return {"All": sum(counts.values()), **{s: counts.get(s, 0) for s in RETURN_TABS[1:]}}
    return _once("return-counts", make)


def return_tabs() -> Tabs:
    counts, current = return_counts(), return_tab()
    return Tabs("return-tabs", _("Return status"), [
        Tab(_(name), counts[name], url_for("returns.index", status=None if name == "All" else name), name == current)
        for name in RETURN_TABS])

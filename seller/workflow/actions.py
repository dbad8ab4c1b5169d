"""Every action a person can take, in one registry beside the transition tables: what its button says, where it
goes, how it opens, who may take it — and `why_not`, the one place that decides and words "not you",
"not in this status" and "not now" for the buttons, the order page, the notices and the 403/409 answers.

Adding an action: a verb (its transition in `rules.ORDER_ACTIONS` or `RETURN_ACTIONS`), an entry here, a form
in `seller/forms/`, a template, tests (README, "Adding an action").
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from flask import url_for

from .. import clock
from ..i18n import _, _l
from ..models import Order, ReturnRequest, ReturnStatus
from .rules import ORDER_ACTIONS, RETURN_ACTIONS


def _refundable(order: Order) -> str | None:
    if not order.amounts_known:
        return _("This order's amounts are unknown: it was imported from the Unshipped Orders Report, which has no "
                 "prices. Import the Order Report for it before refunding.")
    if order.refunded_cents >= order.paid_cents:
        return _("This order has been refunded in full.")
    return None


def awaiting_item(ret: ReturnRequest) -> str | None:
    """A request authorized with "refund after the item is received" is refunded once something came back."""
    if ret.status == ReturnStatus.AUTHORIZED and ret.refund_timing == "after_receipt" and ret.received_at is None:
        return _("This return is refunded after the item is received: Mark received first.")
    return None


def _has_packages(order: Order) -> str | None:
    return None if order.packages else _("Order %(order_id)s is %(status)s and nothing of it has shipped yet: "
                                         "Edit shipment is not possible.", order_id=order.order_id,
                                         status=order.status)


def partly_shipped(order: Order) -> str | None:
    """Cancel order: a partially shipped order has parcels on their way (Amazon cancels only whole orders here)."""
    return _("Part of order %(order_id)s has shipped: it cannot be canceled. Confirm shipment for the rest.",
             order_id=order.order_id) if order.packages else None


def _refund_pending(order: Order) -> str | None:
    if order.refund_pending_until is None or order.refund_pending_until <= clock.now():
        return _("No refund of this order is pending: a refund can be canceled only within its window.")
    return None


def _amazon_refused(order: Order) -> str | None:
    from ..amazon_status import connected  # noqa: PLC0415  (asked once a request)
    if connected() and order.amazon_refusals:
        return None
    return _("Amazon has not refused anything for this order.")


def _has_label(order: Order) -> str | None:
    return None if order.has_label else _("No label was bought for this order.")


@dataclass(frozen=True)
class Action:
    name: str
    label: str  # lazy: the button's text, Seller Central's words
    endpoint: str | None = None  # where its button goes (None: nothing to click, e.g. "view")
    subject: str | None = None  # "order", "return", or None for an action on a whole page (import_orders)
    staff: bool = False  # staff may take it too; the owner may take every action
    opens: str = "form"  # "form": a form under its row (htmx) or its own page; "pdf": a new tab; "link": a page
    style: str = ""  # "primary" or "danger": how its button looks
    shown: frozenset = frozenset({"row", "page"})  # where its button stands: the list row, the order page
    check: Callable[[object], str | None] | None = field(default=None, compare=False)  # "not now", beyond status

    def url(self, subject=None, **values) -> str:
        if isinstance(subject, Order):
            values["order_id"] = subject.order_id
        elif isinstance(subject, ReturnRequest):
            values["return_id"] = subject.id
        return url_for(self.endpoint, **values)


_ALL = [
    Action("view", _l("View"), staff=True),
    Action("print_packing_slip", _l("Print packing slip"), "orders.packing_slip", "order", staff=True, opens="pdf"),
    Action("confirm_shipment", _l("Confirm shipment"), "orders.ship", "order", staff=True, style="primary"),
    Action("buy_shipping", _l("Buy shipping"), "shipping.buy", "order", staff=True),
    Action("cancel_order", _l("Cancel order"), "orders.cancel", "order", style="danger", check=partly_shipped),
    Action("edit_shipment", _l("Edit shipment"), "orders.edit_shipment", "order", staff=True, check=_has_packages),
    Action("print_label", _l("Print label"), "shipping.label", "order", staff=True, opens="pdf", check=_has_label),
    Action("refund", _l("Refund order"), "refunds.order", "order", check=_refundable),
    Action("cancel_refund", _l("Cancel refund"), "refunds.cancel", "order", style="danger", check=_refund_pending),
    Action("retry_amazon", _l("Retry"), "orders.retry_amazon", "order", check=_amazon_refused),
    Action("create_return", _l("Create return request"), "returns.create", "order", shown=frozenset({"page"})),
    Action("contact_buyer", _l("Contact buyer"), "contact.order", "order", staff=True, shown=frozenset({"page"})),
    Action("authorize_return", _l("Authorize request"), "returns.authorize", "return", style="primary"),
    Action("mark_received", _l("Mark received"), "returns.receive", "return", staff=True, style="primary"),
    Action("issue_refund", _l("Issue refund"), "refunds.for_return", "return",
           check=lambda ret: awaiting_item(ret) or _refundable(ret.order)),
    Action("close_return", _l("Close request"), "returns.close", "return"),
    Action("contact_buyer", _l("Contact buyer"), "contact.about_return", "return", staff=True),
    Action("import_orders", _l("Import orders"), "orders.import_orders", opens="link"),
    Action("import_returns", _l("Import returns"), "returns.import_returns", opens="link"),
    Action("export_shipments", _l("Export shipments"), "orders.export_shipments", staff=True, opens="link"),
    Action("upload_tracking", _l("Upload tracking"), "orders.upload_tracking", staff=True, opens="link"),
    Action("settings", _l("Settings"), "settings.index", opens="link"),
    Action("pack", _l("Pack & ship"), "pack.index", staff=True, opens="link"),
    Action("print_pick_list", _l("Print pick list"), "orders.pick_list", staff=True, opens="pdf"),
]
# An action is known by its name and what it acts on: Contact buyer is one verb with a button on orders and one
# on return requests.
ACTIONS: dict[tuple[str | None, str], Action] = {(action.subject, action.name): action for action in _ALL}
STAFF = frozenset(action.name for action in _ALL if action.staff)


def _kind(subject) -> str | None:
    return "order" if isinstance(subject, Order) else "return" if isinstance(subject, ReturnRequest) else None


def action(name: str, subject=None) -> Action:
    return ACTIONS[(_kind(subject), name)]


def permitted(user, name: str) -> bool:
    """Whether the user's role may take the action at all (contract §1): the owner every one, staff those marked."""
    return user.is_authenticated and (user.role == "owner" or name in STAFF)


def not_permitted_message() -> str:
    return _("Your account cannot do that. Ask the store owner.")


def why_not(subject, name: str, user) -> str | None:
    """Why this user can't take this action on this order or return request now; None when they can."""
    if not permitted(user, name):
        return not_permitted_message()
    if subject is None:
        return None
    table = ORDER_ACTIONS if isinstance(subject, Order) else RETURN_ACTIONS
    if subject.status not in table[name][0]:
        return not_in_status(subject, name)
    found = action(name, subject)
    return found.check(subject) if found.check else None


def not_in_status(subject, name: str) -> str:
    """"Not in this status", worded once: for the buttons (`why_not`) and for a verb's guard (`core._refused`)."""
    found = ACTIONS.get((_kind(subject), name))
    label = found.label if found else name.replace("_", " ")
    if isinstance(subject, Order):
        return _("Order %(order_id)s is %(status)s: %(action)s is not possible.", order_id=subject.order_id,
                 status=subject.status, action=label)
    return _("This return request is %(status)s: %(action)s is not possible.", status=subject.status, action=label)


def available(subject, user, where: str = "row") -> list[Action]:
    """The actions this user can take on `subject` now that stand in `where` ("row" or "page"), in button order."""
    return [a for a in _ALL if a.subject == _kind(subject) and where in a.shown
            and why_not(subject, a.name, user) is None]


def available_actions(subject, user) -> list[str]:
    """The names of every action this user can take on `subject` now."""
    return [a.name for a in _ALL if a.subject == _kind(subject) and why_not(subject, a.name, user) is None]

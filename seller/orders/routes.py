"""Manage Orders: the list, the order page, and the shipping actions Confirm, Edit and Cancel."""
import re
from datetime import datetime, timedelta
from types import SimpleNamespace

from flask import current_app, render_template, request, session
from flask_babel import get_locale
from flask_login import current_user
from markupsafe import Markup
from sqlalchemy import select
from sqlalchemy.orm import selectinload
from wtforms.fields.choices import SelectChoice

from .. import amazon_status, clock, listing, metrics, panels, workflow
from ..auth import requires
from ..db import data_version
from ..extensions import db
from ..forms.common import ActionForm
from ..forms.orders import MAX_PACKAGES, SERVICE_LEVELS, CancelForm, ShipmentForm
from ..htmx import is_partial
from ..i18n import _, ngettext
from ..lookup import get_order
from ..models import Message, Order, OrderEvent, OrderStatus, Refund, ReturnRequest, Shipment, units_in
from . import bp
from .cache import sections


# ---------------------------------------------------------------- pages


def _render_list() -> tuple[str, datetime]:
    """The list section, and when time alone would change it (next store midnight, next Ship by passing, next
    refund window ending: its Cancel refund goes)."""
    order_list = listing.order_list()
    found = order_list.filter
    total = order_list.counts()[found.status or "All"]
    orders = list(db.session.scalars(found.page_select().options(selectinload(Order.items),
                                                                 selectinload(Order.shipments),
                                                                 *amazon_status.loader())))
    html = render_template("orders/_list.html", order_list=order_list, found=found, form=found.form, orders=orders,
                           total=total, pages=max((total + found.per_page - 1) // found.per_page, 1),
                           service_levels=SERVICE_LEVELS, ready=_scanned(found, orders) if is_partial() else None)
    now = clock.now()
    midnight = clock.local_day_start(clock.local_today(found.tz, now) + timedelta(days=1), found.tz)
    pending = [o.refund_pending_until for o in orders if o.refund_pending_until and o.refund_pending_until > now]
    return html, min([midnight, metrics.next_at_risk_change(now), *pending]
                     + [o.ship_by for o in orders if o.status == OrderStatus.UNSHIPPED and o.ship_by > now])


def _scanned(found, orders: list[Order]) -> Order | None:
    """The order a scan named exactly (its order ID, or a tracking ID it shipped with), when it is the only one
    found and can be confirmed now: its Confirm shipment opens at once (after a search on the page, not when a
    link or a reload opens the same URL)."""
    q = found.values["q"]
    if not q or len(orders) != 1 or found.page != 1:
        return None
    order, tracking = orders[0], workflow.normalize_tracking(q)
    named = order.order_id == q or any(s.tracking_id == tracking for s in order.shipments)
    return order if named and workflow.why_not(order, "confirm_shipment", current_user) is None else None


def _render_page() -> tuple[str, datetime]:
    """The whole Manage Orders page around the list section (and when time alone would change it)."""
    section, expires = _render_list()
    return render_template("orders/index.html", section=Markup(section), amazon=amazon_status.summary()), expires


def _cached(render) -> str:
    """`render()`'s page or section, from the cache when the data, the user, the session, the language and the
    URL are the same. Not cached: a session without its CSRF token yet (the page makes it), or with a message
    waiting to be shown."""
    version = data_version(db.session) if current_app.config.get("ORDERS_LIST_CACHE", True) else None
    if version is None or "csrf_token" not in session or "_flashes" in session:
        return render()[0]
    key = (version, current_user.get_id(), current_user.role, session["csrf_token"], str(get_locale()),
           request.full_path, render.__name__)
    html = sections.get(key, clock.now())
    if html is None:
        html, expires = render()
        sections.put(key, html, expires)
    return html


@bp.get("")
@requires("view")
def index():
    """The order list. htmx (filters, tabs, sort, pages): the list section only; otherwise the full page."""
    return _cached(_render_list if is_partial() else _render_page)


@bp.get("/<order_id>")
@requires("view")
def detail(order_id):
    """The order page: everything about the order and its History."""
    order = get_order(order_id, selectinload(Order.items),
                      selectinload(Order.shipments).joinedload(Shipment.confirmed_by),
                      selectinload(Order.shipments).selectinload(Shipment.items),
                      selectinload(Order.refunds).selectinload(Refund.lines),
                      selectinload(Order.returns).selectinload(ReturnRequest.items),
                      selectinload(Order.events).joinedload(OrderEvent.user), *amazon_status.loader())
    messages = db.session.scalars(select(Message).where(Message.order_id == order.id).order_by(Message.id)).all()
    return render_template("orders/detail.html", order=order, messages=messages)


@bp.get("/<order_id>/row")
@requires("view")
def row(order_id):
    """One order's row with its panel closed (htmx: what Close puts back)."""
    return panels.row_answer(get_order(order_id))


# ---------------------------------------------------------------- actions


def _package_input(fields, form: ShipmentForm, item_ids: list[int]) -> workflow.ShipmentInput:
    """One package of the form (`fields`: the form itself for the first, a `packages` entry for the others); with
    no carrier chosen and a tracking ID that doesn't name one, this user's last carrier. Quantities not sent at
    all: None (everything left)."""
    tracking = fields.tracking_id.data or ""
    carrier = fields.carrier.data or ("" if workflow.carrier_of(tracking) else workflow.last_carrier(current_user))
    quantities = {i: fields[f"qty_{i}"].data for i in item_ids}
    return workflow.ShipmentInput(
        carrier=carrier or "", tracking_id=tracking, ship_date=form.ship_date.data,
        shipping_service=fields.shipping_service.data or "", carrier_name=fields.carrier_name.data or "",
        note=form.note.data or "", items=None if all(n is None for n in quantities.values()) else
        {i: n or 0 for i, n in quantities.items()})


def _shipped_message(order: Order, shipments: list[Shipment], editing: bool) -> tuple[str, str]:
    if editing:
        parts, category = [_("Shipment re-confirmed for order %(order_id)s.", order_id=order.order_id)], "success"
    else:
        parts, category = [_("Shipment confirmed for order %(order_id)s.", order_id=order.order_id)], "success"
        if shipments[0].late:
            parts.append(_("It was confirmed after its Ship by date and counts as a late shipment."))
            category = "warning"
    if order.status == OrderStatus.UNSHIPPED:  # a partial shipment (its packages are read only then)
        parts.append(_("Left to ship: %(items)s. Confirm shipment for the rest when it ships.",
                       items=", ".join(f"{item.sku} × {left}" for item, left in order.left_to_ship)))
    for shipment in shipments:
        if not shipment.tracking_valid:
            parts.append(_("Check the tracking ID: “%(tracking_id)s” does not look like a %(carrier)s tracking ID.",
                           tracking_id=shipment.tracking_id, carrier=shipment.carrier_name or shipment.carrier)
                         if shipment.tracking_id else
                         _("No tracking ID was given: buyers cannot follow the parcel."))
            category = "warning"
    return " ".join(parts), category


def _package_values(package: Shipment | None, lines, **values) -> SimpleNamespace:
    """A package's fields as a form shows them: from a package in force, or (None) a new one."""
    held = {line.order_item_id: line.quantity for line in package.items} if package else {}
    fields = {name: getattr(package, name, "") for name in ("tracking_id", "carrier", "carrier_name",
                                                             "shipping_service")}
    return SimpleNamespace(**{**fields, **{f"qty_{item.id}": held.get(item.id, 0) for item, _n in lines}, **values})


def _lines(order: Order, number: int | None) -> tuple[list[Shipment], list]:
    """Edit shipment (`number`: a confirmation, default the last): its packages and the units they hold per item;
    Confirm shipment (None): no packages, and the units left to ship."""
    if number is None:
        return [], order.left_to_ship
    packages = [p for p in order.packages if p.confirmation == (number or max(p.confirmation for p in order.packages))]
    held = units_in(packages)
    return packages, [(item, held[item.id]) for item in order.items if item.id in held]


_POSTED_QUANTITY = re.compile(r"(?:packages-\d+-)?qty_(\d{1,18})")


def _ship_action(order_id: str, action: str):
    """Confirm shipment (the units left to ship) or Edit shipment (one confirmation's packages, `confirmation`,
    default the last). Add package / Remove package answer with the form again, one package more or less."""
    order = get_order(order_id)
    editing = action == "edit_shipment"
    if refused := panels.check(order, action, current_user):
        return refused
    title = workflow.action(action, order).label
    number = (request.values.get("confirmation", type=int) or 0) if editing else None
    if request.method == "GET":
        packages, lines = _lines(order, number)
        first = _package_values(packages[0] if packages else None, lines)
        if not editing:  # everything left starts in the first package
            first.shipping_service = order.ship_service_level
            for item, left in lines:
                setattr(first, f"qty_{item.id}", left)
        shown = packages[0] if packages else None
        form = ShipmentForm.for_items([item.id for item, _n in lines])(
            formdata=None, obj=first, version=order.version, confirmation=shown and shown.confirmation,
            ship_date=shown.ship_date if shown else clock.local_today(workflow.store_tz()),
            note=shown.note if shown else "", packages=[_package_values(p, lines) for p in packages[1:]])
        return _ship_form(order, form, title, editing, lines)
    # The items the form names (it is read again with the order's own when it comes back).
    item_ids = sorted({int(m[1]) for key in request.form if (m := _POSTED_QUANTITY.fullmatch(key))})
    form, refusal = ShipmentForm.for_items(item_ids)(), None
    if not request.form.keys() & {"add_package", "remove_package"} and form.validate():
        given = [_package_input(fields, form, item_ids) for fields in [form, *form.packages]]
        try:
            if editing:
                shipments = workflow.edit_shipment(order, current_user, given, confirmation=form.confirmation.data,
                                                   expected_version=form.version.data)
            else:
                shipments = workflow.confirm_shipment(order, current_user, given, expected_version=form.version.data)
        except workflow.WorkflowError as exc:
            refusal = exc
        else:
            return panels.done(order, *_shipped_message(order, shipments, editing))
    _packages, lines = _lines(order, number)
    form = ShipmentForm.for_items([item.id for item, _n in lines])()
    if refusal is not None:
        form.validate()
        return _ship_form(order, form, title, editing, lines, panels.refuse(form, refusal, order))
    if request.form.keys() & {"add_package", "remove_package"}:
        return _ship_form(order, _add_or_remove(form, lines), title, editing, lines)
    form.validate()
    return _ship_form(order, form, title, editing, lines, 422)


def _add_or_remove(form: ShipmentForm, lines) -> ShipmentForm:
    """Add package: one more, with the first package's carrier and service and no units; Remove package: that
    one goes. Nothing is checked yet."""
    if "add_package" in request.form:
        if len(form.packages) + 1 >= MAX_PACKAGES:
            form.form_errors.append(_("At most %(count)d packages in one shipment.", count=MAX_PACKAGES))
        else:
            form.packages.append_entry(_package_values(None, lines, carrier=form.carrier.data,
                                                       shipping_service=form.shipping_service.data))
    else:
        form.packages.entries = [e for e in form.packages.entries if e.name != request.form["remove_package"]]
    return form


def _ship_form(order: Order, form: ShipmentForm, title: str, editing: bool, lines, status: int = 200):
    """The Confirm/Edit shipment form; its "From the tracking ID" choice names the fallback carrier."""
    if last := workflow.last_carrier(current_user):
        fallback = SelectChoice("", _("From the tracking ID, else %(carrier)s", carrier=last))
        for fields in [form, *form.packages]:
            fields.carrier.choices = [fallback, *fields.carrier.choices[1:]]
    return panels.form_response("orders/_ship_form.html", order, title=title, form=form, editing=editing,
                                lines=lines, status=status)


@bp.route("/<order_id>/ship", methods=["GET", "POST"])
@requires("confirm_shipment")
def ship(order_id):
    """Confirm shipment. GET: the form (htmx: in the row's panel). POST: ship; htmx gets the done answer (row,
    counts, flash), otherwise 303 to the list; invalid input: the form again with messages, 422 (409 if the order
    moved on)."""
    return _ship_action(order_id, "confirm_shipment")


@bp.route("/<order_id>/edit-shipment", methods=["GET", "POST"])
@requires("edit_shipment")
def edit_shipment(order_id):
    """Edit shipment -> Re-confirm shipment; the earlier record stays in the history. Answers as `ship`."""
    return _ship_action(order_id, "edit_shipment")


@bp.route("/<order_id>/cancel", methods=["GET", "POST"])
@requires("cancel_order")
def cancel(order_id):
    """Cancel order with a reason. GET: the form (htmx: in the row's panel). POST: cancel; answers as `ship`."""
    order = get_order(order_id)
    if refused := panels.check(order, "cancel_order", current_user):
        return refused
    title = workflow.action("cancel_order", order).label
    form = CancelForm(formdata=None, version=order.version) if request.method == "GET" else CancelForm()
    status = 200
    if request.method == "POST":
        status = 422
        if form.validate():
            try:
                workflow.cancel_order(order, current_user, form.reason.data, form.memo.data or "",
                                      expected_version=form.version.data)
            except workflow.WorkflowError as exc:
                status = panels.refuse(form, exc, order)
            else:
                return panels.done(order, _("Order %(order_id)s was canceled (%(reason)s).",
                                            order_id=order.order_id, reason=form.reason.data))
    return panels.form_response("orders/_cancel_form.html", order, title=title, form=form, status=status)


@bp.route("/<order_id>/amazon-retry", methods=["GET", "POST"])
@requires("retry_amazon")
def retry_amazon(order_id):
    """Retry (owner): Amazon's messages, and a button that sends again what Amazon refused."""
    order = get_order(order_id)
    if refused := panels.check(order, "retry_amazon", current_user):
        return refused
    form = ActionForm(formdata=None, version=order.version) if request.method == "GET" else ActionForm()
    if request.method == "POST" and form.validate():
        count = workflow.retry_amazon(order, current_user)
        return panels.done(order, ngettext("%(num)d message for order %(order_id)s will be sent to Amazon again.",
                                           "%(num)d messages for order %(order_id)s will be sent to Amazon again.",
                                           count, order_id=order.order_id))
    return panels.form_response("orders/_retry_form.html", order, title=workflow.action("retry_amazon", order).label,
                                form=form, status=422 if form.errors else 200)


@bp.get("/amazon")
@requires("view")
def amazon():
    """What Amazon refused (and what waits), with Amazon's messages: where the Manage Orders summary links."""
    return render_template("orders/amazon.html", amazon=amazon_status.summary(), refused=amazon_status.refused())

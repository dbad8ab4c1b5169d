"""Manage Orders: the list, the order page, and the shipping actions Confirm, Edit and Cancel."""
from datetime import datetime, timedelta

from flask import current_app, render_template, request, session
from flask_babel import get_locale
from flask_login import current_user
from markupsafe import Markup
from sqlalchemy import select
from sqlalchemy.orm import selectinload
from wtforms.fields.choices import SelectChoice

from .. import clock, listing, metrics, panels, workflow
from ..auth import requires
from ..db import data_version
from ..extensions import db
from ..forms.orders import SERVICE_LEVELS, CancelForm, ShipmentForm
from ..htmx import is_partial
from ..i18n import _
from ..lookup import get_order
from ..models import Message, Order, OrderEvent, OrderStatus, Refund, ReturnRequest, Shipment
from . import bp
from .cache import sections


# ---------------------------------------------------------------- pages


def _render_list() -> tuple[str, datetime]:
    """The list section, and when time alone would change it (next store midnight, next Ship by passing)."""
    order_list = listing.order_list()
    found = order_list.filter
    total = order_list.counts()[found.status or "All"]
    orders = list(db.session.scalars(found.page_select().options(selectinload(Order.items),
                                                                 selectinload(Order.shipments))))
    html = render_template("orders/_list.html", order_list=order_list, found=found, form=found.form, orders=orders,
                           total=total, pages=max((total + found.per_page - 1) // found.per_page, 1),
                           service_levels=SERVICE_LEVELS, ready=_scanned(found, orders) if is_partial() else None)
    now = clock.now()
    midnight = clock.local_day_start(clock.local_today(found.tz, now) + timedelta(days=1), found.tz)
    return html, min([midnight, metrics.next_at_risk_change(now)]
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
    return render_template("orders/index.html", section=Markup(section)), expires


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
                      selectinload(Order.refunds).selectinload(Refund.lines),
                      selectinload(Order.returns).selectinload(ReturnRequest.items),
                      selectinload(Order.events).joinedload(OrderEvent.user))
    messages = db.session.scalars(select(Message).where(Message.order_id == order.id).order_by(Message.id)).all()
    return render_template("orders/detail.html", order=order, messages=messages)


@bp.get("/<order_id>/row")
@requires("view")
def row(order_id):
    """One order's row with its panel closed (htmx: what Close puts back)."""
    return panels.row_answer(get_order(order_id))


# ---------------------------------------------------------------- actions


def _shipment_input(form: ShipmentForm) -> workflow.ShipmentInput:
    """The form's shipment; with no carrier chosen and a tracking ID that doesn't name one, this user's last."""
    tracking = form.tracking_id.data or ""
    carrier = form.carrier.data or ("" if workflow.carrier_of(tracking) else workflow.last_carrier(current_user))
    return workflow.ShipmentInput(carrier=carrier or "", tracking_id=tracking,
                                  ship_date=form.ship_date.data, shipping_service=form.shipping_service.data or "",
                                  carrier_name=form.carrier_name.data or "", note=form.note.data or "")


def _shipped_message(order: Order, shipment: Shipment, editing: bool) -> tuple[str, str]:
    if editing:
        parts, category = [_("Shipment re-confirmed for order %(order_id)s.", order_id=order.order_id)], "success"
    else:
        parts, category = [_("Shipment confirmed for order %(order_id)s.", order_id=order.order_id)], "success"
        if shipment.late:
            parts.append(_("It was confirmed after its Ship by date and counts as a late shipment."))
            category = "warning"
    if not shipment.tracking_valid:
        parts.append(_("Check the tracking ID: “%(tracking_id)s” does not look like a %(carrier)s tracking ID.",
                       tracking_id=shipment.tracking_id, carrier=shipment.carrier_name or shipment.carrier)
                     if shipment.tracking_id else _("No tracking ID was given: buyers cannot follow the parcel."))
        category = "warning"
    return " ".join(parts), category


def _ship_action(order_id: str, action: str):
    order = get_order(order_id)
    editing = action == "edit_shipment"
    if refused := panels.check(order, action, current_user):
        return refused
    title = workflow.action(action, order).label
    if request.method == "GET":  # Edit shipment starts from the shipment in force; Confirm from today
        form = ShipmentForm(formdata=None, obj=order.shipment if editing else None, version=order.version,
                            ship_date=clock.local_today(workflow.store_tz()),
                            shipping_service=None if editing else order.ship_service_level)
        return _ship_form(order, form, title, editing)
    form = ShipmentForm()
    if not form.validate():
        return _ship_form(order, form, title, editing, 422)
    verb = workflow.edit_shipment if editing else workflow.confirm_shipment
    try:
        shipment = verb(order, current_user, _shipment_input(form), expected_version=form.version.data)
    except workflow.WorkflowError as exc:
        return _ship_form(order, form, title, editing, panels.refuse(form, exc, order))
    return panels.done(order, *_shipped_message(order, shipment, editing))


def _ship_form(order: Order, form: ShipmentForm, title: str, editing: bool, status: int = 200):
    """The Confirm/Edit shipment form; its "From the tracking ID" choice names the fallback carrier."""
    if last := workflow.last_carrier(current_user):
        form.carrier.choices = [SelectChoice("", _("From the tracking ID, else %(carrier)s", carrier=last)),
                                *form.carrier.choices[1:]]
    return panels.form_response("orders/_ship_form.html", order, title=title, form=form, editing=editing,
                                status=status)


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

"""Manage Orders: the list, the order page, and the shipping actions."""
from datetime import datetime, timedelta
from urllib.parse import parse_qsl, urlsplit

from flask import abort, current_app, render_template, request, session, url_for
from flask_login import current_user
from markupsafe import Markup
from sqlalchemy import select
from sqlalchemy.orm import selectinload
from werkzeug.datastructures import MultiDict

from .. import clock, workflow
from ..auth import requires
from ..extensions import db
from ..forms.orders import SERVICE_LEVELS, CancelForm, ShipmentForm
from ..htmx import is_partial
from ..models import Message, Order, OrderEvent, OrderStatus, Refund, ReturnRequest, Shipment
from . import bp
from ..performance import metrics
from .cache import data_version, sections
from .rows import back_to_list, row_response
from .search import OrderFilter

TABS = ["All"] + [s.value for s in OrderStatus]


def get_order(order_id: str, *options) -> Order:
    order = db.session.scalar(select(Order).where(Order.order_id == order_id).options(*options))
    if order is None:
        abort(404)
    return order


# ---------------------------------------------------------------- what rows and tabs need


def list_args() -> MultiDict:
    """The list's GET arguments: this request's on the list, else those of the list an action came from."""
    if request.endpoint == "orders.index":
        return request.args
    target = urlsplit(back_to_list())
    if target.path == url_for("orders.index"):
        return MultiDict(parse_qsl(target.query))
    return MultiDict()


def _once(key: str, make):
    """`make()` once per request (not `g`: an app context can outlive requests, as in tests)."""
    cache = request.environ.setdefault("seller.orders", {})
    if key not in cache:
        cache[key] = make()
    return cache[key]


def list_filter() -> OrderFilter:
    return _once("filter", lambda: OrderFilter(list_args()))


def _count_orders() -> dict[str, int]:
    counts = dict(db.session.execute(list_filter().counts_select()).all())
    return {"All": sum(counts.values()), **{s: counts.get(s, 0) for s in TABS[1:]}}


def order_counts() -> dict[str, int]:
    """Orders per status tab under the list's current dates and search (one GROUP BY, once a request)."""
    return _once("counts", _count_orders)


def list_url(**changes) -> str:
    """The list URL with some arguments changed (None removes one); the page goes back to 1 unless given."""
    args = {k: v for k, v in list_args().items() if v and k != "page"}
    args.update(changes)
    return url_for("orders.index", **{k: v for k, v in args.items() if v not in (None, "")})


def next_url() -> str:
    """Where a form opened from here returns to: the list with its filters, or the order page ("": the list)."""
    if request.endpoint == "orders.index":
        target = request.full_path.rstrip("?")
    elif request.endpoint == "orders.detail":
        target = request.path
    else:
        target = back_to_list()
    return "" if target == url_for("orders.index") else target


def is_late(order: Order) -> bool:
    return order.is_late(clock.now())


@bp.app_context_processor
def _row_helpers():
    return {"order_counts": order_counts, "order_tabs": TABS, "list_filter": list_filter, "list_url": list_url,
            "next_url": next_url, "is_late": is_late, "at_risk_count": metrics.at_risk_count, "order_actions": workflow.available_actions,
            "today_in_store": lambda: clock.local_today(workflow.store_tz()).isoformat()}


# ---------------------------------------------------------------- pages


def _page_orders(listing: OrderFilter) -> list[Order]:
    stmt = listing.page_select().options(selectinload(Order.items), selectinload(Order.shipments))
    return list(db.session.scalars(stmt))


def _render_list() -> tuple[str, datetime]:
    """The list section, and when time alone would change it (next store midnight, next Ship by passing)."""
    listing = list_filter()
    counts = order_counts()
    total = counts[listing.status or "All"]
    orders = _page_orders(listing)
    html = render_template("orders/_list.html", listing=listing, form=listing.form, orders=orders, total=total,
                           pages=max((total + listing.per_page - 1) // listing.per_page, 1),
                           user=current_user._get_current_object(), service_levels=SERVICE_LEVELS)
    now = clock.now()
    midnight = clock.local_day_start(clock.local_today(listing.tz, now) + timedelta(days=1), listing.tz)
    return html, min([midnight, metrics.next_at_risk_change(now)]
                     + [o.ship_by for o in orders if o.status == OrderStatus.UNSHIPPED and o.ship_by > now])


def _list_section() -> str:
    """The list section, from the cache when the data, the user, the session and the URL are the same."""
    version = data_version(db.session) if current_app.config.get("ORDERS_LIST_CACHE", True) else None
    if version is None:
        return _render_list()[0]
    key = (version, current_user.get_id(), current_user.role, session.get("csrf_token"), request.full_path,
           is_partial())
    html = sections.get(key, clock.now())
    if html is None:
        html, expires = _render_list()
        sections.put(key, html, expires)
    return html


@bp.get("")
@requires("view")
def index():
    """The order list. htmx (filters, tabs, sort, pages): the list section only; otherwise the full page."""
    section = _list_section()
    if is_partial():
        return section
    return render_template("orders/index.html", section=Markup(section))


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
    return render_template("orders/detail.html", order=order, messages=messages, user=current_user)


@bp.get("/<order_id>/row")
@requires("view")
def row(order_id):
    """One order's row (htmx: what closing an inline form puts back)."""
    return render_template("orders/_row.html", order=get_order(order_id), user=current_user)


# ---------------------------------------------------------------- actions


def _form_response(template: str, title: str, order: Order, form, status: int = 200):
    """The action's form: inside the list for htmx (a row holding it), a page of its own otherwise."""
    form.next.data = back_to_list()
    for field in form:  # several forms can be open in the list, beside the search form: ids stay unique
        field.id = field.label.field_id = f"{field.name}-{order.id}"
    context = {"order": order, "form": form, "form_template": template, "title": title, "user": current_user,
               "back": form.next.data}
    if is_partial():
        return render_template("orders/_form_row.html", **context), status
    return render_template("orders/action.html", **context), status


def _refuse(form, exc: workflow.WorkflowError):
    """A workflow rule said no: its message next to its field, or above the form. After a stale page the form
    carries the version now in force, so that submitting it again (having checked) goes through."""
    if isinstance(exc, workflow.StaleVersion):
        order = get_order(request.view_args["order_id"])
        form.version.data, form.version.raw_data = order.version, [str(order.version)]
    if exc.field and exc.field in form:
        form[exc.field].errors = [*form[exc.field].errors, exc.message]
    else:
        form.form_errors.append(exc.message)
    return exc.status_code


def _not_available(order: Order, action: str):
    """The order moved on since the page was shown: say so; htmx also gets the row as it is now."""
    message = f"Order {order.order_id} is {order.status}: {action} is not possible."
    if is_partial():
        return row_response(order, message, "error"), 409
    return render_template("error.html", status=409, message=message), 409


def _shipment_input(form: ShipmentForm) -> workflow.ShipmentInput:
    return workflow.ShipmentInput(carrier=form.carrier.data, tracking_id=form.tracking_id.data or "",
                                  ship_date=form.ship_date.data, shipping_service=form.shipping_service.data or "",
                                  carrier_name=form.carrier_name.data or "", note=form.note.data or "")


def _shipped_message(order: Order, shipment: Shipment, verb: str) -> tuple[str, str]:
    parts, category = [f"{verb} for order {order.order_id}."], "success"
    if shipment.late and verb == "Shipment confirmed":
        parts.append("It was confirmed after its Ship by date and counts as a late shipment.")
        category = "warning"
    if not shipment.tracking_valid:
        carrier = shipment.carrier_name or shipment.carrier
        parts.append(f"Check the tracking ID: “{shipment.tracking_id}” does not look like a {carrier} tracking ID."
                     if shipment.tracking_id else "No tracking ID was given: buyers cannot follow the parcel.")
        category = "warning"
    return " ".join(parts), category


def _ship_action(order_id: str, action: str):
    order = get_order(order_id)
    editing = action == "edit_shipment"
    title = "Edit shipment" if editing else "Confirm shipment"
    if action not in workflow.available_actions(order, current_user):
        return _not_available(order, title)
    if request.method == "GET":  # Edit shipment starts from the shipment in force; Confirm from today
        form = ShipmentForm(formdata=None, obj=order.shipment if editing else None, version=order.version,
                            ship_date=clock.local_today(workflow.store_tz()))
        return _form_response("orders/_ship_form.html", title, order, form)
    form = ShipmentForm()
    if not form.validate():
        return _form_response("orders/_ship_form.html", title, order, form, 422)
    verb = workflow.edit_shipment if editing else workflow.confirm_shipment
    try:
        shipment = verb(order, current_user, _shipment_input(form), expected_version=form.version.data)
    except workflow.WorkflowError as exc:
        return _form_response("orders/_ship_form.html", title, order, form, _refuse(form, exc))
    return row_response(order, *_shipped_message(order, shipment,
                                                 "Shipment re-confirmed" if editing else "Shipment confirmed"))


@bp.route("/<order_id>/ship", methods=["GET", "POST"])
@requires("confirm_shipment")
def ship(order_id):
    """Confirm shipment. GET: the form (htmx: inside the list). POST: ship; htmx gets the row + OOB counts and
    flash, otherwise 303 to the list; invalid input: the form again with messages, 422 (409 if the order moved on)."""
    return _ship_action(order_id, "confirm_shipment")


@bp.route("/<order_id>/edit-shipment", methods=["GET", "POST"])
@requires("edit_shipment")
def edit_shipment(order_id):
    """Edit shipment -> Re-confirm shipment; the earlier record stays in the history. Answers as `ship`."""
    return _ship_action(order_id, "edit_shipment")


@bp.route("/<order_id>/cancel", methods=["GET", "POST"])
@requires("cancel_order")
def cancel(order_id):
    """Cancel order with a reason. GET: the form (htmx: inside the list). POST: cancel; htmx gets the row + OOB
    counts and flash, otherwise 303 to the list; no reason: the form again, 422 (409 if the order moved on)."""
    order = get_order(order_id)
    if "cancel_order" not in workflow.available_actions(order, current_user):
        return _not_available(order, "Cancel order")
    if request.method == "GET":
        form = CancelForm(formdata=None, version=order.version)
        return _form_response("orders/_cancel_form.html", "Cancel order", order, form)
    form = CancelForm()
    if not form.validate():
        return _form_response("orders/_cancel_form.html", "Cancel order", order, form, 422)
    try:
        workflow.cancel_order(order, current_user, form.reason.data, form.memo.data or "",
                              expected_version=form.version.data)
    except workflow.WorkflowError as exc:
        return _form_response("orders/_cancel_form.html", "Cancel order", order, form, _refuse(form, exc))
    return row_response(order, f"Order {order.order_id} was canceled ({form.reason.data}).")

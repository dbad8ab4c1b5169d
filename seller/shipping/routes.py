"""Buy shipping (W2): rates for the parcel, a label bought, the order shipped with its tracking ID."""
import io
import secrets

from flask import abort, flash, render_template, request, send_file, url_for
from flask_login import current_user
from markupsafe import Markup
from sqlalchemy import select

from .. import clock, workflow
from ..auth import requires
from ..errors import error_response
from ..extensions import db
from ..forms.shipping import BuyForm, ParcelForm
from ..htmx import flash_oob, is_partial
from ..models import Label, Settings
from ..money import fmt
from ..orders.routes import get_order
from ..orders.rows import back_to_list, row_response
from . import bp
from .providers import Parcel, ShippingError, active, ship_from
from .purchase import buy_label


@bp.route("/<order_id>/buy-shipping", methods=["GET", "POST"])
@requires("buy_shipping")
def buy(order_id):
    """The parcel form; Get rates shows the rates; a Buy button buys (see `_buy`).

    htmx: the order's row becomes the form, rates included (422 with messages when invalid); its Close asks
    `orders.row` for the plain row. Otherwise the form is a page of its own."""
    order = get_order(order_id)
    provider = active(Settings.current())
    if "rate_id" in request.form:
        return _buy(order, provider)
    if order.status not in workflow.ORDER_ACTIONS["buy_shipping"][0]:
        return error_response(409, f"This order is {order.status}: buy shipping is not possible.")
    form = ParcelForm(ship_date=clock.local_today(workflow.store_tz()), version=order.version)
    if request.method == "GET":
        return _form(order, form, provider)
    if not form.validate_on_submit():
        return _form(order, form, provider, status=422)
    try:
        workflow.check_label_date(form.ship_date.data)
        rates = provider.rates(order, _parcel(form), ship_from(Settings.current()), form.ship_date.data)
    except workflow.WorkflowError as exc:
        return _refused(order, form, provider, exc)
    except ShippingError as exc:
        form.form_errors.append(exc.message)
        return _form(order, form, provider, status=exc.status_code)
    quote = {**_parcel_values(form), "shipment_ref": rates[0].shipment_ref,
             "idempotency_key": secrets.token_urlsafe(24)}
    return _form(order, form, provider, rates=rates, quote=quote)


def _buy(order, provider):
    """Buy the chosen rate: the order becomes Shipped with the label's tracking ID.

    htmx: the shipped row, a row under it with Print label, OOB counts and flash; otherwise 303 to
    the list with the flash. A refusal re-renders the form with its reason; a provider error also offers
    Try again (the same key: it never buys a second label)."""
    form = BuyForm()
    if not form.validate_on_submit():
        return _form(order, form, provider, status=422)
    try:
        workflow.check_label_date(form.ship_date.data)  # a page left open past midnight quoted yesterday
        label, replayed = buy_label(
            order, current_user, provider, shipment_ref=form.shipment_ref.data, rate_id=form.rate_id.data,
            key=form.idempotency_key.data, ship_date=form.ship_date.data, parcel=_parcel_values(form),
            expected_version=form.version.data)
    except workflow.WorkflowError as exc:
        return _refused(order, form, provider, exc)
    except ShippingError as exc:
        form.form_errors.append(exc.message)
        retry = {**_parcel_values(form), "shipment_ref": form.shipment_ref.data,
                 "idempotency_key": form.idempotency_key.data, "rate_id": form.rate_id.data}
        return _form(order, form, provider, status=exc.status_code, retry=retry)
    db.session.refresh(order)
    link = url_for("shipping.label", order_id=order.order_id)
    message = Markup('{} {} {} for {}, tracking ID {}. <a href="{}" target="_blank" rel="noopener">Print label</a>'
                     ).format("This label was already bought:" if replayed else "Bought", label.carrier,
                              label.service, fmt(label.cost_cents), label.tracking_id, link)
    if not is_partial():
        return row_response(order, message)
    flash(message, "success")
    return render_template("shipping/_bought.html", order=order, user=current_user, label=label,
                           flash_html=flash_oob())


def _refused(order, form, provider, exc: workflow.WorkflowError):
    """A workflow rule said no: the message next to its field, or above the form."""
    if exc.field and exc.field in form:
        form[exc.field].errors.append(exc.message)
    else:
        form.form_errors.append(exc.message)
    db.session.refresh(order)
    return _form(order, form, provider, status=exc.status_code)


def _parcel(form) -> Parcel:
    return Parcel.of(form.weight.data, form.weight_unit.data, form.length.data, form.width.data, form.height.data)


def _parcel_values(form) -> dict:
    """The parcel as typed, to send back with a Buy (the rates were quoted for it)."""
    return {"weight": form.weight.raw, "weight_unit": form.weight_unit.data, "length": form.length.raw,
            "width": form.width.raw, "height": form.height.raw, "ship_date": form.ship_date.data.isoformat(),
            "version": "" if form.version.data is None else form.version.data}


def _form(order, form, provider, *, status=200, rates=(), quote=None, retry=None):
    """The form inside the order's row (htmx), or as a page."""
    for field in form:  # other orders' forms can be open in the list too: ids stay unique
        field.id = field.label.field_id = f"{field.name}-{order.id}"
    context = {"order": order, "form": form, "provider": provider, "rates": rates, "quote": quote,
               "retry": retry, "next": back_to_list(), "inline": is_partial()}
    template = "shipping/_buy_row.html" if is_partial() else "shipping/buy.html"
    return render_template(template, **context), status


@bp.get("/<order_id>/label.pdf")
@requires("buy_shipping")
def label(order_id):
    """The label bought for the order, as a 4×6 in PDF to print (kept in the database)."""
    order = get_order(order_id)
    bought = db.session.scalar(select(Label).where(Label.order_id == order.id, Label.shipment_id.is_not(None))
                               .order_by(Label.id.desc()).limit(1))
    if bought is None:
        abort(404)
    response = send_file(io.BytesIO(bought.pdf), mimetype="application/pdf",
                         download_name=f"label-{order.order_id}.pdf")
    response.headers["Cache-Control"] = "no-store"  # it carries the buyer's address
    return response

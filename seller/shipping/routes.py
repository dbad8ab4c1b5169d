"""Buy shipping (W2): rates for the parcel, a label bought, the order shipped with its tracking ID."""
import io
import re
import secrets
from datetime import date, timedelta

from flask import abort, request, send_file
from flask_login import current_user
from sqlalchemy import select

from .. import clock, panels, workflow
from ..auth import requires
from ..extensions import db
from ..forms.shipping import BuyForm, ParcelForm
from ..i18n import _
from ..lookup import get_order
from ..models import Label, Settings
from ..money import fmt
from . import bp
from .providers import Parcel, ShippingError, active, recipient, ship_from
from .purchase import buy_label


@bp.route("/<order_id>/buy-shipping", methods=["GET", "POST"])
@requires("buy_shipping")
def buy(order_id):
    """The parcel form; Get rates shows the rates; a Buy button buys (see `_buy`).

    htmx: the form in the order's panel, rates included (422 with messages when invalid); otherwise a page of
    its own."""
    order = get_order(order_id)
    provider = active(Settings.current())
    if "rate_id" in request.form:  # before the status check: a repeated Buy answers with the label it bought
        return _buy(order, provider)
    if refused := panels.check(order, "buy_shipping", current_user):
        return refused
    address = recipient(order)
    form = ParcelForm(ship_date=clock.local_today(workflow.store_tz()), version=order.version,
                      **{name: getattr(address, name[3:]) for name in ParcelForm.LATIN})
    if request.method == "GET":
        return _form(order, form, provider)
    if not form.validate_on_submit():
        return _form(order, form, provider, status=422)
    to = address.but(**{name[3:]: (form[name].data or "").strip() for name in ParcelForm.LATIN})
    if not to.latin():
        form.form_errors.append(_("Type the ship-to address in Latin letters: carriers read only those."))
        return _form(order, form, provider, status=422)
    try:
        workflow.check_label_date(form.ship_date.data)
        rates = provider.rates(order, _parcel(form), ship_from(Settings.current()), form.ship_date.data, to=to)
    except workflow.WorkflowError as exc:
        return _form(order, form, provider, status=panels.refuse(form, exc, order))
    except ShippingError as exc:
        form.form_errors.append(exc.message)
        return _form(order, form, provider, status=exc.status_code)
    quote = {**_parcel_values(form), "shipment_ref": rates[0].shipment_ref,
             "idempotency_key": secrets.token_urlsafe(24)}
    return _form(order, form, provider, rates=rates, quote=quote)


def _buy(order, provider):
    """Buy the chosen rate: the order becomes Shipped with the label's tracking ID; the done answer (its row then
    offers Print label). A refusal re-renders the form with its reason; a provider error also offers Try again
    (the same key: it never buys a second label)."""
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
        return _form(order, form, provider, status=panels.refuse(form, exc, order))
    except ShippingError as exc:
        form.form_errors.append(exc.message)
        retry = {**_parcel_values(form), "shipment_ref": form.shipment_ref.data,
                 "idempotency_key": form.idempotency_key.data, "rate_id": form.rate_id.data}
        return _form(order, form, provider, status=exc.status_code, retry=retry)
    values = {"carrier": label.carrier, "service": label.service, "cost": fmt(label.cost_cents),
              "tracking_id": label.tracking_id}
    message = (_("This label was already bought: %(carrier)s %(service)s for %(cost)s, tracking ID %(tracking_id)s.",
                 **values) if replayed else
               _("Bought %(carrier)s %(service)s for %(cost)s, tracking ID %(tracking_id)s. Print label is in the "
                 "order's row.", **values))
    return panels.done(order, message)


def _parcel(form) -> Parcel:
    return Parcel.of(form.weight.data, form.weight_unit.data, form.length.data, form.width.data, form.height.data)


def _parcel_values(form) -> dict:
    """The parcel as typed, to send back with a Buy (the rates were quoted for it)."""
    return {"weight": form.weight.raw, "weight_unit": form.weight_unit.data, "length": form.length.raw,
            "width": form.width.raw, "height": form.height.raw, "ship_date": form.ship_date.data.isoformat(),
            "version": "" if form.version.data is None else form.version.data}


def _arrival(order, ship_date, rate) -> tuple[date | None, bool | None]:
    """When a rate's parcel arrives at the latest (its ship date + its most delivery days, None when the carrier
    doesn't say), and whether that is by the order's promise date (None without one)."""
    days = re.findall(r"\d+", rate.delivery_days)
    if not days:
        return None, None
    arrives = ship_date + timedelta(days=max(map(int, days)))
    promise = order.promise_at and clock.to_local(order.promise_at, workflow.store_tz()).date()
    return arrives, (arrives <= promise) if promise else None


def _form(order, form, provider, *, status=200, rates=(), quote=None, retry=None):
    """The Buy shipping form in the order's panel (htmx), or as a page."""
    quoted = [(rate, *_arrival(order, form.ship_date.data, rate)) for rate in rates]
    return panels.form_response("shipping/_buy_form.html", order, title=workflow.action("buy_shipping", order).label,
                                form=form, status=status, provider=provider, rates=quoted, quote=quote, retry=retry,
                                latin=recipient(order).latin())


@bp.get("/<order_id>/label.pdf")
@requires("print_label")
def label(order_id):
    """Print label: the label bought for the order, as a 4×6 in PDF (kept in the database)."""
    order = get_order(order_id)
    bought = db.session.scalar(select(Label).where(Label.order_id == order.id, Label.shipment_id.is_not(None))
                               .order_by(Label.id.desc()).limit(1))
    if bought is None:
        abort(404)
    response = send_file(io.BytesIO(bought.pdf), mimetype="application/pdf",
                         download_name=f"label-{order.order_id}.pdf")
    response.headers["Cache-Control"] = "no-store"  # it carries the buyer's address
    return response

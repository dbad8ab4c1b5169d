"""Pack & ship (contract §10): Scan order, Scan item (or +1), then Confirm shipment or Buy shipping, on one page.

With htmx every form answers with the page's `#pack` section (its URL pushed); without JavaScript a scan that
counted redirects to the order's page (so a reload never counts twice) and a refusal is the page itself, 422/409.
The server keeps the counts (workflow.packing); what was said last travels in the session across a redirect."""
from flask import make_response, redirect, render_template, request, session, url_for
from flask_login import current_user

from .. import clock, workflow
from ..auth import requires
from ..extensions import db
from ..forms.pack import PackBuyForm, PackShipForm, ScanItemForm, ScanOrderForm
from ..htmx import is_partial
from ..i18n import _
from ..lookup import get_order
from ..models import Order, Settings
from ..money import fmt
from ..shipping.providers import ShippingError, active, parcel_preset, ship_from
from ..shipping.purchase import buy_label
from ..workflow import packing
from . import bp

SAID, LABEL = "pack_said", "pack_label"


def _render(context: dict, status: int, push: str | None):
    context.setdefault("said", None)
    if is_partial():
        response = make_response(render_template("pack/_screen.html", **context), status)
        if push:
            response.headers["HX-Push-Url"] = push
        return response
    return render_template("pack/index.html", **context), status


def _scan_order(form: ScanOrderForm | None = None, said: tuple[str, str] | None = None, status: int = 200,
                label: str | None = None):
    """The Scan order screen; a refusal keeps the scanned code in the field (selected, so the next scan replaces
    it). `label`: the URL of a label just bought, to print."""
    return _render({"order": None, "scan_form": form or ScanOrderForm(formdata=None), "said": said, "label": label,
                    "shipped_today": packing.shipped_today(current_user)}, status, url_for("pack.index"))


def _order_screen(order: Order, *, said=None, status: int = 200, item_form=None, ship_form=None, buy_form=None,
                  anyway: str = ""):
    """The open order. `anyway`: "ship" or "buy" offers Confirm anyway or Buy anyway (units unchecked)."""
    pack = packing.session_of(order)
    lines = packing.lines(order, pack)
    preset = parcel_preset(Settings.current())
    return _render({"order": order, "pack": pack, "lines": lines, "all_checked": all(line.done for line in lines),
                    "other": packing.being_packed(pack) if pack and pack.packer_id != current_user.id else None,
                    "item_form": item_form or ScanItemForm(formdata=None),
                    "ship_form": ship_form or PackShipForm(formdata=None, version=order.version),
                    "buy_form": buy_form or PackBuyForm(formdata=None, version=order.version),
                    "preset": preset and preset[1], "provider": active(Settings.current()).name,
                    "anyway": anyway, "said": said}, status, url_for("pack.order", order_id=order.order_id))


def _moved(url: str, said: tuple[str, str] | None):
    """Without JavaScript: what was said waits in the session; the page is fetched again (reload-safe)."""
    if said:
        session[SAID] = list(said)
    return redirect(url, 303)


def _said() -> tuple[str, str] | None:
    said = session.pop(SAID, None)
    return tuple(said) if isinstance(said, list) and len(said) == 2 else None


def _refused(exc: workflow.WorkflowError) -> tuple[str, str]:
    return "refused", exc.message


@bp.get("")
@requires("pack")
def index():
    """Scan order: one large focused field, and Shipped today for this user."""
    return _scan_order(said=_said(), label=session.pop(LABEL, None))


@bp.post("")
@requires("pack")
def scan_order():
    """A scanned order ID (or a shipped order's tracking ID): the order opens, or a refusal says why not."""
    form = ScanOrderForm()
    if not form.validate():
        return _scan_order(form, ("refused", " ".join(form.code.errors)), 422)
    return _open(form)


def _open(form: ScanOrderForm):
    try:
        order = packing.find_order(form.code.data)
        packing.open_pack(order, current_user)
    except workflow.WorkflowError as exc:
        return _scan_order(form, _refused(exc), exc.status_code)
    if not is_partial():
        return _moved(url_for("pack.order", order_id=order.order_id), None)
    return _order_screen(order)


@bp.get("/<order_id>")
@requires("pack")
def order(order_id):
    """The open order: its lines and counts, Scan item, Tracking ID and Confirm shipment."""
    found = get_order(order_id)
    if reason := packing.refusal(found):
        return _scan_order(ScanOrderForm(formdata=None, code=found.order_id), ("refused", reason), 409)
    return _order_screen(found, said=_said())


def _counted(order: Order, line):
    """The answer to a scan or +1 that went through (None: a scanner's double read, counted once)."""
    if line is None:
        said = ("info", _("Read twice by the scanner: counted once."))
    else:
        said = ("ok", _("%(sku)s: %(checked)d of %(quantity)d checked.", sku=line.item.sku, checked=line.checked,
                        quantity=line.quantity))
    if not is_partial():
        return _moved(url_for("pack.order", order_id=order.order_id), said)
    return _order_screen(order, said=said)


@bp.post("/<order_id>/item")
@requires("pack")
def scan_item(order_id):
    """Scan item: one unit of the line with this SKU; a SKU not in the order or one too many is refused. Another
    order's ID opens that order (as Scan order would)."""
    found = get_order(order_id)
    form = ScanItemForm()
    if not form.validate():
        return _order_screen(found, said=("refused", " ".join(form.code.errors)), status=422, item_form=form)
    try:
        line = packing.scan_item(found, current_user, form.code.data)
    except packing.NotInOrder as exc:
        if packing.is_order_id(form.code.data):  # the next order's packing slip, scanned: open that order
            return _open(ScanOrderForm(formdata=None, code=form.code.data))
        return _after_refusal(found, exc, item_form=form)
    except workflow.WorkflowError as exc:
        return _after_refusal(found, exc, item_form=form)
    return _counted(found, line)


@bp.post("/<order_id>/item/<int:item_id>")
@requires("pack")
def check_line(order_id, item_id):
    """+1: one unit of a line without a barcode."""
    found = get_order(order_id)
    try:
        line = packing.check_line(found, current_user, item_id)
    except workflow.WorkflowError as exc:
        return _after_refusal(found, exc)
    return _counted(found, line)


@bp.post("/<order_id>/take-over")
@requires("pack")
def take_over(order_id):
    """Go on packing an order another tablet started."""
    found = get_order(order_id)
    try:
        packing.take_over(found, current_user)
    except workflow.WorkflowError as exc:
        return _after_refusal(found, exc)
    said = ("ok", _("You are packing order %(order_id)s now.", order_id=found.order_id))
    if not is_partial():
        return _moved(url_for("pack.order", order_id=found.order_id), said)
    return _order_screen(found, said=said)


def _after_refusal(order: Order, exc: workflow.WorkflowError, **forms):
    """A refusal on the open order; when the order itself moved on (shipped, canceled), back at Scan order."""
    db.session.refresh(order)
    if packing.refusal(order):
        return _scan_order(ScanOrderForm(formdata=None, code=order.order_id), _refused(exc), exc.status_code)
    return _order_screen(order, said=_refused(exc), status=exc.status_code, **forms)


@bp.post("/<order_id>/ship")
@requires("confirm_shipment")
def ship(order_id):
    """Confirm shipment (Manage Orders' verb). Units unchecked: refused, with Confirm anyway to ship regardless.
    Then back at Scan order with Shipped today."""
    found = get_order(order_id)
    form = PackShipForm()
    if not form.validate():
        return _order_screen(found, said=("refused", _("Check the shipment's fields.")), status=422, ship_form=form)
    data = workflow.ShipmentInput(carrier=form.carrier.data or "", tracking_id=form.tracking_id.data or "",
                                  ship_date=clock.local_today(workflow.store_tz()),
                                  shipping_service=found.ship_service_level, carrier_name=form.carrier_name.data or "")
    try:
        shipment, replayed = packing.confirm_packed(found, current_user, data, anyway=form.anyway.data,
                                                    expected_version=form.version.data)
    except packing.UncheckedUnits as exc:
        return _order_screen(found, said=_refused(exc), status=exc.status_code, ship_form=form, anyway="ship")
    except workflow.WorkflowError as exc:
        if exc.field in form:
            form[exc.field].errors = [*form[exc.field].errors, exc.message]
        if isinstance(exc, workflow.StaleVersion):  # the order changed meanwhile: a retry goes through
            db.session.refresh(found)
            form.version.data, form.version.raw_data = found.version, [str(found.version)]
        return _after_refusal(found, exc, ship_form=form)
    said = ("ok", _("Order %(order_id)s shipped: %(carrier)s %(tracking_id)s.", order_id=found.order_id,
                    carrier=shipment.carrier_name or shipment.carrier, tracking_id=shipment.tracking_id or "—"))
    if shipment.late and not replayed:
        said = ("warning", said[1] + " " + _("It was confirmed after its Ship by date and counts as a late shipment."))
    if not is_partial():
        return _moved(url_for("pack.index"), said)
    return _scan_order(said=said)


@bp.post("/<order_id>/buy")
@requires("buy_shipping")
def buy(order_id):
    """Buy shipping with the Settings parcel preset: the cheapest rate of the provider in use, bought through Buy
    shipping's own steps (one label per order, the order Shipped with its tracking ID); back at Scan order with the
    label to print (app.js opens it)."""
    found = get_order(order_id)
    form = PackBuyForm()
    if not form.validate():
        return _order_screen(found, said=("refused", " ".join(form.errors.get("idempotency_key", [])
                                                               or [_("Reload the page and try again.")])), status=422)
    cfg = Settings.current()
    preset, provider = parcel_preset(cfg), active(cfg)
    try:
        label = packing.bought(found, form.idempotency_key.data)  # a double tap: the label the first one bought
        if label is None:
            if preset is None:
                raise workflow.InvalidInput(_("Set a parcel preset (weight and size) in Settings to buy shipping "
                                              "here."))
            details = packing.ready_to_ship(found, current_user, anyway=form.anyway.data, button=_("Buy anyway"))
            today = clock.local_today(workflow.store_tz())
            cheapest = provider.rates(found, preset[0], ship_from(cfg), today)[0]
            label, _replayed = buy_label(found, current_user, provider, shipment_ref=cheapest.shipment_ref,
                                         rate_id=cheapest.id, key=form.idempotency_key.data, ship_date=today,
                                         parcel=preset[1], expected_version=form.version.data, **details)
    except packing.UncheckedUnits as exc:
        return _order_screen(found, said=_refused(exc), status=exc.status_code, buy_form=form, anyway="buy")
    except workflow.WorkflowError as exc:
        return _after_refusal(found, exc)
    except ShippingError as exc:
        return _order_screen(found, said=("refused", exc.message), status=exc.status_code, buy_form=form)
    said = ("ok", _("Order %(order_id)s shipped: bought %(carrier)s %(service)s for %(cost)s, tracking ID "
                    "%(tracking_id)s. Print the label.", order_id=found.order_id, carrier=label.carrier,
                    service=label.service, cost=fmt(label.cost_cents), tracking_id=label.tracking_id))
    label_url = url_for("shipping.label", order_id=found.order_id)
    if not is_partial():
        session[LABEL] = label_url
        return _moved(url_for("pack.index"), said)
    return _scan_order(said=said, label=label_url)

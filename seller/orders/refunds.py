"""Refund order and Contact buyer from Manage Orders; the refund page is shared with Manage Returns' Issue refund."""
from flask import flash, render_template, request, url_for
from flask_login import current_user

from .. import mail, workflow
from ..actions import attach_error, form_response, safe_back, swap_row
from ..auth import requires
from ..forms.refunds import RefundForm, refund_form
from ..forms.returns import ContactForm
from ..htmx import is_partial
from ..models import Order, ReturnRequest
from ..money import fmt, to_cents
from . import bp
from .routes import get_order
from .rows import row_response


def refund_notice(order: Order, ret: ReturnRequest | None = None) -> str | None:
    """Why this order cannot be refunded now (the page then shows the figures without the buttons)."""
    if not order.amounts_known:
        return ("This order's amounts are unknown: it was imported from the Unshipped Orders Report, which has no "
                "prices. Import the Order Report for it before refunding.")
    if order.status not in workflow.ORDER_ACTIONS["refund"][0]:
        return f"This order is {order.status}: only shipped orders can be refunded."
    if ret is not None and ret.status not in workflow.RETURN_ACTIONS["issue_refund"][0]:
        return f"This return request is {ret.status}: no refund can be issued from it."
    if order.refunded_cents >= order.paid_cents:
        return "This order has been refunded in full."
    return None


def preview_of(order: Order, form: RefundForm) -> dict:
    """What the form would refund now, per item, with the tax pro rata (nothing is written).

    While an amount is malformed or over what is left, there is no total: `errors` says what to fix."""
    kind = form.shown_kind()
    fields = [(f"{item.sku}, {field.label.text}", field) for item in order.items
              for field in form.amount_fields(item.id)] if kind == "partial" else []
    fields += [(form.return_concession.label.text, form.return_concession),
               (form.other_concession.label.text, form.other_concession)]
    errors = [f"{name}: {field.errors[0]}" for name, field in fields if field.errors]
    data = form.refund_input(kind)
    try:
        lines = workflow.plan_refund_lines(order, data)
    except workflow.WorkflowError as exc:
        lines, errors = [], [*errors, exc.message]
    by_item = {line.order_item_id: line for line in lines}
    rc, oc = to_cents(data.return_concession), to_cents(data.other_concession)
    caps = workflow.refund_caps(order)
    errors += [f"{field.label.text}: at most {fmt(caps[name], order.currency)} more on this order."
               for name, field, cents in (("return_concession", form.return_concession, rc),
                                          ("other_concession", form.other_concession, oc)) if cents > caps[name]]
    return {"kind": kind, "rows": [(item, by_item[item.id]) for item in order.items if item.id in by_item],
            "errors": errors, "return_concession": rc, "other_concession": oc,
            "total": None if errors else sum(line.total_cents for line in lines) + rc + oc,
            "tax": sum(line.item_tax_cents + line.shipping_tax_cents for line in lines)}


def refund_form_response(order, form, ret, status, **options):
    """The refund form for this order (from a return when `ret`), its figures read now, in `status`."""
    form.kind.data = form.shown_kind()
    action = url_for("returns.refund", return_id=ret.id) if ret else url_for("orders.refund", order_id=order.order_id)
    back = safe_back("returns.index" if ret else "orders.index")
    title = (f"Issue refund · return for order {order.order_id}" if ret else f"Refund order {order.order_id}")
    row_id = f"return-{ret.id}" if ret else f"order-{order.id}"
    return form_response("orders/_refund_form.html", title=title, panel_id=f"{row_id}-panel", back=back,
                         status=status, form=form, order=order, ret=ret, action=action,
                         preview_url=url_for("orders.refund_preview", order_id=order.order_id),
                         preview=preview_of(order, form), caps=workflow.refund_caps(order),
                         notice=refund_notice(order, ret), **options)


def refund_page(order: Order, ret: ReturnRequest | None, done):
    """GET: the refund form. POST: refund through the workflow, then `done(order, message)` answers.

    Recalculate (or Enter in a field) only shows the figures again; a stale page gets 409 and the
    current figures, with the version they were read at (so a deliberate retry can go through)."""
    if request.method == "GET":
        form = refund_form(order, reason="Customer Return" if ret else "", version=order.version)
        return refund_form_response(order, form, ret, 200)
    form = refund_form(order)
    if not form.validate_on_submit():
        return refund_form_response(order, form, ret, 422)
    kind = form.chosen_kind()
    if kind is None:
        return refund_form_response(order, form, ret, 200)
    try:
        refund, replayed = workflow.refund(order, current_user, form.refund_input(kind), return_request=ret,
                                           expected_version=form.version.data)
    except workflow.WorkflowError as exc:
        attach_error(form, exc)
        if isinstance(exc, workflow.StaleVersion):
            form.version.raw_data = [str(order.version)]
        return refund_form_response(order, form, ret, exc.status_code)
    tax = sum(line.item_tax_cents + line.shipping_tax_cents for line in refund.lines)
    what = "Full refund" if refund.kind == "full" else "Partial refund"
    message = (f"{what} of {fmt(refund.total_cents, order.currency)} (tax {fmt(tax, order.currency)}) "
               f"for order {order.order_id}" + (" was already made with this form." if replayed else "."))
    return done(order, message)


def _order_done(order: Order, message: str, category: str = "success"):
    """The order's row swapped in place (its panel closed), or back to the list."""
    response = row_response(order, message, category)
    return swap_row(response, f"order-{order.id}") if is_partial() else response


@bp.route("/<order_id>/refund", methods=["GET", "POST"])
@requires("refund")
def refund(order_id):
    """The refund page: Full Refund and Partial Refund. htmx: the form under the order's row, then the
    row swapped in place with the counts; otherwise its own page, then 303 back to the list."""
    return refund_page(get_order(order_id), None, _order_done)


@bp.post("/<order_id>/refund/preview")
@requires("refund")
def refund_preview(order_id):
    """The refund summary (amounts, pro-rata tax, total) for the form as it is being filled in. htmx only."""
    order = get_order(order_id)
    form = refund_form(order)
    form.validate()
    return render_template("orders/_refund_preview.html", order=order, preview=preview_of(order, form),
                           preview_url=request.path)


def contact_page(order: Order, ret: ReturnRequest | None, done):
    """Contact buyer: keep the message in the history (committed), then e-mail it; SMTP trouble only warns."""
    form = ContactForm()
    status = 200
    if not form.is_submitted():
        form.subject.data = (f"Your return for order {order.order_id}" if ret
                             else f"Your order {order.order_id}")
    else:
        status = 422
        if form.validate():
            try:
                message = workflow.contact_buyer(order, current_user, form.subject.data, form.message.data,
                                                 ret=ret)
            except workflow.WorkflowError as exc:
                attach_error(form, exc)
                status = exc.status_code
            else:
                sent = mail.deliver(message)
                if sent:
                    return done(order, f"Message e-mailed to {order.buyer_name or 'the buyer'}.")
                if sent is False:
                    flash(mail.NOT_SENT, "warning")
                    return done(order, "Message saved in the order's history.", "info")
                return done(order, "Message saved in the order's history (e-mail is not set up here, so it was "
                                   "not sent).", "info")
    action = (url_for("returns.contact", return_id=ret.id) if ret
              else url_for("orders.contact", order_id=order.order_id))
    row_id = f"return-{ret.id}" if ret else f"order-{order.id}"
    return form_response("orders/_contact_form.html", title=f"Contact buyer · order {order.order_id}",
                         panel_id=f"{row_id}-panel", back=safe_back("returns.index" if ret else "orders.index"),
                         status=status, form=form, order=order, action=action)


@bp.route("/<order_id>/contact", methods=["GET", "POST"])
@requires("contact_buyer")
def contact(order_id):
    """Contact buyer (Subject, Message, Send message). htmx: under the row, then the row swapped; otherwise
    its own page, then 303 back."""
    return contact_page(get_order(order_id), None, _order_done)

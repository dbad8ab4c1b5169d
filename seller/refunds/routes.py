"""Refund order and Issue refund: one refund form (Full Refund / Partial Refund), its live summary, one verb."""
from flask import render_template, request, url_for
from flask_login import current_user

from .. import panels, workflow
from ..auth import requires
from ..forms.refunds import RefundForm, cancel_refund_form, refund_form
from ..i18n import _
from ..lookup import get_order, get_return
from ..models import Order, ReturnRequest
from ..money import fmt, to_cents
from ..templating import local_time
from . import bp


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
    errors += [_("%(field)s: at most %(amount)s more on this order.", field=field.label.text,
                 amount=fmt(caps[name], order.currency))
               for name, field, cents in (("return_concession", form.return_concession, rc),
                                          ("other_concession", form.other_concession, oc)) if cents > caps[name]]
    return {"kind": kind, "rows": [(item, by_item[item.id]) for item in order.items if item.id in by_item],
            "errors": errors, "return_concession": rc, "other_concession": oc,
            "total": None if errors else sum(line.total_cents for line in lines) + rc + oc,
            "tax": sum(line.item_tax_cents + line.shipping_tax_cents for line in lines)}


def _form(subject, order: Order, ret: ReturnRequest | None, form: RefundForm, status: int):
    """The refund form for this order (from a return when `ret`), its figures read now, in `status`."""
    form.kind.data = form.shown_kind()
    action = "issue_refund" if ret else "refund"
    title = _("Issue refund · return for order %(order_id)s", order_id=order.order_id) if ret else \
        _("Refund order %(order_id)s", order_id=order.order_id)
    return panels.form_response(
        "refunds/_form.html", subject, title=title, form=form, status=status, order=order, ret=ret,
        action=workflow.action(action, subject).url(subject),
        preview_url=url_for("refunds.preview", order_id=order.order_id), preview=preview_of(order, form),
        caps=workflow.refund_caps(order), notice=workflow.why_not(subject, action, current_user))


def refund_page(subject, order: Order, ret: ReturnRequest | None):
    """GET: the refund form. POST: refund through the workflow, then the done answer for `subject`.

    Recalculate (or Enter in a field) only shows the figures again; a stale page gets 409 and the
    current figures, with the version they were read at (so a deliberate retry can go through)."""
    if request.method == "GET":
        suggested = workflow.received_amounts(ret) if ret else {}  # the items that came back, as a partial refund
        amounts = {f"item-{item_id}-item": amount for item_id, amount in suggested.items()}
        return _form(subject, order, ret, refund_form(order, reason="Customer Return" if ret else "",
                                                      version=order.version,
                                                      **({"kind": "partial", **amounts} if amounts else {})), 200)
    form = refund_form(order)
    if not form.validate_on_submit():
        return _form(subject, order, ret, form, 422)
    kind = form.chosen_kind()
    if kind is None:
        return _form(subject, order, ret, form, 200)
    try:
        refund, replayed = workflow.refund(order, current_user, form.refund_input(kind), return_request=ret,
                                           expected_version=form.version.data)
    except workflow.WorkflowError as exc:
        return _form(subject, order, ret, form, panels.refuse(form, exc, order))
    tax = sum(line.item_tax_cents + line.shipping_tax_cents for line in refund.lines)
    values = {"amount": fmt(refund.total_cents, order.currency), "tax": fmt(tax, order.currency),
              "order_id": order.order_id}
    if refund.kind == "full":
        message = _("Full refund of %(amount)s (tax %(tax)s) for order %(order_id)s.", **values)
    else:
        message = _("Partial refund of %(amount)s (tax %(tax)s) for order %(order_id)s.", **values)
    if replayed:
        message += " " + _("It was already made with this form.")
    return panels.done(subject, message)


@bp.route("/orders/<order_id>/refund", methods=["GET", "POST"])
@requires("refund")
def order(order_id):
    """Refund order: Full Refund and Partial Refund. htmx: the form in the order's panel, then the done answer;
    otherwise its own page, then 303 back to the list."""
    found = get_order(order_id)
    return refund_page(found, found, None)


@bp.route("/returns/<int:return_id>/refund", methods=["GET", "POST"])
@requires("refund")
def for_return(return_id):
    """Issue refund: the refund form for this return (reason Customer Return); a full refund completes it.
    Answers as `order`, with the return's row."""
    ret = get_return(return_id)
    return refund_page(ret, ret.order, ret)


@bp.post("/orders/<order_id>/refund/preview")
@requires("refund")
def preview(order_id):
    """The refund summary (amounts, pro-rata tax, total) for the form as it is being filled in. htmx only."""
    found = get_order(order_id)
    form = refund_form(found)
    form.validate()
    return render_template("refunds/_preview.html", order=found, preview=preview_of(found, form),
                           preview_url=request.path)


def _refund_label(refund) -> str:
    """'Partial Refund of $21.65, pending until Dec 02, 06:30 PM PST'."""
    kind = _("Full Refund") if refund.kind == "full" else _("Partial Refund")
    return _("%(kind)s of %(amount)s, pending until %(when)s", kind=kind,
             amount=fmt(refund.total_cents, refund.order.currency), when=local_time(refund.final_at))


@bp.route("/orders/<order_id>/refund/cancel", methods=["GET", "POST"])
@requires("cancel_refund")
def cancel(order_id):
    """Cancel refund (owner), while the refund is Pending: it is undone whole. htmx: in the order's panel, then the
    done answer; otherwise its own page, then 303 back."""
    found = get_order(order_id)
    if refused := panels.check(found, "cancel_refund", current_user):
        return refused
    form = cancel_refund_form(found, _refund_label)
    canceled, status = panels.submit(form, found, lambda: workflow.cancel_refund(
        found, current_user, form.refund_id.data, expected_version=form.version.data))
    if status is None:
        return panels.done(found, _("Refund of %(amount)s for order %(order_id)s canceled: it can be refunded again.",
                                    amount=fmt(canceled.total_cents, found.currency), order_id=found.order_id))
    return panels.form_response("refunds/_cancel_form.html", found, status=status, form=form,
                                title=_("Cancel refund · order %(order_id)s", order_id=found.order_id))

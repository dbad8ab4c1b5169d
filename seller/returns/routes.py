"""Manage Returns: the return requests by status, Create return request, Authorize request, Mark received and Close
request."""
import io

from flask import abort, flash, redirect, render_template, request, send_file, url_for
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from .. import clock, listing, mail, panels, returns_report, workflow
from ..auth import requires
from ..extensions import db
from ..forms.files import ReturnsReportForm
from ..forms.returns import AuthorizeForm, AuthorizeSelectedForm, CloseForm, create_return_form, mark_received_form
from ..htmx import flash_oob, is_partial
from ..i18n import _, ngettext
from ..lookup import get_order, get_return
from ..models import Order, ReturnItem, ReturnRequest, ReturnStatus, Settings
from ..shipping import providers
from . import bp

PER_PAGE = 50


@bp.get("")
@requires("view")
def index():
    """The return requests of one status tab (All by default), newest first, 50 a page."""
    tab = listing.return_tab()
    pages = max((listing.return_counts()[tab] + PER_PAGE - 1) // PER_PAGE, 1)
    page = min(max(request.args.get("page", 1, type=int), 1), pages)
    query = select(ReturnRequest).options(
        selectinload(ReturnRequest.order), selectinload(ReturnRequest.items).selectinload(ReturnItem.item))
    if tab != "All":
        query = query.where(ReturnRequest.status == tab)
    returns = db.session.scalars(query.order_by(ReturnRequest.created_at.desc(), ReturnRequest.id.desc())
                                 .limit(PER_PAGE).offset((page - 1) * PER_PAGE)).all()
    return render_template("returns/index.html", returns=returns, tabs=listing.return_tabs(), tab=tab, page=page,
                           pages=pages)


@bp.get("/<int:return_id>/row")
@requires("view")
def row(return_id):
    """One return request's row with its panel closed (htmx: what Close puts back)."""
    return panels.row_answer(get_return(return_id))


@bp.get("/new")
@requires("create_return")
def find_order():
    """Create return request, step one: the order, by its ID (a GET form on Manage Returns)."""
    order_id = (request.args.get("order_id") or "").strip()
    if db.session.scalar(select(Order.id).where(Order.order_id == order_id)) is None:
        flash(_("No order %(order_id)s was found. Copy its Order ID from Manage Orders.", order_id=repr(order_id))
              if order_id else _("Enter the Order ID."), "error")
        return redirect(url_for("returns.index"), 303)
    return redirect(url_for("returns.create", order_id=order_id, next=url_for("returns.index")), 303)


@bp.route("/new/<order_id>", methods=["GET", "POST"])
@requires("create_return")
def create(order_id):
    """Create return request on a shipped order (items, quantities, Return reason). htmx: in the order's panel,
    then the order's done answer; otherwise its own page, then 303 back to where it was opened from."""
    order = get_order(order_id)
    form = create_return_form(order, workflow.returnable_quantities(order))
    status = 200
    if form.is_submitted():
        status = 422
        if form.validate():
            try:
                ret = workflow.create_return(order, current_user, form.reason.data, form.quantities())
            except workflow.WorkflowError as exc:
                status = panels.refuse(form, exc)
            else:
                return panels.done(order, _("Return request created for order %(order_id)s: %(status)s.",
                                            order_id=order.order_id, status=_(ret.status)))
    return panels.form_response(
        "returns/_create_form.html", order, status=status, form=form,
        title=_("Create return request · order %(order_id)s", order_id=order.order_id),
        returnable=workflow.returnable_quantities(order), notice=workflow.why_not(order, "create_return",
                                                                                  current_user))


@bp.route("/<int:return_id>/authorize", methods=["GET", "POST"])
@requires("authorize_return")
def authorize(return_id):
    """Authorize request (RMA number, Return address, refund now or after receipt). htmx: the done answer —
    with "refund now" the refund form then opens in the panel; otherwise 303 back (or to the refund page)."""
    ret = get_return(return_id)
    if refused := panels.check(ret, "authorize_return", current_user):
        return refused
    form = AuthorizeForm()
    status = 200
    if not form.is_submitted():
        form.rma_number.data = workflow.new_rma_number()
        form.return_address.data = ret.return_address or Settings.current().return_address
        form.version.data = ret.version
    else:
        status = 422
        if form.validate():
            bought = None
            try:
                label_pdf = form.label.data.read() if form.label.data else None
                if form.buy_label.data:  # bought first (the provider's call is no place for a transaction)
                    bought = _buy_return_label(ret)
                    label_pdf = bought[1].label_pdf
                workflow.authorize_return(ret, current_user, form.rma_number.data, form.return_address.data,
                                          form.refund_timing.data, expected_version=form.version.data,
                                          label_pdf=label_pdf)
            except workflow.WorkflowError as exc:
                if bought:  # not used after all: ask for the money back
                    bought[0].void(bought[1].provider_shipment_id)
                status = panels.refuse(form, exc, ret)
            else:
                message = _("Return for order %(order_id)s authorized with RMA %(rma)s.",
                            order_id=ret.order.order_id, rma=ret.rma_number)
                if send_authorization(ret) is False:
                    flash(mail.not_sent(), "warning")
                if ret.refund_timing != "now" or workflow.why_not(ret, "issue_refund", current_user) is not None:
                    return panels.done(ret, message)
                refund = workflow.action("issue_refund", ret).url(ret, next=panels.back(ret))
                return panels.done(ret, message + " " + _("Now issue the refund."), then=refund)
    return panels.form_response("returns/_authorize_form.html", ret, status=status, form=form,
                                title=_("Authorize request · order %(order_id)s", order_id=ret.order.order_id))


def _buy_return_label(ret: ReturnRequest):
    """Buy return label through the configured provider; its refusal as the form's message."""
    cfg = Settings.current()
    try:
        return providers.buy_return_label(ret.order, cfg, clock.local_today(workflow.store_tz()),
                                          f"return-{ret.id}-{ret.version}")
    except providers.ShippingError as exc:
        raise workflow.InvalidInput(str(exc), "label") from None


def send_authorization(ret: ReturnRequest) -> bool | None:
    """E-mail the buyer the authorization (RMA, return address, the label attached); None without SMTP."""
    label = [(f"return-label-{ret.rma_number}.pdf", ret.label_pdf)] if ret.label_pdf else []
    return mail.deliver(workflow.authorization_message(ret), label)


@bp.get("/<int:return_id>/label.pdf")
@requires("view")
def label(return_id):
    """The return label given to the buyer (PDF), or 404."""
    ret = get_return(return_id)
    if not ret.label_pdf:
        abort(404)
    return send_file(io.BytesIO(ret.label_pdf), mimetype="application/pdf",
                     download_name=f"return-label-{ret.rma_number}.pdf")


@bp.route("/<int:return_id>/close", methods=["GET", "POST"])
@requires("close_return")
def close(return_id):
    """Close request (Reason for closing, Message to buyer). htmx: the done answer; otherwise 303 back."""
    ret = get_return(return_id)
    if refused := panels.check(ret, "close_return", current_user):
        return refused
    form = CloseForm()
    status = 200
    if not form.is_submitted():
        form.version.data = ret.version
    else:
        status = 422
        if form.validate():
            try:
                ret, note = workflow.close_return(ret, current_user, form.reason.data, form.message.data,
                                                  expected_version=form.version.data)
            except workflow.WorkflowError as exc:
                status = panels.refuse(form, exc, ret)
            else:
                if mail.deliver(note) is False:
                    flash(mail.not_sent(), "warning")
                return panels.done(ret, _("Return request for order %(order_id)s closed.",
                                          order_id=ret.order.order_id))
    return panels.form_response("returns/_close_form.html", ret, status=status, form=form,
                                title=_("Close request · order %(order_id)s", order_id=ret.order.order_id))


@bp.route("/<int:return_id>/receive", methods=["GET", "POST"])
@requires("mark_received")
def receive(return_id):
    """Mark received (staff and owner): per item the Quantity received and its Condition, a note. htmx: the done
    answer; otherwise 303 back."""
    ret = get_return(return_id)
    if refused := panels.check(ret, "mark_received", current_user):
        return refused
    form = mark_received_form(ret)
    _done, status = panels.submit(form, ret, lambda: workflow.mark_received(
        ret, current_user, form.received(), form.note.data, expected_version=form.version.data))
    if status is None:
        return panels.done(ret, _("Return for order %(order_id)s marked received: %(received)s.",
                                  order_id=ret.order.order_id, received=received_summary(ret)))
    return panels.form_response("returns/_receive_form.html", ret, status=status, form=form,
                                title=_("Mark received · order %(order_id)s", order_id=ret.order.order_id))


def received_summary(ret: ReturnRequest) -> str:
    """'Received 1 of 2 · Damaged' per item, for the message."""
    return "; ".join(f"{ri.item.sku}: " + _("Received %(got)d of %(of)d", got=ri.received_quantity, of=ri.quantity)
                     + (f" · {_(ri.condition)}" if ri.condition else "") for ri in ret.items)


@bp.route("/authorize-selected", methods=["GET", "POST"])
@requires("authorize_return")
def authorize_selected():
    """Authorize selected: GET confirms the checked requests (`ids`); POST authorizes each with a generated RMA and
    the Settings return address, in its own transaction, and says what became of each. htmx: in the panel above
    the list, the rows and tab counts out of band; otherwise pages of their own."""
    form = AuthorizeSelectedForm()
    address = Settings.current().return_address
    ids = form.ids.data if form.is_submitted() else request.args.getlist("ids", type=int)
    results, status = None, 200
    if form.is_submitted():
        status = 422
        if form.validate() and address:
            results, status = workflow.authorize_selected(form.ids.data, current_user, address,
                                                          form.refund_timing.data), 200
            if mail.configured():
                for _id, ret, why in results:
                    if why is None:
                        send_authorization(ret)
            ids = [ret_id for ret_id, _ret, _why in results]
    query = select(ReturnRequest).where(ReturnRequest.id.in_(ids or [])).options(
        selectinload(ReturnRequest.order), selectinload(ReturnRequest.items).selectinload(ReturnItem.item))
    rets = {ret.id: ret for ret in db.session.scalars(query)}
    if results is not None:
        results = [(ret_id, rets.get(ret_id), why) for ret_id, _ret, why in results]
        done = sum(why is None for *_x, why in results)
        flash(ngettext("%(num)d return request authorized.", "%(num)d return requests authorized.", done),
              "success" if done == len(results) else "warning")
    context = {"form": form, "address": address, "results": results, "inline": is_partial(),
               "rets": [ret for ret_id, ret in rets.items() if ret.status == ReturnStatus.PENDING_AUTHORIZATION]}
    if not is_partial():
        return render_template("returns/authorize_selected.html", **context), status
    parts = [render_template("returns/_authorize_selected.html", **context)]
    if results is not None:  # the rows as they are now, the tab counts and the message, out of band
        parts += [render_template("returns/_row.html", ret=ret, oob=True) for ret in rets.values()]
        parts += [render_template("_tabs.html", tabs=listing.return_tabs(), oob=True), str(flash_oob())]
    return "".join(parts), status


@bp.route("/import", methods=["GET", "POST"])
@requires("import_returns")
def import_returns():
    """Import returns (owner): Amazon's returns report creates or updates requests; the counts and the orders not
    in the desk, or the bad lines (422, nothing imported). htmx: the upload section alone; otherwise the page."""
    form, result = ReturnsReportForm(), None
    if form.validate_on_submit():
        result = returns_report.import_returns(form.report.data.read(), current_user._get_current_object())
    status = 422 if form.errors or (result and not result.ok) else 200
    template = "returns/_import.html" if is_partial() else "returns/import.html"
    return render_template(template, form=form, result=result), status

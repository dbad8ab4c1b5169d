"""Manage Returns: the return requests by status, and Authorize / Issue refund / Close / Contact buyer."""
from urllib.parse import parse_qs, urlsplit

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from .. import mail, workflow
from ..actions import attach_error, form_response, safe_back, swap_row
from ..auth import requires
from ..extensions import db
from ..forms.refunds import refund_form
from ..forms.returns import AuthorizeForm, CloseForm, create_return_form
from ..htmx import flash_oob, is_partial
from ..models import Order, ReturnItem, ReturnRequest, ReturnStatus, Settings
from ..orders.refunds import contact_page, refund_form_response, refund_page
from ..orders.routes import get_order
from ..orders.rows import row_response
from . import bp

TABS = ["All", *[s.value for s in ReturnStatus]]
PER_PAGE = 50


def get_return(return_id: int) -> ReturnRequest:
    ret = db.session.get(ReturnRequest, return_id)
    if ret is None:
        abort(404)
    return ret


def return_counts() -> dict[str, int]:
    """Return requests per status tab."""
    counts = dict(db.session.execute(select(ReturnRequest.status, func.count()).group_by(ReturnRequest.status)).all())
    return {"All": sum(counts.values()), **{s: counts.get(s, 0) for s in TABS[1:]}}


def current_tab() -> str:
    """The tab the list shows: `?status=`, or for an htmx action the tab of the page it was sent from."""
    status = request.args.get("status")
    if status is None and is_partial():
        status = parse_qs(urlsplit(request.headers.get("HX-Current-URL", "")).query).get("status", [None])[0]
    return status if status in TABS else "All"


def _row_context(ret: ReturnRequest) -> dict:
    return {"ret": ret, "actions": workflow.available_return_actions(ret, current_user),
            "back": safe_back("returns.index")}


def _return_done(ret: ReturnRequest, message: str, category: str = "success"):
    """htmx: the return's row swapped in place (panel closed) with the tab counts and the flash; otherwise 303 back."""
    flash(message, category)
    if not is_partial():
        return redirect(safe_back("returns.index"), 303)
    db.session.refresh(ret)
    body = render_template("returns/_row_update.html", **_row_context(ret), counts=return_counts(),
                           tab=current_tab(), flash_html=flash_oob())
    return swap_row(body, f"return-{ret.id}")


@bp.get("")
@requires("view")
def index():
    """The return requests of one status tab (All by default), newest first, 50 a page."""
    tab = current_tab()
    counts = return_counts()
    pages = max((counts[tab] + PER_PAGE - 1) // PER_PAGE, 1)
    page = min(max(request.args.get("page", 1, type=int), 1), pages)
    query = select(ReturnRequest).options(
        selectinload(ReturnRequest.order), selectinload(ReturnRequest.items).selectinload(ReturnItem.item))
    if tab != "All":
        query = query.where(ReturnRequest.status == tab)
    returns = db.session.scalars(query.order_by(ReturnRequest.created_at.desc(), ReturnRequest.id.desc())
                                 .limit(PER_PAGE).offset((page - 1) * PER_PAGE)).all()
    back = request.full_path.rstrip("?")
    rows = [{"ret": r, "actions": workflow.available_return_actions(r, current_user), "back": back} for r in returns]
    return render_template("returns/index.html", rows=rows, counts=counts, tab=tab, page=page, pages=pages)


@bp.get("/new")
@requires("create_return")
def find_order():
    """Create return request, step one: the order, by its ID (a GET form on Manage Returns)."""
    order_id = (request.args.get("order_id") or "").strip()
    if db.session.scalar(select(Order.id).where(Order.order_id == order_id)) is None:
        flash(f"No order {order_id!r} was found. Copy its Order ID from Manage Orders." if order_id
              else "Enter the Order ID.", "error")
        return redirect(url_for("returns.index"), 303)
    return redirect(url_for("returns.create", order_id=order_id, next=url_for("returns.index")), 303)


@bp.route("/new/<order_id>", methods=["GET", "POST"])
@requires("create_return")
def create(order_id):
    """Create return request on a shipped order (items, quantities, Return reason). htmx: under the order's
    row, then that row swapped; otherwise its own page, then 303 back to where it was opened from."""
    order = get_order(order_id)
    form = create_return_form(order, workflow.returnable_quantities(order))
    status = 200
    if form.is_submitted():
        status = 422
        if form.validate():
            try:
                ret = workflow.create_return(order, current_user, form.reason.data, form.quantities())
            except workflow.WorkflowError as exc:
                attach_error(form, exc)
                status = exc.status_code
            else:
                message = f"Return request created for order {order.order_id}: {ret.status}."
                if is_partial():
                    return swap_row(row_response(order, message), f"order-{order.id}")
                flash(message, "success")
                return redirect(safe_back("returns.index"), 303)
    notice = None if order.status in workflow.ORDER_ACTIONS["create_return"][0] else \
        f"This order is {order.status}: return requests are recorded on shipped orders only."
    return form_response("returns/_create_form.html", title=f"Create return request · order {order.order_id}",
                         panel_id=f"order-{order.id}-panel", back=safe_back("orders.index"), status=status,
                         form=form, order=order, returnable=workflow.returnable_quantities(order), notice=notice)


@bp.route("/<int:return_id>/authorize", methods=["GET", "POST"])
@requires("authorize_return")
def authorize(return_id):
    """Authorize request (RMA number, Return address, refund now or after receipt). htmx: the row swapped, or
    with "refund now" the refund form opened under it; otherwise 303 back (or to the refund page)."""
    ret = get_return(return_id)
    form = AuthorizeForm()
    status = 200
    if not form.is_submitted():
        form.rma_number.data = workflow.new_rma_number()
        form.return_address.data = ret.return_address or Settings.current().return_address
        form.version.data = ret.version
    else:
        status = 422
        if form.validate():
            try:
                workflow.authorize_return(ret, current_user, form.rma_number.data, form.return_address.data,
                                          form.refund_timing.data, expected_version=form.version.data)
            except workflow.WorkflowError as exc:
                attach_error(form, exc)
                status = exc.status_code
            else:
                message = f"Return for order {ret.order.order_id} authorized with RMA {ret.rma_number}."
                if ret.refund_timing != "now" or "issue_refund" not in workflow.available_return_actions(
                        ret, current_user):
                    return _return_done(ret, message)
                return _refund_now(ret, message)
    return form_response("returns/_authorize_form.html", title=f"Authorize request · order {ret.order.order_id}",
                         panel_id=f"return-{ret.id}-panel", back=safe_back("returns.index"), status=status,
                         form=form, ret=ret)


def _refund_now(ret: ReturnRequest, message: str):
    """Authorized with "refund now": the refund page opens. htmx: the refund form in the return's panel,
    the row, counts and flash out of band; otherwise 303 to the refund page."""
    flash(message + " Now issue the refund.", "success")
    if not is_partial():
        return redirect(url_for("returns.refund", return_id=ret.id, next=safe_back("returns.index")), 303)
    order = ret.order
    form = refund_form(order, reason="Customer Return", version=order.version)
    panel, _ = refund_form_response(order, form, ret, 200, panel=True)
    row = render_template("returns/_row_update.html", **_row_context(ret), counts=return_counts(),
                          tab=current_tab(), flash_html=flash_oob(), oob_row=True)
    return panel + row, 200, {"HX-Retarget": f"#return-{ret.id}-panel", "HX-Reswap": "outerHTML"}


@bp.route("/<int:return_id>/refund", methods=["GET", "POST"])
@requires("refund")
def refund(return_id):
    """Issue refund: the refund page for this return (reason Customer Return); a full refund completes it.
    htmx: under the return's row, then the row and counts swapped; otherwise 303 back."""
    ret = get_return(return_id)
    return refund_page(ret.order, ret, lambda order, message, category="success": _return_done(ret, message,
                                                                                                 category))


@bp.route("/<int:return_id>/close", methods=["GET", "POST"])
@requires("close_return")
def close(return_id):
    """Close request (Reason for closing, Message to buyer). htmx: the row swapped; otherwise 303 back."""
    ret = get_return(return_id)
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
                attach_error(form, exc)
                status = exc.status_code
            else:
                if mail.deliver(note) is False:
                    flash(mail.NOT_SENT, "warning")
                return _return_done(ret, f"Return request for order {ret.order.order_id} closed.")
    return form_response("returns/_close_form.html", title=f"Close request · order {ret.order.order_id}",
                         panel_id=f"return-{ret.id}-panel", back=safe_back("returns.index"), status=status,
                         form=form, ret=ret)


@bp.route("/<int:return_id>/contact", methods=["GET", "POST"])
@requires("contact_buyer")
def contact(return_id):
    """Contact buyer about a return. htmx: under the return's row, then the row swapped; otherwise 303 back."""
    ret = get_return(return_id)
    return contact_page(ret.order, ret, lambda order, message, category="success": _return_done(ret, message,
                                                                                                  category))

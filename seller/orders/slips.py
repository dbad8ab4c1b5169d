"""Packing slips (contract §5, W5): one order's, or one PDF for many, one slip a page; and the pick list (§10).
Plain links and form posts, not htmx."""
import re

from flask import Response, request
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from .. import clock, workflow
from ..auth import requires
from ..errors import error_response
from ..extensions import db
from ..models import Order, OrderStatus, Settings, Shipment
from . import bp
from ..lookup import get_order
from ..search import filtered_orders
from ..i18n import _

# Slip size -> CSS @page size and margin.
PAGES = {"letter": ("letter", "0.5in"), "4x6": ("4in 6in", "0.18in")}
MAX_SLIPS = 500  # about 10 s of rendering; more is a job for several prints
MAX_PICK = 2000  # a pick list is one line per SKU and per order: a few times faster than slips


def render_pdf(template_name: str, **context) -> bytes:
    """`pdf.render_pdf`, imported on the first print: xhtml2pdf and reportlab don't load at every start."""
    from ..pdf import render_pdf as render
    return render(template_name, **context)


def slips_pdf(orders: list[Order], size: str) -> bytes:
    """The packing slips of `orders`, in that order, as one PDF of the given size ('letter' or '4x6')."""
    cfg = Settings.current()
    page_size, margin = PAGES[size]
    return render_pdf("pdf/packing_slip.html", orders=orders, size=size, page_size=page_size, page_margin=margin,
                      store_name=cfg.store_name, seller_name=cfg.seller_name or cfg.store_name)


def _pdf_response(orders: list[Order], filename: str):
    """Render, write the print into each order's history, answer with the PDF shown inline."""
    size = request.values.get("size") or Settings.current().slip_size
    if size not in PAGES:
        return error_response(400, _("Choose a slip size: letter or 4x6."))
    try:
        workflow.check_packing_slips(orders)  # before the rendering, which is the slow part
        pdf = slips_pdf(orders, size)
        workflow.record_packing_slips(orders, current_user)
    except workflow.WorkflowError as exc:
        return error_response(exc.status_code, exc.message)
    return _inline(pdf, filename)


def _chosen(limit: int, pick_list: bool = False):
    """The orders a bulk print is for: those selected in the list (repeated `order_ids`, in that order), or with
    `scope=unshipped` and none selected, every Unshipped order of the list's filter (its arguments in the URL).
    Returns the orders, or an error answer."""
    order_ids = list(dict.fromkeys(i.strip() for i in request.form.getlist("order_ids") if i.strip()))
    with_items = (selectinload(Order.items), selectinload(Order.shipments).selectinload(Shipment.items))
    if order_ids:
        found = {o.order_id: o for o in db.session.scalars(
            select(Order).where(Order.order_id.in_(order_ids)).options(*with_items))}
        missing = [i for i in order_ids if i not in found]
        if missing:
            return error_response(404, _("No order %(orders)s.", orders=", ".join(missing[:10])))
        orders = [found[i] for i in order_ids]
    elif request.form.get("scope") == "unshipped":
        orders = list(db.session.scalars(filtered_orders(request.values, OrderStatus.UNSHIPPED.value)
                                         .options(*with_items)))
    else:
        return error_response(422, _("Select the orders whose pick list you want to print.") if pick_list
                              else _("Select the orders whose packing slips you want to print."))
    if not orders:
        return error_response(422, _("No Unshipped orders in this list: there is nothing to print."))
    if len(orders) > limit:
        return error_response(422, _("%(num)s orders is more than the %(most)s orders one pick list can hold. Narrow "
                                     "the list (dates, search) and print it in parts.", num=len(orders), most=limit)
                              if pick_list else
                              _("%(num)s orders is more than the %(most)s slips one print can hold. Narrow the list "
                                "(dates, search) and print it in parts.", num=len(orders), most=limit))
    return orders


def _bulk_name(name: str, orders: list[Order]) -> str:
    return f"{name}-{clock.local_today(workflow.store_tz()):%Y-%m-%d}-{len(orders)}-orders.pdf"


def _inline(pdf: bytes, filename: str) -> Response:
    """A PDF shown in the browser's tab."""
    return Response(pdf, mimetype="application/pdf",
                    headers={"Content-Disposition": f'inline; filename="{filename}"'})


@bp.post("/packing-slips.pdf")
@requires("print_packing_slip")
def packing_slips():
    """One PDF of packing slips for the orders selected in the list, or every Unshipped order of its filter (see
    `_chosen`). A plain form post: the answer is the PDF."""
    orders = _chosen(MAX_SLIPS)
    if not isinstance(orders, list):
        return orders
    return _pdf_response(orders, _bulk_name("packing-slips", orders))


def pick_lines(orders: list[Order]) -> list[dict]:
    """One line per SKU over `orders`: SKU, product name (the first order's), total quantity (of a partially shipped
    order, what is left to ship), number of orders; sorted by SKU."""
    lines: dict[str, dict] = {}
    for order in orders:
        for item, quantity in order.slip_lines:
            line = lines.setdefault(item.sku, {"sku": item.sku, "product_name": item.product_name, "quantity": 0,
                                               "orders": set()})
            line["quantity"] += quantity
            line["orders"].add(order.id)
    return [{**line, "orders": len(line["orders"])} for _sku, line in sorted(lines.items())]


@bp.post("/pick-list.pdf")
@requires("print_pick_list")
def pick_list():
    """Print pick list: what to take off the shelves for the chosen Unshipped orders (see `_chosen`) — one line per
    SKU with its total quantity, then the orders covered (soonest Ship by first)."""
    orders = _chosen(MAX_PICK, pick_list=True)
    if not isinstance(orders, list):
        return orders
    refused = [f"{o.order_id} ({o.status})" for o in orders if o.status != OrderStatus.UNSHIPPED]
    if refused:
        return error_response(409, _("No pick list for %(orders)s: only Unshipped orders are picked.",
                                     orders=", ".join(refused[:10])))
    orders.sort(key=lambda o: (o.ship_by, o.order_id))
    pdf = render_pdf("pdf/pick_list.html", orders=orders, lines=pick_lines(orders), page_size="letter",
                     page_margin="0.5in", store_name=Settings.current().store_name,
                     printed=clock.to_local(clock.now(), workflow.store_tz()))
    return _inline(pdf, _bulk_name("pick-list", orders))


@bp.get("/<order_id>/packing-slip.pdf")
@requires("print_packing_slip")
def packing_slip(order_id):
    """One order's packing slip (Unshipped or Shipped; others 409), Letter or 4x6 (`size`, default from Settings)."""
    order = get_order(order_id)
    return _pdf_response([order], f"packing-slip-{re.sub(r'[^A-Za-z0-9-]', '_', order.order_id)}.pdf")

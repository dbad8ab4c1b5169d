"""Whether the desk's records hold together: what a crash, a bad restore or a bug could leave half-done.

Each check is one query over the whole database; `problems()` lists what is wrong (empty: all is well). The
crash and load runs (tests/test_crash.py, bench/load.py) end with it; `flask --app app check` runs it by hand."""
from sqlalchemy import and_, exists, func, not_, select

from .extensions import db
from .i18n import _
from .models import (
    Cancellation, Order, OrderEvent, OrderItem, OrderStatus, Refund, RefundLine, Shipment, ShipmentItem,
)


def _line_total():
    return RefundLine.item_cents + RefundLine.item_tax_cents + RefundLine.shipping_cents + RefundLine.shipping_tax_cents


def problems(limit: int = 20) -> list[str]:
    """Each problem found, as a sentence naming the order (at most `limit` of each kind)."""
    lines_of_refund = (select(func.coalesce(func.sum(_line_total()), 0)).where(RefundLine.refund_id == Refund.id)
                       .scalar_subquery())
    refunded_by_lines = (select(func.coalesce(func.sum(_line_total()), 0)).join(Refund)  # Cancel refund undid some
                         .where(Refund.order_id == Order.id, Refund.status != "canceled").scalar_subquery())
    refunds_of_order = select(func.count()).where(Refund.order_id == Order.id).scalar_subquery()
    refund_events = select(func.count()).where(OrderEvent.order_id == Order.id,
                                               OrderEvent.action == "refund").scalar_subquery()
    current_shipment = exists().where(Shipment.order_id == Order.id, Shipment.superseded_at.is_(None))
    shipped_event = exists().where(OrderEvent.order_id == Order.id,
                                   OrderEvent.action.in_(("confirm_shipment", "buy_shipping")))
    packed = (select(ShipmentItem.order_item_id, func.sum(ShipmentItem.quantity).label("units")).join(Shipment)
              .where(Shipment.superseded_at.is_(None)).group_by(ShipmentItem.order_item_id).subquery())
    in_packages = func.coalesce(packed.c.units, 0)
    items_of = select(Order.order_id).join(OrderItem).outerjoin(packed, packed.c.order_item_id == OrderItem.id)
    checks = {
        _("refunded more than was paid"): select(Order.order_id).where(Order.refunded_cents > Order.paid_cents),
        _("refunded amount differs from its refunds' lines"): select(Order.order_id).where(
            Order.refunded_cents != refunded_by_lines),
        _("a refund's total differs from its lines and concessions"): select(Order.order_id).join(Refund).where(
            Refund.total_cents != lines_of_refund + Refund.return_concession_cents + Refund.other_concession_cents),
        _("a refund without its history"): select(Order.order_id).where(refunds_of_order != refund_events),
        _("Shipped without its shipment"): select(Order.order_id).where(
            Order.status == OrderStatus.SHIPPED.value, not_(and_(current_shipment, Order.shipped_at.is_not(None)))),
        _("Shipped without its history"): select(Order.order_id).where(Order.status == OrderStatus.SHIPPED.value,
                                                                    not_(shipped_event)),
        _("more units in its packages than ordered"): items_of.where(in_packages > OrderItem.quantity).distinct(),
        _("Shipped with units in no package"): items_of.where(Order.status == OrderStatus.SHIPPED.value,
                                                              in_packages < OrderItem.quantity).distinct(),
        _("Canceled without its cancellation"): select(Order.order_id).where(
            Order.status == OrderStatus.CANCELED.value,
            not_(and_(exists().where(Cancellation.order_id == Order.id), Order.canceled_at.is_not(None)))),
        _("a cancellation of an order that is not Canceled"): select(Order.order_id).join(Cancellation).where(
            Order.status != OrderStatus.CANCELED.value),
    }
    found = []
    for what, query in checks.items():
        found += [f"{order_id}: {what}" for order_id in db.session.scalars(query.limit(limit))]
    if db.engine.dialect.name == "sqlite":
        result = db.session.execute(db.text("PRAGMA integrity_check")).scalars().all()
        if result != ["ok"]:
            found += [_("SQLite integrity_check: %(line)s", line=line) for line in result]
    db.session.rollback()
    return found

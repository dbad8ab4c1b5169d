"""Which orders a list request means: tabs, dates, Advanced Search and the Search orders box."""
from sqlalchemy import Select, select

from ..models import Order


def filtered_orders(args) -> Select:
    """select(Order) narrowed by the list's GET arguments (status tab excluded). Manage Orders fleshes it out."""
    return select(Order).order_by(Order.purchased_at.desc(), Order.id.desc())

"""What every verb is made of: the guard (the transaction's first write), the refusal that says why it matched
nothing, and the history event."""
from __future__ import annotations

from sqlalchemy import update

from .. import clock
from ..extensions import db
from ..models import Order, OrderEvent, ReturnRequest, Settings, User
from .errors import InvalidTransition, StaleVersion
from .actions import not_in_status
from .rules import ORDER_ACTIONS, RETURN_ACTIONS
from ..i18n import _


def store_tz():
    return clock.store_tz(Settings.current().timezone)


def _event(order: Order, user: User | None, action: str, ret: ReturnRequest | None = None, **details):
    db.session.add(OrderEvent(order_id=order.id, return_request_id=ret.id if ret else None,
                              user_id=user.id if user else None, action=action, details=details, at=clock.now()))


def _guard(model, row_id: int, allowed, *, expected_version: int | None = None, bump: bool = True,
           **values) -> bool:
    """The first write of a verb: UPDATE the row only if its status (and version) is still as expected."""
    stmt = update(model).where(model.id == row_id, model.status.in_([str(s) for s in allowed]))
    if expected_version is not None:
        stmt = stmt.where(model.version == expected_version)
    values = {**values, "version": model.version + 1 if bump else model.version}
    if model is Order:
        values["updated_at"] = clock.now()
    return db.session.execute(stmt.values(**values).execution_options(synchronize_session=False)).rowcount == 1


def _refused(order_or_ret, action: str, expected_version: int | None, what: str = "order"):
    """Tell why a guard matched no row: wrong status, or a page older than the last change."""
    db.session.refresh(order_or_ret)
    table = ORDER_ACTIONS if what == "order" else RETURN_ACTIONS
    if order_or_ret.status not in table[action][0]:
        raise InvalidTransition(not_in_status(order_or_ret, action))
    if expected_version is not None and order_or_ret.version != expected_version:
        raise StaleVersion(_("This order was changed by someone else since you opened the page. Check it again, "
                             "then retry.") if what == "order" else
                           _("This return request was changed by someone else since you opened the page. Check it "
                             "again, then retry."))
    raise InvalidTransition(_("This order could not be changed. Reload the page and try again.") if what == "order"
                            else _("This return request could not be changed. Reload the page and try again."))


def _locked_order(order: Order, action: str, expected_version: int | None = None, bump: bool = True, **values):
    """Guard an order action; on success the order row is locked until commit and reloaded."""
    if not _guard(Order, order.id, ORDER_ACTIONS[action][0], expected_version=expected_version, bump=bump,
                  **values):
        _refused(order, action, expected_version)
    db.session.refresh(order)
    return order


def _locked_return(ret: ReturnRequest, action: str, expected_version: int | None, **values) -> ReturnRequest:
    if not _guard(ReturnRequest, ret.id, RETURN_ACTIONS[action][0], expected_version=expected_version, **values):
        _refused(ret, action, expected_version, what="return request")
    db.session.refresh(ret)
    return ret

"""The answer to an action on an order: its row swapped in place (htmx) or a redirect back to the list."""
from flask import flash, redirect, render_template
from flask_login import current_user

from ..actions import safe_back
from ..htmx import flash_oob, is_partial
from ..models import Order


def back_to_list() -> str:
    """Where a no-JS form returns: the list URL it was opened from (one of our own pages only)."""
    return safe_back("orders.index")


def row_response(order: Order, message: str, category: str = "success"):
    """htmx: the order's row, then the tab counts and the flash out of band. Otherwise: flash, 303 to the list."""
    flash(message, category)
    if is_partial():
        return render_template("orders/_row_update.html", order=order, user=current_user, flash_html=flash_oob())
    return redirect(back_to_list(), 303)

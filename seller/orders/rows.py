"""The answer to an action on an order: its row swapped in place (htmx) or a redirect back to the list."""
from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user

from ..htmx import flash_oob, is_partial
from ..models import Order


def back_to_list() -> str:
    """Where a no-JS form returns: the list URL it was opened from (a relative one only)."""
    target = request.values.get("next", "")
    if target.startswith("/orders") and not target.startswith("//"):
        return target
    return url_for("orders.index")


def row_response(order: Order, message: str, category: str = "success"):
    """htmx: the order's row, then the tab counts and the flash out of band. Otherwise: flash, 303 to the list."""
    flash(message, category)
    if is_partial():
        return render_template("orders/_row_update.html", order=order, user=current_user, flash_html=flash_oob())
    return redirect(back_to_list(), 303)

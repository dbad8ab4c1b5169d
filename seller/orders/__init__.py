"""Manage Orders: the list and its actions (routes), report files, packing slips, refunds and messages."""
from flask import Blueprint

bp = Blueprint("orders", __name__, url_prefix="/orders")

from . import files, history, refunds, routes, slips  # noqa: E402,F401

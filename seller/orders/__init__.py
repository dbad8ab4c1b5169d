"""Manage Orders: the list, the order page and the shipping actions (routes), report files, packing slips."""
from flask import Blueprint

bp = Blueprint("orders", __name__, url_prefix="/orders")

from . import files, history, routes, slips  # noqa: E402,F401

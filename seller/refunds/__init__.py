"""Refunds: Refund order (Manage Orders) and Issue refund (Manage Returns) open the same refund form."""
from flask import Blueprint

bp = Blueprint("refunds", __name__)

from . import routes  # noqa: E402,F401

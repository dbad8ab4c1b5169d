"""Contact buyer: a message about an order (Manage Orders, the order page) or a return request (Manage Returns)."""
from flask import Blueprint

bp = Blueprint("contact", __name__)

from . import routes  # noqa: E402,F401

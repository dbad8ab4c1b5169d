from flask import Blueprint

bp = Blueprint("performance", __name__, url_prefix="/performance")

from . import routes  # noqa: E402,F401

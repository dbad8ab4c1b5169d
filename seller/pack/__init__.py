"""Pack & ship: scan-to-verify and scan-to-ship for warehouse tablets and barcode scanners (contract §10)."""
from flask import Blueprint

bp = Blueprint("pack", __name__, url_prefix="/pack")

from . import routes  # noqa: E402,F401

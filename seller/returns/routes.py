"""Manage Returns (the refunds and returns issue builds it)."""
from flask import abort, render_template

from ..auth import requires
from . import bp


@bp.get("")
@requires("view")
def index():
    """The return requests, by status."""
    return render_template("returns/index.html")


@bp.route("/new/<order_id>", methods=["GET", "POST"])
@requires("create_return")
def create(order_id):
    """Create return request on a shipped order."""
    abort(501)


@bp.route("/<int:return_id>/authorize", methods=["GET", "POST"])
@requires("authorize_return")
def authorize(return_id):
    abort(501)


@bp.route("/<int:return_id>/refund", methods=["GET", "POST"])
@requires("refund")
def refund(return_id):
    abort(501)


@bp.route("/<int:return_id>/close", methods=["GET", "POST"])
@requires("close_return")
def close(return_id):
    abort(501)


@bp.route("/<int:return_id>/contact", methods=["GET", "POST"])
@requires("contact_buyer")
def contact(return_id):
    abort(501)

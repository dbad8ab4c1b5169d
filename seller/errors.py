"""Errors as people should see them: a page, or for htmx a message in the flash area. Never a traceback."""
import logging

from flask import g, render_template, request
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import OperationalError
from werkzeug.exceptions import HTTPException

from .db import is_lock_error
from .extensions import db, login_manager
from .htmx import is_htmx, message_fragment
from .models import Settings
from .i18n import _, _l

log = logging.getLogger(__name__)

MESSAGES = {
    400: _l("The request could not be understood. Reload the page and try again."),
    403: _l("Your account cannot do that. Ask the store owner."),
    404: _l("That page or order does not exist."),
    405: _l("That action is not available here."),
    409: _l("Someone changed this since you opened the page. Reload it and try again."),
    413: _l("That file or form is too large."),
    429: _l("Too many attempts. Wait a minute, then try again."),
    500: _l("Something went wrong on our side. Nothing was changed; try again."),
    503: _l("The database is busy or unreachable. Nothing was changed; try again in a moment."),
}


def error_response(status: int, message: str | None = None):
    message = message or str(MESSAGES.get(status, MESSAGES[500]))
    if is_htmx():
        return message_fragment(message, status)
    return render_template("error.html", status=status, message=message), status


def init_app(app):
    @app.before_request
    def refuse_nul_characters():
        """A NUL character cannot be stored (PostgreSQL refuses it): say so instead of failing later."""
        if any("\x00" in value for _name, values in request.values.lists() for value in values):
            return error_response(400, _("The form contains a character that cannot be saved (NUL). "
                                         "Remove it and try again."))
        return None

    @app.errorhandler(CSRFError)
    def csrf_error(exc):
        return error_response(400, _("This page is out of date (its security token expired). "
                                     "Reload the page, then try again."))

    @app.errorhandler(HTTPException)
    def http_error(exc):
        if exc.code is None or exc.code < 400:
            return exc
        return error_response(exc.code, MESSAGES.get(exc.code, exc.description))

    @app.errorhandler(OperationalError)
    def database_error(exc):
        db.session.rollback()
        # The page must not need the database it reports as unavailable.
        g._login_user = login_manager.anonymous_user()
        g.store_settings = Settings(store_name="Seller Desk", timezone="UTC")
        log.warning("database unavailable: %s", exc)
        if is_lock_error(exc):
            return error_response(503, _("The database is busy. Nothing was changed; try again in a moment."))
        return error_response(503)

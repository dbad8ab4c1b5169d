"""What every template can use: the store's name, money, and times in the store's timezone."""
from flask import g

from . import clock
from .money import fmt
from .models import Settings


def store_settings():
    """The settings row, read once per request."""
    if "store_settings" not in g:
        g.store_settings = Settings.current()
    return g.store_settings


def local_time(dt, pattern="%b %d, %Y %I:%M %p %Z"):
    """A stored UTC time as the store's wall-clock time, e.g. 'Nov 26, 2026 02:05 AM PST'."""
    if dt is None:
        return ""
    return clock.to_local(dt, clock.store_tz(store_settings().timezone)).strftime(pattern)


def init_app(app):
    app.jinja_env.filters["money"] = fmt
    app.jinja_env.filters["local"] = local_time
    app.jinja_env.filters["local_date"] = lambda dt: local_time(dt, "%b %d, %Y")
    app.jinja_env.globals["store_name"] = lambda: store_settings().store_name
    app.jinja_env.globals["store_settings"] = store_settings

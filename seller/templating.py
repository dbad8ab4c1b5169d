"""What every template can use: the store's settings, money, times in the store's timezone, and the questions
templates ask of the action registry (`can`, `actions_for`) instead of testing roles themselves."""
from flask_login import current_user

from flask_babel import get_locale

from . import amazon_status, clock, i18n, workflow
from .models import Settings
from .money import fmt


def store_settings() -> Settings:
    """The settings row, read once per request (see `Settings.current`)."""
    return Settings.current()


def local_time(value, name: str = "datetime") -> str:
    """A stored UTC time (or a store date) in the store's timezone, as the reader's language writes it:
    'Nov 26, 2026 02:05 AM PST' / '2026年11月26日 上午2:05 PST'. `name`: datetime, date, day, time or short."""
    if value is None:
        return ""
    return i18n.format_local(value, name, clock.store_tz(store_settings().timezone))


def name_parts(name: str, keep: int = 24) -> tuple[str, str]:
    """A product name as (head, tail): the tail — the variant after the last comma or dash, else the last words —
    stays visible when a narrow screen cuts the head short ("Black/黑色" must not be lost)."""
    if len(name) <= keep:
        return name, ""
    for mark in (", ", " - ", " – ", "，"):
        head, found, tail = name.rpartition(mark)
        if found and 0 < len(tail) <= keep:
            return head + found.rstrip(), tail
    head, _, tail = name[:-keep].rpartition(" ")
    return (head, name[len(head):].strip()) if head else (name, "")


def can(name: str, subject=None) -> bool:
    """Whether the signed-in user can take this action (on this order or return request) now."""
    return workflow.why_not(subject, name, current_user) is None


def actions_for(subject, where: str = "row"):
    """The registry's actions this user can take on `subject` now, for its row or for the order page."""
    return workflow.available(subject, current_user, where)


def init_app(app):
    from . import listing, panels
    app.jinja_env.filters["money"] = fmt
    app.jinja_env.filters["local"] = local_time
    app.jinja_env.filters["local_date"] = lambda dt: local_time(dt, "date")
    app.jinja_env.filters["name_parts"] = name_parts
    app.jinja_env.globals.update(
        store_name=lambda: store_settings().store_name, store_settings=store_settings, can=can,
        actions_for=actions_for, next_url=listing.next_url, row_id=panels.row_id, languages=i18n.LANGUAGES,
        current_language=lambda: str(get_locale() or "en"),
        today_in_store=lambda: clock.local_today(workflow.store_tz()).isoformat(),
        amazon_connected=amazon_status.connected)

"""Languages: English, and Simplified Chinese with Seller Central's English terms beside it (contract §14).

Every string a person reads is wrapped: `_("...")` where the text is made during a request or a command,
`_l("...")` where it is made at import time (form labels, vocabularies), `ngettext` for counts, and `N_("...")`
marks a stored English value (a status, a reason) whose display `_(value)` translates. The catalog lives in
`seller/translations/` (`pybabel` with babel.cfg); docs/glossary.md fixes the words.

The language: the one a person chose with the header's English / 中文 (kept on their account, or for the
sign-in page in the session), else their browser's; a command follows `LANG`. Times are the store's, written
as the language writes them; amounts stay US dollars.
"""
import os
import tempfile
from datetime import date, datetime
from pathlib import Path

from babel.dates import format_date, format_datetime
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from flask import has_request_context, request, session
from flask_babel import Babel, get_locale, gettext as _, ngettext  # noqa: F401  (re-exported)
from flask_babel.speaklater import LazyString
from markupsafe import escape

from . import clock

LANGUAGES = {"en": "English", "zh_Hans": "中文"}
babel = Babel()

# CLDR patterns: how each language writes the store's times (the timezone's abbreviation follows a time).
FORMATS = {
    "en": {"datetime": "MMM dd, yyyy hh:mm a", "date": "MMM dd, yyyy", "day": "MMM dd", "chart_day": "MMM d", "time": "hh:mm a",
           "short": "MMM dd, hh:mm a"},
    "zh_Hans": {"datetime": "y年M月d日 ah:mm", "date": "y年M月d日", "day": "M月d日", "chart_day": "M月d日", "time": "ah:mm",
                "short": "M月d日 ah:mm"},
}
TIMED = {"datetime", "time", "short"}


class _Lazy(LazyString):
    """flask_babel's LazyString, escaped like any other text when a template writes it."""

    def __html__(self):
        return escape(str(self))


def _l(text: str, **variables) -> _Lazy:
    """`_` when the text is used, not when it is defined: form labels, messages and vocabularies made at import."""
    return _Lazy(_, text, **variables)


def N_(text: str) -> str:
    """Marks a stored English value for the catalog; `_(value)` shows it in the reader's language."""
    return text


def language_of(tag: str | None) -> str | None:
    """Ours for a language tag ('zh-CN', 'zh_Hans', 'en_US.UTF-8'), or None."""
    tag = (tag or "").replace("-", "_").split(".")[0].lower()
    if tag.startswith("zh"):
        return "zh_Hans"
    return "en" if tag.startswith("en") else None


def select_locale() -> str:
    """The person's choice (account, then session), else the browser's; a command follows LANG."""
    if not has_request_context():
        return language_of(os.environ.get("LANGUAGE", "").split(":")[0] or os.environ.get("LANG")) or "en"
    from flask_login import current_user
    chosen = current_user.language if current_user.is_authenticated else None
    best = request.accept_languages.best_match(["en", "zh"])
    return language_of(chosen) or language_of(session.get("language")) or language_of(best) or "en"


def format_local(value: datetime | date, name: str, tz) -> str:
    """A stored UTC time (or a store date) written for the reader: `name` is datetime, date, day, time or short."""
    language = str(get_locale() or "en")
    pattern = FORMATS.get(language, FORMATS["en"])[name]
    if not isinstance(value, datetime):
        return format_date(value, pattern, locale=language)
    local = clock.to_local(value, tz)
    text = format_datetime(local, pattern, locale=language)
    return f"{text} {local.strftime('%Z')}" if name in TIMED else text


def compile_catalogs(root: Path) -> None:
    """Compile each language's .po into the .mo gettext reads, unless the .mo bears the .po's time (the .mo is
    not kept in git: the .po is the one source). Written aside and renamed, so workers starting together agree."""
    for po in root.glob("*/LC_MESSAGES/*.po"):
        mo = po.with_suffix(".mo")
        if mo.exists() and mo.stat().st_mtime_ns == po.stat().st_mtime_ns:
            continue
        with po.open("rb") as f:
            catalog = read_po(f)
        fd, temporary = tempfile.mkstemp(dir=po.parent, suffix=".mo")
        with os.fdopen(fd, "wb") as f:
            write_mo(f, catalog)
        os.utime(temporary, ns=(po.stat().st_atime_ns, po.stat().st_mtime_ns))  # this .mo is of that .po
        os.replace(temporary, mo)


def init_app(app):
    compile_catalogs(Path(app.root_path) / "translations")
    babel.init_app(app, locale_selector=select_locale, default_translation_directories="translations",
                   default_domain="messages")

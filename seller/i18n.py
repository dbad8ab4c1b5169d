"""Languages: English, and Simplified Chinese with Seller Central's English terms beside it (contract §14).

Every string a person reads is wrapped: `_("...")` where the text is made during a request or a command,
`_l("...")` where it is made at import time (form labels, vocabularies), `ngettext` for counts. The catalog
lives in `seller/translations/`; docs/glossary.md fixes the words."""
from flask import request
from flask_babel import Babel, gettext as _, lazy_gettext as _l, ngettext  # noqa: F401  (re-exported)

LANGUAGES = {"en": "English", "zh_Hans": "中文"}
babel = Babel()


def select_locale() -> str:
    """The browser's preferred language among ours (English when none matches)."""
    best = request.accept_languages.best_match(["en", "zh"]) if request else None
    return "zh_Hans" if best == "zh" else "en"


def init_app(app):
    babel.init_app(app, locale_selector=select_locale, default_translation_directories="translations",
                   default_domain="messages")

"""Deciding between a fragment and a full page, in one place."""
from flask import get_flashed_messages, render_template, request
from markupsafe import Markup


def is_htmx() -> bool:
    """Any request sent by htmx (boosted and history restores included)."""
    return request.headers.get("HX-Request") == "true"


def is_partial() -> bool:
    """A request that wants a fragment: htmx, but not a boosted navigation or a history restore."""
    return (is_htmx() and request.headers.get("HX-Boosted") != "true"
            and request.headers.get("HX-History-Restore-Request") != "true")


def flash_oob() -> Markup:
    """The flash area, swapped out of band (it consumes the flashed messages); markup, not text."""
    return Markup(render_template("_flash.html", messages=get_flashed_messages(with_categories=True), oob=True))


def message_fragment(message: str, status: int, category: str = "error"):
    """An error for an htmx request, shown in the flash area whatever the request targeted."""
    body = render_template("_flash.html", messages=[(category, message)], oob=False)
    return body, status, {"HX-Retarget": "#flash", "HX-Reswap": "innerHTML"}


def init_app(app):
    @app.after_request
    def vary_on_htmx(response):
        """Pages answer htmx with fragments, so caches must key on HX-Request."""
        response.vary.add("HX-Request")
        return response

"""How an action's form reaches the screen, for orders and return requests alike: one convention.

With htmx the form opens in the panel row under its list row (`<tr id="order-7-panel">`) and posts to itself: a
refusal brings the panel back with the messages next to their fields (422, or 409 when the order moved on).
Success is the one "done" answer: the row swapped in place, its panel closed, the tab counts and the flash out of
band. **Close** asks for the row (`row_answer`): the row and its closed panel. Without JavaScript the same form is
a page of its own, and success is a 303 back to the list it was opened from.
"""
from __future__ import annotations

from flask import flash, make_response, redirect, render_template, url_for

from . import listing, workflow
from .htmx import flash_oob, is_partial
from .models import Order
from .workflow import WorkflowError


def row_id(subject) -> str:
    return f"order-{subject.id}" if isinstance(subject, Order) else f"return-{subject.id}"


def back(subject) -> str:
    """The list (or page) the form returns to without JavaScript."""
    return listing.safe_back("orders.index" if isinstance(subject, Order) else "returns.index")


def _close_url(subject) -> str:
    """Close: the row, whose own forms still return to the same list."""
    nxt = back(subject)
    if isinstance(subject, Order):
        return url_for("orders.row", order_id=subject.order_id, next=nxt)
    return url_for("returns.row", return_id=subject.id, next=nxt)


def form_response(template: str, subject, *, title: str, form=None, status: int = 200, **context):
    """The action's form `template`: in the subject's panel (htmx) or as a page of its own."""
    if form is not None:  # several forms can be open in one list: field ids stay unique
        for field in fields(form):
            field.id = field.label.field_id = f"{field.name}-{subject.id}"
        _focus_first(form)
    rid = row_id(subject)
    if isinstance(subject, Order):
        context.setdefault("order", subject)
    else:
        context.setdefault("ret", subject)
        context.setdefault("order", subject.order)
    context.update(subject=subject, form=form, title=title, row_id=rid, panel_id=f"{rid}-panel", back=back(subject),
                   inline=is_partial(), close_url=_close_url(subject), form_template=template)
    return render_template("_panel.html" if is_partial() else "action_page.html", **context), status


def fields(form):
    """Every field a form renders, those of its nested forms (a FieldList of FormFields: packages) included."""
    for field in form:
        if field.type in ("FieldList", "FormField"):
            yield from fields(field)
        else:
            yield field


def _focus_first(form) -> None:
    """An opening form focuses its first field a person fills in (unless one is marked already)."""
    shown = [f for f in fields(form) if getattr(f.widget, "input_type", None) not in ("hidden", "submit", "radio")
             and f.type != "RadioField"]
    if shown and not any((f.render_kw or {}).get("autofocus") for f in shown):
        shown[0].render_kw = {**(shown[0].render_kw or {}), "autofocus": True}


def refuse(form, exc: WorkflowError, subject=None) -> int:
    """A workflow rule said no: its message next to its field, or above the form; returns the answer's status.
    After a stale page the form carries the version now in force, so that a deliberate retry goes through."""
    if isinstance(exc, workflow.StaleVersion) and subject is not None and "version" in form:
        form.version.data, form.version.raw_data = subject.version, [str(subject.version)]
    target = next((f for f in fields(form) if f.name == exc.field), None) if exc.field else None
    if target is not None:
        target.errors = [*target.errors, exc.message]
    else:
        form.form_errors.append(exc.message)
    return exc.status_code


def submit(form, subject, verb):
    """An action's form through its verb: (result, None) when `verb()` went through; else (None, the status to
    show the form with): 200 first shown (with the version the page is loaded at), 422 invalid, or the refusal's
    own status with its message next to its field."""
    if not form.is_submitted():
        if "version" in form:
            form.version.data = subject.version
        return None, 200
    if not form.validate():
        return None, 422
    try:
        return verb(), None
    except WorkflowError as exc:
        return None, refuse(form, exc, subject)


def _answer(subject, template_context: dict, status: int = 200):
    rid = row_id(subject)
    if isinstance(subject, Order):
        row = {"row_template": "orders/_row.html", "order": subject}
    else:
        row = {"row_template": "returns/_row.html", "ret": subject}
    response = make_response(render_template("_done.html", **row, panel_id=f"{rid}-panel", **template_context),
                             status)
    response.headers["HX-Retarget"] = f"#{rid}"
    response.headers["HX-Reswap"] = "outerHTML"
    return response


def _counts(subject) -> dict:
    """The tab counts (and for orders the Print all Unshipped button) that an action may have changed."""
    if isinstance(subject, Order):
        return {"tabs": listing.order_list().tabs(), "order_list": listing.order_list()}
    return {"tabs": listing.return_tabs()}


def done(subject, message: str, category: str = "success", then: str | None = None):
    """An action went through. htmx: the one "done" answer; otherwise 303 back to the list, the flash waiting.
    `then`: the URL of the next action's form, which opens at once (in the panel, or as the page to go to)."""
    flash(message, category)
    if not is_partial():
        return redirect(then or back(subject), 303)
    return _answer(subject, {**_counts(subject), "flash_html": flash_oob(), "then": then})


def row_answer(subject):
    """The row as it is now, its panel closed (what Close puts back)."""
    return _answer(subject, {})


def not_possible(subject, message: str, status: int = 409):
    """The order or request moved on since the page was shown: say so; htmx also gets the row as it is now."""
    if not is_partial():
        return render_template("error.html", status=status, message=message), status
    flash(message, "error")
    return _answer(subject, {**_counts(subject), "flash_html": flash_oob()}, status)


def check(subject, name: str, user):
    """`not_possible` when `why_not` says no to this action on this subject now, else None."""
    reason = workflow.why_not(subject, name, user)
    return not_possible(subject, reason) if reason else None

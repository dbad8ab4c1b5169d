"""What the forms of Manage Orders' refund/contact and Manage Returns' actions have in common.

An action's form opens, with htmx, in a panel row just under its list row (`<tr id="<row id>-panel">`);
without JavaScript it is a page of its own. Invalid input re-renders the form alone (htmx) or the page,
with the error next to its field. A success swaps the list row in place and closes the panel."""
from urllib.parse import urlsplit

from flask import make_response, render_template, request, url_for

from .htmx import is_partial
from .workflow import WorkflowError


def safe_back(default_endpoint: str) -> str:
    """Where a no-JS form returns: `next` when it is one of our lists or pages, else `default_endpoint`."""
    target = request.values.get("next", "")
    parts = urlsplit(target)
    if target.startswith(("/orders", "/returns")) and not parts.netloc and "\\" not in target:
        return target
    return url_for(default_endpoint)


def form_response(template: str, *, title: str, panel_id: str, back: str, status: int = 200,
                  panel: bool | None = None, **context):
    """The form `template`. htmx GET (or `panel`): inside the panel row `panel_id`; htmx POST: the form alone
    (it targets itself); otherwise a full page with a way back to `back`."""
    # In the list (htmx) the form posts with htmx and swaps its row; as a page of its own it is a plain form.
    context.update(title=title, back=back, panel_id=panel_id, inline=is_partial())
    if is_partial():
        if panel or (panel is None and request.method == "GET"):
            return render_template("_panel.html", form_template=template, **context), status
        return render_template(template, **context), status
    return render_template("action_page.html", form_template=template, **context), status


def attach_error(form, exc: WorkflowError) -> None:
    """A workflow refusal next to the field it names, or at the top of the form."""
    if exc.field and exc.field in form:
        form[exc.field].errors = [*form[exc.field].errors, exc.message]
    else:
        form.form_errors.append(exc.message)


def swap_row(body: str, row_id: str):
    """An htmx success: `body` (the row first, then out-of-band pieces) replaces `#row_id`, and the panel
    under it is emptied."""
    closer = render_template("_panel.html", form_template=None, panel_id=f"{row_id}-panel", oob=True)
    response = make_response(body + closer)
    response.headers["HX-Retarget"] = f"#{row_id}"
    response.headers["HX-Reswap"] = "outerHTML"
    return response

"""Order report import and shipping confirmation export (contract §8), over `seller.reports`."""
from flask import Response, render_template, request
from flask_login import current_user

from .. import clock, reports, workflow
from ..auth import requires
from ..forms.files import ExportForm, ImportForm
from ..htmx import is_partial
from ..models import Settings
from . import bp


@bp.route("/import", methods=["GET", "POST"])
@requires("import_orders")
def import_orders():
    """Upload an Amazon order report: counts, or the bad rows by line number (422, nothing imported).
    htmx: the upload section (form and result) alone; otherwise the whole page."""
    form, result = ImportForm(), None
    if form.validate_on_submit():
        result = reports.import_report(form.report.data.read(), current_user._get_current_object())
    status = 422 if form.errors or (result and not result.ok) else 200
    template = "orders/_import.html" if is_partial() else "orders/import.html"
    return render_template(template, form=form, result=result), status


@bp.get("/export")
@requires("view")
def export_shipments():
    """The shipping confirmation file for `?from=&to=` as a download; without them, the form to pick the days
    (422 with the messages when they are not dates)."""
    last = Settings.current().shipments_exported_at
    if not request.args.keys() & {"from", "to"}:  # since the last export (its day: nothing is left out)
        today = clock.local_today(workflow.store_tz())
        since = clock.local_today(workflow.store_tz(), last) if last else today
        return render_template("orders/export.html", form=ExportForm(formdata=None, since=since, until=today),
                               last=last)
    form = ExportForm(formdata=request.args)
    if not form.validate():
        return render_template("orders/export.html", form=form, last=last), 422
    text, _ = reports.shipping_confirmations(form.since.data, form.until.data)
    workflow.save_settings(shipments_exported_at=clock.now())
    filename = f"shipping-confirmation-{form.since.data.isoformat()}-{form.until.data.isoformat()}.txt"
    return Response(text, mimetype="text/plain",
                    headers={"Content-Disposition": f"attachment; filename={filename}"})

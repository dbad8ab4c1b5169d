"""Order report import and shipping confirmation export (contract §8), over `seller.reports`; Upload tracking
(§12), over `seller.tracking`."""
import base64
import binascii

from flask import Response, render_template, request
from flask_login import current_user

from .. import clock, reports, tracking, workflow
from ..auth import requires
from ..forms.files import ConfirmTrackingForm, ExportForm, ImportForm, TrackingForm
from ..htmx import is_partial
from ..i18n import _
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


@bp.route("/upload-tracking", methods=["GET", "POST"])
@requires("upload_tracking")
def upload_tracking():
    """Upload tracking: the file is previewed order by order (nothing written); Confirm shipments sends it back
    and each order that will ship is confirmed on its own (`seller.tracking`). htmx: the section alone."""
    form, confirm_form, plan = TrackingForm(), None, None
    if "content" in request.form:
        confirm_form = ConfirmTrackingForm()
        data = _decoded(confirm_form.content.data) if confirm_form.validate_on_submit() else None
        if data is None:
            form.form_errors.append(_("This preview is out of date. Upload the tracking file again."))
        else:
            plan, confirm_form = tracking.confirm(data, current_user._get_current_object()), None
    elif form.validate_on_submit():
        data = form.tracking_file.data.read()
        plan = tracking.preview(data)
        if plan.to_ship:
            confirm_form = ConfirmTrackingForm(content=base64.b64encode(data).decode())
    status = 422 if form.errors or form.form_errors or (plan and plan.error) else 200
    template = "orders/_upload_tracking.html" if is_partial() else "orders/upload_tracking.html"
    return render_template(template, form=form, confirm_form=confirm_form, plan=plan, tracking=tracking), status


def _decoded(content: str) -> bytes | None:
    try:
        return base64.b64decode(content, validate=True)
    except (binascii.Error, ValueError):
        return None


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
    text, _rows = reports.shipping_confirmations(form.since.data, form.until.data)
    workflow.save_settings(shipments_exported_at=clock.now())
    filename = f"shipping-confirmation-{form.since.data.isoformat()}-{form.until.data.isoformat()}.txt"
    return Response(text, mimetype="text/plain",
                    headers={"Content-Disposition": f"attachment; filename={filename}"})

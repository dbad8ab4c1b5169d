"""Forms of the report files: the order report upload and the shipping confirmation date range."""
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import DateField, HiddenField
from wtforms.validators import DataRequired, InputRequired, ValidationError

from ..i18n import _l

from .common import store_day
from ..i18n import _, _l


class ImportForm(FlaskForm):
    report = FileField(_l("Order report"), validators=[FileRequired(_l("Choose the order report file to upload."))])


class ReturnsReportForm(FlaskForm):
    """Import returns: Amazon's returns report."""
    report = FileField(_l("Returns report"), validators=[FileRequired(_l("Choose the returns report file to upload."))])


class TrackingForm(FlaskForm):
    """Upload tracking: the file, previewed first."""
    tracking_file = FileField(_l("Tracking file"), validators=[FileRequired(_l("Choose the tracking file to upload."))])


class ConfirmTrackingForm(FlaskForm):
    """Confirm shipments: the previewed file comes back (base64), read and checked again."""
    content = HiddenField(validators=[DataRequired(_l("Upload the tracking file again."))])


class ExportForm(FlaskForm):
    """GET form: `?from=YYYY-MM-DD&to=YYYY-MM-DD`, store days, both included."""

    class Meta:
        csrf = False

    since = DateField(_l("From"), name="from", validators=[InputRequired(_l("Enter the first day.")), store_day])
    until = DateField(_l("To"), name="to", validators=[InputRequired(_l("Enter the last day.")), store_day])

    def validate_until(self, field):
        if self.since.data and field.data and field.data < self.since.data:
            raise ValidationError(_("To must be on or after From."))

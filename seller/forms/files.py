"""Forms of the report files: the order report upload and the shipping confirmation date range."""
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import DateField
from wtforms.validators import InputRequired, ValidationError

from .common import store_day


class ImportForm(FlaskForm):
    report = FileField("Order report", validators=[FileRequired("Choose the order report file to upload.")])


class ExportForm(FlaskForm):
    """GET form: `?from=YYYY-MM-DD&to=YYYY-MM-DD`, store days, both included."""

    class Meta:
        csrf = False

    since = DateField("From", name="from", validators=[InputRequired("Enter the first day."), store_day])
    until = DateField("To", name="to", validators=[InputRequired("Enter the last day."), store_day])

    def validate_until(self, field):
        if self.since.data and field.data and field.data < self.since.data:
            raise ValidationError("To must be on or after From.")

"""Buy shipping: the parcel, then the rate to buy."""
import re
from decimal import Decimal

from flask_wtf import FlaskForm
from wtforms import DateField, Field, HiddenField, SelectField, StringField
from wtforms.validators import InputRequired, Length, ValidationError
from wtforms.widgets import TextInput

from ..shipping.providers import TO_OUNCES
from .common import KeyField, VersionField, store_day

_MEASURE = re.compile(r"[0-9]{1,5}(?:\.[0-9]{1,3})?|\.[0-9]{1,3}", re.ASCII)
MAX_OUNCES = 150 * 16  # the heaviest parcel carriers take as a parcel
MAX_INCHES = 108
WEIGHT_UNITS = ["oz", "lb", "g", "kg"]


class MeasureField(Field):
    """A positive size or weight typed as plain digits (no 1e3, NaN, Infinity, non-ASCII digits)."""
    widget = TextInput()

    def __init__(self, label=None, validators=None, **kwargs):
        kwargs.setdefault("render_kw", {"inputmode": "decimal", "autocomplete": "off"})
        super().__init__(label, validators, **kwargs)

    def process_data(self, value):
        """A value kept as text (Settings' parcel preset) is a number here too."""
        self.data = (Decimal(value) if _MEASURE.fullmatch(value) else None) if isinstance(value, str) else value

    def process_formdata(self, valuelist):
        self.raw = (valuelist[0] if valuelist else "").strip()
        self.data = None
        if not self.raw:
            return
        if not _MEASURE.fullmatch(self.raw) or Decimal(self.raw) <= 0:
            raise ValueError("Enter a number greater than 0, like 2.5.")
        self.data = Decimal(self.raw)

    def _value(self):
        return self.raw if getattr(self, "raw", None) is not None else ("" if self.data is None else str(self.data))


def within_weight(unit_field: str):
    """A validator: the weight, in the unit `unit_field` holds, is one carriers take as a parcel."""
    def check(form, field):
        if field.data is not None and field.data * TO_OUNCES.get(form[unit_field].data, 1) > MAX_OUNCES:
            raise ValidationError("Carriers take parcels up to 150 lb (68 kg).")
    return check


def within_size(form, field):
    """A validator: a side carriers take."""
    if field.data is not None and field.data > MAX_INCHES:
        raise ValidationError(f"At most {MAX_INCHES} in.")


def _required(what):
    return [InputRequired(message=f"Enter the parcel's {what}.")]


class ParcelForm(FlaskForm):
    """Weight and size of the parcel, and the day it ships: what the rates are asked for."""
    weight = MeasureField("Weight", validators=[*_required("weight"), within_weight("weight_unit")])
    weight_unit = SelectField("Unit", choices=WEIGHT_UNITS, default="lb")
    length = MeasureField("Length", validators=[*_required("length"), within_size])
    width = MeasureField("Width", validators=[*_required("width"), within_size])
    height = MeasureField("Height", validators=[*_required("height"), within_size])
    ship_date = DateField("Ship date", validators=[InputRequired(message="Enter the ship date."), store_day])
    version = VersionField()
    # The ship-to address in Latin letters, for an order whose address is written otherwise (carriers need Latin).
    to_name = StringField("Recipient", validators=[Length(max=100)])
    to_street1 = StringField("Street", validators=[Length(max=100)])
    to_street2 = StringField("Street, line 2", validators=[Length(max=100)])
    to_city = StringField("City", validators=[Length(max=60)])
    to_state = StringField("State", validators=[Length(max=30)])
    LATIN = ("to_name", "to_street1", "to_street2", "to_city", "to_state")


class BuyForm(ParcelForm):
    """One Buy button: the quoted parcel comes back in hidden fields with the provider's shipment and rate."""
    idempotency_key = KeyField()
    shipment_ref = HiddenField(validators=[InputRequired(message="Get rates again.")])
    rate_id = HiddenField(validators=[InputRequired(message="Choose a rate to buy.")])

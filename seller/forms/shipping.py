"""Buy shipping: the parcel, then the rate to buy."""
import re
from decimal import Decimal

from flask_wtf import FlaskForm
from wtforms import DateField, Field, HiddenField, SelectField, StringField
from wtforms.validators import InputRequired, Length
from wtforms.widgets import TextInput

from ..shipping.providers import TO_OUNCES
from .common import KeyField, VersionField, store_day

_MEASURE = re.compile(r"[0-9]{1,5}(?:\.[0-9]{1,3})?|\.[0-9]{1,3}", re.ASCII)
MAX_OUNCES = 150 * 16  # the heaviest parcel carriers take as a parcel
MAX_INCHES = 108


class MeasureField(Field):
    """A positive size or weight typed as plain digits (no 1e3, NaN, Infinity, non-ASCII digits)."""
    widget = TextInput()

    def __init__(self, label=None, validators=None, **kwargs):
        kwargs.setdefault("render_kw", {"inputmode": "decimal", "autocomplete": "off"})
        super().__init__(label, validators, **kwargs)

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


def _required(what):
    return [InputRequired(message=f"Enter the parcel's {what}.")]


class ParcelForm(FlaskForm):
    """Weight and size of the parcel, and the day it ships: what the rates are asked for."""
    weight = MeasureField("Weight", validators=_required("weight"))
    weight_unit = SelectField("Unit", choices=["oz", "lb", "g", "kg"], default="lb")
    length = MeasureField("Length", validators=_required("length"))
    width = MeasureField("Width", validators=_required("width"))
    height = MeasureField("Height", validators=_required("height"))
    ship_date = DateField("Ship date", validators=[InputRequired(message="Enter the ship date."), store_day])
    version = VersionField()
    # The ship-to address in Latin letters, for an order whose address is written otherwise (carriers need Latin).
    to_name = StringField("Recipient", validators=[Length(max=100)])
    to_street1 = StringField("Street", validators=[Length(max=100)])
    to_street2 = StringField("Street, line 2", validators=[Length(max=100)])
    to_city = StringField("City", validators=[Length(max=60)])
    to_state = StringField("State", validators=[Length(max=30)])
    LATIN = ("to_name", "to_street1", "to_street2", "to_city", "to_state")

    def validate_weight(self, field):
        if field.data is not None and field.data * TO_OUNCES.get(self.weight_unit.data, 1) > MAX_OUNCES:
            field.errors.append("Carriers take parcels up to 150 lb (68 kg).")

    def validate_length(self, field):
        if field.data is not None and field.data > MAX_INCHES:
            field.errors.append(f"At most {MAX_INCHES} in.")

    validate_width = validate_height = validate_length


class BuyForm(ParcelForm):
    """One Buy button: the quoted parcel comes back in hidden fields with the provider's shipment and rate."""
    idempotency_key = KeyField()
    shipment_ref = HiddenField(validators=[InputRequired(message="Get rates again.")])
    rate_id = HiddenField(validators=[InputRequired(message="Choose a rate to buy.")])

"""Buy shipping: the parcel, then the rate to buy."""
import re
from decimal import Decimal

from flask_wtf import FlaskForm
from wtforms import DateField, Field, HiddenField, SelectField, StringField
from wtforms.validators import InputRequired, Length, ValidationError
from wtforms.widgets import TextInput

from ..shipping.providers import TO_OUNCES
from .common import KeyField, VersionField, store_day
from ..i18n import _, _l

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
            raise ValueError(_("Enter a number greater than 0, like 2.5."))
        self.data = Decimal(self.raw)

    def _value(self):
        return self.raw if getattr(self, "raw", None) is not None else ("" if self.data is None else str(self.data))


def within_weight(unit_field: str):
    """A validator: the weight, in the unit `unit_field` holds, is one carriers take as a parcel."""
    def check(form, field):
        if field.data is not None and field.data * TO_OUNCES.get(form[unit_field].data, 1) > MAX_OUNCES:
            raise ValidationError(_("Carriers take parcels up to 150 lb (68 kg)."))
    return check


def within_size(form, field):
    """A validator: a side carriers take."""
    if field.data is not None and field.data > MAX_INCHES:
        raise ValidationError(_("At most %(most)s in.", most=MAX_INCHES))


def _required(message):
    return [InputRequired(message=message)]


class ParcelForm(FlaskForm):
    """Weight and size of the parcel, and the day it ships: what the rates are asked for."""
    weight = MeasureField(_l("Weight"), validators=[*_required(_l("Enter the parcel's weight.")), within_weight("weight_unit")])
    weight_unit = SelectField(_l("Unit"), choices=WEIGHT_UNITS, default="lb")
    length = MeasureField(_l("Length"), validators=[*_required(_l("Enter the parcel's length.")), within_size])
    width = MeasureField(_l("Width"), validators=[*_required(_l("Enter the parcel's width.")), within_size])
    height = MeasureField(_l("Height"), validators=[*_required(_l("Enter the parcel's height.")), within_size])
    ship_date = DateField(_l("Ship date"), validators=[InputRequired(message=_l("Enter the ship date.")), store_day])
    version = VersionField()
    # The ship-to address in Latin letters, for an order whose address is written otherwise (carriers need Latin).
    to_name = StringField(_l("Recipient"), validators=[Length(max=100)])
    to_street1 = StringField(_l("Street"), validators=[Length(max=100)])
    to_street2 = StringField(_l("Street, line 2"), validators=[Length(max=100)])
    to_city = StringField(_l("City"), validators=[Length(max=60)])
    to_state = StringField(_l("State"), validators=[Length(max=30)])
    LATIN = ("to_name", "to_street1", "to_street2", "to_city", "to_state")


class BuyForm(ParcelForm):
    """One Buy button: the quoted parcel comes back in hidden fields with the provider's shipment and rate."""
    idempotency_key = KeyField()
    shipment_ref = HiddenField(validators=[InputRequired(message=_l("Get rates again."))])
    rate_id = HiddenField(validators=[InputRequired(message=_l("Choose a rate to buy."))])

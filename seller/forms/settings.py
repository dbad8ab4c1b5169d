from zoneinfo import available_timezones

from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, IntegerField, PasswordField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import (
    DataRequired, Email, InputRequired, Length, NumberRange, Optional, ValidationError,
)

from ..i18n import _l
from .common import AmountField
from .shipping import WEIGHT_UNITS, MeasureField, within_size, within_weight

US_ZONES = ["America/Los_Angeles", "America/Denver", "America/Phoenix", "America/Chicago", "America/New_York",
            "America/Anchorage", "Pacific/Honolulu", "Asia/Shanghai", "Asia/Hong_Kong", "UTC"]
TIMEZONES = US_ZONES + sorted(available_timezones() - set(US_ZONES) - {"localtime", "Factory"})


class SettingsForm(FlaskForm):
    store_name = StringField(_l("Store name"), validators=[DataRequired(message=_l("Enter the store's name.")), Length(max=100)])
    seller_name = StringField(_l("Seller name"), validators=[Length(max=100)],
                              description=_l("Printed on packing slips; the store name when empty."))
    timezone = SelectField(_l("Timezone"), choices=TIMEZONES,
                           description=_l("Days and times are shown and counted in it (Amazon US: Pacific time)."))
    handling_hours = IntegerField(_l("Handling time (hours)"), validators=[
        InputRequired(message=_l("Enter the handling time in hours.")),
        NumberRange(min=1, max=720, message=_l("Between 1 and 720 hours."))])
    handling_business_days = BooleanField(_l("Count handling time in business days (Monday to Friday)"))
    return_address = TextAreaField(_l("Return address"), validators=[Length(max=1000)])
    return_concession_factor = IntegerField(_l("Return shipping concession cap: times the order's shipping"), validators=[
        NumberRange(min=0, max=10, message=_l("Between 0 and 10."))])
    return_concession_extra = AmountField(_l("Return shipping concession cap: plus"))
    other_concession_percent = IntegerField(_l("Other concessions cap (% of the order's item total)"), validators=[
        NumberRange(min=0, max=100, message=_l("Between 0 and 100."))])
    refund_window_hours = IntegerField(_l("Refund window (hours)"), validators=[  # blank: unchanged
        Optional(), NumberRange(min=0, max=72, message=_l("Between 0 and 72 hours."))])
    close_returns_after_days = IntegerField(_l("Close returns after (days)"), validators=[  # blank: unchanged
        Optional(), NumberRange(min=0, max=365, message=_l("Between 0 and 365 days."))])
    slip_size = SelectField(_l("Packing slip size"), choices=[SelectChoice("letter", _l("Letter (8.5 × 11 in)")),
                                                               SelectChoice("4x6", _l("4 × 6 in label"))])
    ship_from_name = StringField(_l("Ship from: name"), validators=[Length(max=100)])
    ship_from_street1 = StringField(_l("Ship from: street"), validators=[Length(max=100)])
    ship_from_street2 = StringField(_l("Ship from: street, line 2"), validators=[Length(max=100)])
    ship_from_city = StringField(_l("Ship from: city"), validators=[Length(max=60)])
    ship_from_state = StringField(_l("Ship from: state"), validators=[Length(max=30)])
    ship_from_zip = StringField(_l("Ship from: ZIP code"), validators=[Length(max=20)])
    ship_from_country = StringField(_l("Ship from: country code"), validators=[Length(min=2, max=2)])
    ship_from_phone = StringField(_l("Ship from: phone"), validators=[Length(max=30)])
    demo_rates = TextAreaField(_l("Demo shipping rates"), validators=[Length(max=5000)],
                               description=_l("Used by Buy shipping when no shipping provider is configured."))
    # Pack & ship's Buy shipping: one parcel for most orders (all five, or none).
    parcel_weight = MeasureField(_l("Parcel preset: weight"), validators=[within_weight("parcel_weight_unit")])
    parcel_weight_unit = SelectField(_l("Parcel preset: unit"), choices=WEIGHT_UNITS, default="lb")
    parcel_length = MeasureField(_l("Parcel preset: length (in)"), validators=[within_size])
    parcel_width = MeasureField(_l("Parcel preset: width (in)"), validators=[within_size])
    parcel_height = MeasureField(_l("Parcel preset: height (in)"), validators=[within_size])
    PARCEL = ("parcel_weight", "parcel_length", "parcel_width", "parcel_height")

    def validate_parcel_weight(self, field):
        if len({self[name].data is None for name in self.PARCEL}) > 1:
            raise ValidationError(_l("Enter the preset's weight, length, width and height, or none of them."))


class UserForm(FlaskForm):
    email = EmailField(_l("Email"), validators=[DataRequired(message=_l("Enter an e-mail address.")),
                                            Email(message=_l("Enter an e-mail address."))])
    role = SelectField(_l("Role"), choices=[SelectChoice("staff", _l("staff (warehouse)")), SelectChoice("owner", _l("owner"))])
    password = PasswordField(_l("Password"), validators=[DataRequired(message=_l("Enter a password.")),
                                                     Length(min=10, message=_l("Use at least 10 characters."))],
                             render_kw={"autocomplete": "new-password"})


class AmazonConnectionForm(FlaskForm):
    """Settings → Amazon connection (contract §11). The secrets are never shown back: empty keeps the saved one."""
    seller_id = StringField(_l("Seller ID"), validators=[DataRequired(message=_l("Enter your Seller ID (Merchant Token).")),
                                                          Length(max=40)])
    marketplace_id = StringField(_l("Marketplace ID"), default="ATVPDKIKX0DER", validators=[
        DataRequired(message=_l("Enter the marketplace ID (Amazon US: ATVPDKIKX0DER).")), Length(max=20)])
    client_id = StringField(_l("LWA client ID"), validators=[DataRequired(message=_l("Enter the LWA client ID.")),
                                                             Length(max=200)])
    client_secret = PasswordField(_l("LWA client secret"), validators=[Length(max=500)],
                                  render_kw={"autocomplete": "off"})
    refresh_token = PasswordField(_l("Refresh token"), validators=[Length(max=2000)],
                                  render_kw={"autocomplete": "off"})
    first_sync_days = IntegerField(_l("First sync reaches back (days)"), default=30, validators=[
        InputRequired(message=_l("Enter a number of days.")), NumberRange(min=1, max=90, message=_l("Between 1 and 90."))])

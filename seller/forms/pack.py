"""Pack & ship: a scan field (an order, then each item) and Confirm shipment with only what a packer scans."""
from flask_wtf import FlaskForm
from wtforms import StringField, SubmitField
from wtforms.validators import Length

from ..i18n import _l
from .common import KeyField, VersionField
from .orders import ShipmentForm

SCANNED = {"autocomplete": "off", "autocapitalize": "characters", "spellcheck": "false", "autofocus": True,
           "data-scan-target": True, "enterkeyhint": "go"}


def _strip(value):
    return value.strip() if isinstance(value, str) else value


class ScanOrderForm(FlaskForm):
    code = StringField(_l("Scan order"), id="scan-order", filters=[_strip], validators=[Length(max=100)],
                       render_kw=SCANNED)


class ScanItemForm(FlaskForm):
    code = StringField(_l("Scan item"), id="scan-item", filters=[_strip], validators=[Length(max=100)],
                       render_kw=SCANNED)


class PackShipForm(ShipmentForm):
    """Tracking ID, Carrier (from the tracking ID where only one carrier uses its format) and Carrier name; the
    ship date is today and the shipping service the order's. Confirm anyway ships with units unchecked."""
    ship_date = shipping_service = note = None
    anyway = SubmitField(_l("Confirm anyway"))


class PackBuyForm(FlaskForm):
    """Buy shipping with the Settings parcel preset: one tap, one label (the key makes a double tap one purchase)."""
    idempotency_key = KeyField()
    version = VersionField()
    anyway = SubmitField(_l("Buy anyway"))

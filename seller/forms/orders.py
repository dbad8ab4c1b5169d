"""Manage Orders forms: the list's filters (GET), Confirm/Edit shipment and Cancel order (POST)."""
from __future__ import annotations

import json
import re

from flask_wtf import FlaskForm
from wtforms import (
    DateField, Field, FieldList, Form, FormField, IntegerField, SelectField, StringField, TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import AnyOf, DataRequired, Length, NumberRange, Optional, ValidationError
from wtforms.widgets import HiddenInput, TextInput

from ..i18n import _l

from ..models import OrderStatus
from ..workflow import CANCEL_REASONS, CARRIERS, TRACKING_FORMATS
from .common import VersionField, choices, store_day
from ..i18n import _, _l

STATUSES = [s.value for s in OrderStatus]
PAGE_SIZES = (25, 50, 100)
SORTS = {"date": _l("Order date, newest first"), "date_asc": _l("Order date, oldest first"),
         "ship_by": _l("Ship by, soonest first"), "ship_by_desc": _l("Ship by, latest first")}
# Amazon's ship-service-level values, offered as suggestions for the Shipping service criterion.
SERVICE_LEVELS = ("Standard", "Expedited", "SecondDay", "NextDay", "Scheduled", "FreeEconomy")


def _strip(value):
    return value.strip() if isinstance(value, str) else value


class FilterForm(Form):
    """The list's GET arguments. Not a FlaskForm: no CSRF, and usable with any args mapping."""
    q = StringField(_l("Search orders"), filters=[_strip], validators=[Length(max=200)])
    date_from = DateField(_l("From"), name="from", validators=[Optional(), store_day])
    date_to = DateField(_l("To"), name="to", validators=[Optional(), store_day])
    order_id = StringField(_l("Order ID"), filters=[_strip], validators=[Length(max=40)])
    buyer_name = StringField(_l("Buyer name"), filters=[_strip], validators=[Length(max=200)])
    buyer_email = StringField(_l("Buyer email"), filters=[_strip], validators=[Length(max=254)])
    sku = StringField(_l("SKU"), filters=[_strip], validators=[Length(max=100)])
    product_name = StringField(_l("Product name"), filters=[_strip], validators=[Length(max=200)])
    tracking_id = StringField(_l("Tracking ID"), filters=[_strip], validators=[Length(max=100)])
    status = SelectField(_l("Status"), choices=choices(STATUSES, _l("Any status")),
                         validators=[Optional()], validate_choice=False)
    service = StringField(_l("Shipping service"), filters=[_strip], validators=[Length(max=50)])
    sort = SelectField(_l("Sort by"), choices=[SelectChoice(k, v) for k, v in SORTS.items()], default="date",
                       validate_choice=False)
    per_page = SelectField(_l("Orders per page"), choices=choices(PAGE_SIZES), default="25",
                           validate_choice=False)
    page = IntegerField(widget=HiddenInput(), default=1, validators=[Optional(), NumberRange(min=1, max=10**6)])

    CRITERIA = ("q", "order_id", "buyer_name", "buyer_email", "sku", "product_name", "tracking_id", "service")
    ADVANCED = ("order_id", "buyer_name", "buyer_email", "sku", "product_name", "tracking_id", "status", "service")

    def validate_date_to(self, field):
        if field.data and self.date_from.data and field.data < self.date_from.data:
            raise ValidationError(_("To must be the same day as From or later."))


# The carriers' tracking formats, for the page to name the carrier while a tracking ID is scanned or typed.
FORMATS = json.dumps({carrier: pattern.pattern for carrier, pattern in TRACKING_FORMATS.items()})


MAX_PACKAGES = 20
_TRACKING = {"autocomplete": "off", "autocapitalize": "characters", "spellcheck": "false",
             "data-carrier-formats": FORMATS}


class QuantityField(Field):
    """Units of an item in a package: plain digits (no 1e3, +2, 2_0, non-ASCII digits); empty is 0. Not sent at
    all: None (the form said nothing about quantities: everything left goes in the first package)."""
    widget = TextInput()

    def __init__(self, label=None, validators=None, **kwargs):
        kwargs.setdefault("render_kw", {"inputmode": "numeric", "autocomplete": "off", "class": "qty"})
        super().__init__(label, validators, **kwargs)

    def process_formdata(self, valuelist):
        if not valuelist:
            self.data = None
            return
        self.raw = valuelist[0].strip()
        self.data = 0
        if self.raw and not re.fullmatch(r"[0-9]{1,4}", self.raw, re.ASCII):
            raise ValueError(_l("Enter a whole number of units, like 2."))
        self.data = int(self.raw or 0)

    def _value(self):
        raw = getattr(self, "raw", None)
        return raw if raw is not None else ("" if self.data is None else str(self.data))


class PackageForm(Form):
    """One package: the carrier, service and tracking ID (`ShipmentForm.for_items` adds a Quantity per item)."""
    tracking_id = StringField(_l("Tracking ID"), filters=[_strip], validators=[Length(max=100)], render_kw=_TRACKING)
    carrier = SelectField(_l("Carrier"), choices=choices(CARRIERS, _l("From the tracking ID")),
                          validators=[AnyOf(["", *CARRIERS], message=_l("Choose a carrier from the list."))],
                          validate_choice=False)
    carrier_name = StringField(_l("Carrier name"), filters=[_strip], validators=[Length(max=100)])
    shipping_service = StringField(_l("Shipping service"), filters=[_strip], validators=[Length(max=100)])


class ShipmentForm(FlaskForm, PackageForm):
    """Confirm shipment and Edit shipment (contract §5, §12): the first package's fields are the form's own, the
    others' come in `packages` (Add package); Tracking ID first for a scanner: with no carrier chosen, the one
    whose format the tracking ID has (else the carrier this user used last)."""
    tracking_id = StringField(_l("Tracking ID"), filters=[_strip], validators=[Length(max=100)],
                              render_kw={**_TRACKING, "autofocus": True})
    packages = FieldList(FormField(PackageForm), max_entries=MAX_PACKAGES - 1)
    ship_date = DateField(_l("Ship date"), validators=[DataRequired(message=_l("Enter the ship date."))])
    note = TextAreaField(_l("Seller note"), filters=[_strip], validators=[Length(max=1000)], render_kw={"rows": 2})
    confirmation = IntegerField(widget=HiddenInput(), validators=[Optional()])  # Edit shipment: which one
    version = VersionField()

    @classmethod
    def for_items(cls, item_ids) -> type[ShipmentForm]:
        """This form with a Quantity (`qty_<OrderItem.id>`) per item in every package."""
        quantities = {f"qty_{i}": QuantityField(_l("Quantity")) for i in item_ids}
        package = type("ItemsPackageForm", (PackageForm,), dict(quantities))
        return type("ItemsShipmentForm", (cls,), {**quantities, "packages": FieldList(
            FormField(package), max_entries=MAX_PACKAGES - 1)})


class CancelForm(FlaskForm):
    """Cancel order (contract §5): a reason from Amazon's list and a memo for the seller."""
    reason = SelectField(_l("Reason for cancellation"), choices=choices(CANCEL_REASONS, _l("Choose a reason")),
                         validators=[DataRequired(message=_l("Choose a reason for cancellation.")),
                                     AnyOf(CANCEL_REASONS, message=_l("Choose a reason from the list."))],
                         validate_choice=False)
    memo = TextAreaField(_l("Seller memo"), filters=[_strip], validators=[Length(max=1000)], render_kw={"rows": 2})
    version = VersionField()

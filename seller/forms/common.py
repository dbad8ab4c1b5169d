"""Pieces every area's forms share."""
import secrets
from datetime import date
from decimal import Decimal

from flask_wtf import FlaskForm
from wtforms import Field, HiddenField, IntegerField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, NumberRange, Optional, ValidationError
from wtforms.widgets import HiddenInput, TextInput

from ..money import AmountError, parse_amount
from ..i18n import _, _l


def VersionField():  # noqa: N802 (a field factory, used like a field class)
    """The version of the order (or return) the page was loaded at, for the stale-page check."""
    return IntegerField(widget=HiddenInput(), validators=[
        Optional(), NumberRange(min=1, max=2**31 - 1, message=_l("This page is out of date. Reload it and try again."))])


def choices(values, blank: str | None = None) -> list[SelectChoice]:
    """Options whose value is the stored English and whose label is its translation, after an optional empty
    "choose" option."""
    return ([SelectChoice("", blank)] if blank else []) + [SelectChoice(str(v), _l(str(v))) for v in values]


def store_day(form, field):
    """A date a store works with: far-off years (9999-12-31) would overflow the time arithmetic."""
    if field.data and not date(2000, 1, 1) <= field.data <= date(2100, 12, 31):
        raise ValidationError(_("Enter a date between 2000 and 2100."))


class ActionForm(FlaskForm):
    """A one-click POST action: it only carries the CSRF token and the version the page was loaded at."""
    version = VersionField()


class AmountField(Field):
    """Dollars and cents, parsed strictly by `money.parse_amount` (no 1e3, NaN, 10.005, ...)."""
    widget = TextInput()

    def __init__(self, label=None, validators=None, **kwargs):
        kwargs.setdefault("render_kw", {"inputmode": "decimal", "autocomplete": "off", "placeholder": "0.00"})
        super().__init__(label, validators, **kwargs)

    def process_formdata(self, valuelist):
        self.raw = valuelist[0] if valuelist else ""
        try:
            self.data = parse_amount(self.raw)
        except AmountError as exc:
            self.data = None
            raise ValueError(str(exc)) from None

    def _value(self):
        if getattr(self, "raw", None) is not None:
            return self.raw
        return "" if self.data in (None, Decimal(0)) else str(self.data)


class KeyField(HiddenField):
    """An idempotency key: made when the form is first shown, sent back with every submission.

    A submission without one is refused (not given a fresh key), so a replay is always recognised."""

    def __init__(self, label=None, validators=None, **kwargs):
        kwargs.setdefault("default", lambda: secrets.token_urlsafe(24))
        super().__init__(label, validators or [
            DataRequired(message=_l("This form is missing its submission key. Reload the page.")),
            Length(max=64, message=_l("This form's submission key is not valid. Reload the page."))], **kwargs)

    def process_formdata(self, valuelist):
        self.data = valuelist[0].strip() if valuelist else ""

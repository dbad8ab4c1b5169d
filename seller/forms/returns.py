"""Manage Returns forms: Create return request, Authorize request, Mark received, Close request, Contact buyer."""
from flask_wtf import FlaskForm
from flask_wtf.file import FileAllowed, FileField
from wtforms import (
    IntegerField, RadioField, SelectField, SelectMultipleField, StringField, SubmitField, TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Length, NumberRange, Optional
from wtforms.widgets import NumberInput

from ..i18n import _l
from ..models import Order, ReturnRequest
from ..workflow import CLOSE_REASONS, CONDITIONS, RETURN_REASONS, Received
from .common import VersionField, choices
from ..i18n import _l

TIMINGS = [SelectChoice("after_receipt", _l("Refund after the item is received")), SelectChoice("now", _l("Refund now"))]


class CreateReturnForm(FlaskForm):
    reason = SelectField(_l("Return reason"), choices=choices(RETURN_REASONS, _l("Choose the buyer's reason…")))
    submit = SubmitField(_l("Create return request"))

    item_ids: list[int] = []

    def quantity(self, item_id: int):
        return self[f"quantity-{item_id}"]

    def quantities(self) -> dict[int, int]:
        return {i: self.quantity(i).data or 0 for i in self.item_ids}


def create_return_form(order: Order, returnable: dict[int, int]) -> CreateReturnForm:
    """Create return request for this order: a Quantity per item, 0 (or blank) up to what can still be returned."""
    fields = {}
    single = len(order.items) == 1
    for item in order.items:
        left = returnable.get(item.id, 0)
        fields[f"quantity-{item.id}"] = IntegerField(
            _l("Quantity"), default=min(left, 1) if single else 0, widget=NumberInput(min=0, max=left),
            validators=[Optional(), NumberRange(min=0, max=left, message=_l("Enter 0 to %(most)s.", most=left))])
    form = type("OrderCreateReturnForm", (CreateReturnForm,), fields)()
    form.item_ids = [item.id for item in order.items]
    return form


class AuthorizeForm(FlaskForm):
    rma_number = StringField(_l("RMA number"), validators=[Length(max=40)])
    return_address = TextAreaField(_l("Return address"), validators=[Length(max=1000)])
    refund_timing = RadioField(_l("When to refund"), choices=TIMINGS, default="after_receipt")
    label = FileField(_l("Return label (PDF)"), validators=[  # its size: the verb (MAX_LABEL_BYTES)
        FileAllowed(["pdf"], _l("The return label must be a PDF file."))])
    version = VersionField()
    submit = SubmitField(_l("Authorize request"))
    buy_label = SubmitField(_l("Buy return label"))


MAX_SELECTED = 500  # requests authorized in one go


class AuthorizeSelectedForm(FlaskForm):
    """Authorize selected: the checked Pending Authorization requests (`ids`), with the Settings return address."""
    ids = SelectMultipleField(coerce=int, validate_choice=False, validators=[
        Length(min=1, max=MAX_SELECTED, message=_l("Select 1 to %(num)d Pending Authorization requests.",
                                                   num=MAX_SELECTED))])
    refund_timing = RadioField(_l("When to refund"), choices=TIMINGS, default="after_receipt")
    submit = SubmitField(_l("Authorize selected"))


class CloseForm(FlaskForm):
    reason = SelectField(_l("Reason for closing"), choices=choices(CLOSE_REASONS, _l("Choose a reason…")))
    message = TextAreaField(_l("Message to buyer"), validators=[Length(max=4000)])
    version = VersionField()
    submit = SubmitField(_l("Close request"))


class ContactForm(FlaskForm):
    subject = StringField(_l("Subject"), validators=[Length(max=200)])
    message = TextAreaField(_l("Message"), validators=[Length(max=4000)], render_kw={"rows": 6})
    submit = SubmitField(_l("Send message"))


class MarkReceivedForm(FlaskForm):
    note = TextAreaField(_l("Note"), validators=[Length(max=2000)])
    version = VersionField()
    submit = SubmitField(_l("Mark received"))

    item_ids: list[int] = []

    def received(self) -> dict:
        """Return item id -> Received (quantity so far, condition)."""
        return {i: Received(self[f"quantity-{i}"].data or 0, self[f"condition-{i}"].data or "") for i in self.item_ids}


def mark_received_form(ret: ReturnRequest) -> MarkReceivedForm:
    """Mark received for this request: per item a Quantity received (what came back so far) and a Condition."""
    fields = {}
    for ri in ret.items:
        fields[f"quantity-{ri.id}"] = IntegerField(
            _l("Quantity received"), default=ri.received_quantity or ri.quantity,
            widget=NumberInput(min=ri.received_quantity, max=ri.quantity),
            validators=[Optional(), NumberRange(min=0, max=ri.quantity, message=_l("Enter 0 to %(num)d.",
                                                                                 num=ri.quantity))])
        fields[f"condition-{ri.id}"] = SelectField(_l("Condition"), default=ri.condition,
                                                   choices=[SelectChoice("", _l("Choose…")),
                                                            *(SelectChoice(c, _l(c)) for c in CONDITIONS)])
    form = type("ReturnMarkReceivedForm", (MarkReceivedForm,), fields)()
    form.item_ids = [ri.id for ri in ret.items]
    return form

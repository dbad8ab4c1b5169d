"""Manage Returns forms: Create return request, Authorize request, Close request, Contact buyer."""
from flask_wtf import FlaskForm
from wtforms import IntegerField, RadioField, SelectField, StringField, SubmitField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Length, NumberRange, Optional
from wtforms.widgets import NumberInput

from ..models import Order
from ..workflow import CLOSE_REASONS, RETURN_REASONS
from .common import VersionField, choices

TIMINGS = [SelectChoice("after_receipt", "Refund after the item is received"), SelectChoice("now", "Refund now")]


class CreateReturnForm(FlaskForm):
    reason = SelectField("Return reason", choices=choices(RETURN_REASONS, "Choose the buyer's reason…"))
    submit = SubmitField("Create return request")

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
            "Quantity", default=min(left, 1) if single else 0, widget=NumberInput(min=0, max=left),
            validators=[Optional(), NumberRange(min=0, max=left, message=f"Enter 0 to {left}.")])
    form = type("OrderCreateReturnForm", (CreateReturnForm,), fields)()
    form.item_ids = [item.id for item in order.items]
    return form


class AuthorizeForm(FlaskForm):
    rma_number = StringField("RMA number", validators=[Length(max=40)])
    return_address = TextAreaField("Return address", validators=[Length(max=1000)])
    refund_timing = RadioField("When to refund", choices=TIMINGS, default="after_receipt")
    version = VersionField()
    submit = SubmitField("Authorize request")


class CloseForm(FlaskForm):
    reason = SelectField("Reason for closing", choices=choices(CLOSE_REASONS, "Choose a reason…"))
    message = TextAreaField("Message to buyer", validators=[Length(max=4000)])
    version = VersionField()
    submit = SubmitField("Close request")


class ContactForm(FlaskForm):
    subject = StringField("Subject", validators=[Length(max=200)])
    message = TextAreaField("Message", validators=[Length(max=4000)], render_kw={"rows": 6})
    submit = SubmitField("Send message")

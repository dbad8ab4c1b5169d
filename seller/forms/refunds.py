"""The refund form (Full Refund / Partial Refund), shared by Refund order and Issue refund."""
from decimal import Decimal

from flask_wtf import FlaskForm
from wtforms import RadioField, SelectField, SubmitField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, Length, Optional

from ..i18n import _l
from ..models import Order
from ..workflow import REFUND_REASONS, RefundInput
from .common import AmountField, KeyField, VersionField, choices
from ..i18n import _l

KINDS = [SelectChoice("full", _l("Full Refund")), SelectChoice("partial", _l("Partial Refund"))]
MEMO = Length(max=2000, message=_l("Keep it under 2,000 characters."))


class RefundForm(FlaskForm):
    """Fields common to every order; `refund_form` adds Item amount and Shipping amount per item."""
    kind = RadioField(_l("Refund type"), choices=KINDS, default="full", validators=[Optional()])
    reason = SelectField(_l("Reason for refund"), choices=choices(REFUND_REASONS, _l("Choose a reason…")),
                         validators=[Optional()])
    return_concession = AmountField(_l("Return shipping concession"))
    other_concession = AmountField(_l("Other concession"))
    memo_to_buyer = TextAreaField(_l("Memo to buyer"), validators=[MEMO])
    seller_memo = TextAreaField(_l("Seller memo"), validators=[MEMO])
    idempotency_key = KeyField()
    version = VersionField()
    # First in the page, so pressing Enter in an amount recalculates instead of refunding.
    recalculate = SubmitField(_l("Recalculate"))
    submit_full = SubmitField(_l("Submit Full Refund"))
    submit_partial = SubmitField(_l("Submit Partial Refund"))

    item_ids: list[int] = []

    def amount_fields(self, item_id: int):
        """The Item amount and Shipping amount fields of one order item."""
        return self[f"item-{item_id}-item"], self[f"item-{item_id}-shipping"]

    def chosen_kind(self) -> str | None:
        """Which submit button was pressed: 'full', 'partial', or None (Recalculate, Enter, preview)."""
        if self.submit_full.data:
            return "full"
        if self.submit_partial.data:
            return "partial"
        return None

    def shown_kind(self) -> str:
        """The tab to show: the button pressed, else the radio."""
        return self.chosen_kind() or (self.kind.data if self.kind.data in ("full", "partial") else "full")

    def validate(self, extra_validators=None) -> bool:
        """A full refund ignores the per-item amounts (hidden on its tab), whatever they hold."""
        super().validate(extra_validators)
        if self.shown_kind() == "full":
            for item_id in self.item_ids:
                for field in self.amount_fields(item_id):
                    field.errors = []
        return not any(field.errors for field in self) and not self.form_errors

    def refund_input(self, kind: str) -> RefundInput:
        """What the workflow's `refund` takes; unparseable amounts count as zero (for the preview)."""
        def amount(field) -> Decimal:
            return field.data if field.data is not None and not field.errors else Decimal(0)
        amounts = {i: tuple(amount(f) for f in self.amount_fields(i)) for i in self.item_ids} \
            if kind == "partial" else {}
        return RefundInput(kind=kind, reason=self.reason.data or "", idempotency_key=self.idempotency_key.data or "",
                           amounts=amounts, return_concession=amount(self.return_concession),
                           other_concession=amount(self.other_concession),
                           memo_to_buyer=self.memo_to_buyer.data or "", seller_memo=self.seller_memo.data or "")


def refund_form(order: Order, **defaults) -> RefundForm:
    """The refund form of this order: per item an Item amount and a Shipping amount (`item-<id>-item/-shipping`).

    `defaults` (reason, version) fill the form when it is first shown; a submission carries its own."""
    fields = {}
    for item in order.items:
        fields[f"item-{item.id}-item"] = AmountField(_l("Item amount"))
        fields[f"item-{item.id}-shipping"] = AmountField(_l("Shipping amount"))
    form_class = type("OrderRefundForm", (RefundForm,), fields)
    form = form_class(**defaults)
    form.item_ids = [item.id for item in order.items]
    return form


class CancelRefundForm(FlaskForm):
    """Cancel refund: which Pending refund (the latest is chosen), undone as a whole."""
    refund_id = RadioField(_l("Refund to cancel"), coerce=int, validators=[InputRequired(
        message=_l("Choose the refund to cancel."))])
    version = VersionField()
    submit = SubmitField(_l("Cancel refund"))


def cancel_refund_form(order: Order, label) -> CancelRefundForm:
    """The form with a choice per refund of this order still Pending (`label(refund)` words it)."""
    pending = [r for r in order.refunds if r.is_pending()]
    form = CancelRefundForm()
    form.refund_id.choices = [(r.id, label(r)) for r in reversed(pending)]
    if not form.is_submitted() and pending:
        form.refund_id.data = pending[-1].id
    return form

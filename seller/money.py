"""Money: integer cents in the database, `Decimal` in code, and a strict parser for what people type."""
import re
from decimal import Decimal
from .i18n import _

_AMOUNT = re.compile(r"[0-9]{1,9}(?:\.[0-9]{1,2})?|\.[0-9]{1,2}", re.ASCII)
_GROUPED = re.compile(r"[0-9]{1,3}(?:,[0-9]{3})+(?:\.[0-9]*)?", re.ASCII)
CENT = Decimal("0.01")


class AmountError(ValueError):
    """An amount that is not a plain, non-negative number of dollars and cents."""


def parse_amount(text: str | None) -> Decimal:
    """'12', '12.5', '12.50', '$1,234.56' -> Decimal; empty -> 0.

    Refused: more than two decimals (10.005), exponents (1e3), Infinity, NaN, sNaN, digits other
    than 0-9, signs, and anything else that is not dollars and cents."""
    s = (text or "").strip().removeprefix("$")
    if s.startswith("-"):
        raise AmountError(_("Enter an amount that is not negative."))
    if "," in s:  # thousands separators only: "1,00" is not read as 100
        if not _GROUPED.fullmatch(s):
            raise AmountError(_("Use a point for cents and commas only between thousands, like 1,234.50."))
        s = s.replace(",", "")
    if not s:
        return Decimal("0.00")
    if not _AMOUNT.fullmatch(s):
        if re.fullmatch(r"[0-9]*\.[0-9]{3,}", s, re.ASCII):
            raise AmountError(_("Use at most two decimal places (cents)."))
        raise AmountError(_("Enter an amount in dollars and cents, like 12.50."))
    return Decimal(s).quantize(CENT)


def to_cents(amount: Decimal) -> int:
    return int((amount * 100).to_integral_exact())


def from_cents(cents: int) -> Decimal:
    return (Decimal(cents) / 100).quantize(CENT)


def fmt(cents: int | None, currency: str = "USD") -> str:
    """12345 -> '$123.45' (other currencies: '123.45 EUR')."""
    if cents is None:
        return "—"
    text = f"{from_cents(abs(cents)):,}"
    sign = "-" if cents < 0 else ""
    return f"{sign}${text}" if currency == "USD" else f"{sign}{text} {currency}"

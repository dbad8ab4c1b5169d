"""Amazon's returns report in (contract §13, Import returns): one code path for the upload on Manage Returns and
`flask import-returns FILE`.

Tab-delimited, UTF-8 (a BOM is fine), columns in any order, matched by name whatever their case; unknown ones are
ignored. Each line is one item of a return request: the request is keyed by its order and Amazon RMA ID, the item
by its SKU. Every line is checked first: a file with any bad line imports nothing. Orders the desk doesn't have are
reported and skipped, never invented. Importing the same file again changes nothing.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from . import workflow
from .i18n import _
from .models import ReturnStatus as R, Settings, User
from .reports import RowError, parse_report_date

REQUIRED = ("order id", "return request date", "return request status", "amazon rma id", "merchant sku",
            "return quantity")
# Amazon's request statuses -> ours.
STATUSES = {"pending authorization": R.PENDING_AUTHORIZATION, "pending approval": R.PENDING_AUTHORIZATION,
            "pending": R.PENDING_AUTHORIZATION, "requested": R.PENDING_AUTHORIZATION,
            "authorized": R.AUTHORIZED, "approved": R.AUTHORIZED, "closed": R.CLOSED, "rejected": R.CLOSED,
            "completed": R.COMPLETED}
MAX_QUANTITY = 10_000


@dataclass
class ReturnLine:
    line: int
    order_id: str
    amazon_rma_id: str
    merchant_rma_id: str
    sku: str
    quantity: int
    status: R
    reason: str
    requested_at: datetime


@dataclass
class ReturnsImport:
    rows: int = 0
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    unknown: list[RowError] = field(default_factory=list)  # lines whose order is not in the desk (skipped)
    errors: list[RowError] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


def parse(data: bytes, tz) -> tuple[ReturnsImport, list[ReturnLine]]:
    """Check every line; returns the result (rows, errors by line) and the lines read."""
    result, found = ReturnsImport(), []
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        result.errors.append(RowError(data.count(b"\n", 0, exc.start) + 1, _(
            "the file is not UTF-8 text: download the returns report again and upload it unchanged")))
        return result, found
    lines = text.split("\n")
    header = [name.strip().strip('"').lower() for name in lines[0].rstrip("\r").split("\t")]
    missing = [name for name in REQUIRED if name not in header]
    if not text.strip():
        result.errors.append(RowError(1, _("the file is empty")))
    elif missing:
        result.errors.append(RowError(1, _("not an Amazon returns report: the header has no %(columns)s",
                                           columns=", ".join(missing))))
    if result.errors:
        return result, found
    keys = set()
    for number, raw in enumerate(lines[1:], start=2):
        raw = raw.rstrip("\r")
        if not raw.strip():
            continue
        result.rows += 1
        cells = dict(zip(header, [v.strip().strip('"') for v in raw.split("\t")] + [""] * len(header)))
        try:
            item = _line(number, cells, tz)
        except ValueError as exc:
            result.errors.append(RowError(number, str(exc)))
            continue
        key = (item.order_id, item.amazon_rma_id, item.sku)
        if key in keys:
            result.errors.append(RowError(number, _("order %(order_id)s, RMA %(rma)s, SKU %(sku)s is on an earlier "
                                                    "line too", order_id=key[0], rma=key[1], sku=key[2])))
            continue
        keys.add(key)
        found.append(item)
    if not result.rows and not result.errors:
        result.errors.append(RowError(2, _("the file has a header but no returns")))
    return result, found


def _line(number: int, cells: dict[str, str], tz) -> ReturnLine:
    for name in REQUIRED:
        if not cells[name]:
            raise ValueError(_("%(column)s is missing", column=name))
    if "\x00" in "".join(cells.values()):
        raise ValueError(_("a cell holds a NUL character (the file is damaged)"))
    status = STATUSES.get(cells["return request status"].lower())
    if status is None:
        raise ValueError(_('Return request status "%(value)s" is not one of %(known)s',
                           value=cells["return request status"], known=", ".join(sorted(STATUSES))))
    quantity = cells["return quantity"]
    if not (quantity.isascii() and quantity.isdigit()) or not 1 <= int(quantity) <= MAX_QUANTITY:
        raise ValueError(_('Return quantity "%(value)s" is not a whole number of 1 or more', value=quantity))
    try:
        requested_at = parse_report_date(cells["return request date"], tz)
    except ValueError:
        raise ValueError(_('Return request date "%(value)s" is not a date like 2026-11-20T08:15:22-08:00',
                           value=cells["return request date"])) from None
    for name, limit in (("order id", 40), ("amazon rma id", 40), ("merchant rma id", 40), ("merchant sku", 100)):
        if len(cells.get(name, "")) > limit:
            raise ValueError(_("%(column)s is longer than %(num)d characters", column=name, num=limit))
    return ReturnLine(number, cells["order id"], cells["amazon rma id"], cells.get("merchant rma id", ""),
                      cells["merchant sku"], int(quantity), status,
                      (cells.get("return reason") or "Other")[:100], requested_at)


def import_returns(data: bytes, user: User | None = None) -> ReturnsImport:
    """Check the whole file, then create or update its return requests in one transaction (or nothing)."""
    from . import clock
    result, found = parse(data, clock.store_tz(Settings.current().timezone))
    if result.ok:
        workflow.import_returns(found, result, user)
    return result

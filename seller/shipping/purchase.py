"""Buying a label: reserve the order, ask the provider, record the purchase — never two labels for one order.

The provider's answer takes seconds, so it is asked outside any database transaction, between the
workflow's reservation (`claim_label`) and its record (`buy_shipping`)."""
import logging
import time

from .. import workflow
from .providers import ShippingError
from ..i18n import _

log = logging.getLogger(__name__)
TWIN_WAIT = 15  # seconds a second submission of the same form waits for the first one's label


def buy_label(order, user, provider, *, shipment_ref: str, rate_id: str, key: str, ship_date, parcel: dict,
              expected_version: int | None, **details):
    """Returns (label, replayed). Raises ShippingError or a WorkflowError; then nothing is bought or recorded
    (a label bought for an order that changed meanwhile is voided with the provider). `details`: for the history."""
    deadline = time.monotonic() + TWIN_WAIT
    while True:
        try:
            done = workflow.claim_label(order, user, key, provider.name, expected_version=expected_version)
            break
        except workflow.PurchaseInProgress as exc:  # a double submit: its twin is buying; wait for its label
            if not exc.same_key or time.monotonic() > deadline:
                raise
            time.sleep(0.2)
    if done is not None:
        return done, True
    try:
        purchase = provider.buy(shipment_ref, rate_id, key)
    except BaseException:
        workflow.release_label_claim(order, key)
        raise
    try:
        return workflow.buy_shipping(order, user, purchase, key, provider=provider.name, ship_date=ship_date,
                                     parcel=parcel, expected_version=expected_version, **details)
    except workflow.WorkflowError as exc:  # the order changed while the label was being bought
        workflow.release_label_claim(order, key)
        try:
            provider.void(purchase.provider_shipment_id)
            exc.message += " " + _("The label just bought was voided with %(provider)s.", provider=provider.name)
        except ShippingError as void_error:
            log.warning("could not void %s label %s: %s", provider.name, purchase.provider_shipment_id,
                        void_error.message)
            exc.message += " " + _("The label just bought (%(tracking_id)s) could not be voided: void it with "
                                   "%(provider)s.", tracking_id=purchase.tracking_id, provider=provider.name)
        raise

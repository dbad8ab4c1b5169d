"""The only code that changes an order's or a return's state.

Every verb runs in one transaction (`db.write_transaction`) whose first write is its guard: a
conditional UPDATE of the order (or return) row that checks the status the transition table allows
and, when the page sent one, the version it was loaded at; the same UPDATE bumps the version. Two
tablets, a double tap or a retry therefore serialise on that row, and the loser is told why.
Each verb writes the order's history and raises a `WorkflowError` subclass instead of flashing.

By subject: `rules` (vocabularies, transition tables, roles), `shipping` (confirm, edit, cancel, slips),
`refunds`, `returns`, `messages` (Contact buyer), `labels` (Buy shipping), `imports` (orders from reports),
`packing` (Pack & ship).
Callers use the names re-exported here.
"""
from .amazon import amazon_status
from .core import store_tz
from .errors import (
    ConcessionExceedsCap, IdempotencyConflict, InvalidInput, InvalidTransition, NotRefundable, PurchaseInProgress,
    RefundExceedsBalance, ReturnQuantityExceeded, StaleVersion, WorkflowError,
)
from .imports import ReportUpdate, new_order, new_orders, update_from_reports
from .labels import LABEL_CLAIM_TTL, LABEL_DAYS_AHEAD, buy_shipping, check_label_date, claim_label, release_label_claim
from .messages import contact_buyer
from .outbox import retry_amazon
from .refunds import (
    MAX_CENTS, RefundInput, cancel_refund, finalize_refunds, plan_refund_lines, received_amounts, refund, refund_caps,
)
from .returns import (
    Received, authorization_message, authorize_return, authorize_selected, close_return, close_stale_returns, create_return, import_returns,
    mark_received, new_rma_number,
    returnable_quantities,
)
from .actions import ACTIONS, action, available, available_actions, permitted, why_not
from .rules import (
    CANCEL_REASONS, CARRIERS, CLOSE_REASONS, CONDITIONS, ORDER_ACTIONS, REFUND_REASONS, RETURN_ACTIONS, RETURN_REASONS,
    TRACKING_FORMATS, carrier_of, compute_ship_by, normalize_tracking, tracking_matches,
)
from .store import save_amazon_connection, save_settings
from . import packing
from .shipping import (
    ShipmentInput, cancel_order, check_packages, check_packing_slips, confirm_shipment, edit_shipment, last_carrier,
    package_field, record_packing_slips,
)

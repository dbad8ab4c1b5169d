"""Why a verb said no: typed exceptions, each with the HTTP status a view answers with."""

class WorkflowError(Exception):
    """A rule said no. `field` names the form field the message belongs next to, if any."""
    status_code = 422

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field


class InvalidTransition(WorkflowError):
    status_code = 409


class StaleVersion(WorkflowError):
    status_code = 409


class IdempotencyConflict(WorkflowError):
    status_code = 409


class InvalidInput(WorkflowError):
    pass


class RefundExceedsBalance(WorkflowError):
    pass


class ConcessionExceedsCap(WorkflowError):
    pass


class NotRefundable(WorkflowError):
    status_code = 409


class ReturnQuantityExceeded(WorkflowError):
    pass


class PurchaseInProgress(WorkflowError):
    """A label is being bought for this order right now (`same_key`: by this very form)."""
    status_code = 409

    def __init__(self, message: str, same_key: bool):
        super().__init__(message)
        self.same_key = same_key

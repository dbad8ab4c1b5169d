"""Buy shipping (its issue builds it)."""
from . import bp  # noqa: F401

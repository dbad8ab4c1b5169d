"""First run: a desk without an owner is claimed with the one-time setup code that `serve` prints.

The code is made where only the person who started the desk can read it (its terminal, the platform's release
log), so nobody else on the network can create the owner account first. Only its hash is kept; creating the
owner deletes it in the same transaction, so it works once, and it is worthless once an owner exists."""
import hashlib
import hmac
import secrets

from sqlalchemy import delete, exists, select

from . import users
from .db import write_transaction
from .extensions import db
from .i18n import _
from .models import SetupCode, User

ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I/L to misread


class SetupError(ValueError):
    """Why the desk could not be claimed; `field` is the form field it belongs to."""

    def __init__(self, message: str, field: str = "setup_code"):
        super().__init__(message)
        self.field = field


def _hash(code: str) -> str:
    return hashlib.sha256("".join(code.upper().split()).replace("-", "").encode()).hexdigest()


def owner_exists() -> bool:
    return bool(db.session.scalar(select(exists().where(User.role == "owner"))))


def new_code() -> str:
    """A fresh code (60 bits, typed as XXXX-XXXX-XXXX), replacing any earlier one."""
    code = "-".join("".join(secrets.choice(ALPHABET) for _ in range(4)) for _ in range(3))
    with write_transaction(db.session):
        db.session.execute(delete(SetupCode))
        db.session.add(SetupCode(code_hash=_hash(code)))
    return code


def _use_code(code: str) -> None:
    """Inside a write transaction: spend the code, or refuse (wrong code, or the desk has an owner already)."""
    if owner_exists():
        raise SetupError(_("This desk already has an owner. Sign in instead."))
    known = db.session.scalars(select(SetupCode.code_hash)).all()
    given = _hash(code)
    if not any(hmac.compare_digest(given, h) for h in known) or \
            db.session.execute(delete(SetupCode).where(SetupCode.code_hash == given)).rowcount != 1:
        raise SetupError(_("That is not the setup code. Copy it from the terminal where the desk was started."))


def claim(code: str, email: str, password: str) -> User:
    """Create the owner account with the setup code; the code is spent with it."""
    try:
        user = users.new(email, password, "owner")
    except ValueError as exc:
        raise SetupError(str(exc), "password" if "password" in str(exc) else "email") from None
    with write_transaction(db.session):
        _use_code(code)
        db.session.add(user)
    return user


def claim_with_demo(code: str) -> dict[str, tuple[str, str]]:
    """Spend the setup code on demo data instead: demo orders and an owner and a staff account (their sign-ins)."""
    from .demo import DEMO_ORDERS, seed
    with write_transaction(db.session):
        _use_code(code)
    return seed(DEMO_ORDERS)

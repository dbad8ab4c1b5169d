"""Accounts: creating them and checking passwords (scrypt at OWASP strength)."""
from sqlalchemy import func, select, update
from werkzeug.security import check_password_hash, generate_password_hash

from .db import write_transaction
from .extensions import db
from .models import User
from .i18n import _, N_

HASH_METHOD = "scrypt:131072:8:1"
# Checked against when the e-mail is unknown, so both answers take the same time ("not a password", made once:
# hashing it at import took 0.2-2 s of every start).
_DUMMY_HASH = ("scrypt:131072:8:1$PskGwIu9xjo8S093$39661628e0d55d2860928970766ac5148d9efdea6c28078ef9260be4399b2c"
               "f27ab9296c210d4eb693bfd521b4e2a87626edd2a12a64cac0a2ae6459ffe28d32")
ROLES = (N_("owner"), N_("staff"))


def find(email: str) -> User | None:
    return db.session.scalar(select(User).where(func.lower(User.email) == email.strip().lower()))


def authenticate(email: str, password: str) -> User | None:
    user = find(email)
    ok = check_password_hash(user.password_hash if user else _DUMMY_HASH, password)
    return user if ok and user and user.active else None


def new(email: str, password: str, role: str) -> User:
    """A user not yet saved, its password hashed; ValueError says what is wrong with the e-mail or password."""
    email = email.strip().lower()
    if role not in ROLES:
        raise ValueError(_("The role is owner or staff."))
    if "@" not in email:
        raise ValueError(_("Enter an e-mail address."))
    if len(password) < 10:
        raise ValueError(_("Use a password of at least 10 characters."))
    if find(email):
        raise ValueError(_("%(email)s already has an account.", email=email))
    return User(email=email, role=role, password_hash=generate_password_hash(password, method=HASH_METHOD))


def create(email: str, password: str, role: str) -> User:
    user = new(email, password, role)
    with write_transaction(db.session):
        db.session.add(user)
    return user


def end_sessions(user: User, new_password: str | None = None) -> None:
    """Sign the user out everywhere (and set a new password): the session version moves on."""
    values = {"session_version": User.session_version + 1}
    if new_password is not None:
        values["password_hash"] = generate_password_hash(new_password, method=HASH_METHOD)
    with write_transaction(db.session):
        db.session.execute(update(User).where(User.id == user.id).values(**values))


def set_language(user: User, language: str) -> None:
    """Keep the language this person chose ("" for their browser's)."""
    with write_transaction(db.session):
        db.session.execute(update(User).where(User.id == user.id).values(language=language))

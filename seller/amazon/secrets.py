"""The connection's secrets at rest: Fernet (AES with an HMAC) under a key derived from SECRET_KEY by HKDF.

Changing SECRET_KEY makes the saved secrets unreadable: the connection then says so and asks for the LWA client
secret and the refresh token again (nothing else is lost). Backups and exports carry only the sealed text."""
from __future__ import annotations

import base64

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import current_app


def _fernet() -> Fernet:
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"seller-desk amazon connection").derive(
        current_app.config["SECRET_KEY"].encode())
    return Fernet(base64.urlsafe_b64encode(key))


def seal(text: str) -> str:
    return _fernet().encrypt(text.encode()).decode() if text else ""


def unseal(sealed: str) -> str | None:
    """The secret, "" when none was saved, or None when it cannot be read (SECRET_KEY changed)."""
    if not sealed:
        return ""
    try:
        return _fernet().decrypt(sealed.encode()).decode()
    except InvalidToken:
        return None

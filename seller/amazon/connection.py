"""The saved connection, and the Selling Partner API client made from it."""
from __future__ import annotations

import os

from flask import current_app

from ..extensions import db
from ..i18n import _
from ..models import AmazonConnection
from .client import LWA_TOKEN_URL, NA_ENDPOINT, AmazonError, Credentials, SellingPartner
from .secrets import unseal


def demo_mode() -> bool:
    """A demo desk (SELLER_DEMO) never talks to a real Amazon account."""
    return bool(current_app.config.get("SELLER_DEMO")) or os.environ.get("SELLER_DEMO", "").lower() not in (
        "", "0", "false", "no")


def current() -> AmazonConnection | None:
    """The saved connection, or None: without one, nothing about Amazon shows."""
    row = db.session.get(AmazonConnection, 1)
    return row if row is not None and row.seller_id else None


def problem(row: AmazonConnection | None) -> str | None:
    """Why this connection cannot be used as saved, or None."""
    if row is None:
        return _("No Amazon connection is saved.")
    if demo_mode():
        return _("This is a demo desk: it cannot connect to a real Amazon account.")
    if unseal(row.client_secret_sealed) is None or unseal(row.refresh_token_sealed) is None:
        return _("The saved LWA client secret and refresh token can no longer be read (SECRET_KEY changed): "
                 "enter them again and save the connection.")
    return None


def client(row: AmazonConnection, **options) -> SellingPartner:
    """The SP-API client for a usable connection (see `problem`); endpoints from the environment."""
    creds = Credentials(row.client_id, unseal(row.client_secret_sealed), unseal(row.refresh_token_sealed),
                        row.marketplace_id)
    return SellingPartner(creds, os.environ.get("AMAZON_SP_API_ENDPOINT") or NA_ENDPOINT,
                          os.environ.get("AMAZON_LWA_TOKEN_URL") or LWA_TOKEN_URL, **options)


def check(row: AmazonConnection) -> tuple[bool, str]:
    """Test connection: Login with Amazon, then the seller's marketplaces (the saved one must be among them)."""
    if reason := problem(row):
        return False, _("Could not connect to Amazon: %(reason)s", reason=reason)
    try:
        marketplaces = client(row, max_wait=5).marketplaces()
    except AmazonError as exc:
        return False, _("Could not connect to Amazon: %(reason)s", reason=exc.message)
    names = ", ".join(f"{name} ({mid})" for mid, name in marketplaces)
    if row.marketplace_id not in {mid for mid, _name in marketplaces}:
        return False, _("Could not connect to Amazon: this seller does not sell in marketplace %(id)s (it sells in: "
                        "%(names)s).", id=row.marketplace_id, names=names or "—")
    return True, _("Connected to Amazon: %(names)s.", names=names)

"""The store's settings: one row, written only here."""
from __future__ import annotations

from flask import g, has_request_context

from .. import clock
from ..db import write_transaction
from ..extensions import db
from ..models import AmazonConnection, Settings


def save_settings(**values) -> Settings:
    """Change the named settings (the row is made on the first save), in one transaction."""
    with write_transaction(db.session):
        row = db.session.get(Settings, 1)
        if row is None:
            row = Settings.defaults()
            db.session.add(row)
        for name, value in values.items():
            if name not in Settings.__table__.columns or name == "id":
                raise AttributeError(f"no setting {name!r}")
            setattr(row, name, value)
    if has_request_context():
        g.pop("store_settings", None)  # the request's copy (`Settings.current`) is read again, as saved
    return row


def save_amazon_connection(**values) -> AmazonConnection:
    """Save the Amazon connection (its secrets already sealed), in one transaction; the row is made on the first save."""
    with write_transaction(db.session):
        row = db.session.get(AmazonConnection, 1)
        if row is None:
            row = AmazonConnection(id=1)
            db.session.add(row)
        for name, value in values.items():
            if name not in AmazonConnection.__table__.columns or name == "id":
                raise AttributeError(f"no connection field {name!r}")
            setattr(row, name, value)
        row.saved_at = clock.now()
    return row

"""Rate-limit counters every worker and dyno shares: Redis when `REDIS_URL` is set, otherwise this database.

`limits` (under Flask-Limiter) has no SQL storage, so here is one for its fixed windows: a row per key with its
hits and the end of its window, bumped by one upsert that PostgreSQL and SQLite both run atomically."""
import random
import time

from limits.storage import Storage
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from .extensions import db

SCHEME = "seller-db"
_HIT = text(
    'INSERT INTO rate_limits ("key", hits, expires_at) VALUES (:key, :amount, :expires) '
    'ON CONFLICT ("key") DO UPDATE SET '
    "hits = CASE WHEN rate_limits.expires_at <= :now THEN :amount ELSE rate_limits.hits + :amount END, "
    "expires_at = CASE WHEN rate_limits.expires_at <= :now THEN :expires ELSE rate_limits.expires_at END "
    "RETURNING hits")


def storage_uri(config: dict) -> str:
    """Where the counters live: an explicit `RATELIMIT_STORAGE_URI`, else Redis at `REDIS_URL`, else the database."""
    return config.get("RATELIMIT_STORAGE_URI") or config.get("REDIS_URL") or f"{SCHEME}://"


class DatabaseStorage(Storage):
    """Fixed-window counters in the `rate_limits` table, on the app's own engine."""
    STORAGE_SCHEME = [SCHEME]

    @property
    def base_exceptions(self):
        return SQLAlchemyError

    def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        now = time.time()
        with db.engine.begin() as conn:
            hits = conn.execute(_HIT, {"key": key, "amount": amount, "now": now, "expires": now + expiry}).scalar()
            if random.random() < 0.02:  # now and then, forget windows that ended an hour ago
                conn.execute(text("DELETE FROM rate_limits WHERE expires_at < :old"), {"old": now - 3600})
        return hits

    def _row(self, key: str):
        with db.engine.connect() as conn:
            return conn.execute(text('SELECT hits, expires_at FROM rate_limits WHERE "key" = :key'),
                                {"key": key}).first()

    def get(self, key: str) -> int:
        row = self._row(key)
        return row.hits if row and row.expires_at > time.time() else 0

    def get_expiry(self, key: str) -> float:
        row = self._row(key)
        return row.expires_at if row and row.expires_at > time.time() else time.time()

    def check(self) -> bool:
        try:
            with db.engine.connect() as conn:
                conn.execute(text("SELECT 1 FROM rate_limits WHERE 1 = 0"))
            return True
        except SQLAlchemyError:
            return False

    def reset(self) -> int | None:
        with db.engine.begin() as conn:
            return conn.execute(text("DELETE FROM rate_limits")).rowcount

    def clear(self, key: str) -> None:
        with db.engine.begin() as conn:
            conn.execute(text('DELETE FROM rate_limits WHERE "key" = :key'), {"key": key})

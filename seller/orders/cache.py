"""The order list's section as last rendered, reused while nothing it shows can have changed.

A section is kept under the database's data version and the request that asked for it (user,
session, URL, htmx or not). The data version moves with every committed write: on SQLite it is
`PRAGMA data_version` of the connection (it changes when another connection commits) plus this
process's own commits; on PostgreSQL it is the current snapshot (it changes when a transaction that
wrote ends). A section also expires when time alone would change it: at the store's next midnight
(the 7-day window moves) and when a shown Unshipped order passes its Ship by (its Late badge).
Set `ORDERS_LIST_CACHE = False` to render every time.
"""
import threading
import uuid
from collections import OrderedDict
from datetime import datetime
from itertools import count

from sqlalchemy import event

_commits = count(1)
_last_commit = 0


def _committed(_conn):
    global _last_commit
    _last_commit = next(_commits)


def init_app(app, db):
    """Count this process's own commits on the app's engines (SQLite's data_version does not see them)."""
    with app.app_context():
        for engine in db.engines.values():
            event.listen(engine, "commit", _committed)


def data_version(session) -> tuple | None:
    """A value that differs whenever a write was committed since it was last read (None: unknown)."""
    conn = session.connection()
    if conn.dialect.name == "sqlite":
        version = conn.exec_driver_sql("PRAGMA data_version").scalar()
        # data_version is per connection: key on a token of this connection (an id() can be reused)
        token = conn.connection.info.setdefault("cache_token", uuid.uuid4().hex)
        return str(conn.engine.url), token, version, _last_commit
    if conn.dialect.name == "postgresql":
        return str(conn.engine.url), conn.exec_driver_sql("SELECT pg_current_snapshot()::text").scalar()
    return None


class SectionCache:
    """A few rendered sections per process, the least recently used dropped first."""

    def __init__(self, size: int = 32):
        self.size = size
        self._entries: OrderedDict = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key, now: datetime) -> str | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            if now >= entry[1]:
                del self._entries[key]
                return None
            self._entries.move_to_end(key)
            return entry[0]

    def put(self, key, html: str, expires: datetime) -> None:
        with self._lock:
            self._entries[key] = (html, expires)
            self._entries.move_to_end(key)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)


sections = SectionCache()

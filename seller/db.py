"""Database connection behaviour that the workflow's guards rely on.

SQLite: WAL, a 5 s busy timeout, foreign keys on, and transactions begun by us — `BEGIN IMMEDIATE`
for the workflow's write transactions (so a writer waits for the lock instead of failing on
"database is locked" after reading), a plain `BEGIN` for pages that only read.
"""
import uuid
from contextlib import contextmanager
from contextvars import ContextVar
from itertools import count

from flask import g, has_app_context
from sqlalchemy import event

_writing: ContextVar[bool] = ContextVar("writing", default=False)
BUSY_TIMEOUT_MS = 5000  # how long a writer waits for SQLite's lock before "database is locked"


_commits = count(1)
_last_commit = 0


def init_app(app, db):
    """Give this app's SQLite engines the behaviour above (PostgreSQL needs none: see `config.engine_options`),
    and count this process's own commits (SQLite's data_version does not see them)."""
    with app.app_context():
        for engine in db.engines.values():
            event.listen(engine, "commit", _committed)
            if engine.dialect.name == "sqlite":
                event.listen(engine, "connect", _sqlite_connect)
                event.listen(engine, "begin", _sqlite_begin)


def _committed(_conn):
    global _last_commit
    _last_commit = next(_commits)
    if has_app_context():
        g.pop("data_version", None)


def data_version(session) -> tuple | None:
    """A value that differs whenever a write was committed since it was last read (None: unknown); read once per
    request until the request commits. SQLite: `PRAGMA data_version` of the connection (it moves when another
    connection commits) plus this process's own commits; PostgreSQL: the current snapshot (it moves when a
    transaction that wrote ends)."""
    if has_app_context() and "data_version" in g:
        return g.data_version
    conn = session.connection()
    version = None
    if conn.dialect.name == "sqlite":
        number = conn.exec_driver_sql("PRAGMA data_version").scalar()
        # data_version is per connection: key on a token of this connection (an id() can be reused)
        token = conn.connection.info.setdefault("cache_token", uuid.uuid4().hex)
        version = str(conn.engine.url), token, number, _last_commit
    elif conn.dialect.name == "postgresql":
        version = str(conn.engine.url), conn.exec_driver_sql("SELECT pg_current_snapshot()::text").scalar()
    if has_app_context():
        g.data_version = version
    return version


def _sqlite_connect(dbapi_conn, _record):
    dbapi_conn.isolation_level = None  # we emit BEGIN ourselves (see `_sqlite_begin`)
    cur = dbapi_conn.cursor()
    for pragma in ("journal_mode=WAL", f"busy_timeout={BUSY_TIMEOUT_MS}", "foreign_keys=ON", "synchronous=NORMAL"):
        cur.execute("PRAGMA " + pragma)
    cur.close()


def _sqlite_begin(conn):
    conn.exec_driver_sql("BEGIN IMMEDIATE" if _writing.get() else "BEGIN")


@contextmanager
def write_transaction(session):
    """One transaction for one workflow verb: commit at the end, roll back on any exception.

    Whatever the request read before is ended first, so on SQLite the write lock is taken at BEGIN."""
    session = session() if hasattr(session, "registry") else session  # scoped_session -> Session
    if session.in_transaction():
        session.rollback()
    token = _writing.set(True)
    try:
        with session.begin():
            yield session
    finally:
        _writing.reset(token)


def is_lock_error(exc: BaseException) -> bool:
    """SQLite's 'database is locked'/'busy', or a PostgreSQL lock timeout or serialization failure."""
    text = str(getattr(exc, "orig", exc)).lower()
    return any(word in text for word in ("database is locked", "database is busy", "lock timeout",
                                         "could not serialize", "deadlock detected"))

"""Database connection behaviour that the workflow's guards rely on.

SQLite: WAL, a 5 s busy timeout, foreign keys on, and transactions begun by us — `BEGIN IMMEDIATE`
for the workflow's write transactions (so a writer waits for the lock instead of failing on
"database is locked" after reading), a plain `BEGIN` for pages that only read.
"""
from contextlib import contextmanager
from contextvars import ContextVar

from sqlalchemy import event

_writing: ContextVar[bool] = ContextVar("writing", default=False)
BUSY_TIMEOUT_MS = 5000  # how long a writer waits for SQLite's lock before "database is locked"


def init_app(app, db):
    """Give this app's SQLite engines the behaviour above (PostgreSQL needs none: see `config.engine_options`)."""
    with app.app_context():
        for engine in db.engines.values():
            if engine.dialect.name == "sqlite":
                event.listen(engine, "connect", _sqlite_connect)
                event.listen(engine, "begin", _sqlite_begin)


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

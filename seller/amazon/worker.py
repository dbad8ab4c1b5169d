"""Running the connection: one pass (pull, then push) and the loop; one lock so two loops never both run."""
from __future__ import annotations

import os
import socket
import time
from datetime import timedelta

from sqlalchemy import text, update
from sqlalchemy.exc import IntegrityError

from .. import clock
from ..db import write_transaction
from ..extensions import db
from ..i18n import _
from ..models import WorkerLock
from .. import workflow
from . import connection, sync

LOCK_NAME = "amazon"
LOCK_KEY = 0x5E11E4  # PostgreSQL advisory lock key of the Amazon loop


def run_once() -> tuple[bool, str]:
    """Pull the orders updated since the last pull, then push what is waiting. Returns (ok, what happened)."""
    row = connection.current()
    if reason := connection.problem(row):
        return False, reason
    sp = connection.client(row)
    pulled = sync.pull(sp, row)
    from . import push  # noqa: PLC0415
    lock = Lock()
    if lock.acquire():  # only one pusher at a time: a running loop pushes itself
        try:
            pushed = push.push(sp, row).summary()
        finally:
            lock.release()
    else:
        pushed = _("The Amazon loop is sending what waits.")
    if pulled.error:
        return False, pulled.error
    return True, _("Synced with Amazon: %(pulled)s %(pushed)s", pulled=pulled.summary(), pushed=pushed)


class Lock:
    """Who runs the loop: a PostgreSQL advisory lock held by a connection of its own (it ends with the
    process, however it ends), or on SQLite a lease row renewed by the loop and taken over once it expires
    or its holder (same host) is gone."""

    def __init__(self, lease: float = 60):
        self.lease, self.holder, self.conn = lease, f"{socket.gethostname()}:{os.getpid()}", None

    def acquire(self) -> bool:
        if db.engine.dialect.name == "postgresql":
            if self.conn is None:
                self.conn = db.engine.connect()
            got = self.conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": LOCK_KEY}).scalar()
            self.conn.commit()
            return bool(got)
        return self._lease()

    def _lease(self) -> bool:
        now = clock.now()
        until = now + timedelta(seconds=self.lease)
        try:
            with write_transaction(db.session):
                row = db.session.get(WorkerLock, LOCK_NAME)
                if row is None:
                    db.session.add(WorkerLock(name=LOCK_NAME, holder=self.holder, expires_at=until))
                    return True
                if row.holder != self.holder and row.expires_at > now and _alive(row.holder):
                    return False
                row.holder, row.expires_at = self.holder, until
                return True
        except IntegrityError:
            db.session.rollback()
            return False

    def release(self):
        if self.conn is not None:
            self.conn.execute(text("SELECT pg_advisory_unlock_all()"))
            self.conn.commit()
            self.conn.close()
            self.conn = None
        elif db.engine.dialect.name != "postgresql":
            with write_transaction(db.session):
                db.session.execute(update(WorkerLock).where(WorkerLock.name == LOCK_NAME,
                                                            WorkerLock.holder == self.holder)
                                   .values(expires_at=clock.now()))


def _alive(holder: str) -> bool:
    """Whether the holder of a lease still runs (always assumed for another host's)."""
    host, _, pid = holder.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return True
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


CLOSE_EVERY = 24 * 3600  # seconds: the loop runs close-stale-returns once a day


def close_stale_returns(echo) -> None:
    """Close the Authorized return requests nothing came back for in time (as `flask close-stale-returns`)."""
    from .. import mail  # noqa: PLC0415
    kept = workflow.close_stale_returns()
    mail.deliver_all(kept)
    if kept:
        echo(_("Closed %(num)d return requests: item not returned.", num=len(kept)))


def loop(*, pull_every: float = 300, push_every: float = 2, parent: int | None = None, echo=print,
         passes: int | None = None) -> None:
    """Pull every `pull_every` seconds and push within `push_every` seconds of an action, as long as this process
    holds the lock (another loop running: wait). Ends when `parent` (a process id) is gone."""
    lock, last_pull, last_close, told = Lock(), 0.0, None, False
    while passes is None or passes > 0:
        if parent and not _alive(f"{socket.gethostname()}:{parent}"):
            break
        if not lock.acquire():
            if not told:
                echo(_("Another Amazon loop is running; this one waits."))
                told = True
            time.sleep(push_every * 5)
            continue
        if last_close is None or time.monotonic() - last_close >= CLOSE_EVERY:
            last_close = time.monotonic()
            close_stale_returns(echo)
        workflow.finalize_refunds()  # refunds whose window ended: final, and only now for Amazon
        row = connection.current()
        if connection.problem(row) is None:
            from . import push  # noqa: PLC0415
            sp = connection.client(row)
            if time.monotonic() - last_pull >= pull_every:
                last_pull = time.monotonic()
                echo(sync.pull(sp, row).summary())
            done = push.push(sp, row)
            if done.sent or done.refused:
                echo(done.summary())
        db.session.remove()
        if passes is not None:
            passes -= 1
        time.sleep(push_every)
    lock.release()

"""Backup and restore: the whole desk in one portable file, SQLite or PostgreSQL on either side.

The file is gzip-compressed JSON lines. The first line names the format, its version and the schema
revision (Alembic's) it holds, and each table's columns with how their values are written; then each table's
rows in primary-key order; the last line counts them, so a cut-off file is refused. Everything is in it:
users (password hashes), settings, orders, history, labels (their PDFs), returns, refunds, messages, Amazon's
connection with its secrets still encrypted (readable again with the same SECRET_KEY) and its outbox. Only the
passing state is left out: rate-limit counters, the setup code and the worker's lease.

A backup is one read-only transaction, so it is one snapshot while the desk goes on working (PostgreSQL:
REPEATABLE READ; SQLite: one read transaction on the WAL). A restore fills an empty database of either kind: it
builds the schema at the file's revision, inserts every row in one transaction, then upgrades to the newest
schema."""
import base64
import gzip
import json
from datetime import date, datetime, timezone

import flask_migrate
from alembic.script import ScriptDirectory
from flask import current_app
from sqlalchemy import JSON, Boolean, Date, DateTime, Float, Integer, LargeBinary, column, func, inspect, select, \
    table, text

from .extensions import db
from .i18n import _

FORMAT, VERSION = "seller-desk-backup", 1
TRANSIENT = {"rate_limits", "setup_codes", "worker_locks"}
BATCH = 500
TYPES = {"datetime": DateTime, "date": Date, "bytes": LargeBinary, "json": JSON, "bool": Boolean, "int": Integer,
         "float": Float}


class BackupError(Exception):
    """Why a backup or a restore cannot be done; nothing was written."""


def _kind(type_) -> str:
    for kind, cls in TYPES.items():
        if isinstance(type_, cls):
            return kind
    return "text"


def _encode(kind: str, value):
    if value is None or kind in ("json", "bool", "int", "float", "text"):
        return value
    if kind == "bytes":
        return base64.b64encode(value).decode("ascii")
    return value.isoformat()


def _decode(kind: str, value):
    if value is None:
        return None
    if kind == "bytes":
        return base64.b64decode(value)
    if kind == "datetime":
        return datetime.fromisoformat(value)
    if kind == "date":
        return date.fromisoformat(value)
    return value


def _migrations() -> ScriptDirectory:
    return ScriptDirectory.from_config(current_app.extensions["migrate"].migrate.get_config())


def _revision(conn) -> str | None:
    if not inspect(conn).has_table("alembic_version"):
        return None
    return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()


def tables():
    return [t for t in db.metadata.sorted_tables if t.name not in TRANSIENT]


def write(path: str, progress=lambda name, rows: None) -> dict[str, int]:
    """Write the backup of the app's database to `path`; returns the rows written per table."""
    head = _migrations().get_current_head()
    with db.engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            conn = conn.execution_options(isolation_level="REPEATABLE READ", postgresql_readonly=True)
        with conn.begin():
            revision = _revision(conn)
            if revision != head:
                raise BackupError(_("The database is at schema %(found)s, this code at %(head)s: run "
                                    "`flask --app app db upgrade` first.", found=revision, head=head))
            counts = {}
            with gzip.open(path, "wt", encoding="utf-8") as out:
                header = {"format": FORMAT, "version": VERSION, "schema": revision, "database": conn.dialect.name,
                          "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                          "tables": {t.name: [[c.name, _kind(c.type)] for c in t.columns] for t in tables()}}
                out.write(json.dumps(header, ensure_ascii=False) + "\n")
                for t in tables():
                    kinds = [_kind(c.type) for c in t.columns]
                    out.write(json.dumps({"table": t.name}) + "\n")
                    n = 0
                    result = conn.execution_options(yield_per=BATCH).execute(
                        select(*t.columns).order_by(*t.primary_key.columns))
                    for row in result:
                        out.write(json.dumps([_encode(k, v) for k, v in zip(kinds, row)], ensure_ascii=False) + "\n")
                        n += 1
                    counts[t.name] = n
                    progress(t.name, n)
                out.write(json.dumps({"end": counts}) + "\n")
    return counts


def _read(path: str):
    """The header, then (table name, row) pairs; a file that is not a backup, or is cut off, raises BackupError."""
    try:
        with gzip.open(path, "rt", encoding="utf-8") as lines:
            header = json.loads(next(lines))
            if not isinstance(header, dict) or header.get("format") != FORMAT:
                raise BackupError(_("%(path)s is not a Seller Desk backup.", path=path))
            if header.get("version", 0) > VERSION:
                raise BackupError(_("%(path)s is a backup of format %(version)s; this code reads up to %(known)s. "
                                    "Update Seller Desk first.", path=path, version=header["version"],
                                    known=VERSION))
            yield header
            name, counts = None, {}
            for line in lines:
                item = json.loads(line)
                if isinstance(item, list):
                    counts[name] += 1
                    yield name, item
                elif "table" in item:
                    name = item["table"]
                    counts[name] = 0
                elif "end" in item:
                    if item["end"] != counts:
                        raise BackupError(_("%(path)s is damaged: its row counts do not match.", path=path))
                    return
        raise BackupError(_("%(path)s is cut off: it has no end.", path=path))
    except (OSError, EOFError, ValueError, StopIteration, KeyError) as exc:
        raise BackupError(_("%(path)s cannot be read as a backup (%(reason)s).", path=path, reason=exc)) from None


def _rows_in(conn) -> dict[str, int]:
    names = [n for n in inspect(conn).get_table_names() if n != "alembic_version"]
    return {n: conn.execute(select(func.count()).select_from(table(n))).scalar() for n in names}


def restore(path: str, progress=lambda name, rows: None) -> dict[str, int]:
    """Load a backup into the app's database, which must be empty; returns the rows loaded per table."""
    items = _read(path)
    header = next(items)
    scripts = _migrations()
    if scripts.get_revision(header["schema"]) is None:
        raise BackupError(_("The backup's schema %(schema)s is newer than this code. Update Seller Desk first.",
                             schema=header["schema"]))
    with db.engine.connect() as conn:
        filled = {n: c for n, c in _rows_in(conn).items() if c and n not in TRANSIENT}
        current = _revision(conn)
    if filled:
        raise BackupError(_("The database is not empty (%(tables)s). Restore only into a new, empty database.",
                             tables=", ".join(f"{n}: {c}" for n, c in sorted(filled.items()))))
    directory = current_app.extensions["migrate"].directory
    if current != header["schema"]:
        behind = current is None or current in {r.revision for r in scripts.iterate_revisions(header["schema"], "base")}
        (flask_migrate.upgrade if behind else flask_migrate.downgrade)(directory=directory, revision=header["schema"])
    columns = {name: [column(c, TYPES.get(kind, lambda: None)()) for c, kind in cols]
               for name, cols in header["tables"].items()}
    kinds = {name: [kind for _, kind in cols] for name, cols in header["tables"].items()}
    counts: dict[str, int] = {}
    with db.engine.begin() as conn:
        batch, name = [], None

        def flush():
            if batch:
                target = table(name, *columns[name])
                conn.execute(target.insert(), [dict(zip([c.name for c in columns[name]], row)) for row in batch])
                batch.clear()
        for table_name, row in items:
            if table_name != name:
                flush()
                if name:
                    progress(name, counts[name])
                name = table_name
                counts[name] = 0
            batch.append([_decode(k, v) for k, v in zip(kinds[name], row)])
            counts[name] += 1
            if len(batch) >= BATCH:
                flush()
        flush()
        if name:
            progress(name, counts[name])
        if conn.dialect.name == "postgresql":  # the next id after the restored ones
            for name, cols in header["tables"].items():
                if cols and cols[0] == ["id", "int"]:
                    conn.execute(text(f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), "
                                      f"COALESCE(MAX(id), 1), MAX(id) IS NOT NULL) FROM {name}"))
    if header["schema"] != scripts.get_current_head():
        flask_migrate.upgrade(directory=directory)
    return counts

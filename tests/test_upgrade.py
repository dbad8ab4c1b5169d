"""Upgrades keep everything: a database at the first migration, filled with rows of every table and every kind of
value, upgraded to the newest schema (SQLite, or PostgreSQL with TEST_DATABASE_URL), still holds every value."""
import os
import re
import subprocess
import sys
import warnings
from datetime import date, datetime

from alembic.script import ScriptDirectory
from sqlalchemy import JSON, Boolean, Date, DateTime, Float, Integer, LargeBinary, MetaData, String, create_engine, \
    exc, inspect, select

from seller.config import normalize_database_url

from conftest import PG, ROOT, fresh_pg_database

FIRST = ScriptDirectory(str(ROOT / "seller" / "migrations")).get_base()


def upgrade(url, revision="head"):
    env = dict(os.environ, DATABASE_URL=url, SECRET_KEY="x")
    subprocess.run([sys.executable, "-m", "flask", "--app", "app", "db", "upgrade", revision], cwd=ROOT, env=env,
                   check=True, capture_output=True)


def reflect(engine) -> MetaData:
    metadata = MetaData()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", exc.SAWarning)  # indexes SQLAlchemy only describes (expressions, GIN)
        metadata.reflect(engine)
    metadata.remove(metadata.tables["alembic_version"])
    return metadata


def value(table, col, n, allowed):
    """Row n's value for a column: something of its type that its table's CHECK constraints allow."""
    type_ = col.type
    if col.primary_key or col.foreign_keys:
        return n
    if col.name in allowed:
        choices = allowed[col.name]
        return choices[n % len(choices)]
    if isinstance(type_, Boolean):
        return n % 2 == 1
    if isinstance(type_, Integer):
        return 7 * n
    if isinstance(type_, Float):
        return n + 0.25
    if isinstance(type_, DateTime):
        return datetime(2025, 3, n, 4, 5, 6, 789000)
    if isinstance(type_, Date):
        return date(2025, 3, n)
    if isinstance(type_, JSON):
        return {"n": n, "text": "磁力片 Zoë", "nested": {"list": [1, 2.5, None, True]}}
    if isinstance(type_, LargeBinary):
        return bytes(range(256)) * n
    if isinstance(type_, String) and type_.length:
        return f"{n}{col.name} Zoë 磁力片"[:type_.length]
    return f"{table.name}.{col.name} {n}\nline two — 磁力片 O'Brien"


def test_upgrading_from_the_first_migration_keeps_every_value(tmp_path):
    url = fresh_pg_database("upgrade") if PG else f"sqlite:///{tmp_path / 'old.db'}"
    upgrade(url, FIRST)
    engine = create_engine(normalize_database_url(url))
    old = reflect(engine)
    assert len(old.tables) >= 13
    with engine.begin() as conn:
        checks = inspect(conn)
        for table in old.sorted_tables:
            allowed = {}
            for check in checks.get_check_constraints(table.name):
                sql = check["sqltext"]  # SQLite: status IN ('a', 'b'); PostgreSQL: (status)::text = ANY (ARRAY[...])
                if " IN (" in sql or "= ANY" in sql:
                    allowed[re.search(r"\w+", sql).group(0)] = re.findall(r"'([^']*)'", sql)
            conn.execute(table.insert(), [{c.name: value(table, c, n, allowed) for c in table.columns}
                                          for n in (1, 2)])
    def rows(metadata, tables):
        with engine.connect() as conn:
            return {t.name: [dict(r._mapping) for r in conn.execute(
                select(*[metadata.tables[t.name].c[c.name] for c in t.columns]).order_by(
                    *[metadata.tables[t.name].c[c.name] for c in t.primary_key.columns]))] for t in tables}
    before = rows(old, old.sorted_tables)
    assert all(len(r) == 2 for r in before.values())
    engine.dispose()

    upgrade(url)
    engine = create_engine(normalize_database_url(url))
    new = reflect(engine)
    after = rows(new, old.sorted_tables)
    engine.dispose()
    for name in before:
        assert after[name] == before[name], name
    assert set(old.tables) <= set(new.tables)

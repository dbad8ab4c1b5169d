"""Operations: configuration, health, migrations, the command line, and failure answers."""
import importlib
import os
import subprocess
import sys

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, func, select, text

from seller import clock, config
from seller.extensions import db
from seller.models import Order, OrderEvent, Refund, ReturnRequest, Settings, User, only_this_database
from seller.workflow import save_settings

seller_db = importlib.import_module("seller.db")  # the module (the package's `db` is the SQLAlchemy object)

from conftest import PG, ROOT, add_user, fresh_pg_database, sign_in


@pytest.mark.parametrize("given, expected", [
    ("postgres://u:p@host:5432/db", "postgresql+psycopg://u:p@host:5432/db"),
    ("postgresql://u@host/db", "postgresql+psycopg://u@host/db"),
    ("sqlite:////tmp/x.db", "sqlite:////tmp/x.db")])
def test_database_url_as_heroku_writes_it(given, expected):
    assert config.normalize_database_url(given) == expected


def test_default_database_is_a_file_in_the_instance_folder(monkeypatch, tmp_path):
    monkeypatch.delenv("DATABASE_URL", raising=False)
    assert config.database_url(str(tmp_path)) == f"sqlite:///{tmp_path}/seller.db"


def test_secret_key_is_made_once_on_a_single_host(monkeypatch, tmp_path):
    monkeypatch.delenv("SECRET_KEY", raising=False)
    monkeypatch.delenv("DYNO", raising=False)
    monkeypatch.delenv("SELLER_ENV", raising=False)
    first = config.secret_key(str(tmp_path))
    assert len(first) == 64 and config.secret_key(str(tmp_path)) == first
    assert oct((tmp_path / "secret_key").stat().st_mode)[-3:] == "600"


def test_production_refuses_to_start_without_secret_key(monkeypatch, tmp_path):
    monkeypatch.delenv("SECRET_KEY", raising=False)
    monkeypatch.setenv("DYNO", "web.1")
    with pytest.raises(RuntimeError, match="SECRET_KEY"):
        config.secret_key(str(tmp_path))


def test_healthz(client):
    response = client.get("/healthz")
    assert response.status_code == 200 and response.json == {"status": "ok"}


DEAD_DB = {"SQLALCHEMY_DATABASE_URI": "postgresql+psycopg://postgres@127.0.0.1:9/none",
           "SQLALCHEMY_ENGINE_OPTIONS": {"connect_args": {"connect_timeout": 1}}}


def test_healthz_without_database(app_with):
    assert app_with(**DEAD_DB).test_client().get("/healthz").status_code == 503


def test_pages_answer_503_when_the_database_is_gone(app_with):
    client = app_with(**DEAD_DB).test_client()
    with client.session_transaction() as session:
        session["_user_id"] = "1:1"
    response = client.get("/orders")
    assert response.status_code == 503 and b"try again" in response.data
    htmx = client.get("/orders", headers={"HX-Request": "true"})
    assert htmx.status_code == 503 and htmx.headers["HX-Retarget"] == "#flash"


def test_a_held_lock_answers_503_not_500(app_with, monkeypatch, db_url):
    """A writer that cannot get the lock in time gets 'try again' (SQLite busy_timeout, PostgreSQL
    lock_timeout), and nothing changes."""
    if PG:
        app = app_with(SQLALCHEMY_ENGINE_OPTIONS=config.engine_options(PG, lock_timeout_ms=200))
    else:
        monkeypatch.setattr(seller_db, "BUSY_TIMEOUT_MS", 200)
        app = app_with()
    with app.app_context():
        owner = add_user("owner@example.com", "owner")
        save_settings(store_name="My Store")
        holder = create_engine(PG or db_url).connect()
        holder.exec_driver_sql("UPDATE settings SET store_name = 'Held' WHERE id = 1")  # holds the lock
        try:
            response = sign_in(app.test_client(), owner).post("/settings", data={
                "store_name": "Changed", "timezone": "UTC", "handling_hours": "48", "return_concession_factor": "2",
                "return_concession_extra": "10", "other_concession_percent": "100", "slip_size": "letter",
                "ship_from_country": "US"})
        finally:
            holder.rollback()
            holder.close()
            holder.engine.dispose()
        assert response.status_code == 503 and b"The database is busy" in response.data
        db.session.rollback()
        assert Settings.current().store_name == "My Store"


def test_oversized_request_is_refused(client, app):
    response = client.post("/login", data=b"x" * (app.config["MAX_CONTENT_LENGTH"] + 1),
                                 content_type="application/octet-stream")
    assert response.status_code == 413


def test_migrations_build_the_schema_the_models_describe(tmp_path):
    """`flask db upgrade` on an empty database gives exactly the models' tables, constraints and indexes."""
    url = fresh_pg_database("migrations") if PG else f"sqlite:///{tmp_path / 'migrated.db'}"
    env = dict(os.environ, DATABASE_URL=url, SECRET_KEY="x")
    subprocess.run([sys.executable, "-m", "flask", "--app", "app", "db", "upgrade"], cwd=ROOT, env=env, check=True,
                   capture_output=True)
    engine = create_engine(config.normalize_database_url(url))
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"include_object": only_this_database(conn.dialect.name)})
        diff = compare_metadata(context, db.metadata)
        checks = conn.execute(text(
            "SELECT count(*) FROM pg_constraint WHERE contype = 'c' AND conname LIKE 'ck_%'" if PG else
            "SELECT count(*) FROM sqlite_master WHERE sql LIKE '%CHECK%refunded_cents%'")).scalar()
    engine.dispose()
    assert diff == []
    assert checks >= 1


def test_cli_create_user_and_seed_demo(app):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["create-user", "boss@example.com", "--role", "owner", "--password", "short"])
    assert result.exit_code == 1 and "at least 10 characters" in result.output
    result = runner.invoke(args=["create-user", "Boss@example.com", "--role", "owner"],
                           input="long enough pass\nlong enough pass\n")
    assert result.exit_code == 0 and "Created owner boss@example.com." in result.output
    result = runner.invoke(args=["seed-demo", "--orders", "60"])
    assert result.exit_code == 0, result.output
    assert "Email: owner@example.com  Password: " in result.output
    assert "Email: staff@example.com  Password: " in result.output
    statuses = dict(db.session.execute(select(Order.status, func.count()).group_by(Order.status)).all())
    assert set(statuses) == {"Pending", "Unshipped", "Shipped", "Canceled"}, statuses
    returns = set(db.session.scalars(select(ReturnRequest.status)).all())
    assert {"Pending Authorization", "Authorized", "Closed"} <= returns, returns
    assert db.session.scalar(select(func.count()).select_from(Refund)) > 0
    now = clock.now()  # nothing in the demo happens in the future
    for column in (ReturnRequest.created_at, ReturnRequest.authorized_at, Refund.created_at, OrderEvent.at):
        assert (db.session.scalar(select(func.max(column))) or now) <= now, column
    again = runner.invoke(args=["seed-demo"])
    assert again.exit_code == 1 and "only fills an empty one" in again.output
    assert db.session.scalar(select(func.count()).select_from(User)) == 3


def test_security_headers_and_vary(owner_client):
    response = owner_client.get("/orders")
    assert "HX-Request" in response.headers["Vary"]
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Cache-Control"] == "no-store"


def test_htmx_is_served_locally_and_pinned(client):
    page = client.get("/login").get_data(as_text=True)
    assert '/static/vendor/htmx-2.0.11.min.js' in page and "unpkg" not in page and "cdn" not in page
    js = client.get("/static/vendor/htmx-2.0.11.min.js")
    assert js.status_code == 200 and b'version:"2.0.11"' in js.data.replace(b" ", b"")
    js.close()

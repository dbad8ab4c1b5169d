"""Backup and restore (contract §15): one portable file of the whole desk; SQLite -> PostgreSQL -> SQLite gives
the same rows in every table; a restore refuses a database that is not empty and a damaged file; a backup of a
desk in use is one snapshot."""
import gzip
import json
import os
import subprocess
import sys
import threading
import time

from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, select, text

from seller import backup, clock, workflow
from seller.amazon.secrets import seal
from seller.config import normalize_database_url
from seller.demo import seed
from seller.extensions import db
from seller.models import AmazonConnection, AmazonMessage, Label, Message, Order

from conftest import PG, ROOT, fresh_pg_database, item_fields, make_app, order_fields

SECRET = "backup-test-key"
HEAD = ScriptDirectory(str(ROOT / "seller" / "migrations")).get_current_head()


def flask(url, *args):
    """The real command line, in a process of its own."""
    env = dict(os.environ, DATABASE_URL=url, SECRET_KEY=SECRET)
    result = subprocess.run([sys.executable, "-m", "flask", "--app", "app", *args], cwd=ROOT, env=env,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    return result


def desk(url):
    """An app on `url` whose schema is the newest (the models' tables, stamped with the head revision: the same
    schema as `db upgrade`, test_ops checks); yields it inside its app context."""
    app = make_app(normalize_database_url(url), SECRET_KEY=SECRET)
    with app.app_context():
        db.create_all()
        with db.engine.begin() as conn:
            conn.execute(text("CREATE TABLE IF NOT EXISTS alembic_version (version_num VARCHAR(32) PRIMARY KEY)"))
            conn.execute(text("DELETE FROM alembic_version"))
            conn.execute(text("INSERT INTO alembic_version VALUES (:v)"), {"v": HEAD})
    return app


def fill(app):
    """Data of every kind: demo orders (every status, returns, refunds, messages), a bought label with its PDF,
    an Amazon connection with sealed secrets and an outbox message, text in any script."""
    with app.app_context():
        seed(40)
        unshipped = db.session.scalar(select(Order).where(Order.status == "Unshipped").limit(1))
        workflow.cancel_order(unshipped, None, workflow.CANCEL_REASONS[0], "Backup test")
        order = db.session.scalar(select(Order).where(Order.status == "Shipped").limit(1))
        db.session.add(Label(order_id=order.id, shipment_id=order.shipment.id, idempotency_key="k" * 32,
                             provider="demo", carrier="USPS", service="Ground Advantage", cost_cents=485,
                             tracking_id="9400100000000000000000", pdf=bytes(range(256)) * 40))
        db.session.add(AmazonConnection(id=1, seller_id="A1SELLER", client_id="amzn1.app", saved_at=clock.now(),
                                        client_secret_sealed=seal("client secret"),
                                        refresh_token_sealed=seal("Atzr|refresh")))
        db.session.add(AmazonMessage(order_id=order.id, kind="confirm_shipment", key=f"shipment:{order.id}",
                                     payload={"packages": [{"carrier": "USPS", "items": [1, 2]}], "note": "磁力片 Zoë"}))
        db.session.add(Message(order_id=order.id, subject="Ваш заказ — 您的订单", body="Line 1\nLine 2 \u2603"))
        db.session.commit()
        db.session.remove()


def everything(url) -> dict[str, list[tuple]]:
    """Every row of every table (read with the models' column types), in primary-key order."""
    engine = create_engine(normalize_database_url(url))
    with engine.connect() as conn:
        rows = {t.name: [tuple(r) for r in conn.execute(select(*t.columns).order_by(*t.primary_key.columns))]
                for t in db.metadata.sorted_tables}
    engine.dispose()
    return rows


def close(app):
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def test_round_trip_gives_the_same_rows_in_every_table(tmp_path):
    """SQLite -> PostgreSQL -> SQLite (SQLite -> SQLite -> SQLite without TEST_DATABASE_URL). The first leg is the
    command line into a database with no tables at all (the restore builds the schema)."""
    source, final = f"sqlite:///{tmp_path / 'source.db'}", f"sqlite:///{tmp_path / 'final.db'}"
    middle = fresh_pg_database("restore") if PG else f"sqlite:///{tmp_path / 'middle.db'}"
    fill(source_app := desk(source))
    close(source_app)
    assert "Wrote" in flask(source, "backup", str(tmp_path / "one.backup")).stdout
    restored = flask(middle, "restore", str(tmp_path / "one.backup"))
    assert "Restored" in restored.stdout and "orders: 40" in restored.stderr
    middle_app, final_app = make_app(normalize_database_url(middle), SECRET_KEY=SECRET), desk(final)
    with middle_app.app_context():
        backup.write(str(tmp_path / "two.backup"))
    with final_app.app_context():
        backup.restore(str(tmp_path / "two.backup"))
    close(final_app)
    first, between, last = everything(source), everything(middle), everything(final)
    for name in ("orders", "users", "settings", "labels", "order_events", "refunds", "amazon_connection",
                 "amazon_outbox", "messages", "return_requests", "cancellations"):
        assert first[name], name
    assert first == between == last
    # The restored desk goes on: new rows get new ids (PostgreSQL's sequences moved past the restored ones).
    with middle_app.app_context():
        order = workflow.new_order(order_fields(), [item_fields()])
        db.session.commit()
        assert order.id == 41
        assert db.session.get(AmazonConnection, 1).client_secret_sealed.startswith("gAAAA")  # still encrypted
    close(middle_app)


def test_the_file_names_its_format_and_schema(tmp_path):
    app = desk(f"sqlite:///{tmp_path / 'empty.db'}")
    with app.app_context():
        result = app.test_cli_runner().invoke(args=["backup", str(tmp_path / "empty.backup")])
    assert result.exit_code == 0 and "Wrote" in result.output
    with gzip.open(tmp_path / "empty.backup", "rt") as f:
        header = json.loads(f.readline())
    assert header["format"] == "seller-desk-backup" and header["version"] == 1 and header["schema"] == HEAD
    assert "rate_limits" not in header["tables"] and ["pdf", "bytes"] in header["tables"]["labels"]
    close(app)


def test_restore_refuses_a_database_that_is_not_empty(tmp_path):
    url = f"sqlite:///{tmp_path / 'source.db'}"
    fill(app := desk(url))
    runner = app.test_cli_runner()
    with app.app_context():
        assert runner.invoke(args=["backup", str(tmp_path / "one.backup")]).exit_code == 0
    before = everything(url)
    with app.app_context():
        refused = runner.invoke(args=["restore", str(tmp_path / "one.backup")])
    assert refused.exit_code == 1 and "The database is not empty (" in refused.output
    assert everything(url) == before
    close(app)


def test_restore_refuses_a_damaged_file_and_loads_nothing(tmp_path):
    fill(source := desk(f"sqlite:///{tmp_path / 'source.db'}"))
    with source.app_context():
        backup.write(str(tmp_path / "one.backup"))
    close(source)
    with gzip.open(tmp_path / "one.backup", "rt") as f:
        lines = f.readlines()
    with gzip.open(tmp_path / "cut.backup", "wt") as f:
        f.writelines(lines[:-1])
    (tmp_path / "other.backup").write_text("hello")
    target = desk(url := f"sqlite:///{tmp_path / 'target.db'}")
    runner = target.test_cli_runner()
    context = target.app_context()
    context.push()
    refused = runner.invoke(args=["restore", str(tmp_path / "cut.backup")])
    assert refused.exit_code == 1 and "cut off" in refused.output
    assert not any(everything(url).values())
    assert "cannot be read as a backup" in runner.invoke(args=["restore", str(tmp_path / "other.backup")]).output
    assert runner.invoke(args=["restore", str(tmp_path / "one.backup")]).exit_code == 0
    db.session.remove()
    db.engine.dispose()
    context.pop()


def test_a_backup_is_one_snapshot_while_writes_go_on(tmp_path, monkeypatch):
    """Orders (each with two items, then a shipment) are written while the backup runs, slowed between tables:
    the file has each order with exactly its items, and a shipment exactly for the Shipped ones."""
    app = desk(fresh_pg_database("snapshot") if PG else f"sqlite:///{tmp_path / 'live.db'}")
    stop, written = threading.Event(), []

    def writer():
        with app.app_context():
            while not stop.is_set():
                order = workflow.new_order(order_fields(), [item_fields(sku="A"), item_fields(sku="B")])
                db.session.commit()
                workflow.confirm_shipment(order, None, workflow.ShipmentInput(
                    carrier="UPS", tracking_id="1Z999AA10123456784", ship_date=clock.local_today(
                        workflow.store_tz()), shipping_service="Ground"))
                written.append(order.id)
            db.session.remove()

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        while len(written) < 3:
            time.sleep(0.05)
        monkeypatch.setattr(backup, "BATCH", 1)
        at_start = len(written)
        with app.app_context():
            backup.write(str(tmp_path / "live.backup"), lambda name, rows: time.sleep(0.15))
        during = len(written) - at_start
    finally:
        stop.set()
        thread.join(60)
    close(app)
    assert during >= 2, "the writer should have gone on during the backup"
    rows = {}
    for name, row in list(backup._read(str(tmp_path / "live.backup")))[1:]:
        rows.setdefault(name, []).append(row)
    orders = {r[0]: r[2] for r in rows["orders"]}
    assert len(orders) >= 3
    assert sorted(r[1] for r in rows["order_items"]) == sorted(list(orders) * 2)
    assert sorted(r[1] for r in rows["shipments"]) == sorted(o for o, status in orders.items() if status == "Shipped")

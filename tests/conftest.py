"""Fixtures around the app factory.

The suite runs on SQLite (a WAL file per test) by default, and on PostgreSQL when `TEST_DATABASE_URL`
is set (tables emptied between tests). Browser tests drive Debian's Chromium; with
`SELLER_REQUIRE_BROWSER=1` (as in CI) a missing browser fails the run instead of skipping.
"""
import contextvars
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from datetime import timedelta
from pathlib import Path

import jinja2
import pytest
from flask import has_app_context
from flask.testing import FlaskClient
from sqlalchemy import text
from werkzeug.security import generate_password_hash

from seller import create_app, workflow
from seller.config import normalize_database_url
from seller.extensions import db as _db
from seller.models import User
from seller import clock

ROOT = Path(__file__).resolve().parent.parent
PG_URL = os.environ.get("TEST_DATABASE_URL", "")
PG = normalize_database_url(PG_URL) if PG_URL else ""
PASSWORD = "correct horse battery"
CHEAP_HASH = generate_password_hash(PASSWORD, method="scrypt:1024:8:1")  # fast in tests; real ones are 2**17


def pytest_report_header(config):
    return f"database: {'PostgreSQL ' + PG_URL if PG_URL else 'SQLite (file per test)'}"


@pytest.fixture
def db_url(tmp_path):
    return PG or f"sqlite:///{tmp_path / 'test.db'}"


class IsolatedClient(FlaskClient):
    """Each request runs in contexts of its own, as in production (its own `g`, session and user); the test's
    session is rolled back afterwards so that it reads what the request committed."""

    def open(self, *args, **kwargs):
        response = contextvars.Context().run(super().open, *args, **kwargs)
        if has_app_context():
            _db.session.rollback()
        return response


def make_app(db_url, **config):
    app = create_app({"TESTING": True, "SECRET_KEY": "test", "SQLALCHEMY_DATABASE_URI": db_url,
                      "WTF_CSRF_ENABLED": False, "RATELIMIT_ENABLED": False, **config})
    app.jinja_env.undefined = jinja2.StrictUndefined
    app.test_client_class = IsolatedClient
    return app


def reset_schema(app):
    with app.app_context():
        if _db.engine.dialect.name == "postgresql":
            _db.create_all()
            names = ", ".join(t.name for t in _db.metadata.sorted_tables)
            with _db.engine.begin() as conn:
                conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        else:
            _db.create_all()


@pytest.fixture
def app(db_url):
    app = make_app(db_url)
    reset_schema(app)
    with app.app_context():
        yield app
        _db.session.remove()
    with app.app_context():
        _db.engine.dispose()


@pytest.fixture
def app_with(db_url):
    """Another app on the test database with other settings, schema ready, its connections closed after."""
    made = []

    def build(**config):
        other = make_app(config.pop("db_url", db_url), **config)
        made.append(other)
        if "SQLALCHEMY_DATABASE_URI" not in config:
            reset_schema(other)
        return other
    yield build
    for other in made:
        with other.app_context():
            _db.session.remove()
            _db.engine.dispose()


@pytest.fixture
def frozen_now(monkeypatch):
    """`frozen_now(moment)` sets the app's "now" (`clock.now`, naive UTC) to `moment` for the rest of the test."""
    def freeze(moment):
        monkeypatch.setattr(clock, "now", lambda: moment)
    return freeze


@pytest.fixture
def client(app):
    return app.test_client()


def add_user(email, role):
    user = User(email=email, role=role, password_hash=CHEAP_HASH)
    _db.session.add(user)
    _db.session.commit()
    return user


@pytest.fixture
def owner(app):
    return add_user("owner@example.com", "owner")


@pytest.fixture
def staff(app):
    return add_user("staff@example.com", "staff")


def sign_in(client, user):
    with client.session_transaction() as sess:
        sess["_user_id"] = user.get_id()
        sess["_fresh"] = True
    return client


@pytest.fixture
def owner_client(app, owner):
    return sign_in(app.test_client(), owner)


@pytest.fixture
def staff_client(app, staff):
    return sign_in(app.test_client(), staff)


_counter = iter(range(1, 10**9))


def order_fields(**overrides):
    n = next(_counter)
    purchased = overrides.pop("purchased_at", clock.now() - timedelta(hours=3))
    fields = {"order_id": f"111-{n:07d}-{n * 7 % 10**7:07d}", "purchased_at": purchased,
              "paid_at": purchased + timedelta(minutes=2), "buyer_email": f"buyer{n}@marketplace.amazon.com",
              "buyer_name": f"Buyer {n}", "recipient_name": f"Recipient {n}", "ship_address_1": f"{n} Main St",
              "ship_city": "Seattle", "ship_state": "WA", "ship_postal_code": "98101", "ship_country": "US",
              "ship_service_level": "Standard"}
    fields.update(overrides)
    return fields


def item_fields(sku="SKU-1", price=2000, tax=165, shipping=499, shipping_tax=41, quantity=1, **overrides):
    n = next(_counter)
    return {"order_item_id": f"{n:014d}", "sku": sku, "product_name": f"Product {sku}", "quantity": quantity,
            "item_price_cents": price, "item_tax_cents": tax, "shipping_price_cents": shipping,
            "shipping_tax_cents": shipping_tax, **overrides}


def make_order(status="Unshipped", items=None, user=None, **overrides):
    """An order in the given status, brought there through the workflow verbs."""
    if status == "Pending":
        overrides["paid_at"] = None
    order = workflow.new_order(order_fields(**overrides), items or [item_fields()])
    _db.session.commit()
    if status in ("Shipped",):
        workflow.confirm_shipment(order, user, workflow.ShipmentInput(
            carrier="UPS", tracking_id="1Z999AA10123456784", ship_date=clock.local_today(
                workflow.store_tz()), shipping_service="Ground"))
    elif status == "Canceled":
        workflow.cancel_order(order, user, "No inventory")
    _db.session.refresh(order)
    assert order.status == status
    return order


@pytest.fixture
def order_factory(app):
    return make_order


# ---------------------------------------------------------------- a real server and a real browser


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def fresh_pg_database(suffix: str) -> str:
    """An empty PostgreSQL database beside the test one (`<name>_<suffix>`), for a server of its own."""
    from sqlalchemy import create_engine
    from sqlalchemy.engine import make_url
    base = make_url(PG)
    name = f"{base.database}_{suffix}"
    engine = create_engine(base, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return base.set(database=name).render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def live_server(tmp_path_factory):
    """gunicorn with 2 workers on 127.0.0.1, schema migrated by `flask db upgrade` (as the README does)."""
    folder = tmp_path_factory.mktemp("live")
    url = fresh_pg_database("live") if PG else f"sqlite:///{folder / 'live.db'}"
    env = dict(os.environ, DATABASE_URL=url, SECRET_KEY="live-test", LOGIN_RATE_LIMIT="1000 per minute")
    subprocess.run([sys.executable, "-m", "flask", "--app", "app", "db", "upgrade"], cwd=ROOT, env=env, check=True,
                   capture_output=True)
    port = free_port()
    log = open(folder / "server.log", "w")
    proc = subprocess.Popen([sys.executable, "-m", "gunicorn", "-w", "2", "-b", f"127.0.0.1:{port}", "app:app"],
                            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=log)
    base = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            urllib.request.urlopen(base + "/healthz", timeout=1)
            break
        except OSError:
            time.sleep(0.1)
    else:
        proc.kill()
        raise RuntimeError("the live server did not start: " + (folder / "server.log").read_text())
    app = make_app(url)
    yield type("Live", (), {"url": base, "app": app, "db_url": url})
    with app.app_context():
        _db.engine.dispose()  # close its connections now, not when they are garbage-collected
    proc.terminate()
    proc.wait(10)
    log.close()
    with app.app_context():
        _db.engine.dispose()


@pytest.fixture
def live_db(live_server):
    """An app context on the live server's database, for arranging data and checking results. The server lives for
    the whole session, so each test starts from an empty store (accounts kept: each test signs in as its own):
    what earlier tests left (their shipments of today, a saved parcel preset) must not change what a page shows."""
    with live_server.app.app_context():
        with _db.engine.begin() as conn:
            for table in reversed(_db.metadata.sorted_tables):
                if table.name != User.__tablename__:
                    conn.execute(table.delete())
        yield _db
        _db.session.remove()


CHROMIUM = os.environ.get("CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"


@pytest.fixture(scope="session")
def browser_type_launch_args():
    if not os.path.exists(CHROMIUM):
        if os.environ.get("SELLER_REQUIRE_BROWSER") == "1":
            pytest.fail(f"Chromium not found at {CHROMIUM} (SELLER_REQUIRE_BROWSER=1)")
        pytest.skip("Chromium is not installed (apt-get install chromium)")
    return {"executable_path": CHROMIUM, "headless": True,
            "args": ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                     "--disable-sync", "--no-first-run", "--disable-quic"]}


class CspWatch:
    """Collects the Content-Security-Policy violations of every page of a browser context: the browser reports
    them as `securitypolicyviolation` events (turned into console errors here) and as console messages."""
    SCRIPT = ("document.addEventListener('securitypolicyviolation', e => console.error("
              "'CSP violation: ' + e.violatedDirective + ' ' + (e.blockedURI || 'inline') + ' ' + e.sourceFile))")

    def __init__(self, context):
        self.violations = []
        context.add_init_script(self.SCRIPT)
        context.on("console", self._console)

    def _console(self, message):
        text = message.text
        if text.startswith("CSP violation") or "Content Security Policy" in text:
            self.violations.append(text)


@pytest.fixture
def context(context):
    """Every browser test's context fails the test on any Content-Security-Policy violation."""
    watch = CspWatch(context)
    yield context
    assert not watch.violations, watch.violations


AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"


def axe_violations(page, impacts=("critical", "serious")) -> list[str]:
    """axe-core's violations of `impacts` on the page as it is now (evaluated through the browser's debugging
    protocol, which the page's CSP does not apply to)."""
    if not AXE.exists():
        if os.environ.get("SELLER_REQUIRE_BROWSER") == "1":
            pytest.fail(f"axe-core not found at {AXE}: run `npm ci`")
        pytest.skip("axe-core is not installed (npm ci)")
    found = page.evaluate(AXE.read_text() + "; axe.run(document, {resultTypes: ['violations']})"
                          ".then(r => r.violations.map(v => [v.impact, v.id, v.nodes.map(n => n.target.join(' '))"
                          ".slice(0, 3).join(' | ')]))")
    return [f"{impact} {rule}: {where}" for impact, rule, where in found if impact in impacts]


@pytest.fixture
def browser_user(live_db):
    """A fresh owner account on the live server (e-mail unique per test); returns (email, password)."""
    email = f"owner{next(_counter)}@example.com"
    add_user(email, "owner")
    return email, PASSWORD


def browser_sign_in(page, base, email, password=PASSWORD):
    page.goto(base + "/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(lambda url: "/login" not in url)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """With SELLER_NO_SKIPS=1 (CI), a skipped test is a failed one: nothing may quietly not run."""
    outcome = yield
    report = outcome.get_result()
    if report.skipped and os.environ.get("SELLER_NO_SKIPS") == "1":
        report.outcome = "failed"
        report.longrepr = f"skipped, but SELLER_NO_SKIPS=1: {report.longrepr}"

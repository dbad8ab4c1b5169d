"""Demo mode (SELLER_DEMO=1, contract §15): seeded on first start, a Demo banner and the sign-ins on /login, no
e-mail, no real EasyPost, `reset-demo` starts it over; and app.json checked against Heroku's app.json schema."""
import json
import re
import shlex

import flask_migrate
import jsonschema
import pytest
from sqlalchemy import func, select

from seller import mail
from seller.demo import DEMO_ACCOUNTS, DEMO_ORDERS
from seller.extensions import db
from seller.models import Order, User
from seller.shipping import providers
from seller.models import Settings

from conftest import ROOT


@pytest.fixture
def demo(app_with, monkeypatch):
    """A demo desk with mail and EasyPost configured (demo mode must ignore both); `release` runs on the test
    schema as it is (the migrations themselves are run for real by the live server and test_firstrun)."""
    monkeypatch.setattr(flask_migrate, "upgrade", lambda **_: None)
    app = app_with(SELLER_DEMO=True, SMTP_HOST="127.0.0.1", EASYPOST_API_KEY="EZAK-real-key")
    with app.app_context():
        yield app


def count(model):
    return db.session.scalar(select(func.count()).select_from(model))


def test_first_start_seeds_and_login_shows_the_demo(demo):
    runner = demo.test_cli_runner()
    first = runner.invoke(args=["release"])
    assert first.exit_code == 0 and "filled with demo data" in first.output, first.output
    assert count(Order) == DEMO_ORDERS and count(User) == 2
    again = runner.invoke(args=["release"])  # a second start keeps what is there
    assert again.exit_code == 0 and "filled" not in again.output and count(Order) == DEMO_ORDERS
    client = demo.test_client()
    page = client.get("/login").get_data(as_text=True)
    assert 'class="demo-banner"' in page and "<strong>Demo</strong>" in page
    for email, password in DEMO_ACCOUNTS.values():
        assert f"<code>{email}</code>" in page and f"<code>{password}</code>" in page
    assert "Create the owner account" not in page
    email, password = DEMO_ACCOUNTS["staff"]
    assert client.post("/login", data={"email": email, "password": password}).status_code == 303
    orders = client.get("/orders").get_data(as_text=True)
    assert "<strong>Demo</strong>" in orders and "staff@example.com" in orders


def test_demo_sends_no_email_and_buys_no_real_postage(demo):
    assert not mail.configured()
    assert isinstance(providers.active(Settings.current()), providers.DemoProvider)


def test_demo_passwords_stay_as_published(demo):
    demo.test_cli_runner().invoke(args=["release"])
    client = demo.test_client()
    email, password = DEMO_ACCOUNTS["owner"]
    client.post("/login", data={"email": email, "password": password})
    answer = client.post("/account/password", data={"current": password, "new": "another password",
                                                    "confirm": "another password"})
    assert answer.status_code == 422 and "passwords stay as shown" in answer.get_data(as_text=True)
    assert demo.test_client().post("/login", data={"email": email, "password": password}).status_code == 303


def test_reset_demo_starts_over(demo, app_with):
    runner = demo.test_cli_runner()
    runner.invoke(args=["release"])
    db.session.execute(Order.__table__.delete().where(Order.status == "Pending"))
    db.session.add(User(email="visitor@example.com", role="staff", password_hash="x"))
    db.session.commit()
    result = runner.invoke(args=["reset-demo"])
    assert result.exit_code == 0, result.output
    assert count(Order) == DEMO_ORDERS and count(User) == 2
    assert set(db.session.scalars(select(Order.status))) == {"Pending", "Unshipped", "Shipped", "Canceled"}


def test_reset_demo_refuses_a_real_desk(app):
    result = app.test_cli_runner().invoke(args=["reset-demo"])
    assert result.exit_code == 1 and "only runs on a demo desk" in result.output


# ---------------------------------------------------------------- app.json (Heroku's one-click deploy)

SCHEMA = ROOT / "tests" / "fixtures" / "heroku-app-json.schema.json"


def procfile() -> dict[str, str]:
    lines = (ROOT / "Procfile").read_text().splitlines()
    return dict(line.split(": ", 1) for line in lines if line.strip())


def test_app_json_validates_against_herokus_schema():
    manifest = json.loads((ROOT / "app.json").read_text())
    jsonschema.Draft7Validator(json.loads(SCHEMA.read_text()),
                               format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER).validate(manifest)
    plans = [addon["plan"] if isinstance(addon, dict) else addon for addon in manifest["addons"]]
    assert any(plan.startswith("heroku-postgresql") for plan in plans)
    assert manifest["env"]["SECRET_KEY"]["generator"] == "secret"
    processes = procfile()
    assert set(manifest["formation"]) <= set(processes) and {"web", "worker"} <= set(manifest["formation"])
    assert processes["release"] == "flask --app app release"


def test_procfile_commands_exist(app):
    """Each Procfile `flask` line names a command the app has (a typo would crash the dyno at start)."""
    runner = app.test_cli_runner()
    for command in procfile().values():
        words = shlex.split(command)
        if words[0] == "flask":
            assert runner.invoke(args=[*words[3:], "--help"]).exit_code == 0, command

"""First run (contract §15): Create the owner account with the setup code `serve` prints, once; wrong codes
rate-limited; demo data instead. Sign-in limits count across workers (database, or Redis)."""
import os
import re
import subprocess
import sys
import uuid

import pytest
from sqlalchemy import func, select

from seller import setup
from seller.extensions import db
from seller.models import Order, SetupCode, User

from conftest import PG, ROOT, add_user, fresh_pg_database, free_port

HX = {"HX-Request": "true"}


def form(code, email="boss@example.com", password="a long password", button="create"):
    return {"setup_code": code, "email": email, "password": password, button: "x"}


def test_empty_desk_shows_create_the_owner_account(client):
    page = client.get("/")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "Create the owner account" in html
    for label in ("Setup code", "Email", "Password"):
        assert f">{label}</label>" in html
    assert 'value="Create account"' in html and 'value="Fill with demo data"' in html
    login = client.get("/login").get_data(as_text=True)
    assert "Nobody can sign in yet." in login and 'href="/"' in login


def test_the_code_creates_the_owner_once_and_signs_in(client, app):
    code = setup.new_code()
    assert re.fullmatch(r"[A-Z2-9]{4}-[A-Z2-9]{4}-[A-Z2-9]{4}", code)
    wrong = client.post("/", data=form("AAAA-BBBB-CCCC"))
    assert wrong.status_code == 422 and "That is not the setup code." in wrong.get_data(as_text=True)
    short = client.post("/", data=form(code, password="short"))
    assert short.status_code == 422 and "at least 10 characters" in short.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(User)) == 0
    done = client.post("/", data=form(code.lower().replace("-", " "), email="Boss@Example.com"))
    assert done.status_code == 303 and done.headers["Location"].endswith("/orders")
    orders = client.get("/orders")
    assert orders.status_code == 200 and "boss@example.com" in orders.get_data(as_text=True)
    assert db.session.scalar(select(User.role)) == "owner" and db.session.scalar(select(SetupCode)) is None
    # Spent: the page is gone for everyone else, and the same code creates nothing.
    stranger = app.test_client()
    assert stranger.get("/").headers["Location"].startswith("/login")
    again = stranger.post("/", data=form(code, email="thief@example.com"))
    assert again.status_code == 302 and db.session.scalar(select(func.count()).select_from(User)) == 1
    assert "Nobody can sign in yet." not in stranger.get("/login").get_data(as_text=True)


def test_the_code_expires_when_an_owner_exists(client):
    code = setup.new_code()
    add_user("made-on-the-command-line@example.com", "owner")
    assert client.post("/", data=form(code)).status_code == 302
    assert db.session.scalar(select(func.count()).select_from(User)) == 1
    with pytest.raises(setup.SetupError, match="already has an owner"):
        setup.claim(code, "late@example.com", "a long password")


def test_a_new_code_replaces_the_old_one(client):
    old = setup.new_code()
    new = setup.new_code()
    assert client.post("/", data=form(old)).status_code == 422
    assert client.post("/", data=form(new)).status_code == 303


def test_fill_with_demo_data(client):
    code = setup.new_code()
    done = client.post("/", data={"setup_code": code, "demo": "x"})
    assert done.status_code == 303
    page = client.get("/orders").get_data(as_text=True)
    assert "Demo data is in. Demo sign-ins: owner owner@example.com / " in page
    assert db.session.scalar(select(func.count()).select_from(Order)) == 120
    assert client.post("/", data={"setup_code": code, "demo": "x"}).status_code == 302


def test_wrong_codes_are_rate_limited(app_with):
    app = app_with(RATELIMIT_ENABLED=True, SETUP_RATE_LIMIT="3 per hour")
    with app.app_context():
        code = setup.new_code()
        client = app.test_client()
        codes = [client.post("/", data=form("WRONG-CODE-0000")).status_code for _ in range(4)]
        assert codes == [422, 422, 422, 429]
        assert client.post("/", data=form(code)).status_code == 429  # even the right one, until the hour is over
        assert client.get("/").status_code == 200


@pytest.mark.parametrize("storage", ["database", "redis"])
def test_sign_in_limits_count_across_workers(app_with, storage):
    """Two workers (two apps on one database): attempts at one count at the other."""
    extra = {"RATELIMIT_ENABLED": True, "LOGIN_RATE_LIMIT": "4 per minute",
             "RATELIMIT_KEY_PREFIX": f"test-{uuid.uuid4().hex}"}
    if storage == "redis":
        extra["RATELIMIT_STORAGE_URI"] = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
    first = app_with(**extra)
    second = app_with(db_url=first.config["SQLALCHEMY_DATABASE_URI"], **extra)
    attempt = {"email": "x@example.com", "password": "guess"}
    with first.app_context():
        assert [first.test_client().post("/login", data=attempt).status_code for _ in range(2)] == [422, 422]
    with second.app_context():
        assert [second.test_client().post("/login", data=attempt).status_code for _ in range(3)] == [422, 422, 429]
    with first.app_context():
        assert first.test_client().post("/login", data=attempt).status_code == 429


def test_storage_follows_the_environment():
    from seller.ratelimit import storage_uri
    assert storage_uri({}) == "seller-db://"
    assert storage_uri({"REDIS_URL": "redis://h:6379"}) == "redis://h:6379"
    assert storage_uri({"REDIS_URL": "redis://h:6379", "RATELIMIT_STORAGE_URI": "memory://"}) == "memory://"


def test_cli_setup_code_and_release(app):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["setup-code"])
    assert result.exit_code == 0 and re.search(r"Setup code: [A-Z2-9-]{14}", result.output)
    add_user("owner@example.com", "owner")
    refused = runner.invoke(args=["setup-code"])
    assert refused.exit_code == 1 and "already has an owner" in refused.output


def serve(tmp_path, port):
    """`flask --app app serve` as the README runs it, on a fresh database; returns the process and what it said."""
    url = fresh_pg_database("firstrun") if PG else f"sqlite:///{tmp_path / 'first.db'}"
    env = dict(os.environ, DATABASE_URL=url, SECRET_KEY="first-run-test")
    proc = subprocess.Popen([sys.executable, "-m", "flask", "--app", "app", "serve", "--port", str(port),
                             "--workers", "1"], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)
    lines = []
    for line in proc.stdout:
        lines.append(line)
        if "Setup code:" in line or "sign in with your e-mail" in line:
            break
    return proc, "".join(lines)


@pytest.mark.browser
def test_first_run_in_the_browser(tmp_path, page):
    """The README's first command alone: it prints the code and the URL, and the browser gets to a signed-in desk."""
    import time
    import urllib.request
    port = free_port()
    proc, said = serve(tmp_path, port)
    try:
        code = re.search(r"Setup code: (\S+)", said).group(1)
        assert f"http://127.0.0.1:{port}/" in said
        for _ in range(100):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1)
                break
            except OSError:
                time.sleep(0.1)
        page.goto(f"http://127.0.0.1:{port}/")
        page.get_by_label("Setup code").fill(code)
        page.get_by_label("Email").fill("me@example.com")
        page.get_by_label("Password").fill("a long password")
        page.get_by_role("button", name="Create account").click()
        page.wait_for_url("**/orders")
        assert page.get_by_role("heading", name="Manage Orders").is_visible()
        assert page.get_by_text("me@example.com").is_visible()
    finally:
        proc.terminate()
        proc.wait(10)
        proc.stdout.close()

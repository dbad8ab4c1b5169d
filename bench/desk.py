"""A real desk for the crash and load runs: a migrated database with orders, gunicorn in a process group of its
own (so SIGKILL takes master and workers at once), and a browser-like client that fills in the app's own forms.

Used by tests/test_crash.py, tests/test_load.py and bench/load.py."""
import html.parser
import os
import random
import signal
import socket
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import requests
from werkzeug.security import generate_password_hash

ROOT = Path(__file__).resolve().parent.parent
SECRET = "desk-under-test"
PASSWORD = "a long password"


def flask_env(url: str, **extra) -> dict:
    return dict(os.environ, DATABASE_URL=url, SECRET_KEY=SECRET, LOGIN_RATE_LIMIT="10000 per minute", **extra)


def prepare(url: str, orders: int, seed_value: int = 1) -> None:
    """Migrate an empty database (`flask db upgrade`), then add an owner (PASSWORD) and `orders` paid Unshipped
    orders of one to three items through the workflow."""
    sys.path.insert(0, str(ROOT))
    from seller import clock, create_app, workflow
    from seller.extensions import db
    from seller.models import User
    subprocess.run([sys.executable, "-m", "flask", "--app", "app", "db", "upgrade"], cwd=ROOT, env=flask_env(url),
                   check=True, capture_output=True)
    app = create_app({"SQLALCHEMY_DATABASE_URI": url.replace("postgresql://", "postgresql+psycopg://", 1),
                      "SECRET_KEY": SECRET})
    rng = random.Random(seed_value)
    with app.app_context():
        db.session.add(User(email="owner@example.com", role="owner",
                            password_hash=generate_password_hash(PASSWORD, method="scrypt:1024:8:1")))
        db.session.commit()
        now = clock.now()
        for n in range(orders):
            purchased = now - timedelta(minutes=rng.randint(10, 60 * 24 * 6))
            fields = {"order_id": f"114-{n:07d}-{rng.randint(10**6, 10**7 - 1)}", "purchased_at": purchased,
                      "paid_at": purchased + timedelta(minutes=2), "buyer_email": f"b{n}@marketplace.amazon.com",
                      "buyer_name": f"Buyer {n}", "recipient_name": f"Buyer {n}", "ship_address_1": f"{n} Main St",
                      "ship_city": "Seattle", "ship_state": "WA", "ship_postal_code": "98101", "ship_country": "US",
                      "ship_service_level": "Standard"}
            items = [{"order_item_id": f"{n:07d}{k:07d}", "sku": f"SKU-{rng.randint(1, 60):03d}",
                      "product_name": f"Product {k}", "quantity": rng.randint(1, 3), "item_price_cents": 1999 + k,
                      "item_tax_cents": 165, "shipping_price_cents": 499, "shipping_tax_cents": 41}
                     for k in range(rng.randint(1, 3))]
            workflow.new_order(fields, items, source="bench")
            if n % 200 == 199:
                db.session.commit()
        db.session.commit()
        db.session.remove()
        db.engine.dispose()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """gunicorn on 127.0.0.1 in its own session; `kill()` is SIGKILL to the whole group."""

    def __init__(self, url: str, workers: int = 2, log: Path | None = None):
        self.url, self.workers, self.port = url, workers, free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log = open(log or os.devnull, "a")
        self.proc = None

    def start(self, timeout: float = 120) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-w", str(self.workers), "-b", f"127.0.0.1:{self.port}",
             "--timeout", "60", "--preload", "app:app"], cwd=ROOT, env=flask_env(self.url), stdout=self.log, stderr=self.log,
            start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if requests.get(self.base + "/healthz", timeout=2).status_code == 200:
                    return
            except requests.RequestException:
                pass
            if self.proc.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {self.proc.returncode}")
            time.sleep(0.1)
        raise RuntimeError("gunicorn did not answer in time")

    def cpu_seconds(self) -> float:
        """CPU time used so far by gunicorn's workers (Linux /proc): what the requests cost, whatever else the
        machine is doing."""
        tick, total = os.sysconf("SC_CLK_TCK"), 0.0
        children = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children").read_text().split()
        for pid in children:
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            total += (int(fields[11]) + int(fields[12])) / tick  # utime, stime
        return total

    def kill(self) -> None:
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(30)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.kill()
        self.log.close()


class _Forms(html.parser.HTMLParser):
    """A page's <form method=post>s: for each, its action and the values it would send as it stands."""

    def __init__(self):
        super().__init__()
        self.forms, self.fields, self._select, self._textarea = [], None, None, None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form" and (a.get("method") or "").lower() == "post":
            self.fields = {}
            self.forms.append((a.get("action") or "", self.fields))
        elif self.fields is None or not a.get("name") and tag != "option":
            return
        elif tag == "input" and a.get("type") not in ("submit", "button", "radio", "checkbox") or \
                tag == "input" and a.get("type") in ("radio", "checkbox") and "checked" in a:
            self.fields.setdefault(a["name"], a.get("value") or "")
        elif tag == "select":
            self._select = a["name"]
        elif tag == "option" and self._select and (self._select not in self.fields or "selected" in a):
            self.fields[self._select] = a.get("value", "")
        elif tag == "textarea":
            self._textarea = a["name"]
            self.fields[a["name"]] = ""

    def handle_endtag(self, tag):
        if tag == "form":
            self.fields = None
        elif tag == "select":
            self._select = None
        elif tag == "textarea" and self._textarea:
            text = self.fields[self._textarea]  # a browser drops the newline that follows <textarea>
            self.fields[self._textarea] = text[2:] if text.startswith("\r\n") else text.removeprefix("\n")
            self._textarea = None

    def handle_data(self, data):
        if self._textarea and self.fields is not None:
            self.fields[self._textarea] += data


def form_of(page: str, action: str) -> dict | None:
    """The values of the page's form that posts to `action` (its path), or None."""
    parser = _Forms()
    parser.feed(page)
    return next((dict(fields) for target, fields in parser.forms if target.split("?")[0] == action), None)


class Client:
    """A person at the desk: signs in through the sign-in form, then submits the app's forms as shown."""

    def __init__(self, base: str, timeout: float = 30):
        self.base, self.timeout, self.http = base, timeout, requests.Session()

    def sign_in(self, email: str = "owner@example.com", password: str = PASSWORD) -> None:
        page = self.http.get(self.base + "/login", timeout=self.timeout)
        fields = form_of(page.text, "/login") or {}
        answer = self.http.post(self.base + "/login", data={**fields, "email": email, "password": password},
                                allow_redirects=False, timeout=self.timeout)
        if answer.status_code != 303:
            raise RuntimeError(f"sign-in answered {answer.status_code}")

    def submit(self, path: str, **values) -> tuple[int, dict]:
        """Open the action's page, fill in `values` over the form's own, post it: (status, what was sent).
        A status of 0 means the page itself could not be had (not a form, or refused)."""
        page = self.http.get(self.base + path, timeout=self.timeout)
        fields = form_of(page.text, path) if page.status_code == 200 else None
        if fields is None:
            return 0, {}
        fields.update(values)
        answer = self.http.post(self.base + path, data=fields, allow_redirects=False, timeout=self.timeout)
        return answer.status_code, fields

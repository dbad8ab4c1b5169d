"""The Amazon connection in Chromium against a real server and the stand-in SP-API: Settings → connect → Sync now →
the orders appear; Confirm shipment → Sent to Amazon once the worker ran; a refused push shows Amazon's message and
Retry sends it again."""
import os
import subprocess
import sys
import time
import urllib.request
from datetime import timedelta

import pytest

from conftest import PG, ROOT, add_user, axe_violations, browser_sign_in, free_port, fresh_pg_database, make_app
from seller import clock
from seller.extensions import db
from amazon_standin import AmazonStandIn
from test_amazon import REFRESH, SECRET

pytestmark = pytest.mark.browser


@pytest.fixture
def amazon_live(tmp_path):
    """The stand-in, and gunicorn on a database of its own pointed at it; `work()` runs one worker pass."""
    standin = AmazonStandIn(client_secret=SECRET, refresh_token=REFRESH).start()
    url = fresh_pg_database("amazonlive") if PG else f"sqlite:///{tmp_path / 'live.db'}"
    env = dict(os.environ, DATABASE_URL=url, SECRET_KEY="live-test", LOGIN_RATE_LIMIT="1000 per minute",
               AMAZON_SP_API_ENDPOINT=standin.url, AMAZON_LWA_TOKEN_URL=standin.url + "/auth/o2/token")
    subprocess.run([sys.executable, "-m", "flask", "--app", "app", "db", "upgrade"], cwd=ROOT, env=env, check=True,
                   capture_output=True)
    port, log = free_port(), open(tmp_path / "server.log", "w")
    server = subprocess.Popen([sys.executable, "-m", "gunicorn", "-w", "2", "-b", f"127.0.0.1:{port}", "app:app"],
                              cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=log)
    base = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            urllib.request.urlopen(base + "/healthz", timeout=1)
            break
        except OSError:
            time.sleep(0.1)
    app = make_app(url)

    def work():
        done = subprocess.run([sys.executable, "-m", "flask", "--app", "app", "amazon-sync"], cwd=ROOT, env=env,
                              capture_output=True, text=True)
        assert done.returncode == 0, done.stderr

    with app.app_context():
        owner = add_user("amazon-owner@example.com", "owner")
        yield type("Live", (), {"url": base, "standin": standin, "work": staticmethod(work), "owner": owner})
        db.session.remove()
        db.engine.dispose()
    server.terminate()
    server.wait(10)
    log.close()
    standin.stop()
    assert not standin.invalid, standin.invalid


def test_connect_sync_confirm_and_retry(page, amazon_live):
    live, standin = amazon_live, amazon_live.standin
    now = clock.now()
    for n, name in ((1, "Ada Lovelace"), (2, "Grace Hopper")):
        standin.add_order(f"113-000000{n}-1234567", purchased=now - timedelta(hours=n), latest_ship=now + timedelta(days=1),
                          items=[{"OrderItemId": f"9000000000000{n}", "SellerSKU": f"MUG-{n}", "Title": "Mug",
                                  "ItemPrice": "12.00", "ItemTax": "1.00", "ShippingPrice": "3.00",
                                  "ShippingTax": "0.00"}],
                          buyer={"BuyerEmail": f"b{n}@marketplace.amazon.com", "BuyerName": name},
                          address={"Name": name, "AddressLine1": "1 Main St", "City": "Austin",
                                   "StateOrRegion": "TX", "PostalCode": "78701", "CountryCode": "US"})
    page.set_viewport_size({"width": 1024, "height": 768})
    browser_sign_in(page, live.url, "amazon-owner@example.com")
    page.goto(live.url + "/settings")
    page.get_by_role("link", name="Amazon connection").click()
    page.get_by_label("Seller ID").fill("A1SELLER")
    page.get_by_label("LWA client ID").fill(standin.client_id)
    page.get_by_label("LWA client secret").fill(SECRET)
    page.get_by_label("Refresh token").fill(REFRESH)
    page.get_by_role("button", name="Test connection").click()
    page.get_by_text("Connected to Amazon: Amazon.com (ATVPDKIKX0DER).").wait_for()
    page.get_by_label("LWA client secret").fill(SECRET)  # never shown back: typed again to save
    page.get_by_label("Refresh token").fill(REFRESH)
    page.get_by_role("button", name="Save connection").click()
    page.get_by_text("Amazon connection saved.").wait_for()
    assert SECRET not in page.content() and REFRESH not in page.content()
    assert axe_violations(page) == []
    page.get_by_role("button", name="Sync now").click()
    page.get_by_text("Synced with Amazon: 2 new").wait_for()

    page.goto(live.url + "/orders")
    first = page.locator('tr[data-order-id="113-0000001-1234567"]')
    assert "Ada Lovelace" in first.inner_text() and page.locator('tr[data-order-id="113-0000002-1234567"]').count()
    assert "Amazon:" in page.locator(".amazon-summary").inner_text()
    standin.refuse_confirm["113-0000002-1234567"] = "The carrier code is not valid for this marketplace."
    for order_id in ("113-0000001-1234567", "113-0000002-1234567"):
        row = page.locator(f'tr[data-order-id="{order_id}"]')
        row.get_by_role("button", name="Confirm shipment").click()
        panel = page.locator("tr.panel-row form, .panel form").first
        panel.get_by_label("Tracking ID").fill("1Z999AA10123456784")
        panel.get_by_role("button", name="Confirm shipment").click()
        row.locator(".status-Shipped").wait_for()
        row.get_by_text("Waiting to send").wait_for()
    live.work()
    page.reload()
    first = page.locator('tr[data-order-id="113-0000001-1234567"]')
    first.get_by_text("Sent to Amazon").wait_for()
    second = page.locator('tr[data-order-id="113-0000002-1234567"]')
    second.get_by_text("Amazon refused").wait_for()
    page.locator(".amazon-summary").get_by_role("link", name="1 refused").click()
    page.get_by_text("The carrier code is not valid for this marketplace.").wait_for()
    assert axe_violations(page) == []
    page.get_by_role("link", name="113-0000002-1234567").click()
    page.get_by_text("The carrier code is not valid for this marketplace.").wait_for()
    del standin.refuse_confirm["113-0000002-1234567"]
    page.get_by_role("button", name="Retry").click()
    page.get_by_role("button", name="Retry").click()  # the form: Amazon's message, then Retry
    page.get_by_text("will be sent to Amazon again").wait_for()
    live.work()
    page.goto(live.url + "/orders/113-0000002-1234567")
    page.get_by_text("Sent to Amazon").first.wait_for()
    assert len(standin.packages) == 2

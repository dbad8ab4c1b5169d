"""Packing slips: how fast a 100-slip batch renders, and whether printing it holds up other users' pages.

    uv run python bench/packing_slips.py [--slips 100] [--runs 3] [--workers 3]

1. The floor: the same 100 slips drawn straight onto a reportlab canvas (same fonts, same content, a Code128
   barcode, names wrapped, items flowing onto further pages) — what a hand-written renderer would cost.
2. Ours: `slips_pdf` (xhtml2pdf from templates/pdf/packing_slip.html), Letter and 4x6, and the ratio to the floor
   (goal: at most 3x).
3. A real server as the Procfile runs it (gunicorn, sync workers): staff posts the 100-slip batch while another
   user loads GET /orders over and over; prints /orders latency idle and during the batch, and the batch's time.

Data: a fresh SQLite database in a temporary folder, migrated and filled by `flask seed-demo` (demo orders with
accented names and a Chinese product name); the slips are the 100 newest Unshipped or Shipped orders.
"""
import argparse
import http.cookiejar
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from reportlab.graphics.barcode.code128 import Code128  # noqa: E402
from reportlab.lib.pagesizes import letter  # noqa: E402
from reportlab.lib.units import inch  # noqa: E402
from reportlab.lib.utils import simpleSplit  # noqa: E402
from reportlab.pdfbase import pdfmetrics  # noqa: E402
from reportlab.pdfbase.ttfonts import TTFont  # noqa: E402
from reportlab.pdfgen import canvas  # noqa: E402

FONT = ROOT / "seller" / "static" / "fonts" / "wqy-microhei.ttc"


# ---------------------------------------------------------------- the floor: reportlab by hand


def floor_pdf(orders, store_name: str, seller_name: str, order_date) -> bytes:
    """Letter slips drawn directly with reportlab's canvas: the content of templates/pdf/packing_slip.html."""
    import io
    out = io.BytesIO()
    c = canvas.Canvas(out, pagesize=letter)
    width, height = letter
    m = 0.5 * inch
    right = width / 2 + 0.1 * inch

    def label(x, y, text):
        c.setFont("Helvetica-Bold", 8)
        c.drawString(x, y, text.upper())

    def table_header(y):
        label(m, y, "Qty")
        label(m + 0.9 * inch, y, "Product details")
        c.setLineWidth(1)
        c.line(m, y - 4, width - m, y - 4)
        return y - 18

    for order in orders:
        y = height - m - 8
        label(m, y, "Ship to:")
        c.setFont("WQY", 16)
        c.drawString(m, y - 18, order.recipient_name)
        c.setFont("WQY", 13)
        lines = [a for a in (order.ship_address_1, order.ship_address_2, order.ship_address_3) if a]
        lines += [f"{order.ship_city}, {order.ship_state} {order.ship_postal_code}",
                  "United States" if order.ship_country == "US" else order.ship_country]
        ay = y - 34
        for line in lines:
            c.drawString(m, ay, line)
            ay -= 16
        label(right, y, "Order ID")
        c.setFont("Helvetica-Bold", 20)
        c.drawString(right, y - 22, order.order_id)
        Code128(order.order_id, barWidth=0.015 * inch, barHeight=0.65 * inch).drawOn(c, right - 0.25 * inch, y - 76)
        y = min(ay, y - 80) - 4
        c.setLineWidth(1.5)
        c.line(m, y, width - m, y)
        c.setFont("WQY", 11)
        c.drawString(m, y - 20, f"Thank you for buying from {store_name} on Amazon Marketplace.")
        y -= 40
        facts = [("Order date", order_date(order.purchased_at)), ("Buyer name", order.buyer_name),
                 ("Shipping service", order.ship_service_level), ("Seller name", seller_name)]
        if order.is_business_order:
            facts.append(("PO number", order.purchase_order_number))
        for i, (name, value) in enumerate(facts):
            x = m if i % 2 == 0 else width / 2
            label(x, y, name)
            c.setFont("WQY", 10)
            c.drawString(x + 1.3 * inch, y, value)
            if i % 2:
                y -= 14
        y = table_header(y - 22)
        for item in order.items:
            name_lines = simpleSplit(item.product_name, "WQY", 11, width - 2 * m - 0.9 * inch)
            needed = 14 * len(name_lines) + 20
            if y - needed < m:
                c.showPage()
                y = table_header(height - m - 8)
            c.setFont("Helvetica-Bold", 16)
            c.drawCentredString(m + 0.3 * inch, y - 6, str(item.quantity))
            c.setFont("WQY", 11)
            for line in name_lines:
                c.drawString(m + 0.9 * inch, y, line)
                y -= 14
            c.setFont("WQY", 8.5)
            c.drawString(m + 0.9 * inch, y, f"SKU: {item.sku}   Order item ID: {item.order_item_id}")
            c.setLineWidth(0.5)
            c.line(m, y - 6, width - m, y - 6)
            y -= 22
        c.setFont("WQY", 8.5)
        for line in simpleSplit("Returns: to return an item, start a return from Your Orders on Amazon.com and put "
                                "this slip in the parcel. Questions about your order? Contact us through Amazon "
                                "Messages.", "WQY", 8.5, width - 2 * m):
            y -= 11
            c.drawString(m, y, line)
        c.showPage()
    c.save()
    return out.getvalue()


def best(runs: int, fn):
    """The fastest of `runs` calls (the least disturbed by the rest of the machine), and the last result."""
    times, result = [], None
    for _ in range(runs):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return min(times), result


# ---------------------------------------------------------------- a real server


def flask_cli(env, *args) -> str:
    return subprocess.run([sys.executable, "-m", "flask", "--app", "app", *args], cwd=ROOT, env=env, check=True,
                          capture_output=True, text=True).stdout


def signed_in(base: str, cookie: str):
    """A urllib opener carrying a signed-in session cookie, and the CSRF token the list page gives that session."""
    jar = http.cookiejar.CookieJar()
    jar.set_cookie(http.cookiejar.Cookie(0, "session", cookie, None, False, "127.0.0.1", False, False, "/", True,
                                         False, None, False, None, None, {}))
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    page = opener.open(base + "/orders").read().decode()
    return opener, re.search(r'"X-CSRFToken": "([^"]+)"', page).group(1)


def timed_get(opener, url) -> float:
    start = time.perf_counter()
    with opener.open(url) as response:
        response.read()
    return time.perf_counter() - start


def server_figures(env, cookies, order_ids, workers: int):
    port = 18000 + os.getpid() % 1000
    base = f"http://127.0.0.1:{port}"
    server = subprocess.Popen([sys.executable, "-m", "gunicorn", "-w", str(workers), "-b", f"127.0.0.1:{port}",
                               "--timeout", "60", "app:app"], cwd=ROOT, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(base + "/healthz", timeout=1).read()
                break
            except OSError:
                time.sleep(0.1)
        staff, token = signed_in(base, cookies["staff"])
        owner, _ = signed_in(base, cookies["owner"])
        idle = [timed_get(owner, base + "/orders") for _ in range(20)]
        body = urllib.parse.urlencode([("order_ids", i) for i in order_ids] + [("csrf_token", token)]).encode()
        batch = {}

        def print_batch():
            start = time.perf_counter()
            with staff.open(base + "/orders/packing-slips.pdf", body) as response:
                batch["bytes"] = len(response.read())
                batch["type"] = response.headers["Content-Type"]
            batch["seconds"] = time.perf_counter() - start

        thread = threading.Thread(target=print_batch)
        thread.start()
        time.sleep(0.05)
        during = []
        while thread.is_alive():
            during.append(timed_get(owner, base + "/orders"))
        thread.join()
        return idle, during, batch
    finally:
        server.terminate()
        server.wait(10)


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--slips", type=int, default=100)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--workers", type=int, default=3)
    args = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="bench-slips-"))
    env = dict(os.environ, DATABASE_URL=f"sqlite:///{folder / 'bench.db'}", SECRET_KEY="bench")
    flask_cli(env, "db", "upgrade")
    flask_cli(env, "seed-demo", "--orders", str(args.slips * 4))

    os.environ.update(env)
    from sqlalchemy import select
    from sqlalchemy.orm import selectinload

    from seller import create_app
    from seller.extensions import db
    from seller.models import Order, User
    from seller.orders.slips import slips_pdf
    from seller.templating import local_time

    app = create_app()
    with app.test_request_context():
        orders = list(db.session.scalars(
            select(Order).where(Order.status.in_(["Unshipped", "Shipped"])).options(selectinload(Order.items))
            .order_by(Order.purchased_at.desc()).limit(args.slips)))
        assert len(orders) == args.slips, f"only {len(orders)} printable orders"
        from seller import workflow
        cfg = workflow.settings()
        pdfmetrics.registerFont(TTFont("WQY", str(FONT)))
        slips_pdf(orders[:1], "letter")  # both start warm: fonts parsed, templates compiled

        floor, floor_bytes = best(args.runs, lambda: floor_pdf(
            orders, cfg.store_name, cfg.seller_name or cfg.store_name, lambda dt: local_time(dt, "%b %d, %Y")))
        ours, ours_bytes = best(args.runs, lambda: slips_pdf(orders, "letter"))
        ours_4x6, _ = best(args.runs, lambda: slips_pdf(orders, "4x6"))
        order_ids = [o.order_id for o in orders]
        # Signed in as seed-demo's owner and staff: session cookies signed with the server's SECRET_KEY.
        sign = app.session_interface.get_signing_serializer(app).dumps
        cookies = {u.role: sign({"_user_id": u.get_id(), "_fresh": True}) for u in db.session.scalars(select(User))}

    n = args.slips
    print(f"machine: {os.cpu_count()} CPUs, Python {sys.version.split()[0]}; {n} slips, best of {args.runs} runs")
    print(f"reportlab floor (canvas by hand), Letter: {floor:.2f} s ({ms(floor / n)} a slip, "
          f"{len(floor_bytes) // 1024} KB)")
    print(f"xhtml2pdf (seller.pdf), Letter:           {ours:.2f} s ({ms(ours / n)} a slip, "
          f"{len(ours_bytes) // 1024} KB)")
    print(f"xhtml2pdf (seller.pdf), 4x6:              {ours_4x6:.2f} s ({ms(ours_4x6 / n)} a slip)")
    print(f"ratio xhtml2pdf / floor, Letter: {ours / floor:.2f}x (goal <= 3x)")

    idle, during, batch = server_figures(env, cookies, order_ids, args.workers)
    print(f"gunicorn -w {args.workers} (sync): POST /orders/packing-slips.pdf with {n} orders took "
          f"{batch['seconds']:.2f} s ({batch['type']}, {batch['bytes'] // 1024} KB)")
    print(f"  GET /orders idle:              median {ms(statistics.median(idle))}, max {ms(max(idle))} "
          f"({len(idle)} requests)")
    print(f"  GET /orders during the batch:  median {ms(statistics.median(during))}, max {ms(max(during))} "
          f"({len(during)} requests)")


if __name__ == "__main__":
    main()

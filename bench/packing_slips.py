"""Packing slips: how fast a 100-slip batch renders, and whether printing one holds up other users' pages.

    uv run python bench/packing_slips.py [--slips 100] [--rounds 5] [--workers 3]

1. The floor: the same Letter slips drawn straight onto one reportlab canvas (same fonts, same content, the
   Code128 bars drawn with `Code128.drawOn`, names wrapped, items flowing onto further pages) — what a
   hand-written renderer costs. Also the same canvas with the barcode drawn the way reportlab's widget
   documentation does it (`createBarcodeDrawing` + renderPDF), which costs several ms a barcode by itself.
2. Ours: `slips_pdf` (xhtml2pdf from templates/pdf/packing_slip.html), Letter and 4x6, as one document; the ratio
   to the floor (goal: at most 3x). Every figure is the best of --rounds runs taken in turn (floor, ours, ...),
   wall clock and process CPU, so a busy neighbour on the machine hurts all of them alike.
   For reference, not used by the app: the batch split over two processes and merged with pypdf.
3. A real server as the Procfile runs it (gunicorn, sync workers): staff posts the batch while another signed-in
   user loads GET /orders every 50 ms; prints /orders latency idle and while the batch renders.

Data: a fresh SQLite database in a temporary folder, migrated and filled by `flask seed-demo` (accented names, a
Chinese product name, 1-3 items an order); the slips are the newest Unshipped or Shipped orders.
"""
import argparse
import http.cookiejar
import io
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
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import pypdf  # noqa: E402
from reportlab.graphics import renderPDF  # noqa: E402
from reportlab.graphics.barcode import createBarcodeDrawing  # noqa: E402
from reportlab.graphics.barcode.code128 import Code128  # noqa: E402
from reportlab.lib.pagesizes import letter  # noqa: E402
from reportlab.lib.units import inch  # noqa: E402
from reportlab.lib.utils import simpleSplit  # noqa: E402
from reportlab.pdfbase import pdfmetrics  # noqa: E402
from reportlab.pdfbase.ttfonts import TTFont  # noqa: E402
from reportlab.pdfgen import canvas  # noqa: E402
from seller.models import Settings

FONT = ROOT / "seller" / "static" / "fonts" / "wqy-microhei.ttc"
PAUSE = 0.05  # between one user's page loads: busy clicking, not a load test
RETURNS = ("Returns: start a return from Your Orders on Amazon.com and put this slip in the parcel. Questions about "
           "your order? Contact us through Amazon Messages.")


# ---------------------------------------------------------------- the floor: reportlab by hand


def floor_pdf(orders, store_name: str, seller_name: str, order_date, widget_barcode: bool = False) -> bytes:
    """Letter slips drawn directly on a reportlab canvas, laid out like templates/pdf/packing_slip.html."""
    out = io.BytesIO()
    c = canvas.Canvas(out, pagesize=letter)
    width, height = letter
    m, right = 0.5 * inch, 4.4 * inch

    def label(x, y, text, size=8):
        c.setFont("Helvetica-Bold", size)
        c.drawString(x, y, text)

    def table_header(y, order_id):
        c.setFont("WQY", 8)
        c.drawRightString(width - m, y, f"Order {order_id}")
        label(m + 0.2 * inch, y - 14, "Qty")
        label(m + 0.85 * inch, y - 14, "Product details")
        c.setLineWidth(1)
        c.line(m, y - 18, width - m, y - 18)
        return y - 34

    for order in orders:
        top = height - m - 8
        label(m, top, "Ship to:")
        c.setFont("WQY", 17)
        c.drawString(m, top - 20, order.recipient_name)
        c.setFont("WQY", 13)
        lines = [a for a in (order.ship_address_1, order.ship_address_2, order.ship_address_3) if a]
        lines += [f"{order.ship_city}, {order.ship_state} {order.ship_postal_code}",
                  "United States" if order.ship_country == "US" else order.ship_country]
        y = top - 38
        for line in lines:
            c.drawString(m, y, line)
            y -= 17
        label(right, top, "Order ID")
        c.setFont("Helvetica-Bold", 20)
        c.drawString(right, top - 22, order.order_id)
        if widget_barcode:
            drawing = createBarcodeDrawing("Code128", value=order.order_id, barWidth=0.015 * inch,
                                           barHeight=0.6 * inch, humanReadable=0)
            renderPDF.draw(drawing, c, right, top - 76)
        else:
            Code128(order.order_id, barWidth=0.015 * inch, barHeight=0.6 * inch).drawOn(c, right, top - 76)
        facts = [("Order date:", order_date(order.purchased_at)), ("Shipping service:", order.ship_service_level),
                 ("Buyer name:", order.buyer_name), ("Seller name:", seller_name)]
        if order.is_business_order:
            facts.append(("PO number:", order.purchase_order_number))
        fy = top - 92
        for name, value in facts:
            label(right, fy, name)
            c.setFont("WQY", 10)
            c.drawString(right + pdfmetrics.stringWidth(name, "Helvetica-Bold", 8) + 3, fy, value)
            fy -= 13
        y = min(y, fy) - 6
        c.setLineWidth(1.5)
        c.line(m, y, width - m, y)
        c.setFont("WQY", 11)
        c.drawString(m, y - 20, f"Thank you for buying from {store_name} on Amazon Marketplace.")
        y = table_header(y - 40, order.order_id)
        for item in order.items:
            name_lines = simpleSplit(item.product_name, "WQY", 10, width - 2 * m - 0.85 * inch)
            if y - 13 * len(name_lines) - 20 < m:
                c.showPage()
                y = table_header(height - m - 8, order.order_id)
            c.setFont("Helvetica-Bold", 15)
            c.drawCentredString(m + 0.4 * inch, y - 6, str(item.quantity))
            c.setFont("WQY", 10)
            for line in name_lines:
                c.drawString(m + 0.85 * inch, y, line)
                y -= 13
            c.setFont("WQY", 8.5)
            c.drawString(m + 0.85 * inch, y, f"SKU: {item.sku}   Order item ID: {item.order_item_id}")
            c.setLineWidth(0.5)
            c.line(m, y - 7, width - m, y - 7)
            y -= 24
        c.setFont("WQY", 8.5)
        for line in simpleSplit(RETURNS, "WQY", 8.5, width - 2 * m):
            c.drawString(m, y, line)
            y -= 11
        c.showPage()
    c.save()
    return out.getvalue()


def _render_html(html: str) -> bytes:
    """In a worker process: one xhtml2pdf document, as seller.pdf.render_pdf renders it."""
    from xhtml2pdf import pisa

    from seller.pdf import POLICY, static_file
    out = io.BytesIO()
    pisa.pisaDocument(html, dest=out, link_callback=static_file, resource_policy=POLICY, capacity=-1)
    return out.getvalue()


def two_processes(pool, htmls: list[str]) -> bytes:
    """The reference the app does not use: halves rendered side by side, then merged."""
    writer = pypdf.PdfWriter()
    for part in pool.map(_render_html, htmls):
        writer.append(io.BytesIO(part))
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def timed(fn):
    wall, cpu = time.perf_counter(), time.process_time()
    result = fn()
    return time.perf_counter() - wall, time.process_time() - cpu, result


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
        body = urllib.parse.urlencode([("order_ids", i) for i in order_ids] + [("csrf_token", token)]).encode()
        staff.open(base + "/orders/packing-slips.pdf", body).read()  # every worker warm: fonts, templates
        idle = []
        for _ in range(40):
            idle.append(timed_get(owner, base + "/orders"))
            time.sleep(PAUSE)
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
            time.sleep(PAUSE)
        thread.join()
        return idle, during, batch
    finally:
        server.terminate()
        server.wait(10)


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms"


def latency(samples: list[float]) -> str:
    p95 = sorted(samples)[int(len(samples) * 0.95) - 1]
    return (f"median {ms(statistics.median(samples))}, p95 {ms(p95)}, max {ms(max(samples))} "
            f"({len(samples)} requests)")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--slips", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--workers", type=int, default=3)
    args = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="bench-slips-"))
    env = dict(os.environ, DATABASE_URL=f"sqlite:///{folder / 'bench.db'}", SECRET_KEY="bench")
    flask_cli(env, "db", "upgrade")
    flask_cli(env, "seed-demo", "--orders", str(args.slips * 4))

    os.environ.update(env)
    from flask import render_template
    from sqlalchemy import select
    from sqlalchemy.orm import selectinload

    from seller import create_app
    from seller.extensions import db
    from seller.models import Order, User
    from seller.orders.slips import PAGES, slips_pdf
    from seller.pdf import code128
    from seller.templating import local_time

    app = create_app()
    n = args.slips
    with app.test_request_context(), ProcessPoolExecutor(2) as pool:
        orders = list(db.session.scalars(
            select(Order).where(Order.status.in_(["Unshipped", "Shipped"])).options(selectinload(Order.items))
            .order_by(Order.purchased_at.desc()).limit(n)))
        assert len(orders) == n, f"only {len(orders)} printable orders"
        cfg = Settings.current()
        store, seller = cfg.store_name, cfg.seller_name or cfg.store_name
        pdfmetrics.registerFont(TTFont("WQY", str(FONT)))

        def halves():
            return [render_template("pdf/packing_slip.html", orders=part, size="letter", page_size="letter",
                                    page_margin=PAGES["letter"][1], store_name=store, seller_name=seller,
                                    code128=code128) for part in (orders[:n // 2], orders[n // 2:])]

        runs = {
            "floor": lambda: floor_pdf(orders, store, seller, lambda dt: local_time(dt, "%b %d, %Y")),
            "floor_widget": lambda: floor_pdf(orders, store, seller, lambda dt: local_time(dt, "%b %d, %Y"),
                                              widget_barcode=True),
            "letter": lambda: slips_pdf(orders, "letter"),
            "4x6": lambda: slips_pdf(orders, "4x6"),
            "two": lambda: two_processes(pool, halves()),
        }
        for fn in runs.values():  # everything warm: fonts parsed, templates compiled, workers started
            fn()
        best = {name: [float("inf"), float("inf"), b""] for name in runs}
        for _ in range(args.rounds):
            for name, fn in runs.items():
                wall, cpu, data = timed(fn)
                best[name] = [min(best[name][0], wall), min(best[name][1], cpu), data]
        order_ids = [o.order_id for o in orders]
        # Signed in as seed-demo's owner and staff: session cookies signed with the server's SECRET_KEY.
        sign = app.session_interface.get_signing_serializer(app).dumps
        cookies = {u.role: sign({"_user_id": u.get_id(), "_fresh": True}) for u in db.session.scalars(select(User))}

    def line(title, name, cpu=True):
        wall, cpu_s, data = best[name]
        pages = len(pypdf.PdfReader(io.BytesIO(data)).pages)
        extra = f", CPU {cpu_s:.2f} s" if cpu else ""
        print(f"  {title:58} {wall:5.2f} s ({ms(wall / n)} a slip{extra}; {pages} pages, {len(data) // 1024} KB)")

    print(f"{n} slips, best of {args.rounds} rounds; {os.cpu_count()} CPUs, Python {sys.version.split()[0]}, "
          f"load average {os.getloadavg()[0]:.1f}")
    line("reportlab floor: canvas by hand, Letter", "floor")
    line("  the same, barcode as a reportlab widget Drawing", "floor_widget")
    line("xhtml2pdf (seller.pdf, one document), Letter", "letter")
    line("xhtml2pdf (seller.pdf, one document), 4x6", "4x6")
    line("reference, not used: 2 processes x 50 slips + pypdf merge", "two", cpu=False)
    for title, floor in (("floor", "floor"), ("widget-barcode floor", "floor_widget")):
        print(f"ratio xhtml2pdf Letter / {title}: wall {best['letter'][0] / best[floor][0]:.1f}x, "
              f"CPU {best['letter'][1] / best[floor][1]:.1f}x (goal <= 3x)")

    idle, during, batch = server_figures(env, cookies, order_ids, args.workers)
    print(f"gunicorn -w {args.workers} (sync): POST /orders/packing-slips.pdf with {n} orders took "
          f"{batch['seconds']:.2f} s ({batch['type']}, {batch['bytes'] // 1024} KB)")
    print(f"  GET /orders idle:             {latency(idle)}")
    print(f"  GET /orders during the batch: {latency(during)}")


if __name__ == "__main__":
    main()

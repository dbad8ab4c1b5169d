"""中文 / English (contract §14): the catalog holds every string of the code, translated; every page in Chinese says
nothing in English but what may stay English; the choice of language and its reach."""
import io
import re
import subprocess
from zoneinfo import available_timezones
import sys
from html.parser import HTMLParser

import pytest
from babel.messages.mofile import read_mo, write_mo
from babel.messages.pofile import read_po
from sqlalchemy import select

from conftest import ROOT, add_user, item_fields, make_order, sign_in
from seller import workflow
from seller.extensions import db
from seller.models import Settings, User

PO = ROOT / "seller" / "translations" / "zh_Hans" / "LC_MESSAGES" / "messages.po"
MO = PO.with_suffix(".mo")
ZH = {"Accept-Language": "zh-CN,zh;q=0.9"}
HX = {"HX-Request": "true"}
# Seller Central's own names (the contract's bold terms): in Chinese they keep their English beside them.
TERMS = ["Manage Orders", "Manage Returns", "Confirm shipment", "Buy shipping", "Cancel order", "Edit shipment",
         "Re-confirm shipment", "Refund order", "Print packing slip", "Print packing slips", "Advanced Search",
         "Search orders", "Pending", "Unshipped", "Shipped", "Canceled", "Ship by", "Late", "Carrier", "Carrier name",
         "Shipping service", "Tracking ID", "Seller note", "Ship date", "Reason for cancellation", "Submit",
         "Full Refund", "Partial Refund", "Reason for refund", "Return shipping concession", "Other concession",
         "Memo to buyer", "Seller memo", "Submit Full Refund", "Submit Partial Refund", "Item amount",
         "Shipping amount", "Pending Authorization", "Authorized", "Completed", "Closed", "Authorize request",
         "Issue refund", "Close request", "Contact buyer", "RMA number", "Return address", "Reason for closing",
         "Message to buyer", "Subject", "Message", "Send message", "Create return request", "Return reason",
         "Performance", "Late Shipment Rate", "Pre-fulfillment Cancel Rate", "Valid Tracking Rate", "Settings",
         "Sign in", "Sign out", "Email", "Password", "No inventory", "Buyer canceled", "Customer Return",
         "From", "To", "Order ID", "Buyer name", "Buyer email", "Product name", "Status", "Search"]


def _key(value):
    return tuple(value) if isinstance(value, (list, tuple)) else value


def extract(tmp_path):
    pot = tmp_path / "messages.pot"
    subprocess.run([sys.executable, "-m", "babel.messages.frontend", "extract", "-F", "babel.cfg", "-k", "_l",
                    "-k", "N_", "-o", str(pot), "seller"], cwd=ROOT, check=True, capture_output=True)
    with open(pot, "rb") as f:
        return read_po(f)


def test_every_string_of_the_code_is_in_the_catalog_translated(app, tmp_path):
    """Extracting now (babel.cfg) gives no message the Chinese catalog lacks, leaves untranslated or marks fuzzy;
    every translation keeps its placeholders, and the .mo the app compiles at start (seller/i18n.py) is the .po."""
    with open(PO, "rb") as f:
        catalog = read_po(f)
    template = extract(tmp_path)
    assert [m.id for m in template if m.id and m.id not in catalog] == []
    untranslated = [m.id for m in catalog if m.id and not (all(m.string) if isinstance(m.string, tuple) else m.string)]
    assert untranslated == []
    assert [m.id for m in catalog if m.id and m.fuzzy] == []
    for m in catalog:
        if m.id:
            ids, strings = (m.id, m.string) if isinstance(m.id, tuple) else ((m.id,), (m.string,))
            wanted = set(re.findall(r"%\(\w+\)[sd]", " ".join(ids)))
            for text in strings:
                assert set(re.findall(r"%\(\w+\)[sd]", text)) == wanted, m.id
    compiled = io.BytesIO()
    write_mo(compiled, catalog)
    with open(MO, "rb") as f:
        compiled_here = {_key(m.id): _key(m.string) for m in read_mo(f) if m.id}
    assert compiled_here == {_key(m.id): _key(m.string) for m in catalog if m.id}


def test_seller_central_terms_keep_their_english_in_chinese():
    with open(PO, "rb") as f:
        catalog = read_po(f)
    missing = [t for t in TERMS if t not in catalog or f"({t})" not in catalog[t].string]
    assert missing == []


class Visible(HTMLParser):
    """The text a person sees or hears on a page: text nodes outside script/style/template, and the placeholder,
    title, aria-label and alt attributes."""

    def __init__(self):
        super().__init__()
        self.hidden, self.texts = 0, []

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style", "template"):
            self.hidden += 1
        for name, value in attrs:
            if name in ("placeholder", "title", "aria-label", "alt") and value:
                self.texts.append(value)

    def handle_endtag(self, tag):
        if tag in ("script", "style", "template"):
            self.hidden -= 1

    def handle_data(self, data):
        if not self.hidden and data.strip():
            self.texts.append(data)


# What may stay in Latin letters on a Chinese page: codes, units, brands and names of things outside the desk.
ALLOWED = {"SKU", "RMA", "ID", "PDF", "CSV", "TXT", "USPS", "UPS", "FedEx", "DHL", "OnTrac", "Lasership",
           "SmartPost", "Mail", "Innovations", "Global", "Canada", "Post", "Royal", "Amazon", "Shipping", "China",
           "Yun", "Express", "PX", "Yanwen", "SF", "EasyPost", "Demo", "Seller", "Desk", "Central", "PST", "PDT",
           "UTC", "America", "Los_Angeles", "lb", "oz", "kg", "in", "US", "USD", "English", "Letter", "Ground",
           "Advantage", "Priority", "Home", "Delivery", "SecondDay", "Standard", "Expedited", "NextDay",
           "Scheduled", "FreeEconomy", "Other", "Business", "txt", "tsv", "LLC", "Order", "Report", "Unshipped",
           "Orders", "LWA", "close-stale-returns", "reset-demo", "MB"}


def english_left(text: str, data: set[str]) -> list[str]:
    """Latin words of two letters or more left after removing what may stay English (see ALLOWED, `data`)."""
    for value in sorted(data, key=len, reverse=True):  # whole words only: "US" (a country) is not USPS's
        text = re.sub(rf"(?<![A-Za-z0-9]){re.escape(value)}(?![A-Za-z0-9])", " ", text)
    text = re.sub(r"(?<=[\u3000-\u9fff\uff00-\uffef])\s*\((?:[^()]|\([^()]*\))*\)", " ", text)  # 中文 (English term)
    text = re.sub(r"\b[A-Z0-9]*[0-9][A-Z0-9]*\b", " ", text)  # codes with digits: ATVPDKIKX0DER, 4PX
    words = re.findall(r"[A-Za-z][A-Za-z'’-]+", text)
    return [w for w in words if w not in ALLOWED]


@pytest.fixture
def shop(app, owner, staff):
    """An order in every status with a return in every status, so that every page has something to show."""
    orders = {s: make_order(s, items=[item_fields(sku="MUG-1", product_name="Coffee Mug Blue")])
              for s in ("Pending", "Unshipped", "Shipped", "Canceled")}
    returns = {}
    for status in ("Pending Authorization", "Authorized", "Closed"):
        order = make_order("Shipped")
        ret = workflow.create_return(order, owner, workflow.RETURN_REASONS[0], {order.items[0].id: 1})
        if status == "Authorized":
            workflow.authorize_return(ret, owner, "RMA-ZH-1", "1 Return Rd")
        elif status == "Closed":
            workflow.close_return(ret, owner, "Other")
        returns[status] = ret
    return orders, returns


def data_values() -> set[str]:
    """Every text the data holds (orders, items, users, settings): names, addresses, e-mails, codes."""
    values = set()
    for table in db.metadata.sorted_tables:
        for row in db.session.execute(select(table)).mappings():
            values |= {v for v in row.values() if isinstance(v, str) and len(v) > 1}
    values |= available_timezones()  # the Timezone list's names (IANA's, in Latin letters)
    settings = Settings.current()  # the defaults a store has before its Settings are saved
    values |= {settings.store_name, settings.timezone, settings.timezone.split("/")[-1].replace("_", " ")}
    return values


def crawl_paths(orders, returns) -> list[str]:
    o, r = orders, returns
    paths = ["/orders", "/orders?status=Unshipped", "/orders?status=Shipped", "/orders?q=MUG-1", "/returns",
             "/returns?status=Authorized", "/performance", "/performance/late-shipment-rate", "/settings",
             "/orders/import", "/orders/export", "/account/password", "/orders/export?from=x&to=y", "/pack",
             "/settings/amazon"]
    paths += [f"/orders/{order.order_id}" for order in o.values()]
    paths += [f"/orders/{o['Unshipped'].order_id}/{a}" for a in ("ship", "cancel", "buy-shipping", "row")]
    paths += [f"/orders/{o['Shipped'].order_id}/{a}" for a in ("edit-shipment", "refund", "contact")]
    paths += [f"/returns/new/{o['Shipped'].order_id}", f"/returns/{r['Pending Authorization'].id}/authorize",
              f"/returns/{r['Authorized'].id}/close", f"/returns/{r['Authorized'].id}/refund",
              f"/returns/{r['Authorized'].id}/contact", f"/returns/{r['Authorized'].id}/receive",
              f"/pack/{o['Unshipped'].order_id}"]
    return paths


@pytest.mark.parametrize("role", ["owner", "staff"])
def test_every_page_in_chinese_says_nothing_in_english(app, shop, role):
    """The rule: on every page and every htmx fragment of an action's form, rendered in Chinese, the visible text
    (see `Visible`, its text nodes joined) holds no Latin word of two or more letters except (1) inside
    parentheses right after a Chinese character — the
    Seller Central term kept beside its translation, as the seed writes "确认发货 (Confirm shipment)"; (2) the data
    (any text stored in the database: buyer, product and store names, addresses, e-mails, order IDs, SKUs,
    tracking IDs, RMA numbers, carriers' names); (3) ALLOWED: codes and units (SKU, RMA, PDF, lb, PST), brands
    (USPS, FedEx, Amazon, EasyPost), Amazon's own service levels and report names, and the language switch's
    "English"."""
    user = db.session.scalar(select(User).where(User.role == role))
    client = sign_in(app.test_client(), user)
    data = data_values()
    found = {}
    for path in crawl_paths(*shop):
        for headers in (ZH, {**ZH, **HX}):
            response = client.get(path, headers=headers)
            if response.status_code in (403, 404) or response.mimetype != "text/html":
                continue
            parser = Visible()
            parser.feed(response.text)
            left = english_left(" ".join(parser.texts), data)
            if left:
                found[f"{path} {'htmx' if HX.items() <= headers.items() else 'page'}"] = sorted(set(left))[:12]
    assert found == {}


def test_a_validation_error_comes_back_in_chinese_next_to_its_field(owner_client, order_factory):
    order = order_factory("Shipped")
    i = order.items[0].id
    response = owner_client.post(f"/orders/{order.order_id}/refund", headers={**ZH, **HX}, data={
        "kind": "partial", "reason": "Pricing Error", "idempotency_key": "zh-1", "submit_partial": "1",
        f"item-{i}-item": "10.005"})
    assert response.status_code == 422
    error = re.search(rf'<p class="error" id="item-{i}-item-{order.id}-error">([^<]+)</p>', response.text).group(1)
    assert re.search(r"[\u4e00-\u9fff]", error) and not re.search(r"[A-Za-z]{3,}", error), error


def test_the_language_is_chosen_kept_and_followed_by_fragments(app, owner):
    client = app.test_client()
    login = client.get("/login", headers=ZH).text  # before any choice, the browser's language decides
    assert 'lang="zh-Hans"' in login and "登录" in login
    assert 'lang="en"' in client.get("/login").text
    client.post("/language", data={"language": "en", "next": "/login"})  # chosen on the sign-in page
    assert 'lang="en"' in client.get("/login", headers=ZH).text
    signed = sign_in(app.test_client(), owner)
    assert signed.post("/language", data={"language": "zh_Hans", "next": "/orders"}).headers["Location"] == "/orders"
    db.session.expire_all()
    assert db.session.get(User, owner.id).language == "zh_Hans"  # kept on the account: every device follows
    other = sign_in(app.test_client(), owner)
    assert 'lang="zh-Hans"' in other.get("/orders").text
    fragment = other.get("/orders", headers=HX).text  # htmx answers in the page's language
    assert "搜索订单" in fragment or "订单" in fragment
    assert other.post("/language", data={"language": "fr"}).status_code == 400


def test_the_cli_follows_lang(app, monkeypatch):
    runner = app.test_cli_runner()
    monkeypatch.setenv("LANG", "zh_CN.UTF-8")
    result = runner.invoke(args=["create-user", "x@example.com", "--role", "owner", "--password", "short"])
    assert result.exit_code == 1 and re.search(r"[\u4e00-\u9fff]", result.output), result.output


@pytest.mark.browser
def test_a_seller_works_in_chinese_in_the_browser(page, live_server, live_db, browser_user):
    """中文 chosen in the header: Confirm shipment, Cancel order and a Partial Refund done by their Chinese labels,
    rows swapped in Chinese; the choice survives signing out and in; English comes back with one press."""
    from conftest import browser_sign_in
    from seller.models import Order, Refund
    page.set_viewport_size({"width": 1280, "height": 900})
    browser_sign_in(page, live_server.url, *browser_user)
    page.get_by_role("button", name="中文").click()
    page.wait_for_selector('html[lang="zh-Hans"]')
    unshipped, to_cancel, shipped = (make_order(s) for s in ("Unshipped", "Unshipped", "Shipped"))

    def row(order):
        page.goto(f"{live_server.url}/orders?q={order.order_id}")
        return page.locator(f'tr[data-order-id="{order.order_id}"]'), page.locator(f"#order-{order.id}-panel")

    def status(order):
        live_db.session.rollback()
        return live_db.session.get(Order, order.id).status

    line, panel = row(unshipped)
    line.get_by_role("button", name="确认发货 (Confirm shipment)").click()
    panel.get_by_label("追踪编码 (Tracking ID)").fill("1Z999AA10123456784")
    panel.get_by_role("button", name="确认发货 (Confirm shipment)").click()
    line.locator(".status-Shipped").wait_for()
    assert "已发货" in line.inner_text() and status(unshipped) == "Shipped"

    line, panel = row(to_cancel)
    line.get_by_role("button", name="取消订单 (Cancel order)").click()
    panel.get_by_label("取消原因 (Reason for cancellation)").select_option("Pricing error")
    panel.get_by_role("button", name="提交 (Submit)").click()
    line.locator(".status-Canceled").wait_for()
    assert "已取消" in line.inner_text() and status(to_cancel) == "Canceled"

    line, panel = row(shipped)
    line.get_by_role("button", name="订单退款 (Refund order)").click()
    panel.get_by_text("部分退款 (Partial Refund)", exact=True).click()
    panel.get_by_label("退款原因 (Reason for refund)").select_option("Pricing Error")
    panel.locator(f'[name="item-{shipped.items[0].id}-item"]').fill("1.50")
    panel.get_by_role("button", name="提交部分退款 (Submit Partial Refund)").click()
    page.locator("#flash").get_by_text(shipped.order_id).wait_for()
    assert re.search(r"[\u4e00-\u9fff]", page.locator("#flash").inner_text())
    live_db.session.rollback()
    assert live_db.session.scalar(select(Refund.total_cents).where(Refund.order_id == shipped.id)) > 0

    page.get_by_role("button", name="退出登录 (Sign out)").click()
    browser_sign_in(page, live_server.url, *browser_user)
    assert page.locator("html").get_attribute("lang") == "zh-Hans"  # kept on the account
    page.get_by_role("button", name="English").click()
    page.wait_for_selector('html[lang="en"]')
    assert page.get_by_role("heading", name="Manage Orders").is_visible()

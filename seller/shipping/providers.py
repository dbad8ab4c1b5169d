"""Where rates and labels come from: EasyPost when `EASYPOST_API_KEY` is set, the demo provider otherwise.

A provider answers two questions, `rates(order, parcel, ship_from, ship_date) -> [Rate]` and
`buy(shipment_ref, rate_id, idempotency_key) -> Purchase`, and can `void` a label it sold. Whatever
goes wrong on its side (a refused address, no rates, a timeout, a refused key) becomes one
`ShippingError` with a message a seller can act on. Providers never touch the database.
EasyPost's client and reportlab are imported when first used: most requests (and every command) need neither.
"""
from __future__ import annotations

import dataclasses
import hashlib
import io
import math
import re
import unicodedata
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_UP, Decimal

from flask import current_app
from itsdangerous import BadSignature, URLSafeSerializer

from ..models import Order, Settings
from ..money import CENT, AmountError, parse_amount
from ..i18n import _, _l

SAMPLE_TEXT = "SAMPLE — NOT VALID FOR MAILING"
# Used when the Settings rate table is empty. One rate a line: carrier, service, price, delivery days;
# the price is a base amount plus an optional amount per pound (each started pound counts).
DEFAULT_DEMO_RATES = """\
USPS, Ground Advantage, 4.85 + 0.45/lb, 3-5 days
USPS, Priority Mail, 8.70 + 0.80/lb, 1-3 days
UPS, Ground, 9.45 + 0.65/lb, 1-5 days
FedEx, Home Delivery, 9.80 + 0.60/lb, 1-5 days
"""
TO_OUNCES = {"oz": Decimal(1), "lb": Decimal(16), "g": Decimal("0.03527396195"), "kg": Decimal("35.27396195")}


class ShippingError(Exception):
    """The provider said no, or could not be reached. Nothing was bought."""

    def __init__(self, message: str, status_code: int = 422):
        super().__init__(message)
        self.message = message
        self.status_code = status_code


@dataclass(frozen=True)
class Parcel:
    weight_oz: Decimal
    length: Decimal  # inches
    width: Decimal
    height: Decimal

    @classmethod
    def of(cls, weight: Decimal, unit: str, length: Decimal, width: Decimal, height: Decimal) -> Parcel:
        ounces = (weight * TO_OUNCES[unit]).quantize(Decimal("0.1"), ROUND_UP)
        return cls(ounces, length, width, height)


@dataclass(frozen=True)
class Address:
    name: str
    street1: str
    street2: str
    city: str
    state: str
    zip: str
    country: str
    phone: str = ""

    def lines(self) -> list[str]:
        return [s for s in (self.name, self.street1, self.street2,
                            f"{self.city}, {self.state} {self.zip}".strip(" ,"),
                            "" if self.country == "US" else self.country) if s]

    def complete(self) -> bool:
        return all((self.name, self.street1, self.city, self.state, self.zip, self.country))

    def latin(self) -> bool:
        """Whether every letter is in Latin script (what carriers' labels and systems need)."""
        return all(not ch.isalpha() or unicodedata.name(ch, "").startswith("LATIN")
                   for ch in "".join(self.lines()))

    def but(self, **changes) -> Address:
        return dataclasses.replace(self, **{k: v for k, v in changes.items() if v})


@dataclass(frozen=True)
class Rate:
    id: str
    carrier: str
    service: str
    price: Decimal
    delivery_days: str  # "3", "3–5" or "" when the carrier does not say
    shipment_ref: str


@dataclass(frozen=True)
class Purchase:
    carrier: str
    service: str
    cost: Decimal
    tracking_id: str
    label_pdf: bytes
    provider_shipment_id: str


def ship_from(cfg: Settings) -> Address:
    """The store's ship-from address (Settings)."""
    return Address(cfg.ship_from_name or cfg.store_name, cfg.ship_from_street1, cfg.ship_from_street2,
                   cfg.ship_from_city, cfg.ship_from_state, cfg.ship_from_zip, cfg.ship_from_country or "US",
                   cfg.ship_from_phone)


def parcel_preset(cfg: Settings) -> tuple[Parcel, dict] | None:
    """The Settings parcel preset (Pack & ship's Buy shipping) as a Parcel and as typed (for the history), or None
    when it is not set."""
    typed = {"weight": cfg.parcel_weight, "weight_unit": cfg.parcel_weight_unit, "length": cfg.parcel_length,
             "width": cfg.parcel_width, "height": cfg.parcel_height}
    try:
        sizes = [Decimal(typed[name]) for name in ("weight", "length", "width", "height")]
        return Parcel.of(sizes[0], typed["weight_unit"], *sizes[1:]), typed
    except (ArithmeticError, KeyError):  # not set (or not numbers)
        return None


def recipient(order: Order) -> Address:
    street2 = " ".join(s for s in (order.ship_address_2, order.ship_address_3) if s)
    return Address(order.recipient_name or order.buyer_name, order.ship_address_1, street2, order.ship_city,
                   order.ship_state, order.ship_postal_code, order.ship_country or "US",
                   order.ship_phone or order.buyer_phone)


def active(cfg: Settings):
    """The provider in use: EasyPost with a key configured, the demo provider without one."""
    config = current_app.config
    if config["EASYPOST_API_KEY"]:
        return EasyPostProvider(config["EASYPOST_API_KEY"], config["EASYPOST_API_BASE"],
                                config["EASYPOST_TIMEOUT"])
    return DemoProvider(cfg.demo_rates, current_app.secret_key)


def buy_return_label(order: Order, cfg: Settings, ship_date: date, key: str) -> tuple[object, Purchase]:
    """Buy return label: a prepaid label for the buyer to send the items back, through the provider in use — the
    order's parcel with from and to swapped (the buyer -> the store's ship-from address), the Settings parcel
    preset, the cheapest rate. Returns (the provider, the purchase)."""
    preset = parcel_preset(cfg)
    if preset is None:
        raise ShippingError("Save the parcel preset (weight and size) in Settings to buy return labels.")
    store = ship_from(cfg)
    if not store.complete():
        raise ShippingError("Enter the ship-from address in Settings: return labels are addressed to it.")
    provider = active(cfg)
    cheapest = provider.rates(order, preset[0], recipient(order), ship_date, to=store)[0]
    return provider, provider.buy(cheapest.shipment_ref, cheapest.id, key)


# ---------------------------------------------------------------- EasyPost

# EasyPost's carrier names, spelled as Amazon's carrier codes where they differ.
EASYPOST_CARRIERS = {"DHLExpress": "DHL", "DhlEcs": "DHL Global Mail", "CanadaPost": "Canada Post",
                     "RoyalMail": "Royal Mail", "AmazonShipping": "Amazon Shipping", "LaserShip": "Lasership",
                     "UPSMailInnovations": "UPS Mail Innovations", "FedExSmartPost": "FedEx SmartPost",
                     "UPSDAP": "UPS", "FedExDefault": "FedEx", "USPSReturns": "USPS"}


def _dollars(amount) -> Decimal:
    """A provider's price ('5.9', '31.25') as dollars and cents."""
    return Decimal(str(amount)).quantize(CENT)


def _words(service: str) -> str:
    """'GroundAdvantage' -> 'Ground Advantage' (EasyPost writes services in CamelCase)."""
    return re.sub(r"(?<=[a-z])(?=[A-Z])", " ", service or "")


@contextmanager
def _easypost_errors():
    """EasyPost's exceptions (and a failed label download) as one ShippingError a seller can act on."""
    import easypost
    import requests
    errors = easypost.errors
    try:
        yield
    except (errors.UnauthorizedError, errors.ForbiddenError):
        raise ShippingError(_("EasyPost refused the API key. Ask the store owner to check EASYPOST_API_KEY."), 503)
    except errors.PaymentError:
        raise ShippingError(_("EasyPost refused the purchase: the account needs funds or a payment method."))
    except (errors.TimeoutError, errors.GatewayTimeoutError):
        raise ShippingError(_("EasyPost did not answer in time. Nothing was bought; try again."), 503)
    except (errors.HttpError, errors.ServiceUnavailableError, errors.InternalServerError, errors.JsonError,
            errors.RateLimitError, requests.RequestException):
        raise ShippingError(_("EasyPost could not be reached. Nothing was bought; try again in a moment."), 503)
    except errors.ApiError as exc:
        fields = "; ".join(f"{e.get('field')}: {e.get('message')}" if isinstance(e, dict) else str(e)
                           for e in exc.errors or [])
        said = exc.message + (f" ({fields})" if fields else "")
        raise ShippingError(_("The address was refused: %(said)s", said=said) if (exc.code or "").startswith("ADDRESS.")
                            else _("EasyPost said: %(said)s", said=said))


class EasyPostProvider:
    """Rates and labels from the carriers of the EasyPost account, through EasyPost's official client."""
    name = "EasyPost"

    def __init__(self, api_key: str, api_base: str = "", timeout: float = 20):
        import easypost
        base = {"api_base": api_base.rstrip("/")} if api_base else {}
        self.client = easypost.EasyPostClient(api_key, timeout=timeout, **base)
        self.timeout = timeout
        self.description = (_l("EasyPost, test mode: labels are not charged and cannot be mailed")
                            if api_key.startswith("EZTK") else _l("EasyPost: real labels, charged to the account"))

    def rates(self, order: Order, parcel: Parcel, ship_from: Address, ship_date: date,
              to: Address | None = None) -> list[Rate]:
        if not ship_from.complete():
            raise ShippingError(_("Enter the ship-from address in Settings before buying shipping."))
        options = {"label_format": "PDF", "label_size": "4x6", "label_date": ship_date.isoformat()}
        with _easypost_errors():
            shipment = self.client.shipment.create(
                from_address=_address(ship_from), to_address=_address(to or recipient(order)),
                reference=order.order_id,
                parcel={"weight": float(parcel.weight_oz), "length": float(parcel.length),
                        "width": float(parcel.width), "height": float(parcel.height)},
                options=options)
        rates = [Rate(r.id, EASYPOST_CARRIERS.get(r.carrier, r.carrier), _words(r.service), _dollars(r.rate),
                      str(r.get("delivery_days") or r.get("est_delivery_days") or ""), shipment.id)
                 for r in shipment.rates or []]
        if not rates:
            why = "; ".join(m.get("message", "") for m in shipment.get("messages") or [])[:300]
            raise ShippingError(_("No carrier offered a rate for this parcel and address.") + " "
                                + (why or _("Check the weight, the size and the address.")))
        return sorted(rates, key=lambda r: (r.price, r.carrier, r.service))

    def buy(self, shipment_ref: str, rate_id: str, idempotency_key: str) -> Purchase:
        """Buy the rate and download its PDF label.

        EasyPost sells a shipment once (`SHIPMENT.POSTAGE.EXISTS` after that): a retry of a purchase
        whose answer was lost gets the label bought the first time. That is EasyPost's idempotency, so
        the key itself is not sent."""
        import easypost
        import requests
        with _easypost_errors():
            try:
                shipment = self.client.shipment.buy(shipment_ref, rate={"id": rate_id})
            except easypost.errors.ApiError as exc:
                if exc.code != "SHIPMENT.POSTAGE.EXISTS":
                    raise
                shipment = self.client.shipment.retrieve(shipment_ref)
            url = shipment.postage_label.get("label_pdf_url")
            if not url:  # the carrier made another format: ask EasyPost for a PDF of it
                url = self.client.shipment.label(shipment.id, file_format="PDF").postage_label.label_pdf_url
            pdf = requests.get(url, timeout=self.timeout).content
        if not pdf.startswith(b"%PDF"):
            raise ShippingError(_("The label was bought but its PDF could not be downloaded. Try again: the same "
                                  "label is fetched again, not bought twice."), 503)
        rate = shipment.selected_rate
        return Purchase(EASYPOST_CARRIERS.get(rate.carrier, rate.carrier), _words(rate.service),
                        _dollars(rate.rate), shipment.tracking_code, pdf, shipment.id)

    def void(self, provider_shipment_id: str) -> None:
        """Ask EasyPost to refund an unused label."""
        with _easypost_errors():
            self.client.shipment.refund(provider_shipment_id)


def _address(a: Address) -> dict:
    return {"name": a.name, "street1": a.street1, "street2": a.street2, "city": a.city, "state": a.state,
            "zip": a.zip, "country": a.country, "phone": a.phone}


# ---------------------------------------------------------------- the demo provider

_RATE_LINE = re.compile(r"(?P<base>[^+/]+?)\s*(?:\+\s*(?P<per>[^+/]+?)\s*/\s*lb)?")
_DAYS = re.compile(r"(?P<low>\d{1,2})(?:\s*[-–]\s*(?P<high>\d{1,2}))?(?:\s*days?)?", re.I)


@dataclass(frozen=True)
class DemoRate:
    carrier: str
    service: str
    base: Decimal
    per_lb: Decimal
    days: str

    def price(self, parcel: Parcel) -> Decimal:
        pounds = max(1, math.ceil(parcel.weight_oz / 16))
        return self.base + self.per_lb * pounds


def parse_rate_table(text: str) -> list[DemoRate]:
    """The Settings rate table, one rate a line: `carrier, service, 4.85 + 0.45/lb, 3-5 days`.

    Blank lines and lines starting with # are skipped; the days are optional. Raises ValueError
    naming the line that is wrong."""
    rates = []
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        parts = [p.strip() for p in line.split(",")]
        if len(parts) not in (3, 4) or not all(parts[:3]):
            raise ValueError(_("Line %(line)s: write carrier, service, price, days "
                               "(e.g. USPS, Ground Advantage, 4.85 + 0.45/lb, 3-5 days).", line=number))
        price = _RATE_LINE.fullmatch(parts[2])
        try:
            if not price:
                raise AmountError
            base, per = parse_amount(price["base"]), parse_amount(price["per"] or "0")
        except AmountError:
            raise ValueError(_("Line %(line)s: write the price as 4.85 or 4.85 + 0.45/lb.", line=number)) from None
        days = _DAYS.fullmatch(parts[3]) if len(parts) == 4 and parts[3] else None
        if len(parts) == 4 and parts[3] and not days:
            raise ValueError(_("Line %(line)s: write the delivery days as 3 or 3-5 days.", line=number))
        span = "" if not days else days["low"] + (f"–{days['high']}" if days["high"] else "")
        rates.append(DemoRate(parts[0], parts[1], base, per, span))
    return rates


def demo_tracking_id(carrier: str, key: str) -> str:
    """A made-up tracking ID in the carrier's published format, the same for the same purchase."""
    digits = str(int(hashlib.sha256(key.encode()).hexdigest(), 16))
    if carrier == "USPS":
        return "9400" + digits[:18]
    if carrier == "UPS":
        return "1Z" + hashlib.sha256(key.encode()).hexdigest()[:16].upper()
    if carrier == "FedEx":
        return digits[:12]
    if carrier == "DHL":
        return digits[:10]
    return "DEMO" + digits[:12]


class DemoProvider:
    """Rates from the Settings table; labels marked SAMPLE. For demos and sellers without a provider account.

    Like a real provider it keeps the quoted shipment on its side: here in the signed `shipment_ref`,
    so a purchase is for exactly what was shown and cannot be edited in the page."""
    name = "Demo"
    description = _l("Demo provider: rates from the table in Settings, sample labels that cannot be mailed")

    def __init__(self, table: str, secret: str):
        self.table = table
        self.signer = URLSafeSerializer(secret, salt="seller-desk-demo-shipment")

    def rates(self, order: Order, parcel: Parcel, ship_from: Address, ship_date: date,
              to: Address | None = None) -> list[Rate]:
        try:
            table = parse_rate_table(self.table.strip() or DEFAULT_DEMO_RATES)
        except ValueError as exc:
            raise ShippingError(_("The demo rate table in Settings has a mistake. %(mistake)s", mistake=exc)) from None
        if not table:
            raise ShippingError(_("The demo rate table in Settings has no rates."))
        quoted = [[r.carrier, r.service, str(r.price(parcel)), r.days] for r in table]
        ref = self.signer.dumps({"order": order.order_id, "to": (to or recipient(order)).lines(),
                                 "from": ship_from.lines(), "oz": str(parcel.weight_oz),
                                 "date": ship_date.isoformat(), "rates": quoted})
        rates = [Rate(str(i), c, s, _dollars(p), d, ref) for i, (c, s, p, d) in enumerate(quoted)]
        return sorted(rates, key=lambda r: (r.price, r.carrier, r.service))

    def buy(self, shipment_ref: str, rate_id: str, idempotency_key: str) -> Purchase:
        try:
            shipment = self.signer.loads(shipment_ref)
            carrier, service, price, _days = shipment["rates"][int(rate_id)]
        except (BadSignature, ValueError, IndexError, KeyError, TypeError):
            raise ShippingError(_("These rates are no longer valid. Get rates again.")) from None
        tracking = demo_tracking_id(carrier, idempotency_key)
        pdf = sample_label(shipment, carrier, service, tracking)
        return Purchase(carrier, service, _dollars(price), tracking, pdf, "demo-" + idempotency_key[:24])

    def void(self, provider_shipment_id: str) -> None:
        """Nothing was charged for a sample label."""


def _fit(text: str, font: str, size: float, width: float) -> float:
    """The largest font size up to `size` at which `text` fits in `width` points."""
    from reportlab.pdfbase.pdfmetrics import stringWidth
    return min(size, size * width / stringWidth(text, font, size))


def sample_label(shipment: dict, carrier: str, service: str, tracking: str) -> bytes:
    """A 4×6 in label laid out like a carrier's, that says in large type it cannot be mailed."""
    from reportlab.graphics.barcode.code128 import Code128
    from reportlab.lib.pagesizes import inch
    from reportlab.pdfgen.canvas import Canvas
    buf = io.BytesIO()
    w, h = 4 * inch, 6 * inch
    c = Canvas(buf, pagesize=(w, h), pageCompression=1)
    c.setTitle(f"{carrier} {service} {tracking} — {SAMPLE_TEXT}")
    m = 0.15 * inch
    # Banner
    c.setFillColorRGB(0, 0, 0)
    c.rect(0, h - 0.75 * inch, w, 0.75 * inch, stroke=0, fill=1)
    c.setFillColorRGB(1, 1, 1)
    c.setFont("Helvetica-Bold", _fit(SAMPLE_TEXT, "Helvetica-Bold", 24, w - 2 * m))
    c.drawCentredString(w / 2, h - 0.48 * inch, SAMPLE_TEXT)
    c.setFillColorRGB(0, 0, 0)
    # From, then carrier and service
    y = h - 0.95 * inch
    for line in ["FROM:"] + shipment["from"]:
        c.setFont("Helvetica", _fit(line, "Helvetica", 7.5, w / 2))
        c.drawString(m, y, line)
        y -= 9
    c.setFont("Helvetica-Bold", 8)
    c.drawRightString(w - m, h - 0.95 * inch, f"Ship date {shipment['date']}")
    c.drawRightString(w - m, h - 0.95 * inch - 10, f"{Decimal(shipment['oz']) / 16:.2f} lb")
    y -= 6
    c.setLineWidth(2)
    c.line(0, y, w, y)
    heading = f"{carrier} {service}".upper()
    c.setFont("Helvetica-Bold", _fit(heading, "Helvetica-Bold", 18, w - 2 * m))
    c.drawString(m, y - 22, heading)
    y -= 32
    c.line(0, y, w, y)
    # Ship to
    y -= 16
    c.setFont("Helvetica-Bold", 9)
    c.drawString(m, y, "SHIP TO:")
    for line in shipment["to"]:
        y -= 15
        c.setFont("Helvetica-Bold", _fit(line, "Helvetica-Bold", 12, w - 2 * m - 0.45 * inch))
        c.drawString(m + 0.45 * inch, y, line)
    # Stamped again in the room left between the address and the barcode
    top, bottom = y - 10, 2.05 * inch + 6
    big = max(12, min(46, (top - bottom) * 0.62))
    c.setFillColorRGB(0.6, 0.6, 0.6)
    c.setFont("Helvetica-Bold", big)
    c.drawCentredString(w / 2, top - big * 0.78, "SAMPLE")
    c.setFont("Helvetica-Bold", big / 3)
    c.drawCentredString(w / 2, top - big * 0.78 - big * 0.42, "NOT VALID FOR MAILING")
    c.setFillColorRGB(0, 0, 0)
    # Tracking barcode
    y = 1.7 * inch
    c.line(0, y + 0.35 * inch, w, y + 0.35 * inch)
    c.setFont("Helvetica-Bold", 9)
    c.drawCentredString(w / 2, y + 0.18 * inch, f"{carrier.upper()} TRACKING #")
    barcode = Code128(tracking, barHeight=0.75 * inch, barWidth=1.0, quiet=False)
    scale = min(1.0, (w - 2 * m) / barcode.width)
    barcode = Code128(tracking, barHeight=0.75 * inch, barWidth=scale, quiet=False)
    barcode.drawOn(c, (w - barcode.width) / 2, y - 0.75 * inch)
    c.setFont("Courier-Bold", 11)
    spaced = " ".join(tracking[i:i + 4] for i in range(0, len(tracking), 4))
    c.drawCentredString(w / 2, y - 0.95 * inch, spaced)
    c.setFont("Helvetica", 7.5)
    c.drawString(m, 0.2 * inch, f"Order {shipment['order']}")
    c.drawRightString(w - m, 0.2 * inch, "Seller Desk demo provider")
    c.showPage()
    c.save()
    return buf.getvalue()

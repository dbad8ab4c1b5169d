"""Amazon's Selling Partner API through Amazon's own SDK (`amzn-sp-api`, README "Amazon connection"): its
generated API classes and models build every request; this module adds what a desk needs around them.

- Login with Amazon: the access token is fetched from `AMAZON_LWA_TOKEN_URL` with a timeout, kept until a minute
  before it expires, and fetched again when Amazon says it expired (the SDK's own fetcher has no timeout and
  sleeps 14 s on a failure).
- Rate limits: a 429 waits for `Retry-After` (or the `x-amzn-RateLimit-Limit` rate), then retries; 500/503
  retry a few times with back-off; a request that cannot get through raises `Unavailable`, a 4xx `Refused`.
- `NextToken` pages are followed; buyer and address data come with a restricted data token.
- Nothing secret is logged: errors carry Amazon's message, never a header or a token.
"""
from __future__ import annotations

import gzip
import hashlib
import json
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Callable

import requests
import urllib3
from spapi.api.feeds_v2021_06_30.feeds_api import FeedsApi
from spapi.api.orders_v0.orders_v0_api import OrdersV0Api
from spapi.api.sellers_v1.sellers_api import SellersApi
from spapi.api.tokens_v2021_03_01.tokens_api import TokensApi
from spapi.api_client import ApiClient
from spapi.configuration import Configuration
from spapi.models.feeds_v2021_06_30 import CreateFeedDocumentSpecification, CreateFeedSpecification
from spapi.models.orders_v0 import ConfirmShipmentOrderItem, ConfirmShipmentRequest, PackageDetail
from spapi.models.tokens_v2021_03_01 import CreateRestrictedDataTokenRequest, RestrictedResource
from spapi.rest import ApiException

from ..i18n import _

NA_ENDPOINT = "https://sellingpartnerapi-na.amazon.com"
LWA_TOKEN_URL = "https://api.amazon.com/auth/o2/token"
ORDERS_PATH = "/orders/v0/orders"
PII = ["buyerInfo", "shippingAddress"]


class AmazonError(Exception):
    """Amazon did not do what was asked; `message` says why, in Amazon's words where it gave some."""

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.message, self.status = message, status


class Refused(AmazonError):
    """Amazon answered no (4xx): sending the same again will not help."""


class Unavailable(AmazonError):
    """Amazon could not be reached or was busy (network, 429, 5xx): try again later."""


@dataclass
class Credentials:
    client_id: str
    client_secret: str
    refresh_token: str
    marketplace_id: str


_tokens: dict[str, tuple[str, float]] = {}  # LWA access tokens by credentials' fingerprint: (token, good until)
_tokens_lock = threading.Lock()


class _Token:
    """The SDK's `access_token_cache` interface: `get_lwa_access_token()`."""

    def __init__(self, sp: SellingPartner, fixed: str | None = None):
        self.sp, self.fixed = sp, fixed

    def get_lwa_access_token(self) -> str:
        return self.fixed or self.sp.access_token()


class SellingPartner:
    def __init__(self, creds: Credentials, endpoint: str = NA_ENDPOINT, token_url: str = LWA_TOKEN_URL, *,
                 timeout: float = 20, max_wait: float = 60, sleep: Callable[[float], None] | None = None):
        self.creds, self.endpoint, self.token_url = creds, endpoint.rstrip("/"), token_url
        self.timeout, self.max_wait = timeout, max_wait
        self.sleep = sleep or (lambda seconds: time.sleep(seconds))
        self._key = hashlib.sha256(f"{token_url}\n{creds.client_id}\n{creds.client_secret}\n{creds.refresh_token}".encode()).hexdigest()
        self.api = self._client(_Token(self))

    def _client(self, token: _Token) -> ApiClient:
        config = Configuration()
        config.host, config.access_token_cache = self.endpoint, None
        api = ApiClient(configuration=config)
        config.access_token_cache = token  # asked at each call (not at construction: no request before one is made)
        return api

    # ------------------------------------------------------------ Login with Amazon

    def access_token(self, fresh: bool = False) -> str:
        with _tokens_lock:
            known = _tokens.get(self._key)
            if known and not fresh and time.monotonic() < known[1]:
                return known[0]
        try:
            answer = requests.post(self.token_url, timeout=self.timeout, data={
                "grant_type": "refresh_token", "refresh_token": self.creds.refresh_token,
                "client_id": self.creds.client_id, "client_secret": self.creds.client_secret})
        except requests.RequestException as exc:
            raise Unavailable(_("Login with Amazon could not be reached (%(error)s).", error=type(exc).__name__)) from None
        if answer.status_code >= 500:
            raise Unavailable(_("Login with Amazon answered %(status)s.", status=answer.status_code), answer.status_code)
        try:
            body = answer.json()
        except ValueError:
            body = {}
        if answer.status_code != 200 or "access_token" not in body:
            reason = body.get("error_description") or body.get("error") or f"HTTP {answer.status_code}"
            raise Refused(_("Login with Amazon refused the LWA client ID, client secret or refresh token: %(reason)s",
                            reason=reason),
                          answer.status_code)
        with _tokens_lock:
            _tokens[self._key] = (body["access_token"], time.monotonic() + int(body.get("expires_in", 3600)) - 60)
        return body["access_token"]

    # ------------------------------------------------------------ every call

    def call(self, method, *args, **kwargs):
        """One SDK call with the retries above; returns what the SDK returns."""
        waited, tries, renewed = 0.0, 0, False
        while True:
            tries += 1
            try:
                return method(*args, _request_timeout=self.timeout, **kwargs)
            except ApiException as exc:
                status, message = exc.status or 0, _message(exc)
                if status == 403 and "expired" in message.lower() and not renewed:
                    renewed = True
                    self.access_token(fresh=True)
                    continue
                if status == 429 or status >= 500:
                    pause = _pause(exc, tries)
                    if status >= 500 and tries >= 3 or waited + pause > self.max_wait:
                        raise Unavailable(_busy(status, message), status) from None
                    waited += pause
                    self.sleep(pause)
                    continue
                raise Refused(message, status) from None
            except (urllib3.exceptions.HTTPError, OSError) as exc:
                raise Unavailable(_("Amazon could not be reached (%(error)s).", error=type(exc).__name__)) from None
            except ValueError as exc:  # the SDK checks Amazon's answer against the model
                raise Unavailable(_("Amazon's answer could not be read: %(error)s", error=str(exc))) from None

    # ------------------------------------------------------------ what the desk asks

    def marketplaces(self) -> list[tuple[str, str]]:
        """The marketplaces this seller sells in: (id, name)."""
        answer = self.call(SellersApi(self.api).get_marketplace_participations)
        return [(p.marketplace.id, p.marketplace.name) for p in answer.payload or []]

    def payload(self, method, *args, **kwargs) -> dict:
        """A read's `payload` as Amazon's JSON (its own field names): the SDK sends the request, but building its
        model objects costs more than the request itself (each makes a Configuration)."""
        answer = self.call(method, *args, _preload_content=False, **kwargs)
        try:
            return json.loads(answer.data)["payload"]
        except (ValueError, KeyError, TypeError):
            raise Unavailable(_("Amazon's answer could not be read.")) from None

    def orders_updated_since(self, since: datetime):
        """Every seller-fulfilled order updated since `since` (Amazon's JSON), page after page, buyer and address
        included (one restricted data token for the list)."""
        rdt = self.restricted_token([("GET", ORDERS_PATH, PII)])
        orders = OrdersV0Api(self._client(_Token(self, rdt)))
        after = since.replace(tzinfo=timezone.utc).isoformat().replace("+00:00", "Z")
        page = self.payload(orders.get_orders, [self.creds.marketplace_id], last_updated_after=after,
                            fulfillment_channels=["MFN"])
        while True:
            yield from page.get("Orders") or []
            if not page.get("NextToken"):
                return
            page = self.payload(orders.get_orders, [self.creds.marketplace_id], next_token=page["NextToken"])

    def order_items(self, order_id: str) -> list[dict]:
        """An order's items (Amazon's JSON), every page."""
        api, items, token = OrdersV0Api(self.api), [], None
        while True:
            page = self.payload(api.get_order_items, order_id, **({"next_token": token} if token else {}))
            items += page.get("OrderItems") or []
            token = page.get("NextToken")
            if not token:
                return items

    def restricted_token(self, resources: list[tuple[str, str, list[str]]]) -> str:
        body = CreateRestrictedDataTokenRequest(restricted_resources=[
            RestrictedResource(method=m, path=p, data_elements=d) for m, p, d in resources])
        return self.call(TokensApi(self.api).create_restricted_data_token, body).restricted_data_token

    def confirm_shipment(self, order_id: str, package: dict) -> None:
        """One package of a shipment (`package`: packageReferenceId, carrierCode, carrierName, shippingMethod,
        trackingNumber, shipDate, orderItems [{orderItemId, quantity}])."""
        detail = PackageDetail(
            package_reference_id=package["packageReferenceId"], carrier_code=package["carrierCode"],
            carrier_name=package.get("carrierName") or None, shipping_method=package.get("shippingMethod") or None,
            tracking_number=package["trackingNumber"], ship_date=package["shipDate"],
            order_items=[ConfirmShipmentOrderItem(order_item_id=i["orderItemId"], quantity=i["quantity"])
                         for i in package["orderItems"]])
        self.call(OrdersV0Api(self.api).confirm_shipment, order_id,
                  ConfirmShipmentRequest(package_detail=detail, marketplace_id=self.creds.marketplace_id))

    # ------------------------------------------------------------ feeds

    def feed_document(self, content_type: str) -> tuple[str, str]:
        """A new feed document: (feedDocumentId, upload URL)."""
        answer = self.call(FeedsApi(self.api).create_feed_document,
                           CreateFeedDocumentSpecification(content_type=content_type))
        return answer.feed_document_id, answer.url

    def upload(self, url: str, content: bytes, content_type: str) -> None:
        try:
            answer = requests.put(url, data=content, headers={"Content-Type": content_type}, timeout=self.timeout)
        except requests.RequestException as exc:
            raise Unavailable(_("The feed could not be uploaded (%(error)s).", error=type(exc).__name__)) from None
        if answer.status_code >= 300:
            raise Unavailable(_("The feed upload answered %(status)s.", status=answer.status_code), answer.status_code)

    def create_feed(self, feed_type: str, document_id: str) -> str:
        return self.call(FeedsApi(self.api).create_feed, CreateFeedSpecification(
            feed_type=feed_type, marketplace_ids=[self.creds.marketplace_id],
            input_feed_document_id=document_id)).feed_id

    def feed(self, feed_id: str) -> dict:
        return self.call(FeedsApi(self.api).get_feed, feed_id).to_dict()

    def feeds_since(self, feed_type: str, since: datetime) -> list[dict]:
        after = since.replace(tzinfo=timezone.utc).isoformat().replace("+00:00", "Z")
        answer = self.call(FeedsApi(self.api).get_feeds, feed_types=[feed_type], created_since=after)
        return [feed.to_dict() for feed in answer.feeds or []]

    def document(self, document_id: str) -> bytes:
        """A feed document's content (the processing report), unzipped."""
        doc = self.call(FeedsApi(self.api).get_feed_document, document_id)
        try:
            answer = requests.get(doc.url, timeout=self.timeout)
        except requests.RequestException as exc:
            raise Unavailable(_("The processing report could not be downloaded (%(error)s).", error=type(exc).__name__)) from None
        if answer.status_code != 200:
            raise Unavailable(_("The processing report download answered %(status)s.", status=answer.status_code),
                              answer.status_code)
        return gzip.decompress(answer.content) if doc.compression_algorithm == "GZIP" else answer.content


def _message(exc: ApiException) -> str:
    """Amazon's own words from an error answer (its `errors` list), else the HTTP status."""
    try:
        errors = json.loads(exc.body or b"{}").get("errors") or []
    except (ValueError, AttributeError):
        errors = []
    text = "; ".join(" ".join(filter(None, [e.get("message"), e.get("details")])) for e in errors if isinstance(e, dict))
    return text or f"HTTP {exc.status} {exc.reason or ''}".strip()


def _pause(exc: ApiException, tries: int) -> float:
    """How long to wait before trying again: Retry-After, else one request's share of the rate limit, else 2^n."""
    headers = exc.headers or {}
    for name, scale in (("Retry-After", 1.0), ("x-amzn-RateLimit-Limit", -1.0)):
        value = headers.get(name)
        try:
            number = float(value)
        except (TypeError, ValueError):
            continue
        if number > 0:
            return min(number if scale > 0 else 1 / number, 60.0)
    return float(min(2 ** tries, 30))


def _busy(status: int, message: str) -> str:
    if status == 429:
        return _("Amazon is throttling requests (429): %(message)s", message=message)
    return _("Amazon answered %(status)s: %(message)s", status=status, message=message)

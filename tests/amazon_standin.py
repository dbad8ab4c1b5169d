"""A stand-in for Amazon's Selling Partner API and Login with Amazon, on 127.0.0.1 (tests never reach Amazon).

It answers the operations the desk uses with Amazon's published shapes and checks every JSON request body
against Amazon's own models (tests/amazon_models/, Apache-2.0, from amzn/selling-partner-api-models): a body that
does not fit is answered 400 as Amazon would, and kept in `invalid` so a test can fail on it. Feeds' XML is read
message by message. It can be told to answer 429 with Retry-After, 500, an expired token, a refusal, or a
processing report with errors.
"""
from __future__ import annotations

import gzip
import itertools
import json
import re
import socket
import threading
import time
import xml.etree.ElementTree as ET
from collections import Counter
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from jsonschema import Draft4Validator

MODELS = Path(__file__).parent / "amazon_models"


def _validator(model: str, definition: str) -> Draft4Validator:
    doc = json.loads((MODELS / model).read_text())
    return Draft4Validator({"$ref": f"#/definitions/{definition}", "definitions": doc["definitions"]})


SCHEMAS = {
    "confirmShipment": _validator("ordersV0.json", "ConfirmShipmentRequest"),
    "createRestrictedDataToken": _validator("tokens_2021-03-01.json", "CreateRestrictedDataTokenRequest"),
    "createFeedDocument": _validator("feeds_2021-06-30.json", "CreateFeedDocumentSpecification"),
    "createFeed": _validator("feeds_2021-06-30.json", "CreateFeedSpecification"),
}


def iso(moment: datetime) -> str:
    return moment.replace(tzinfo=timezone.utc).isoformat().replace("+00:00", "Z")


class AmazonStandIn:
    def __init__(self, client_id="amzn1.application-oa2-client.test", client_secret="lwa-secret",
                 refresh_token="Atzr|refresh", marketplaces=(("ATVPDKIKX0DER", "Amazon.com"),)):
        self.client_id, self.client_secret, self.refresh_token = client_id, client_secret, refresh_token
        self.marketplaces = list(marketplaces)
        self.orders: dict[str, dict] = {}  # AmazonOrderId -> Order (Amazon's JSON), with "_items", "_buyer", "_address"
        self.lock = threading.Lock()
        self.tokens: set[str] = set()
        self.rdts: dict[str, list] = {}
        self._ids = itertools.count(1)
        self.faults: list[dict] = []  # {"path": regex, "status": int, "retry_after": s, "count": n, "message": str}
        self.expire_next = 0  # so many next calls answer "The access token you provided has expired."
        self.invalid: list[tuple[str, str]] = []  # (operation, the validation error)
        self.calls = Counter()
        self.packages: dict[tuple[str, str], dict] = {}  # (order, packageReferenceId) -> the request
        self.confirm_requests = Counter()  # (order, packageReferenceId) -> how many requests
        self.documents: dict[str, bytes] = {}
        self.feeds: dict[str, dict] = {}
        self.feed_messages: list[tuple[str, str, str, ET.Element]] = []  # (feed type, feed id, order, message)
        self.message_errors: dict[str, str] = {}  # AmazonOrderID -> the processing report's error for it
        self.refuse_confirm: dict[str, str] = {}  # AmazonOrderID -> 400 message for confirmShipment
        self.polls_before_done = 1
        self.page_size = 100  # orders a getOrders page
        self.delay = 0.0  # seconds each answer takes (so that a test can stop a worker in the middle)

    # ------------------------------------------------------------ server

    def start(self):
        standin = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def setup(self):
                super().setup()
                self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # no 40 ms delayed-ACK stalls

            def _answer(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                if standin.delay:
                    time.sleep(standin.delay)
                status, headers, payload = standin.handle(self.command, self.path, dict(self.headers), body)
                data = payload if isinstance(payload, bytes) else json.dumps(payload).encode() if payload is not None \
                    else b""
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                if "Content-Type" not in headers:
                    self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_DELETE = _answer

        class Server(ThreadingHTTPServer):
            def handle_error(self, request, client_address):  # a client killed mid-request: nothing to say
                pass

        self.server = Server(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        return self

    def stop(self):
        self.server.shutdown()
        self.server.server_close()

    # ------------------------------------------------------------ arranging

    def add_order(self, order_id: str, *, status="Unshipped", purchased: datetime, updated: datetime | None = None,
                  latest_ship: datetime | None = None, items=(), buyer=None, address=None, total="0.00"):
        """items: dicts with OrderItemId, SellerSKU, Title, QuantityOrdered and ItemPrice/ItemTax/ShippingPrice/
        ShippingTax amounts as text (or None for none)."""
        order = {"AmazonOrderId": order_id, "PurchaseDate": iso(purchased), "LastUpdateDate": iso(updated or purchased),
                 "OrderStatus": status, "FulfillmentChannel": "MFN", "ShipmentServiceLevelCategory": "Standard",
                 "OrderTotal": {"CurrencyCode": "USD", "Amount": total}, "MarketplaceId": self.marketplaces[0][0],
                 "IsBusinessOrder": False}
        if latest_ship:
            order["LatestShipDate"] = iso(latest_ship)
        order["_items"] = [self._item(i) for i in items]
        order["_buyer"] = buyer or {}
        order["_address"] = address or {}
        with self.lock:
            self.orders[order_id] = order
        return order

    @staticmethod
    def _item(item: dict) -> dict:
        out = {"ASIN": item.get("ASIN", "B000TEST00"), "OrderItemId": item["OrderItemId"],
               "SellerSKU": item["SellerSKU"], "Title": item.get("Title", ""),
               "QuantityOrdered": item.get("QuantityOrdered", 1)}
        for name in ("ItemPrice", "ItemTax", "ShippingPrice", "ShippingTax"):
            if item.get(name) is not None:
                out[name] = {"CurrencyCode": "USD", "Amount": item[name]}
        return out

    def fail(self, path: str, status: int, *, count: int = 1, retry_after: str | None = None,
             message: str = "Something went wrong"):
        self.faults.append({"path": path, "status": status, "count": count, "retry_after": retry_after,
                            "message": message})

    # ------------------------------------------------------------ answering

    def handle(self, method: str, raw_path: str, headers: dict, body: bytes):
        url = urlsplit(raw_path)
        path, query = url.path, {k: v for k, v in parse_qs(url.query).items()}
        with self.lock:
            self.calls[(method, re.sub(r"(/v0/orders|/feeds|/documents|/upload|/download)/[^/]+", r"\1/{id}", path))] += 1
            if path == "/auth/o2/token":
                return self._token(body)
            if path.startswith("/upload/"):
                self.documents[path.rsplit("/", 1)[1]] = body
                return 200, {}, None
            if path.startswith("/download/"):
                return 200, {"Content-Type": "application/octet-stream"}, self.documents[path.rsplit("/", 1)[1]]
            for fault in self.faults:
                if fault["count"] > 0 and re.search(fault["path"], path):
                    fault["count"] -= 1
                    extra = {"Retry-After": fault["retry_after"]} if fault["retry_after"] else {}
                    return fault["status"], extra, _errors("QuotaExceeded" if fault["status"] == 429
                                                           else "InternalFailure", fault["message"])
            token = headers.get("x-amz-access-token") or headers.get("X-Amz-Access-Token") or ""
            if self.expire_next:
                self.expire_next -= 1
                self.tokens.discard(token)
                return 403, {}, _errors("Unauthorized", "Access to requested resource is denied.",
                                        "The access token you provided has expired.")
            if token not in self.tokens and token not in self.rdts:
                return 403, {}, _errors("Unauthorized", "Access to requested resource is denied.",
                                        "The access token you provided is revoked, malformed or invalid.")
            try:
                payload = json.loads(body) if body else None
            except ValueError:
                return 400, {}, _errors("InvalidInput", "The request body is not JSON.")
            return self._route(method, path, query, payload, token)

    def _token(self, body: bytes):
        form = {k: v[0] for k, v in parse_qs(body.decode()).items()}
        if (form.get("grant_type") != "refresh_token" or form.get("client_id") != self.client_id
                or form.get("client_secret") != self.client_secret or form.get("refresh_token") != self.refresh_token):
            return 401, {}, {"error": "invalid_client", "error_description": "Client authentication failed"}
        token = f"Atza|{next(self._ids)}"
        self.tokens.add(token)
        return 200, {}, {"access_token": token, "refresh_token": self.refresh_token, "token_type": "bearer",
                         "expires_in": 3600}

    def _check(self, operation: str, payload):
        errors = sorted(SCHEMAS[operation].iter_errors(payload), key=str)
        if errors:
            self.invalid.append((operation, errors[0].message))
            return 400, {}, _errors("InvalidInput", f"{operation}: {errors[0].message}")
        return None

    def _route(self, method, path, query, payload, token):
        m = re.fullmatch(r"/orders/v0/orders/([^/]+)/(orderItems|address|buyerInfo|shipmentConfirmation)", path)
        if path == "/sellers/v1/marketplaceParticipations" and method == "GET":
            return 200, {}, {"payload": [{"marketplace": {"id": mid, "name": name, "countryCode": "US",
                                                          "defaultCurrencyCode": "USD", "defaultLanguageCode": "en_US",
                                                          "domainName": "www.amazon.com"},
                                          "participation": {"isParticipating": True, "hasSuspendedListings": False},
                                          "storeName": "Test Store"}
                                         for mid, name in self.marketplaces]}
        if path == "/tokens/2021-03-01/restrictedDataToken" and method == "POST":
            return self._check("createRestrictedDataToken", payload) or self._rdt(payload)
        if path == "/orders/v0/orders" and method == "GET":
            return self._orders(query, token)
        if m and method == "GET":
            order = self.orders.get(m.group(1))
            if order is None:
                return 404, {}, _errors("NotFound", "Order not found.")
            if m.group(2) == "orderItems":
                return 200, {"x-amzn-RateLimit-Limit": "0.5"}, {"payload": {
                    "AmazonOrderId": order["AmazonOrderId"], "OrderItems": order["_items"]}}
            if token not in self.rdts:
                return 403, {}, _errors("Unauthorized", "This operation needs a restricted data token.")
            if m.group(2) == "address":
                return 200, {}, {"payload": {"AmazonOrderId": order["AmazonOrderId"],
                                             "ShippingAddress": order["_address"]}}
            return 200, {}, {"payload": {"AmazonOrderId": order["AmazonOrderId"], **order["_buyer"]}}
        if m and m.group(2) == "shipmentConfirmation" and method == "POST":
            return self._check("confirmShipment", payload) or self._confirm(m.group(1), payload)
        if path == "/feeds/2021-06-30/documents" and method == "POST":
            if refused := self._check("createFeedDocument", payload):
                return refused
            doc = f"amzn1.tortuga.4.na.{next(self._ids)}"
            return 201, {}, {"feedDocumentId": doc, "url": f"{self.url}/upload/{doc}"}
        if path == "/feeds/2021-06-30/feeds" and method == "POST":
            return self._check("createFeed", payload) or self._create_feed(payload)
        if path == "/feeds/2021-06-30/feeds" and method == "GET":
            since = query.get("createdSince", [""])[0]
            types = set(",".join(query.get("feedTypes", [])).split(","))
            feeds = [self._feed_json(f) for f in self.feeds.values()
                     if f["feedType"] in types and f["createdTime"] >= since]
            return 200, {}, {"feeds": feeds}
        if (m := re.fullmatch(r"/feeds/2021-06-30/feeds/([^/]+)", path)) and method == "GET":
            feed = self.feeds.get(m.group(1))
            if feed is None:
                return 404, {}, _errors("NotFound", "Feed not found.")
            feed["_polls"] += 1
            if feed["_polls"] >= self.polls_before_done and feed["processingStatus"] != "DONE":
                self._process(feed)
            return 200, {}, self._feed_json(feed)
        if (m := re.fullmatch(r"/feeds/2021-06-30/documents/([^/]+)", path)) and method == "GET":
            if m.group(1) not in self.documents:
                return 404, {}, _errors("NotFound", "Document not found.")
            return 200, {}, {"feedDocumentId": m.group(1), "url": f"{self.url}/download/{m.group(1)}",
                             "compressionAlgorithm": "GZIP"}
        return 404, {}, _errors("NotFound", f"No operation {method} {path}.")

    def _rdt(self, payload):
        token = f"Atz.sprdt|{next(self._ids)}"
        self.rdts[token] = payload["restrictedResources"]
        return 200, {}, {"restrictedDataToken": token, "expiresIn": 3600}

    def _orders(self, query, token):
        pii = {e for r in self.rdts.get(token, []) if r["path"] == "/orders/v0/orders" for e in r.get("dataElements", [])}
        if "NextToken" in query:
            after, start = json.loads(query["NextToken"][0])
        else:
            if query.get("MarketplaceIds", [""])[0] not in {m for m, _ in self.marketplaces}:
                return 400, {}, _errors("InvalidInput", "Invalid Marketplace ID.")
            after, start = query["LastUpdatedAfter"][0], 0
        matching = sorted((o for o in self.orders.values() if o["LastUpdateDate"] >= after),
                          key=lambda o: (o["LastUpdateDate"], o["AmazonOrderId"]))
        page = []
        for order in matching[start:start + self.page_size]:
            shown = {k: v for k, v in order.items() if not k.startswith("_")}
            if "buyerInfo" in pii:
                shown["BuyerInfo"] = order["_buyer"]
            if "shippingAddress" in pii and order["OrderStatus"] not in ("Pending", "PendingAvailability"):
                shown["ShippingAddress"] = order["_address"]
            page.append(shown)
        answer = {"Orders": page}
        if start + self.page_size < len(matching):
            answer["NextToken"] = json.dumps([after, start + self.page_size])
        return 200, {"x-amzn-RateLimit-Limit": "0.0167"}, {"payload": answer}

    def _confirm(self, order_id, payload):
        if order_id in self.refuse_confirm:
            return 400, {}, _errors("InvalidInput", self.refuse_confirm[order_id])
        order = self.orders.get(order_id)
        if order is None:
            return 404, {}, _errors("NotFound", "Order not found.")
        key = (order_id, str(payload["packageDetail"]["packageReferenceId"]))
        self.confirm_requests[key] += 1
        self.packages[key] = payload  # the same package reference ID is the same package: it is updated
        order["OrderStatus"] = "Shipped"
        return 204, {}, None

    def _create_feed(self, payload):
        doc = payload["inputFeedDocumentId"]
        if doc not in self.documents:
            return 400, {}, _errors("InvalidInput", "The feed document was not uploaded.")
        feed_id = str(50000 + next(self._ids))
        self.feeds[feed_id] = {"feedId": feed_id, "feedType": payload["feedType"], "marketplaceIds": payload[
            "marketplaceIds"], "createdTime": iso(datetime.now(timezone.utc).replace(tzinfo=None)),
            "processingStatus": "IN_QUEUE", "_doc": doc, "_polls": 0}
        return 202, {}, {"feedId": feed_id}

    @staticmethod
    def _feed_json(feed):
        return {k: v for k, v in feed.items() if not k.startswith("_")}

    def _process(self, feed):
        """Read the uploaded XML, record each message, and write the processing report."""
        results, processed = [], 0
        try:
            root = ET.fromstring(self.documents[feed["_doc"]])
            messages = root.findall("Message")
        except ET.ParseError as exc:
            messages, results = [], [("0", "Error", f"The XML is not well-formed: {exc}", "")]
        for message in messages:
            processed += 1
            mid = message.findtext("MessageID")
            order_id = message.findtext(".//AmazonOrderID")
            if order_id in self.message_errors:
                results.append((mid, "Error", self.message_errors[order_id], order_id))
                continue
            self.feed_messages.append((feed["feedType"], feed["feedId"], order_id, message))
        report = ET.Element("AmazonEnvelope")
        ET.SubElement(report, "MessageType").text = "ProcessingReport"
        body = ET.SubElement(ET.SubElement(report, "Message"), "ProcessingReport")
        ET.SubElement(body, "DocumentTransactionID").text = feed["feedId"]
        ET.SubElement(body, "StatusCode").text = "Complete"
        summary = ET.SubElement(body, "ProcessingSummary")
        for name, value in (("MessagesProcessed", processed), ("MessagesSuccessful", processed - len(results)),
                            ("MessagesWithError", len(results)), ("MessagesWithWarning", 0)):
            ET.SubElement(summary, name).text = str(value)
        for mid, code, text, order_id in results:
            result = ET.SubElement(body, "Result")
            ET.SubElement(result, "MessageID").text = mid
            ET.SubElement(result, "ResultCode").text = code
            ET.SubElement(result, "ResultMessageCode").text = "18028"
            ET.SubElement(result, "ResultDescription").text = text
            ET.SubElement(ET.SubElement(result, "AdditionalInfo"), "AmazonOrderID").text = order_id
        doc = f"amzn1.tortuga.4.na.report.{next(self._ids)}"
        self.documents[doc] = gzip.compress(ET.tostring(report, encoding="utf-8", xml_declaration=True))
        feed.update(processingStatus="DONE", resultFeedDocumentId=doc)


def _errors(code: str, message: str, details: str | None = None) -> dict:
    error = {"code": code, "message": message}
    if details:
        error["details"] = details
    return {"errors": [error]}

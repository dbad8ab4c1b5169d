"""Import returns (contract §13): Amazon's returns report creates or updates return requests, all or nothing."""
import io
import re

import pytest
from sqlalchemy import func, select

from conftest import item_fields
from seller.extensions import db
from seller.models import OrderEvent, ReturnItem, ReturnRequest
from test_returns import HX, snapshot

HEADER = ["Order ID", "Order date", "Return request date", "Return request status", "Amazon RMA ID",
          "Merchant RMA ID", "Label type", "Label cost", "Currency code", "Return carrier", "Tracking ID",
          "Label to be paid by", "A-to-z claim", "Is prime", "ASIN", "Merchant SKU", "Item Name", "Return quantity",
          "Return Reason", "In policy", "Return type", "Resolution"]


def report(*rows, header=HEADER, bom=False):
    """A returns report: rows are dicts by column name; the columns in the header's order."""
    lines = ["\t".join(header)] + ["\t".join(row.get(name, "") for name in header) for row in rows]
    return (("\ufeff" if bom else "") + "\n".join(lines) + "\n").encode()


def line(order, sku="SKU-1", status="Approved", rma="DzRMA1", quantity="1", **extra):
    return {"Order ID": order.order_id, "Return request date": "2026-11-20T08:15:22-08:00",
            "Return request status": status, "Amazon RMA ID": rma, "Merchant SKU": sku, "Return quantity": quantity,
            "Return Reason": "CR-UNWANTED_ITEM", "Item Name": "Mug", **extra}


def upload(client, data, headers=None):
    return client.post("/returns/import", headers=headers or {},
                       data={"report": (io.BytesIO(data), "returns.txt")}, content_type="multipart/form-data")


def requests_of(order):
    db.session.rollback()
    return db.session.scalars(select(ReturnRequest).where(ReturnRequest.order_id == order.id)).all()


@pytest.mark.parametrize("headers", [{}, HX], ids=["no-js", "htmx"])
def test_import_creates_updates_and_reimports_nothing(owner_client, order_factory, headers):
    a = order_factory("Shipped", items=[item_fields(quantity=2), item_fields(sku="SKU-2")])
    b = order_factory("Shipped")
    columns = list(reversed(HEADER))  # any column order
    data = report(line(a, quantity="2", **{"Merchant RMA ID": "my-rma-7"}), line(a, sku="SKU-2"),
                  line(b, status="Pending Authorization", rma="DzRMA2"),
                  {**line(b), "Order ID": "999-0000000-0000000", "Amazon RMA ID": "DzRMA9"}, header=columns,
                  bom=True)
    response = upload(owner_client, data, headers)
    assert response.status_code == 200, response.text
    assert "Imported: 2 new, 0 updated, 0 unchanged" in response.text
    assert "order 999-0000000-0000000 is not in the desk" in response.text
    (ra,), (rb,) = requests_of(a), requests_of(b)
    assert (ra.status, ra.rma_number, ra.amazon_rma_id, ra.reason) == ("Authorized", "MY-RMA-7", "DzRMA1",
                                                                       "CR-UNWANTED_ITEM")
    assert sorted((ri.item.sku, ri.quantity) for ri in ra.items) == [("SKU-1", 2), ("SKU-2", 1)]
    assert (rb.status, rb.rma_number) == ("Pending Authorization", None)
    before = snapshot()
    again = upload(owner_client, data, headers)
    assert again.status_code == 200 and "Imported: 0 new, 0 updated, 2 unchanged" in again.text
    assert snapshot() == before
    # Amazon approved the second one since: updated, with its history.
    response = upload(owner_client, report(line(b, rma="DzRMA2", status="Approved")), headers)
    assert "Imported: 0 new, 1 updated, 0 unchanged" in response.text
    (rb,) = requests_of(b)
    assert rb.status == "Authorized"
    actions = db.session.scalars(select(OrderEvent.action).where(OrderEvent.order_id == b.id)).all()
    assert actions.count("import_return") == 2
    assert "Imported from the returns report" in owner_client.get(f"/orders/{b.order_id}").text


@pytest.mark.parametrize("headers", [{}, HX], ids=["no-js", "htmx"])
def test_a_bad_line_imports_nothing(owner_client, order_factory, headers):
    a = order_factory("Shipped")
    unshipped = order_factory("Unshipped")
    before = snapshot()
    checked = report(line(a), line(a, status="Lost", rma="R3"), line(a, quantity="x", rma="R4"),
                     line(a, rma="R5", **{"Return request date": "soon"}), line(a, rma="R3"))
    applied = report(line(a), line(a, sku="NOPE", rma="R2"), line(unshipped, rma="R6"),
                     line(a, quantity="5", rma="R7"))
    for data, expected in ((checked, ((3, 'Return request status "Lost" is not one of'),
                                      (4, 'Return quantity "x" is not a whole number'),
                                      (5, 'Return request date "soon" is not a date'))),
                           (applied, ((3, "SKU NOPE is not on order"),
                                      (4, "is Unshipped: Create return request is not possible"),
                                      (5, "of SKU SKU-1 can be returned on order")))):
        response = upload(owner_client, data, headers)
        assert response.status_code == 422 and "Nothing was imported" in response.text
        text = response.text.replace("&#34;", '"')
        for number, message in expected:
            assert re.search(rf'<td class="num">{number}</td><td>[^<]*{re.escape(message)}', text), (number, text)
    assert snapshot() == before


def test_files_that_are_not_a_returns_report(owner_client):
    for data, message in ((b"", "the file is empty"), (b"order-id\tsku\n1\t2\n", "not an Amazon returns report"),
                          (b"\xff\xfe", "not UTF-8"), (report(), "the file has a header but no returns")):
        response = upload(owner_client, data)
        assert response.status_code == 422 and message in response.text, message


def test_owner_only(staff_client, owner_client):
    assert staff_client.get("/returns/import").status_code == 403
    assert "Import returns" not in staff_client.get("/returns").text
    assert ">Import returns</a>" in owner_client.get("/returns").text
    page = owner_client.get("/returns/import").text
    assert "Returns report" in page


def test_cli_import_returns(app, order_factory, tmp_path):
    a = order_factory("Shipped")
    path = tmp_path / "returns.txt"
    path.write_bytes(report(line(a)))
    result = app.test_cli_runner().invoke(args=["import-returns", str(path)])
    assert result.exit_code == 0 and "1 new, 0 updated, 0 unchanged" in result.output
    path.write_bytes(report(line(a, sku="NOPE", rma="X")))
    result = app.test_cli_runner().invoke(args=["import-returns", str(path)])
    assert result.exit_code == 1 and "Line 2: SKU NOPE is not on order" in result.output
    assert db.session.scalar(select(func.count()).select_from(ReturnItem)) == 1

"""Indexes for a million orders: a page's ids and the tab counts come from indexes alone (the id after the
list's filter and sort columns, the status beside the order date on PostgreSQL), a SKU's orders and the
newest return requests too; on PostgreSQL, pg_trgm GIN indexes for the searches that ignore case (the
"contains" ones and Shipping service); SQLite keeps scanning for those.

Revision ID: 7c2e4b91d0a5
Revises: 65ec7216289b
Create Date: 2026-12-02 07:30:00

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '7c2e4b91d0a5'
down_revision = '65ec7216289b'
branch_labels = None
depends_on = None

# (name, table, columns before, columns after)
WIDER = [("ix_orders_status_purchased_at", "orders", ["status", "purchased_at"], ["status", "purchased_at", "id"]),
         ("ix_orders_status_ship_by", "orders", ["status", "ship_by"], ["status", "ship_by", "id"]),
         ("ix_order_items_sku", "order_items", ["sku"], ["sku", "order_id"])]
TRIGRAM = [("ix_orders_order_id_trgm", "orders", "order_id"), ("ix_orders_buyer_name_trgm", "orders", "buyer_name"),
           ("ix_order_items_sku_trgm", "order_items", "sku"),
           ("ix_order_items_product_name_trgm", "order_items", "product_name"),
           ("ix_shipments_tracking_id_trgm", "shipments", "tracking_id"),
           ("ix_orders_ship_service_level_trgm", "orders", "ship_service_level")]


def upgrade():
    for name, table, _, columns in WIDER:
        op.drop_index(name, table_name=table)
        op.create_index(name, table, columns)
    op.create_index("ix_return_requests_created_at_id", "return_requests", ["created_at", "id"])
    if op.get_bind().dialect.name == "postgresql":
        op.drop_index("ix_orders_purchased_at_id", table_name="orders")
        op.create_index("ix_orders_purchased_at_id", "orders", ["purchased_at", "id"], postgresql_include=["status"])
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        for name, table, column in TRIGRAM:
            op.create_index(name, table, [column], postgresql_using="gin", postgresql_ops={column: "gin_trgm_ops"})


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        for name, table, _ in TRIGRAM:
            op.drop_index(name, table_name=table)
        op.drop_index("ix_orders_purchased_at_id", table_name="orders")
        op.create_index("ix_orders_purchased_at_id", "orders", ["purchased_at", "id"])
    op.drop_index("ix_return_requests_created_at_id", table_name="return_requests")
    for name, table, columns, _ in WIDER:
        op.drop_index(name, table_name=table)
        op.create_index(name, table, columns)

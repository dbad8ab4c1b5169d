"""Amazon connection: the connection (secrets sealed), the outbox of what actions tell Amazon, the worker's lock.

Revision ID: b3f1a7c9d2e4
Revises: b5d1f0c3a7e2
Create Date: 2026-12-02 16:20:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'b3f1a7c9d2e4'
down_revision = 'b5d1f0c3a7e2'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "amazon_connection",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("seller_id", sa.String(40), nullable=False),
        sa.Column("marketplace_id", sa.String(20), nullable=False),
        sa.Column("client_id", sa.String(200), nullable=False),
        sa.Column("client_secret_sealed", sa.Text(), nullable=False),
        sa.Column("refresh_token_sealed", sa.Text(), nullable=False),
        sa.Column("first_sync_days", sa.Integer(), nullable=False),
        sa.Column("saved_at", sa.DateTime(), nullable=True),
        sa.Column("synced_at", sa.DateTime(), nullable=True),
        sa.Column("sync_result", sa.Text(), nullable=False),
        sa.Column("sync_failed", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_amazon_connection")),
    )
    op.create_table(
        "amazon_outbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("key", sa.String(80), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(10), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("due_at", sa.DateTime(), nullable=False),
        sa.Column("error", sa.Text(), nullable=False),
        sa.Column("feed_document_id", sa.String(200), nullable=False),
        sa.Column("feed_id", sa.String(40), nullable=False),
        sa.Column("submitted_at", sa.DateTime(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("sent_at", sa.DateTime(), nullable=True),
        sa.CheckConstraint("state IN ('waiting', 'sent', 'refused')", name=op.f("ck_amazon_outbox_state")),
        sa.CheckConstraint("kind IN ('confirm_shipment', 'cancel_order', 'refund')", name=op.f("ck_amazon_outbox_kind")),
        sa.ForeignKeyConstraint(["order_id"], ["orders.id"], name=op.f("fk_amazon_outbox_order_id_orders"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_amazon_outbox")),
        sa.UniqueConstraint("key", name=op.f("uq_amazon_outbox_key")),
    )
    op.create_index("ix_amazon_outbox_state_due", "amazon_outbox", ["state", "due_at"])
    op.create_index("ix_amazon_outbox_order_id", "amazon_outbox", ["order_id", "id"])
    op.create_table(
        "worker_locks",
        sa.Column("name", sa.String(40), nullable=False),
        sa.Column("holder", sa.String(200), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_worker_locks")),
    )


def downgrade():
    op.drop_table("worker_locks")
    op.drop_index("ix_amazon_outbox_order_id", table_name="amazon_outbox")
    op.drop_index("ix_amazon_outbox_state_due", table_name="amazon_outbox")
    op.drop_table("amazon_outbox")
    op.drop_table("amazon_connection")

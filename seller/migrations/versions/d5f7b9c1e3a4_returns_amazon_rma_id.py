"""returns: Amazon RMA ID, the key of Import returns

Revision ID: d5f7b9c1e3a4
Revises: c4e6a8b0d2f1
Create Date: 2026-12-02 17:05:00

"""
from alembic import op
import sqlalchemy as sa


revision = 'd5f7b9c1e3a4'
down_revision = 'c4e6a8b0d2f1'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('return_requests', schema=None) as batch_op:
        batch_op.add_column(sa.Column('amazon_rma_id', sa.String(length=40), nullable=True))
        batch_op.create_unique_constraint('uq_return_requests_order_amazon_rma', ['order_id', 'amazon_rma_id'])


def downgrade():
    with op.batch_alter_table('return_requests', schema=None) as batch_op:
        batch_op.drop_constraint('uq_return_requests_order_amazon_rma', type_='unique')
        batch_op.drop_column('amazon_rma_id')

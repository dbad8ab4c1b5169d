"""returns: Mark received (quantity and condition per item, note) and auto-close after N days

Revision ID: b3d5e7f90a12
Revises: 61ad65dd5ce8
Create Date: 2026-12-02 16:10:00

"""
from alembic import op
import sqlalchemy as sa


revision = 'b3d5e7f90a12'
down_revision = '61ad65dd5ce8'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('settings', schema=None) as batch_op:
        batch_op.add_column(sa.Column('close_returns_after_days', sa.Integer(), nullable=False, server_default='30'))
    with op.batch_alter_table('return_requests', schema=None) as batch_op:
        batch_op.add_column(sa.Column('received_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('received_note', sa.Text(), nullable=False, server_default=''))
        batch_op.create_index('ix_return_requests_status_authorized_at', ['status', 'authorized_at'], unique=False)
    with op.batch_alter_table('return_items', schema=None) as batch_op:
        batch_op.add_column(sa.Column('received_quantity', sa.Integer(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('condition', sa.String(length=20), nullable=False, server_default=''))
        batch_op.create_check_constraint('received_quantity', 'received_quantity BETWEEN 0 AND quantity')


def downgrade():
    with op.batch_alter_table('return_items', schema=None) as batch_op:
        batch_op.drop_constraint('ck_return_items_received_quantity', type_='check')
        batch_op.drop_column('condition')
        batch_op.drop_column('received_quantity')
    with op.batch_alter_table('return_requests', schema=None) as batch_op:
        batch_op.drop_index('ix_return_requests_status_authorized_at')
        batch_op.drop_column('received_note')
        batch_op.drop_column('received_at')
    with op.batch_alter_table('settings', schema=None) as batch_op:
        batch_op.drop_column('close_returns_after_days')

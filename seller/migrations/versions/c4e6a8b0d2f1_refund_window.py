"""refunds: Pending for the Settings refund window, Cancel refund within it

Revision ID: c4e6a8b0d2f1
Revises: b5d1e3a9c7f2
Create Date: 2026-12-02 16:30:00

"""
from alembic import op
import sqlalchemy as sa


revision = 'c4e6a8b0d2f1'
down_revision = 'b5d1e3a9c7f2'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('settings', schema=None) as batch_op:
        batch_op.add_column(sa.Column('refund_window_hours', sa.Integer(), nullable=False, server_default='2'))
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.add_column(sa.Column('refund_pending_until', sa.DateTime(), nullable=True))
    with op.batch_alter_table('refunds', schema=None) as batch_op:
        batch_op.add_column(sa.Column('status', sa.String(length=10), nullable=False, server_default='final'))
        batch_op.add_column(sa.Column('final_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('canceled_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('canceled_by_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('reverts', sa.JSON(), nullable=False, server_default='{}'))
        batch_op.create_foreign_key('fk_refunds_canceled_by_id_users', 'users', ['canceled_by_id'], ['id'])
        batch_op.create_check_constraint('status', "status IN ('pending', 'final', 'canceled')")
        batch_op.create_index('ix_refunds_status_final_at', ['status', 'final_at'], unique=False)


def downgrade():
    with op.batch_alter_table('refunds', schema=None) as batch_op:
        batch_op.drop_index('ix_refunds_status_final_at')
        batch_op.drop_constraint('ck_refunds_status', type_='check')
        batch_op.drop_constraint('fk_refunds_canceled_by_id_users', type_='foreignkey')
        batch_op.drop_column('reverts')
        batch_op.drop_column('canceled_by_id')
        batch_op.drop_column('canceled_at')
        batch_op.drop_column('final_at')
        batch_op.drop_column('status')
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.drop_column('refund_pending_until')
    with op.batch_alter_table('settings', schema=None) as batch_op:
        batch_op.drop_column('refund_window_hours')

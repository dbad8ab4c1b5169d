"""Packages: a shipment row is a package holding items (shipment_items), numbered by confirmation. Every
shipment so far becomes one package holding all its order's items (confirmation 1).

Revision ID: b5d1e3a9c7f2
Revises: b3d5e7f90a12
Create Date: 2026-12-02 16:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'b5d1e3a9c7f2'
down_revision = 'b3d5e7f90a12'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('shipments', schema=None) as batch_op:
        batch_op.add_column(sa.Column('confirmation', sa.Integer(), nullable=False, server_default='1'))
    op.create_table(
        'shipment_items',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('shipment_id', sa.Integer(), nullable=False),
        sa.Column('order_item_id', sa.Integer(), nullable=False),
        sa.Column('quantity', sa.Integer(), nullable=False),
        sa.CheckConstraint('quantity > 0', name=op.f('ck_shipment_items_quantity')),
        sa.ForeignKeyConstraint(['order_item_id'], ['order_items.id'],
                                name=op.f('fk_shipment_items_order_item_id_order_items'), ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['shipment_id'], ['shipments.id'],
                                name=op.f('fk_shipment_items_shipment_id_shipments'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_shipment_items')),
    )
    op.create_index('ix_shipment_items_shipment_id', 'shipment_items', ['shipment_id'])
    # Until now a shipment shipped its whole order.
    op.execute("INSERT INTO shipment_items (shipment_id, order_item_id, quantity) "
               "SELECT s.id, i.id, i.quantity FROM shipments s JOIN order_items i ON i.order_id = s.order_id "
               "ORDER BY s.id, i.id")


def downgrade():
    op.drop_index('ix_shipment_items_shipment_id', table_name='shipment_items')
    op.drop_table('shipment_items')
    with op.batch_alter_table('shipments', schema=None) as batch_op:
        batch_op.drop_column('confirmation')

"""First run's setup code, and sign-in rate limits shared by every worker

Revision ID: b5d1f0c3a7e2
Revises: 7c2e4b91d0a5
Create Date: 2026-12-02 16:10:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'b5d1f0c3a7e2'
down_revision = '7c2e4b91d0a5'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('setup_codes',
                    sa.Column('id', sa.Integer(), nullable=False),
                    sa.Column('code_hash', sa.String(length=64), nullable=False),
                    sa.Column('created_at', sa.DateTime(), nullable=False),
                    sa.PrimaryKeyConstraint('id', name=op.f('pk_setup_codes')),
                    sa.UniqueConstraint('code_hash', name=op.f('uq_setup_codes_code_hash')))
    op.create_table('rate_limits',
                    sa.Column('key', sa.String(length=255), nullable=False),
                    sa.Column('hits', sa.Integer(), nullable=False),
                    sa.Column('expires_at', sa.Float(), nullable=False),
                    sa.PrimaryKeyConstraint('key', name=op.f('pk_rate_limits')))
    with op.batch_alter_table('rate_limits', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_rate_limits_expires_at'), ['expires_at'], unique=False)


def downgrade():
    op.drop_table('rate_limits')
    op.drop_table('setup_codes')

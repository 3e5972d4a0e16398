"""portal tables: site settings, staff orders, client-contact registrations

Revision ID: 0009
Revises: 0002
Create Date: 2026-12-01 21:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0009'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('portal_sites',
    sa.Column('site_ref', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('client', sa.String(length=255), nullable=False),
    sa.Column('org_ref', sa.String(length=64), nullable=False),
    sa.Column('period_kind', sa.String(length=16), nullable=False),
    sa.Column('settings', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('site_ref')
    )
    op.create_table('portal_orders',
    sa.Column('order_id', sa.String(length=36), nullable=False),
    sa.Column('site_ref', sa.String(length=64), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('position', sa.String(length=255), nullable=False),
    sa.Column('headcount', sa.Integer(), nullable=False),
    sa.Column('start', sa.Date(), nullable=False),
    sa.Column('details', sa.Text(), nullable=False),
    sa.Column('author', sa.String(length=32), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('answer', sa.Text(), nullable=True),
    sa.Column('changes_order', sa.String(length=36), nullable=True),
    sa.Column('comments', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('order_id')
    )
    with op.batch_alter_table('portal_orders', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_portal_orders_site_ref'), ['site_ref'], unique=False)
    op.create_table('portal_registrations',
    sa.Column('registration_id', sa.String(length=36), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('company', sa.String(length=200), nullable=False),
    sa.Column('email', sa.String(length=255), nullable=False),
    sa.Column('phone', sa.String(length=32), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('decided_by', sa.String(length=32), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('registration_id')
    )
    with op.batch_alter_table('portal_registrations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_portal_registrations_email'), ['email'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('portal_registrations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_portal_registrations_email'))
    op.drop_table('portal_registrations')
    with op.batch_alter_table('portal_orders', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_portal_orders_site_ref'))
    op.drop_table('portal_orders')
    op.drop_table('portal_sites')

"""portal user ids as integers: portal_orders.author, portal_registrations.decided_by; the site and role
an approved registration grants

Revision ID: 0007
Revises: 0004
Create Date: 2026-12-02 00:10:00

The portal wrote the Bitrix24 user id the placement call verified (``str(int)``). A value that is not a
decimal integer stops the migration with the rows named, so nothing is silently turned into NULL; fix
or clear those rows, then upgrade again.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from core.errors import StoreError

revision = '0007'
down_revision = '0004'
branch_labels = None
depends_on = None

# table, key column, user id column, nullable
COLUMNS = (
    ('portal_orders', 'order_id', 'author', False),
    ('portal_registrations', 'registration_id', 'decided_by', True),
)


def _refuse_non_numeric() -> None:
    bind = op.get_bind()
    bad: list[str] = []
    for table, key, column, _nullable in COLUMNS:
        rows = bind.execute(sa.text(f'SELECT {key}, {column} FROM {table} WHERE {column} IS NOT NULL')).all()
        keys = [str(row_key) for row_key, value in rows if not (value.isascii() and value.isdecimal())]
        if keys:
            bad.append(f"{table}.{column} ({key} {', '.join(keys)})")
    if bad:
        raise StoreError(
            'cannot store portal user ids as integers: non-numeric values in '
            + '; '.join(bad)
            + ' — correct them (the Bitrix24 user id) and run the upgrade again'
        )


def upgrade() -> None:
    _refuse_non_numeric()
    with op.batch_alter_table('portal_registrations') as batch_op:
        batch_op.add_column(sa.Column('site_ref', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('role', sa.String(length=32), nullable=True))
    for table, _key, column, nullable in COLUMNS:
        with op.batch_alter_table(table) as batch_op:
            batch_op.alter_column(
                column,
                existing_type=sa.String(length=32),
                type_=sa.Integer(),
                existing_nullable=nullable,
                postgresql_using=f'{column}::integer',
            )


def downgrade() -> None:
    for table, _key, column, nullable in COLUMNS:
        with op.batch_alter_table(table) as batch_op:
            batch_op.alter_column(
                column,
                existing_type=sa.Integer(),
                type_=sa.String(length=32),
                existing_nullable=nullable,
                postgresql_using=f'{column}::text',
            )
    with op.batch_alter_table('portal_registrations') as batch_op:
        batch_op.drop_column('role')
        batch_op.drop_column('site_ref')

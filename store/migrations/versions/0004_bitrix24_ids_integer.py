"""Bitrix24 ids stored as integers: identity_map.b24_id, invitations and client_managers user ids

Revision ID: 0004
Revises: 0009
Create Date: 2026-12-01 22:40:00

Every value the bridge wrote is the decimal id Bitrix24 returned (sync/commit.py, sync/repositories.py
stored ``str(int)``). A value that is not a decimal integer stops the migration with the rows named, so
nothing is silently turned into NULL; fix or clear those rows, then upgrade again.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from core.errors import StoreError

revision = '0004'
down_revision = '0009'
branch_labels = None
depends_on = None

COLUMNS = (('identity_map', 'b24_id', 64), ('invitations', 'b24_user_id', 32), ('client_managers', 'b24_user_id', 32))


def _refuse_non_numeric() -> None:
    bind = op.get_bind()
    bad: list[str] = []
    for table, column, _length in COLUMNS:
        rows = bind.execute(sa.text(f'SELECT id, {column} FROM {table} WHERE {column} IS NOT NULL')).all()
        ids = [str(row_id) for row_id, value in rows if not (value.isascii() and value.isdecimal())]
        if ids:
            bad.append(f"{table}.{column} (row id {', '.join(ids)})")
    if bad:
        raise StoreError(
            'cannot store Bitrix24 ids as integers: non-numeric values in '
            + '; '.join(bad)
            + ' — correct or clear them (set to NULL) and run the upgrade again'
        )


def upgrade() -> None:
    _refuse_non_numeric()
    for table, column, length in COLUMNS:
        with op.batch_alter_table(table) as batch_op:
            batch_op.alter_column(
                column,
                existing_type=sa.String(length=length),
                type_=sa.Integer(),
                existing_nullable=True,
                postgresql_using=f'{column}::integer',
            )


def downgrade() -> None:
    for table, column, length in COLUMNS:
        with op.batch_alter_table(table) as batch_op:
            batch_op.alter_column(
                column,
                existing_type=sa.Integer(),
                type_=sa.String(length=length),
                existing_nullable=True,
                postgresql_using=f'{column}::text',
            )

"""process_instances.b24_element_id as an integer (a Bitrix24 list element id)

Revision ID: 0006
Revises: 0008
Create Date: 2026-12-02 00:10:00

Nothing wrote the column before the call-out handler (processes/callouts.py), which writes integers; a
value that is not a decimal integer stops the migration with the rows named, so nothing becomes NULL.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from core.errors import StoreError

revision = '0006'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    rows = op.get_bind().execute(
        sa.text('SELECT id, b24_element_id FROM process_instances WHERE b24_element_id IS NOT NULL')
    ).all()
    bad = [str(row_id) for row_id, value in rows if not (value.isascii() and value.isdecimal())]
    if bad:
        raise StoreError(
            'cannot store list element ids as integers: non-numeric process_instances.b24_element_id '
            f"(row id {', '.join(bad)}) — correct or clear them (set to NULL) and run the upgrade again"
        )
    with op.batch_alter_table('process_instances') as batch_op:
        batch_op.alter_column(
            'b24_element_id',
            existing_type=sa.String(length=32),
            type_=sa.Integer(),
            existing_nullable=True,
            postgresql_using='b24_element_id::integer',
        )


def downgrade() -> None:
    with op.batch_alter_table('process_instances') as batch_op:
        batch_op.alter_column(
            'b24_element_id',
            existing_type=sa.Integer(),
            type_=sa.String(length=32),
            existing_nullable=True,
            postgresql_using='b24_element_id::text',
        )

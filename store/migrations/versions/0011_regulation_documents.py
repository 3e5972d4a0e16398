"""regulation documents: local acts published for acknowledgement

Revision ID: 0011
Revises: 0007
Create Date: 2026-12-02 01:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "regulation_documents",
        sa.Column("document_id", sa.String(length=32), nullable=False),
        sa.Column("org_ref", sa.String(length=64), nullable=False),
        sa.Column("title", sa.String(length=255), nullable=False),
        sa.Column("file_name", sa.String(length=255), nullable=False),
        sa.Column("group_id", sa.Integer(), nullable=False),
        sa.Column("file_id", sa.Integer(), nullable=False),
        sa.Column("deadline", sa.Date(), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("document_id"),
    )
    op.create_index("ix_regulation_documents_org_ref", "regulation_documents", ["org_ref"])


def downgrade() -> None:
    op.drop_index("ix_regulation_documents_org_ref", table_name="regulation_documents")
    op.drop_table("regulation_documents")

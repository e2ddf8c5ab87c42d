"""Customers' attachments in the record, by content hash, linked to their cases and purged with them.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "attachments",
        sa.Column("sha256", sa.String(64), primary_key=True),
        sa.Column("content_type", sa.String(255), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("stored_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "case_attachments",
        sa.Column("case_id", sa.String(32), sa.ForeignKey("cases.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("sha256", sa.String(64), sa.ForeignKey("attachments.sha256"), primary_key=True),
        sa.Column("name", sa.String(255), primary_key=True),
    )
    op.create_index("ix_case_attachments_sha256", "case_attachments", ["sha256"])


def downgrade() -> None:
    op.drop_index("ix_case_attachments_sha256", table_name="case_attachments")
    op.drop_table("case_attachments")
    op.drop_table("attachments")

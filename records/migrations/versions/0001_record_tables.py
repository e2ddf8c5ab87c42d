"""The record's tables: cases, their messages and audit events, and the purges.

Revision ID: 0001
Revises:
Create Date: 2026-05-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC_DATETIME = sa.DateTime(timezone=True)
CASE_INDEXES = ("channel", "status", "risk_grade", "product", "phone", "email", "account_id", "created_at")


def upgrade() -> None:
    op.create_table(
        "cases",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("language", sa.String(8), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("priority", sa.String(8), nullable=False),
        sa.Column("risk_grade", sa.String(8), nullable=False),
        sa.Column("risk_score", sa.Integer(), nullable=False),
        sa.Column("product", sa.String(64)),
        sa.Column("handoff_reason", sa.String(64)),
        sa.Column("customer_name", sa.String(200)),
        sa.Column("phone", sa.String(64)),
        sa.Column("email", sa.String(320)),
        sa.Column("account_id", sa.String(64)),
        sa.Column("assignee", sa.String(64)),
        sa.Column("outcome", sa.String(32)),
        sa.Column("satisfaction", sa.Integer()),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.Column("updated_at", UTC_DATETIME, nullable=False),
        sa.Column("acknowledge_by", UTC_DATETIME),
        sa.Column("respond_by", UTC_DATETIME),
        sa.Column("acknowledged_at", UTC_DATETIME),
        sa.Column("answered_at", UTC_DATETIME),
        sa.Column("closed_at", UTC_DATETIME),
        sa.Column("search_text", sa.Text(), nullable=False),
        sa.Column("document", sa.JSON(), nullable=False),
    )
    for column in CASE_INDEXES:
        op.create_index(f"ix_cases_{column}", "cases", [column])
    op.create_table(
        "case_messages",
        sa.Column("case_id", sa.String(32), sa.ForeignKey("cases.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("seq", sa.Integer(), primary_key=True),
        sa.Column("at", UTC_DATETIME),
        sa.Column("sender", sa.String(16), nullable=False),
        sa.Column("channel", sa.String(16)),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("document", sa.JSON(), nullable=False),
    )
    op.create_table(
        "case_events",
        sa.Column("case_id", sa.String(32), sa.ForeignKey("cases.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("seq", sa.Integer(), primary_key=True),
        sa.Column("at", UTC_DATETIME, nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("before", sa.String(16)),
        sa.Column("after", sa.String(16), nullable=False),
        sa.Column("detail", sa.Text()),
    )
    op.create_index("ix_case_events_action_at", "case_events", ["action", "at"])
    op.create_table(
        "purges",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("at", UTC_DATETIME, nullable=False),
        sa.Column("by", sa.String(64), nullable=False),
        sa.Column("cutoff", UTC_DATETIME, nullable=False),
        sa.Column("cases", sa.Integer(), nullable=False),
        sa.Column("messages", sa.Integer(), nullable=False),
        sa.Column("events", sa.Integer(), nullable=False),
        sa.Column("case_ids", sa.JSON(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("purges")
    op.drop_index("ix_case_events_action_at", "case_events")
    op.drop_table("case_events")
    op.drop_table("case_messages")
    for column in reversed(CASE_INDEXES):
        op.drop_index(f"ix_cases_{column}", "cases")
    op.drop_table("cases")

"""The register (记录表) and the quarterly analysis: when a case was received, its receiving unit, department,
nature, staff involved, verified measures, compensation and typical-case flag as columns; the runs of each
unit's monthly register; answered_at from every kind of answer (an approved plan, a plan sent at once).

Existing cases get the new columns from their documents, and answered_at from their audit events, here.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-08
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC_DATETIME = sa.DateTime(timezone=True)
INDEXED = ("received_at", "unit", "department", "nature", "staff_involved")
BATCH = 500


def upgrade() -> None:
    # Plain ADD COLUMN, which SQLite has too: a batch rebuild of the table would lose the search indexes
    # made outside the models (0002).
    for column in (sa.Column("received_at", UTC_DATETIME, nullable=True), sa.Column("unit", sa.String(64)),
                   sa.Column("department", sa.String(64)), sa.Column("nature", sa.String(32)),
                   sa.Column("staff_involved", sa.String(200)), sa.Column("measures_verified", sa.Boolean()),
                   sa.Column("compensation_amount", sa.Numeric(18, 2)),
                   sa.Column("compensation_currency", sa.String(3)),
                   sa.Column("typical", sa.Boolean(), nullable=False, server_default=sa.false())):
        op.add_column("cases", column)
    for name in INDEXED:
        op.create_index(f"ix_cases_{name}", "cases", [name])
    op.create_table(
        "register_runs",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("unit", sa.String(64), nullable=False),
        sa.Column("month", sa.String(7), nullable=False),
        sa.Column("format", sa.String(8), nullable=False),
        sa.Column("by", sa.String(64), nullable=False),
        sa.Column("at", UTC_DATETIME, nullable=False),
        sa.Column("cases", sa.Integer(), nullable=False),
    )
    op.create_index("ix_register_runs_month_unit", "register_runs", ["month", "unit"])
    _fill_from_documents()
    _answered_at_from_events()


def _fill_from_documents() -> None:
    # Today's reading of a case document (records.record.register_columns): the same one every save uses.
    from records.record import register_columns

    bind = op.get_bind()
    cases = sa.table("cases", sa.column("id", sa.String()), sa.column("document", sa.JSON()),
                     sa.column("received_at", UTC_DATETIME), sa.column("unit", sa.String()),
                     sa.column("department", sa.String()), sa.column("nature", sa.String()),
                     sa.column("staff_involved", sa.String()), sa.column("measures_verified", sa.Boolean()),
                     sa.column("compensation_amount", sa.Numeric(18, 2)),
                     sa.column("compensation_currency", sa.String()), sa.column("typical", sa.Boolean()))
    after = ""
    while True:
        rows = bind.execute(sa.select(cases.c.id, cases.c.document).where(cases.c.id > after)
                            .order_by(cases.c.id).limit(BATCH)).all()
        for row in rows:
            values = register_columns(row.document or {})
            values["staff_involved"] = (values["staff_involved"] or "")[:200] or None
            bind.execute(sa.update(cases).where(cases.c.id == row.id).values(**values))
        if len(rows) < BATCH:
            return
        after = rows[-1].id


def _answered_at_from_events() -> None:
    op.execute("""
        UPDATE cases SET answered_at = (
            SELECT MIN(e.at) FROM case_events e WHERE e.case_id = cases.id
              AND (e.action IN ('resolve', 'approve') OR (e.action = 'propose' AND e.after = 'answered')))
        WHERE EXISTS (
            SELECT 1 FROM case_events e WHERE e.case_id = cases.id
              AND (e.action IN ('resolve', 'approve') OR (e.action = 'propose' AND e.after = 'answered')))
    """)


def downgrade() -> None:
    op.drop_index("ix_register_runs_month_unit", table_name="register_runs")
    op.drop_table("register_runs")
    for column in INDEXED:
        op.drop_index(f"ix_cases_{column}", table_name="cases")
    for column in ("typical", "compensation_currency", "compensation_amount", "measures_verified",
                   "staff_involved", "nature", "department", "unit", "received_at"):
        op.drop_column("cases", column)  # SQLite 3.35+ drops a column in place, keeping the search indexes

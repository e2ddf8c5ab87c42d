"""Indexes for the supervisors' search: lower-cased email, and on PostgreSQL a trigram index for free text.

The trigram index needs the ``pg_trgm`` extension. Where the database role may not create it, the revision
still completes without that index (with a warning): search gives the same answers, reading every row.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

log = logging.getLogger(__name__)

EMAIL_INDEX = "CREATE INDEX IF NOT EXISTS ix_cases_email_lower ON cases (lower(email))"
TRIGRAM = (
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    "CREATE INDEX IF NOT EXISTS ix_cases_search_text_trgm ON cases USING gin (search_text gin_trgm_ops)",
)


def upgrade() -> None:
    bind = op.get_bind()
    op.execute(EMAIL_INDEX)
    if bind.dialect.name != "postgresql":
        return
    try:
        with bind.begin_nested():
            for statement in TRIGRAM:
                bind.execute(sa.text(statement))
    except sa.exc.DBAPIError as exc:
        log.warning("no trigram index for free-text search (pg_trgm unavailable to this role): %s", exc.orig)


def downgrade() -> None:
    op.execute("DROP INDEX IF EXISTS ix_cases_search_text_trgm")
    op.execute("DROP INDEX IF EXISTS ix_cases_email_lower")

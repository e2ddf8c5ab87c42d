"""A throwaway PostgreSQL database on the local server, for the record's tests and the search benchmark."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from urllib.parse import urlsplit, urlunsplit

POSTGRES_ADMIN_URL = os.environ.get("POSTGRES_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


class NoPostgres(Exception):
    """No PostgreSQL server answers at POSTGRES_ADMIN_URL."""


@asynccontextmanager
async def scratch_database(prefix: str) -> AsyncIterator[str]:
    """The async SQLAlchemy URL of a new, empty database, dropped afterwards; NoPostgres without a server."""
    import asyncpg  # type: ignore[import-untyped]  # only the PostgreSQL runs need it

    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    try:
        admin = await asyncpg.connect(POSTGRES_ADMIN_URL, timeout=5)
    except (OSError, asyncpg.PostgresError) as exc:
        raise NoPostgres(f"no PostgreSQL at {POSTGRES_ADMIN_URL}: {exc}") from exc
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        parts = urlsplit(POSTGRES_ADMIN_URL)
        yield urlunsplit(("postgresql+asyncpg", parts.netloc, f"/{name}", parts.query, ""))
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()

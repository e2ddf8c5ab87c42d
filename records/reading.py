"""Read access to the system of record for search, reports and export.

These readers take whatever the caller has: an engine (the web app's), a URL (the command line), or an open
connection or session (a test, a transaction already under way). ``reading`` turns any of them into something
to ``execute`` on, and closes only what it opened. Nothing here writes.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession

from records.record import as_utc, record_engine

Source = str | AsyncEngine | AsyncConnection | AsyncSession


@asynccontextmanager
async def reading(source: Source) -> AsyncIterator[AsyncConnection | AsyncSession]:
    if isinstance(source, str):
        engine = record_engine(source)
        try:
            async with engine.connect() as connection:
                yield connection
        finally:
            await engine.dispose()
    elif isinstance(source, AsyncEngine):
        async with source.connect() as connection:
            yield connection
    else:
        yield source


def utc_or_none(moment: datetime | None) -> datetime | None:
    """A stored time as an aware UTC datetime (SQLite hands back naive ones, stored as UTC), or None."""
    return None if moment is None else as_utc(moment)

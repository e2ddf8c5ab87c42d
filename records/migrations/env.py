"""Alembic's environment for the system of record (``records.tables``).

``records.record.migrate`` hands over an open connection in ``config.attributes["connection"]``, so the
migrations run inside its transaction (and, on PostgreSQL, under its lock). Run on its own (the ``alembic``
command with ``-x url=...``), it opens an async engine for ``config.attributes["url"]``, the ``url``
argument or ``sqlalchemy.url``: SQLite through aiosqlite or PostgreSQL through asyncpg.
"""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy import pool
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from records.tables import Base, managed_by_models


def run_on(connection: Connection) -> None:
    # SQLite cannot ALTER most things in place: batch mode lets later revisions rebuild tables instead.
    context.configure(connection=connection, target_metadata=Base.metadata, include_object=managed_by_models,
                      render_as_batch=connection.dialect.name == "sqlite")
    with context.begin_transaction():
        context.run_migrations()


async def run_on_own_engine(url: str) -> None:
    engine = create_async_engine(url, poolclass=pool.NullPool)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(run_on)
    finally:
        await engine.dispose()


def database_url() -> str:
    config = context.config
    url = config.attributes.get("url") or context.get_x_argument(as_dictionary=True).get("url")
    url = url or config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("no database: pass -x url=... or set sqlalchemy.url")
    return str(url)


if context.is_offline_mode():
    context.configure(url=database_url(), target_metadata=Base.metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
elif (given := context.config.attributes.get("connection")) is not None:
    run_on(given)
else:
    asyncio.run(run_on_own_engine(database_url()))

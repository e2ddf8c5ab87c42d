"""Opening Redis: one gateway's connections are bounded, however many clients crowd in."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
from redis.asyncio import Redis
from redis.asyncio.connection import SSLConnection
from redis.asyncio.sentinel import Sentinel

from gateway import keys
from gateway.app import create_app
from gateway.settings import Settings
from gateway.store import MAX_CONNECTIONS, BlockingSentinelPool, PrimaryConnection, PrimarySSLConnection
from tests.conftest import PASSWORD, login


async def test_a_crowd_of_requests_shares_a_bounded_set_of_redis_connections(
    aiohttp_client: Any, settings: Settings, redis: Redis
) -> None:
    app = create_app(settings)
    client = await aiohttp_client(app)
    await app[keys.AGENTS].add("ann", PASSWORD, "agent")
    auth = await login(client, "ann")
    before = int((await redis.info("clients"))["connected_clients"])  # what other clients of this server hold
    async with aiohttp.ClientSession(str(client.make_url("/")),
                                     connector=aiohttp.TCPConnector(limit=0)) as crowd:

        async def ask() -> int:
            async with crowd.get("/api/cases", headers=auth) as response:
                return response.status

        statuses = await asyncio.gather(*(ask() for _ in range(400)))
    assert set(statuses) == {200}, "everyone was answered"
    connected = int((await redis.info("clients"))["connected_clients"])
    assert connected - before <= MAX_CONNECTIONS, (before, connected)


def test_a_sentinel_pools_connections_ask_the_sentinels_when_they_reconnect_with_tls_or_without() -> None:
    # Not redis-py's own connection classes, which reconnect a retried command to the server they were on.
    sentinel = Sentinel([("127.0.0.1", 26379)])  # type: ignore[no-untyped-call]
    plain = BlockingSentinelPool("complaints", sentinel)
    tls = BlockingSentinelPool("complaints", sentinel, ssl=True)
    assert plain.connection_class is PrimaryConnection
    assert tls.connection_class is PrimarySSLConnection and issubclass(PrimarySSLConnection, SSLConnection)

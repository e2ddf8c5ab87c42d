"""Opening Redis: the server ``REDIS_URL`` names, or the embedded one (already running, or started here)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from redis.asyncio import BlockingConnectionPool, Redis

from gateway.embedded_redis import EmbeddedRedis, running_url
from gateway.settings import Settings

log = logging.getLogger(__name__)
# A bound on one gateway's connections: past it a command waits for a free one (up to the timeout) instead of
# opening more, so a crowd of clients cannot push Redis past its own client limit.
MAX_CONNECTIONS = 100
WAIT_FOR_CONNECTION = 20.0


@contextlib.asynccontextmanager
async def open_redis(settings: Settings) -> AsyncIterator[Redis]:
    embedded = None
    url = settings.redis_url or running_url(settings.data_dir / "redis")
    if not url:
        embedded = EmbeddedRedis(settings.data_dir / "redis")
        url = await asyncio.to_thread(embedded.start)
        log.info("no REDIS_URL: started the embedded Redis (data in %s)", embedded.data_dir)
    pool = BlockingConnectionPool.from_url(url, max_connections=MAX_CONNECTIONS, timeout=WAIT_FOR_CONNECTION,
                                           health_check_interval=30)
    redis = Redis.from_pool(pool)
    try:
        yield redis
    finally:
        await redis.aclose()
        if embedded is not None:
            await asyncio.to_thread(embedded.stop)

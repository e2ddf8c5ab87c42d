"""Opening Redis as ``REDIS_MODE`` says: one server (``REDIS_URL``, or the embedded one, already running or started
here), a Redis Cluster found from one of its nodes, or the primary that a set of Sentinels names.

Every mode bounds one gateway's connections (per server) and hands out redis-py's own client for it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any, cast
from urllib.parse import urlsplit, urlunsplit

from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.cluster import RedisCluster
from redis.asyncio.connection import SSLConnection, parse_url
from redis.asyncio.retry import Retry
from redis.asyncio.sentinel import (
    MasterNotFoundError,
    Sentinel,
    SentinelConnectionPool,
    SentinelManagedConnection,
)
from redis.backoff import EqualJitterBackoff, NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisClusterException, RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

from gateway.embedded_redis import EmbeddedRedis, running_url
from gateway.settings import Settings, redis_hosts

log = logging.getLogger(__name__)
# A bound on one gateway's connections: past it a command waits for a free one (up to the timeout) instead of
# opening more, so a crowd of clients cannot push Redis past its own client limit.
MAX_CONNECTIONS = 100
WAIT_FOR_CONNECTION = 20.0
SENTINEL_PORT = 26379
CONNECT_TIMEOUT = 5.0
# While a Sentinel failover runs (down-after-milliseconds, then the election) a command that meets a closed
# connection or a demoted primary is tried again with growing pauses, about 9 to 17 seconds in all, before the
# error reaches the caller. The Cluster client takes only the count: it tries again at once, reading the slot
# map each time (redis-py 7.4 uses no backoff there).
FAILOVER_RETRIES = 10
# How often a gateway on Sentinels asks them which server is the primary (BlockingSentinelPool).
SENTINEL_WATCH_SECONDS = 0.5


def failover_retry() -> Retry:
    return Retry(EqualJitterBackoff(cap=2.0, base=0.25), FAILOVER_RETRIES)


@contextlib.asynccontextmanager
async def open_redis(settings: Settings) -> AsyncIterator[Redis]:
    if settings.redis_mode == "cluster":
        async with _cluster(settings.redis_url) as cluster:
            yield cluster
    elif settings.redis_mode == "sentinel":
        async with _sentinel_primary(settings.redis_url, settings.redis_sentinel_master) as primary:
            yield primary
    else:
        async with _standalone(settings) as redis:
            yield redis


@contextlib.asynccontextmanager
async def _standalone(settings: Settings) -> AsyncIterator[Redis]:
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


@contextlib.asynccontextmanager
async def _cluster(url: str) -> AsyncIterator[Redis]:
    # redis-py bounds a Cluster client per node, and past the bound a command fails at once (MaxConnectionsError)
    # instead of waiting: it has no blocking pool for Cluster.
    cluster = RedisCluster.from_url(url, max_connections=MAX_CONNECTIONS, retry=failover_retry(),
                                    socket_connect_timeout=CONNECT_TIMEOUT, health_check_interval=30)
    try:
        await cluster.initialize()  # a wrong seed or a server without cluster mode fails here, at start
    except (RedisError, RedisClusterException) as exc:
        exc.add_note(f"REDIS_MODE=cluster: is REDIS_URL ({_hosts(url, 6379)}) a node of a Redis Cluster?")
        await cluster.aclose()
        raise
    log.info("Redis Cluster: %d primaries, found from %s", len(cluster.get_primaries()), _hosts(url, 6379))
    try:
        # RedisCluster answers the key commands of redis.asyncio.Redis that the gateway sends; it is handed out
        # under that one type so the code is typed once. What a Cluster cannot do (a transaction or script over
        # keys in several slots, pub/sub) fails when sent: docs/operations.md lists it.
        yield cast(Redis, cluster)
    finally:
        await cluster.aclose()


class PrimaryConnection(SentinelManagedConnection):
    """A connection that asks the Sentinels for the primary whenever it connects again.

    redis-py 7.4 connects a cut connection again, to retry its command, from ``send_packed_command``, straight to
    the server it was on: a command cut because the Sentinels named another primary, or refused there
    (READONLY), went back to the old primary, which took it once its writes went on and threw it away when
    demoted (tests/gateway/test_redis_modes.py, a planned switchover)."""

    async def send_packed_command(self, command: Any, check_health: bool = True) -> None:
        if not self.is_connected:
            # SentinelManagedConnection's connect: to the primary the Sentinels name now
            await self.connect()  # type: ignore[no-untyped-call]
        await super().send_packed_command(command, check_health)


class PrimarySSLConnection(PrimaryConnection, SSLConnection):
    pass


class BlockingSentinelPool(SentinelConnectionPool, BlockingConnectionPool):
    """Connections to the primary the Sentinels name, bounded as on one server: past the bound, a command waits
    for a free connection (redis-py's Sentinel pool alone would fail at once).

    When the Sentinels name another primary, every connection to the old one is cut, those in use too (redis-py
    drops only the idle ones). After a ``SENTINEL FAILOVER`` the old primary goes on taking writes for seconds,
    until the Sentinels make it a replica and it throws them away; a command cut instead is retried on the new
    primary, and a subscription cut says it was lost (store/pubsub.py), so its owner catches up."""

    def __init__(self, service_name: str, sentinel_manager: Sentinel, **kwargs: Any) -> None:
        kwargs["connection_class"] = PrimarySSLConnection if kwargs.pop("ssl", False) else PrimaryConnection
        super().__init__(service_name, sentinel_manager, **kwargs)  # type: ignore[no-untyped-call]

    async def get_master_address(self) -> tuple[str, int]:
        before = self.master_address
        address: tuple[str, int] = await super().get_master_address()  # type: ignore[no-untyped-call]
        if before is not None and address != before:
            log.warning("Redis Sentinel: primary %r moved from %s:%s to %s:%s", self.service_name, *before, *address)
            await self.disconnect(inuse_connections=True)
        return address


async def _follow_primary(pool: BlockingSentinelPool) -> None:
    """Ask the Sentinels for the primary every SENTINEL_WATCH_SECONDS, so a failover is followed within that
    time even by connections that are busy or subscribed (new connections ask on their own)."""
    while True:
        await asyncio.sleep(SENTINEL_WATCH_SECONDS)
        with contextlib.suppress(RedisError, OSError):  # no Sentinel answering: the next round asks again
            await pool.get_master_address()


class NewestSentinel(Sentinel):
    """Asks every Sentinel and follows the one that knows the latest failover (the highest config epoch).

    redis-py takes the first Sentinel that names a healthy primary and asks it first ever after; one that has not
    heard of a failover yet keeps naming the old primary, now a replica refusing writes (READONLY), for as long as
    it lags. The epoch grows with every failover, so the newest answer is the right one."""

    async def discover_master(self, service_name: str) -> tuple[str, int]:
        asked = (s.sentinel_masters() for s in self.sentinels)  # type: ignore[no-untyped-call]
        answers = await asyncio.gather(*asked, return_exceptions=True)
        errors = [f"{s} - {a!r}" for s, a in zip(self.sentinels, answers, strict=True) if isinstance(a, BaseException)]
        for answer in answers:  # a Sentinel that does not answer is skipped, as redis-py does; anything else is raised
            if isinstance(answer, BaseException) and not isinstance(answer, RedisConnectionError | RedisTimeoutError):
                raise answer
        states = [a[service_name] for a in answers if isinstance(a, dict) and service_name in a]
        healthy = [state for state in states if self.check_master_state(state, service_name)]
        if not healthy:
            found = f" : {', '.join(errors)}" if errors else ""
            raise MasterNotFoundError(f"No master found for {service_name!r}{found}")
        newest = max(healthy, key=lambda state: int(state.get("config-epoch", 0)))
        return str(newest["ip"]), int(newest["port"])


@contextlib.asynccontextmanager
async def _sentinel_primary(url: str, master: str) -> AsyncIterator[Redis]:
    options = _url_options(url)
    tls = {key: value for key, value in options.items() if key == "ssl" or key.startswith("ssl_")}
    # The URL's user and password are the Redis servers'; the Sentinels get TLS as the servers do, short
    # timeouts, and no retries of their own (one that does not answer is skipped for the next).
    sentinel_kwargs = {"socket_connect_timeout": CONNECT_TIMEOUT, "socket_timeout": CONNECT_TIMEOUT,
                       "retry": Retry(NoBackoff(), 0), **tls}
    sentinels = redis_hosts(url, SENTINEL_PORT)
    sentinel = NewestSentinel(sentinels, sentinel_kwargs=sentinel_kwargs,  # type: ignore[no-untyped-call]
                        **{"socket_connect_timeout": CONNECT_TIMEOUT, **options})
    primary: Redis = sentinel.master_for(master, connection_pool_class=BlockingSentinelPool,
                                         max_connections=MAX_CONNECTIONS, timeout=WAIT_FOR_CONNECTION,
                                         health_check_interval=30, retry=failover_retry())
    try:
        try:
            host, port = await sentinel.discover_master(master)  # an unknown name or no Sentinel fails at start
        except RedisError as exc:
            exc.add_note(f"REDIS_MODE=sentinel: do the Sentinels in REDIS_URL ({_hosts(url, SENTINEL_PORT)}) "
                         f"monitor REDIS_SENTINEL_MASTER={master!r}?")
            raise
        log.info("Redis Sentinel: primary %r is %s:%s", master, host, port)
        pool = cast(BlockingSentinelPool, primary.connection_pool)
        pool.master_address = (host, port)
        watch = asyncio.ensure_future(_follow_primary(pool))
        try:
            yield primary
        finally:
            watch.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watch
    finally:
        await primary.aclose()
        for client in sentinel.sentinels:
            await client.aclose()


def _url_options(url: str) -> dict[str, Any]:
    """What a Redis URL sets besides its hosts (user, password, database, TLS and the query's options), read by
    redis-py's own parser from the URL cut down to its first host."""
    parts = urlsplit(url)
    userinfo, at, hosts = parts.netloc.rpartition("@")
    one = urlunsplit((parts.scheme, f"{userinfo}{at}{hosts.split(',')[0]}", parts.path, parts.query, ""))
    options: dict[str, Any] = dict(parse_url(one))
    for key in ("host", "port"):
        options.pop(key, None)
    if options.pop("connection_class", None) is SSLConnection:
        options["ssl"] = True
    return options


def _hosts(url: str, default_port: int) -> str:
    """The servers of a Redis URL as they may be shown: without its user or password."""
    return ",".join(f"{host}:{port}" for host, port in redis_hosts(url, default_port))

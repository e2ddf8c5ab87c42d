"""Publish and subscribe on whichever Redis the gateway opened: one server, the primary Sentinels name, or a Cluster.

``publish`` sends a message on a channel; ``subscribe`` holds a subscription to one channel whose
``get_message`` waits (a while at most) for the next message. A subscription that may have missed messages
(its connection failed, or was made again) raises ``SubscriptionLost`` instead of going on quietly, so its
owner can catch up on what it missed and subscribe again.

On a Cluster, redis-py's asyncio client has neither ``publish`` nor ``pubsub``. A classic ``PUBLISH`` sent to
any node reaches every node over the cluster bus, so the subscription is a plain connection to one node of the
Cluster, any one; when that node dies, subscribing again picks a live one from the Cluster's node list (read
again if none of the nodes in it answers). Sharded pub/sub (``SSUBSCRIBE``) would spare the bus, but a sharded
subscriber must follow its channel's slot through every failover and slot move, and the channels here carry a
few small messages a second at most.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import AsyncIterator
from typing import Any

from redis.asyncio import ConnectionPool, Redis
from redis.asyncio.client import PubSub
from redis.asyncio.cluster import ClusterNode, RedisCluster
from redis.asyncio.connection import AbstractConnection
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisClusterException, RedisError

# How long a SUBSCRIBE may take to be confirmed: past it the server is taken for lost.
CONFIRM_SECONDS = 10.0


class SubscriptionLost(RedisConnectionError):
    """The subscription's connection failed or was made again: messages published meanwhile were missed."""


async def publish(redis: Redis, channel: str, data: str) -> None:
    """Send ``data`` to every subscriber of ``channel``, wherever in the Cluster it listens."""
    if isinstance(redis, RedisCluster):
        # Routed as a key would be (to the primary of the channel name's slot, with the client's retries);
        # the node then passes it to every other node over the cluster bus.
        await redis.execute_command("PUBLISH", channel, data)
    else:
        await redis.publish(channel, data)


class Subscription:
    """One channel's messages, read one at a time."""

    def __init__(self, pubsub: PubSub, address: str) -> None:
        self._pubsub = pubsub
        self.address = address  # host:port of the server it listens on
        self._reconnected = False

    async def get_message(self, seconds: float) -> str | None:
        """The next message's data; None after ``seconds`` without one. Raises ``SubscriptionLost``
        (a redis-py ``ConnectionError``) once the subscription may have missed a message."""
        if self._reconnected:
            raise SubscriptionLost(f"the subscription on {self.address} was connected again")
        try:
            message = await self._pubsub.get_message(ignore_subscribe_messages=True, timeout=seconds)
        except (RedisError, OSError) as exc:
            raise SubscriptionLost(f"the subscription on {self.address} failed: {exc!r}") from exc
        if self._reconnected:  # redis-py subscribed again on a new connection, after a gap
            raise SubscriptionLost(f"the subscription on {self.address} was connected again")
        if message is None:
            return None
        data = message["data"]
        return data.decode() if isinstance(data, bytes) else str(data)

    def on_connect(self, _connection: AbstractConnection) -> None:
        """Called by redis-py when it connects the subscription's connection again (a Sentinel client retries)."""
        self._reconnected = True


@contextlib.asynccontextmanager
async def subscribe(redis: Redis, channel: str) -> AsyncIterator[Subscription]:
    """Subscribe to ``channel``; the subscription stands when this enters, so nothing published after is
    missed. A Redis error here means no server took the subscription."""
    if isinstance(redis, RedisCluster):
        async with _node_client(redis) as client, _subscription(client, channel) as subscription:
            yield subscription
    else:
        async with _subscription(redis, channel) as subscription:
            yield subscription


@contextlib.asynccontextmanager
async def _subscription(client: Redis, channel: str) -> AsyncIterator[Subscription]:
    async with client.pubsub() as pubsub:
        await pubsub.subscribe(channel)
        await _confirmed(pubsub)
        connection = pubsub.connection
        assert connection is not None  # SUBSCRIBE connected it
        address = f"{getattr(connection, 'host', '?')}:{getattr(connection, 'port', '?')}"
        subscription = Subscription(pubsub, address)
        connection.register_connect_callback(subscription.on_connect)
        try:
            yield subscription
        finally:
            connection.deregister_connect_callback(subscription.on_connect)


async def _confirmed(pubsub: PubSub) -> None:
    """Until the server has answered the SUBSCRIBE: from then on it passes on every message."""
    try:
        async with asyncio.timeout(CONFIRM_SECONDS):
            while True:
                message = await pubsub.get_message(timeout=CONFIRM_SECONDS)
                if message is not None and message["type"] == "subscribe":
                    return
    except TimeoutError as exc:
        raise SubscriptionLost(f"SUBSCRIBE not confirmed within {CONFIRM_SECONDS:.0f}s") from exc


@contextlib.asynccontextmanager
async def _node_client(cluster: RedisCluster) -> AsyncIterator[Redis]:
    """A plain client to one live node of the Cluster (primary or replica: each hears every PUBLISH)."""
    failures: list[str] = []
    for refreshed in (False, True):
        if refreshed:
            await _refresh_nodes(cluster)
        nodes = cluster.get_nodes()
        random.shuffle(nodes)  # the gateways' subscriptions spread over the nodes
        for node in nodes:
            client = _client_for(node)
            try:
                await client.ping()
            except (RedisError, OSError) as exc:
                failures.append(f"{node.name}: {exc!r}")
                await client.aclose()
                continue
            try:
                yield client
            finally:
                await client.aclose()
            return
    raise RedisConnectionError("no node of the Cluster took a subscription: " + "; ".join(failures))


async def _refresh_nodes(cluster: RedisCluster) -> None:
    """Read the Cluster's nodes again, when none of those known answers (the client reads them itself when a
    command fails, so this is seldom needed: each reading leaves redis-py's previous node objects unclosed).
    While the Cluster is changing (a primary down, its replica not yet promoted) this fails: nothing is lost."""
    with contextlib.suppress(RedisError, RedisClusterException, OSError):
        await cluster.nodes_manager.initialize()


def _client_for(node: ClusterNode) -> Redis:
    # The node's own connection settings (password, TLS, timeouts, health checks), and no retries: a failed
    # node is left for another, not tried again.
    options: dict[str, Any] = {**node.connection_kwargs, "retry": Retry(NoBackoff(), 0)}
    pool = ConnectionPool(connection_class=node.connection_class, max_connections=2, **options)
    return Redis.from_pool(pool)

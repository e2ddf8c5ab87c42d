"""Pub/sub and scripts on every Redis the gateway runs on, each a real server: one server; a Cluster opened
through ``open_redis`` (a message reaches subscribers on every node; a subscription whose node is killed comes
back on another; a registered script runs on every primary, fresh or promoted); a primary named by Sentinels,
through a failover.

The Cluster is shared by the tests of this module: the one that kills a node runs last."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack
from pathlib import Path

import pytest
from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster as ClusterClient
from redis.crc import key_slot
from redis.exceptions import RedisClusterException, RedisError

from gateway.events import DeskEvents
from gateway.settings import Settings
from gateway.store import open_redis
from store.once import AppendOnce
from store.pubsub import Subscription, SubscriptionLost, publish, subscribe
from tests.conftest import TOPOLOGY_PASSWORD
from tests.support.redis_topologies import Node, RedisCluster, RedisSentinels

CHANNEL = "test:pubsub"
WAIT = 30.0  # seconds a message may take on a loaded machine, or a failover to settle


def cluster_settings(url: str, data_dir: Path) -> Settings:
    return Settings.from_env({}, redis_mode="cluster", redis_url=url, data_dir=data_dir)


async def next_message(subscription: Subscription, timeout: float = WAIT) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if (message := await subscription.get_message(1.0)) is not None:
            return message
    raise TimeoutError(f"no message on {subscription.address} in {timeout:.0f}s")


async def until(check: Callable[[], object], timeout: float = WAIT) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "not in time"
        await asyncio.sleep(0.05)


def slot(tag: str) -> int:
    return key_slot(f"{{{tag}}}".encode())


def keys_on_every_primary(topology: RedisCluster) -> dict[int, str]:
    """One hash tag per primary (by port) whose slot that primary serves."""
    tags: dict[int, str] = {}
    for index in range(200):
        tag = f"tag{index}"
        tags.setdefault(topology.owner(slot(tag)).port, tag)
    assert set(tags) == {node.port for node in topology.primaries()}
    return tags


# ------------------------------------------------------------------------------------------------- one server


async def test_on_one_server_a_subscriber_hears_what_is_published(redis: Redis) -> None:
    async with subscribe(redis, CHANNEL) as subscription:
        await publish(redis, CHANNEL, "één bericht")
        assert await next_message(subscription) == "één bericht"
        assert await subscription.get_message(0.1) is None


async def test_a_subscription_whose_connection_is_cut_says_so(redis: Redis) -> None:
    async with subscribe(redis, CHANNEL) as subscription:
        await redis.client_kill_filter(_type="pubsub")
        with pytest.raises(SubscriptionLost):
            await next_message(subscription)
    async with subscribe(redis, CHANNEL) as again:  # and subscribing again hears what comes next
        await publish(redis, CHANNEL, "after")
        assert await next_message(again) == "after"


# ---------------------------------------------------------------------------------------------------- Cluster


@pytest.fixture
async def cluster(redis_cluster: RedisCluster, tmp_path: Path) -> AsyncIterator[Redis]:
    """The gateway's client to the Cluster (a RedisCluster, handed out as a Redis)."""
    async with open_redis(cluster_settings(redis_cluster.url, tmp_path)) as redis:
        assert isinstance(redis, ClusterClient)
        yield redis


@pytest.mark.redis_topology
async def test_a_registered_script_runs_on_every_primary_of_a_fresh_cluster(
    redis_cluster: RedisCluster, cluster: Redis
) -> None:
    append_once = AppendOnce(cluster)
    for port, tag in keys_on_every_primary(redis_cluster).items():
        assert await append_once.to_list(f"test:{{{tag}}}:mark", f"test:{{{tag}}}:list", "entry", 60)
        assert not await append_once.to_list(f"test:{{{tag}}}:mark", f"test:{{{tag}}}:list", "entry", 60)
        owner = next(node for node in redis_cluster.nodes if node.port == port)
        assert owner.ask("LRANGE", f"test:{{{tag}}}:list", "0", "-1") == ["entry"]


@pytest.mark.redis_topology
async def test_a_message_published_through_the_cluster_client_reaches_every_node(
    redis_cluster: RedisCluster, cluster: Redis
) -> None:
    async with AsyncExitStack() as stack:
        on_each_node = []
        for node in redis_cluster.nodes:
            client = await stack.enter_async_context(Redis(port=node.port, password=TOPOLOGY_PASSWORD))
            pubsub = await stack.enter_async_context(client.pubsub())
            await pubsub.subscribe(CHANNEL)
            assert (await pubsub.get_message(timeout=WAIT))["type"] == "subscribe"
            on_each_node.append(pubsub)
        ours = await stack.enter_async_context(subscribe(cluster, CHANNEL))
        assert ours.address in {node.address for node in redis_cluster.nodes}
        await publish(cluster, CHANNEL, "to every node")
        for pubsub in on_each_node:
            heard = await pubsub.get_message(ignore_subscribe_messages=True, timeout=WAIT)
            assert heard is not None and heard["data"] == b"to every node"
        assert await next_message(ours) == "to every node"


@pytest.mark.redis_topology
async def test_desk_events_reach_a_console_of_another_gateway_on_a_cluster(
    redis_cluster: RedisCluster, tmp_path: Path
) -> None:
    async with (open_redis(cluster_settings(redis_cluster.url, tmp_path)) as one,
                open_redis(cluster_settings(redis_cluster.url, tmp_path)) as other):
        listening, publishing = DeskEvents(one), DeskEvents(other)
        stream = listening.stream(keepalive=1.0)
        try:
            assert await anext(stream) is None  # the subscription stands
            await publishing.publish("C-1", "waiting", "created")
            event = await anext(stream)
            while event is None:  # keepalives while the message crosses the cluster bus
                event = await anext(stream)
            assert '"case_id": "C-1"' in event and '"reason": "created"' in event
        finally:
            await stream.aclose()
            await listening.close()


async def subscribe_on_a_primary(cluster: Redis, topology: RedisCluster,
                                 stack: AsyncExitStack) -> tuple[Subscription, Node]:
    """A subscription that happened to land on a primary (the node is picked at random: try a few times)."""
    primaries = {node.address: node for node in topology.primaries()}
    for _attempt in range(60):
        async with AsyncExitStack() as attempt:
            subscription = await attempt.enter_async_context(subscribe(cluster, CHANNEL))
            if subscription.address in primaries:
                stack.push_async_exit(attempt.pop_all())
                return subscription, primaries[subscription.address]
    raise AssertionError("no subscription landed on a primary")


async def publish_until_heard(cluster: Redis, subscription: Subscription, text: str) -> None:
    """Publish (again, while the Cluster settles and a PUBLISH may fail) until the subscription hears it."""
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        try:
            await publish(cluster, CHANNEL, text)
        except (RedisError, RedisClusterException):
            await asyncio.sleep(0.2)
            continue
        if await subscription.get_message(2.0) == text:
            return
    raise AssertionError(f"{text!r} never reached {subscription.address}")


@pytest.mark.redis_topology
async def test_when_its_node_dies_a_subscription_comes_back_on_another_and_scripts_still_run(
    redis_cluster: RedisCluster, cluster: Redis
) -> None:
    # Runs last in the module: the Cluster is left with one primary fewer replicas.
    append_once = AppendOnce(cluster)
    tags = keys_on_every_primary(redis_cluster)
    async with AsyncExitStack() as stack:
        subscription, node = await subscribe_on_a_primary(cluster, redis_cluster, stack)
        await publish_until_heard(cluster, subscription, "before")
        killed, promoted = await asyncio.to_thread(redis_cluster.kill_primary, slot(tags[node.port]))
        assert killed is node
        with pytest.raises(SubscriptionLost):
            await next_message(subscription)

    async with subscribe(cluster, CHANNEL) as again:
        assert again.address != node.address
        await publish_until_heard(cluster, again, "after")

    # The promoted replica never had the script loaded: it runs there all the same, as on every other primary.
    tag = tags[node.port]
    assert await append_once.to_list(f"test:{{{tag}}}:dead-mark", f"test:{{{tag}}}:dead-list", "entry", 60)
    assert promoted.ask("LRANGE", f"test:{{{tag}}}:dead-list", "0", "-1") == ["entry"]
    for port, other in tags.items():
        if port != node.port:
            assert await append_once.to_list(f"test:{{{other}}}:dead-mark", f"test:{{{other}}}:dead-list", "e", 60)


# --------------------------------------------------------------------------------------------------- Sentinel


@pytest.mark.redis_topology
async def test_through_sentinels_a_subscription_comes_back_after_a_failover(
    redis_sentinels: RedisSentinels, tmp_path: Path
) -> None:
    settings = Settings.from_env({}, redis_mode="sentinel", redis_url=redis_sentinels.url,
                                 redis_sentinel_master=redis_sentinels.master_name, data_dir=tmp_path)
    async with open_redis(settings) as redis:
        async with subscribe(redis, CHANNEL) as subscription:
            await publish(redis, CHANNEL, "before")
            assert await next_message(subscription) == "before"
            old, new = await asyncio.to_thread(redis_sentinels.fail_over)
            assert subscription.address == old.address
            with pytest.raises(SubscriptionLost):  # it may have missed something: its owner must catch up
                await next_message(subscription)
        deadline = time.monotonic() + WAIT
        while True:  # as a caller does: subscribe again until a server takes it
            try:
                async with subscribe(redis, CHANNEL) as again:
                    assert again.address == new.address
                    await publish(redis, CHANNEL, "after")
                    assert await next_message(again) == "after"
                    break
            except SubscriptionLost:
                assert time.monotonic() < deadline
                await asyncio.sleep(0.5)

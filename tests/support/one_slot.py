"""Where the code makes its Redis transactions and scripts, and which of them a test ran on a Cluster.

``sites_in_the_source`` finds every ``pipeline(transaction=True)`` and every ``register_script(...)`` call in some
modules; ``Sites`` notes each one that a test actually ran on a Cluster client (by the file and line that made
it) and checks a script's keys hash to one slot (a transaction over two slots the Cluster refuses by itself). A
test that walks every operation then compares the two: a transaction or script added without a walk on the
Cluster fails it. The recording is on the classes, not a wrapper, so the clients the code builds inside apps are
recorded too.
"""

from __future__ import annotations

import ast
import contextlib
import sys
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from redis.asyncio.cluster import RedisCluster
from redis.crc import key_slot

from store.scripts import Script

ROOT = Path(__file__).resolve().parent.parent.parent
Site = tuple[str, int]  # a file (from the repository's root) and a line


def _site(depth: int) -> Site:
    frame = sys._getframe(depth + 1)
    return str(Path(frame.f_code.co_filename).resolve().relative_to(ROOT)), frame.f_lineno


def sites_in_the_source(paths: Iterable[Path]) -> set[Site]:
    """Every ``pipeline(transaction=True)`` and ``register_script(...)`` call in the modules at ``paths``."""
    found = set()
    for path in paths:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
            transaction = name == "pipeline" and any(
                k.arg == "transaction" and isinstance(k.value, ast.Constant) and k.value.value is True
                for k in node.keywords)
            if transaction or name == "register_script":
                found.add((str(path.resolve().relative_to(ROOT)), node.lineno))
    return found


@dataclass
class Sites:
    """The transactions and scripts run on a Cluster client while ``recording()`` is on."""

    used: set[Site] = field(default_factory=set)

    @contextlib.contextmanager
    def recording(self) -> Iterator[None]:
        made: dict[int, Site] = {}
        pipeline, script_init, script_call = RedisCluster.pipeline, Script.__init__, Script.__call__
        sites = self

        def cluster_pipeline(client: RedisCluster, transaction: Any = None, shard_hint: Any = None) -> Any:
            if transaction:
                sites.used.add(_site(1))
            return pipeline(client, transaction, shard_hint)

        def init(script: Script, redis: Any, source: str) -> None:
            script_init(script, redis, source)
            made[id(script)] = _site(2)  # the caller of store.scripts.register_script

        async def call(script: Script, keys: Sequence[Any] | None = None, args: Any = None, client: Any = None) -> Any:
            if isinstance(client or script.registered_client, RedisCluster) and id(script) in made:
                sites.used.add(made[id(script)])
                slots = {key_slot(k.encode() if isinstance(k, str) else k) for k in keys or ()}
                assert len(slots) <= 1, f"the script made at {made[id(script)]} touches slots {sorted(slots)}"
            return await script_call(script, keys, args, client)

        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(RedisCluster, "pipeline", cluster_pipeline)
            patch.setattr(Script, "__init__", init)
            patch.setattr(Script, "__call__", call)
            yield

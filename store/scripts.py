"""Lua scripts that run on any Redis the gateway opened, a Cluster after a failover included.

redis-py runs a registered script by its digest (EVALSHA) and, when the server does not know it, loads it
(SCRIPT LOAD) on what it takes for the primaries and tries again. On a Cluster that list goes stale: after a
failover the asyncio client (redis-py 7.4) still types the promoted replica a replica, so the script is never
loaded where its keys now live and every call fails with NoScriptError (``tests/store/test_pubsub.py`` kills a
primary and runs one). Here the call that meets NoScriptError sends the script's source with EVAL instead, to
the server that holds the keys, which keeps it for the next EVALSHA.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from redis.asyncio import Redis
from redis.commands.core import AsyncScript
from redis.exceptions import NoScriptError
from redis.typing import EncodableT, KeyT


class Script(AsyncScript):
    """redis-py's script, called as it is (``await script(keys=[...], args=[...])``)."""

    def __init__(self, redis: Redis, source: str) -> None:
        super().__init__(redis, source)
        self.source = source

    async def __call__(self, keys: Sequence[KeyT] | None = None, args: Iterable[EncodableT] | None = None,
                       client: Redis | None = None) -> Any:
        if client is not None:  # a pipeline queues the script its own way
            return await super().__call__(keys, args, client)
        keys, args = list(keys or ()), list(args or ())
        try:
            return await self.registered_client.evalsha(self.sha, len(keys), *keys, *args)
        except NoScriptError:
            return await self.registered_client.eval(self.source, len(keys), *keys, *args)


def register_script(redis: Redis, source: str) -> AsyncScript:
    """``redis.register_script(source)``, whose calls also run where the server has not loaded it yet."""
    return Script(redis, source)

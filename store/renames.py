"""Keys whose name changed (a hash tag added, for Redis Cluster): what Redis holds under an old name moves to
the new one when the gateway starts, so data written before is still found.

Moving is safe to run again and on every replica at once: a key already moved is not found under its old name,
and one found under both names (another replica moved it meanwhile, or a move was cut short) is merged into the
new one where its type allows (sets and sorted sets), else left under its old name with a warning. On a Cluster
the two names may be in different slots, where RENAME is refused: the key is then copied (DUMP and RESTORE, with
its expiry) and the old one deleted.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from redis.asyncio import Redis
from redis.crc import key_slot
from redis.exceptions import ResponseError

from store import keys

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Rename:
    """``old``: a key's old name, or a pattern (``*``) matching a family of them; ``new``: the new name of an old
    one."""

    old: str
    new: Callable[[str], str]


def _agent_of(old: str) -> str:
    return old.removeprefix(keys.legacy_agent_claims_key(""))


RENAMES: tuple[Rename, ...] = (
    Rename(keys.LEGACY_CLAIMS_KEY, lambda _: keys.CLAIMS_KEY),
    Rename(keys.legacy_agent_claims_key("*"), lambda old: keys.agent_claims_key(_agent_of(old))),
)


async def rename_legacy_keys(redis: Redis, renames: tuple[Rename, ...] = RENAMES) -> int:
    """Move every key found under an old name to its new one; how many were moved."""
    moved = 0
    for rename in renames:
        for old in await _found(redis, rename.old):
            moved += await _move(redis, old, rename.new(old))
    return moved


async def _found(redis: Redis, old: str) -> list[str]:
    if "*" not in old:
        return [old] if await redis.exists(old) else []
    return sorted({raw.decode() async for raw in redis.scan_iter(match=old, count=1000)})


async def _move(redis: Redis, old: str, new: str) -> bool:
    """Move one key; whether it was moved (False: gone meanwhile, or left where it is)."""
    try:
        if key_slot(old.encode()) == key_slot(new.encode()):
            return bool(await redis.renamenx(old, new)) or await _merge(redis, old, new)
        dumped = await redis.dump(old)
        if dumped is None:
            return False  # moved by another replica meanwhile
        ttl = max(int(await redis.pttl(old)), 0)
        await redis.restore(new, ttl, dumped)
    except ResponseError as exc:
        if "no such key" in str(exc).lower():
            return False  # moved by another replica meanwhile
        if "busykey" not in str(exc).lower():
            raise
        return await _merge(redis, old, new)
    await redis.delete(old)
    return True


async def _merge(redis: Redis, old: str, new: str) -> bool:
    """Both names hold the key: add what the old one holds to the new one, then drop the old one."""
    kind = (await redis.type(old)).decode()
    if kind == "set":
        members = await redis.smembers(old)
        if members:
            await redis.sadd(new, *members)
    elif kind == "zset":
        scored = dict(await redis.zrange(old, 0, -1, withscores=True))
        if scored:
            await redis.zadd(new, scored, gt=True)  # the later score wins (a heartbeat, a creation)
    elif kind == "none":
        return False  # moved by another replica meanwhile
    else:
        log.warning("%s is held under its old and its new name; the old one is left for a person to merge", old)
        return False
    await redis.delete(old)
    return True

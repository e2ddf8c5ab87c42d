"""Keys whose names changed (a hash tag added, so that a transaction or script touches one Redis Cluster slot),
and ``rename_legacy_keys``, which moves what Redis holds under an old name to its new one.

Each entry of ``RENAMES`` is (an old name, or a glob pattern of old names; the function giving an old name's new
name, or None for a name the pattern matches that is not one of the family's). The gateway runs
``rename_legacy_keys`` at every start, before anything reads the keys (gateway/app.py): a second run finds
nothing to move, and a replica of the old release that wrote an old name meanwhile (a rolling upgrade) has it
moved at the next start.

A key moves with RENAMENX when both names are in one slot (always so on one server); across Cluster slots with
DUMP and RESTORE, its time to live kept, then DEL. If the new name already holds data (written since the
upgrade), the old key's content joins it: a list's entries go before the new ones, a set's, sorted set's or
hash's members go in where the new key lacks them; a string or a stream under the new name is newer and stays.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster
from redis.crc import key_slot
from redis.exceptions import ResponseError

from store.keys import (
    CLAIMS_KEY,
    EMAIL_OUTBOX_DUE_KEY,
    EMAIL_OUTBOX_FAILED_KEY,
    EMAIL_QUARANTINED_KEY,
    LEGACY_CLAIMS_KEY,
    agent_claims_key,
    email_outbox_key,
    email_quarantine_key,
    legacy_agent_claims_key,
    sms_optout_history_key,
    sms_optout_key,
    sms_status_history_key,
    sms_status_key,
    sms_status_reported_key,
)

log = logging.getLogger(__name__)

NewName = Callable[[str], str | None]

_OUTBOX_MESSAGE = "cg:email:outbox:{"
_QUARANTINE_MESSAGE = "cg:email:quarantine:"
_SMS_OPTOUT = "cg:sms:optout:"
_SMS_STATUS = "cg:sms:status:"


def _outbox_message(old: str) -> str:
    return email_outbox_key(old.removeprefix(_OUTBOX_MESSAGE).removesuffix("}"))


def _quarantine_message(old: str) -> str:
    return email_quarantine_key(old.removeprefix(_QUARANTINE_MESSAGE))


def _sms_optout(old: str) -> str:
    # A number may hold a colon ("whatsapp:+86…"), so the history is told by its ending.
    number = old.removeprefix(_SMS_OPTOUT)
    if number.endswith(":history"):
        return sms_optout_history_key(number.removesuffix(":history"))
    return sms_optout_key(number)


def _sms_status(old: str) -> str | None:
    sid, _, part = old.removeprefix(_SMS_STATUS).partition(":")
    if not part:
        return sms_status_key(sid)
    if part == "history":
        return sms_status_history_key(sid)
    if part.startswith("reported:"):
        return sms_status_reported_key(sid, part.removeprefix("reported:"))
    return None


def _agent_claims(old: str) -> str:
    return agent_claims_key(old.removeprefix(legacy_agent_claims_key("")))


def _fixed(new: str) -> NewName:
    return lambda _old: new


# Patterns are Redis globs: "[^{]" keeps names that already have their tag out.
RENAMES: list[tuple[str, NewName]] = [
    (LEGACY_CLAIMS_KEY, _fixed(CLAIMS_KEY)),
    (legacy_agent_claims_key("*"), _agent_claims),
    ("cg:email:outbox:due", _fixed(EMAIL_OUTBOX_DUE_KEY)),
    ("cg:email:outbox:failed", _fixed(EMAIL_OUTBOX_FAILED_KEY)),
    (_OUTBOX_MESSAGE + "*}", _outbox_message),
    ("cg:email:quarantined", _fixed(EMAIL_QUARANTINED_KEY)),
    (_QUARANTINE_MESSAGE + "*", _quarantine_message),
    (_SMS_OPTOUT + "[^{]*", _sms_optout),
    (_SMS_STATUS + "[^{]*", _sms_status),
]

_GLOB = frozenset("*?[")


async def rename_legacy_keys(redis: Redis) -> int:
    """Move every key still under an old name to its new name; how many moved."""
    moved = 0
    for old, new_name in RENAMES:
        for name in await _names(redis, old):
            new = new_name(name)
            if new is not None and new != name:
                moved += await _move(redis, name, new)
    if moved:
        log.info("moved %d Redis keys to their new names", moved)
    return moved


async def _names(redis: Redis, old: str) -> list[str]:
    if not _GLOB & set(old):
        return [old] if await redis.exists(old) else []
    # SCAN visits every primary of a Cluster (redis-py's scan_iter asks each in turn).
    return sorted({key.decode() async for key in redis.scan_iter(match=old, count=1000)})


async def _move(redis: Redis, old: str, new: str) -> int:
    """Move one key; 1 if its data was moved (or merged), 0 if it was gone already."""
    # A Cluster client is a RedisCluster (gateway/store.py gives it as Redis): RENAME works within a slot only.
    if not isinstance(redis, RedisCluster) or key_slot(old.encode()) == key_slot(new.encode()):
        try:
            if await redis.renamenx(old, new):
                return 1
        except ResponseError:  # gone meanwhile ("no such key"): another replica moved it
            return 0
    else:
        payload, ttl = await redis.dump(old), await redis.pttl(old)
        if payload is None:
            return 0
        try:
            await redis.restore(new, max(int(ttl), 0), payload)
        except ResponseError as exc:
            if "BUSYKEY" not in str(exc):
                raise
        else:
            await redis.delete(old)
            return 1
        if await redis.dump(new) == payload:  # another replica restored this very copy a moment ago
            await redis.delete(old)
            return 1
    await _merge(redis, old, new)
    await redis.delete(old)
    return 1


async def _merge(redis: Redis, old: str, new: str) -> None:
    """Add what ``old`` holds to ``new``, which holds newer data of the same family."""
    kind = (await redis.type(old)).decode()
    if kind == "list":
        if entries := await redis.lrange(old, 0, -1):
            await redis.lpush(new, *reversed(entries))
    elif kind == "set":
        if members := await redis.smembers(old):
            await redis.sadd(new, *members)
    elif kind == "zset":
        if scored := await redis.zrange(old, 0, -1, withscores=True):
            await redis.zadd(new, dict(scored), nx=True)
    elif kind == "hash":
        for field, value in (await redis.hgetall(old)).items():
            await redis.hsetnx(new, field, value)
    else:
        # (No key name in the log: some hold a customer's number.)
        log.info("a renamed Redis key's new name holds newer data: its old %s is dropped", kind)

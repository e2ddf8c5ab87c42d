"""A lease: one holder of a piece of work at a time, across processes, for a while unless renewed.

The lease is a string key holding its holder's token, expiring after ``ms``. Renewing and releasing compare the
token and act in one script: a holder whose lease lapsed, and was taken by another, can neither extend nor
delete the other's (a GET, then a PEXPIRE or DEL, could: the lease may change hands between the two).
"""

from __future__ import annotations

from redis.asyncio import Redis

from store.scripts import register_script

# KEYS[1]: the lease; ARGV: the token, the lease's length (ms). Extend it if it is ours, take it if it is free.
_RENEW = """
local holder = redis.call('GET', KEYS[1])
if holder == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
if holder then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
"""
# KEYS[1]: the lease; ARGV[1]: the token. Delete it only if it is ours.
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


class Lease:
    """The lease ``key`` as ``token`` holds it (a token unique to the holder), ``ms`` milliseconds at a time."""

    def __init__(self, redis: Redis, key: str, token: str, ms: int) -> None:
        self._redis = redis
        self.key = key
        self._token = token
        self._ms = ms
        self._renew = register_script(redis, _RENEW)
        self._release = register_script(redis, _RELEASE)

    @property
    def token(self) -> str:
        """The holder's token, which the lease key holds while it is theirs (for scripts that act under it)."""
        return self._token

    async def take(self) -> bool:
        """Take the lease if no one holds it; whether it is ours now."""
        return bool(await self._redis.set(self.key, self._token, nx=True, px=self._ms))

    async def renew(self) -> bool:
        """Hold the lease ``ms`` more from now if it is still ours (or free again, then take it); False if
        another holds it, which then goes on with the work."""
        return bool(await self._renew(keys=[self.key], args=[self._token, self._ms]))

    async def release(self) -> bool:
        """Give the lease up if it is ours, so the next holder need not wait for it to lapse; whether it was."""
        return bool(await self._release(keys=[self.key], args=[self._token]))

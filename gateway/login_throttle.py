"""How fast passwords may be tried: per account and client address, and per account from everywhere.

Guarantees:
- every attempt is counted atomically *before* its password is checked, so parallel guesses are counted like
  serial ones: past the free tries, at most one attempt per waiting period is let through, however many arrive
  at once;
- the throttle slows down, it never locks out: past ``free_tries`` from one address, each further try of that
  account from that address waits twice as long as the one before (1 s, 2 s, 4 s … up to ``max_wait``); the
  owner at another address is not affected by it. From all addresses together, past ``account_free_tries`` in
  the window, tries of the account are spaced by a short wait (``account_max_wait``), which bounds a guesser
  with many addresses without keeping the owner out for long;
- a right password from an address clears that address's count and is not counted for the account;
- the first time an account passes its free tries from all addresses in a window is reported (a burst), once.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from redis.asyncio import Redis

from store.keys import login_all_key as _account_key
from store.keys import login_from_key as _address_key
from store.scripts import register_script

WINDOW_SECONDS = 900

# KEYS[1]: the account from this address, KEYS[2]: the account from everywhere (one slot: the name's hash tag).
# ARGV: now (ms), free tries per address, free tries per account, window (s), longest waits (ms) for each.
# Answers {admitted (1|0), wait in ms, tries of the account in the window}.
_ADMIT = """
local now = tonumber(ARGV[1])
local function waiting(key, free)
  local tries = tonumber(redis.call('HGET', key, 'tries') or '0')
  local next_at = tonumber(redis.call('HGET', key, 'next') or '0')
  if tries >= free and now < next_at then return next_at - now end
  return 0
end
local wait = math.max(waiting(KEYS[1], tonumber(ARGV[2])), waiting(KEYS[2], tonumber(ARGV[3])))
if wait > 0 then
  return {0, wait, tonumber(redis.call('HGET', KEYS[2], 'tries') or '0')}
end
local function count(key, free, longest)
  local tries = redis.call('HINCRBY', key, 'tries', 1)
  if tries >= free then
    local pause = math.floor(math.min(1000 * 2 ^ math.min(tries - free, 30), longest))
    redis.call('HSET', key, 'next', now + pause)
  end
  redis.call('EXPIRE', key, tonumber(ARGV[4]))
  return tries
end
count(KEYS[1], tonumber(ARGV[2]), tonumber(ARGV[5]))
local all = count(KEYS[2], tonumber(ARGV[3]), tonumber(ARGV[6]))
return {1, 0, all}
"""


@dataclass(frozen=True, slots=True)
class Admission:
    admitted: bool
    retry_after: float  # seconds to wait when not admitted
    burst: bool  # this attempt made the account pass its free tries from all addresses


class LoginThrottle:
    def __init__(self, redis: Redis, free_tries: int = 5, account_free_tries: int = 20,
                 max_wait: float = 300.0, account_max_wait: float = 5.0) -> None:
        self._redis = redis
        self._free_tries = free_tries
        self._account_free_tries = account_free_tries
        self._max_wait_ms = int(max_wait * 1000)
        self._account_max_wait_ms = int(account_max_wait * 1000)
        self._admit = register_script(redis, _ADMIT)

    async def admit(self, name: str, address: str) -> Admission:
        """Count this attempt, or say how long to wait before the next one may be made."""
        admitted, wait_ms, tries = await self._admit(
            keys=[_address_key(name, address), _account_key(name)],
            args=[int(time.time() * 1000), self._free_tries, self._account_free_tries, WINDOW_SECONDS,
                  self._max_wait_ms, self._account_max_wait_ms],
        )
        return Admission(bool(admitted), int(wait_ms) / 1000, bool(admitted) and tries == self._account_free_tries)

    async def succeeded(self, name: str, address: str) -> None:
        """The owner proved themselves from this address: its count starts again, and the attempt does not
        count toward the account's burst (a handler who logs in often is not a guesser)."""
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.delete(_address_key(name, address))
            pipe.hincrby(_account_key(name), "tries", -1)
            await pipe.execute()

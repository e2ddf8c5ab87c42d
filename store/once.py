"""Append an entry once: a mark (SET NX) and the append happen together in one script, or not at all.

Something done again after a fault (a message handled a second time, a resend the customer never saw
acknowledged) finds the mark and appends nothing; the first try's entry is never lost between the two steps.
"""

from __future__ import annotations

from redis.asyncio import Redis

from store.scripts import register_script

# KEYS[1]: the mark, KEYS[2]: the list or stream. ARGV: the entry, the mark's life (s), and for a stream the
# entry's field (the stream then lives as long as the mark too); without it the entry goes to the list's end.
_APPEND_ONCE = """
if not redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[2]) then return 0 end
if ARGV[3] then
  redis.call('XADD', KEYS[2], '*', ARGV[3], ARGV[1])
  redis.call('EXPIRE', KEYS[2], ARGV[2])
else
  redis.call('RPUSH', KEYS[2], ARGV[1])
end
return 1
"""


class AppendOnce:
    """Appends to a list or a stream once per mark; each method answers whether this call appended."""

    def __init__(self, redis: Redis) -> None:
        self._append = register_script(redis, _APPEND_ONCE)

    async def to_list(self, mark: str, key: str, entry: str, seconds: int) -> bool:
        """RPUSH ``entry`` to the list ``key`` unless ``mark`` is set; the mark is kept ``seconds``."""
        return bool(await self._append(keys=[mark, key], args=[entry, seconds]))

    async def to_stream(self, mark: str, key: str, field: str, entry: str, seconds: int) -> bool:
        """XADD ``{field: entry}`` to the stream ``key`` unless ``mark`` is set; the mark and the stream are kept
        ``seconds`` from now."""
        return bool(await self._append(keys=[mark, key], args=[entry, seconds, field]))

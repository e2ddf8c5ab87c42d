"""Append-once, shown on a real Redis: the first try appends and marks, every later try with the same mark
appends nothing, whether the entry goes to a list or a stream."""

from __future__ import annotations

from redis.asyncio import Redis

from store.once import AppendOnce

DAY = 24 * 3600


async def test_a_list_entry_is_appended_once_per_mark(redis: Redis) -> None:
    once = AppendOnce(redis)
    assert await once.to_list("test:mark:1", "test:list", "first", DAY)
    assert not await once.to_list("test:mark:1", "test:list", "first again", DAY)
    assert await once.to_list("test:mark:2", "test:list", "second", DAY)
    assert await redis.lrange("test:list", 0, -1) == [b"first", b"second"]
    assert 0 < await redis.ttl("test:mark:1") <= DAY
    assert await redis.ttl("test:list") == -1  # the list itself is kept as it is


async def test_a_stream_entry_is_appended_once_per_mark_and_the_stream_kept_as_long(redis: Redis) -> None:
    once = AppendOnce(redis)
    assert await once.to_stream("test:mark", "test:stream", "frame", '{"text": "hello"}', DAY)
    assert not await once.to_stream("test:mark", "test:stream", "frame", '{"text": "hello"}', DAY)
    entries = await redis.xrange("test:stream")
    assert [fields for _, fields in entries] == [{b"frame": b'{"text": "hello"}'}]
    assert 0 < await redis.ttl("test:stream") <= DAY


async def test_a_mark_that_lapsed_lets_the_entry_in_again(redis: Redis) -> None:
    once = AppendOnce(redis)
    assert await once.to_list("test:mark", "test:list", "entry", DAY)
    await redis.delete("test:mark")
    assert await once.to_list("test:mark", "test:list", "entry", DAY)
    assert await redis.llen("test:list") == 2

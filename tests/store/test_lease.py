"""The lease's guarantees, each shown on a real Redis: one holder at a time, and a holder whose lease lapsed
can neither extend nor delete the lease of the one that took it next, however the commands interleave."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from redis.asyncio import Redis

from store.lease import Lease

KEY = "test:lease"
LONG_MS = 60_000


async def lapsed(redis: Redis) -> tuple[Lease, Lease]:
    """The first holder's lease lapsed and the second took it."""
    first, second = Lease(redis, KEY, "first", 50), Lease(redis, KEY, "second", LONG_MS)
    assert await first.take()
    await asyncio.sleep(0.1)
    assert await second.take()
    return first, second


async def held_by_second(redis: Redis) -> None:
    assert await redis.get(KEY) == b"second"
    assert await redis.pttl(KEY) > LONG_MS - 5_000  # not shortened to the first holder's length


async def test_one_holder_at_a_time(redis: Redis) -> None:
    first, second = Lease(redis, KEY, "first", LONG_MS), Lease(redis, KEY, "second", LONG_MS)
    assert await first.take()
    assert not await second.take()
    assert not await second.renew()
    assert not await second.release()
    assert await redis.get(KEY) == b"first"
    assert await first.release()
    assert await second.take()


async def test_renewing_extends_the_holders_own_lease(redis: Redis) -> None:
    lease = Lease(redis, KEY, "first", LONG_MS)
    assert await lease.take()
    await redis.pexpire(KEY, 100)
    assert await lease.renew()
    assert await redis.pttl(KEY) > LONG_MS - 5_000


async def test_a_lapsed_lease_no_one_took_is_taken_again_by_renewing(redis: Redis) -> None:
    lease = Lease(redis, KEY, "first", 50)
    assert await lease.take()
    await asyncio.sleep(0.1)
    assert await lease.renew()
    assert await redis.get(KEY) == b"first"


async def test_a_lapsed_holder_cannot_touch_the_next_holders_lease(redis: Redis) -> None:
    first, _ = await lapsed(redis)
    assert not await first.renew()
    assert not await first.release()
    await held_by_second(redis)


def hand_over_after_first_command(redis: Redis, monkeypatch: pytest.MonkeyPatch) -> None:
    """Right after the first holder's first command about the lease, the lease lapses and the second holder
    takes it: the worst moment for a holder that reads the lease and then acts on what it read."""
    execute = redis.execute_command
    handed_over = False

    async def execute_then_hand_over(*args: Any, **options: Any) -> Any:
        nonlocal handed_over
        answer = await execute(*args, **options)
        if not handed_over and KEY.encode() in [a.encode() if isinstance(a, str) else a for a in args]:
            handed_over = True
            await execute("DEL", KEY)
            await execute("SET", KEY, "second", "PX", LONG_MS)
        return answer

    monkeypatch.setattr(redis, "execute_command", execute_then_hand_over)


@pytest.mark.parametrize("act", [Lease.release, Lease.renew], ids=["release", "renew"])
async def test_the_lease_changing_hands_mid_way_leaves_the_next_holders_lease_alone(
    redis: Redis, monkeypatch: pytest.MonkeyPatch, act: Callable[[Lease], Awaitable[bool]],
) -> None:
    first = Lease(redis, KEY, "first", 1_000)
    assert await first.take()
    hand_over_after_first_command(redis, monkeypatch)
    await act(first)
    await held_by_second(redis)

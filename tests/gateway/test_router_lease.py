"""One conversation, one gateway at a time: a gateway whose lease on a conversation lapsed, and was taken by
another, stops draining it and leaves the next message to the new holder."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import Any

from redis.asyncio import Redis

from channels.message import InboundMessage
from gateway import keys
from gateway.app import create_app
from gateway.settings import Settings
from store.keys import conversation_key
from tests.support.rasa_double import stand_in_rasa


async def until(check: Any, within: float = 15.0) -> None:
    deadline = asyncio.get_running_loop().time() + within
    while not await check():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.05)


async def test_a_drain_whose_lease_was_taken_over_leaves_the_next_message_to_the_new_holder(
    aiohttp_client: Any, settings: Settings, redis: Redis,
) -> None:
    async with stand_in_rasa(gated=True) as rasa:
        client = await aiohttp_client(create_app(replace(settings, rasa_url=rasa.url, rasa_timeout=60.0)))
        router = client.app[keys.ROUTER]
        first = InboundMessage(channel="webchat", conversation_key="k1", message_id="m1", text="I was charged twice")
        second = replace(first, message_id="m2", text="It was on 3 March")
        await router.receive(first)
        await rasa.asked.wait()  # the drain is in the first message's bot turn
        # Meanwhile this gateway's lease lapsed and another gateway took the conversation.
        lease, working = (conversation_key(first.conversation_id, part) for part in ("lease", "working"))
        await redis.set(lease, "another gateway", px=60_000)
        await router.receive(second)
        rasa.release.set()

        async def second_left_or_handled() -> bool:
            return b'"m2"' in (await redis.lindex(working, 0) or b"") or len(rasa.turns) > 1

        await until(second_left_or_handled)
        await asyncio.sleep(0.5)  # time enough for a wrong second bot turn
        assert len(rasa.turns) == 1, "the second message is the other gateway's to handle"
        assert b'"m2"' in (await redis.lindex(working, 0) or b""), "it waits in hand for the other gateway"
        assert await redis.get(lease) == b"another gateway"
        assert await redis.pttl(lease) > 50_000

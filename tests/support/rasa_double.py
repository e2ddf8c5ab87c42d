"""A stand-in for Rasa's REST webhook, for channel tests that need to count bot turns or hold one up.

It answers every turn with one question. ``gated`` holds each answer until ``release`` is set, so a test can
send a provider's retry while the first try's bot turn is still under way.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

QUESTION = "Thank you. May I have your name, please?"


@dataclass
class StandInRasa:
    gated: bool = False
    turns: list[dict[str, Any]] = field(default_factory=list)
    asked: asyncio.Event = field(default_factory=asyncio.Event)
    release: asyncio.Event = field(default_factory=asyncio.Event)
    url: str = ""

    async def webhook(self, request: web.Request) -> web.Response:
        turn = await request.json()
        self.turns.append(turn)
        self.asked.set()
        if self.gated:
            await self.release.wait()
        return web.json_response([{"recipient_id": turn["sender"], "text": QUESTION}])


@contextlib.asynccontextmanager
async def stand_in_rasa(gated: bool = False) -> AsyncIterator[StandInRasa]:
    rasa = StandInRasa(gated=gated)
    app = web.Application()
    app.router.add_post("/webhooks/rest/webhook", rasa.webhook)
    runner = web.AppRunner(app, shutdown_timeout=1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    rasa.url = f"http://127.0.0.1:{runner.addresses[0][1]}"
    try:
        yield rasa
    finally:
        rasa.release.set()
        await runner.cleanup()

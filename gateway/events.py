"""Live desk updates: case changes published on Redis so every gateway's console streams can show them."""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator
from typing import Any

from redis.asyncio import Redis

CHANNEL = "cg:desk-events"


class DeskEvents:
    def __init__(self, redis: Redis) -> None:
        self._redis = redis

    async def publish(self, case_id: str, status: str, reason: str) -> None:
        event = {"type": "case", "case_id": case_id, "status": status, "reason": reason}
        await self._redis.publish(CHANNEL, json.dumps(event))

    async def publish_alert(self, alert: dict[str, Any]) -> None:
        """A supervisor alert (``"type": "alert"``) for every open console."""
        await self._redis.publish(CHANNEL, json.dumps(alert, ensure_ascii=False))

    async def stream(self, keepalive: float = 15.0) -> AsyncGenerator[str | None, None]:
        """Each event as a JSON string; None after ``keepalive`` seconds of quiet, so callers can ping.

        The first item is a None as soon as the subscription stands: nothing published after it is missed.
        """
        async with self._redis.pubsub() as pubsub:
            await pubsub.subscribe(CHANNEL)
            yield None
            while True:
                message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=keepalive)
                yield message["data"].decode() if message else None

"""Live desk updates: case changes published on Redis so every gateway's console streams can show them.

Each gateway holds one subscription, whatever the number of open consoles: a console's stream is a bounded
queue fed from it, so a hundred streams cost no more Redis connections than one. A stream that cannot keep up
(its queue full) is ended, and the console reconnects and reloads, rather than holding events without bound.
When the subscription is lost (Redis went away, a failover, or on a Cluster the node it listened on died), every
stream ends the same way, and the subscription is made again (``store.pubsub``) for the streams that come back.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncGenerator
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError

from store.keys import DESK_EVENTS_CHANNEL as CHANNEL
from store.pubsub import publish, subscribe

log = logging.getLogger(__name__)
QUEUE_SIZE = 256
RESUBSCRIBE_SECONDS = 1.0


class _Listener:
    def __init__(self) -> None:
        self.queue: asyncio.Queue[str] = asyncio.Queue(QUEUE_SIZE)
        self.ended = False

    def offer(self, event: str) -> None:
        try:
            self.queue.put_nowait(event)
        except asyncio.QueueFull:
            self.ended = True

    def end(self) -> None:
        self.ended = True
        with contextlib.suppress(asyncio.QueueFull):
            self.queue.put_nowait("")  # wakes the reader


class DeskEvents:
    def __init__(self, redis: Redis) -> None:
        self._redis = redis
        self._listeners: set[_Listener] = set()
        self._subscribed = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def publish(self, case_id: str, status: str, reason: str) -> None:
        event = {"type": "case", "case_id": case_id, "status": status, "reason": reason}
        await publish(self._redis, CHANNEL, json.dumps(event))

    async def publish_alert(self, alert: dict[str, Any]) -> None:
        """A supervisor alert (``"type": "alert"``) for every open console."""
        await publish(self._redis, CHANNEL, json.dumps(alert, ensure_ascii=False))

    async def publish_account(self, name: str) -> None:
        """An account changed: its open streams check at once whether their session still stands."""
        await publish(self._redis, CHANNEL, json.dumps({"type": "account", "name": name}))

    async def stream(self, keepalive: float = 15.0) -> AsyncGenerator[str | None, None]:
        """Each event as a JSON string; None after ``keepalive`` seconds of quiet, so callers can ping.

        The first item is a None as soon as the subscription stands: nothing published after it is missed.
        The stream ends if its reader falls too far behind, or the subscription is lost.
        """
        listener = _Listener()
        self._listeners.add(listener)
        try:
            if self._task is None or self._task.done():
                self._task = asyncio.create_task(self._listen())
            await self._subscribed.wait()
            yield None
            while not listener.ended:
                try:
                    event = await asyncio.wait_for(listener.queue.get(), keepalive)
                except TimeoutError:
                    yield None
                    continue
                if not listener.ended:
                    yield event
        finally:
            self._listeners.discard(listener)

    @property
    def listeners(self) -> int:
        return len(self._listeners)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _listen(self) -> None:
        while True:
            try:
                async with subscribe(self._redis, CHANNEL) as subscription:
                    self._subscribed.set()
                    while True:
                        event = await subscription.get_message(60)
                        if event is not None:
                            for listener in list(self._listeners):
                                listener.offer(event)
            except (RedisError, OSError) as exc:
                self._subscribed.clear()
                for listener in list(self._listeners):
                    listener.end()  # their consoles reconnect and catch up on what they missed
                log.warning("desk events: subscription lost (%s); subscribing again", type(exc).__name__)
                await asyncio.sleep(RESUBSCRIBE_SECONDS)

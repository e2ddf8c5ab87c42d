"""The small interface every channel adapter implements.

An adapter translates: provider traffic in (its web routes, or a poller it runs), ``OutboundMessage`` out.
It hands each inbound message to the ``Inbox``, which records it durably and says whether it was new;
only then does the adapter acknowledge the provider.
"""

from __future__ import annotations

from collections.abc import Iterable
from contextlib import AbstractAsyncContextManager
from typing import Protocol

from aiohttp import web
from redis.asyncio import Redis

from channels.message import InboundMessage, OutboundMessage


class CannotDeliver(Exception):
    """The channel has no way to reach the customer with this message (a phone call that has ended)."""


class Inbox(Protocol):
    """Where adapters hand customer messages: the router."""

    async def receive(self, message: InboundMessage) -> bool:
        """Record durably; False if this provider message id was recorded before."""
        ...

    async def receive_and_wait(self, message: InboundMessage, within: float) -> bool | None:
        """Record, then wait until handled here (True), not in time (False), or a duplicate (None)."""
        ...

    async def case_of(self, conversation_id: str) -> str | None:
        """The conversation's open case id, if any."""
        ...


class Channel(Protocol):
    name: str

    def routes(self) -> Iterable[web.AbstractRouteDef]:
        """The web routes this channel serves (webhooks, pages, sockets)."""
        ...

    def running(self, redis: Redis, inbox: Inbox) -> AbstractAsyncContextManager[None]:
        """An async context (used as a cleanup context): bind dependencies, run background work."""
        ...

    async def send(self, message: OutboundMessage) -> None:
        """Deliver to the customer; raise if the provider refused, so the caller can record it."""
        ...

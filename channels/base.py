"""The small interface every channel adapter implements.

An adapter translates: provider traffic in (its web routes, or a poller it runs), ``OutboundMessage`` out.
It hands each inbound message to the ``Inbox``, which records it durably and says whether it was new;
only then does the adapter acknowledge the provider.
"""

from __future__ import annotations

from collections.abc import Iterable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Protocol, TypeVar

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


@dataclass(frozen=True, slots=True)
class Capabilities:
    """What the rest of the gateway may ask of a channel."""

    survey: bool = False  # can carry the satisfaction question after the answer
    batch: bool = False  # arrives whole, after the fact (a call's transcript): nobody is there to ask questions
    answer_later: bool = True  # the customer can still be reached once the conversation is over (a call cannot)
    reply_deadline: float | None = None  # seconds the provider waits for a passive reply, if it waits at all
    writes_to_phone: bool = False  # can write first to a phone number (how a case registered by staff is answered)


@dataclass(frozen=True, slots=True)
class ChannelInfo:
    """An adapter's declaration: its name (the stored code), its titles, what turns it on, what it can do."""

    name: str
    title_zh: str
    title_en: str
    needs: tuple[str, ...]  # the environment settings that turn it on (none: always on)
    capabilities: Capabilities


class Channel(Protocol):
    name: str
    info: ChannelInfo

    def routes(self) -> Iterable[web.AbstractRouteDef]:
        """The web routes this channel serves (webhooks, pages, sockets)."""
        ...

    def running(self, redis: Redis, inbox: Inbox) -> AbstractAsyncContextManager[None]:
        """An async context (used as a cleanup context): bind dependencies, run background work."""
        ...

    async def send(self, message: OutboundMessage) -> None:
        """Deliver to the customer; raise if the provider refused, so the caller can record it."""
        ...


Settings_contra = TypeVar("Settings_contra", contravariant=True)


class Adapter(Protocol[Settings_contra]):
    """A channel adapter's class, as the registry lists it: its declaration and how settings build it."""

    @property
    def info(self) -> ChannelInfo: ...

    def from_settings(self, settings: Settings_contra) -> Channel | str:
        """The adapter, or why it is off (``"set X and Y to turn it on"``)."""
        ...


def needs_text(info: ChannelInfo) -> str:
    """``set A, B and C to turn it on``: what an off channel is missing, for the log."""
    names = list(info.needs)
    listed = ", ".join(names[:-1]) + f" and {names[-1]}" if len(names) > 1 else "".join(names)
    return f"set {listed} to turn it on"

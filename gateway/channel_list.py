"""The channels as people see them: every adapter's declaration (on or off here) and the ways staff take
complaints in, for the consoles (``GET /api/channels``) and for the record's exports and reports.

handoff and records do not know the adapters: the gateway composes the names from the registry and passes them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict
from typing import Any

from aiohttp import web

from channels import ADAPTERS
from channels.base import Channel, ChannelInfo
from gateway.api import current_agent
from handoff import labels
from handoff.registration import STAFF_CHANNELS

CHANNELS = web.AppKey("channels", Mapping[str, Channel])  # the channels on, by name
KNOWN = web.AppKey("known_channels", tuple[ChannelInfo, ...])  # every adapter, on or off, in registry order


def declared() -> tuple[ChannelInfo, ...]:
    """Every adapter's declaration, in registry order (for commands that run without the app)."""
    return tuple(adapter.info for adapter in ADAPTERS)


def names(known: tuple[ChannelInfo, ...]) -> labels.Names:
    """Every channel's English and Chinese name: the adapters', then the ways staff register a complaint."""
    return {**{info.name: (info.title_en, info.title_zh) for info in known}, **labels.STAFF_CHANNELS}


def assistant_names(known: tuple[ChannelInfo, ...]) -> labels.Names:
    """The adapters where the bot takes the complaint down (not those whose whole conversation arrives after the
    fact), by name: the register's receiver for their cases is the online assistant."""
    return {info.name: (info.title_en, info.title_zh) for info in known if not info.capabilities.batch}


def listing(known: Iterable[ChannelInfo], on: Iterable[str]) -> list[dict[str, Any]]:
    active = set(on)
    adapters = [{"name": info.name, "title": {"zh": info.title_zh, "en": info.title_en}, "adapter": True,
                 "on": info.name in active, "capabilities": asdict(info.capabilities)} for info in known]
    staff = [{"name": name, "title": {"zh": labels.STAFF_CHANNELS[name][1], "en": labels.STAFF_CHANNELS[name][0]},
              "adapter": False, "on": True, "capabilities": None} for name in STAFF_CHANNELS]
    return adapters + staff


async def list_channels(request: web.Request) -> web.Response:
    """Every channel adapter in registry order (whether it is on here, what it can do), then the ways staff
    register a complaint (``adapter: false``), each with its Chinese and English title."""
    await current_agent(request)
    known: tuple[ChannelInfo, ...] = request.app[KNOWN]
    on: Mapping[str, Channel] = request.app[CHANNELS]
    return web.json_response({"channels": listing(known, on)})


def routes() -> list[web.AbstractRouteDef]:
    return [web.get("/api/channels", list_channels)]

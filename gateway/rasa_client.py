"""Talks to the Rasa server's REST webhook, with a deadline.

A failure of any kind (refused, timed out, 5xx, a body that is not Rasa's list of messages) is one
``BotUnavailable``: the router answers the customer with a holding reply and hands the conversation to a
human, so a broken bot never leaves a customer waiting.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from channels.message import Button


class BotUnavailable(Exception):
    pass


@dataclass(frozen=True, slots=True)
class BotReply:
    """What Rasa said in one turn: texts (with buttons) and the custom events it raised."""

    texts: tuple[tuple[str, tuple[Button, ...]], ...] = ()
    events: tuple[dict[str, Any], ...] = field(default=())

    def to_body(self) -> list[dict[str, Any]]:
        """The reply as Rasa's REST channel sends it (``parse_reply`` reads it back)."""
        said = [{"text": text, "buttons": [b.to_dict() for b in buttons]} for text, buttons in self.texts]
        return [*said, *({"custom": event} for event in self.events)]


class RasaClient:
    def __init__(self, session: aiohttp.ClientSession, base_url: str, timeout: float) -> None:
        self._session = session
        self._url = base_url.rstrip("/") + "/webhooks/rest/webhook"
        self._timeout = aiohttp.ClientTimeout(total=timeout)

    async def turn(self, sender: str, text: str, metadata: dict[str, Any]) -> BotReply:
        payload = {"sender": sender, "message": text, "metadata": metadata}
        try:
            async with self._session.post(self._url, json=payload, timeout=self._timeout) as response:
                if response.status != 200:
                    raise BotUnavailable(f"rasa answered {response.status}")
                body = await response.json(content_type=None)
        except (TimeoutError, aiohttp.ClientError, json.JSONDecodeError) as exc:
            raise BotUnavailable(f"rasa unreachable: {type(exc).__name__}") from exc
        if not isinstance(body, list):
            raise BotUnavailable("rasa answered something other than a list of messages")
        return parse_reply(body)


def parse_reply(body: list[Any]) -> BotReply:
    texts: list[tuple[str, tuple[Button, ...]]] = []
    events: list[dict[str, Any]] = []
    for item in body:
        if not isinstance(item, dict):
            continue
        custom = item.get("custom")
        if isinstance(custom, dict) and "event" in custom:
            events.append(custom)
        if item.get("text"):
            buttons = tuple(
                Button(str(b.get("title", "")), str(b.get("payload", "")))
                for b in item.get("buttons") or ()
                if isinstance(b, dict)
            )
            texts.append((str(item["text"]), buttons))
    return BotReply(tuple(texts), tuple(events))

"""A small stand-in for the Rasa server when testing actions: trackers and a domain as the server sends them."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import yaml
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

BOT_DIR = Path(__file__).resolve().parent.parent
DOMAIN: dict[str, Any] = yaml.safe_load((BOT_DIR / "domain.yml").read_text(encoding="utf-8"))
SLOT_NAMES = [*DOMAIN["slots"], "requested_slot"]


def parse_data(text: str, intent: str = "inform", confidence: float = 0.9, story: bool = False,
               entities: list[dict[str, Any]] | None = None, metadata: dict[str, Any] | None = None) -> dict[str, Any]:
    """What the Rasa server sends as the latest message; ``story``: the NLU found an account of events."""
    return {"text": text, "intent": {"name": intent, "confidence": confidence}, "entities": entities or [],
            "metadata": metadata or {}, "account": {"has_account": story, "confidence": 0.95 if story else 0.05}}


def tracker(text: str = "", slots: dict[str, Any] | None = None, intent: str = "inform", confidence: float = 0.9,
            entities: list[dict[str, Any]] | None = None, metadata: dict[str, Any] | None = None,
            active_loop: str | None = None, events: list[dict[str, Any]] | None = None, story: bool = False,
            sent_at: float | None = None) -> Tracker:
    """A tracker whose latest message is ``text``, sent at ``sent_at`` (seconds since the epoch) if given."""
    values = {name: None for name in SLOT_NAMES}
    values.update(slots or {})
    message = parse_data(text, intent, confidence, story, entities, metadata)
    user = {"event": "user", "text": text, "parse_data": message}
    if sent_at is not None:
        user["timestamp"] = sent_at
    history = events if events is not None else [{"event": "action", "name": "action_listen"}, user]
    return Tracker("test", values, message, history, False, None,
                   {"name": active_loop} if active_loop else {}, "action_listen")


def run(action: Any, state: Tracker) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The action's events and the messages it sent."""
    dispatcher = CollectingDispatcher()
    events = asyncio.run(action.run(dispatcher, state, DOMAIN))
    return events, dispatcher.messages


def slot_values(events: list[dict[str, Any]]) -> dict[str, Any]:
    return {e["name"]: e["value"] for e in events if e.get("event") == "slot"}

"""The web chat protocol against the real app and a real Redis (no bot here: Rasa is unreachable)."""

from __future__ import annotations

import json
from typing import Any

from redis.asyncio import Redis

from gateway.app import create_app
from gateway.settings import Settings
from tests.chat_client import ChatClient


async def recorded_inbox_size(redis: Redis, session: str) -> int:
    """How many customer messages the gateway recorded for a session (handled or still waiting)."""
    frames = await redis.xrange(f"cg:webchat:{{{session}}}:frames")
    return sum(1 for _, f in frames if json.loads(f[b"frame"]).get("from") == "customer")


async def test_hello_gets_a_session_and_page_is_served(aiohttp_client: Any, settings: Settings) -> None:
    client = await aiohttp_client(create_app(settings))
    page = await client.get("/")
    assert page.status == 200 and "<html" in (await page.text()).lower()
    chat = await ChatClient.connect(client, "/chat/ws")
    assert chat.session and len(chat.session) >= 16


async def test_message_is_acknowledged_once_recorded_and_duplicates_are_stored_once(
    aiohttp_client: Any, settings: Settings, redis: Redis
) -> None:
    client = await aiohttp_client(create_app(settings))
    chat = await ChatClient.connect(client, "/chat/ws", language="en")
    first = await chat.send("I want to complain", message_id="m-1")
    again = await chat.send("I want to complain", message_id="m-1")
    assert first == {"type": "ack", "id": "m-1", "duplicate": False}
    assert again == {"type": "ack", "id": "m-1", "duplicate": True}
    assert chat.session is not None
    assert await recorded_inbox_size(redis, chat.session) == 1


async def test_bad_frames_get_clear_errors_and_change_nothing(
    aiohttp_client: Any, settings: Settings, redis: Redis
) -> None:
    client = await aiohttp_client(create_app(settings))
    chat = await ChatClient.connect(client, "/chat/ws")
    assert chat.session is not None
    before = await redis.dbsize()

    await chat.ws.send_str("this is not json")
    assert (await chat.expect(lambda f: f["type"] == "error"))["code"] == "bad_json"
    await chat.ws.send_json({"type": "shout", "text": "hi"})
    assert (await chat.expect(lambda f: f["type"] == "error"))["code"] == "unknown_type"
    too_long = await chat.send("x" * (settings.chat_max_text + 1))
    assert too_long["type"] == "error" and too_long["code"] == "too_long"
    await chat.ws.send_json({"type": "message", "text": "no id"})
    assert (await chat.expect(lambda f: f["type"] == "error"))["code"] == "bad_message"
    await chat.ws.send_bytes(b"\x00\x01")
    assert (await chat.expect(lambda f: f["type"] == "error"))["code"] == "bad_message"

    assert await recorded_inbox_size(redis, chat.session) == 0
    assert await redis.dbsize() == before


async def test_message_before_hello_is_refused(aiohttp_client: Any, settings: Settings) -> None:
    client = await aiohttp_client(create_app(settings))
    ws = await client.ws_connect("/chat/ws")
    await ws.send_json({"type": "message", "id": "1", "text": "hello"})
    frame = await ws.receive_json()
    assert frame["type"] == "error" and frame["code"] == "no_session"


async def test_a_flood_is_rate_limited_and_the_excess_is_not_recorded(
    aiohttp_client: Any, settings: Settings, redis: Redis
) -> None:
    client = await aiohttp_client(create_app(settings))
    chat = await ChatClient.connect(client, "/chat/ws", language="en")
    answers = [await chat.send(f"message {i}") for i in range(settings.chat_rate_limit + 3)]
    codes = [a.get("code", a["type"]) for a in answers]
    assert codes == ["ack"] * settings.chat_rate_limit + ["rate_limited"] * 3
    assert chat.session is not None
    assert await recorded_inbox_size(redis, chat.session) == settings.chat_rate_limit


async def test_reconnecting_client_gets_what_it_missed(aiohttp_client: Any, settings: Settings) -> None:
    client = await aiohttp_client(create_app(settings))
    chat = await ChatClient.connect(client, "/chat/ws", language="en")
    await chat.send("My transfer never arrived")
    holding = await chat.expect(lambda f: f["type"] == "message" and f["from"] == "bot")
    await chat.expect(lambda f: f["type"] == "case")
    await chat.close()

    # Without a cursor the whole conversation comes back, the customer's own words included.
    again = await ChatClient.connect(client, "/chat/ws", session=chat.session)
    mine = await again.expect(lambda f: f["type"] == "message" and f["from"] == "customer")
    assert mine["text"] == "My transfer never arrived"
    replayed = await again.expect(lambda f: f["type"] == "message" and f["from"] == "bot")
    assert replayed["text"] == holding["text"]
    case = await again.expect(lambda f: f["type"] == "case")
    assert case["status"] == "queued"
    await again.close()

    # With a cursor, only what came after it.
    resumed = await ChatClient.connect(client, "/chat/ws", session=chat.session, after=case["seq"])
    await resumed.send("Any news?")
    echo = await resumed.expect(lambda f: f["type"] == "message" and f["from"] == "customer")
    assert echo["text"] == "Any news?"
    seen = [seq_order(f["seq"]) for f in [*resumed.frames, echo] if "seq" in f]
    assert all(seq > seq_order(case["seq"]) for seq in seen)


def seq_order(seq: str) -> tuple[int, int]:
    millis, counter = seq.split("-")
    return int(millis), int(counter)

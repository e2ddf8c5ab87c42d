"""The web chat protocol against the real app and a real Redis (no bot here: Rasa is unreachable)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import aiohttp
from redis.asyncio import Redis

from channels.message import OutboundMessage
from channels.webchat.channel import SESSION_TTL, WebChatLimits, conversation_key, sockets_key
from gateway import keys
from gateway.app import create_app
from gateway.settings import Settings
from records.export import export_case
from tests.conftest import PASSWORD, login
from tests.support.chat_client import ChatClient, Frame

LIMITS = WebChatLimits()


async def recorded_inbox_size(redis: Redis, session: str) -> int:
    """How many customer messages the gateway recorded for a session (handled or still waiting)."""
    frames = await redis.xrange(f"cg:webchat:{{{conversation_key(session)}}}:frames")
    return sum(1 for _, f in frames if json.loads(f[b"frame"]).get("from") == "customer")


async def customer_frames(redis: Redis) -> list[Frame]:
    """Every customer message shown in any session's stream."""
    shown = []
    async for key in redis.scan_iter(match="cg:webchat:*:frames"):
        shown += [json.loads(f[b"frame"]) for _, f in await redis.xrange(key)]
    return [frame for frame in shown if frame.get("from") == "customer"]


async def session_keys(redis: Redis) -> list[bytes]:
    """The key of every web chat session Redis holds (one hash per session)."""
    return [key async for key in redis.scan_iter(match="cg:webchat:{*}") if await redis.type(key) == b"hash"]


def files_hold(folder: Path, pattern: str, needle: str) -> bool:
    """Whether any file matching ``pattern`` in ``folder`` (a database and its journals) holds ``needle``."""
    return any(needle.encode() in stored.read_bytes() for stored in folder.glob(pattern))


async def everything_in(redis: Redis) -> bytes:
    """Every key and every value in Redis, as one blob to search."""
    blob = []
    async for key in redis.scan_iter():
        kind = (await redis.type(key)).decode()
        if kind == "none":  # expired since the scan saw it
            continue
        value: Any = {"string": redis.get, "hash": redis.hgetall, "set": redis.smembers,
                      "list": lambda k: redis.lrange(k, 0, -1), "zset": lambda k: redis.zrange(k, 0, -1),
                      "stream": redis.xrange}[kind]
        blob.append(key + b"\n" + repr(await value(key)).encode())
    return b"\n".join(blob)


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


# ------------------------------------------------------------------------------ text that cannot be stored

async def test_a_nul_or_a_lone_surrogate_gets_a_clear_error_and_the_socket_stays_open(
    aiohttp_client: Any, settings: Settings, redis: Redis
) -> None:
    client = await aiohttp_client(create_app(settings))
    chat = await ChatClient.connect(client, "/chat/ws", language="en")
    before = await redis.dbsize()
    # As a browser or a script would send them: JSON escapes, which json.loads turns into the characters.
    for raw, reason in (('{"type":"message","id":"m-nul","text":"my account\\u0000 was closed"}', "NUL"),
                        ('{"type":"message","id":"m-half","text":"my account \\ud800 was closed"}', "surrogate"),
                        ('{"type":"message","id":"\\udfff","text":"my account was closed"}', "id")):
        await chat.ws.send_str(raw)
        error = await chat.expect(lambda f: f["type"] == "error")
        assert error["code"] == "bad_message" and reason in error["message"], error
    assert await redis.dbsize() == before and await customer_frames(redis) == []

    assert (await chat.send("My account was closed without notice"))["type"] == "ack"
    assert [f["text"] for f in await customer_frames(redis)] == ["My account was closed without notice"]


async def test_a_hello_with_a_lone_surrogate_for_session_gets_a_fresh_session(
    aiohttp_client: Any, settings: Settings
) -> None:
    client = await aiohttp_client(create_app(settings))
    ws = await client.ws_connect("/chat/ws")
    await ws.send_str('{"type":"hello","session":"abcdefgh\\ud800ijklmnop","language":"en"}')
    welcome = await ws.receive_json(timeout=10)
    assert welcome["type"] == "welcome" and len(welcome["session"]) >= 16
    await ws.close()


async def test_invisible_control_characters_are_dropped_from_what_is_recorded(
    aiohttp_client: Any, settings: Settings, redis: Redis
) -> None:
    client = await aiohttp_client(create_app(settings))
    chat = await ChatClient.connect(client, "/chat/ws", language="en")
    assert (await chat.send("My fee\x07 was\x1b doubled\tagain\n")) ["type"] == "ack"
    assert [f["text"] for f in await customer_frames(redis)] == ["My fee was doubled\tagain\n"]
    assert (await chat.send("\x01\x02 \x03"))["code"] == "bad_message"  # nothing left to say


# ----------------------------------------------------------------------- the session id is the customer's

async def test_the_session_secret_is_nowhere_the_server_keeps_or_shows_a_case(
    aiohttp_client: Any, settings: Settings, redis: Redis
) -> None:
    app = create_app(settings)
    client = await aiohttp_client(app)
    await app[keys.AGENTS].add("ann", PASSWORD, "agent")
    chat = await ChatClient.connect(client, "/chat/ws", language="en")
    secret = chat.session
    assert secret is not None
    await chat.send("My withdrawal has been pending for a week")
    case_id = (await chat.expect(lambda f: f["type"] == "case"))["case_id"]
    await chat.close()

    assert secret.encode() not in await everything_in(redis)
    shown = await (await client.get(f"/api/cases/{case_id}", headers=await login(client, "ann"))).text()
    assert case_id in shown and secret not in shown
    for fmt in ("json", "html"):
        exported = (await export_case(settings.record_url, case_id, fmt)).decode()
        assert case_id in exported and secret not in exported and "conversation_id" not in exported
    assert not files_hold(settings.data_dir, "record.db*", secret)

    # What the server keeps names the conversation but does not open it ...
    kept = (await app[keys.CASES].get(case_id))["conversation_id"].partition(":")[2]
    impostor = await ChatClient.connect(client, "/chat/ws", session=kept)
    assert impostor.session not in (kept, secret)
    assert not [f for f in await impostor.drain(0.5) if f["type"] in ("message", "case")]
    await impostor.close()
    # ... and the customer's own secret still does.
    again = await ChatClient.connect(client, "/chat/ws", session=secret)
    assert again.session == secret
    mine = await again.expect(lambda f: f["type"] == "message" and f["from"] == "customer")
    assert mine["text"] == "My withdrawal has been pending for a week"
    await again.close()


# ---------------------------------------------------------------------------- sessions and sockets per address

async def say_hello(client: Any, session: str | None = None) -> tuple[aiohttp.ClientWebSocketResponse, Frame]:
    ws = await client.ws_connect("/chat/ws")
    await ws.send_json({"type": "hello", "session": session, "language": "en"})
    return ws, await ws.receive_json(timeout=10)


async def closed_by_server(ws: aiohttp.ClientWebSocketResponse) -> bool:
    return (await ws.receive(timeout=10)).type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)


async def all_let_go(redis: Redis, sockets: list[aiohttp.ClientWebSocketResponse]) -> None:
    """Close the sockets and wait until the server has let go of them too."""
    await asyncio.gather(*(ws.close() for ws in sockets))
    async with asyncio.timeout(10):
        while any([await redis.zcard(key) async for key in redis.scan_iter(match=sockets_key("*"))]):
            await asyncio.sleep(0.05)


async def test_sockets_over_the_cap_from_one_address_are_refused_even_all_at_once(
    aiohttp_client: Any, settings: Settings, redis: Redis
) -> None:
    client = await aiohttp_client(create_app(settings))
    tries = await asyncio.gather(*(say_hello(client) for _ in range(LIMITS.sockets_per_address + 5)))
    welcomed = [ws for ws, frame in tries if frame["type"] == "welcome"]
    refused = [(ws, frame) for ws, frame in tries if frame["type"] != "welcome"]
    assert len(welcomed) == LIMITS.sockets_per_address and len(refused) == 5
    for ws, frame in refused:
        assert frame["type"] == "error" and frame["code"] == "rate_limited" and "open" in frame["message"]
        assert await closed_by_server(ws)
    assert len(await session_keys(redis)) == LIMITS.sockets_per_address

    await all_let_go(redis, welcomed)
    ws, frame = await say_hello(client)  # the address has room again
    assert frame["type"] == "welcome"
    await ws.close()


async def test_new_sessions_over_the_cap_from_one_address_are_refused_and_old_ones_still_resume(
    aiohttp_client: Any, settings: Settings, redis: Redis
) -> None:
    client = await aiohttp_client(create_app(settings))
    batch = LIMITS.sockets_per_address
    sessions: list[str] = []
    while len(sessions) < LIMITS.new_sessions_per_address:
        tries = await asyncio.gather(*(say_hello(client) for _ in range(batch)))
        assert [frame["type"] for _, frame in tries] == ["welcome"] * batch
        sessions += [frame["session"] for _, frame in tries]
        await all_let_go(redis, [ws for ws, _ in tries])
    assert len(sessions) == LIMITS.new_sessions_per_address

    tries = await asyncio.gather(*(say_hello(client) for _ in range(batch)))
    for ws, frame in tries:
        assert frame["type"] == "error" and frame["code"] == "rate_limited" and "new" in frame["message"]
        assert await closed_by_server(ws)
    assert len(await session_keys(redis)) == LIMITS.new_sessions_per_address

    ws, frame = await say_hello(client, sessions[0])
    assert frame == {"type": "welcome", "session": sessions[0], "language": "en"}
    await ws.close()


async def test_a_session_that_never_spoke_expires_soon_and_one_that_spoke_lasts(
    aiohttp_client: Any, settings: Settings, redis: Redis
) -> None:
    client = await aiohttp_client(create_app(settings))
    chat = await ChatClient.connect(client, "/chat/ws", language="en")
    [key] = await session_keys(redis)
    assert 0 < await redis.ttl(key) <= LIMITS.idle_session_ttl
    await chat.close()
    again = await ChatClient.connect(client, "/chat/ws", session=chat.session)  # a hello alone is not speaking
    assert again.session == chat.session and 0 < await redis.ttl(key) <= LIMITS.idle_session_ttl

    assert (await again.send("My card was charged twice"))["type"] == "ack"
    assert LIMITS.idle_session_ttl < await redis.ttl(key) <= SESSION_TTL
    await again.close()


# ------------------------------------------------------------------------------------ answers kept once

async def test_an_answer_delivered_again_under_the_same_name_is_shown_once(
    aiohttp_client: Any, settings: Settings, redis: Redis
) -> None:
    # The router delivers a bot answer again when Redis failed after the web chat kept it (a Cluster primary
    # lost between the write and its reply): the page must not show it twice. Answers without a name (a
    # handler's replies, each its own) are shown each time.
    client = await aiohttp_client(create_app(settings))
    chat = await ChatClient.connect(client, "/chat/ws", language="en")
    assert chat.session
    webchat = client.app[keys.ROUTER]._channels["webchat"]  # the adapter the router delivers through
    key = conversation_key(chat.session)
    answer = OutboundMessage("webchat", key, "May I have your name, please?", "bot", case_id="C-1",
                             case_status="queued", once="say-bot0:m1")
    for _ in range(2):
        await webchat.send(answer)
        await webchat.send(OutboundMessage("webchat", key, "We are on it.", "agent"))
    frames = [json.loads(f[b"frame"]) for _, f in await redis.xrange(f"cg:webchat:{{{key}}}:frames")]
    assert [(f["type"], f.get("text")) for f in frames] == [
        ("message", "May I have your name, please?"), ("case", None), ("message", "We are on it."),
        ("message", "We are on it."),
    ]
    await chat.close()

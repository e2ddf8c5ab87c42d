"""Hostile input against the real app and Redis: junk on the web chat socket, oversized bodies, slow clients.

Whatever a client sends, the server answers with an error frame or a clear 4xx, or closes that one
connection cleanly; it never answers 500, never logs an unhandled exception, and a normal customer can
still chat right afterwards. Rasa is unreachable here (the customer gets the holding reply), which is
enough: the bot never sees a frame the gateway refused.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
import zlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from typing import Any

import aiohttp
import pytest
from aiohttp import WSCloseCode, WSMsgType, web
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from redis.asyncio import Redis

from gateway import hardening
from gateway.app import create_app
from gateway.settings import Settings
from tests.support.chat_client import ChatClient
from tests.support.twilio_double import ACCOUNT_SID, AUTH_TOKEN, FROM_NUMBER

TRANSCRIPTS_TOKEN = "transcripts-test-token"
SERVER_FRAMES = {"welcome", "ack", "error", "message", "case"}
# How a server may end a socket it gave up on: normally, or for a frame too big / not UTF-8 / not allowed.
CLEAN_CLOSES = {WSCloseCode.OK, WSCloseCode.MESSAGE_TOO_BIG, WSCloseCode.INVALID_TEXT,
                WSCloseCode.PROTOCOL_ERROR, WSCloseCode.UNSUPPORTED_DATA}
TEN_MB = 10 * 1024 * 1024


def every_channel(settings: Settings) -> Settings:
    """Every channel with a POST endpoint switched on (SMS, voice, transcripts), Twilio's side signed locally."""
    return replace(settings, twilio_account_sid=ACCOUNT_SID, twilio_auth_token=AUTH_TOKEN,
                   twilio_from_number=FROM_NUMBER, twilio_api_base_url="http://127.0.0.1:9",
                   public_base_url="https://complaints.example.com", transcripts_token=TRANSCRIPTS_TOKEN,
                   sms_reply_wait=2.0)


@pytest.fixture
async def client(aiohttp_client: Any, settings: Settings) -> Any:
    return await aiohttp_client(create_app(every_channel(settings)))


async def still_chats(client: Any) -> None:
    """A normal customer connects, says something, and has it acknowledged."""
    chat = await ChatClient.connect(client, "/chat/ws", language="en")
    answer = await chat.send("My transfer to the bank has been pending for three days", uuid.uuid4().hex)
    assert answer["type"] == "ack", answer
    await chat.close()


# ------------------------------------------------------------------------------------- web chat frames

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=50),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=10), inner, max_size=5),
    max_leaves=20,
)
any_text = st.text(st.characters(exclude_categories=("Cs",)), max_size=300)
ids = st.one_of(st.none(), st.integers(), json_values, any_text, st.text(min_size=120, max_size=200),
                st.just(""), st.just("../../etc/passwd"), st.just("x" * 64))
hello = st.fixed_dictionaries({"type": st.just("hello")}, optional={
    "session": ids, "language": st.one_of(json_values, st.sampled_from(["zh", "en", "auto", "fr"])),
    "after": st.one_of(json_values, st.just("0-0"), st.just("99999999999999999999-0"), st.just("1-1; DROP")),
})
message = st.fixed_dictionaries({"type": st.just("message")}, optional={
    "id": ids, "text": st.one_of(any_text, json_values, st.text(min_size=2001, max_size=2100)),
    "buttons": json_values, "from": st.sampled_from(["agent", "bot", "system"]),
})
json_frames = st.one_of(hello, message, json_values,
                        st.dictionaries(st.text(max_size=10), json_values, max_size=4),
                        st.builds(lambda kind, rest: {"type": kind, **rest}, json_values, st.dictionaries(
                            st.text(max_size=10), json_values, max_size=3)))


@dataclass(frozen=True)
class Frame:
    binary: bool
    data: str | bytes


frames = st.one_of(
    json_frames.map(lambda value: Frame(False, json.dumps(value))),
    any_text.map(lambda text: Frame(False, text)),
    st.binary(max_size=200).map(lambda data: Frame(True, data)),
    # Past the socket's 64 KiB frame limit, as text and as binary.
    st.builds(lambda ch, n: Frame(False, ch * n), st.characters(exclude_categories=("Cs",)),
              st.integers(70_000, 300_000)),
    st.integers(70_000, 300_000).map(lambda n: Frame(True, b"\xff" * n)),
)


async def send(ws: aiohttp.ClientWebSocketResponse, frame: Frame) -> None:
    if isinstance(frame.data, bytes):
        await ws.send_bytes(frame.data)
    else:
        await ws.send_str(frame.data)


async def answers_until_probe(ws: aiohttp.ClientWebSocketResponse) -> list[dict[str, Any]] | None:
    """Send a probe frame the server must refuse by name; the frames that came before its error, or None
    when the server closed the socket (checked to be a clean close)."""
    probe = f"probe-{uuid.uuid4().hex}"
    seen: list[dict[str, Any]] = []
    with contextlib.suppress(ConnectionError):
        await ws.send_json({"type": probe})
    async with asyncio.timeout(20):
        while True:
            msg = await ws.receive()
            if msg.type in (WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED, WSMsgType.ERROR):
                assert ws.close_code in CLEAN_CLOSES, (msg, ws.close_code)
                return None
            assert msg.type == WSMsgType.TEXT, msg
            frame = json.loads(msg.data)
            assert isinstance(frame, dict) and frame.get("type") in SERVER_FRAMES, frame
            if frame["type"] == "error":
                assert isinstance(frame["code"], str) and isinstance(frame["message"], str) and frame["message"]
                if probe in frame["message"]:
                    return seen
            seen.append(frame)


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(sent=st.lists(frames, min_size=1, max_size=6))
async def test_any_frames_get_error_frames_or_a_clean_close_and_customers_can_still_chat(
    client: Any, redis: Redis, server_errors: list[logging.LogRecord], sent: list[Frame]
) -> None:
    # Each example is a client of its own: the caps on chats per address (channels/webchat/channel.py) start afresh.
    async for key in redis.scan_iter(match="cg:webchat:client:*"):
        await redis.delete(key)
    ws = await client.ws_connect("/chat/ws")
    try:
        for frame in sent:
            if ws.closed:
                break
            await send(ws, frame)
        await answers_until_probe(ws)
    finally:
        await ws.close()
    await still_chats(client)
    assert not server_errors, [r.getMessage() for r in server_errors]


async def test_frames_before_hello_are_refused_and_hello_still_works(client: Any) -> None:
    ws = await client.ws_connect("/chat/ws")
    await ws.send_json({"type": "message", "id": "m1", "text": "straight in"})
    first = await ws.receive_json()
    assert first["type"] == "error" and first["code"] == "no_session"
    await ws.send_json({"type": "hello", "session": None, "language": "en"})
    assert (await ws.receive_json())["type"] == "welcome"
    await ws.close()


@pytest.mark.parametrize("session", [12345, ["a"], {"id": "x"}, "", "short", "x" * 65, "../../etc/passwd",
                                     "a" * 22, "\u202egnp.exe", "cg:case:{C-1}"])
async def test_a_bad_or_unknown_session_id_gets_a_fresh_session(client: Any, session: Any) -> None:
    ws = await client.ws_connect("/chat/ws")
    await ws.send_json({"type": "hello", "session": session, "language": "en", "after": "not-a-seq"})
    welcome = await ws.receive_json()
    assert welcome["type"] == "welcome" and welcome["session"] != session
    assert isinstance(welcome["session"], str) and len(welcome["session"]) >= 16
    await ws.close()


@pytest.mark.parametrize("after", ["18446744073709551615-18446744073709551615", "18446744073709551616-0",
                                   "99999999999999999999-0", "0-99999999999999999999", "-1-0", "0x10-0"])
async def test_a_resume_point_redis_cannot_take_replays_from_the_start(
    client: Any, server_errors: list[logging.LogRecord], after: str
) -> None:
    chat = await ChatClient.connect(client, "/chat/ws", language="en")
    assert (await chat.send("My statement is wrong"))["type"] == "ack"
    await chat.close()
    again = await ChatClient.connect(client, "/chat/ws", session=chat.session, after=after)
    assert again.session == chat.session
    said = await again.expect(lambda f: f["type"] == "message" and f["from"] == "customer")
    assert said["text"] == "My statement is wrong"
    assert not server_errors, [r.getMessage() for r in server_errors]


async def test_a_text_frame_that_is_not_utf8_closes_that_socket_only(client: Any) -> None:
    chat = await ChatClient.connect(client, "/chat/ws")
    await chat.ws._writer.send_frame(b"\xff\xfe not utf-8", WSMsgType.TEXT)
    msg = await chat.ws.receive(timeout=10)
    assert msg.type in (WSMsgType.CLOSE, WSMsgType.CLOSED, WSMsgType.ERROR)
    assert chat.ws.close_code == WSCloseCode.INVALID_TEXT
    await still_chats(client)


async def test_a_10_mb_frame_closes_that_socket_with_message_too_big(client: Any) -> None:
    """The server stops reading at the frame's header; the client may see the close frame, or (still
    sending the rest) only the reset that follows it."""
    chat = await ChatClient.connect(client, "/chat/ws")
    with contextlib.suppress(ConnectionError):
        await chat.ws.send_str("x" * TEN_MB)
    msg = await chat.ws.receive(timeout=30)
    assert msg.type in (WSMsgType.CLOSE, WSMsgType.CLOSED, WSMsgType.ERROR)
    assert chat.ws.close_code in (WSCloseCode.MESSAGE_TOO_BIG, WSCloseCode.ABNORMAL_CLOSURE), chat.ws.close_code
    await still_chats(client)


# ------------------------------------------------------------------------------------------ big bodies

def post_paths(app: web.Application) -> list[str]:
    """Every POST route the app serves, with a case id where the path takes one."""
    paths = set()
    for route in app.router.routes():
        if route.method != "POST" or route.resource is None:
            continue
        info = route.resource.get_info()
        path = info.get("path") or info.get("formatter") or ""
        paths.add(path.replace("{case_id}", "C-000000-AAAA"))
    return sorted(paths)


async def test_every_post_endpoint_refuses_10_mb_with_413_and_keeps_serving(client: Any) -> None:
    paths = post_paths(client.app)
    assert {"/api/login", "/channels/twilio/sms", "/channels/twilio/voice", "/channels/transcripts"} <= set(paths)
    body = b"a" * TEN_MB
    for path in paths:
        response = await client.post(path, data=body, headers={"Content-Type": "application/json"})
        assert response.status == 413, (path, response.status, await response.text())
        assert (await response.json())["error"]
        assert (await client.get("/healthz")).status == 200
    await still_chats(client)


async def chunks(total: int, size: int = 256 * 1024) -> AsyncIterator[bytes]:
    for _ in range(total // size):
        yield b"a" * size


@pytest.mark.parametrize("path", ["/api/login", "/channels/twilio/sms", "/channels/transcripts"])
async def test_a_10_mb_body_without_content_length_is_cut_off_at_the_limit(client: Any, path: str) -> None:
    response = await client.post(path, data=chunks(TEN_MB), headers={"Content-Type": "text/plain"})
    assert response.status == 413 and (await response.json())["error"]
    assert (await client.get("/healthz")).status == 200


async def test_a_compressed_bomb_is_refused_at_the_limit_once_inflated(client: Any) -> None:
    bomb = zlib.compress(b"{" * TEN_MB, 9)
    assert len(bomb) < 64 * 1024
    response = await client.post("/api/login", data=bomb, headers={"Content-Type": "application/json",
                                                                  "Content-Encoding": "deflate"})
    assert response.status == 413 and (await response.json())["error"]
    broken = await client.post("/api/login", data=b"not deflate at all",
                               headers={"Content-Type": "application/json", "Content-Encoding": "deflate"})
    assert broken.status == 400 and (await broken.json())["error"]
    await still_chats(client)


@pytest.mark.parametrize("charset", ["no-such-charset", "base64", "utf-7777"])
async def test_a_body_in_an_unknown_charset_gets_415(client: Any, charset: str) -> None:
    for path in ("/api/login", "/channels/twilio/sms", "/channels/transcripts"):
        response = await client.post(path, data=b'{"name": "ann"}',
                                     headers={"Content-Type": f"application/json; charset={charset}"})
        assert response.status == 415, (path, await response.text())


# ------------------------------------------------------------------------------------------ slow clients

IDLE, BODY = 1.0, 1.0
GRACE = 10.0  # an upper bound for "promptly" on a loaded machine; nothing here measures speed


@dataclass
class Served:
    host: str
    port: int

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    async def connect(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        return await asyncio.open_connection(self.host, self.port)


@pytest.fixture
async def served(settings: Settings) -> AsyncIterator[Served]:
    """The app on a real socket, with the server limits the gateway runs with (short, to keep tests quick)."""
    app = create_app(replace(every_channel(settings), request_body_timeout=BODY))
    runner = web.AppRunner(app, **hardening.server_options(idle_timeout=IDLE, lingering_time=0.5))
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    try:
        yield Served(host, port)
    finally:
        await runner.cleanup()


async def closed_by_server(reader: asyncio.StreamReader) -> bytes:
    """Everything the server sends until it closes the connection (bounded by GRACE)."""
    async with asyncio.timeout(IDLE + BODY + GRACE):
        return await reader.read()


async def healthy(served: Served) -> None:
    async with aiohttp.ClientSession() as http, http.get(served.url + "/healthz") as response:
        assert response.status == 200


async def test_clients_that_never_finish_their_headers_are_cut_off_and_others_are_served(served: Served) -> None:
    heads = [b"POST /channels/twilio/sms HTTP/1.1\r\nHost: x\r\nContent-Ty",
             b"GET /chat/ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n",
             b"GET /api/cases HTT", b""]
    stalled = []
    for i in range(40):
        reader, writer = await served.connect()
        writer.write(heads[i % len(heads)])
        await writer.drain()
        stalled.append((reader, writer))
    # While they hang on, everyone else is served.
    for _ in range(5):
        await healthy(served)
    async with aiohttp.ClientSession() as http:
        chat = await ChatClient.connect(http, served.url + "/chat/ws", language="en")
        assert (await chat.send("Still here?"))["type"] == "ack"
        await chat.close()
    leftovers = await asyncio.gather(*(closed_by_server(reader) for reader, _ in stalled))
    assert all(rest == b"" for rest in leftovers)
    for _, writer in stalled:
        writer.close()
    await healthy(served)


async def test_a_client_trickling_its_headers_is_cut_off_all_the_same(served: Served) -> None:
    reader, writer = await served.connect()

    async def trickle() -> None:
        for byte in b"GET /healthz HTTP/1.1\r\nX-Slow: " + b"a" * 1000:
            writer.write(bytes([byte]))
            await writer.drain()
            await asyncio.sleep(IDLE / 5)

    dripping = asyncio.create_task(trickle())
    try:
        assert await closed_by_server(reader) == b""
    finally:
        dripping.cancel()
        writer.close()
    await healthy(served)


async def test_a_body_that_never_finishes_gets_408_and_the_connection_is_closed(served: Served) -> None:
    reader, writer = await served.connect()
    writer.write(b"POST /channels/transcripts HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\n"
                 b"Authorization: Bearer " + TRANSCRIPTS_TOKEN.encode() + b"\r\nContent-Length: 1000\r\n\r\n"
                 b"Caller: I want to compl")
    await writer.drain()
    answer = await closed_by_server(reader)
    writer.close()
    status_line, _, rest = answer.partition(b"\r\n")
    assert status_line.startswith(b"HTTP/1.1 408"), answer[:200]
    assert b"did not arrive" in rest
    await healthy(served)


async def test_an_idle_chat_socket_outlives_the_idle_timeout(served: Served) -> None:
    """The timeouts are for requests that never finish; an open chat is not one of them."""
    async with aiohttp.ClientSession() as http:
        chat = await ChatClient.connect(http, served.url + "/chat/ws", language="en")
        await asyncio.sleep(IDLE * 3)
        assert (await chat.send("Are you still there?"))["type"] == "ack"
        await chat.close()


async def test_the_access_log_leaves_out_query_strings(served: Served, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="aiohttp.access"):
        async with aiohttp.ClientSession() as http:
            await http.get(served.url + "/healthz", params={"caller": "+8613800138000", "name": "Li Lei"})
    [line] = [r.getMessage() for r in caplog.records if r.name == "aiohttp.access"]
    assert '"GET /healthz?... HTTP/1.1" 200' in line
    assert "8613800138000" not in line and "Li" not in line


async def test_the_access_log_keeps_the_start_of_a_long_path_and_user_agent(
        served: Served, caplog: pytest.LogCaptureFixture) -> None:
    """An 8 KB path or User-Agent is not 8 KB of log (nor 8 KB for the privacy filter to go through)."""
    path, agent = "/cases/" + "a" * 8000, "Mozilla/5.0 " + "b" * 8000
    with caplog.at_level(logging.INFO, logger="aiohttp.access"):
        async with aiohttp.ClientSession() as http:
            await http.get(served.url + path, headers={"User-Agent": agent})
    [line] = [r.getMessage() for r in caplog.records if r.name == "aiohttp.access"]
    assert len(line) < 1000, len(line)
    assert '"GET /cases/aaaa' in line and "... HTTP/1.1" in line and '"Mozilla/5.0 bbbb' in line


async def test_a_static_file_name_longer_than_the_file_system_allows_is_refused_not_a_crash(
        client: Any, server_errors: list[logging.LogRecord]) -> None:
    for prefix in ("/static/", "/agent/static/", "/records/static/"):
        response = await client.get(prefix + "a" * 300 + ".js")
        assert response.status == 414, (prefix, response.status)
        assert "longer" in (await response.json())["error"]
    assert server_errors == []

"""Web chat: the chat page and its WebSocket (JSON text frames, README.md's "Web chat protocol").

Guarantees:
- a client message is acknowledged (``{"type":"ack","id":...}``) only after the router has recorded it in
  Redis; the same client message id sent again is acknowledged as a duplicate and recorded once;
- everything said in a session (the customer's messages, bot, agent and case frames) is kept in the
  session's stream, each frame with its ``seq``; a client that reconnects with its session id and the last
  ``seq`` it saw gets what it missed, and one that reconnects without ``seq`` gets the whole conversation;
- bad frames (not JSON, unknown type, over-long text, a NUL or a lone surrogate, a flood) get an error frame
  and change nothing; invisible control characters are dropped from a message (``channels.text``);
- the session id is a secret only the customer's browser holds: the server keeps a one-way digest of it
  (``conversation_key``), under which everything of the session is stored and which names the conversation
  to the router and the case, so no stored document, case or export holds the credential; a hello with
  the digest does not open the session, a hello with the secret does;
- one client address holds at most ``sockets_per_address`` open sockets and makes at most
  ``new_sessions_per_address`` new sessions per ``new_session_window``, counted in Redis so the caps hold
  across replicas and under concurrency; an address over a cap gets a ``rate_limited`` error frame, its
  socket is closed and nothing of a session is stored;
- a session lives ``idle_session_ttl`` until the customer first sends a message, then ``SESSION_TTL``.

Any gateway replica can hold a session's socket: frames are written to Redis and every replica is nudged
through pub/sub, then reads what is new for the sockets it holds.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import re
import secrets
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import WSCloseCode, WSMsgType, web
from redis.asyncio import Redis
from redis.commands.core import AsyncScript
from redis.exceptions import RedisError

from channels.base import Capabilities, ChannelInfo, Inbox
from channels.message import InboundMessage, OutboundMessage
from channels.settings import positive
from channels.text import UnsafeText, clean_text
from store.keys import WEBCHAT_NUDGE_CHANNEL as NUDGE_CHANNEL
from store.keys import webchat_echo_key as _echo_key
from store.keys import webchat_frames_key as _frames_key
from store.keys import webchat_new_sessions_key as _new_sessions_key
from store.keys import webchat_rate_key as _rate_key
from store.keys import webchat_sent_key as _sent_key
from store.keys import webchat_session_key as _session_key
from store.keys import webchat_sockets_key as sockets_key
from store.once import AppendOnce
from store.pubsub import publish, subscribe
from store.scripts import register_script

log = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).with_name("static")
SESSION_TTL = 30 * 24 * 3600
# An open socket's place in its address's count lasts this long unless renewed, so a replica that dies
# holding sockets frees their places soon after.
SOCKET_LEASE = 120
_SEQ = re.compile(r"^(\d{1,20})-(\d{1,20})$")
_SESSION = re.compile(r"^[A-Za-z0-9_-]{16,64}$")  # what secrets.token_urlsafe makes
_LAST_SEQ = 2**64 - 1  # a Redis stream id is two unsigned 64-bit numbers
_LANGUAGES = ("zh", "en")


def conversation_key(session: str) -> str:
    """What the server keeps for a session: a digest of the secret id, from which the id cannot be found."""
    return hashlib.sha256(session.encode()).hexdigest()[:32]


def client_ref(address: str) -> str:
    """A client address as the caps count it: a digest, so Redis does not list addresses in clear."""
    return hashlib.sha256(address.encode()).hexdigest()[:16]


# The Redis keys (store.keys) take one of these two, never a session secret or a client address in clear.

# Take a place among an address's open sockets if it has one free. The set maps each open socket to the end
# of its lease (ms, Redis's clock, the same for every replica); lapsed leases are dropped first.
_TAKE_PLACE = """
local now = redis.call('TIME')
local ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ms)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then
  return 0
end
redis.call('ZADD', KEYS[1], ms + tonumber(ARGV[3]), ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1
"""

# Renew the leases of the sockets (ARGV[2..]) this replica holds for one address.
_RENEW_PLACES = """
local now = redis.call('TIME')
local until_ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000) + tonumber(ARGV[1])
for i = 2, #ARGV do
  redis.call('ZADD', KEYS[1], 'XX', until_ms, ARGV[i])
end
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return 1
"""

# Keep the session's language; a session the customer has spoken in lives long, one that never spoke briefly.
_KEEP_SESSION = """
redis.call('HSET', KEYS[1], 'language', ARGV[1])
if redis.call('HEXISTS', KEYS[1], 'spoke') == 1 then
  redis.call('EXPIRE', KEYS[1], ARGV[3])
else
  redis.call('EXPIRE', KEYS[1], ARGV[2])
end
return 1
"""


# A customer's message: counted in the session's rate window (a fixed window from its first count, SET NX), and
# unless over the limit, the session marked as spoken in, kept long, and its language (kept, or this socket's if
# the session ran out while the customer only read). KEYS: rate counter, session. ARGV: window ms, limit, this
# socket's language, SESSION_TTL. Returns the language, or false (nothing else changed) over the limit.
_SPEAK = """
redis.call('SET', KEYS[1], 0, 'NX', 'PX', ARGV[1])
if redis.call('INCR', KEYS[1]) > tonumber(ARGV[2]) then return false end
redis.call('HSETNX', KEYS[2], 'language', ARGV[3])
local language = redis.call('HGET', KEYS[2], 'language')
redis.call('HSET', KEYS[2], 'spoke', '1')
redis.call('EXPIRE', KEYS[2], ARGV[4])
return language
"""


@dataclass(frozen=True, slots=True)
class WebChatLimits:
    max_text: int = 2000
    rate_limit: int = 10
    rate_window: float = 10.0
    new_sessions_per_address: int = 20
    new_session_window: float = 600.0
    sockets_per_address: int = 10
    idle_session_ttl: int = 3600  # a session no message was sent in


@dataclass(frozen=True)
class WebChatSettings:
    chat_max_text: int = positive("CHAT_MAX_TEXT", 2000)
    chat_rate_limit: int = positive("CHAT_RATE_LIMIT", 10)
    chat_rate_window: float = positive("CHAT_RATE_WINDOW", 10.0)
    chat_sessions_per_address: int = positive("CHAT_SESSIONS_PER_ADDRESS", 20)
    chat_session_window: float = positive("CHAT_SESSION_WINDOW", 600.0)
    chat_sockets_per_address: int = positive("CHAT_SOCKETS_PER_ADDRESS", 10)
    chat_idle_session_ttl: int = positive("CHAT_IDLE_SESSION_TTL", 3600)


class ProtocolError(Exception):
    def __init__(self, code: str, message: str, *, close: bool = False) -> None:
        super().__init__(message)
        self.code = code
        self.close = close  # the socket ends after the error frame


class _Socket:
    """One open WebSocket of a session, and how far it has been sent the session's frames."""

    def __init__(self, ws: web.WebSocketResponse, key: str, language: str, cursor: str) -> None:
        self.ws = ws
        self.key = key  # the session's conversation key
        self.language = language  # as of its hello
        self.cursor = cursor
        self.lock = asyncio.Lock()

    async def catch_up(self, redis: Redis) -> None:
        async with self.lock:
            entries = await redis.xrange(_frames_key(self.key), min=f"({self.cursor}")
            for entry_id, fields in entries:
                frame = json.loads(fields[b"frame"])
                frame["seq"] = entry_id.decode()
                if self.ws.closed:
                    return
                await self.ws.send_json(frame)
                self.cursor = frame["seq"]


class WebChat:
    name = "webchat"
    info = ChannelInfo(name, "网页在线", "web chat", needs=(), capabilities=Capabilities(survey=True))

    @classmethod
    def from_settings(cls, settings: WebChatSettings) -> WebChat:
        """Always on: the chat page is the gateway's own."""
        return cls(WebChatLimits(settings.chat_max_text, settings.chat_rate_limit, settings.chat_rate_window,
                                 settings.chat_sessions_per_address, settings.chat_session_window,
                                 settings.chat_sockets_per_address, settings.chat_idle_session_ttl))

    def __init__(self, limits: WebChatLimits) -> None:
        self._limits = limits
        self._redis: Redis | None = None
        self._inbox: Inbox | None = None
        self._sockets: dict[str, set[_Socket]] = defaultdict(set)
        self._places: dict[str, set[str]] = defaultdict(set)  # client ref -> leases of this replica's sockets
        self._scripts: dict[str, AsyncScript] = {}
        self._echo_once: AppendOnce | None = None

    def routes(self) -> Iterable[web.AbstractRouteDef]:
        return [
            web.get("/", self._page),
            web.get("/chat/ws", self._socket),
            web.static("/static", STATIC_DIR),
        ]

    @contextlib.asynccontextmanager
    async def running(self, redis: Redis, inbox: Inbox) -> AsyncIterator[None]:
        self._redis, self._inbox = redis, inbox
        self._echo_once = AppendOnce(redis)
        self._scripts = {name: register_script(redis, source) for name, source in (
            ("take_place", _TAKE_PLACE), ("renew_places", _RENEW_PLACES),
            ("keep_session", _KEEP_SESSION), ("speak", _SPEAK))}
        tasks = [asyncio.create_task(self._listen_for_nudges(redis)), asyncio.create_task(self._renew_leases())]
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            for sockets in list(self._sockets.values()):
                for sock in list(sockets):
                    await sock.ws.close(code=1001, message=b"server shutting down")

    async def send(self, message: OutboundMessage) -> None:
        frames: list[dict[str, Any]] = []
        if message.text:
            frames.append({"type": "message", "from": message.sender, "text": message.text,
                           "buttons": [b.to_dict() for b in message.buttons]})
        if message.case_id:
            frames.append({"type": "case", "case_id": message.case_id, "status": message.case_status})
        await self._append(message.conversation_key, frames, message.once)

    async def _append(self, key: str, frames: list[dict[str, Any]], once: str | None = None) -> None:
        redis = self._require_redis()
        if once is not None:
            assert self._echo_once is not None
            for i, frame in enumerate(frames):
                await self._echo_once.to_stream(_sent_key(key, f"{once}\n{i}"), _frames_key(key), "frame",
                                                json.dumps(frame, ensure_ascii=False), SESSION_TTL)
            await publish(redis, NUDGE_CHANNEL, key)
            return
        async with redis.pipeline(transaction=True) as pipe:
            for frame in frames:
                pipe.xadd(_frames_key(key), {"frame": json.dumps(frame, ensure_ascii=False)})
            pipe.expire(_frames_key(key), SESSION_TTL)
            await pipe.execute()
        await publish(redis, NUDGE_CHANNEL, key)

    def _require_redis(self) -> Redis:
        if self._redis is None:
            raise RuntimeError("web chat used before the app started")
        return self._redis

    def _script(self, name: str) -> AsyncScript:
        if name not in self._scripts:
            raise RuntimeError("web chat used before the app started")
        return self._scripts[name]

    async def _listen_for_nudges(self, redis: Redis) -> None:
        """Forward new frames to this process's sockets, for as long as the app runs, whatever Redis does."""
        while True:
            try:
                async with subscribe(redis, NUDGE_CHANNEL) as subscription:
                    # Frames added while we were not subscribed sent no nudge we heard: look for them now.
                    for key in list(self._sockets):
                        await self._deliver_to_local(redis, key)
                    while True:
                        nudged = await subscription.get_message(30)
                        if nudged is not None:
                            await self._deliver_to_local(redis, nudged)
            except (RedisError, OSError):
                log.warning("web chat lost its Redis subscription; subscribing again")
                await asyncio.sleep(1)

    async def _deliver_to_local(self, redis: Redis, key: str) -> None:
        for sock in list(self._sockets.get(key, ())):
            try:
                await sock.catch_up(redis)
            except (ConnectionResetError, RuntimeError):
                self._sockets[key].discard(sock)

    async def _renew_leases(self) -> None:
        """Keep the places of this replica's open sockets in their addresses' counts, for as long as it runs."""
        while True:
            await asyncio.sleep(SOCKET_LEASE / 4)
            try:
                for client, places in list(self._places.items()):
                    if places:
                        await self._script("renew_places")(keys=[sockets_key(client)],
                                                           args=[SOCKET_LEASE * 1000, *places])
            except (RedisError, OSError):
                log.warning("web chat could not renew its sockets' leases; trying again shortly")

    async def _page(self, request: web.Request) -> web.FileResponse:
        return web.FileResponse(STATIC_DIR / "index.html")

    async def _socket(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(heartbeat=30, max_msg_size=64 * 1024)
        await ws.prepare(request)
        # Behind a proxy this is the proxy's address unless the operator has aiohttp take the forwarded one.
        client, place = client_ref(request.remote or "unknown"), uuid.uuid4().hex
        sock: _Socket | None = None
        try:
            if not await self._take_place(client, place):
                await _error(ws, "rate_limited", "Too many chats are open from your address; please close one "
                                                 "and try again.")
                await ws.close(code=WSCloseCode.TRY_AGAIN_LATER)
                return ws
            async for msg in ws:
                if msg.type != WSMsgType.TEXT:
                    await _error(ws, "bad_message", "Only JSON text frames are accepted.")
                    continue
                try:
                    sock = await self._on_frame(ws, sock, msg.data, client)
                except ProtocolError as exc:
                    await _error(ws, exc.code, str(exc))
                    if exc.close:
                        await ws.close(code=WSCloseCode.TRY_AGAIN_LATER)
                except RedisError:
                    log.exception("web chat could not reach Redis")
                    await _error(ws, "unavailable", "We could not record that just now; please send it again.")
        finally:
            if sock is not None:
                self._sockets[sock.key].discard(sock)
                if not self._sockets[sock.key]:
                    del self._sockets[sock.key]
            await self._give_back_place(client, place)
        return ws

    async def _take_place(self, client: str, place: str) -> bool:
        """Count the socket against its address; False if the address already holds its share."""
        try:
            taken = await self._script("take_place")(keys=[sockets_key(client)],
                                                      args=[place, self._limits.sockets_per_address,
                                                            SOCKET_LEASE * 1000])
        except RedisError:
            # Without Redis no session can start anyway; the socket gets the "unavailable" answers.
            log.warning("web chat could not count a socket against its address")
            return True
        if taken:
            self._places[client].add(place)
        return bool(taken)

    async def _give_back_place(self, client: str, place: str) -> None:
        if place not in self._places.get(client, ()):
            return
        self._places[client].discard(place)
        if not self._places[client]:
            del self._places[client]
        with contextlib.suppress(RedisError, OSError):  # the lease runs out by itself
            await self._require_redis().zrem(sockets_key(client), place)

    async def _on_frame(
        self, ws: web.WebSocketResponse, sock: _Socket | None, data: str, client: str
    ) -> _Socket | None:
        try:
            frame = json.loads(data)
        except json.JSONDecodeError:
            raise ProtocolError("bad_json", "That frame is not valid JSON.") from None
        if not isinstance(frame, dict):
            raise ProtocolError("bad_message", "A frame must be a JSON object.")
        kind = frame.get("type")
        if kind == "hello":
            return await self._hello(ws, sock, frame, client)
        if kind == "message":
            if sock is None:
                raise ProtocolError("no_session", "Say hello first.")
            await self._message(sock, frame)
            return sock
        raise ProtocolError("unknown_type", f"Unknown frame type {str(kind)[:40]!r}.")

    async def _hello(
        self, ws: web.WebSocketResponse, sock: _Socket | None, frame: dict[str, Any], client: str
    ) -> _Socket:
        if sock is not None:
            raise ProtocolError("bad_message", "This socket already said hello.")
        redis = self._require_redis()
        language = str(frame["language"]) if frame.get("language") in _LANGUAGES else "auto"
        session = frame.get("session")
        if not (isinstance(session, str) and _SESSION.match(session)
                and await redis.exists(_session_key(conversation_key(session)))):
            await self._count_new_session(client)
            session = secrets.token_urlsafe(16)
        key = conversation_key(session)
        await self._script("keep_session")(keys=[_session_key(key)],
                                           args=[language, self._limits.idle_session_ttl, SESSION_TTL])
        sock = _Socket(ws, key, language, _resume_point(frame.get("after")))
        await ws.send_json({"type": "welcome", "session": session, "language": language})
        self._sockets[key].add(sock)
        await sock.catch_up(redis)
        return sock

    async def _count_new_session(self, client: str) -> None:
        window = self._limits.new_session_window
        if await self._count_in_window(_new_sessions_key(client), window) > self._limits.new_sessions_per_address:
            raise ProtocolError("rate_limited", "Too many new chats have been started from your address; please "
                                                "try again in a few minutes.", close=True)

    async def _message(self, sock: _Socket, frame: dict[str, Any]) -> None:
        message_id, text = _message_id(frame.get("id")), _message_text(frame.get("text"))
        if len(text) > self._limits.max_text:
            raise ProtocolError("too_long", f"Please keep a message under {self._limits.max_text} characters.")
        redis = self._require_redis()
        # Counted against the session's rate; then the customer has spoken: from now on the session lasts as long
        # as the conversation may (if it ran out while the customer only read, it is kept again, with the
        # language of this socket). One script: the rate counter and the session share the session's slot.
        spoken = await self._script("speak")(keys=[_rate_key(sock.key), _session_key(sock.key)],
                                             args=[int(self._limits.rate_window * 1000), self._limits.rate_limit,
                                                   sock.language, SESSION_TTL])
        if spoken is None:
            raise ProtocolError("rate_limited", "You are sending messages very quickly; please wait a moment.")
        language = (spoken or b"auto").decode()
        inbound = InboundMessage(
            channel=self.name,
            conversation_key=sock.key,
            message_id=message_id,
            text=text,
            language=language if language in _LANGUAGES else None,
        )
        assert self._inbox is not None
        fresh = await self._inbox.receive(inbound)
        # Shown in the session's stream before the ack, and once: a resend after a fault between the two
        # (the customer never saw an ack) must still show it, and a plain duplicate must not show it twice.
        echo = json.dumps({"type": "message", "from": "customer", "id": message_id, "text": text},
                          ensure_ascii=False)
        assert self._echo_once is not None
        if await self._echo_once.to_stream(_echo_key(sock.key, message_id), _frames_key(sock.key), "frame", echo,
                                           SESSION_TTL):
            await publish(redis, NUDGE_CHANNEL, sock.key)
        await sock.ws.send_json({"type": "ack", "id": message_id, "duplicate": not fresh})

    async def _count_in_window(self, key: str, window: float) -> int:
        """Count one more in a fixed window that starts with its first count; the count so far."""
        async with self._require_redis().pipeline(transaction=True) as pipe:
            # SET NX keeps the window from sliding; MULTI makes the two one step for every replica.
            pipe.set(key, 0, nx=True, px=int(window * 1000))
            pipe.incr(key)
            _, count = await pipe.execute()
        return int(count)


def _message_id(value: Any) -> str:
    if not isinstance(value, str) or not 1 <= len(value) <= 128:
        raise ProtocolError("bad_message", "A message needs an id of 1 to 128 characters.")
    try:
        if clean_text(value) == value:
            return value
    except UnsafeText:
        pass
    raise ProtocolError("bad_message", "A message id must be plain text, without control characters.")


def _message_text(value: Any) -> str:
    try:
        text = clean_text(value) if isinstance(value, str) else ""
    except UnsafeText as exc:
        raise ProtocolError("bad_message", str(exc)) from None
    if not text.strip():
        raise ProtocolError("bad_message", "A message needs some text.")
    return text


def _resume_point(after: Any) -> str:
    """The client's last ``seq`` if Redis can start a range after it, else the start of the session."""
    match = _SEQ.match(after) if isinstance(after, str) else None
    if match is None:
        return "0-0"
    ms, seq = int(match.group(1)), int(match.group(2))
    # Each part is an unsigned 64-bit number, and the very last id has nothing after it.
    if ms > _LAST_SEQ or seq > _LAST_SEQ or (ms, seq) == (_LAST_SEQ, _LAST_SEQ):
        return "0-0"
    return f"{ms}-{seq}"


async def _error(ws: web.WebSocketResponse, code: str, message: str) -> None:
    if not ws.closed:
        await ws.send_json({"type": "error", "code": code, "message": message})

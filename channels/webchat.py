"""Web chat: the chat page and its WebSocket (JSON text frames, the protocol of DESIGN.md).

Guarantees:
- a client message is acknowledged (``{"type":"ack","id":...}``) only after the router has recorded it in
  Redis; the same client message id sent again is acknowledged as a duplicate and recorded once;
- everything said in a session (the customer's messages, bot, agent and case frames) is kept in the
  session's stream, each frame with its ``seq``; a client that reconnects with its session id and the last
  ``seq`` it saw gets what it missed, and one that reconnects without ``seq`` gets the whole conversation;
- bad frames (not JSON, unknown type, over-long text, a flood) get an error frame and change nothing.

Any gateway replica can hold a session's socket: frames are written to Redis and every replica is nudged
through pub/sub, then reads what is new for the sockets it holds.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import secrets
from collections import defaultdict
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import WSMsgType, web
from redis.asyncio import Redis
from redis.commands.core import AsyncScript
from redis.exceptions import RedisError

from channels.base import Inbox
from channels.message import InboundMessage, OutboundMessage

log = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).with_name("webchat_static")
NUDGE_CHANNEL = "cg:webchat:nudge"
SESSION_TTL = 30 * 24 * 3600
_SEQ = re.compile(r"^(\d{1,20})-(\d{1,20})$")
_LAST_SEQ = 2**64 - 1  # a Redis stream id is two unsigned 64-bit numbers
_LANGUAGES = ("zh", "en")


def _session_key(session: str) -> str:
    return f"cg:webchat:{{{session}}}"


def _frames_key(session: str) -> str:
    return f"cg:webchat:{{{session}}}:frames"


def _rate_key(session: str) -> str:
    return f"cg:webchat:{{{session}}}:rate"


def _echo_key(session: str, message_id: str) -> str:
    return f"cg:webchat:{{{session}}}:echoed:{message_id}"


# Add the customer's own message to the session's stream once: the mark and the frame go together or not at all.
_ECHO_ONCE = """
if redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[2]) then
  redis.call('XADD', KEYS[2], '*', 'frame', ARGV[1])
  redis.call('EXPIRE', KEYS[2], ARGV[2])
  return 1
end
return 0
"""


@dataclass(frozen=True, slots=True)
class WebChatLimits:
    max_text: int = 2000
    rate_limit: int = 10
    rate_window: float = 10.0


class ProtocolError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class _Socket:
    """One open WebSocket of a session, and how far it has been sent the session's frames."""

    def __init__(self, ws: web.WebSocketResponse, session: str, cursor: str) -> None:
        self.ws = ws
        self.session = session
        self.cursor = cursor
        self.lock = asyncio.Lock()

    async def catch_up(self, redis: Redis) -> None:
        async with self.lock:
            entries = await redis.xrange(_frames_key(self.session), min=f"({self.cursor}")
            for entry_id, fields in entries:
                frame = json.loads(fields[b"frame"])
                frame["seq"] = entry_id.decode()
                if self.ws.closed:
                    return
                await self.ws.send_json(frame)
                self.cursor = frame["seq"]


class WebChat:
    name = "webchat"

    def __init__(self, limits: WebChatLimits) -> None:
        self._limits = limits
        self._redis: Redis | None = None
        self._inbox: Inbox | None = None
        self._sockets: dict[str, set[_Socket]] = defaultdict(set)
        self._echo_once: AsyncScript | None = None

    def routes(self) -> Iterable[web.AbstractRouteDef]:
        return [
            web.get("/", self._page),
            web.get("/chat/ws", self._socket),
            web.static("/static", STATIC_DIR),
        ]

    @contextlib.asynccontextmanager
    async def running(self, redis: Redis, inbox: Inbox) -> AsyncIterator[None]:
        self._redis, self._inbox = redis, inbox
        self._echo_once = redis.register_script(_ECHO_ONCE)
        listener = asyncio.create_task(self._listen_for_nudges(redis))
        try:
            yield
        finally:
            listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await listener
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
        await self._append(message.conversation_key, frames)

    async def _append(self, session: str, frames: list[dict[str, Any]]) -> None:
        redis = self._require_redis()
        async with redis.pipeline(transaction=True) as pipe:
            for frame in frames:
                pipe.xadd(_frames_key(session), {"frame": json.dumps(frame, ensure_ascii=False)})
            pipe.expire(_frames_key(session), SESSION_TTL)
            await pipe.execute()
        await redis.publish(NUDGE_CHANNEL, session)

    def _require_redis(self) -> Redis:
        if self._redis is None:
            raise RuntimeError("web chat used before the app started")
        return self._redis

    async def _listen_for_nudges(self, redis: Redis) -> None:
        """Forward new frames to this process's sockets, for as long as the app runs, whatever Redis does."""
        while True:
            try:
                async with redis.pubsub() as pubsub:
                    await pubsub.subscribe(NUDGE_CHANNEL)
                    # Frames added while we were not subscribed sent no nudge we heard: look for them now.
                    for session in list(self._sockets):
                        await self._deliver_to_local(redis, session)
                    while True:
                        message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=30)
                        if message:
                            await self._deliver_to_local(redis, message["data"].decode())
            except (RedisError, OSError):
                log.warning("web chat lost its Redis subscription; subscribing again")
                await asyncio.sleep(1)

    async def _deliver_to_local(self, redis: Redis, session: str) -> None:
        for sock in list(self._sockets.get(session, ())):
            try:
                await sock.catch_up(redis)
            except (ConnectionResetError, RuntimeError):
                self._sockets[session].discard(sock)

    async def _page(self, request: web.Request) -> web.FileResponse:
        return web.FileResponse(STATIC_DIR / "index.html")

    async def _socket(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(heartbeat=30, max_msg_size=64 * 1024)
        await ws.prepare(request)
        sock: _Socket | None = None
        try:
            async for msg in ws:
                if msg.type != WSMsgType.TEXT:
                    await _error(ws, "bad_message", "Only JSON text frames are accepted.")
                    continue
                try:
                    sock = await self._on_frame(ws, sock, msg.data)
                except ProtocolError as exc:
                    await _error(ws, exc.code, str(exc))
                except RedisError:
                    log.exception("web chat could not reach Redis")
                    await _error(ws, "unavailable", "We could not record that just now; please send it again.")
        finally:
            if sock is not None:
                self._sockets[sock.session].discard(sock)
                if not self._sockets[sock.session]:
                    del self._sockets[sock.session]
        return ws

    async def _on_frame(self, ws: web.WebSocketResponse, sock: _Socket | None, data: str) -> _Socket | None:
        try:
            frame = json.loads(data)
        except json.JSONDecodeError:
            raise ProtocolError("bad_json", "That frame is not valid JSON.") from None
        if not isinstance(frame, dict):
            raise ProtocolError("bad_message", "A frame must be a JSON object.")
        kind = frame.get("type")
        if kind == "hello":
            return await self._hello(ws, sock, frame)
        if kind == "message":
            if sock is None:
                raise ProtocolError("no_session", "Say hello first.")
            await self._message(sock, frame)
            return sock
        raise ProtocolError("unknown_type", f"Unknown frame type {str(kind)[:40]!r}.")

    async def _hello(self, ws: web.WebSocketResponse, sock: _Socket | None, frame: dict[str, Any]) -> _Socket:
        if sock is not None:
            raise ProtocolError("bad_message", "This socket already said hello.")
        redis = self._require_redis()
        language = frame.get("language") if frame.get("language") in _LANGUAGES else "auto"
        session = frame.get("session")
        if not (isinstance(session, str) and 8 <= len(session) <= 64 and await redis.exists(_session_key(session))):
            session = secrets.token_urlsafe(16)
        async with redis.pipeline(transaction=True) as pipe:
            pipe.hset(_session_key(session), mapping={"language": language})
            pipe.expire(_session_key(session), SESSION_TTL)
            await pipe.execute()
        after = frame.get("after")
        sock = _Socket(ws, session, _resume_point(after))
        await ws.send_json({"type": "welcome", "session": session, "language": language})
        self._sockets[session].add(sock)
        await sock.catch_up(redis)
        return sock

    async def _message(self, sock: _Socket, frame: dict[str, Any]) -> None:
        message_id, text = frame.get("id"), frame.get("text")
        if not isinstance(message_id, str) or not 1 <= len(message_id) <= 128:
            raise ProtocolError("bad_message", "A message needs an id of 1 to 128 characters.")
        if not isinstance(text, str) or not text.strip():
            raise ProtocolError("bad_message", "A message needs some text.")
        if len(text) > self._limits.max_text:
            raise ProtocolError("too_long", f"Please keep a message under {self._limits.max_text} characters.")
        await self._check_rate(sock.session)
        redis = self._require_redis()
        language = (await redis.hget(_session_key(sock.session), "language") or b"auto").decode()
        inbound = InboundMessage(
            channel=self.name,
            conversation_key=sock.session,
            message_id=message_id,
            text=text,
            language=language if language in _LANGUAGES else None,
        )
        assert self._inbox is not None and self._echo_once is not None
        fresh = await self._inbox.receive(inbound)
        # Shown in the session's stream before the ack, and once: a resend after a fault between the two
        # (the customer never saw an ack) must still show it, and a plain duplicate must not show it twice.
        echo = json.dumps({"type": "message", "from": "customer", "id": message_id, "text": text},
                          ensure_ascii=False)
        if await self._echo_once(keys=[_echo_key(sock.session, message_id), _frames_key(sock.session)],
                                 args=[echo, SESSION_TTL]):
            await redis.publish(NUDGE_CHANNEL, sock.session)
        await sock.ws.send_json({"type": "ack", "id": message_id, "duplicate": not fresh})

    async def _check_rate(self, session: str) -> None:
        redis = self._require_redis()
        key = _rate_key(session)
        async with redis.pipeline(transaction=True) as pipe:
            # The window starts with the first message in it; SET NX keeps it from sliding.
            pipe.set(key, 0, nx=True, px=int(self._limits.rate_window * 1000))
            pipe.incr(key)
            _, count = await pipe.execute()
        if count > self._limits.rate_limit:
            raise ProtocolError("rate_limited", "You are sending messages very quickly; please wait a moment.")


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

"""The one web chat client of the tests and benches: speaks the WebSocket protocol (README.md, "Web chat
protocol") and keeps what the server says until it is asked for.

The end-to-end fault test's page (tests/e2e/test_faults.py, ``ChatPage``) reconnects and resends over it; the
benches (bench/_common.py, bench/intake_eval.py) time and record conversations over it.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Callable
from typing import Any, Self

import aiohttp

Frame = dict[str, Any]


class Refused(RuntimeError):
    """The gateway answered with an error frame: at hello, or, for a client that refuses errors, at any time."""

    def __init__(self, frame: Frame) -> None:
        super().__init__(f"the gateway refused a frame: {frame}")
        self.frame = frame
        self.code = str(frame.get("code"))


class ChatClient:
    # A client that refuses errors raises Refused on any error frame instead of keeping it (the benches: an
    # error there means the measurement is void).
    REFUSE_ERRORS = False
    WAIT = 30.0  # how long ``expect`` waits unless told

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.frames: list[Frame] = []
        self.session: str | None = None

    @classmethod
    async def connect(cls, http: Any, url: str, session: str | None = None, language: str = "auto",
                      after: str | None = None, timeout: float | None = None) -> Self:
        client = cls(await http.ws_connect(url))
        try:
            await client.hello(session, language, after, timeout)
        except BaseException:
            await client.close()
            raise
        return client

    async def hello(self, session: str | None, language: str, after: str | None,
                    timeout: float | None = None) -> Frame:
        """Open or resume a session; the welcome. An error frame instead (the gateway cannot serve) raises."""
        await self.ws.send_json({"type": "hello", "session": session, "language": language, "after": after})
        welcome = await self.expect(lambda f: f["type"] in ("welcome", "error"), timeout)
        if welcome["type"] == "error":
            raise Refused(welcome)
        self.session = welcome["session"]
        return welcome

    async def post(self, text: str, message_id: str) -> None:
        """Send a message without waiting for its ack."""
        await self.ws.send_json({"type": "message", "id": message_id, "text": text})

    async def send(self, text: str, message_id: str | None = None) -> Frame:
        """Send a message and wait for its ack (or an error frame)."""
        message_id = message_id or uuid.uuid4().hex
        await self.post(text, message_id)
        return await self.expect(
            lambda f: (f["type"] == "ack" and f["id"] == message_id) or f["type"] == "error")

    async def _read(self, timeout: float | None = None) -> Frame:
        """The next frame from the socket; ConnectionError when the socket ends, TimeoutError on silence."""
        msg = await self.ws.receive(timeout=timeout)
        if msg.type != aiohttp.WSMsgType.TEXT:
            raise ConnectionError(f"socket ended: {msg.type}")
        frame: Frame = json.loads(msg.data)
        if self.REFUSE_ERRORS and frame.get("type") == "error":
            raise Refused(frame)
        return frame

    async def expect(self, match: Callable[[Frame], bool], timeout: float | None = None) -> Frame:
        """The first frame, already seen or still to come, that matches; consumed so it matches once."""
        async with asyncio.timeout(self.WAIT if timeout is None else timeout):
            while True:
                for i, frame in enumerate(self.frames):
                    if match(frame):
                        return self.frames.pop(i)
                self.frames.append(await self._read())

    async def next_frame(self, quiet: float) -> Frame | None:
        """The oldest frame not yet taken, or None after ``quiet`` seconds of silence; ConnectionError when the
        socket has ended."""
        if self.frames:
            return self.frames.pop(0)
        try:
            return await self._read(quiet)
        except TimeoutError:
            return None

    async def bot_says(self, timeout: float = 30.0) -> str:
        frame = await self.expect(lambda f: f["type"] == "message" and f["from"] in ("bot", "system"), timeout)
        return str(frame["text"])

    async def drain(self, quiet: float = 1.0) -> list[Frame]:
        """Every frame that arrives until the server has been quiet for ``quiet`` seconds (or the socket ends)."""
        while True:
            try:
                self.frames.append(await self._read(quiet))
            except (TimeoutError, ConnectionError):
                break
        drained, self.frames = self.frames, []
        return drained

    async def close(self) -> None:
        await self.ws.close()

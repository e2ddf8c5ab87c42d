"""A small web chat client for tests: speaks the WebSocket protocol and collects what the server says."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Callable
from typing import Any

import aiohttp

Frame = dict[str, Any]


class ChatClient:
    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.frames: list[Frame] = []
        self.session: str | None = None

    @classmethod
    async def connect(cls, http: Any, url: str, session: str | None = None, language: str = "auto",
                      after: str | None = None) -> ChatClient:
        client = cls(await http.ws_connect(url))
        await client.ws.send_json({"type": "hello", "session": session, "language": language, "after": after})
        welcome = await client.expect(lambda f: f["type"] == "welcome")
        client.session = welcome["session"]
        return client

    async def send(self, text: str, message_id: str | None = None) -> Frame:
        """Send a message and wait for its ack (or an error frame)."""
        message_id = message_id or uuid.uuid4().hex
        await self.ws.send_json({"type": "message", "id": message_id, "text": text})
        return await self.expect(
            lambda f: (f["type"] == "ack" and f["id"] == message_id) or f["type"] == "error")

    async def expect(self, match: Callable[[Frame], bool], timeout: float = 30.0) -> Frame:
        """The first frame, already seen or still to come, that matches; consumed so it matches once."""
        async with asyncio.timeout(timeout):
            while True:
                for i, frame in enumerate(self.frames):
                    if match(frame):
                        return self.frames.pop(i)
                msg = await self.ws.receive()
                if msg.type != aiohttp.WSMsgType.TEXT:
                    raise ConnectionError(f"socket ended: {msg.type}")
                self.frames.append(json.loads(msg.data))

    async def bot_says(self, timeout: float = 30.0) -> str:
        frame = await self.expect(lambda f: f["type"] == "message" and f["from"] in ("bot", "system"), timeout)
        return str(frame["text"])

    async def drain(self, quiet: float = 1.0) -> list[Frame]:
        """Every frame that arrives until the server has been quiet for ``quiet`` seconds."""
        while True:
            try:
                msg = await self.ws.receive(timeout=quiet)
            except TimeoutError:
                break
            if msg.type != aiohttp.WSMsgType.TEXT:
                break
            self.frames.append(json.loads(msg.data))
        drained, self.frames = self.frames, []
        return drained

    async def close(self) -> None:
        await self.ws.close()

"""A stand-in for WeChat's side, speaking its real protocol, for tests that cannot reach the real one.

- ``webhook_query`` / ``message_xml`` / ``sealed``: the server check and message webhooks as WeChat sends them,
  signed with the account's token, plain or encrypted for safe mode (the gateway's own WXBizMsgCrypt code is
  checked against WeChat's published sample in tests/channels/wechat/test_crypto.py, so it may play WeChat here).
- ``FakeWeChatApi``: a local HTTP server answering ``/cgi-bin/token`` and ``/cgi-bin/message/custom/send`` as
  WeChat does: it checks the AppID and secret, issues tokens, refuses a token it no longer honours (40001, or
  42001 once ``expire_tokens`` was called), keeps every accepted message, and answers errcodes a test queues.
"""

from __future__ import annotations

import itertools
import json
import secrets
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from channels.wechat.crypto import MessageCrypt, signature
from channels.wechat.messages import cdata

TOKEN = "complaintsWeChatToken2026"
APP_ID = "wx5823bf96d3bd56c7"
APP_SECRET = "test-app-secret-0123456789abcdef"
AES_KEY = "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C"
ACCOUNT = "gh_0123456789ab"  # the Official Account's own id: ToUserName of what customers send
OPENID = "oia2TjjewbmiOUlr6X-1crbLOvLw"
_msg_ids = itertools.count(6_054_768_590_064_713_728)


def webhook_query(token: str = TOKEN, timestamp: int | None = None, **extra: str) -> dict[str, str]:
    """The query string WeChat puts on a webhook: timestamp, nonce and their signature with the token (and on a
    message, the sender's OpenID: ``openid=...`` in ``extra``)."""
    stamp, nonce = str(int(time.time()) if timestamp is None else timestamp), str(secrets.randbelow(10**10))
    return {"signature": signature(token, stamp, nonce), "timestamp": stamp, "nonce": nonce, **extra}


def next_msg_id() -> str:
    return str(next(_msg_ids))


def message_xml(msg_type: str = "text", openid: str = OPENID, msg_id: str | None = None, **fields: str) -> str:
    """A message from a customer as WeChat posts it (``Content="..."`` for a text, ``Event=...`` for an event)."""
    if msg_type != "event":
        fields["MsgId"] = msg_id or next_msg_id()
    body = "".join(f"<{name}>{cdata(value)}</{name}>" for name, value in fields.items())
    return (f"<xml><ToUserName>{cdata(ACCOUNT)}</ToUserName><FromUserName>{cdata(openid)}</FromUserName>"
            f"<CreateTime>{int(time.time())}</CreateTime><MsgType>{cdata(msg_type)}</MsgType>{body}</xml>")


def sealed(xml: str, query: dict[str, str], token: str = TOKEN, aes_key: str = AES_KEY) -> tuple[str, dict[str, str]]:
    """The message as safe mode posts it: encrypted, with msg_signature over it in the query string."""
    encrypted = MessageCrypt(token, aes_key, APP_ID).encrypt(xml)
    msg_signature = signature(token, query["timestamp"], query["nonce"], encrypted)
    envelope = f"<xml><ToUserName>{cdata(ACCOUNT)}</ToUserName><Encrypt>{cdata(encrypted)}</Encrypt></xml>"
    return envelope, {**query, "encrypt_type": "aes", "msg_signature": msg_signature}


@dataclass
class FakeWeChatApi:
    expires_in: int = 7200
    sent: list[dict[str, Any]] = field(default_factory=list)
    token_requests: int = 0
    refused: list[int] = field(default_factory=list)
    errcodes: list[int] = field(default_factory=list)  # answered, one per custom/send call, before anything else
    _valid: set[str] = field(default_factory=set)
    _expired: set[str] = field(default_factory=set)

    def expire_tokens(self) -> None:
        """Every token issued so far has expired (WeChat's 42001)."""
        self._expired |= self._valid
        self._valid.clear()

    def revoke_tokens(self) -> None:
        """Every token issued so far is invalid (WeChat's 40001: the secret was reset, or a newer one issued)."""
        self._valid.clear()

    async def token(self, request: web.Request) -> web.Response:
        query = request.query
        self.token_requests += 1
        if query.get("grant_type") != "client_credential" or query.get("appid") != APP_ID:
            return self._error(40013, "invalid appid")
        if query.get("secret") != APP_SECRET:
            return self._error(40125, "invalid appsecret")
        token = f"ACCESS_TOKEN_{self.token_requests}_{secrets.token_hex(8)}"
        self._valid.add(token)
        return web.json_response({"access_token": token, "expires_in": self.expires_in})

    async def custom_send(self, request: web.Request) -> web.Response:
        token = request.query.get("access_token", "")
        if token in self._expired:
            return self._error(42001, "access_token expired")
        if token not in self._valid:
            return self._error(40001, "invalid credential, access_token is invalid or not latest")
        if self.errcodes:
            return self._error(self.errcodes.pop(0), "refused as the test asked")
        body = json.loads(await request.read())
        if body.get("msgtype") != "text" or not body.get("touser") or not (body.get("text") or {}).get("content"):
            return self._error(44002, "empty post data")
        self.sent.append(body)
        return web.json_response({"errcode": 0, "errmsg": "ok"})

    def _error(self, errcode: int, errmsg: str) -> web.Response:
        self.refused.append(errcode)
        return web.json_response({"errcode": errcode, "errmsg": errmsg})


@asynccontextmanager
async def fake_wechat(port: int = 0) -> AsyncIterator[tuple[str, FakeWeChatApi]]:
    api = FakeWeChatApi()
    app = web.Application()
    app.router.add_get("/cgi-bin/token", api.token)
    app.router.add_post("/cgi-bin/message/custom/send", api.custom_send)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}", api
    finally:
        await runner.cleanup()

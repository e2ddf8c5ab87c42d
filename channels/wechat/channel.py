"""The WeChat Official Account (微信公众号): the server check and message webhook in, passive replies and
customer-service messages out.

``GET /channels/wechat`` answers WeChat's server check; ``POST /channels/wechat`` takes each message, plain or
in safe mode (``encrypt_type=aes``), and answers within WeChat's 5 seconds with a passive reply or ``success``.

Guarantees:
- only requests WeChat signed get in: a wrong ``signature`` (or, in safe mode, ``msg_signature`` over the
  encrypted message) is 403, a timestamp far from the gateway's clock too (a replayed query string: in plain
  mode the signature does not cover the body, which is why safe mode is the one to use); broken XML, XML with
  a DOCTYPE or entities, a message missing WeChat's fields and one that does not decrypt are 400; all of them
  change nothing;
- a message is recorded before WeChat gets its answer; WeChat's retries of it (same MsgId; an event's time
  and name) are recorded once and cause no second bot turn: each gets the answer the first try gave (the
  passive reply, or ``success``), also while the first try is still being answered, on any replica;
- the bot's answer goes back as the passive reply when it is ready within ``reply_wait`` (4.5 s, inside
  WeChat's 5); otherwise the reply is ``success`` and the answer, like every handler's reply, leaves through
  the customer-service API (answers held for a reply whose gateway died leave that way too);
- text and voice with WeChat's speech recognition go to the bot; images, video, locations and links are kept as
  attachments; ``subscribe`` gets a greeting in Chinese, ``unsubscribe`` and other events are notes on the
  record; a message of a type the gateway does not know is a note with its XML attached, answered ``success``;
- the conversation key is the customer's OpenID (a pseudonym WeChat gives per account); logs name the
  conversation by ``conversation_ref`` only.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Iterable, Mapping
from dataclasses import dataclass
from typing import TypeVar

import aiohttp
from aiohttp import web
from redis.asyncio import Redis

from channels.base import Capabilities, ChannelInfo, Inbox, needs_text
from channels.held_answers import HeldAnswers, answer_once, send_orphans_forever
from channels.language import detect
from channels.message import Attachment, InboundMessage, OutboundMessage
from channels.settings import WEB, SettingsError, setting
from channels.text import UnsafeText, clean_text
from channels.wechat import messages
from channels.wechat.api import CustomerServiceApi
from channels.wechat.crypto import DecryptError, MessageCrypt, is_aes_key, signed
from channels.wechat.keys import answer_key, language_key

log = logging.getLogger(__name__)
T = TypeVar("T")

PATH = "/channels/wechat"
SUCCESS = "success"  # WeChat's "received, nothing to say now"
PASSIVE_REPLY_DEADLINE = 5.0  # WeChat gives up on a webhook after 5 seconds and retries
REPLY_WAIT = PASSIVE_REPLY_DEADLINE - 0.5  # the rest is the response's way back
ANSWER_MARGIN = 5.0  # past the reply wait, how long a first try may take before a retry answers instead
REPEAT_SECONDS = 7 * 24 * 3600  # as long as the router remembers a message id (gateway/router.py DEDUP_SECONDS)
MAX_CLOCK_SKEW = 900  # seconds between WeChat's timestamp and the gateway's clock before a request is a replay
LANGUAGE_SECONDS = 30 * 24 * 3600
GREETING = ("您好，感谢关注！这里是客户投诉服务。请直接发送您遇到的问题，我们会为您登记投诉，并由投诉处理专员跟进答复。"
            "\nHello, and thank you for following us. To make a complaint, just write to us here.")


@dataclass(frozen=True, slots=True)
class WeChatConfig:
    token: str
    app_id: str
    app_secret: str
    aes_key: str = ""
    api_base_url: str = ""


@dataclass(frozen=True)
class WeChatSettings:
    wechat_token: str = setting("WECHAT_TOKEN", "", secret=True)
    wechat_app_id: str = setting("WECHAT_APP_ID", "")
    wechat_app_secret: str = setting("WECHAT_APP_SECRET", "", secret=True)
    wechat_aes_key: str = setting("WECHAT_AES_KEY", "", secret=True)
    wechat_api_base_url: str = setting("WECHAT_API_BASE_URL", "https://api.weixin.qq.com", schemes=WEB)

    def check(self) -> None:
        """A key that is not an EncodingAESKey stops the gateway at start, not at the first encrypted message."""
        key = self.wechat_aes_key
        if key and not is_aes_key(key):
            raise SettingsError(f"WECHAT_AES_KEY ({len(key)} characters) is not WeChat's EncodingAESKey, "
                                "43 characters of letters, digits, + and /")


class WeChat:
    name = "wechat"
    info = ChannelInfo(name, "微信", "WeChat", needs=("WECHAT_TOKEN", "WECHAT_APP_ID", "WECHAT_APP_SECRET"),
                       capabilities=Capabilities(survey=True, reply_deadline=PASSIVE_REPLY_DEADLINE))

    @classmethod
    def from_settings(cls, settings: WeChatSettings) -> WeChat | str:
        if not (settings.wechat_token and settings.wechat_app_id and settings.wechat_app_secret):
            return needs_text(cls.info)
        return cls(WeChatConfig(settings.wechat_token, settings.wechat_app_id, settings.wechat_app_secret,
                                settings.wechat_aes_key, settings.wechat_api_base_url))

    def __init__(self, config: WeChatConfig, reply_wait: float = REPLY_WAIT) -> None:
        self._config = config
        self._reply_wait = reply_wait
        self._crypt = MessageCrypt(config.token, config.aes_key, config.app_id) if config.aes_key else None
        self._redis: Redis | None = None
        self._inbox: Inbox | None = None
        self._api: CustomerServiceApi | None = None
        self._held: HeldAnswers | None = None

    def routes(self) -> Iterable[web.AbstractRouteDef]:
        return [web.get(PATH, self._server_check, allow_head=False), web.post(PATH, self._webhook)]

    @contextlib.asynccontextmanager
    async def running(self, redis: Redis, inbox: Inbox) -> AsyncIterator[None]:
        self._redis, self._inbox = redis, inbox
        async with aiohttp.ClientSession() as http:
            config = self._config
            self._api = CustomerServiceApi(http, redis, config.api_base_url, config.app_id, config.app_secret)
            self._held = held = HeldAnswers(redis, self.name, self._reply_wait)
            orphans = asyncio.create_task(send_orphans_forever(held, self._send_each))
            try:
                yield
            finally:
                orphans.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await orphans

    async def send(self, message: OutboundMessage) -> None:
        if not message.text:
            return  # a status change alone: WeChat customers hear of it when a person writes
        if await _started(self._held).add(message):
            return  # it goes in the passive reply of the webhook that is waiting for it
        await _started(self._api).send_text(message.conversation_key, message.text)

    async def _send_each(self, answers: list[OutboundMessage]) -> None:
        for answer in answers:
            await _started(self._api).send_text(answer.conversation_key, answer.text)

    async def _server_check(self, request: web.Request) -> web.Response:
        query = request.query
        if not signed(query.get("signature"), self._config.token, query.get("timestamp", ""),
                      query.get("nonce", "")):
            raise web.HTTPForbidden(text="missing or wrong signature")
        if "echostr" not in query:
            raise web.HTTPBadRequest(text="echostr is required")
        return web.Response(text=query["echostr"], content_type="text/plain")

    async def _webhook(self, request: web.Request) -> web.Response:
        query = request.query
        timestamp, nonce = query.get("timestamp", ""), query.get("nonce", "")
        if not signed(query.get("signature"), self._config.token, timestamp, nonce):
            raise web.HTTPForbidden(text="missing or wrong signature")
        if not _fresh(timestamp):
            log.warning("WeChat webhook refused: its timestamp is more than %d s from this gateway's clock",
                        MAX_CLOCK_SKEW)
            raise web.HTTPForbidden(text="the timestamp is too far from now (a replay, or a clock out of step)")
        safe = _safe_mode(query.get("encrypt_type"))
        try:
            fields, raw = self._open(await request.read(), safe, query.get("msg_signature"), timestamp, nonce)
            messages.check_message(fields)
        except (messages.BadXml, DecryptError) as exc:
            raise web.HTTPBadRequest(text=str(exc)) from None
        key = answer_key(fields["FromUserName"], messages.message_id(fields))
        answer = await answer_once(_started(self._redis), key, lambda: self._answer(fields, raw),
                                   lease=self._reply_wait + ANSWER_MARGIN, keep=REPEAT_SECONDS)
        if answer == SUCCESS:
            return web.Response(text=SUCCESS, content_type="text/plain")
        if safe:
            answer = _started(self._crypt).seal(answer, nonce)
        return web.Response(text=answer, content_type="application/xml")

    def _open(self, body: bytes, safe: bool, msg_signature: str | None, timestamp: str, nonce: str
              ) -> tuple[dict[str, str], str]:
        """The message's fields and its XML, decrypted in safe mode once ``msg_signature`` is checked."""
        envelope = messages.parse(body)
        if not safe:
            return envelope, body.decode("utf-8", "replace")
        if self._crypt is None:
            log.warning("a WeChat message in safe mode came, but WECHAT_AES_KEY is not set: it cannot be read")
            raise messages.BadXml("safe mode needs WECHAT_AES_KEY on the gateway")
        encrypted = envelope.get("Encrypt", "").strip()
        if not encrypted:
            raise messages.BadXml("a safe mode message has an Encrypt element")
        if not self._crypt.verify(msg_signature, timestamp, nonce, encrypted):
            raise web.HTTPForbidden(text="missing or wrong msg_signature")
        raw = self._crypt.decrypt(encrypted)
        return messages.parse(raw.encode()), raw

    async def _answer(self, fields: Mapping[str, str], raw: str) -> str:
        """The webhook's answer to one message (worked out once however often WeChat sends it)."""
        kind = fields["MsgType"].strip()
        if kind == "event":
            return await self._event(fields)
        said = messages.customer_words(fields)
        if said is None:
            xml = Attachment(f"wechat-{kind[:40]}.xml", "application/xml", len(raw.encode()), text=raw)
            await self._note(fields, f"微信：收到一条无法显示的消息（类型 {kind[:40]}），原文见附件。"
                                     f"\nWeChat: a message of a type the gateway cannot show ({kind[:40]}); its XML "
                                     "is attached.", (xml,))
            return SUCCESS
        text, attachments = said
        try:
            text = clean_text(text)
        except UnsafeText as exc:
            raise web.HTTPBadRequest(text=str(exc)) from None
        openid = fields["FromUserName"]
        message = InboundMessage(channel=self.name, conversation_key=openid, message_id=messages.message_id(fields),
                                 text=text, language=await self._language(openid, text), attachments=attachments)
        answers = await _started(self._held).answers_to(_started(self._inbox), message)
        said_back = "\n\n".join(a.text for a in answers if a.text)
        return messages.text_reply(fields, said_back, int(time.time())) if said_back else SUCCESS

    async def _event(self, fields: Mapping[str, str]) -> str:
        event = fields.get("Event", "").strip()
        if event == "subscribe":
            return messages.text_reply(fields, GREETING, int(time.time()))
        if event == "unsubscribe":
            await self._note(fields, "微信：客户已取消关注公众号。\nWeChat: the customer unfollowed the account.")
        else:
            key = fields.get("EventKey", "").strip()[:80]
            await self._note(fields, f"微信事件 / WeChat event: {event[:40]}" + (f" ({key})" if key else ""))
        return SUCCESS

    async def _note(self, fields: Mapping[str, str], text: str, attachments: tuple[Attachment, ...] = ()) -> None:
        note = InboundMessage(channel=self.name, conversation_key=fields["FromUserName"],
                              message_id=messages.message_id(fields), text=text, attachments=attachments,
                              command="note")
        await _started(self._inbox).receive(note)

    async def _language(self, openid: str, text: str) -> str:
        """The language of the text, else the customer's last known one, else Chinese."""
        redis, key = _started(self._redis), language_key(openid)
        if detected := detect(text):
            await redis.set(key, detected, ex=LANGUAGE_SECONDS)
            return detected
        known = await redis.get(key)
        return bytes(known).decode() if known is not None else "zh"



def _started(part: T | None) -> T:
    if part is None:
        raise RuntimeError("WeChat used before the app started")
    return part


def _safe_mode(encrypt_type: str | None) -> bool:
    if encrypt_type in (None, "", "raw"):
        return False
    if encrypt_type == "aes":
        return True
    raise web.HTTPBadRequest(text="encrypt_type must be aes or raw")


def _fresh(timestamp: str) -> bool:
    return timestamp.isascii() and timestamp.isdigit() and abs(time.time() - int(timestamp)) <= MAX_CLOCK_SKEW

"""SMS through Twilio Messaging: the webhook in, TwiML and the REST client out.

Guarantees:
- only requests signed by Twilio get in (403 otherwise, nothing recorded);
- a message is recorded before Twilio gets its 200; a retry with the same MessageSid is recorded once and
  causes no second bot turn: its TwiML repeats what the first try's response said (Twilio retries when that
  response never reached it), also when it comes while the first try is still being answered;
- the bot's answer to a message goes back inside that webhook's TwiML when it is ready in time; anything
  later (an agent's reply, a slow bot) leaves through the REST client with a status callback that records
  delivery; answers held for a TwiML whose gateway died before responding leave through the REST client too;
- STOP (and UNSUBSCRIBE, 退订, ...) is honoured: the number is recorded as opted out and nothing more is
  sent to it until it texts START; HELP (帮助) gets the help text, as carriers require. A replayed STOP or
  START (its MessageSid seen before) changes nothing;
- a delivery status callback is recorded once: a repeat or replay of it changes nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
from collections.abc import AsyncIterator, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from aiohttp import web
from redis.asyncio import Redis
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.rest import Client
from twilio.twiml.messaging_response import MessagingResponse

from channels.base import Capabilities, ChannelInfo, Inbox, needs_text
from channels.held_answers import HeldAnswers, answer_once, send_orphans_forever
from channels.message import Attachment, Contact, InboundMessage, OutboundMessage
from channels.settings import not_negative
from channels.twilio.common import (
    NEEDS,
    TwilioConfig,
    TwilioSettings,
    signed_form,
    twilio_config,
    twiml_response,
)
from store.keys import sms_answer_key as _answer_key
from store.keys import sms_optout_history_key, sms_status_history_key, sms_status_reported_key
from store.keys import sms_optout_key as _optout_key
from store.keys import sms_status_key as _status_key

log = logging.getLogger(__name__)

STOP_WORDS = frozenset({"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "退订", "TD"})
START_WORDS = frozenset({"START", "UNSTOP", "YES"})
HELP_WORDS = frozenset({"HELP", "INFO", "帮助"})
HELP_TEXT = ("投诉服务：请直接回复您的问题，投诉专员会跟进。回复退订停止接收短信。"
             " Complaints desk: reply with your issue and a complaint handler will follow up. Reply STOP to opt out.")
GSM_SEGMENT, UCS2_SEGMENT = 160, 70
MAX_SEGMENTS_PER_MESSAGE = 10
# Characters of the GSM 03.38 default alphabet (and its extension table), which keep a segment at 160.
_GSM = set("@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§"
           "¿abcdefghijklmnopqrstuvwxyzäöñüà^{}\\[~]|€")
_BREAK = re.compile(r"(?<=[。！？!?.;；\n])\s*|\s+")
# How long a webhook's answer is kept for its repeats: as long as the router remembers a message id
# (gateway/router.py, DEDUP_SECONDS), so a replayed STOP or START changes nothing in that time either.
REPEAT_SECONDS = 7 * 24 * 3600
# Past the reply wait, how long a webhook being answered may take before a repeat answers it instead.
ANSWER_MARGIN = 5.0


def segment_size(text: str) -> int:
    """Characters per SMS segment: 160 in the GSM alphabet, 70 once any other character (Chinese) appears."""
    return GSM_SEGMENT if all(ch in _GSM for ch in text) else UCS2_SEGMENT


def split_for_sms(text: str) -> list[str]:
    """Split a long reply into messages of at most ten segments each, at sentence or word boundaries."""
    limit = segment_size(text) * MAX_SEGMENTS_PER_MESSAGE
    parts: list[str] = []
    rest = text.strip()
    while len(rest) > limit:
        cut = _last_break(rest, limit)
        parts.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    if rest:
        parts.append(rest)
    return parts


def _last_break(text: str, limit: int) -> int:
    breaks = [m.end() for m in _BREAK.finditer(text, 0, limit + 1) if 0 < m.end() <= limit]
    return breaks[-1] if breaks and breaks[-1] > limit // 2 else limit


def keyword(body: str) -> str:
    return body.strip().upper().rstrip(".!。！")


@dataclass(frozen=True)
class SmsSettings(TwilioSettings):
    sms_reply_wait: float = not_negative("SMS_REPLY_WAIT", 10.0)


class TwilioSms:
    name = "sms"
    info = ChannelInfo(name, "短信", "SMS", needs=NEEDS, capabilities=Capabilities(survey=True, writes_to_phone=True))

    @classmethod
    def from_settings(cls, settings: SmsSettings) -> TwilioSms | str:
        config = twilio_config(settings)
        return cls(config, settings.sms_reply_wait) if config else needs_text(cls.info)

    def __init__(self, config: TwilioConfig, reply_wait: float) -> None:
        self._config = config
        self._reply_wait = reply_wait
        self._redis: Redis | None = None
        self._inbox: Inbox | None = None
        self._client: Client | None = None
        self._held: HeldAnswers | None = None

    def routes(self) -> Iterable[web.AbstractRouteDef]:
        return [
            web.post("/channels/twilio/sms", self._webhook),
            web.post("/channels/twilio/sms/status", self._status_callback),
        ]

    @contextlib.asynccontextmanager
    async def running(self, redis: Redis, inbox: Inbox) -> AsyncIterator[None]:
        self._redis, self._inbox = redis, inbox
        http = AsyncTwilioHttpClient()
        self._client = Client(self._config.account_sid, self._config.auth_token, http_client=http)
        if self._config.api_base_url:
            self._client.api.base_url = self._config.api_base_url.rstrip("/")
        # Answers held for a webhook's TwiML whose gateway died before responding go out by the REST API.
        self._held = held = HeldAnswers(redis, self.name, self._reply_wait)
        orphans = asyncio.create_task(send_orphans_forever(held, self._text_each))
        try:
            yield
        finally:
            orphans.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await orphans
            await http.close()

    async def send(self, message: OutboundMessage) -> None:
        if not message.text:
            return  # a status change alone: SMS customers hear of it when a person writes
        if await self._require_held().add(message):
            return  # it goes in the TwiML of the webhook that is waiting for it
        await self._text(message)

    async def _text_each(self, messages: list[OutboundMessage]) -> None:
        for message in messages:
            await self._text(message)

    async def _text(self, message: OutboundMessage) -> None:
        """Send through Twilio's REST API, unless the number opted out."""
        number = message.conversation_key
        if await self._opted_out(number):
            log.info("not texting a number that opted out (case reply suppressed)")
            return
        assert self._client is not None
        for part in split_for_sms(message.text):
            sent = await self._client.messages.create_async(
                to=number, from_=self._config.from_number, body=part,
                status_callback=self._config.public_base_url.rstrip("/") + "/channels/twilio/sms/status",
            )
            await self._record_status(sent.sid, sent.status or "queued", None)

    def _require_redis(self) -> Redis:
        if self._redis is None:
            raise RuntimeError("SMS used before the app started")
        return self._redis

    def _require_held(self) -> HeldAnswers:
        if self._held is None:
            raise RuntimeError("SMS used before the app started")
        return self._held

    async def _webhook(self, request: web.Request) -> web.Response:
        form = await signed_form(request, self._config)
        message_sid, sender, body = form.get("MessageSid"), form.get("From"), form.get("Body", "")
        if not message_sid or not sender:
            raise web.HTTPBadRequest(text="MessageSid and From are required")
        message = _inbound(form, message_sid, sender, body)
        answer = await answer_once(self._require_redis(), _answer_key(message_sid), lambda: self._answer(message),
                                   lease=self._reply_wait + ANSWER_MARGIN, keep=REPEAT_SECONDS)
        return twiml_response(answer)

    async def _answer(self, message: InboundMessage) -> str:
        """The TwiML answering a text: a keyword's, or the bot's (worked out once per MessageSid)."""
        sender, word = message.conversation_key, keyword(message.text)
        if word in STOP_WORDS:
            await self._set_opt_out(sender, True)
            return str(MessagingResponse())
        if word in START_WORDS and await self._opted_out(sender):
            await self._set_opt_out(sender, False)
        if word in HELP_WORDS:
            response = MessagingResponse()
            response.message(HELP_TEXT)
            return str(response)
        return str(await self._converse(message))

    async def _converse(self, message: InboundMessage) -> MessagingResponse:
        """Record the message and answer with what the bot said to it, if that comes in time."""
        assert self._inbox is not None
        answers = await self._require_held().answers_to(self._inbox, message)
        response = MessagingResponse()
        if not await self._opted_out(message.conversation_key):
            for answer in answers:
                for part in split_for_sms(answer.text):
                    response.message(part)
        return response

    async def _status_callback(self, request: web.Request) -> web.Response:
        form = await signed_form(request, self._config)
        message_sid, status = form.get("MessageSid"), form.get("MessageStatus")
        if not message_sid or not status:
            raise web.HTTPBadRequest(text="MessageSid and MessageStatus are required")

        async def record() -> str:
            await self._record_status(message_sid, status, form.get("ErrorCode"))
            return status

        # Twilio reports each status of a message once: the same report again is a repeat or a replay.
        await answer_once(self._require_redis(), sms_status_reported_key(message_sid, status), record,
                          lease=ANSWER_MARGIN, keep=REPEAT_SECONDS)
        return web.Response(status=204)

    async def _record_status(self, message_sid: str, status: str, error_code: str | None) -> None:
        assert self._redis is not None
        record = {"status": status, "error_code": error_code or "", "at": datetime.now(UTC).isoformat()}
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.hset(_status_key(message_sid), mapping=record)
            pipe.rpush(sms_status_history_key(message_sid), json.dumps(record))
            await pipe.execute()

    async def _opted_out(self, number: str) -> bool:
        assert self._redis is not None
        return bool(await self._redis.exists(_optout_key(number)))

    async def _set_opt_out(self, number: str, opted_out: bool) -> None:
        """Record an opt-out or opt-in, with when, in the number's own audit list."""
        assert self._redis is not None
        at = datetime.now(UTC).isoformat()
        async with self._redis.pipeline(transaction=True) as pipe:
            if opted_out:
                pipe.set(_optout_key(number), at)
            else:
                pipe.delete(_optout_key(number))
            pipe.rpush(sms_optout_history_key(number), json.dumps({"at": at, "opted_out": opted_out}))
            await pipe.execute()


def _inbound(fields: Mapping[str, str], message_sid: str, sender: str, body: str) -> InboundMessage:
    count = fields.get("NumMedia", "0")
    if not (count.isascii() and count.isdigit()):  # "²" and "٣" are digits to str.isdigit, not to int()
        raise web.HTTPBadRequest(text="NumMedia must be a number")
    media = []
    for i in range(min(int(count), 10)):
        url = fields.get(f"MediaUrl{i}")
        if url:
            media.append(Attachment(name=f"media-{i}", content_type=fields.get(f"MediaContentType{i}", ""),
                                    size=0, url=url))
    return InboundMessage(channel="sms", conversation_key=sender, message_id=message_sid, text=body,
                          contact=Contact(phone=sender), attachments=tuple(media))

"""Phone calls through Twilio Voice: speech in through <Gather>, the bot's words out through <Say>.

Guarantees:
- only requests signed by Twilio get in (403 otherwise);
- the caller hears the bot in their language: Chinese (zh-CN) or English (en-US), chosen by a key press,
  or else by ``VOICE_LANGUAGE`` or the caller's country code;
- what the caller says is recorded before Twilio gets its TwiML; the call's turns become the case's
  transcript;
- a call that ends mid-intake (the number's call status callback, ``/channels/twilio/voice/status``) becomes
  a case with what was said, so every call is on the record;
- a caller the bot cannot hear (silence, or speech below ``VOICE_MIN_CONFIDENCE``) is asked again once,
  then handed to a person: <Dial> to ``VOICE_HANDOFF_NUMBER`` if set, otherwise a promised call back,
  with the case created either way;
- each webhook is answered once: every <Gather> names its turn in its action URL (``?turn=N``, signed
  with the rest of the URL), and a repeat of a request (Twilio's retry, a replay, the same request twice
  at once) gets the first try's TwiML without a second bot turn, a second miss or a restarted call;
- every document is built with twilio's own TwiML classes, so it is well-formed and uses documented verbs.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass

from aiohttp import web
from redis.asyncio import Redis
from twilio.twiml.voice_response import Gather, VoiceResponse

from channels.base import CannotDeliver, Capabilities, ChannelInfo, Inbox, needs_text
from channels.held_answers import answer_once
from channels.message import Contact, InboundMessage, OutboundMessage
from channels.settings import setting
from channels.twilio.common import (
    NEEDS,
    TwilioConfig,
    TwilioSettings,
    signed_form,
    twilio_config,
    twiml_response,
)
from store.keys import voice_answer_key as _answer_key
from store.keys import voice_call_key as _call_key

log = logging.getLogger(__name__)

GATHER_PATH = "/channels/twilio/voice/gather"
STATUS_PATH = "/channels/twilio/voice/status"
# Call statuses after which nobody is on the line any more (Twilio's status callback).
ENDED = frozenset({"completed", "busy", "failed", "no-answer", "canceled"})
CALL_TTL = 24 * 3600
# Past the reply waits of a turn and of a hand-over, how long a request being answered may take before a
# repeat of it answers it instead.
ANSWER_MARGIN = 5.0
_TURN = re.compile(r"[1-9][0-9]{0,5}")
VOICES = {"zh": "zh-CN", "en": "en-US"}
LINES = {
    "zh": {
        "greeting": "您好，这里是客户投诉热线，通话内容会被记录。请在提示后说出您要投诉的问题。",
        "switch": "For English, press 2.",
        "again": "抱歉，刚才没有听清楚，请您再说一遍。",
        "go_on": "好的，请讲。",
        "dial": "正在为您转接投诉专员，请稍候。",
        "callback": "投诉专员会尽快回电给您。您的案件编号是 {case}。感谢您的来电，再见。",
        "callback_nocase": "投诉专员会尽快回电给您。感谢您的来电，再见。",
        "bye": "感谢您的来电，再见。",
    },
    "en": {
        "greeting": "Hello, this is the complaints line; this call is recorded. "
                    "Please tell us about your complaint after the tone.",
        "switch": "中文服务请按1。",
        "again": "Sorry, I did not catch that. Could you say it again, please?",
        "go_on": "Thank you, please go ahead.",
        "dial": "Connecting you to a complaint handler, please hold.",
        "callback": "A complaint handler will call you back soon. Your case number is {case}. "
                    "Thank you for calling, goodbye.",
        "callback_nocase": "A complaint handler will call you back soon. Thank you for calling, goodbye.",
        "bye": "Thank you for calling, goodbye.",
    },
}
KEYS = {"1": "zh", "2": "en"}


@dataclass(frozen=True, slots=True)
class VoiceSettings:
    language: str = "auto"  # "zh", "en", or "auto": by the caller's country code
    handoff_number: str = ""
    min_confidence: float = 0.4
    reply_wait: float = 8.0


def language_for(number: str, configured: str) -> str:
    if configured in VOICES:
        return configured
    return "zh" if number.startswith(("+86", "+852", "+853", "+886")) else "en"


@dataclass(frozen=True)
class VoiceChannelSettings(TwilioSettings):
    voice_language: str = setting("VOICE_LANGUAGE", "auto", choices=("auto", *VOICES))
    voice_handoff_number: str = setting("VOICE_HANDOFF_NUMBER", "")
    voice_min_confidence: float = setting("VOICE_MIN_CONFIDENCE", 0.4, at_least=0, at_most=1)


class TwilioVoice:
    name = "voice"
    info = ChannelInfo(name, "电话", "phone", needs=NEEDS, capabilities=Capabilities(answer_later=False))

    @classmethod
    def from_settings(cls, settings: VoiceChannelSettings) -> TwilioVoice | str:
        config = twilio_config(settings)
        if config is None:
            return needs_text(cls.info)
        voice = VoiceSettings(settings.voice_language, settings.voice_handoff_number, settings.voice_min_confidence)
        return cls(config, voice)

    def __init__(self, config: TwilioConfig, settings: VoiceSettings) -> None:
        self._config = config
        self._settings = settings
        self._redis: Redis | None = None
        self._inbox: Inbox | None = None
        # The answers given to a message, for each request waiting on it here (by message id).
        self._waiting: dict[str, list[list[OutboundMessage]]] = {}

    def routes(self) -> Iterable[web.AbstractRouteDef]:
        return [web.post("/channels/twilio/voice", self._call), web.post(GATHER_PATH, self._gather),
                web.post(STATUS_PATH, self._status)]

    @contextlib.asynccontextmanager
    async def running(self, redis: Redis, inbox: Inbox) -> AsyncIterator[None]:
        self._redis, self._inbox = redis, inbox
        yield

    async def send(self, message: OutboundMessage) -> None:
        waiting = self._waiting.get(message.in_reply_to or "")
        if waiting:
            for answers in waiting:
                answers.append(message)
        elif message.sender == "agent":
            raise CannotDeliver("this customer phoned in; call them back on the number in the case")

    async def _call(self, request: web.Request) -> web.Response:
        form = await signed_form(request, self._config)
        call_sid, caller = _required(form, "CallSid"), form.get("From", "")
        return twiml_response(await self._answer_once(call_sid, "start", lambda: self._start(call_sid, caller)))

    async def _status(self, request: web.Request) -> web.Response:
        """The number's call status callback: a call that ended mid-intake becomes a case with what was said (a
        call already handed over has its case: nothing more happens)."""
        form = await signed_form(request, self._config)
        call_sid = _required(form, "CallSid")
        if form.get("CallStatus", "") in ENDED and await self._require_redis().exists(_call_key(call_sid)):
            call = await self._call_state(call_sid)
            message = InboundMessage(channel=self.name, conversation_key=call_sid, message_id=f"{call_sid}:ended",
                                     text="", language=call["language"], contact=Contact(phone=call["caller"] or None),
                                     command="hangup")
            await self._require_inbox().receive(message)
        return web.Response(status=204)

    async def _start(self, call_sid: str, caller: str) -> str:
        language = language_for(caller, self._settings.language)
        redis = self._require_redis()
        async with redis.pipeline(transaction=True) as pipe:
            pipe.hset(_call_key(call_sid), mapping={"language": language, "misses": "0", "caller": caller})
            pipe.expire(_call_key(call_sid), CALL_TTL)
            await pipe.execute()
        return str(self._listen(language, LINES[language]["greeting"], turn=1, offer_switch=True))

    async def _gather(self, request: web.Request) -> web.Response:
        form = await signed_form(request, self._config)
        call_sid = _required(form, "CallSid")
        turn = _turn_of(request)
        speech = form.get("SpeechResult", "").strip()
        # A <Gather> from before turns were named: its speech (Twilio repeats the same fields) tells a repeat.
        message_id = f"turn-{turn}" if turn else _speech_digest(call_sid, speech, form)
        if not turn and not speech:
            return twiml_response(await self._respond(call_sid, 0, message_id, form))
        answer = await self._answer_once(call_sid, message_id, lambda: self._respond(call_sid, turn, message_id, form))
        return twiml_response(answer)

    async def _respond(self, call_sid: str, turn: int, message_id: str, form: Mapping[str, str]) -> str:
        """The TwiML answering the caller's ``turn``: a language switch, a miss, or the bot's words."""
        call = await self._call_state(call_sid)
        language = KEYS.get(form.get("Digits", ""), call["language"])
        if language != call["language"]:
            await self._require_redis().hset(_call_key(call_sid), "language", language)
            return str(self._listen(language, LINES[language]["go_on"], turn=turn + 1))
        speech = form.get("SpeechResult", "").strip()
        if not speech or _confidence(form) < self._settings.min_confidence:
            return str(await self._not_heard(call_sid, call, language, turn))
        await self._require_redis().hset(_call_key(call_sid), "misses", "0")
        message = InboundMessage(channel=self.name, conversation_key=call_sid, message_id=message_id, text=speech,
                                 language=language, contact=Contact(phone=call["caller"] or None))
        return str(await self._turn(message, turn))

    async def _answer_once(self, call_sid: str, request: str, work_out: Callable[[], Awaitable[str]]) -> str:
        return await answer_once(self._require_redis(), _answer_key(call_sid, request), work_out,
                                 lease=2 * self._settings.reply_wait + ANSWER_MARGIN, keep=CALL_TTL)

    async def _turn(self, message: InboundMessage, turn: int) -> VoiceResponse:
        call_sid, language = message.conversation_key, message.language or "en"
        caller = message.contact.phone or ""
        answers, handled = await self._converse(message)
        if handled is None:
            return self._listen(language, LINES[language]["go_on"], turn=turn + 1)
        if not handled:
            return await self._hand_over(call_sid, caller, language)
        response = VoiceResponse()
        spoken = [a.text for a in answers if a.text]
        if any(a.case_id for a in answers):
            for text in spoken:
                response.say(text, language=VOICES[language])
            response.say(LINES[language]["bye"], language=VOICES[language])
            response.hangup()
            return response
        return self._listen(language, *spoken, turn=turn + 1)

    async def _converse(self, message: InboundMessage) -> tuple[list[OutboundMessage], bool | None]:
        inbox = self._require_inbox()
        answers: list[OutboundMessage] = []
        waiting = self._waiting.setdefault(message.message_id, [])
        waiting.append(answers)
        try:
            handled = await inbox.receive_and_wait(message, self._settings.reply_wait)
        finally:
            waiting[:] = [other for other in waiting if other is not answers]
            if not waiting:
                self._waiting.pop(message.message_id, None)
        return answers, handled

    async def _not_heard(self, call_sid: str, call: Mapping[str, str], language: str, turn: int) -> VoiceResponse:
        misses = await self._require_redis().hincrby(_call_key(call_sid), "misses", 1)
        if misses <= 1:
            return self._listen(language, LINES[language]["again"], turn=turn + 1)
        return await self._hand_over(call_sid, call["caller"], language)

    async def _hand_over(self, call_sid: str, caller: str, language: str) -> VoiceResponse:
        """A person takes over: the case is created with what was said, then a transfer or a call back."""
        inbox = self._require_inbox()
        message = InboundMessage(channel=self.name, conversation_key=call_sid, message_id=f"{call_sid}:handoff",
                                 text="", language=language, contact=Contact(phone=caller or None),
                                 command="handoff")
        _, _ = await self._converse(message)
        case_id = await inbox.case_of(message.conversation_id)
        response = VoiceResponse()
        voice = VOICES[language]
        if self._settings.handoff_number:
            response.say(LINES[language]["dial"], language=voice)
            response.dial(self._settings.handoff_number)
            return response
        line = LINES[language]["callback"].format(case=_spoken_id(case_id)) if case_id else (
            LINES[language]["callback_nocase"])
        response.say(line, language=voice)
        response.hangup()
        return response

    def _listen(self, language: str, *lines: str, turn: int, offer_switch: bool = False) -> VoiceResponse:
        """Say ``lines``, then listen for speech (or a key to switch language): the caller's ``turn``."""
        response = VoiceResponse()
        gather = Gather(input="speech dtmf", num_digits=1, action=f"{GATHER_PATH}?turn={turn}", method="POST",
                        language=VOICES[language], speech_timeout="auto", timeout=6, action_on_empty_result=True)
        for line in lines:
            gather.say(line, language=VOICES[language])
        if offer_switch:
            other = "en" if language == "zh" else "zh"
            gather.say(LINES[language]["switch"], language=VOICES[other])
        response.append(gather)
        return response

    async def _call_state(self, call_sid: str) -> dict[str, str]:
        raw = await self._require_redis().hgetall(_call_key(call_sid))
        state = {k.decode(): v.decode() for k, v in raw.items()}
        state.setdefault("language", language_for("", self._settings.language))
        state.setdefault("caller", "")
        return state

    def _require_redis(self) -> Redis:
        if self._redis is None:
            raise RuntimeError("voice used before the app started")
        return self._redis

    def _require_inbox(self) -> Inbox:
        if self._inbox is None:
            raise RuntimeError("voice used before the app started")
        return self._inbox


def _required(form: Mapping[str, str], name: str) -> str:
    value = form.get(name)
    if not value:
        raise web.HTTPBadRequest(text=f"{name} is required")
    return value


def _turn_of(request: web.Request) -> int:
    """The turn the request answers (named in the <Gather> action URL), or 0 for a URL without one."""
    turn = request.query.get("turn")
    if turn is None:
        return 0
    if not _TURN.fullmatch(turn):
        raise web.HTTPBadRequest(text="turn must be a number")
    return int(turn)


def _speech_digest(call_sid: str, speech: str, form: Mapping[str, str]) -> str:
    """Twilio retries a slow webhook with the same fields: the same words, same confidence, same id."""
    return hashlib.sha256(f"{call_sid}|{speech}|{form.get('Confidence', '')}".encode()).hexdigest()[:24]


def _confidence(form: Mapping[str, str]) -> float:
    """Twilio's Confidence (0 to 1); some speech models send none, which is taken as heard."""
    try:
        return float(form.get("Confidence", "1") or "1")
    except ValueError:
        return 0.0


def _spoken_id(case_id: str) -> str:
    """C-261123-7KQ4 read character by character, so text-to-speech spells it out."""
    return " ".join(ch for ch in case_id if ch != "-")

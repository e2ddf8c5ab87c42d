"""Phone calls through Twilio Voice: speech in through <Gather>, the bot's words out through <Say>.

Guarantees:
- only requests signed by Twilio get in (403 otherwise);
- the caller hears the bot in their language: Chinese (zh-CN) or English (en-US), chosen by a key press,
  or else by ``VOICE_LANGUAGE`` or the caller's country code;
- what the caller says is recorded before Twilio gets its TwiML; the call's turns become the case's
  transcript;
- a caller the bot cannot hear (silence, or speech below ``VOICE_MIN_CONFIDENCE``) is asked again once,
  then handed to a person: <Dial> to ``VOICE_HANDOFF_NUMBER`` if set, otherwise a promised call back,
  with the case created either way;
- every document is built with twilio's own TwiML classes, so it is well-formed and uses documented verbs.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
from collections.abc import AsyncIterator, Iterable, Mapping
from dataclasses import dataclass

from aiohttp import web
from redis.asyncio import Redis
from twilio.twiml.voice_response import Gather, VoiceResponse

from channels.base import CannotDeliver, Inbox
from channels.message import Contact, InboundMessage, OutboundMessage
from channels.twilio_common import TwilioConfig, signed_form, twiml_response

log = logging.getLogger(__name__)

GATHER_PATH = "/channels/twilio/voice/gather"
CALL_TTL = 24 * 3600
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


def _call_key(call_sid: str) -> str:
    return f"cg:voice:{{{call_sid}}}"


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


class TwilioVoice:
    name = "voice"

    def __init__(self, config: TwilioConfig, settings: VoiceSettings) -> None:
        self._config = config
        self._settings = settings
        self._redis: Redis | None = None
        self._inbox: Inbox | None = None
        self._waiting: dict[str, list[OutboundMessage]] = {}

    def routes(self) -> Iterable[web.AbstractRouteDef]:
        return [web.post("/channels/twilio/voice", self._call), web.post(GATHER_PATH, self._gather)]

    @contextlib.asynccontextmanager
    async def running(self, redis: Redis, inbox: Inbox) -> AsyncIterator[None]:
        self._redis, self._inbox = redis, inbox
        yield

    async def send(self, message: OutboundMessage) -> None:
        waiting = self._waiting.get(message.in_reply_to or "")
        if waiting is not None:
            waiting.append(message)
        elif message.sender == "agent":
            raise CannotDeliver("this customer phoned in; call them back on the number in the case")

    async def _call(self, request: web.Request) -> web.Response:
        form = await signed_form(request, self._config)
        call_sid, caller = _required(form, "CallSid"), form.get("From", "")
        language = language_for(caller, self._settings.language)
        redis = self._require_redis()
        async with redis.pipeline(transaction=True) as pipe:
            pipe.hset(_call_key(call_sid), mapping={"language": language, "misses": "0", "caller": caller})
            pipe.expire(_call_key(call_sid), CALL_TTL)
            await pipe.execute()
        return twiml_response(self._listen(language, LINES[language]["greeting"], offer_switch=True))

    async def _gather(self, request: web.Request) -> web.Response:
        form = await signed_form(request, self._config)
        call_sid = _required(form, "CallSid")
        call = await self._call_state(call_sid)
        language = KEYS.get(form.get("Digits", ""), call["language"])
        if language != call["language"]:
            await self._require_redis().hset(_call_key(call_sid), "language", language)
            return twiml_response(self._listen(language, LINES[language]["go_on"]))
        speech = form.get("SpeechResult", "").strip()
        if not speech or _confidence(form) < self._settings.min_confidence:
            return twiml_response(await self._not_heard(call_sid, call, language))
        await self._require_redis().hset(_call_key(call_sid), "misses", "0")
        return twiml_response(await self._turn(call_sid, call["caller"], language, speech, form))

    async def _turn(self, call_sid: str, caller: str, language: str, speech: str,
                    form: Mapping[str, str]) -> VoiceResponse:
        # Twilio retries a slow webhook with the same fields: the same words, same confidence, same id.
        digest = hashlib.sha256(f"{call_sid}|{speech}|{form.get('Confidence', '')}".encode()).hexdigest()[:24]
        message = InboundMessage(channel=self.name, conversation_key=call_sid, message_id=digest, text=speech,
                                 language=language, contact=Contact(phone=caller or None))
        answers, handled = await self._converse(message)
        if handled is None:
            return self._listen(language, LINES[language]["go_on"])
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
        return self._listen(language, *spoken)

    async def _converse(self, message: InboundMessage) -> tuple[list[OutboundMessage], bool | None]:
        inbox = self._require_inbox()
        self._waiting[message.message_id] = []
        try:
            handled = await inbox.receive_and_wait(message, self._settings.reply_wait)
        finally:
            answers = self._waiting.pop(message.message_id)
        return answers, handled

    async def _not_heard(self, call_sid: str, call: Mapping[str, str], language: str) -> VoiceResponse:
        misses = await self._require_redis().hincrby(_call_key(call_sid), "misses", 1)
        if misses <= 1:
            return self._listen(language, LINES[language]["again"])
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

    def _listen(self, language: str, *lines: str, offer_switch: bool = False) -> VoiceResponse:
        """Say ``lines``, then listen for speech (or a key to switch language)."""
        response = VoiceResponse()
        gather = Gather(input="speech dtmf", num_digits=1, action=GATHER_PATH, method="POST",
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


def _confidence(form: Mapping[str, str]) -> float:
    """Twilio's Confidence (0 to 1); some speech models send none, which is taken as heard."""
    try:
        return float(form.get("Confidence", "1") or "1")
    except ValueError:
        return 0.0


def _spoken_id(case_id: str) -> str:
    """C-261123-7KQ4 read character by character, so text-to-speech spells it out."""
    return " ".join(ch for ch in case_id if ch != "-")

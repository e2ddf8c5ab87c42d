"""Finished calls' transcripts: POST /channels/transcripts turns a call into a queued case.

The body is either a JSON envelope ``{"caller", "customer_speaker", "language", "format", "transcript"}``
(the transcript as text, or Amazon Transcribe's JSON object) or the transcript itself (WebVTT, SRT, plain
``Speaker: text`` lines, Amazon Transcribe JSON) with ``caller``, ``customer_speaker`` and ``language`` in
the query string. Callers authenticate with ``Authorization: Bearer TRANSCRIPTS_TOKEN``.

Guarantees:
- a body we cannot read gets 415 (not a transcript format) or 422 (broken, empty, no caller, unclear who
  the customer is) with the reason, and changes nothing;
- the customer's words go to the bot in one batch pass (no questions back); the case is created with the
  whole labelled transcript attached and queued, and the answer is 202 with its id;
- the same transcript for the same caller twice makes one case: the second answer names the first case,
  also when both come at once (the second waits for the first to be handled, not for the whole wait).
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import re
from collections.abc import AsyncIterator, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from redis.asyncio import Redis

from channels.base import CannotDeliver, Capabilities, ChannelInfo, Inbox, needs_text
from channels.message import Attachment, Contact, InboundMessage, OutboundMessage
from channels.settings import setting
from channels.transcripts.model import Transcript, TranscriptError
from channels.transcripts.parse import parse

TEXT_TYPES = frozenset({"text/vtt", "application/x-subrip", "text/srt", "text/plain"})
_PHONE = re.compile(r"^\+?[0-9][0-9 ()-]{5,20}$")
HANDLING_WAIT = 30.0  # how long a request waits for its transcript's case before answering without it


class TranscriptRequestError(Exception):
    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status


@dataclass(frozen=True)
class TranscriptSettings:
    transcripts_token: str = setting("TRANSCRIPTS_TOKEN", "", secret=True)


class Transcripts:
    name = "transcript"
    info = ChannelInfo(name, "通话记录", "call transcript", needs=("TRANSCRIPTS_TOKEN",),
                       capabilities=Capabilities(batch=True, answer_later=False))

    @classmethod
    def from_settings(cls, settings: TranscriptSettings) -> Transcripts | str:
        return cls(settings.transcripts_token) if settings.transcripts_token else needs_text(cls.info)

    def __init__(self, token: str, wait: float = HANDLING_WAIT) -> None:
        self._token = token
        self._wait = wait
        self._inbox: Inbox | None = None

    def routes(self) -> Iterable[web.AbstractRouteDef]:
        return [web.post("/channels/transcripts", self._receive)]

    @contextlib.asynccontextmanager
    async def running(self, redis: Redis, inbox: Inbox) -> AsyncIterator[None]:
        self._inbox = inbox
        yield

    async def send(self, message: OutboundMessage) -> None:
        # The call is over: the bot's side stays on the case; a person's reply needs a call back.
        if message.sender == "agent":
            raise CannotDeliver("this complaint came from a call transcript; call the customer back")

    async def _receive(self, request: web.Request) -> web.Response:
        given = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        if not hmac.compare_digest(given.encode(), self._token.encode()):
            return _refuse(401, "a valid Authorization: Bearer token is required")
        try:
            envelope, body = await _read(request)
            message = _to_message(envelope, body)
        except TranscriptRequestError as exc:
            return _refuse(exc.status, str(exc))
        except TranscriptError as exc:
            return _refuse(exc.status, str(exc))
        assert self._inbox is not None
        handled = await self._inbox.receive_and_wait(message, self._wait)
        case_id = await self._inbox.case_of(message.conversation_id)
        return web.json_response({"case_id": case_id, "duplicate": handled is None,
                                  "status": "queued" if case_id else "recorded"}, status=202)


def _refuse(status: int, reason: str) -> web.Response:
    return web.json_response({"error": reason}, status=status)


async def _read(request: web.Request) -> tuple[Mapping[str, Any], str | dict[str, Any]]:
    """The request's settings (envelope or query string) and the transcript body."""
    if request.content_type == "application/json":
        try:
            data = json.loads(await request.text())
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise TranscriptRequestError(422, f"the body is not valid JSON: {exc}") from None
        if isinstance(data, dict) and "transcript" in data:
            transcript = data["transcript"]
            if not isinstance(transcript, str | dict):
                raise TranscriptRequestError(422, "'transcript' must be text or an Amazon Transcribe object")
            return data, transcript
        if isinstance(data, dict):
            return request.query, data
        raise TranscriptRequestError(415, "a JSON body must be an object")
    if request.content_type in TEXT_TYPES:
        return request.query, (await request.read()).decode("utf-8", errors="replace")
    raise TranscriptRequestError(415, f"unsupported content type {request.content_type!r}: send JSON, "
                                      "text/vtt, application/x-subrip or text/plain")


def _to_message(envelope: Mapping[str, Any], body: str | dict[str, Any]) -> InboundMessage:
    caller = str(envelope.get("caller") or "").strip()
    if not _PHONE.match(caller):
        raise TranscriptRequestError(422, "'caller' (the customer's phone number) is required")
    fmt = envelope.get("format") or None
    transcript = parse(body, str(fmt) if fmt else None)
    words = transcript.words_of(_customer_speaker(transcript, envelope.get("customer_speaker")))
    if not words.strip():
        raise TranscriptRequestError(422, "the customer says nothing in this transcript")
    labelled = transcript.as_text()
    digest = hashlib.sha256(f"{caller}\n{labelled}".encode()).hexdigest()[:32]
    language = envelope.get("language") if envelope.get("language") in ("zh", "en") else None
    attachment = Attachment(name="transcript.txt", content_type="text/plain",
                            size=len(labelled.encode()), text=labelled)
    return InboundMessage(channel="transcript", conversation_key=digest, message_id=digest, text=words,
                          language=language, contact=Contact(phone=caller), attachments=(attachment,))


def _customer_speaker(transcript: Transcript, named: Any) -> str | None:
    """Which speaker is the customer: as named, or the only one there is."""
    if named:
        if str(named) not in transcript.speakers:
            raise TranscriptRequestError(422, f"speaker {str(named)[:40]!r} is not in the transcript "
                                              f"(speakers: {', '.join(transcript.speakers)})")
        return str(named)
    if len(transcript.speakers) > 1:
        raise TranscriptRequestError(422, "say which speaker is the customer ('customer_speaker'): one of "
                                          + ", ".join(transcript.speakers))
    return None

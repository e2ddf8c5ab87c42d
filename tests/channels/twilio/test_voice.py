"""The voice webhooks on the real app and Redis (Rasa unreachable here unless a stand-in plays it; the real bot is
in tests/e2e). Each request goes where the last answer's <Gather action> says, as Twilio's does."""

from __future__ import annotations

import asyncio
import xml.etree.ElementTree as ET
from dataclasses import replace
from typing import Any
from urllib.parse import urlsplit

import pytest
from redis.asyncio import Redis

from channels.twilio.voice import VoiceSettings
from gateway import keys
from gateway.app import create_app
from gateway.settings import Settings
from tests.support.rasa_double import QUESTION, stand_in_rasa
from tests.support.twilio_double import ACCOUNT_SID, AUTH_TOKEN, checked_twiml, signed_post

PUBLIC = "https://complaints.example.com"
START, GATHER = "/channels/twilio/voice", "/channels/twilio/voice/gather"


def voice_settings(settings: Settings, **changes: Any) -> Settings:
    return replace(settings, twilio_account_sid=ACCOUNT_SID, twilio_auth_token=AUTH_TOKEN, public_base_url=PUBLIC,
                   **changes)


@pytest.fixture
async def voice(aiohttp_client: Any, settings: Settings) -> Any:
    return await aiohttp_client(create_app(voice_settings(settings)))


async def post_text(client: Any, path: str, params: dict[str, str]) -> str:
    """The TwiML document answering a signed webhook, checked against Twilio's documented verbs."""
    response = await signed_post(client.session, str(client.make_url("")), path, params, public_base=PUBLIC)
    assert response.status == 200, await response.text()
    text: str = await response.text()
    checked_twiml(text)
    return text


async def post(client: Any, path: str, params: dict[str, str]) -> ET.Element:
    return ET.fromstring(await post_text(client, path, params))


def next_path(answer: ET.Element | str) -> str:
    """Where Twilio posts what the caller says next: the answer's <Gather action>."""
    root = ET.fromstring(answer) if isinstance(answer, str) else answer
    gather = root.find("Gather")
    assert gather is not None, ET.tostring(root, encoding="unicode")
    return gather.get("action") or ""


def said(answer: ET.Element | str) -> str:
    root = ET.fromstring(answer) if isinstance(answer, str) else answer
    return " ".join(s.text or "" for s in root.iter("Say"))


def call(sid: str, caller: str, **extra: str) -> dict[str, str]:
    return {"CallSid": sid, "AccountSid": ACCOUNT_SID, "From": caller, "To": "+15005550006", **extra}


async def test_a_mainland_caller_is_greeted_in_chinese_and_can_press_2_for_english(voice: Any) -> None:
    answer = await post(voice, START, call("CA01", "+8613800138000"))
    gather = answer.find("Gather")
    assert gather is not None and gather.get("language") == "zh-CN" and "speech" in (gather.get("input") or "")
    assert urlsplit(gather.get("action") or "").path == GATHER
    assert "投诉" in (gather.find("Say").text or "")  # type: ignore[union-attr]

    switched = await post(voice, next_path(answer), call("CA01", "+8613800138000", Digits="2"))
    assert switched.find("Gather").get("language") == "en-US"  # type: ignore[union-attr]


async def test_a_caller_not_heard_twice_gets_a_call_back_with_a_case(voice: Any) -> None:
    greeting = await post(voice, START, call("CA02", "+447700900123"))
    again = await post(voice, next_path(greeting), call("CA02", "+447700900123"))
    assert "again" in (again.find("Gather/Say").text or "")  # type: ignore[union-attr]
    mumbled = call("CA02", "+447700900123", SpeechResult="mmh", Confidence="0.12")
    goodbye = await post(voice, next_path(again), mumbled)
    assert goodbye.find("Hangup") is not None
    assert "call you back" in said(goodbye)
    cases = await voice.app[keys.CASES].list()
    assert len(cases) == 1 and cases[0]["channel"] == "voice"
    assert cases[0]["customer"]["phone"] == "+447700900123" and cases[0]["handoff_reason"] == "channel_handoff"
    assert " ".join(ch for ch in cases[0]["id"] if ch != "-") in said(goodbye)


async def test_with_a_handoff_number_the_caller_is_transferred(aiohttp_client: Any, settings: Settings) -> None:
    client = await aiohttp_client(create_app(voice_settings(settings, voice_handoff_number="+861095555")))
    greeting = await post(client, START, call("CA03", "+8613900000000"))
    again = await post(client, next_path(greeting), call("CA03", "+8613900000000"))
    transfer = await post(client, next_path(again), call("CA03", "+8613900000000"))
    assert transfer.findtext("Dial") == "+861095555"


async def test_unsigned_calls_are_refused(voice: Any, redis: Redis) -> None:
    before = await redis.dbsize()
    response = await voice.post("/channels/twilio/voice", data=call("CA04", "+8613800138000"))
    assert response.status == 403 and await redis.dbsize() == before


async def test_what_the_caller_said_sent_twice_at_once_gets_the_first_answer_from_one_bot_turn(
    aiohttp_client: Any, settings: Settings
) -> None:
    # Twilio's retry of a slow <Gather> action arrives while the first try's bot turn is still under way.
    async with stand_in_rasa(gated=True) as rasa:
        client = await aiohttp_client(create_app(voice_settings(settings, rasa_url=rasa.url)))
        greeting = await post(client, START, call("CA05", "+447700900123"))
        words = call("CA05", "+447700900123", SpeechResult="I was charged twice for one trade", Confidence="0.93")
        both = asyncio.gather(post_text(client, next_path(greeting), words),
                              post_text(client, next_path(greeting), words))
        async with asyncio.timeout(30):
            await rasa.asked.wait()
        rasa.release.set()
        # Neither try may sit out the whole reply wait once the bot has answered.
        async with asyncio.timeout(VoiceSettings().reply_wait / 2):
            first, second = await both
    assert second == first and QUESTION in said(first)
    assert len(rasa.turns) == 1, "the bot heard the caller once"


async def test_the_same_words_said_in_two_turns_are_two_turns(aiohttp_client: Any, settings: Settings) -> None:
    async with stand_in_rasa() as rasa:
        client = await aiohttp_client(create_app(voice_settings(settings, rasa_url=rasa.url)))
        answer = await post(client, START, call("CA06", "+447700900123"))
        for _ in range(2):
            answer = await post(client, next_path(answer),
                                call("CA06", "+447700900123", SpeechResult="Yes", Confidence="0.9"))
            assert QUESTION in said(answer)
    assert [t["message"] for t in rasa.turns] == ["Yes", "Yes"]


async def test_silence_reported_twice_at_once_counts_as_one_miss(voice: Any) -> None:
    greeting = await post(voice, START, call("CA07", "+447700900123"))
    first, second = await asyncio.gather(post_text(voice, next_path(greeting), call("CA07", "+447700900123")),
                                         post_text(voice, next_path(greeting), call("CA07", "+447700900123")))
    assert second == first and "again" in said(first)
    # The caller is asked again once; only the next silence hands the call over.
    goodbye = await post(voice, next_path(first), call("CA07", "+447700900123"))
    assert goodbye.find("Hangup") is not None and "call you back" in said(goodbye)


async def test_a_replayed_call_start_neither_restarts_the_call_nor_changes_its_answer(voice: Any) -> None:
    start = call("CA08", "+8613800138000")
    first, twin = await asyncio.gather(post_text(voice, START, start), post_text(voice, START, start))
    assert twin == first
    english = await post(voice, next_path(first), call("CA08", "+8613800138000", Digits="2"))
    assert await post_text(voice, START, start) == first
    # The call goes on in the language the caller chose, not the one the replay would have picked.
    again = await post(voice, next_path(english), call("CA08", "+8613800138000"))
    assert "Could you say it again" in said(again)

"""The voice webhooks on the real app and Redis (Rasa unreachable here; the real bot is in tests/e2e)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from redis.asyncio import Redis

from gateway import keys
from gateway.app import create_app
from gateway.settings import Settings
from tests.twilio_double import ACCOUNT_SID, AUTH_TOKEN, checked_twiml, signed_post

PUBLIC = "https://complaints.example.com"


@pytest.fixture
async def voice(aiohttp_client: Any, settings: Settings) -> Any:
    return await aiohttp_client(create_app(replace(
        settings, twilio_account_sid=ACCOUNT_SID, twilio_auth_token=AUTH_TOKEN, public_base_url=PUBLIC)))


async def post(client: Any, path: str, params: dict[str, str]) -> Any:
    response = await signed_post(client.session, str(client.make_url("")), path, params, public_base=PUBLIC)
    assert response.status == 200, await response.text()
    return checked_twiml(await response.text())


def call(sid: str, caller: str, **extra: str) -> dict[str, str]:
    return {"CallSid": sid, "AccountSid": ACCOUNT_SID, "From": caller, "To": "+15005550006", **extra}


async def test_a_mainland_caller_is_greeted_in_chinese_and_can_press_2_for_english(voice: Any) -> None:
    answer = await post(voice, "/channels/twilio/voice", call("CA01", "+8613800138000"))
    gather = answer.find("Gather")
    assert gather is not None and gather.get("language") == "zh-CN" and "speech" in (gather.get("input") or "")
    assert gather.get("action") == "/channels/twilio/voice/gather"
    assert "投诉" in (gather.find("Say").text or "")  # type: ignore[union-attr]

    switched = await post(voice, "/channels/twilio/voice/gather", call("CA01", "+8613800138000", Digits="2"))
    assert switched.find("Gather").get("language") == "en-US"  # type: ignore[union-attr]


async def test_a_caller_not_heard_twice_gets_a_call_back_with_a_case(voice: Any) -> None:
    await post(voice, "/channels/twilio/voice", call("CA02", "+447700900123"))
    again = await post(voice, "/channels/twilio/voice/gather", call("CA02", "+447700900123"))
    assert "again" in (again.find("Gather/Say").text or "")  # type: ignore[union-attr]
    mumbled = call("CA02", "+447700900123", SpeechResult="mmh", Confidence="0.12")
    goodbye = await post(voice, "/channels/twilio/voice/gather", mumbled)
    assert goodbye.find("Hangup") is not None
    said = " ".join(s.text or "" for s in goodbye.iter("Say"))
    assert "call you back" in said
    cases = await voice.app[keys.CASES].list()
    assert len(cases) == 1 and cases[0]["channel"] == "voice"
    assert cases[0]["customer"]["phone"] == "+447700900123" and cases[0]["handoff_reason"] == "channel_handoff"
    assert " ".join(ch for ch in cases[0]["id"] if ch != "-") in said


async def test_with_a_handoff_number_the_caller_is_transferred(aiohttp_client: Any, settings: Settings) -> None:
    client = await aiohttp_client(create_app(replace(
        settings, twilio_account_sid=ACCOUNT_SID, twilio_auth_token=AUTH_TOKEN, public_base_url=PUBLIC,
        voice_handoff_number="+861095555")))
    await post(client, "/channels/twilio/voice", call("CA03", "+8613900000000"))
    await post(client, "/channels/twilio/voice/gather", call("CA03", "+8613900000000"))
    transfer = await post(client, "/channels/twilio/voice/gather", call("CA03", "+8613900000000"))
    assert transfer.findtext("Dial") == "+861095555"


async def test_unsigned_calls_are_refused(voice: Any, redis: Redis) -> None:
    before = await redis.dbsize()
    response = await voice.post("/channels/twilio/voice", data=call("CA04", "+8613800138000"))
    assert response.status == 403 and await redis.dbsize() == before

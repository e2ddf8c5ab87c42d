"""A phone call with the real bot: three turns in Chinese, then the caller goes quiet and is transferred."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from xml.etree.ElementTree import Element

import aiohttp
import pytest

from gateway.embedded_redis import free_port
from tests.e2e.conftest import AgentApi, Gateway, start_gateway
from tests.support.twilio_double import ACCOUNT_SID, AUTH_TOKEN, checked_twiml, signed_post

pytestmark = pytest.mark.e2e
CALLER, DESK = "+8613700137000", "+861095555"


@pytest.fixture(scope="module")
def voice_gateway(e2e_redis: str, rasa: tuple[str, Any], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    port = free_port()
    gateway = start_gateway("voice", e2e_redis, rasa[0], tmp_path_factory.mktemp("gw-voice"), port=port,
                            TWILIO_ACCOUNT_SID=ACCOUNT_SID, TWILIO_AUTH_TOKEN=AUTH_TOKEN,
                            PUBLIC_BASE_URL=f"http://127.0.0.1:{port}", VOICE_HANDOFF_NUMBER=DESK)
    try:
        yield gateway
    finally:
        gateway.stop()


async def webhook(http: aiohttp.ClientSession, gateway: Gateway, path: str, **fields: str) -> Element:
    params = {"CallSid": "CAe2e0000000000000000000000000001", "AccountSid": ACCOUNT_SID, "From": CALLER,
              "To": "+15005550006", **fields}
    async with await signed_post(http, gateway.url, path, params) as response:
        assert response.status == 200
        return checked_twiml(await response.text())


def spoken(twiml: Element) -> str:
    return " ".join(say.text or "" for say in twiml.iter("Say"))


async def test_three_chinese_turns_then_a_transfer_with_the_case_holding_the_call(
    voice_gateway: Gateway, agent_account: tuple[str, str], http: aiohttp.ClientSession
) -> None:
    greeting = await webhook(http, voice_gateway, "/channels/twilio/voice")
    assert greeting.find("Gather").get("language") == "zh-CN"  # type: ignore[union-attr]
    turns = ["你好", "我要投诉", "我叫赵六"]
    for words in turns:
        answer = await webhook(http, voice_gateway, "/channels/twilio/voice/gather",
                               SpeechResult=words, Confidence="0.92")
        assert answer.find("Gather") is not None, "the bot keeps listening"
        assert any("\u4e00" <= ch <= "\u9fff" for ch in spoken(answer)), "the bot answers in Chinese"
        assert answer.find("Gather").get("language") == "zh-CN"  # type: ignore[union-attr]

    asked_again = await webhook(http, voice_gateway, "/channels/twilio/voice/gather")
    assert "再说一遍" in spoken(asked_again)
    transfer = await webhook(http, voice_gateway, "/channels/twilio/voice/gather")
    assert transfer.findtext("Dial") == DESK

    api = AgentApi(http, voice_gateway.url)
    await api.login(*agent_account)
    cases = (await api.call("GET", "/api/cases?status=queued"))["cases"]
    case = next(c for c in cases if c["channel"] == "voice" and c["customer"]["phone"] == CALLER)
    full = await api.call("GET", f"/api/cases/{case['id']}")
    assert [m["text"] for m in full["messages"] if m["from"] == "customer"] == turns
    assert [m["from"] for m in full["messages"]].count("bot") >= 3, "the bot's side of the call is kept too"
    assert full["customer"]["name"] == "赵六"

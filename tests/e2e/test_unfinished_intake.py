"""Every complaint on the record the same day, finished or not (real Rasa, Redis and gateway processes).

A chat left silent becomes an incomplete case after INTAKE_IDLE_MINUTES, its deadlines counted from the first
message; the customer who comes back completes that same case. A call hung up mid-intake becomes a case.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import aiohttp
import pytest

from gateway.embedded_redis import EmbeddedRedis, free_port
from tests.e2e.conftest import AgentApi, Gateway, start_gateway
from tests.support.chat_client import ChatClient
from tests.support.twilio_double import ACCOUNT_SID, AUTH_TOKEN, signed_post

pytestmark = pytest.mark.e2e
IDLE_MINUTES = 0.05  # three seconds of silence


@pytest.fixture(scope="module")
def quiet_gateway(rasa: tuple[str, Any], agent_account: tuple[str, str],
                  tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    # A Redis of its own: the other test gateways wait 30 minutes for silence, and whichever gateway's sweep reads
    # the idle watch first would judge this one's intakes by its own setting. (The handler's account is in the
    # shared record, which the gateway reads its accounts from when it starts.)
    redis = EmbeddedRedis(tmp_path_factory.mktemp("redis-unfinished"))
    port = free_port()
    try:
        gateway = start_gateway("unfinished", redis.start(), rasa[0], tmp_path_factory.mktemp("gw-unfinished"),
                                port=port, INTAKE_IDLE_MINUTES=str(IDLE_MINUTES), TWILIO_ACCOUNT_SID=ACCOUNT_SID,
                                TWILIO_AUTH_TOKEN=AUTH_TOKEN, PUBLIC_BASE_URL=f"http://127.0.0.1:{port}")
        try:
            yield gateway
        finally:
            gateway.stop()
    finally:
        redis.stop()


def answer_to(question: str) -> str:
    """What the returning customer answers, by what the bot asks."""
    for cue, answer in (("对吗", "对"), ("电话", "13912345678"), ("联系", "13912345678"), ("名", "王小明"),
                        ("希望", "希望尽快到账"), ("哪里", "线上"), ("地点", "线上"), ("谁", "没有"), ("人员", "没有"),
                        ("时间", "上周五"), ("什么时候", "上周五"), ("业务", "银证转账")):
        if cue in question:
            return answer
    return "没有了"


async def case_with(api: AgentApi, wanted: Any, seconds: float = 60) -> dict[str, Any]:
    for _ in range(int(seconds * 5)):
        for summary in (await api.call("GET", "/api/cases"))["cases"]:
            case: dict[str, Any] = await api.call("GET", f"/api/cases/{summary['id']}")
            if wanted(case):
                return case
        await asyncio.sleep(0.2)
    raise AssertionError("no such case")


async def test_a_chat_left_silent_is_an_incomplete_case_and_the_customers_return_completes_it(
    quiet_gateway: Gateway, agent_account: tuple[str, str], http: aiohttp.ClientSession
) -> None:
    chat = await ChatClient.connect(http, quiet_gateway.ws_url, language="zh")
    opening = "你好，我想投诉你们营业部，上周五转账的钱到现在都没到账"
    first_ack = await chat.send(opening)
    assert first_ack["type"] == "ack"
    sent_at = datetime.now().astimezone()
    await chat.bot_says(timeout=60)
    # The customer walks away: after the idle time the complaint is on the record anyway.
    frame = await chat.expect(lambda f: f["type"] == "case", timeout=60)
    notice = await chat.expect(lambda f: f["type"] == "message" and frame["case_id"] in f.get("text", ""))
    assert "补充" in notice["text"], "the customer hears the number and that they can still add to it"

    api = AgentApi(http, quiet_gateway.url)
    await api.login(*agent_account)
    case = await api.call("GET", f"/api/cases/{frame['case_id']}")
    assert case["incomplete"] is True and case["status"] == "queued"
    assert {"name", "contact"} <= set(case["missing"])
    assert "转账" in case["complaint"]["description"]
    received = datetime.fromisoformat(case["received_at"])
    assert abs((received - sent_at).total_seconds()) < 5, "received_at is the first message, not the case's birth"
    assert received < datetime.fromisoformat(case["created_at"])
    assert case["events"][0]["action"] == "created" and "idle" in case["events"][0]["detail"]

    # The customer comes back: the bot asks on, and what it gathers completes the same case.
    await chat.drain()
    await chat.send("我叫王小明")
    for _ in range(8):
        asked = await chat.bot_says(timeout=60)
        asked += " ".join(f.get("text", "") for f in await chat.drain(1.5) if f["type"] == "message")
        if "已记入案件" in asked:
            break
        await chat.send(answer_to(asked))
    else:
        raise AssertionError("the bot never finished the record")
    case = await api.call("GET", f"/api/cases/{frame['case_id']}")
    assert case["customer"]["name"] == "王小明"
    assert case["customer"]["phone"].endswith("12345678")
    assert "name" not in case["missing"] and "contact" not in case["missing"]
    assert [c["id"] for c in (await api.call("GET", "/api/cases"))["cases"]].count(case["id"]) == 1
    await chat.close()


async def test_a_call_hung_up_mid_intake_becomes_a_case(
    quiet_gateway: Gateway, agent_account: tuple[str, str], http: aiohttp.ClientSession
) -> None:
    call = {"CallSid": "CAe2e0000000000000000000000000777", "AccountSid": ACCOUNT_SID, "From": "+8613700137777",
            "To": "+15005550006"}
    async with await signed_post(http, quiet_gateway.url, "/channels/twilio/voice", call) as response:
        assert response.status == 200
    async with await signed_post(http, quiet_gateway.url, "/channels/twilio/voice/gather?turn=1",
                                 {**call, "SpeechResult": "我的两融账户被强制平仓了", "Confidence": "0.9"}) as response:
        assert response.status == 200
    for _ in range(2):  # the hang-up, and Twilio's retry of it
        async with await signed_post(http, quiet_gateway.url, "/channels/twilio/voice/status",
                                     {**call, "CallStatus": "completed"}) as response:
            assert response.status == 204

    api = AgentApi(http, quiet_gateway.url)
    await api.login(*agent_account)
    case = await case_with(api, lambda c: c["channel"] == "voice" and "强制平仓" in c["complaint"]["description"])
    assert case["customer"]["phone"] == "+8613700137777"
    assert case["incomplete"] is True
    calls = [c for c in (await api.call("GET", "/api/cases"))["cases"] if c["channel"] == "voice"
             and c["customer"]["phone"] == "+8613700137777"]
    assert len(calls) == 1, "one call, one case"

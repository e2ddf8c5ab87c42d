"""An SMS conversation with the real bot: signed webhooks in, TwiML out, an agent's reply through the REST API."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator, Iterator
from typing import Any

import aiohttp
import pytest

from gateway.embedded_redis import free_port
from tests.e2e.conftest import AgentApi, Gateway, start_gateway
from tests.support.twilio_double import ACCOUNT_SID, AUTH_TOKEN, FROM_NUMBER, FakeMessagesApi, fake_twilio, signed_post

pytestmark = pytest.mark.e2e
CUSTOMER = "+447700900777"


@pytest.fixture(scope="module")
def twilio_port() -> int:
    return free_port()


@pytest.fixture(scope="module")
async def twilio_api(twilio_port: int) -> AsyncIterator[FakeMessagesApi]:
    async with fake_twilio(twilio_port) as (_, api):
        yield api


@pytest.fixture(scope="module")
def sms_gateway(e2e_redis: str, rasa: tuple[str, Any], twilio_port: int,
                tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    port = free_port()
    gateway = start_gateway("sms", e2e_redis, rasa[0], tmp_path_factory.mktemp("gw-sms"), port=port,
                            TWILIO_ACCOUNT_SID=ACCOUNT_SID, TWILIO_AUTH_TOKEN=AUTH_TOKEN,
                            TWILIO_FROM_NUMBER=FROM_NUMBER, TWILIO_API_BASE_URL=f"http://127.0.0.1:{twilio_port}",
                            PUBLIC_BASE_URL=f"http://127.0.0.1:{port}")
    try:
        yield gateway
    finally:
        gateway.stop()


async def text(http: aiohttp.ClientSession, gateway: Gateway, sid: str, body: str) -> list[str]:
    params = {"MessageSid": sid, "AccountSid": ACCOUNT_SID, "From": CUSTOMER, "To": FROM_NUMBER, "Body": body,
              "NumMedia": "0"}
    async with await signed_post(http, gateway.url, "/channels/twilio/sms", params) as response:
        assert response.status == 200
        return [m.text or "" for m in ET.fromstring(await response.text()).iter("Message")]


async def test_an_sms_complaint_with_the_real_bot_and_an_agent_reply_through_the_rest_api(
    sms_gateway: Gateway, twilio_api: FakeMessagesApi, agent_account: tuple[str, str], http: aiohttp.ClientSession
) -> None:
    assert await text(http, sms_gateway, "SMe2e0001", "I want to make a complaint"), "the bot answers in TwiML"
    await text(http, sms_gateway, "SMe2e0002", "My withdrawal to my bank has been stuck for 5 days")
    asked = await text(http, sms_gateway, "SMe2e0003", "Olivia Brown")
    assert asked
    # Twilio timed out and retried: the retry is recorded once and gets the answer the first try was given.
    assert await text(http, sms_gateway, "SMe2e0003", "Olivia Brown") == asked
    # The story gave no start date or wish, nor where and who: the bot asks, once each; then reads it back.
    for n, answer in enumerate(("It started last Monday. Please release it today", "online", "no", "yes"), 4):
        replies = await text(http, sms_gateway, f"SMe2e{n:04d}", answer)
        if any("C-" in r for r in replies):
            break
    notice = next(r for r in replies if "C-" in r)
    case_id = notice[notice.index("C-"):][:13]

    api = AgentApi(http, sms_gateway.url)
    await api.login(*agent_account)
    case = await api.call("POST", f"/api/cases/{case_id}/claim")
    assert case["channel"] == "sms" and case["customer"]["phone"].replace(" ", "") == CUSTOMER
    assert case["customer"]["name"] == "Olivia Brown"
    said = [m["text"] for m in case["messages"] if m["from"] == "customer"]
    assert said.count("Olivia Brown") == 1

    await api.call("POST", f"/api/cases/{case_id}/reply", json={"text": "We have released your withdrawal."})
    assert twilio_api.refused == []
    assert [(c["To"], c["From"], c["Body"]) for c in twilio_api.calls] == [
        (CUSTOMER, FROM_NUMBER, "We have released your withdrawal.")]
    assert twilio_api.calls[0]["StatusCallback"] == sms_gateway.url + "/channels/twilio/sms/status"

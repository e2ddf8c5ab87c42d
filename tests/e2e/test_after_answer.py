"""After the answer, against the running system (real Rasa, Redis, gateway processes; Twilio's REST API a local
stand-in): an SMS customer's low score reopens the case with an alert; a walk-in's return visit is logged by
phone; a customer nobody reaches is tried again, then the case closes as not reached."""

from __future__ import annotations

import asyncio
import json
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator, Iterator
from typing import Any

import aiohttp
import pytest

from gateway.embedded_redis import free_port
from tests.e2e.conftest import AgentApi, Gateway, add_agent, start_gateway
from tests.support.twilio_double import ACCOUNT_SID, AUTH_TOKEN, FROM_NUMBER, FakeMessagesApi, fake_twilio, signed_post

pytestmark = pytest.mark.e2e
CUSTOMER = "+447700900515"


@pytest.fixture(scope="module")
def twilio_port() -> int:
    return free_port()


@pytest.fixture(scope="module")
async def twilio_api(twilio_port: int) -> AsyncIterator[FakeMessagesApi]:
    async with fake_twilio(twilio_port) as (_, api):
        yield api


@pytest.fixture(scope="module")
def desk_gateway(e2e_redis: str, rasa: tuple[str, Any], twilio_port: int, agent_account: Any,
                 tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    """A firm whose answers need no approval, with SMS on and three tries to reach a customer."""
    port = free_port()
    gateway = start_gateway("after-answer", e2e_redis, rasa[0], tmp_path_factory.mktemp("gw-after"), port=port,
                            TWILIO_ACCOUNT_SID=ACCOUNT_SID, TWILIO_AUTH_TOKEN=AUTH_TOKEN,
                            TWILIO_FROM_NUMBER=FROM_NUMBER, TWILIO_API_BASE_URL=f"http://127.0.0.1:{twilio_port}",
                            PUBLIC_BASE_URL=f"http://127.0.0.1:{port}", APPROVAL_POLICY="none",
                            RETURN_VISIT_ATTEMPTS="3")
    try:
        yield gateway
    finally:
        gateway.stop()


@pytest.fixture(scope="module")
def lead(e2e_redis: str, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    return add_agent(e2e_redis, tmp_path_factory.mktemp("cli-lead"), "e2e-after-lead", "the lead's long password",
                     role="supervisor")


async def text(http: aiohttp.ClientSession, gateway: Gateway, sid: str, body: str) -> list[str]:
    params = {"MessageSid": sid, "AccountSid": ACCOUNT_SID, "From": CUSTOMER, "To": FROM_NUMBER, "Body": body,
              "NumMedia": "0"}
    async with await signed_post(http, gateway.url, "/channels/twilio/sms", params) as response:
        assert response.status == 200
        return [m.text or "" for m in ET.fromstring(await response.text()).iter("Message")]


async def test_an_sms_customers_low_score_reopens_the_case_with_an_alert(
    desk_gateway: Gateway, twilio_api: FakeMessagesApi, agent_account: tuple[str, str], lead: tuple[str, str],
    http: aiohttp.ClientSession,
) -> None:
    handler, supervisor = AgentApi(http, desk_gateway.url), AgentApi(http, desk_gateway.url)
    await handler.login(*agent_account)
    await supervisor.login(*lead)
    stream = await http.get(f"{desk_gateway.url}/api/events", headers=supervisor.headers)

    # The customer asks for a person at once: the bot hands the conversation over, the case opens.
    replies = await text(http, desk_gateway, "SMafter0001", "I want to speak to a real person about a wrong fee")
    notice = next(r for r in replies if "C-" in r)
    case_id = notice[notice.index("C-"):][:13]

    await handler.call("POST", f"/api/cases/{case_id}/claim")
    await handler.call("POST", f"/api/cases/{case_id}/propose",
                       json={"answer": "We are sorry: the fee is refunded today.", "outcome": "upheld"})
    survey = [c["Body"] for c in twilio_api.calls if c["To"] == CUSTOMER]
    assert any("1 to 5" in body for body in survey), "the satisfaction question went out by SMS"

    await text(http, desk_gateway, "SMafter0002", "1")
    case: dict[str, Any] = await handler.call("GET", f"/api/cases/{case_id}")
    assert case["status"] == "reopened" and case["assignee"] == agent_account[0]
    async with asyncio.timeout(20):
        async for line in stream.content:
            if line.startswith(b"data: "):
                event = json.loads(line[6:])
                if event.get("type") == "alert" and event.get("kind") == "reopened":
                    assert event["case_id"] == case_id
                    break
    stream.close()


async def register_and_answer(api: AgentApi, description: str) -> str:
    case: dict[str, Any] = await api.call("POST", "/api/cases", json={
        "channel": "in_person", "language": "zh", "customer": {"name": "周敏", "phone": "13612345678"},
        "complaint": {"description": description}})
    await api.call("POST", f"/api/cases/{case['id']}/claim")
    plan = {"answer": "您反映的问题已处理，给您带来不便深表歉意。", "outcome": "upheld", "measures": "窗口增设引导员"}
    await api.call("POST", f"/api/cases/{case['id']}/propose", json=plan)
    return str(case["id"])


async def test_a_walk_ins_return_visit_is_logged_by_phone(
    desk_gateway: Gateway, agent_account: tuple[str, str], http: aiohttp.ClientSession
) -> None:
    api = AgentApi(http, desk_gateway.url)
    await api.login(*agent_account)
    case_id = await register_and_answer(api, "营业部大厅排队太久，没有人引导")
    case: dict[str, Any] = await api.call("POST", f"/api/cases/{case_id}/return-visit", json={
        "method": "phone", "reached": True, "score": 5, "measures_verified": True, "note": "已看到引导员"})
    assert case["status"] == "closed" and case["return_visits"][0]["method"] == "phone"


async def test_a_customer_nobody_reaches_is_tried_three_times_then_closed_as_not_reached(
    desk_gateway: Gateway, agent_account: tuple[str, str], http: aiohttp.ClientSession
) -> None:
    api = AgentApi(http, desk_gateway.url)
    await api.login(*agent_account)
    case_id = await register_and_answer(api, "柜台业务办理太慢")
    statuses = []
    for _ in range(3):
        case: dict[str, Any] = await api.call("POST", f"/api/cases/{case_id}/return-visit",
                                              json={"method": "phone", "reached": False})
        statuses.append(case["status"])
    assert statuses == ["answered", "answered", "closed"] and case["closed_as"] == "not_reached"

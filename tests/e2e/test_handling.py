"""The handling process end to end (real Rasa, action server, Redis and gateway): a customer's complaint is
investigated, its plan returned by one supervisor and approved by another, and the customer gets the answer on
their own channel; every step is on the audit trail."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import aiohttp
import pytest

from tests.e2e.conftest import AgentApi, Gateway, add_agent, start_gateway
from tests.e2e.test_intake import complain
from tests.support.chat_client import ChatClient

pytestmark = pytest.mark.e2e

PLAN = {"answer": "您好，经核实系统重复收取了佣金，多收的款项将在三个工作日内退回，给您带来不便深表歉意。",
        "outcome": "upheld", "measures": "收费系统上线重复扣费校验", "compensation": {"amount": 50, "currency": "CNY"},
        "responsible": {"staff": "系统运维组", "action": "整改并复盘"}}


@pytest.fixture(scope="module")
def approving_gateway(e2e_redis: str, rasa: tuple[str, Any], agent_account: Any,
                      tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    """A gateway whose firm has every plan approved (APPROVAL_POLICY=all), whatever the complaint's risk."""
    gateway = start_gateway("approving", e2e_redis, rasa[0], tmp_path_factory.mktemp("gw-approving"),
                            APPROVAL_POLICY="all")
    try:
        yield gateway
    finally:
        gateway.stop()


@pytest.fixture(scope="module")
def supervisors(e2e_redis: str, tmp_path_factory: pytest.TempPathFactory) -> list[tuple[str, str]]:
    return [add_agent(e2e_redis, tmp_path_factory.mktemp(f"cli-{name}"), name, f"{name} has a long password",
                      role="supervisor") for name in ("e2e-lead-one", "e2e-lead-two")]


async def test_investigated_returned_approved_and_the_customer_hears_the_answer(
    approving_gateway: Gateway, agent_account: tuple[str, str], supervisors: list[tuple[str, str]],
    http: aiohttp.ClientSession,
) -> None:
    gateway = approving_gateway
    chat = await ChatClient.connect(http, gateway.ws_url, language="zh")
    case_id = (await complain(chat, "zh"))["case_id"]
    handler, one, two = AgentApi(http, gateway.url), AgentApi(http, gateway.url), AgentApi(http, gateway.url)
    await handler.login(*agent_account)
    await one.login(*supervisors[0])
    await two.login(*supervisors[1])

    await handler.call("POST", f"/api/cases/{case_id}/claim")
    await handler.call("POST", f"/api/cases/{case_id}/notes", json={"text": "客户很着急，先电话致歉"})
    await handler.call("POST", f"/api/cases/{case_id}/findings", json={"text": "委托未成交系行情波动所致"})
    proposed: dict[str, Any] = await handler.call("POST", f"/api/cases/{case_id}/propose", json=PLAN)
    assert proposed["status"] == "awaiting_approval"

    await one.call("POST", f"/api/cases/{case_id}/return", json={"reason": "请说明退款方式"})
    await handler.call("POST", f"/api/cases/{case_id}/propose",
                       json={**PLAN, "answer": PLAN["answer"] + "款项将原路退回您的资金账户。"})
    await chat.drain()
    approved: dict[str, Any] = await two.call("POST", f"/api/cases/{case_id}/approve")
    assert approved["status"] == "answered" and approved["approval"]["by"] == supervisors[1][0]

    heard = await chat.expect(lambda f: f["type"] == "message" and f["from"] == "agent", timeout=30)
    assert heard["text"].endswith("款项将原路退回您的资金账户。"), "the approved answer, not the returned one"
    actions = [e["action"] for e in approved["events"]]
    assert actions[actions.index("claim"):] == ["claim", "note", "findings", "propose", "return", "propose",
                                                "approve", "survey"], "and then the satisfaction question"
    await chat.close()


async def test_a_supervisor_cannot_approve_their_own_plan(
    approving_gateway: Gateway, supervisors: list[tuple[str, str]], http: aiohttp.ClientSession
) -> None:
    gateway = approving_gateway
    chat = await ChatClient.connect(http, gateway.ws_url, language="en")
    case_id = (await complain(chat, "en"))["case_id"]
    lead = AgentApi(http, gateway.url)
    await lead.login(*supervisors[0])
    await lead.call("POST", f"/api/cases/{case_id}/claim")
    await lead.call("POST", f"/api/cases/{case_id}/propose",
                    json={"answer": "We are sorry: the second commission is refunded today.", "outcome": "upheld"})
    async with http.post(f"{gateway.url}/api/cases/{case_id}/approve", headers=lead.headers) as answer:
        assert answer.status == 403 and "own plan" in (await answer.json())["error"]
    await chat.close()

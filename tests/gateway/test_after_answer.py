"""After the answer, on the real app and Redis: the return visit (logged by a handler, or the customer's rating on
their channel), tries until the customer is reached, reopening to the handler with an alert, mediation after a
second answer, follow-up dates."""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from gateway import api, keys
from gateway.app import create_app
from gateway.settings import Settings
from tests.conftest import PASSWORD, login
from tests.support.chat_client import ChatClient

ANSWER = {"answer": "经核实，多收的费用已退回您的账户，给您带来不便深表歉意。", "outcome": "upheld",
          "measures": "柜台收费增加双人复核"}


@pytest.fixture
async def client(aiohttp_client: Any, settings: Settings) -> Any:
    app = create_app(replace(settings, approval_policy="none", return_visit_attempts=3))
    client = await aiohttp_client(app)
    await app[keys.AGENTS].add("wang", PASSWORD, "agent")
    await app[keys.AGENTS].add("sue", PASSWORD, "supervisor")
    return client


async def answered_walk_in(client: Any, auth: dict[str, str]) -> str:
    body = {"channel": "in_person", "language": "zh", "customer": {"name": "李梅", "phone": "13912345678"},
            "complaint": {"description": "柜台多收了手续费"}}
    case_id = str((await (await client.post("/api/cases", json=body, headers=auth)).json())["id"])
    await client.post(f"/api/cases/{case_id}/claim", headers=auth)
    answered = await (await client.post(f"/api/cases/{case_id}/propose", json=ANSWER, headers=auth)).json()
    assert answered["status"] == "answered" and answered["return_visit"]["due"]
    return case_id


def visit(**fields: Any) -> dict[str, Any]:
    return {"method": "phone", "reached": True, **fields}


async def test_a_walk_ins_return_visit_is_logged_by_phone_and_closes_the_case(client: Any) -> None:
    wang = await login(client, "wang")
    case_id = await answered_walk_in(client, wang)
    later = datetime.now(UTC) + timedelta(days=10)
    case = await client.app[keys.CASES].get(case_id)
    assert datetime.fromisoformat(case["return_visit"]["due"]) < later
    await client.app[api.DESK].sweep_return_visits(later)  # the desk is told the visit is due
    logged = await client.post(f"/api/cases/{case_id}/return-visit",
                               json=visit(score=5, measures_verified=True, note="客户表示满意"), headers=wang)
    case = await logged.json()
    assert case["status"] == "closed" and case["closed_as"] == "satisfied"
    assert case["return_visits"][0] | {"at": None} == {"at": None, "method": "phone", "reached": True, "score": 5,
                                                       "measures_verified": True, "note": "客户表示满意", "by": "wang"}
    assert case["satisfaction"]["score"] == 5 and case["events"][-1]["action"] == "return_visit"


async def test_an_unreachable_customer_is_tried_again_then_the_case_closes_as_not_reached(client: Any) -> None:
    wang = await login(client, "wang")
    case_id = await answered_walk_in(client, wang)
    for attempt in (1, 2):
        case = await (await client.post(f"/api/cases/{case_id}/return-visit", json=visit(reached=False),
                                         headers=wang)).json()
        assert case["status"] == "answered" and case["return_visit"]["attempts"] == attempt
    case = await (await client.post(f"/api/cases/{case_id}/return-visit", json=visit(reached=False),
                                     headers=wang)).json()
    assert case["status"] == "closed" and case["closed_as"] == "not_reached"
    assert "not reached after 3 tries" in case["events"][-1]["detail"]


async def test_measures_not_carried_out_reopen_to_the_handler_and_a_second_failure_refers_to_mediation(
    client: Any,
) -> None:
    wang, sue = await login(client, "wang"), await login(client, "sue")
    stream = await client.get("/api/events", headers=sue)
    case_id = await answered_walk_in(client, wang)
    reopened = await (await client.post(f"/api/cases/{case_id}/return-visit",
                                        json=visit(score=4, measures_verified=False), headers=wang)).json()
    assert reopened["status"] == "reopened" and reopened["assignee"] == "wang"
    alert = await _alert(stream, "reopened")
    assert alert["case_id"] == case_id

    await client.post(f"/api/cases/{case_id}/claim", headers=wang)
    await client.post(f"/api/cases/{case_id}/propose", json=ANSWER, headers=wang)
    referred = await (await client.post(f"/api/cases/{case_id}/return-visit", json=visit(score=1),
                                        headers=wang)).json()
    assert referred["status"] == "closed" and referred["closed_as"] == "referred"
    assert referred["referral"]["to"] == "mediation_or_arbitration"
    assert "调解" in referred["notes"][-1]["text"], "no channel to tell them on: the handler is asked to"


async def test_a_low_rating_in_the_chat_reopens_and_a_second_one_brings_the_mediation_text(client: Any) -> None:
    chat = await ChatClient.connect(client, "/chat/ws", language="en")
    await chat.send("My withdrawal has been pending for a week")
    case_id = (await chat.expect(lambda f: f["type"] == "case"))["case_id"]
    wang = await login(client, "wang")
    for round_ in (1, 2):
        await client.post(f"/api/cases/{case_id}/claim", headers=wang)
        await client.post(f"/api/cases/{case_id}/propose", headers=wang,
                          json={"answer": "We are sorry for the wait: it is released today.", "outcome": "upheld"})
        await chat.expect(lambda f: f["type"] == "message" and "1 to 5" in f.get("text", ""))
        await chat.send("1")
        if round_ == 1:
            await chat.expect(lambda f: f["type"] == "message" and "open again" in f.get("text", ""))
    told = await chat.expect(lambda f: f["type"] == "message" and "mediat" in f.get("text", ""))
    assert "arbitration" in told["text"]
    case = await (await client.get(f"/api/cases/{case_id}", headers=wang)).json()
    assert case["status"] == "closed" and case["closed_as"] == "referred"


async def test_an_unanswered_survey_is_asked_again_then_closes_as_not_reached(client: Any) -> None:
    chat = await ChatClient.connect(client, "/chat/ws", language="en")
    await chat.send("My withdrawal has been pending for a week")
    case_id = (await chat.expect(lambda f: f["type"] == "case"))["case_id"]
    wang = await login(client, "wang")
    await client.post(f"/api/cases/{case_id}/claim", headers=wang)
    await client.post(f"/api/cases/{case_id}/propose", headers=wang,
                      json={"answer": "We are sorry for the wait: it is released today.", "outcome": "upheld"})
    desk = client.app[api.DESK]
    when = datetime.now(UTC)
    for _ in range(3):
        when += timedelta(days=10)
        await desk.sweep_return_visits(when)
    case = await client.app[keys.CASES].get(case_id)
    assert case["status"] == "closed" and case["closed_as"] == "not_reached"
    asked = [m for m in case["messages"] if m["from"] == "system" and "1 to 5" in m["text"]]
    assert len(asked) == 3, "asked after the answer, then again twice"


async def test_a_follow_up_date_puts_the_case_on_the_desks_due_list(client: Any) -> None:
    wang = await login(client, "wang")
    body = {"channel": "letter", "language": "zh", "customer": {"name": "李梅"},
            "complaint": {"description": "来信投诉分红到账延迟"}}
    case_id = (await (await client.post("/api/cases", json=body, headers=wang)).json())["id"]
    today = datetime.now(UTC).date().isoformat()
    set_ = await client.post(f"/api/cases/{case_id}/follow-up", json={"on": today, "note": "等托管行回复"},
                             headers=wang)
    assert (await set_.json())["follow_up"]["on"] == today
    due = await (await client.get("/api/cases?due=follow_up", headers=wang)).json()
    assert [c["id"] for c in due["cases"]] == [case_id]
    assert (await client.post(f"/api/cases/{case_id}/follow-up", json={"on": "soon"}, headers=wang)).status == 422


async def _alert(stream: Any, kind: str) -> dict[str, Any]:
    async with asyncio.timeout(10):
        async for line in stream.content:
            if line.startswith(b"data: "):
                event = json.loads(line[6:])
                if event.get("type") == "alert" and event.get("kind") == kind:
                    return dict(event)
    raise AssertionError(f"no {kind} alert")


async def test_a_case_lists_the_customers_earlier_cases(client: Any) -> None:
    wang = await login(client, "wang")
    first = await answered_walk_in(client, wang)
    second = await answered_walk_in(client, wang)  # the same phone number
    case = await (await client.get(f"/api/cases/{second}", headers=wang)).json()
    assert [c["id"] for c in case["earlier_cases"]] == [first]
    assert case["earlier_cases"][0]["status"] == "answered"


async def test_a_handler_flags_a_typical_case_with_the_reason(client: Any) -> None:
    wang = await login(client, "wang")
    case_id = await answered_walk_in(client, wang)
    flagged = await (await client.post(f"/api/cases/{case_id}/flag", json={"typical": True, "reason": "收费复核缺位"},
                                       headers=wang)).json()
    assert flagged["typical"]["reason"] == "收费复核缺位" and flagged["events"][-1]["action"] == "flag"
    assert (await client.post(f"/api/cases/{case_id}/flag", json={"typical": True}, headers=wang)).status == 422
    unflagged = await (await client.post(f"/api/cases/{case_id}/flag", json={"typical": False}, headers=wang)).json()
    assert unflagged["typical"] is None

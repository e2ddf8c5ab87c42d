"""The handling process on the real app and Redis: units and their queues, notes, findings, a plan approved or
returned level by level, escalation, forbidden phrases, canned replies; and refusals that change nothing."""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from gateway import keys
from gateway.app import create_app
from gateway.settings import Settings
from tests.conftest import PASSWORD, login
from tests.support.chat_client import ChatClient
from tests.support.org_files import HEAD_OFFICE, Unit, org_toml

ORG = org_toml(HEAD_OFFICE, Unit("sh", "上海分公司", "Shanghai branch"), Unit("bj", "北京分公司", "Beijing branch"))
PLAN = {"answer": "您好，经核实多收的佣金 120 元将于三个工作日内退回，给您带来不便深表歉意。", "outcome": "upheld",
        "measures": "柜台收费复核流程加一道双人复核", "compensation": {"amount": 120, "currency": "cny"},
        "responsible": {"staff": "柜员小张", "action": "内部通报批评并重新培训"}}


@pytest.fixture
async def client(aiohttp_client: Any, settings: Settings, tmp_path: Path) -> Any:
    org = tmp_path / "org.toml"
    org.write_text(ORG, encoding="utf-8")
    app = create_app(replace(settings, org_file=str(org), approval_policy="all"))
    client = await aiohttp_client(app)
    for name, role, unit in (("han", "agent", "sh"), ("bei", "agent", "bj"), ("shu", "supervisor", "sh"),
                             ("hqs", "supervisor", "hq"), ("hqt", "supervisor", "hq")):
        await app[keys.AGENTS].add(name, PASSWORD, role, unit=unit)
    return client


async def register(client: Any, auth: dict[str, str], unit: str, text: str = "营业部柜台多收了我 120 元佣金") -> str:
    body = {"channel": "in_person", "language": "zh", "unit": unit,
            "customer": {"name": "李梅", "phone": "13912345678"}, "complaint": {"description": text}}
    answer = await client.post("/api/cases", json=body, headers=auth)
    assert answer.status == 201, await answer.text()
    return str((await answer.json())["id"])


async def test_a_branch_handler_sees_only_their_units_queue_and_head_office_sees_all(client: Any) -> None:
    han, bei, hqs = [await login(client, n) for n in ("han", "bei", "hqs")]
    shanghai, beijing = await register(client, han, "sh"), await register(client, bei, "bj")

    def ids(answer: dict[str, Any]) -> set[str]:
        return {c["id"] for c in answer["cases"]}

    assert ids(await (await client.get("/api/cases", headers=han)).json()) == {shanghai}
    assert ids(await (await client.get("/api/cases", headers=hqs)).json()) == {shanghai, beijing}
    assert (await client.get(f"/api/cases/{beijing}", headers=han)).status == 403
    assert (await client.post(f"/api/cases/{beijing}/claim", headers=han)).status == 403
    taken = await client.post("/api/cases/next", headers=han)
    assert (await taken.json())["id"] == shanghai
    assert (await client.post("/api/cases/next", headers=han)).status == 204, "never another branch's case"
    assert (await (await client.post("/api/cases/next", headers=bei)).json())["id"] == beijing
    listed = await (await client.get("/api/cases?unit=bj", headers=hqs)).json()
    assert ids(listed) == {beijing}


async def test_investigate_propose_return_propose_again_approve_and_every_step_is_audited(client: Any) -> None:
    han, shu, hqs, hqt = [await login(client, n) for n in ("han", "shu", "hqs", "hqt")]
    case_id = await register(client, han, "sh")
    await client.post(f"/api/cases/{case_id}/claim", headers=han)
    noted = await client.post(f"/api/cases/{case_id}/notes", json={"text": "客户情绪激动，先电话安抚"}, headers=han)
    assert [n["text"] for n in (await noted.json())["notes"]] == ["客户情绪激动，先电话安抚"]
    found = await client.post(f"/api/cases/{case_id}/findings", json={"text": "收费系统重复扣费一次"}, headers=han)
    assert (await found.json())["findings"][0]["by"] == "han"

    proposed = await (await client.post(f"/api/cases/{case_id}/propose", json=PLAN, headers=han)).json()
    assert proposed["status"] == "awaiting_approval"
    assert proposed["proposal"]["compensation"] == {"amount": 120, "currency": "CNY"}
    assert (await client.post(f"/api/cases/{case_id}/approve", headers=han)).status == 403, "an agent"
    returned = await client.post(f"/api/cases/{case_id}/return", json={"reason": "请写明退款到账时间"}, headers=shu)
    assert (await returned.json())["status"] == "claimed" and (await returned.json())["assignee"] == "han"
    again = {**PLAN, "answer": PLAN["answer"] + "款项将原路退回您的资金账户。"}
    await client.post(f"/api/cases/{case_id}/propose", json=again, headers=han)
    approved = await client.post(f"/api/cases/{case_id}/approve", headers=hqs)
    case = await approved.json()
    assert approved.status == 200, case
    assert case["status"] == "answered" and case["approval"]["by"] == "hqs"
    assert case["resolution"]["approved_by"] == "hqs"
    assert [e["action"] for e in case["events"]] == ["register", "claim", "note", "findings", "propose", "return",
                                                     "propose", "approve", "note"]
    # A walk-in without an SMS channel: the approved answer is for the handler to give by phone or letter.
    assert "phone" in case["notes"][-1]["text"] and case["notes"][-1]["by"] == "system"
    assert "请写明退款到账时间" in case["events"][5]["detail"]
    assert (await client.post(f"/api/cases/{case_id}/approve", headers=hqt)).status == 409, "approved already"


async def test_nobody_approves_their_own_plan(client: Any) -> None:
    shu, hqs = await login(client, "shu"), await login(client, "hqs")
    case_id = await register(client, shu, "sh")
    await client.post(f"/api/cases/{case_id}/claim", headers=shu)
    await client.post(f"/api/cases/{case_id}/propose", json=PLAN, headers=shu)
    own = await client.post(f"/api/cases/{case_id}/approve", headers=shu)
    assert own.status == 403 and "own plan" in (await own.json())["error"]
    assert (await client.post(f"/api/cases/{case_id}/approve", headers=hqs)).status == 200


async def test_only_a_supervisor_of_the_unit_or_above_approves(client: Any) -> None:
    han, hqs = await login(client, "han"), await login(client, "hqs")
    await client.app[keys.AGENTS].add("bjs", PASSWORD, "supervisor", unit="bj")
    case_id = await register(client, han, "sh")
    await client.post(f"/api/cases/{case_id}/claim", headers=han)
    await client.post(f"/api/cases/{case_id}/propose", json=PLAN, headers=han)
    other_branch = await client.post(f"/api/cases/{case_id}/approve", headers=await login(client, "bjs"))
    assert other_branch.status == 403
    assert (await client.post(f"/api/cases/{case_id}/approve", headers=hqs)).status == 200


async def test_an_escalation_moves_the_case_up_and_alerts_that_units_supervisors_once(client: Any) -> None:
    han, hqs = await login(client, "han"), await login(client, "hqs")
    stream = await client.get("/api/events", headers=hqs)
    case_id = await register(client, han, "sh")
    await client.post(f"/api/cases/{case_id}/claim", headers=han)
    escalated = await client.post(f"/api/cases/{case_id}/escalate", json={"to": "hq", "reason": "涉及总部收费系统"},
                                  headers=han)
    case = await escalated.json()
    assert case["department"] == "hq" and case["status"] == "queued" and case["assignee"] is None
    assert case["escalations"][0]["from"] == "sh" and case["escalations"][0]["to"] == "hq"
    alerts = []
    async with asyncio.timeout(10):
        async for line in stream.content:
            if line.startswith(b"data: ") and json.loads(line[6:])["type"] == "alert":
                alerts.append(json.loads(line[6:]))
                if alerts[-1]["kind"] == "escalated":
                    break
    assert alerts[-1]["case_id"] == case_id and alerts[-1]["unit"] == "hq"
    assert (await client.get(f"/api/cases/{case_id}", headers=han)).status == 403, "it left the branch"
    assert (await (await client.post("/api/cases/next", headers=hqs)).json())["id"] == case_id
    again = await client.post(f"/api/cases/{case_id}/escalate", json={"to": "hq", "reason": "again"}, headers=hqs)
    assert again.status == 422, "hq is not above hq"


@pytest.mark.parametrize("words", ["这不可能", "不 可 能 有这种事", "這事情的責任不在證券公司", "It is im-possible",
                                   "Frankly, that's NOT OUR FAULT."])
async def test_a_reply_or_plan_with_a_forbidden_phrase_is_422_naming_it_and_changes_nothing(
    client: Any, words: str
) -> None:
    han = await login(client, "han")
    case_id = await register(client, han, "sh")
    await client.post(f"/api/cases/{case_id}/claim", headers=han)
    before = await (await client.get(f"/api/cases/{case_id}", headers=han)).json()
    for path, body in (("reply", {"text": words}), ("propose", {**PLAN, "answer": words})):
        refused = await client.post(f"/api/cases/{case_id}/{path}", json=body, headers=han)
        assert refused.status == 422 and "never say" in (await refused.json())["error"]
    after = await (await client.get(f"/api/cases/{case_id}", headers=han)).json()
    assert after["events"] == before["events"] and after["status"] == "claimed"


@pytest.mark.parametrize(("path", "body", "who", "status"), [
    ("approve", None, "hqs", 409),  # nothing awaits approval
    ("approve", None, "han", 403),  # an agent
    ("escalate", {"to": "atlantis", "reason": "x"}, "han", 422),  # an unknown unit
    ("propose", {"outcome": "upheld"}, "han", 422),  # a plan without an answer
    ("propose", {**PLAN, "outcome": "maybe"}, "han", 422),
    ("propose", {**PLAN, "compensation": {"amount": -5, "currency": "CNY"}}, "han", 422),
    ("return", {"reason": "x"}, "hqs", 409),
    ("findings", {"text": "x"}, "bei", 403),  # another branch's case
])
async def test_bad_handling_requests_are_refused_and_change_nothing(client: Any, path: str, body: Any, who: str,
                                                                    status: int) -> None:
    han = await login(client, "han")
    case_id = await register(client, han, "sh")
    await client.post(f"/api/cases/{case_id}/claim", headers=han)
    before = await (await client.get(f"/api/cases/{case_id}", headers=han)).json()
    answer = await client.post(f"/api/cases/{case_id}/{path}", json=body or {}, headers=await login(client, who))
    assert answer.status == status, await answer.text()
    assert (await answer.json())["error"]
    after = await (await client.get(f"/api/cases/{case_id}", headers=han)).json()
    assert after["events"] == before["events"]


async def test_supervisors_keep_canned_replies_checked_for_forbidden_phrases(client: Any) -> None:
    shu, han = await login(client, "shu"), await login(client, "han")
    added = await client.post("/api/canned-replies", json={"language": "zh", "title": "致歉并说明",
                                                           "text": "给您带来不便，我们深表歉意。"}, headers=shu)
    assert added.status == 201
    refused = await client.post("/api/canned-replies", json={"language": "en", "title": "No",
                                                             "text": "That can't have happened."}, headers=shu)
    assert refused.status == 422
    assert (await client.post("/api/canned-replies", json={"language": "zh", "title": "t", "text": "x"},
                              headers=han)).status == 403, "handlers use them, supervisors keep them"
    listed = (await (await client.get("/api/canned-replies?language=zh", headers=han)).json())["replies"]
    assert [r["title"] for r in listed] == ["致歉并说明"]
    reply_id = listed[0]["id"]
    assert (await client.delete(f"/api/canned-replies/{reply_id}", headers=shu)).status == 200
    assert (await (await client.get("/api/canned-replies", headers=han)).json())["replies"] == []


async def test_with_no_approval_needed_a_plan_reaches_the_customer_at_once(aiohttp_client: Any,
                                                                           settings: Settings) -> None:
    app = create_app(replace(settings, approval_policy="none"))
    client = await aiohttp_client(app)
    await app[keys.AGENTS].add("ann", PASSWORD, "agent")
    chat = await ChatClient.connect(client, "/chat/ws", language="en")
    await chat.send("My withdrawal has been pending for a week")
    case_id = (await chat.expect(lambda f: f["type"] == "case"))["case_id"]
    ann = await login(client, "ann")
    await client.post(f"/api/cases/{case_id}/claim", headers=ann)
    plan = {"answer": "We are sorry for the wait: your withdrawal was released today.", "outcome": "upheld"}
    case = await (await client.post(f"/api/cases/{case_id}/propose", json=plan, headers=ann)).json()
    assert case["status"] == "answered" and case["resolution"]["outcome"] == "upheld"
    heard = await chat.expect(lambda f: f["type"] == "message" and f["from"] == "agent")
    assert heard["text"] == plan["answer"]


async def test_routing_rules_set_the_department_and_the_handler_classifies_the_complaint(
    aiohttp_client: Any, settings: Settings, tmp_path: Path
) -> None:
    org = tmp_path / "org.toml"
    org.write_text(ORG + '\n[[routing]]\nproducts = ["margin_trading"]\ndepartment = "bj"\n', encoding="utf-8")
    app = create_app(replace(settings, org_file=str(org)))
    client = await aiohttp_client(app)
    await app[keys.AGENTS].add("hqs", PASSWORD, "supervisor")
    await app[keys.AGENTS].add("bei", PASSWORD, "agent", unit="bj")
    hqs, bei = await login(client, "hqs"), await login(client, "bei")
    body = {"channel": "phone", "language": "zh", "unit": "sh", "customer": {"name": "王强", "phone": "13912345678"},
            "complaint": {"description": "两融账户被强制平仓，客户经理态度很差", "product": "margin_trading"}}
    case = await (await client.post("/api/cases", json=body, headers=hqs)).json()
    assert case["unit"] == "sh" and case["department"] == "bj", "received in Shanghai, handled by the margin desk"
    assert case["nature"] == "attitude", "guessed from the customer's words"
    assert (await (await client.post("/api/cases/next", headers=bei)).json())["id"] == case["id"]
    classified = await client.post(f"/api/cases/{case['id']}/classify", json={"nature": "process"}, headers=bei)
    assert (await classified.json())["nature"] == "process"
    assert (await classified.json())["events"][-1]["action"] == "triage"
    bad = await client.post(f"/api/cases/{case['id']}/classify", json={"nature": "weather"}, headers=bei)
    assert bad.status == 422

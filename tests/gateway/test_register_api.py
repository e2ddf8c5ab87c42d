"""Staff register the complaints that came by other ways (POST /api/cases): the same checks, risk, deadlines,
queue and audit trail as a bot's intake; bad input is 422 naming the field and creates nothing."""

from __future__ import annotations

import base64
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from gateway import keys
from gateway.app import create_app
from gateway.settings import Settings
from tests.conftest import PASSWORD, login
from tests.support.org_files import HEAD_OFFICE, PUDONG, org_toml

ORG = org_toml(HEAD_OFFICE, PUDONG)


@pytest.fixture
async def client(aiohttp_client: Any, settings: Settings, tmp_path: Path) -> Any:
    org = tmp_path / "org.toml"
    org.write_text(ORG, encoding="utf-8")
    app = create_app(replace(settings, org_file=str(org)))
    client = await aiohttp_client(app)
    await app[keys.AGENTS].add("wang", PASSWORD, "agent")
    return client


def walk_in(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "channel": "in_person", "language": "zh", "unit": "sh-pudong",
        "customer": {"name": "李梅", "phone": "139 1234 5678", "account_id": "880012345"},
        "complaint": {"description": "上周三在营业部柜台办理销户，工作人员态度很差，还多收了手续费，我要去证监会投诉",
                      "product": "brokerage_account", "incident_time": "2026-11-25T10:30", "place": "浦东营业部柜台",
                      "people_involved": "柜员小张", "desired_resolution": "退还多收的手续费并道歉"},
        "preliminary_opinion": "核实柜台录像与收费记录",
    }
    body.update(changes)
    return body


async def test_a_walk_in_is_registered_by_the_staff_member_with_deadlines_from_when_it_came(client: Any) -> None:
    auth = await login(client, "wang")
    came = (datetime.now(UTC) - timedelta(days=1)).replace(microsecond=0)
    answer = await client.post("/api/cases", json=walk_in(received_at=came.isoformat(),
                                                          late_reason="登记系统昨日停机"), headers=auth)
    assert answer.status == 201, await answer.text()
    case = await answer.json()
    assert case["channel"] == "in_person" and case["status"] == "queued" and case["unit"] == "sh-pudong"
    assert datetime.fromisoformat(case["received_at"]) == came
    policy = client.app[keys.CASES]._sla
    assert case["deadlines"] == policy.deadlines(came).to_dict(), "every deadline counts from receipt"
    assert case["customer"]["phone"] == "+8613912345678" and case["registered_by"] == "wang"
    assert case["incomplete"] is False and case["missing"] == []
    assert case["preliminary_opinion"] == "核实柜台录像与收费记录" and case["script"] == "Hans"
    first = case["events"][0]
    assert (first["actor"], first["action"]) == ("wang", "register")
    assert "登记系统昨日停机" in first["detail"]
    assert case["risk"]["grade"] == "high", "the regulator threat is graded as a bot's intake would be"
    queued = await (await client.get("/api/cases?status=queued", headers=auth)).json()
    assert case["id"] in [c["id"] for c in queued["cases"]]


async def test_a_letter_with_a_scan_keeps_the_scan_on_the_case(client: Any) -> None:
    auth = await login(client, "wang")
    scan = b"%PDF-1.4 the customer's letter"
    body = walk_in(channel="letter", language="en", unit="hq",
                   customer={"name": "Mary Jones", "email": "mary@example.com"},
                   complaint={"description": "My dividend was paid to the wrong bank account in October."},
                   attachment={"name": "letter.pdf", "content_type": "application/pdf",
                               "content_base64": base64.b64encode(scan).decode()})
    case = await (await client.post("/api/cases", json=body, headers=auth)).json()
    assert case["missing"] == ["product", "incident_time", "desired_resolution"] and case["incomplete"] is True
    [kept] = case["attachments"]
    digest = kept["url"].split(":")[1]
    download = await client.get(f"/api/cases/{case['id']}/attachments/{digest}", headers=auth)
    assert download.status == 200 and await download.read() == scan


@pytest.mark.parametrize(("change", "field"), [
    ({"complaint": {"product": "margin_trading"}}, "complaint.description"),
    ({"customer": {"name": "李梅", "phone": "123"}}, "customer.phone"),
    ({"customer": {"name": "李梅", "email": "not an address"}}, "customer.email"),
    ({"received_at": (datetime.now(UTC) + timedelta(days=2)).isoformat()}, "received_at"),
    ({"received_at": (datetime.now(UTC) - timedelta(days=2)).isoformat()}, "late_reason"),
    ({"received_at": "last Tuesday"}, "received_at"),
    ({"received_at": "0003-07-23T09:52:53Z", "late_reason": "found in a drawer"}, "received_at"),
    ({"channel": "carrier_pigeon"}, "channel"),
    ({"unit": "atlantis"}, "unit"),
    ({"language": "fr"}, "language"),
    ({"complaint": {"description": "x", "product": "crypto"}}, "complaint.product"),
    ({"complaint": {"description": "x", "incident_time": "2099-01-01"}}, "complaint.incident_time"),
    ({"attachment": {"name": "a.pdf", "content_base64": "not base64!"}}, "attachment.content_base64"),
])
async def test_bad_input_is_422_naming_the_field_and_creates_nothing(client: Any, change: dict[str, Any],
                                                                     field: str) -> None:
    auth = await login(client, "wang")
    answer = await client.post("/api/cases", json=walk_in(**change), headers=auth)
    assert answer.status == 422
    assert f"'{field}'" in (await answer.json())["error"]
    assert await client.app[keys.CASES].list() == []


async def test_a_registered_complaint_without_a_channel_to_answer_on_asks_for_a_call(client: Any) -> None:
    auth = await login(client, "wang")
    case = await (await client.post("/api/cases", json=walk_in(), headers=auth)).json()
    await client.post(f"/api/cases/{case['id']}/claim", headers=auth)
    reply = await client.post(f"/api/cases/{case['id']}/reply", json={"text": "您好"}, headers=auth)
    assert reply.status == 409 and "call" in (await reply.json())["error"]
    after = await (await client.get(f"/api/cases/{case['id']}", headers=auth)).json()
    assert [e["action"] for e in after["events"]] == ["register", "claim"]


async def test_the_units_are_listed_from_the_org_file(client: Any) -> None:
    auth = await login(client, "wang")
    units = (await (await client.get("/api/units", headers=auth)).json())["units"]
    assert [(u["id"], u["kind"], u["parent"]) for u in units] == [("hq", "hq", None), ("sh-pudong", "branch", "hq")]
    assert units[1]["name"] == {"zh": "上海浦东营业部", "en": "Shanghai Pudong branch"}

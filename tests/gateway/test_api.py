"""The agent API on the real app and Redis: login, the case lifecycle, refusals that change nothing."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from gateway import keys
from gateway.app import create_app
from gateway.settings import Settings
from tests.chat_client import ChatClient

PASSWORD = "correct horse battery"


@pytest.fixture
async def client(aiohttp_client: Any, settings: Settings) -> Any:
    app = create_app(settings)
    client = await aiohttp_client(app)
    await app[keys.AGENTS].add("ann", PASSWORD, "agent")
    await app[keys.AGENTS].add("bob", PASSWORD, "agent")
    return client


async def login(client: Any, name: str = "ann") -> dict[str, str]:
    response = await client.post("/api/login", json={"name": name, "password": PASSWORD})
    assert response.status == 200
    return {"Authorization": f"Bearer {(await response.json())['token']}"}


async def test_a_wrong_password_gets_401_and_no_token(client: Any) -> None:
    response = await client.post("/api/login", json={"name": "ann", "password": "wrong password"})
    assert response.status == 401
    body = await response.json()
    assert "token" not in body and body["error"]
    assert "cg_session" not in response.cookies
    assert (await client.get("/api/cases")).status == 401


async def test_repeated_failures_lock_the_account(client: Any) -> None:
    for _ in range(5):
        await client.post("/api/login", json={"name": "ann", "password": "guess"})
    response = await client.post("/api/login", json={"name": "ann", "password": PASSWORD})
    assert response.status == 401 and "too many" in (await response.json())["error"]


async def test_malformed_requests_get_clear_errors(client: Any) -> None:
    assert (await client.post("/api/login", data=b"not json")).status == 400
    assert (await client.post("/api/login", json={"name": "ann"})).status == 422
    auth = await login(client)
    assert (await client.get("/api/cases?status=lost", headers=auth)).status == 400
    missing = await client.get("/api/cases/C-000000-AAAA", headers=auth)
    assert missing.status == 404 and (await missing.json())["error"]


async def test_an_agent_takes_a_case_replies_and_the_customer_sees_it(client: Any) -> None:
    chat = await ChatClient.connect(client, "/chat/ws", language="en")
    await chat.send("My withdrawal has been pending for a week")
    case_frame = await chat.expect(lambda f: f["type"] == "case")

    auth = await login(client)
    listed = await (await client.get("/api/cases?status=queued", headers=auth)).json()
    assert [c["id"] for c in listed["cases"]] == [case_frame["case_id"]]
    assert "conversation_id" not in listed["cases"][0]

    taken = await client.post("/api/cases/next", headers=auth)
    assert taken.status == 200
    case = await taken.json()
    assert case["status"] == "claimed" and case["assignee"] == "ann"
    assert (await client.post("/api/cases/next", headers=auth)).status == 204

    bob = await login(client, "bob")
    refused = await client.post(f"/api/cases/{case['id']}/reply", json={"text": "hi"}, headers=bob)
    assert refused.status == 409

    answer = await client.post(f"/api/cases/{case['id']}/reply",
                               json={"text": "I am looking into your withdrawal now."}, headers=auth)
    assert answer.status == 200
    said = await chat.expect(lambda f: f["type"] == "message" and f["from"] == "agent")
    assert said["text"] == "I am looking into your withdrawal now."

    await chat.send("Thank you, it was 5000 yuan")
    assert await _eventually_in_case(client, auth, case, "Thank you, it was 5000 yuan")

    resolved = await client.post(f"/api/cases/{case['id']}/resolve",
                                 json={"summary": "Withdrawal released", "outcome": "upheld"}, headers=auth)
    assert (await resolved.json())["status"] == "answered"
    closed = await client.post(f"/api/cases/{case['id']}/close", headers=auth)
    final = await closed.json()
    assert final["status"] == "closed"
    assert [e["action"] for e in final["events"]] == ["created", "claim", "reply", "resolve", "close"]


async def _eventually_in_case(client: Any, auth: dict[str, str], case: dict[str, Any], text: str) -> bool:
    """The customer's message is acknowledged once recorded; it reaches the case a moment later."""
    for _ in range(50):
        full = await (await client.get(f"/api/cases/{case['id']}", headers=auth)).json()
        if any(m["from"] == "customer" and m["text"] == text for m in full["messages"]):
            return True
        await asyncio.sleep(0.1)
    return False


async def test_openapi_describes_the_contract(client: Any) -> None:
    spec = await (await client.get("/api/openapi.json")).json()
    for path in ("/api/login", "/api/cases", "/api/cases/next", "/api/cases/{case_id}/reply", "/api/events"):
        assert path in spec["paths"]


async def test_the_console_hears_about_new_cases_live(client: Any) -> None:
    auth = await login(client)
    events = await client.get("/api/events", headers=auth)
    assert events.headers["Content-Type"].startswith("text/event-stream")
    chat = await ChatClient.connect(client, "/chat/ws", language="zh")
    await chat.send("我的账户被盗了，有人未经授权买了股票")
    case_frame = await chat.expect(lambda f: f["type"] == "case")
    async with asyncio.timeout(10):
        async for line in events.content:
            if line.startswith(b"data: "):
                event = json.loads(line[6:])
                break
    assert event == {"type": "case", "case_id": case_frame["case_id"], "status": "queued", "reason": "created"}
    events.close()
    case = await (await client.get(f"/api/cases/{case_frame['case_id']}", headers=auth)).json()
    assert case["risk"]["grade"] == "high" and case["priority"] == "urgent"

"""The agent API on the real app and Redis: login, the case lifecycle, refusals that change nothing."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from gateway import keys
from gateway.app import create_app
from gateway.settings import Settings
from tests.conftest import PASSWORD, login
from tests.support.chat_client import ChatClient


@pytest.fixture
async def client(aiohttp_client: Any, settings: Settings) -> Any:
    app = create_app(settings)
    client = await aiohttp_client(app)
    await app[keys.AGENTS].add("ann", PASSWORD, "agent")
    await app[keys.AGENTS].add("bob", PASSWORD, "agent")
    return client


async def test_a_wrong_password_gets_401_and_no_token(client: Any) -> None:
    response = await client.post("/api/login", json={"name": "ann", "password": "wrong password"})
    assert response.status == 401
    body = await response.json()
    assert "token" not in body and body["error"]
    assert "cg_session" not in response.cookies
    assert (await client.get("/api/cases")).status == 401


async def test_malformed_requests_get_clear_errors(client: Any) -> None:
    assert (await client.post("/api/login", data=b"not json")).status == 415
    as_json = {"Content-Type": "application/json"}
    assert (await client.post("/api/login", data=b"not json", headers=as_json)).status == 400
    assert (await client.post("/api/login", json={"name": "ann"})).status == 422
    auth = await login(client, "ann")
    assert (await client.get("/api/cases?status=lost", headers=auth)).status == 400
    missing = await client.get("/api/cases/C-000000-AAAA", headers=auth)
    assert missing.status == 404 and (await missing.json())["error"]


async def test_an_agent_takes_a_case_replies_and_the_customer_sees_it(client: Any) -> None:
    chat = await ChatClient.connect(client, "/chat/ws", language="en")
    await chat.send("My withdrawal has been pending for a week")
    case_frame = await chat.expect(lambda f: f["type"] == "case")

    auth = await login(client, "ann")
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
    assert [e["action"] for e in final["events"]] == ["created", "claim", "reply", "resolve", "survey", "close"]


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
    auth = await login(client, "ann")
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


def api_routes(client: Any) -> list[tuple[str, str]]:
    """Every (method, path) the app serves under /api/, as the OpenAPI document spells paths."""
    found = set()
    for route in client.app.router.routes():
        info = route.resource.get_info() if route.resource else {}
        path = info.get("path") or info.get("formatter") or ""
        if path.startswith("/api/") and route.method != "HEAD":
            found.add((route.method.lower(), path))
    return sorted(found)


async def test_the_openapi_document_lists_exactly_the_routes_served(client: Any) -> None:
    spec = await (await client.get("/api/openapi.json")).json()
    documented = sorted((method, path) for path, item in spec["paths"].items() for method in item)
    assert documented == api_routes(client)


def concrete(path: str, case_id: str) -> str:
    """A route's path with a value for each of its parameters."""
    values = {"{case_id}": case_id, "{name}": "ann", "{sha256}": "0" * 64, "{reply_id}": "1"}
    for name, value in values.items():
        path = path.replace(name, value)
    return path


OPEN_ROUTES = {("post", "/api/login"), ("get", "/api/openapi.json")}


async def test_every_route_without_a_session_gets_401(client: Any) -> None:
    for method, path in api_routes(client):
        if (method, path) in OPEN_ROUTES or path == "/api/logout":
            continue
        path = concrete(path, "C-000000-AAAA")
        response = await client.request(method, path, json={})
        assert response.status == 401, (method, path, response.status)
        assert (await response.json())["error"]


async def test_a_cookie_session_without_its_csrf_token_gets_403_and_changes_nothing(client: Any) -> None:
    chat = await ChatClient.connect(client, "/chat/ws", language="en")
    await chat.send("My withdrawal has been pending for a week")
    case_id = (await chat.expect(lambda f: f["type"] == "case"))["case_id"]
    logged_in = await client.post("/api/login", json={"name": "ann", "password": PASSWORD})
    csrf = (await logged_in.json())["csrf"]
    assert "HttpOnly" in logged_in.headers["Set-Cookie"] and "SameSite=Strict" in logged_in.headers["Set-Cookie"]
    # The client now holds only the session cookie, as a browser does.
    for method, path in api_routes(client):
        if method not in ("post", "patch") or (method, path) in OPEN_ROUTES:
            continue
        path = concrete(path, case_id)
        response = await client.request(method, path,
                                        json={"text": "x"}, headers={"X-CSRF-Token": "forged"})
        assert response.status == 403, (path, response.status)
    me = await (await client.get("/api/me")).json()
    assert me["name"] == "ann" and me["csrf"] == csrf, "a read needs no token, and tells the page its token"
    case = await (await client.get(f"/api/cases/{case_id}")).json()
    assert case["status"] == "queued" and [e["action"] for e in case["events"]] == ["created"]
    claimed = await client.post(f"/api/cases/{case_id}/claim", headers={"X-CSRF-Token": csrf})
    assert claimed.status == 200 and (await claimed.json())["assignee"] == "ann"


async def test_roles_and_desks_decide_who_sees_and_does_what(client: Any) -> None:
    agents = client.app[keys.AGENTS]
    await agents.add("li", PASSWORD, "agent", ("zh",))
    await agents.add("sue", PASSWORD, "supervisor")
    await agents.add("root", PASSWORD, "admin")
    chat = await ChatClient.connect(client, "/chat/ws", language="en")
    await chat.send("My withdrawal has been pending for a week")
    case_id = (await chat.expect(lambda f: f["type"] == "case"))["case_id"]
    ann, li, sue, root = [await login(client, name) for name in ("ann", "li", "sue", "root")]

    # An English case is not on a Chinese-only desk: not listed, not readable, not handed out.
    assert (await (await client.get("/api/cases", headers=li)).json())["cases"] == []
    assert (await client.get(f"/api/cases/{case_id}", headers=li)).status == 403
    assert (await client.post("/api/cases/next", headers=li)).status == 204
    assert (await client.post(f"/api/cases/{case_id}/claim", headers=li)).status == 403

    # Only supervisors reassign and list accounts; only admins create them.
    for agent in (ann, li):
        assert (await client.post(f"/api/cases/{case_id}/reassign", json={"agent": "bob"}, headers=agent)).status == 403
        assert (await client.get("/api/agents", headers=agent)).status == 403
    new_account = {"name": "kim", "password": PASSWORD, "role": "agent", "languages": ["en"]}
    assert (await client.post("/api/agents", json=new_account, headers=sue)).status == 403
    created = await client.post("/api/agents", json=new_account, headers=root)
    assert created.status == 201 and (await created.json())["languages"] == ["en"]
    names = [a["name"] for a in (await (await client.get("/api/agents", headers=sue)).json())["agents"]]
    assert names == ["ann", "bob", "kim", "li", "root", "sue"]

    refused = await client.post(f"/api/cases/{case_id}/reassign", json={"agent": "li"}, headers=sue)
    assert refused.status == 409 and "does not read" in (await refused.json())["error"]
    moved = await client.post(f"/api/cases/{case_id}/reassign", json={"agent": "kim"}, headers=sue)
    assert moved.status == 200
    case = await moved.json()
    assert case["assignee"] == "kim" and case["status"] == "claimed"
    assert case["events"][-1]["actor"] == "sue" and case["events"][-1]["action"] == "reassign"


async def test_after_the_answer_the_customer_rates_it_and_a_low_score_reopens_the_case(client: Any) -> None:
    auth = await login(client, "ann")
    for score, status in (("4", "closed"), ("２", "reopened")):
        chat = await ChatClient.connect(client, "/chat/ws", language="zh")
        await chat.send("我的提现一周了还没到账")
        case_id = (await chat.expect(lambda f: f["type"] == "case"))["case_id"]
        await client.post(f"/api/cases/{case_id}/claim", headers=auth)
        resolved = await client.post(f"/api/cases/{case_id}/resolve",
                                     json={"summary": "已处理", "outcome": "upheld"}, headers=auth)
        assert (await resolved.json())["due"] is None, "an answered case has no deadline running"
        question = await chat.expect(lambda f: f["type"] == "message" and "1 到 5" in f.get("text", ""))
        assert case_id in question["text"]
        await chat.send(score)
        await chat.expect(lambda f: f["type"] == "message" and "感谢" in f.get("text", ""))
        case = await (await client.get(f"/api/cases/{case_id}", headers=auth)).json()
        assert case["status"] == status
        assert case["satisfaction"]["score"] == int(score.translate(str.maketrans("１２３４５", "12345")))
        assert case["events"][-1]["actor"] == "customer" and case["events"][-1]["action"] == "satisfaction"
    # The reopened case goes back to its handler, who takes it up again.
    assert case["assignee"] == "ann" and case["reopened"] == 1
    again = await client.post(f"/api/cases/{case_id}/claim", headers=auth)
    assert again.status == 200 and (await again.json())["status"] == "claimed"


async def test_a_reply_that_is_refused_or_cannot_go_out_leaves_no_reply_event(aiohttp_client: Any,
                                                                               settings: Settings) -> None:
    app = create_app(Settings.from_env({}, redis_url=settings.redis_url, rasa_url=settings.rasa_url,
                                       rasa_timeout=settings.rasa_timeout, data_dir=settings.data_dir,
                                       transcripts_token="transcripts-token-for-tests"))
    client = await aiohttp_client(app)
    await app[keys.AGENTS].add("ann", PASSWORD, "agent")
    posted = await client.post("/channels/transcripts", params={"caller": "+8613812345678"},
                               data="Customer: My withdrawal of 5000 yuan has been pending for a week.\n",
                               headers={"Authorization": "Bearer transcripts-token-for-tests",
                                        "Content-Type": "text/plain"})
    case_id = (await posted.json())["case_id"]
    auth = await login(client, "ann")
    assert (await client.post(f"/api/cases/{case_id}/claim", headers=auth)).status == 200

    # The customer phoned in: a written reply cannot reach them (409), and a text that cannot be stored is 422.
    unreachable = await client.post(f"/api/cases/{case_id}/reply", json={"text": "We are on it."}, headers=auth)
    assert unreachable.status == 409 and "call" in (await unreachable.json())["error"]
    for broken in ("half a pair \ud800 here", "a NUL \x00 here"):
        refused = await client.post(f"/api/cases/{case_id}/reply", json={"text": broken}, headers=auth)
        assert refused.status == 422 and "'text'" in (await refused.json())["error"]
    case = await (await client.get(f"/api/cases/{case_id}", headers=auth)).json()
    assert [e["action"] for e in case["events"]] == ["created", "claim"]
    assert not any(m["from"] == "agent" for m in case["messages"])

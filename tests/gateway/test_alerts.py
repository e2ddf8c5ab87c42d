"""Supervisor alerts: a high-risk complaint at once, deadlines near and past, each alert once."""

from __future__ import annotations

import asyncio
import contextlib
import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from redis.asyncio import Redis

from gateway import keys
from gateway.alerts import SupervisorAlerts
from gateway.app import create_app
from gateway.events import DeskEvents
from gateway.settings import Settings
from handoff.cases import CaseStore
from handoff.lifecycle import Role
from handoff.sla import SlaPolicy
from records.reports.register import previous_month, register_due
from tests.conftest import PASSWORD, login


@pytest.fixture
async def webhook(aiohttp_server: Any) -> Any:
    """A supervisor's webhook receiver; ``failing`` makes it answer 500 until set back."""
    received: list[dict[str, Any]] = []
    state = {"failing": False}

    async def receive(request: web.Request) -> web.Response:
        if state["failing"]:
            return web.Response(status=500)
        received.append(await request.json())
        return web.Response(status=204)

    app = web.Application()
    app.router.add_post("/alerts", receive)
    server = await aiohttp_server(app)
    server.received, server.state = received, state
    return server


async def new_case(cases: CaseStore, description: str) -> dict[str, Any]:
    return await cases.create(channel="webchat", conversation_id="webchat:s1", language="en",
                              customer={"name": "Ann"}, complaint={"description": description},
                              handoff_reason="complete")


async def test_a_high_risk_case_alerts_a_supervisor_once(redis: Redis, webhook: Any) -> None:
    cases = CaseStore(redis)
    async with aiohttp.ClientSession() as http:
        alerts = SupervisorAlerts(redis, http, DeskEvents(redis), str(webhook.make_url("/alerts")))
        risky = await new_case(cases, "Someone hacked my account; I am reporting you to the SEC")
        calm = await new_case(cases, "The app was slow this morning")
        for case in (risky, calm, risky):
            await alerts.high_risk(case)
    assert [(a["kind"], a["case_id"]) for a in webhook.received] == [("high_risk", risky["id"])]
    assert "regulator" in webhook.received[0]["detail"]


async def test_deadlines_near_and_past_alert_once_each_and_a_failed_webhook_is_retried(
    redis: Redis, webhook: Any
) -> None:
    cases = CaseStore(redis)
    case = await new_case(cases, "My transfer is missing")
    respond_by = datetime.fromisoformat(case["deadlines"]["respond_by"])
    # Taken and investigated in time: only the answer's deadline is left to watch here.
    await cases.change(case["id"], actor="ann", action="claim", role=Role.AGENT,
                       mutate=lambda record: record.update(assignee="ann") or "claimed by ann")
    await cases.change(case["id"], actor="ann", action="findings", role=Role.AGENT,
                       mutate=lambda record: record.update(findings=[{"text": "found"}]) or "findings")
    async with aiohttp.ClientSession() as http:
        alerts = SupervisorAlerts(redis, http, DeskEvents(redis), str(webhook.make_url("/alerts")),
                                  due_soon=timedelta(hours=4))
        assert await alerts.check_deadlines(cases, now=respond_by - timedelta(days=1)) == []
        webhook.state["failing"] = True
        assert await alerts.check_deadlines(cases, now=respond_by - timedelta(hours=1)) == []
        webhook.state["failing"] = False
        assert await alerts.check_deadlines(cases, now=respond_by - timedelta(hours=1)) == [case["id"]]
        assert await alerts.check_deadlines(cases, now=respond_by - timedelta(minutes=5)) == []
        assert await alerts.check_deadlines(cases, now=respond_by + timedelta(minutes=1)) == [case["id"]]
        assert await alerts.check_deadlines(cases, now=respond_by + timedelta(days=3)) == []
    assert [a["kind"] for a in webhook.received] == ["due_soon", "overdue"]
    assert all(a["respond_by"] == respond_by.isoformat() for a in webhook.received)


async def test_an_answered_case_raises_no_deadline_alert(redis: Redis, webhook: Any) -> None:
    cases = CaseStore(redis)
    case = await new_case(cases, "My transfer is missing")

    def answered(record: dict[str, Any]) -> str:
        record["status"] = "answered"
        return "answered"

    await cases.change(case["id"], actor="ann", action="claim", role=Role.AGENT,
                       mutate=lambda record: record.update(assignee="ann") or "claimed by ann")
    await cases.change(case["id"], actor="ann", action="resolve", mutate=answered, role=Role.AGENT)
    async with aiohttp.ClientSession() as http:
        alerts = SupervisorAlerts(redis, http, DeskEvents(redis), str(webhook.make_url("/alerts")))
        assert await alerts.check_deadlines(cases, now=datetime.now(UTC) + timedelta(days=30)) == []
    assert webhook.received == []


async def test_the_acknowledgement_and_investigation_deadlines_alert_too(redis: Redis, webhook: Any) -> None:
    cases = CaseStore(redis)
    case = await new_case(cases, "My transfer is missing")
    deadlines = {step: datetime.fromisoformat(case["deadlines"][step]) for step in ("acknowledge_by", "investigate_by")}
    async with aiohttp.ClientSession() as http:
        alerts = SupervisorAlerts(redis, http, DeskEvents(redis), str(webhook.make_url("/alerts")),
                                  due_soon=timedelta(hours=4))
        assert await alerts.check_deadlines(cases, now=deadlines["acknowledge_by"] + timedelta(minutes=1))
        await cases.change(case["id"], actor="ann", action="claim", role=Role.AGENT,
                           mutate=lambda record: record.update(assignee="ann") or "claimed by ann")
        await alerts.check_deadlines(cases, now=deadlines["investigate_by"] + timedelta(minutes=1))
        await alerts.check_deadlines(cases, now=deadlines["investigate_by"] + timedelta(minutes=2))
    kinds = [a["kind"] for a in webhook.received]
    assert "acknowledge_overdue" in kinds and "investigate_overdue" in kinds
    assert kinds.count("acknowledge_overdue") == 1 and kinds.count("investigate_overdue") == 1, "once each"
    assert "acknowledge_overdue" not in kinds[kinds.index("investigate_overdue"):], "a taken case is acknowledged"


async def test_a_running_gateway_watches_the_registers(aiohttp_client: Any, settings: Settings) -> None:
    app = create_app(replace(settings, deadline_check_seconds=3))  # the stream opens before the first look
    client = await aiohttp_client(app)
    await app[keys.AGENTS].add("boss", PASSWORD, "supervisor")
    stream = await client.get("/api/events", headers=await login(client, "boss"))
    # Last month's register of head office was never produced: once its third trading day has passed, the
    # running gateway says so by itself (on the first days of a month it must stay quiet).
    policy = SlaPolicy.preset(settings.sla_policy)
    now = datetime.now(UTC)
    late = now > register_due(previous_month(now, policy.timezone), policy)
    heard = False
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(20 if late else 3):
            async for line in stream.content:
                if line.startswith(b"data: ") and json.loads(line[6:]).get("kind") == "register_missing":
                    heard = True
                    break
    assert heard is late

"""Hot-spot warning: complaints about one product, unit or member of staff reaching the threshold of the risk
rules file's [hotspots] within its window alert the supervisors once."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from redis.asyncio import Redis

from gateway.alerts import SupervisorAlerts
from gateway.events import DeskEvents
from handoff.cases import CaseStore
from handoff.org import Org, Unit
from handoff.risk import Hotspots, default_rules, load_rules
from records.record import CaseRecord
from records.reports.hotspots import check_hotspots

ORG = Org({"hq": Unit("hq", "总部", "Head office", "hq"),
           "sh-pudong": Unit("sh-pudong", "上海浦东营业部", "Shanghai Pudong branch", "branch", "hq")})
NOW = datetime.now(UTC)


@pytest.fixture
async def record(record_url: str) -> AsyncIterator[CaseRecord]:
    async with CaseRecord(record_url) as opened:
        yield opened


@pytest.fixture
async def webhook(aiohttp_server: Any) -> Any:
    received: list[dict[str, Any]] = []

    async def receive(request: web.Request) -> web.Response:
        received.append(await request.json())
        return web.Response(status=204)

    app = web.Application()
    app.router.add_post("/alerts", receive)
    server = await aiohttp_server(app)
    server.received = received
    return server


async def complaint(cases: CaseStore, days_ago: float, product: str, unit: str, people: str | None = None) -> None:
    received = NOW - timedelta(days=days_ago)
    await cases.create(channel="webchat", conversation_id=f"webchat:{product}:{days_ago}", language="zh",
                       customer={"name": "客户"}, complaint={"product": product, "description": "我要投诉",
                                                            "people_involved": people},
                       handoff_reason="complete", received_at=received, unit=unit)


async def test_a_hot_spot_alerts_the_supervisors_once_per_window(
    record: CaseRecord, redis: Redis, webhook: Any
) -> None:
    cases = CaseStore(redis, record=record)
    for day in range(5):  # five about margin trading at the Pudong branch, four of them naming the same manager
        await complaint(cases, day + 0.5, "margin_trading", "sh-pudong", "客户经理  小王" if day else "柜台")
    for day in range(4):
        await complaint(cases, day + 0.5, "funds_wealth", "hq", "客户经理 小王" if day < 1 else None)
    for day in range(3):  # outside the 30 days: not counted
        await complaint(cases, 40 + day, "funds_wealth", "hq")
    rules = Hotspots(window_days=30, threshold=5)
    async with aiohttp.ClientSession() as http:
        alerts = SupervisorAlerts(redis, http, DeskEvents(redis), str(webhook.make_url("/alerts")))
        fired = await check_hotspots(record.engine, rules, ORG, alerts, now=NOW)
        assert [(s.dimension, s.value, s.count) for s in fired] == [
            ("product", "margin_trading", 5), ("unit", "sh-pudong", 5), ("staff", "客户经理 小王", 5)]
        assert await check_hotspots(record.engine, rules, ORG, alerts, now=NOW) == []  # once
        await complaint(cases, 0.1, "margin_trading", "sh-pudong")
        assert await check_hotspots(record.engine, rules, ORG, alerts, now=NOW + timedelta(hours=1)) == []
        assert await check_hotspots(record.engine, None, ORG, alerts, now=NOW) == []  # a file without [hotspots]
    shown = [(a["kind"], a["unit"], a["dimension"], a["value"], a["count"]) for a in webhook.received]
    assert shown == [("hotspot", "hq", "product", "margin_trading", 5),
                     ("hotspot", "sh-pudong", "unit", "sh-pudong", 5), ("hotspot", "hq", "staff", "客户经理 小王", 5)]
    assert "margin trading 融资融券" in webhook.received[0]["detail"] and webhook.received[0]["case_id"] is None


def test_the_rules_file_says_when_a_hot_spot_is_and_a_mistake_is_named(tmp_path: Path) -> None:
    assert default_rules().hotspots == Hotspots(30, 5, ("product", "unit", "staff"))
    packaged = (resources.files("handoff") / "risk_rules.toml").read_text(encoding="utf-8")
    for old, new, message in (("threshold = 5", "threshold = 1", "2 or more"),
                              ('by = ["product", "unit", "staff"]', 'by = ["branch"]', "'by' lists some of"),
                              ("window_days = 30\nthreshold", "window_days = 0\nthreshold", "positive number of days"),
                              ("threshold = 5", "threshold = 5\nevery = 3", "unknown field 'every'")):
        path = tmp_path / "rules.toml"
        path.write_text(packaged.replace(old, new), encoding="utf-8")
        with pytest.raises(ValueError, match=message):
            load_rules(path)
    path.write_text(packaged.replace('by = ["product", "unit", "staff"]', 'by = ["staff"]'), encoding="utf-8")
    assert load_rules(path).hotspots == Hotspots(30, 5, ("staff",))
    start = packaged.index("[hotspots]")
    path.write_text(packaged[:start], encoding="utf-8")
    assert load_rules(path).hotspots is None

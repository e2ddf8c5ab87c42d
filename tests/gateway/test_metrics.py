"""GET /metrics: what an operator's Prometheus sees after customers write in."""

from __future__ import annotations

from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from gateway.app import create_app
from gateway.settings import Settings
from tests.support.chat_client import ChatClient


@pytest.fixture
async def client(aiohttp_client: Any, settings: Settings) -> Any:
    return await aiohttp_client(create_app(settings))


async def scrape(client: Any) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = await client.get("/metrics")
    assert response.status == 200 and response.headers["Content-Type"].startswith("text/plain")
    return {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(await response.text()) for sample in family.samples}


async def test_messages_cases_and_the_backlog_are_counted_without_personal_data(client: Any) -> None:
    before = await scrape(client)
    assert before[("cg_redis_up", ())] == 1
    chat = await ChatClient.connect(client, "/chat/ws", language="en")
    await chat.send("My withdrawal to +44 7700 900123 has been pending for a week", "m1")
    await chat.send("My withdrawal to +44 7700 900123 has been pending for a week", "m1")  # a retry
    await chat.expect(lambda f: f["type"] == "case")

    after = await scrape(client)
    assert after[("cg_messages_received_total", (("channel", "webchat"),))] == 1
    assert after[("cg_messages_duplicate_total", (("channel", "webchat"),))] == 1
    # Rasa is not running in this test: the customer got a holding reply and a handler will take over.
    assert after[("cg_bot_unavailable_total", ())] == 1
    assert after[("cg_cases_opened_total", (("channel", "webchat"), ("lane", "normal")))] == 1
    assert after[("cg_queue_waiting", (("desk", "en"), ("lane", "normal")))] == 1
    assert after[("cg_queue_waiting", (("desk", "zh"), ("lane", "urgent")))] == 0
    text = await (await client.get("/metrics")).text()
    # The values are measurements (a duration may hold the digits 7700): what a customer wrote could only show in
    # the metrics' names, labels and help.
    described = [line if line.startswith("#") else line.rsplit(" ", 1)[0] for line in text.splitlines()]
    assert not [line for line in described if "7700" in line or "withdrawal" in line]

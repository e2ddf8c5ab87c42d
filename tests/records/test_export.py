"""A case's export: the whole record in one file, JSON that round-trips and HTML that shows it safely."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from handoff.cases import CaseNotFound
from records.export import FORMAT_NAME, FORMAT_VERSION, digest, export_case
from tests.records.record_data import at, case_row, empty_record, insert_cases, insert_history

CASE_ID = "C-261103-7KQ4"
CONVERSATION_ID = "webchat:5f3e0a9c1d2b4e6f8a7b9c0d1e2f3a4b"  # the channel's own address of the conversation
HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)>'
MESSAGES: list[dict[str, Any]] = [
    {"at": "2026-11-03T09:00:00+00:00", "from": "customer", "channel": "webchat",
     "text": "我要投诉，融资融券账户被强制平仓"},
    {"at": "2026-11-03T09:00:05+00:00", "from": "bot", "channel": "webchat", "text": "请问您的电话号码？"},
    {"at": "2026-11-03T09:01:00+00:00", "from": "customer", "channel": "webchat", "text": HOSTILE,
     "attachments": [{"name": "<b>statement</b>.pdf", "content_type": "application/pdf", "size": 48213,
                      "url": "javascript:alert(1)", "text": None}]},
    {"at": "2026-11-03T10:00:00+00:00", "from": "agent", "channel": "webchat",
     "text": "We are looking into it.\nLine two."},
]
EVENTS: list[dict[str, Any]] = [
    {"at": "2026-11-03T09:01:10+00:00", "actor": "bot", "action": "created", "before": None, "after": "queued",
     "detail": "intake ended: complete"},
    {"at": "2026-11-03T09:30:00+00:00", "actor": "ann", "action": "claim", "before": "queued", "after": "claimed",
     "detail": "claimed by ann"},
    {"at": "2026-11-04T10:00:00+00:00", "actor": "ann", "action": "resolve", "before": "claimed",
     "after": "answered", "detail": "resolve by ann: upheld"},
]


@pytest.fixture
async def record(record_url: str) -> AsyncIterator[AsyncEngine]:
    engine = await empty_record(record_url)
    created = at("2026-11-03T09:01:10")
    row = case_row(CASE_ID, created, language="zh", customer_name="王芳 <admin>", phone="+8613912345678",
                   description=f"强制平仓 {HOSTILE}", product="margin_trading", status="answered",
                   acknowledged_at=at("2026-11-03T09:30"), answered_at=at("2026-11-04T10:00"), outcome="upheld")
    row["document"]["resolution"] = {"summary": "Refunded the loss & apologised", "outcome": "upheld", "by": "ann"}
    row["document"]["conversation_id"] = CONVERSATION_ID
    await insert_cases(engine, [row, case_row("C-261103-AAAA", created)])
    await insert_history(engine, CASE_ID, MESSAGES, EVENTS)
    try:
        yield engine
    finally:
        await engine.dispose()


async def test_the_json_export_round_trips_the_whole_record(record: AsyncEngine) -> None:
    now = datetime(2026, 11, 29, 8, 0, tzinfo=UTC)
    exported = json.loads(await export_case(record, CASE_ID, "json", by="sue", now=now))
    assert exported["export"] == {"format": FORMAT_NAME, "version": FORMAT_VERSION, "case_id": CASE_ID,
                                  "exported_at": "2026-11-29T08:00:00+00:00", "by": "sue",
                                  "sha256": exported["export"]["sha256"]}
    assert exported["case"]["id"] == CASE_ID and exported["case"]["customer"]["name"] == "王芳 <admin>"
    assert exported["case"]["resolution"]["summary"] == "Refunded the loss & apologised"
    assert exported["messages"] == MESSAGES
    assert [{**e, "at": datetime.fromisoformat(e["at"])} for e in exported["events"]] == [
        {**e, "at": datetime.fromisoformat(str(e["at"]))} for e in EVENTS]
    assert exported["handling"] == {"acknowledged_at": "2026-11-03T09:30:00+00:00",
                                    "answered_at": "2026-11-04T10:00:00+00:00", "closed_at": None}


async def test_the_digest_shows_whether_the_content_was_changed(record: AsyncEngine) -> None:
    exported = json.loads(await export_case(record, CASE_ID, "json", by="sue"))
    body = {key: value for key, value in exported.items() if key != "export"}
    assert digest(body) == exported["export"]["sha256"]
    body["messages"][0]["text"] = "something else"
    assert digest(body) != exported["export"]["sha256"]


async def test_the_html_export_shows_everything_and_runs_nothing(record: AsyncEngine) -> None:
    html = (await export_case(record, CASE_ID, "html", by="sue")).decode()
    assert "<script" not in html and "<img" not in html and "<b>" not in html
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in html
    assert "王芳 &lt;admin&gt;" in html and "&lt;b&gt;statement&lt;/b&gt;.pdf" in html
    assert 'href="javascript' not in html  # a stored address is shown as text, never as a link
    assert "Conversation <span class=zh>对话记录</span>" in html and "Audit trail" in html
    texts = [m["text"] for m in MESSAGES]
    positions = [html.find(text.split("\n")[0]) for text in texts if "<" not in text]
    assert -1 not in positions and positions == sorted(positions)  # the conversation in order
    for event in EVENTS:
        assert str(event["detail"]) in html
    assert "margin trading 融资融券" in html and "upheld 成立" in html
    assert "Exported" in html and "by sue" in html


async def test_an_export_leaves_out_the_channels_address_of_the_conversation(record: AsyncEngine) -> None:
    exported = json.loads(await export_case(record, CASE_ID, "json"))
    assert "conversation_id" not in exported["case"] and exported["case"]["channel"] == "webchat"
    body = {key: value for key, value in exported.items() if key != "export"}
    assert digest(body) == exported["export"]["sha256"]  # the digest is of what the file holds
    for fmt in ("json", "html"):
        assert CONVERSATION_ID.partition(":")[2] not in (await export_case(record, CASE_ID, fmt)).decode()


async def test_a_case_not_in_the_record_is_not_found(record: AsyncEngine) -> None:
    with pytest.raises(CaseNotFound):
        await export_case(record, "C-000000-AAAA", "json")


async def test_an_unknown_format_is_refused(record: AsyncEngine) -> None:
    with pytest.raises(ValueError, match="json, html"):
        await export_case(record, CASE_ID, "pdf")  # type: ignore[arg-type]


async def test_a_case_without_history_exports_too_from_a_url(record: AsyncEngine, record_url: str) -> None:
    exported: dict[str, Any] = json.loads(await export_case(record_url, "C-261103-AAAA", "json"))
    assert exported["messages"] == [] and exported["events"] == [] and exported["export"]["by"] == "system"
    html = (await export_case(record_url, "C-261103-AAAA", "html")).decode()
    assert "No messages. 无对话记录。" in html

"""Search over the record, on SQLite and PostgreSQL: each filter, newest first, paging, and refusals."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date, datetime
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from records.search import SearchError, SearchQuery, search
from records.synthetic import generate_cases
from tests.records.record_data import at, case_row, empty_record, insert_cases

GENERATED = 400
MARKED = [
    case_row("C-261031-AAAA", at("2026-10-31T20:00"), language="zh", customer_name="王芳", phone="+8613912345678",
             description="融资融券账户被强制平仓，没有收到追加保证金通知", product="margin_trading",
             channel="voice", risk_grade="high", status="claimed"),
    case_row("C-261101-AAAC", at("2026-11-01T09:00"), customer_name="Amy Ho", email="Amy.Ho@Example.com",
             account_id="880012345", description="The Margin Call never came; I am 100%_sure of it",
             product="margin_trading", channel="email", status="closed"),
    case_row("C-261101-AAAD", at("2026-11-01T10:00"), customer_name="Tom Baker", phone="+447700900987",
             description="Commission charged twice", product="fees_commissions", channel="sms", risk_grade="medium"),
]


@pytest.fixture
async def record(record_url: str) -> AsyncIterator[tuple[AsyncEngine, list[dict[str, Any]]]]:
    """A record of generated cases (before the marked ones) and three marked cases; with the search indexes."""
    engine = await empty_record(record_url, search_indexes=True)
    rows = list(generate_cases(GENERATED, 11, date(2026, 7, 1), date(2026, 10, 1)))
    await insert_cases(engine, [*rows, *MARKED])
    try:
        yield engine, [*rows, *MARKED]
    finally:
        await engine.dispose()


async def ids(engine: AsyncEngine, **filters: Any) -> list[str]:
    return [hit.id for hit in (await search(engine, SearchQuery(page_size=100, **filters))).items]


def newest_first(rows: list[dict[str, Any]]) -> list[str]:
    return [r["id"] for r in sorted(rows, key=lambda r: (r["created_at"], r["id"]), reverse=True)]


def containing(rows: list[dict[str, Any]], *words: str) -> list[str]:
    return newest_first([r for r in rows if all(w in r["search_text"] for w in words)])


async def test_free_text_finds_chinese_and_english_in_any_capitals(record: Any) -> None:
    engine, rows = record
    for text, words, marked in (("强制平仓", ["强制平仓"], "C-261031-AAAA"), ("王芳", ["王芳"], "C-261031-AAAA"),
                                ("MARGIN call", ["margin", "call"], "C-261101-AAAC")):
        found = await ids(engine, text=text)
        assert found == containing(rows, *words) and marked in found, text
    assert len(await ids(engine, text="强制平仓")) > 1  # generated margin complaints say it too


async def test_every_word_must_appear(record: Any) -> None:
    engine, rows = record
    assert await ids(engine, text="margin never") == containing(rows, "margin", "never") == ["C-261101-AAAC"]
    assert await ids(engine, text="平仓 通知 王芳") == ["C-261031-AAAA"]
    assert await ids(engine, text="margin twice") == containing(rows, "margin", "twice") == []


async def test_like_wildcards_in_the_text_are_only_characters(record: Any) -> None:
    engine, _ = record
    assert await ids(engine, text="100%_sure") == ["C-261101-AAAC"]
    assert await ids(engine, text="%") == ["C-261101-AAAC"]
    assert await ids(engine, text="_") == ["C-261101-AAAC"]


async def test_a_phone_number_in_any_format_finds_its_cases(record: Any) -> None:
    engine, _ = record
    for typed in ("13912345678", "139 1234 5678", "+86 139-1234-5678", "0086 13912345678"):
        assert await ids(engine, contact=typed) == ["C-261031-AAAA"], typed
    assert await ids(engine, contact="07700 900987") == ["C-261101-AAAD"]


async def test_an_email_matches_whole_and_in_any_capitals(record: Any) -> None:
    engine, _ = record
    assert await ids(engine, contact="amy.ho@example.COM") == ["C-261101-AAAC"]
    assert await ids(engine, contact="ho@example.com") == []


async def test_account_and_case_id_exact_or_prefix(record: Any) -> None:
    engine, rows = record
    assert await ids(engine, account="880012345") == ["C-261101-AAAC"]
    assert await ids(engine, account="88001234") == []
    assert await ids(engine, case_id="c-261031-aaaa") == ["C-261031-AAAA"]
    assert await ids(engine, case_id="C-261101") == ["C-261101-AAAD", "C-261101-AAAC"]
    july = [r for r in rows if r["id"].startswith("C-2607")]
    assert (await search(engine, SearchQuery(case_id="C-2607", page_size=100))).total == len(july)


async def test_filters_combine_and_match_a_plain_count(record: Any) -> None:
    engine, rows = record
    expected = [r for r in rows if r["product"] == "margin_trading" and r["status"] in ("closed", "claimed")
                and r["risk_grade"] != "low" and r["channel"] in ("voice", "webchat", "email")]
    page = await search(engine, SearchQuery(products=("margin_trading",), statuses=("closed", "claimed"),
                                            risks=("high", "medium"), channels=("voice", "webchat", "email"),
                                            page_size=100))
    assert page.total == len(expected) > 1
    assert [hit.id for hit in page.items] == newest_first(expected)


async def test_the_date_range_counts_days_in_the_given_time_zone(record: Any) -> None:
    engine, _ = record
    # 2026-10-31 20:00 UTC is already 1 November in Shanghai.
    november = {"created_from": date(2026, 11, 1), "created_to": date(2026, 11, 30)}
    assert await ids(engine, **november) == ["C-261101-AAAD", "C-261101-AAAC"]
    assert await ids(engine, **november, zone="Asia/Shanghai") == ["C-261101-AAAD", "C-261101-AAAC",
                                                                    "C-261031-AAAA"]
    assert await ids(engine, created_from=date(2026, 10, 31), created_to=date(2026, 10, 31)) == ["C-261031-AAAA"]
    backwards = {"created_from": date(2026, 11, 30), "created_to": date(2026, 11, 1)}
    assert await ids(engine, **backwards) == await ids(engine, **november)


async def test_pages_show_every_match_once_newest_first(record: Any) -> None:
    engine, rows = record
    seen: list[str] = []
    page_number, total = 1, None
    while True:
        page = await search(engine, SearchQuery(page=page_number, page_size=37))
        total = page.total
        seen += [hit.id for hit in page.items]
        if page_number >= page.pages:
            break
        page_number += 1
    assert total == len(rows) == GENERATED + len(MARKED)
    assert seen == newest_first(rows)
    beyond = await search(engine, SearchQuery(page=page_number + 1, page_size=37))
    assert beyond.items == [] and beyond.total == total


async def test_a_hit_shows_the_case_briefly(record: Any) -> None:
    engine, _ = record
    [hit] = (await search(engine, SearchQuery(case_id="C-261031-AAAA"))).items
    assert hit.to_dict() == {
        "id": "C-261031-AAAA", "created_at": "2026-10-31T20:00:00+00:00", "channel": "voice", "language": "zh",
        "status": "claimed", "priority": "normal", "risk_grade": "high", "product": "margin_trading",
        "customer_name": "王芳", "assignee": None, "outcome": None,
        "description": "融资融券账户被强制平仓，没有收到追加保证金通知"}


async def test_search_runs_in_a_session_of_the_caller(record: Any) -> None:
    engine, _ = record
    async with AsyncSession(engine) as session:
        page = await search(session, SearchQuery(text="commission charged", created_from=date(2026, 10, 1)))
    assert [hit.id for hit in page.items] == ["C-261101-AAAD"]


@pytest.mark.parametrize("filters, complaint", [
    ({"page_size": 101}, "page_size"), ({"page": 0}, "page"), ({"statuses": ("lost",)}, "status"),
    ({"risks": ("extreme",)}, "risk"), ({"products": ("Margin Trading",)}, "product"),
    ({"case_id": "X-1"}, "case_id"), ({"contact": "12"}, "contact"), ({"text": "nul\x00"}, "text"),
    ({"created_to": date.max}, "to"), ({"zone": "Mars/Olympus"}, "time zone"),
])
async def test_a_query_that_cannot_run_is_refused_with_the_reason(filters: dict[str, Any], complaint: str) -> None:
    with pytest.raises(SearchError, match=complaint):
        query = SearchQuery(**filters)
        await search("sqlite+aiosqlite://", query)


def test_the_page_count_rounds_up() -> None:
    from records.search import SearchPage

    assert SearchPage([], 41, 1, 20).pages == 3 and SearchPage([], 0, 1, 20).pages == 0


def test_dates_are_compared_in_utc() -> None:
    from zoneinfo import ZoneInfo

    from records.search import day_start

    assert day_start(date(2026, 11, 1), ZoneInfo("Asia/Shanghai")) == datetime.fromisoformat(
        "2026-10-31T16:00:00+00:00")

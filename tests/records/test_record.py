"""The system of record, on SQLite and on PostgreSQL: write-through, migrations, the columns it keeps."""

from __future__ import annotations

import itertools
import logging
import re
import subprocess
import sys
import warnings
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from redis.asyncio import Redis
from sqlalchemy import Column, Connection, MetaData, Table, func, insert, inspect, select, text

from handoff.cases import PENDING_KEY, Case, CaseStore
from handoff.lifecycle import Role
from handoff.queue import AgentQueue
from records.record import (
    CASES,
    EVENTS,
    MESSAGES,
    MIGRATIONS_DIR,
    CaseRecord,
    as_utc,
    case_columns,
    event_columns,
    migrate,
    record_engine,
)
from records.search import SEARCH_INDEXES
from records.tables import Base, managed_by_models

_numbers = itertools.count()


async def open_case(cases: CaseStore, queue: AgentQueue, *, language: str = "en", product: str = "fund") -> Case:
    number = next(_numbers)
    case = await cases.create(
        channel="webchat", conversation_id=f"webchat:r{number}", language=language,
        customer={"name": f"Ann Lee {number}", "phone": f"+4477009{number:05d}", "email": f"ann{number}@example.org",
                  "account_id": f"AC{number:06d}"},
        complaint={"description": f"Fee charged twice ({number})", "product": product},
        handoff_reason="complete",
        messages=[{"at": datetime.now(UTC).isoformat(), "from": "customer", "channel": "webchat",
                   "text": f"I want to complain about order {number}"},
                  {"at": datetime.now(UTC).isoformat(), "from": "bot", "channel": "webchat", "text": "Sorry to hear"}],
    )
    await queue.enqueue(case["id"])
    await cases.add_message(case["id"], {"at": datetime.now(UTC).isoformat(), "from": "system",
                                         "channel": "webchat", "text": f"case {case['id']} opened"})
    return case


def setter(**fields: Any) -> Any:
    def mutate(case: Case) -> str:
        case.update(fields)
        return ", ".join(f"{name}={value}" for name, value in fields.items())

    return mutate


async def resolve(cases: CaseStore, queue: AgentQueue, case_id: str, agent: str = "ann") -> None:
    await queue.claim(case_id, agent)
    await cases.add_message(case_id, {"at": datetime.now(UTC).isoformat(), "from": "agent", "agent": agent,
                                      "channel": "webchat", "text": "We refund the second fee"})
    await cases.change(case_id, actor=agent, action="resolve", role=Role.AGENT,
                       mutate=setter(status="answered", resolution={"summary": "refund", "outcome": "upheld",
                                                                    "by": agent}))
    await queue.finished(case_id, agent)


async def rate(cases: CaseStore, case_id: str, score: int) -> None:
    after = "reopened" if score <= 2 else "closed"
    extra = {"assignee": None} if after == "reopened" else {}
    await cases.change(case_id, actor="customer", action="satisfaction", role=Role.CUSTOMER,
                       mutate=setter(status=after, satisfaction={"score": score, "at": datetime.now(UTC).isoformat()},
                                     **extra))


async def rows(record: CaseRecord, table: Table) -> int:
    async with record.engine.connect() as connection:
        return int(await connection.scalar(select(func.count()).select_from(table)) or 0)


async def case_row(record: CaseRecord, case_id: str) -> Any:
    async with record.engine.connect() as connection:
        return (await connection.execute(select(CASES).where(CASES.c.id == case_id))).one()


def schema(connection: Connection) -> dict[str, Any]:
    inspector = inspect(connection)
    return {table: ({column["name"] for column in inspector.get_columns(table)}, index_names(connection, table))
            for table in inspector.get_table_names() if table != "alembic_version"}


def index_names(connection: Connection, table: str) -> set[str]:
    if connection.dialect.name == "sqlite":  # SQLAlchemy does not reflect SQLite's expression indexes
        rows = connection.exec_driver_sql(
            "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = ? AND sql IS NOT NULL", (table,))
        return {row[0] for row in rows}
    return {str(index["name"]) for index in inspect(connection).get_indexes(table)}


def differences(connection: Connection) -> list[Any]:
    context = MigrationContext.configure(connection, opts={"include_object": managed_by_models})
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Skipped unsupported reflection of expression-based index")
        return list(compare_metadata(context, Base.metadata))


async def test_migrations_create_the_models_tables_and_running_them_again_changes_nothing(record_url: str) -> None:
    assert await migrate(record_url) == "0006"
    assert await migrate(record_url) == "0006"
    engine = record_engine(record_url)
    try:
        async with engine.connect() as connection:
            found = await connection.run_sync(schema)
            assert await connection.run_sync(differences) == []
            dialect = connection.dialect.name
    finally:
        await engine.dispose()
    expected = {table.name: ({c.name for c in table.columns}, {i.name for i in table.indexes})
                for table in Base.metadata.sorted_tables}
    search_indexes = {re.search(r"INDEX IF NOT EXISTS (\w+)", ddl).group(1)  # type: ignore[union-attr]
                      for ddl in SEARCH_INDEXES[dialect] if "INDEX" in ddl}
    expected["cases"][1].update(search_indexes)
    assert found == expected


def test_the_migrations_keep_their_revisions_in_one_line_of_history() -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    history = [(script.revision, script.down_revision)
               for script in ScriptDirectory.from_config(config).walk_revisions()]
    assert history[::-1] == [("0001", None), ("0002", "0001"), ("0003", "0002"), ("0004", "0003"),
                             ("0005", "0004"), ("0006", "0005")]


def test_the_alembic_command_migrates_a_database_on_its_own(tmp_path: Path) -> None:
    ini = tmp_path / "alembic.ini"
    ini.write_text(f"[alembic]\nscript_location = {MIGRATIONS_DIR}\n", encoding="utf-8")
    url = f"sqlite+aiosqlite:///{tmp_path / 'record.db'}"

    def alembic(*args: str) -> str:
        done = subprocess.run([sys.executable, "-m", "alembic", "-c", str(ini), "-x", f"url={url}", *args],
                              capture_output=True, text=True, timeout=120, check=False)
        assert done.returncode == 0, done.stderr
        return done.stdout

    alembic("upgrade", "head")
    assert alembic("current").split() == ["0006", "(head)"]


@pytest.mark.parametrize("record_url", ["postgresql"], indirect=True)
async def test_free_text_search_on_a_migrated_postgresql_record_can_use_the_trigram_index(record_url: str) -> None:
    await migrate(record_url)
    engine = record_engine(record_url)
    try:
        async with engine.connect() as connection:
            # Too few rows for the planner to choose an index by itself: make it show whether it could.
            await connection.execute(text("SET enable_seqscan = off"))
            plan = (await connection.execute(
                text("EXPLAIN SELECT id FROM cases WHERE search_text LIKE '%佣金被多收%'"))).scalars().all()
    finally:
        await engine.dispose()
    assert any("ix_cases_search_text_trgm" in line for line in plan), plan


async def test_every_change_is_written_through_and_the_record_gives_the_case_back_as_redis_has_it(
    desk: tuple[CaseStore, AgentQueue], record: CaseRecord
) -> None:
    cases, queue = desk
    case = await open_case(cases, queue)
    await resolve(cases, queue, case["id"])
    assert await record.load(case["id"]) == await cases.get(case["id"])
    assert await record.open_case_ids() == [case["id"]] and await record.count() == 1


async def test_saving_the_same_case_again_changes_nothing(
    desk: tuple[CaseStore, AgentQueue], record: CaseRecord
) -> None:
    cases, queue = desk
    case = await cases.get((await open_case(cases, queue))["id"])
    counts = (await rows(record, CASES), await rows(record, MESSAGES), await rows(record, EVENTS))
    assert counts == (1, 3, 1)
    await record.save(case)
    await record.save(case)
    assert (await rows(record, CASES), await rows(record, MESSAGES), await rows(record, EVENTS)) == counts
    assert await record.load(case["id"]) == case


async def test_an_older_copy_of_a_case_does_not_overwrite_a_newer_one(
    desk: tuple[CaseStore, AgentQueue], record: CaseRecord
) -> None:
    cases, queue = desk
    stale = await cases.get((await open_case(cases, queue))["id"])
    await queue.claim(stale["id"], "ann")
    await record.save(stale)  # a slow writer arriving late with what it read before the claim
    assert (await record.load(stale["id"]))["status"] == "claimed"
    assert await record.load(stale["id"]) == await cases.get(stale["id"])


async def test_the_columns_for_search_and_reports_follow_the_case(
    desk: tuple[CaseStore, AgentQueue], record: CaseRecord
) -> None:
    cases, queue = desk
    case = await open_case(cases, queue, language="zh", product="理财产品")
    await resolve(cases, queue, case["id"])
    await rate(cases, case["id"], 4)
    events = {e["action"]: datetime.fromisoformat(e["at"]) for e in (await cases.get(case["id"]))["events"]}
    row = await case_row(record, case["id"])
    assert (row.status, row.product, row.outcome, row.satisfaction) == ("closed", "理财产品", "upheld", 4)
    assert (row.channel, row.language, row.risk_grade, row.priority) == ("webchat", "zh", "low", "normal")
    assert as_utc(row.acknowledged_at) == events["claim"] and as_utc(row.answered_at) == events["resolve"]
    assert as_utc(row.closed_at) == events["satisfaction"]
    assert as_utc(row.created_at) == datetime.fromisoformat(case["created_at"])
    assert as_utc(row.respond_by) == datetime.fromisoformat(case["deadlines"]["respond_by"])
    assert case["customer"]["name"].lower() in row.search_text and case["customer"]["phone"] in row.search_text
    assert "i want to complain about order" in row.search_text and "fee charged twice" in row.search_text
    assert "sorry to hear" not in row.search_text and "we refund" not in row.search_text  # not the customer's words
    assert "messages" not in row.document and row.document["customer"] == case["customer"]


async def test_with_the_database_down_redis_keeps_the_change_and_flush_pending_writes_it_later(
    desk: tuple[CaseStore, AgentQueue], record: CaseRecord, redis: Redis, monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    cases, queue = desk

    async def down(case: Case) -> None:
        raise ConnectionRefusedError(f"cannot reach the database while saving {case['customer']}")

    with monkeypatch.context() as patch:
        patch.setattr(record, "save", down)
        with caplog.at_level(logging.WARNING, logger="handoff.cases"):
            case = await open_case(cases, queue)
            await queue.claim(case["id"], "ann")
        assert await cases.flush_pending() == 1  # still down: it keeps waiting
    assert (await cases.summary(case["id"]))["status"] == "claimed"
    assert await redis.smembers(PENDING_KEY) == {case["id"].encode()}
    assert await record.count() == 0
    logged = caplog.text
    assert case["id"] in logged and "Ann Lee" not in logged and "7700" not in logged and "example.org" not in logged
    assert await cases.flush_pending() == 0
    assert await record.load(case["id"]) == await cases.get(case["id"])
    assert not await redis.exists(PENDING_KEY)


def forged_case(case_id: str, created: datetime, status: str, closed_after: timedelta = timedelta(days=3)) -> Case:
    at = created.isoformat()
    events = [{"at": at, "actor": "bot", "action": "created", "before": None, "after": "queued", "detail": "intake"}]
    if status == "closed":
        closed = (created + closed_after).isoformat()
        events.append({"at": closed, "actor": "sue", "action": "close", "before": "queued", "after": "closed",
                       "detail": "closed by sue"})
    return {
        "id": case_id, "channel": "sms", "conversation_id": f"sms:{case_id}", "language": "en", "status": status,
        "handoff_reason": "complete", "customer": {"name": "Old Customer", "phone": None, "email": None,
                                                   "account_id": None},
        "complaint": {"description": "an old complaint", "product": "fund"}, "deadlines": {},
        "unverified": [], "attachments": [], "assignee": None, "resolution": None, "created_at": at,
        "updated_at": events[-1]["at"], "risk": {"grade": "low", "score": 0, "reasons": [], "rules": []},
        "priority": "normal",
        "messages": [{"at": at, "from": "customer", "channel": "sms", "text": "hello"},
                     {"at": at, "from": "bot", "channel": "sms", "text": "hi"}],
        "events": events,
    }


def answered_by_approval(case_id: str, created: datetime) -> Case:
    """A case whose approved plan paid compensation and whose measures a return visit saw carried out."""
    case = forged_case(case_id, created, "closed")
    plan = {"answer": "We refund the fee", "outcome": "upheld", "measures": "fix the fee table",
            "compensation": {"amount": 88.8, "currency": "CNY"}, "responsible": {"staff": "Tom  Baker",
                                                                                 "action": "training"}}
    approved = (created + timedelta(days=1)).isoformat()
    case["events"].insert(1, {"at": approved, "actor": "sue", "action": "approve", "before": "awaiting_approval",
                              "after": "answered", "detail": "plan approved"})
    case.update(received_at=(created - timedelta(hours=5)).isoformat(), unit="sh-pudong", department="margin-desk",
                nature="attitude", proposal=plan, resolution={"summary": plan["answer"], "outcome": "upheld"},
                return_visits=[{"at": approved, "method": "phone", "reached": True, "score": 5,
                                "measures_verified": True}],
                typical={"reason": "a fee table nobody checked", "by": "sue", "at": approved})
    return case


async def test_the_register_columns_and_the_answer_time_follow_the_case(record: CaseRecord) -> None:
    created = datetime(2026, 11, 2, 9, tzinfo=UTC)
    await record.save(answered_by_approval("C-REGISTER", created))
    row = await case_row(record, "C-REGISTER")
    assert as_utc(row.received_at) == created - timedelta(hours=5)
    assert (row.unit, row.department, row.nature, row.staff_involved) == ("sh-pudong", "margin-desk", "attitude",
                                                                          "Tom Baker")
    assert (row.measures_verified, row.compensation_amount, row.compensation_currency) == (True, Decimal("88.80"),
                                                                                          "CNY")
    assert row.typical is True and row.satisfaction == 5
    assert as_utc(row.answered_at) == created + timedelta(days=1)  # the approval sent the answer


async def test_upgrading_a_record_fills_the_new_columns_of_the_cases_it_holds(record_url: str) -> None:
    engine = record_engine(record_url)
    created = datetime(2026, 11, 2, 9, tzinfo=UTC)
    case = answered_by_approval("C-OLDCASE", created)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(upgrade_to, "0005")
            old = Table("cases", MetaData(), *[Column(c.name, c.type) for c in CASES.columns
                                               if c.name in OLD_CASE_COLUMNS])
            row = {k: v for k, v in case_columns(case).items() if k in OLD_CASE_COLUMNS}
            await connection.execute(insert(old).values({**row, "answered_at": None}))
            events = Table("case_events", MetaData(), *[Column(c.name, c.type) for c in EVENTS.columns])
            await connection.execute(insert(events), [{**event_columns(e), "case_id": "C-OLDCASE", "seq": seq}
                                                      for seq, e in enumerate(case["events"])])
    finally:
        await engine.dispose()
    assert await migrate(record_url) == "0006"
    async with CaseRecord(record_url) as opened:
        row = await case_row(opened, "C-OLDCASE")
    assert (row.unit, row.nature, row.compensation_amount, row.measures_verified, row.typical) == (
        "sh-pudong", "attitude", Decimal("88.80"), True, True)
    assert as_utc(row.received_at) == created - timedelta(hours=5)
    assert as_utc(row.answered_at) == created + timedelta(days=1)


OLD_CASE_COLUMNS = frozenset({
    "id", "channel", "language", "status", "priority", "risk_grade", "risk_score", "product", "handoff_reason",
    "customer_name", "phone", "email", "account_id", "assignee", "outcome", "satisfaction", "created_at",
    "updated_at", "acknowledge_by", "respond_by", "acknowledged_at", "answered_at", "closed_at", "search_text",
    "document"})


def upgrade_to(connection: Connection, revision: str) -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = connection
    command.upgrade(config, revision)

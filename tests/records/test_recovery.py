"""Recovery: Redis rebuilt from the record after it was lost, and the retention purge of both, by their
functions and by the ``rebuild-queue`` and ``purge`` commands."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime
from functools import partial

import pytest
from redis.asyncio import Redis
from sqlalchemy import select

from gateway.router import link_open_case
from gateway.settings import Settings
from handoff.cases import CaseNotFound, CaseStore
from handoff.queue import CLAIMS_KEY, AgentQueue
from records.record import EVENTS, MESSAGES, PURGES, CaseRecord, as_utc
from records.recovery import purge_expired, rebuild_working_state, years_before
from tests.conftest import UNIT_DB, with_db
from tests.records.test_record import forged_case, open_case, rate, resolve, rows


async def test_after_redis_is_wiped_rebuild_restores_the_queue_the_claims_and_every_case(
    desk: tuple[CaseStore, AgentQueue], record: CaseRecord, redis: Redis
) -> None:
    cases, queue = desk
    states: dict[str, list[str]] = {state: [] for state in ("queued", "claimed", "answered", "closed", "reopened")}
    for number in range(50):
        state = list(states)[number % 5]
        language, product = ("zh", "en")[number % 2], ("fund", "bond")[number % 3 % 2]
        case = await open_case(cases, queue, language=language, product=product)
        states[state].append(case["id"])
        if state == "queued" and number % 2:
            await queue.claim(case["id"], "bob")
            await queue.release(case["id"], "bob")
        elif state == "claimed":
            await queue.claim(case["id"], ("ann", "bob")[number % 2])
        elif state != "queued":
            await resolve(cases, queue, case["id"])
        if state == "closed":
            await rate(cases, case["id"], 5)
        elif state == "reopened":
            await rate(cases, case["id"], 1)
            await queue.enqueue(case["id"])
    waiting = {*states["queued"], *states["reopened"]}
    queue_before = await queue.waiting()
    assert {entry["id"] for entry in queue_before} == waiting
    before = {case_id: await cases.get(case_id) for ids in states.values() for case_id in ids}
    in_record = {case_id: await record.load(case_id) for case_id in before}
    assert in_record == before

    # FLUSHDB, not FLUSHALL: the same server holds the end-to-end tests' databases.
    await redis.flushdb()
    assert await redis.dbsize() == 0
    counts = await rebuild_working_state(record, cases, queue, partial(link_open_case, redis))
    assert counts == {"cases": 50, "restored": 50, "requeued": 20, "claims": 10, "conversations": 40}

    assert {case_id: await cases.get(case_id) for case_id in before} == before
    assert {case_id: await record.load(case_id) for case_id in before} == in_record
    assert await record.count() == 50
    oldest_first = sorted(before, key=lambda case_id: (before[case_id]["created_at"], case_id))
    assert [case["id"] async for case in record.all_cases(batch=7)] == oldest_first
    lanes = {(e["id"], e["priority"], e["language"]) for e in queue_before}
    assert {(e["id"], e["priority"], e["language"]) for e in await queue.waiting()} == lanes
    for case_id in (*states["queued"], *states["claimed"], *states["answered"], *states["reopened"]):
        conversation = before[case_id]["conversation_id"]
        assert await redis.hget(f"cg:conv:{{{conversation}}}:state", "case_id") == case_id.encode()
    assert {raw.decode() for raw in await redis.zrange(CLAIMS_KEY, 0, -1)} == set(states["claimed"])

    again = await rebuild_working_state(record, cases, queue, partial(link_open_case, redis))
    assert again == {"cases": 50, "restored": 0, "requeued": 0, "claims": 0, "conversations": 0}
    handed_out = []
    while (case := await queue.next("carol")) is not None:
        handed_out.append(case["id"])
    assert sorted(handed_out) == sorted(waiting)
    # The restored claims are watched like carol's new ones: with no heartbeat they go back to the queue.
    gone = AgentQueue(redis, cases, claim_timeout=0)
    assert sorted(await gone.reclaim_abandoned()) == sorted([*states["claimed"], *handed_out])


async def test_purge_removes_exactly_the_closed_cases_past_retention_and_records_that_it_did(
    record: CaseRecord, redis: Redis
) -> None:
    cases = CaseStore(redis, record=record)
    now = datetime.now(UTC)
    ages = {"C-OLD-CLOSED-1": (6, "closed"), "C-OLD-CLOSED-2": (6, "closed"), "C-OLD-OPEN": (6, "answered"),
            "C-4Y-CLOSED": (4, "closed"), "C-NEW-CLOSED": (0, "closed")}
    for case_id, (years, status) in ages.items():
        case = forged_case(case_id, years_before(now, years), status)
        await record.save(case)
        await cases.restore(case)
    # Opened six years ago, closed four years ago: kept, retention counts from the closing.
    long_case = forged_case("C-6Y-OPENED-4Y-CLOSED", years_before(now, 6), "closed",
                            closed_after=years_before(now, 4) - years_before(now, 6))
    await record.save(long_case)
    await cases.restore(long_case)
    cutoff = years_before(now, 5)

    planned = await purge_expired(record, cases, before=cutoff, by="auditor", dry_run=True)
    assert planned.case_ids == ("C-OLD-CLOSED-1", "C-OLD-CLOSED-2") and planned.dry_run
    assert (planned.cases, planned.messages, planned.events) == (2, 4, 4)
    assert await record.count() == 6 and await rows(record, PURGES) == 0

    done = await purge_expired(record, cases, before=cutoff, by="auditor")
    assert (done.case_ids, done.cases, done.messages, done.events) == (planned.case_ids, 2, 4, 4)
    assert sorted(await record.open_case_ids()) == ["C-OLD-OPEN"]
    assert await record.count() == 4 and await rows(record, MESSAGES) == 8 and await rows(record, EVENTS) == 7
    assert (await record.load("C-6Y-OPENED-4Y-CLOSED"))["status"] == "closed"
    for case_id in done.case_ids:
        with pytest.raises(CaseNotFound):
            await record.load(case_id)
        with pytest.raises(CaseNotFound):
            await cases.summary(case_id)
    assert (await cases.summary("C-OLD-OPEN"))["status"] == "answered"
    async with record.engine.connect() as connection:
        purge = (await connection.execute(select(PURGES))).one()
    assert (purge.by, purge.cases, purge.messages, purge.events) == ("auditor", 2, 4, 4)
    assert purge.case_ids == {"ids": ["C-OLD-CLOSED-1", "C-OLD-CLOSED-2"]}
    assert as_utc(purge.cutoff) == cutoff and now <= as_utc(purge.at) <= datetime.now(UTC)


def test_years_before_keeps_the_day_and_falls_back_to_28_february() -> None:
    assert years_before(datetime(2026, 5, 1, 9, tzinfo=UTC), 5) == datetime(2021, 5, 1, 9, tzinfo=UTC)
    assert years_before(datetime(2028, 2, 29, tzinfo=UTC), 5) == datetime(2023, 2, 28, tzinfo=UTC)


async def test_the_record_commands_migrate_rebuild_and_purge(
    record_url: str, redis: Redis, redis_server: str, settings: Settings
) -> None:
    env = {**os.environ, "DATABASE_URL": record_url, "REDIS_URL": with_db(redis_server, UNIT_DB),
           "DATA_DIR": str(settings.data_dir), "LOG_LEVEL": "WARNING"}

    def run(*args: str) -> str:
        done = subprocess.run([sys.executable, "-m", "gateway.cli", *args], env=env, capture_output=True, text=True,
                              timeout=120, check=False)
        assert done.returncode == 0, done.stderr
        return done.stdout

    assert "is at revision 0006" in run("migrate")
    async with CaseRecord(record_url) as record:
        await record.save(forged_case("C-ANCIENT", years_before(datetime.now(UTC), 7), "closed"))
        await record.save(forged_case("C-WAITING", datetime.now(UTC), "queued"))
    assert run("rebuild-queue").startswith("2 cases in the record: 2 restored to Redis, 1 put back in the queue")
    assert "would purge 1 closed cases" in run("purge", "--dry-run")
    report = run("purge", "--older-than-years", "6", "--by", "auditor")
    assert "purged 1 closed cases" in report and "recorded as done by auditor" in report and "C-ANCIENT" in report
    assert await redis.exists("cg:case:{C-WAITING}") and not await redis.exists("cg:case:{C-ANCIENT}")

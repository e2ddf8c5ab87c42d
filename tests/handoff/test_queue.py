"""The agent queue's guarantees, each shown on a real Redis."""

from __future__ import annotations

import asyncio
import time

import pytest
from redis.asyncio import Redis

from handoff.cases import Case, CaseConflict, CaseStore
from handoff.queue import CLAIMS_KEY, AgentQueue


async def new_case(cases: CaseStore, queue: AgentQueue, description: str = "fee charged twice") -> Case:
    case = await cases.create(channel="webchat", conversation_id="webchat:s1", language="en",
                              customer={"name": "Ann", "phone": "+447700900123"},
                              complaint={"description": description}, handoff_reason="complete")
    await queue.enqueue(case["id"])
    return case


@pytest.fixture
async def desk(redis: Redis) -> tuple[CaseStore, AgentQueue]:
    cases = CaseStore(redis)
    queue = AgentQueue(redis, cases, claim_timeout=60, delivery_timeout=0.2)
    await queue.ensure_group()
    return cases, queue


async def test_next_hands_out_cases_oldest_first_and_then_nothing(desk: tuple[CaseStore, AgentQueue]) -> None:
    cases, queue = desk
    first, second = await new_case(cases, queue), await new_case(cases, queue)
    assert (await queue.next("ann"))["id"] == first["id"]
    assert (await queue.next("bob"))["id"] == second["id"]
    assert await queue.next("ann") is None


async def test_two_agents_racing_for_one_case_give_it_one_owner(desk: tuple[CaseStore, AgentQueue]) -> None:
    cases, queue = desk
    case = await new_case(cases, queue)
    results = await asyncio.gather(*(queue.claim(case["id"], f"agent{i}") for i in range(8)),
                                   return_exceptions=True)
    winners = [r for r in results if not isinstance(r, BaseException)]
    assert len(winners) == 1
    assert all(isinstance(r, CaseConflict) for r in results if isinstance(r, BaseException))
    assert (await cases.get(case["id"]))["assignee"] == winners[0]["assignee"]
    # The stream entry of a case claimed directly is skipped, not handed out again.
    assert await queue.next("latecomer") is None


async def test_an_entry_delivered_to_an_agent_who_vanished_comes_back(
    desk: tuple[CaseStore, AgentQueue], redis: Redis
) -> None:
    cases, queue = desk
    case = await new_case(cases, queue)
    # An agent's gateway read the entry and died before claiming it.
    await redis.xreadgroup("agents", "ghost", {"cg:queue": ">"}, count=1)
    await asyncio.sleep(0.3)
    assert (await queue.next("ann"))["id"] == case["id"]


async def test_a_claim_without_heartbeat_returns_to_the_queue_with_an_audit_event(
    desk: tuple[CaseStore, AgentQueue], redis: Redis
) -> None:
    cases, queue = desk
    case = await new_case(cases, queue)
    await queue.next("ann")
    await redis.zadd(CLAIMS_KEY, {case["id"]: time.time() - 61})  # ann has been silent past the timeout
    assert await queue.reclaim_abandoned() == [case["id"]]
    back = await cases.get(case["id"])
    assert back["status"] == "queued" and back["assignee"] is None
    assert back["events"][-1]["action"] == "reclaim" and back["events"][-1]["actor"] == "system"
    assert (await queue.next("bob"))["id"] == case["id"]


async def test_heartbeats_keep_a_claim(desk: tuple[CaseStore, AgentQueue], redis: Redis) -> None:
    cases, queue = desk
    case = await new_case(cases, queue)
    await queue.next("ann")
    await redis.zadd(CLAIMS_KEY, {case["id"]: time.time() - 61})
    await queue.heartbeat("ann")
    assert await queue.reclaim_abandoned() == []


async def test_only_the_assignee_or_a_supervisor_releases(desk: tuple[CaseStore, AgentQueue]) -> None:
    cases, queue = desk
    case = await new_case(cases, queue)
    await queue.next("ann")
    with pytest.raises(CaseConflict):
        await queue.release(case["id"], "bob")
    released = await queue.release(case["id"], "sue", supervisor=True)
    assert released["status"] == "queued"
    assert (await queue.next("bob"))["id"] == case["id"]

"""The agent queue's guarantees, each shown on a real Redis."""

from __future__ import annotations

import asyncio
import itertools
import time

import pytest
from redis.asyncio import Redis

from handoff.cases import Case, CaseConflict, CaseStore
from handoff.lifecycle import Role
from handoff.queue import CLAIMS_KEY, GROUP, LEGACY_STREAM_KEY, AgentQueue, stream_key

_conversations = itertools.count()


async def new_case(
    cases: CaseStore,
    queue: AgentQueue,
    description: str = "fee charged twice",
    *,
    language: str = "en",
    priority: str | None = None,
    product: str | None = None,
) -> Case:
    number = next(_conversations)
    # A different customer each time: a repeat complainant would raise the risk, and with it the lane.
    case = await cases.create(channel="webchat", conversation_id=f"webchat:s{number}",
                              language=language, customer={"name": "Ann", "phone": f"+4477009{number:05d}"},
                              complaint={"description": description, "product": product}, handoff_reason="complete")
    if priority is not None:
        def triage(record: Case) -> str:
            record["priority"] = priority
            return f"priority set to {priority}"

        case = await cases.change(case["id"], actor="test", action="triage",
                                  mutate=triage)
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


async def test_the_risk_grade_picks_the_lane(desk: tuple[CaseStore, AgentQueue]) -> None:
    cases, queue = desk
    calm = await new_case(cases, queue)
    threat = await new_case(cases, queue, "I will report you to the SEC, my account was hacked")
    assert threat["priority"] == "urgent"
    assert [entry["id"] for entry in await queue.waiting()] == [threat["id"], calm["id"]]
    assert (await queue.next("ann"))["id"] == threat["id"]


async def test_urgent_before_high_before_normal_before_low_and_oldest_first_within_a_lane(
    desk: tuple[CaseStore, AgentQueue]
) -> None:
    cases, queue = desk
    arrivals = ["low", "normal", "high", "urgent", "normal", "low", "urgent", "high"]
    made = [await new_case(cases, queue, language=("zh", "en")[i % 2], priority=p) for i, p in enumerate(arrivals)]
    expected = [c["id"] for lane in ("urgent", "high", "normal", "low") for c in made if c["priority"] == lane]
    handed = [(await queue.next(f"agent{i}"))["id"] for i in range(len(made))]
    assert handed == expected
    assert await queue.next("agent0") is None


async def test_agents_calling_next_together_each_get_different_cases_and_every_case_once(
    desk: tuple[CaseStore, AgentQueue]
) -> None:
    cases, queue = desk
    made = [await new_case(cases, queue, language=("zh", "en")[i % 2], priority=("urgent", "normal", "low")[i % 3])
            for i in range(30)]
    results = await asyncio.gather(*(queue.next(f"agent{i % 5}") for i in range(60)))
    handed = [case for case in results if case is not None]
    assert sorted(c["id"] for c in handed) == sorted(c["id"] for c in made)
    for case in handed:
        assert (await cases.get(case["id"]))["assignee"] == case["assignee"]
        assert [e["action"] for e in (await cases.get(case["id"]))["events"]].count("claim") == 1
    assert await queue.waiting() == []


async def test_two_agents_racing_for_one_case_give_it_one_owner(desk: tuple[CaseStore, AgentQueue]) -> None:
    cases, queue = desk
    case = await new_case(cases, queue)
    results = await asyncio.gather(*(queue.claim(case["id"], f"agent{i}") for i in range(8)),
                                   return_exceptions=True)
    winners = [r for r in results if not isinstance(r, BaseException)]
    assert len(winners) == 1
    assert all(isinstance(r, CaseConflict) for r in results if isinstance(r, BaseException))
    assert (await cases.get(case["id"]))["assignee"] == winners[0]["assignee"]
    # The stream entry of a case claimed directly leaves the queue, and is not handed out again.
    assert await queue.waiting() == []
    assert await queue.next("latecomer") is None


async def test_an_entry_delivered_to_an_agent_who_vanished_comes_back(
    desk: tuple[CaseStore, AgentQueue], redis: Redis
) -> None:
    cases, queue = desk
    case = await new_case(cases, queue)
    # An agent's gateway read the entry and died before claiming it.
    await redis.xreadgroup(GROUP, "ghost", {stream_key("normal", "en"): ">"}, count=1)
    assert await queue.next("ann") is None  # still within the delivery timeout
    await asyncio.sleep(0.3)
    assert (await queue.next("ann"))["id"] == case["id"]


async def test_a_stale_delivery_comes_back_before_fresh_entries_of_its_lane(
    desk: tuple[CaseStore, AgentQueue], redis: Redis
) -> None:
    cases, queue = desk
    lost = await new_case(cases, queue)
    await redis.xreadgroup(GROUP, "ghost", {stream_key("normal", "en"): ">"}, count=1)
    await asyncio.sleep(0.3)
    await new_case(cases, queue)
    assert (await queue.next("ann"))["id"] == lost["id"]


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


async def test_an_agent_who_claimed_and_died_loses_the_case_to_the_next_agent(redis: Redis) -> None:
    cases = CaseStore(redis)
    queue = AgentQueue(redis, cases, claim_timeout=0.3, delivery_timeout=60)
    await queue.ensure_group()
    case = await new_case(cases, queue, priority="high")
    await new_case(cases, queue, priority="low")
    assert (await queue.next("ann"))["id"] == case["id"]
    await asyncio.sleep(0.5)  # ann sends nothing more
    taken = await queue.next("bob")
    assert taken is not None and taken["id"] == case["id"] and taken["assignee"] == "bob"
    events = [(e["actor"], e["action"], e["after"]) for e in (await cases.get(case["id"]))["events"]]
    assert events[-3:] == [("ann", "claim", "claimed"), ("system", "reclaim", "queued"), ("bob", "claim", "claimed")]


async def test_heartbeats_keep_a_claim(desk: tuple[CaseStore, AgentQueue], redis: Redis) -> None:
    cases, queue = desk
    case = await new_case(cases, queue)
    await queue.next("ann")
    await redis.zadd(CLAIMS_KEY, {case["id"]: time.time() - 61})
    await queue.heartbeat("ann")
    assert await queue.reclaim_abandoned() == []


async def test_a_finished_case_is_not_reclaimed(desk: tuple[CaseStore, AgentQueue], redis: Redis) -> None:
    cases, queue = desk
    case = await new_case(cases, queue)
    await queue.next("ann")

    def close(record: Case) -> str:
        record["status"] = "closed"
        return "closed by ann"

    await cases.change(case["id"], actor="ann", action="close", mutate=close, role=Role.AGENT)
    await redis.zadd(CLAIMS_KEY, {case["id"]: time.time() - 61})  # finished() never came
    assert await queue.reclaim_abandoned() == []
    assert (await cases.get(case["id"]))["status"] == "closed"
    assert await redis.zscore(CLAIMS_KEY, case["id"]) is None


async def test_the_queue_says_whether_a_case_waits_in_a_lane_and_whether_its_claim_is_watched(
    desk: tuple[CaseStore, AgentQueue]
) -> None:
    cases, queue = desk
    case = await new_case(cases, queue)
    assert await queue.is_waiting(case["id"]) and not await queue.is_watched(case["id"])
    await queue.next("ann")
    assert not await queue.is_waiting(case["id"]) and await queue.is_watched(case["id"])
    await queue.finished(case["id"], "ann")
    assert not await queue.is_waiting(case["id"]) and not await queue.is_watched(case["id"])
    await queue.watch_claim(case["id"], "ann")
    assert await queue.is_watched(case["id"])


async def test_only_the_assignee_or_a_supervisor_releases(desk: tuple[CaseStore, AgentQueue]) -> None:
    cases, queue = desk
    case = await new_case(cases, queue)
    await queue.next("ann")
    with pytest.raises(CaseConflict):
        await queue.release(case["id"], "bob")
    released = await queue.release(case["id"], "sue", supervisor=True)
    assert released["status"] == "queued"
    assert (await queue.next("bob"))["id"] == case["id"]


async def test_a_chinese_case_never_goes_to_an_english_only_agent(desk: tuple[CaseStore, AgentQueue]) -> None:
    cases, queue = desk
    chinese = await new_case(cases, queue, "我的账户被盗了，我要去证监会投诉", language="zh")
    english = await new_case(cases, queue, language="en")
    assert chinese["priority"] == "urgent"
    assert (await queue.next("ann", languages=("en",)))["id"] == english["id"]
    assert await queue.next("ann", languages=("en",)) is None
    assert [entry["id"] for entry in await queue.waiting(languages=("zh",))] == [chinese["id"]]
    assert (await queue.next("li", languages=("zh",)))["id"] == chinese["id"]


async def test_a_case_in_another_language_waits_on_the_english_desk(desk: tuple[CaseStore, AgentQueue]) -> None:
    cases, queue = desk
    case = await new_case(cases, queue, "frais prélevés deux fois", language="fr")
    assert await queue.next("li", languages=("zh",)) is None
    assert (await queue.next("ann", languages=("en",)))["id"] == case["id"]


async def test_a_desk_that_does_not_exist_is_refused(desk: tuple[CaseStore, AgentQueue]) -> None:
    _, queue = desk
    with pytest.raises(ValueError, match="no desk for fr"):
        await queue.next("ann", languages=("fr",))


async def test_a_supervisor_reassigns_a_claimed_case(desk: tuple[CaseStore, AgentQueue], redis: Redis) -> None:
    cases, queue = desk
    case = await new_case(cases, queue)
    await queue.next("ann")
    moved = await queue.reassign(case["id"], "bob", "sue")
    assert moved["status"] == "claimed" and moved["assignee"] == "bob"
    event = (await cases.get(case["id"]))["events"][-1]
    assert (event["actor"], event["action"]) == ("sue", "reassign")
    assert "ann" in event["detail"] and "bob" in event["detail"]
    # ann's requests no longer keep the claim alive: bob's silence is what counts now.
    await redis.zadd(CLAIMS_KEY, {case["id"]: time.time() - 61})
    await queue.heartbeat("ann")
    assert await queue.reclaim_abandoned() == [case["id"]]
    assert "bob" in (await cases.get(case["id"]))["events"][-1]["detail"]


async def test_bob_holds_a_reassigned_case_with_his_heartbeat(
    desk: tuple[CaseStore, AgentQueue], redis: Redis
) -> None:
    cases, queue = desk
    case = await new_case(cases, queue)
    await queue.next("ann")
    await queue.reassign(case["id"], "bob", "sue")
    await redis.zadd(CLAIMS_KEY, {case["id"]: time.time() - 61})
    await queue.heartbeat("bob")
    assert await queue.reclaim_abandoned() == []
    with pytest.raises(CaseConflict):
        await queue.release(case["id"], "ann")


async def test_a_supervisor_assigns_a_waiting_case_which_leaves_the_queue(desk: tuple[CaseStore, AgentQueue]) -> None:
    cases, queue = desk
    case = await new_case(cases, queue)
    moved = await queue.reassign(case["id"], "bob", "sue")
    assert moved["assignee"] == "bob"
    assert "the queue" in (await cases.get(case["id"]))["events"][-1]["detail"]
    assert await queue.waiting() == []
    assert await queue.next("ann") is None


async def test_reassigning_to_the_current_assignee_is_refused(desk: tuple[CaseStore, AgentQueue]) -> None:
    cases, queue = desk
    case = await new_case(cases, queue)
    await queue.next("ann")
    with pytest.raises(CaseConflict):
        await queue.reassign(case["id"], "ann", "sue")


async def test_the_waiting_view_lists_cases_as_next_would_hand_them_out(desk: tuple[CaseStore, AgentQueue]) -> None:
    cases, queue = desk
    low = await new_case(cases, queue, priority="low", product="fund")
    old = await new_case(cases, queue, language="zh", product="stocks")
    urgent = await new_case(cases, queue, priority="urgent", product="stocks")
    young = await new_case(cases, queue, product="fund")
    view = await queue.waiting()
    assert [(e["id"], e["priority"], e["position"]) for e in view] == [
        (urgent["id"], "urgent", 1), (old["id"], "normal", 1), (young["id"], "normal", 2), (low["id"], "low", 1),
    ]
    assert view[1]["language"] == "zh" and view[1]["product"] == "stocks" and view[1]["queued_at"]
    assert [e["id"] for e in await queue.waiting(languages=("en",))] == [urgent["id"], young["id"], low["id"]]
    assert [e["id"] for e in await queue.waiting(products=("fund",))] == [young["id"], low["id"]]
    handed = [(await queue.next(f"agent{i}"))["id"] for i in range(4)]
    assert handed == [e["id"] for e in view]


async def test_enqueueing_again_after_triage_moves_the_case_to_its_new_lane(
    desk: tuple[CaseStore, AgentQueue]
) -> None:
    cases, queue = desk
    first = await new_case(cases, queue)
    case = await new_case(cases, queue)

    def escalate(record: Case) -> str:
        record["priority"] = "urgent"
        return "escalated"

    await cases.change(case["id"], actor="sue", action="triage", mutate=escalate, role=Role.SUPERVISOR)
    await queue.enqueue(case["id"])
    view = await queue.waiting()
    assert [(e["id"], e["priority"]) for e in view] == [(case["id"], "urgent"), (first["id"], "normal")]
    assert [(await queue.next(a))["id"] for a in ("ann", "bob")] == [case["id"], first["id"]]
    assert await queue.next("cid") is None


async def test_cases_waiting_in_the_old_single_stream_move_into_the_lanes(redis: Redis) -> None:
    cases = CaseStore(redis)
    queue = AgentQueue(redis, cases)
    waiting = await cases.create(channel="webchat", conversation_id="webchat:old", language="zh", customer={},
                                 complaint={"description": "我的账户被盗了"}, handoff_reason="complete")
    await redis.xadd(LEGACY_STREAM_KEY, {"case_id": waiting["id"]})
    await redis.xadd(LEGACY_STREAM_KEY, {"case_id": "gone"})
    await queue.ensure_group()
    assert not await redis.exists(LEGACY_STREAM_KEY)
    assert [(e["id"], e["priority"], e["language"]) for e in await queue.waiting()] == [(waiting["id"], "urgent", "zh")]

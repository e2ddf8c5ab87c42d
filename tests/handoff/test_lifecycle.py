"""The one transitions table: every (action, status, role) it allows goes through ``CaseStore.change`` and every
one it refuses is refused there, changing nothing."""

from __future__ import annotations

import itertools
import json

import pytest
from redis.asyncio import Redis

from handoff.cases import CaseConflict, CaseForbidden, CaseStore
from handoff.lifecycle import TRANSITIONS, Role, Status

CASES = list(itertools.product(sorted(TRANSITIONS), list(Status), list(Role)))


async def case_in(cases: CaseStore, redis: Redis, status: Status) -> str:
    case = await cases.create(channel="webchat", conversation_id="webchat:s", language="en",
                              customer={"name": "Ann"}, complaint={"description": "a fee charged twice"},
                              handoff_reason="complete")
    stored = json.loads(await redis.get(f"cg:case:{{{case['id']}}}"))
    stored["status"] = str(status)
    await redis.set(f"cg:case:{{{case['id']}}}", json.dumps(stored))
    return str(case["id"])


@pytest.mark.parametrize(("action", "status", "role"), CASES, ids=[f"{a}-{s}-{r}" for a, s, r in CASES])
async def test_every_transition_is_allowed_or_refused_as_the_table_says(redis: Redis, action: str, status: Status,
                                                                        role: Role) -> None:
    cases = CaseStore(redis)
    case_id = await case_in(cases, redis, status)
    transition = TRANSITIONS[action]
    target = sorted(transition.targets)[0] if transition.targets else status

    def move(case: dict[str, object]) -> str:
        case["status"] = str(target)
        return "walked"

    before = await cases.get(case_id)
    if transition.allows(status, role):
        after = await cases.change(case_id, actor="walker", action=action, mutate=move, role=role)
        assert after["status"] == target
        assert (await cases.get(case_id))["events"][-1]["action"] == action
        return
    refusal = CaseForbidden if role not in transition.roles else CaseConflict
    with pytest.raises(refusal):
        await cases.change(case_id, actor="walker", action=action, mutate=move, role=role)
    assert await cases.get(case_id) == before, "a refused change changes nothing"


async def test_a_change_outside_the_table_or_to_a_status_it_does_not_lead_to_is_refused(redis: Redis) -> None:
    cases = CaseStore(redis)
    case_id = await case_in(cases, redis, Status.QUEUED)
    before = await cases.get(case_id)
    with pytest.raises(Exception, match="no such change"):
        await cases.change(case_id, actor="x", action="teleport", mutate=lambda c: "", role=Role.ADMIN)

    def to_closed(case: dict[str, object]) -> str:
        case["status"] = "closed"
        return "skipping ahead"

    with pytest.raises(Exception, match="cannot leave a case closed"):
        await cases.change(case_id, actor="ann", action="claim", mutate=to_closed, role=Role.AGENT)
    assert await cases.get(case_id) == before

"""The agent queue: queued cases handed to complaint handlers, most urgent first within a lane.

A Redis stream (``cg:queue``) with one consumer group (``agents``) carries the queued cases; the case
record (handoff.cases) is the single source of truth for who owns a case.

Guarantees:
- at-least-once delivery: a queued case stays in the stream until an agent has claimed it, and an entry
  delivered to an agent who died before claiming comes back after ``delivery_timeout`` (XAUTOCLAIM);
- exactly one owner at a time: claiming is a checked transition on the case (queued/reopened → claimed),
  so two agents racing for one case cannot both win; a stale stream entry for a case that is no longer
  queued is acknowledged and skipped;
- an abandoned claim comes back: an agent's requests are heartbeats for their claims, and a claim without
  a heartbeat for ``claim_timeout`` seconds is returned to the queue with an audit event.
"""

from __future__ import annotations

import time

from redis.asyncio import Redis
from redis.exceptions import ResponseError

from handoff.cases import Case, CaseConflict, CaseNotFound, CaseStore

STREAM_KEY = "cg:queue"
GROUP = "agents"
CLAIMS_KEY = "cg:claims"
CLAIMABLE = ("queued", "reopened")


def _agent_claims_key(agent: str) -> str:
    return f"cg:agent-claims:{agent}"


class AgentQueue:
    def __init__(
        self, redis: Redis, cases: CaseStore, claim_timeout: float = 900.0, delivery_timeout: float = 60.0
    ) -> None:
        self._redis = redis
        self._cases = cases
        self._claim_timeout = claim_timeout
        self._delivery_timeout_ms = int(delivery_timeout * 1000)

    async def ensure_group(self) -> None:
        try:
            await self._redis.xgroup_create(STREAM_KEY, GROUP, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    async def enqueue(self, case_id: str) -> None:
        await self._redis.xadd(STREAM_KEY, {"case_id": case_id})

    async def next(self, agent: str) -> Case | None:
        """Claim the oldest queued case for ``agent``; None when nobody is waiting."""
        await self.reclaim_abandoned()
        while True:
            entry = await self._next_entry(agent)
            if entry is None:
                return None
            entry_id, case_id = entry
            try:
                case = await self.claim(case_id, agent)
            except (CaseConflict, CaseNotFound):
                case = None
            await self._redis.xack(STREAM_KEY, GROUP, entry_id)
            if case is not None:
                return case

    async def _next_entry(self, agent: str) -> tuple[bytes, str] | None:
        # Redis 6.2 answers [cursor, entries], 7.0 adds a list of deleted ids.
        stale = (await self._redis.xautoclaim(
            STREAM_KEY, GROUP, agent, min_idle_time=self._delivery_timeout_ms, count=1
        ))[1]
        if stale:
            entry_id, fields = stale[0]
            return entry_id, fields[b"case_id"].decode()
        fresh = await self._redis.xreadgroup(GROUP, agent, {STREAM_KEY: ">"}, count=1)
        if not fresh or not fresh[0][1]:
            return None
        entry_id, fields = fresh[0][1][0]
        return entry_id, fields[b"case_id"].decode()

    async def claim(self, case_id: str, agent: str) -> Case:
        def take(case: Case) -> str:
            case["status"] = "claimed"
            case["assignee"] = agent
            return f"claimed by {agent}"

        case = await self._cases.change(case_id, actor=agent, action="claim", allowed_from=CLAIMABLE, mutate=take)
        await self._hold(case_id, agent)
        return case

    async def release(self, case_id: str, actor: str, *, supervisor: bool = False) -> Case:
        """Give a claimed case back to the queue; only its assignee (or a supervisor) may."""
        holder: list[str] = []

        def give_back(case: Case) -> str:
            if case["assignee"] != actor and not supervisor:
                raise CaseConflict(f"case {case_id} is claimed by {case['assignee']}, not {actor}")
            holder.append(case["assignee"])
            case["status"] = "queued"
            case["assignee"] = None
            return f"released by {actor} (was {holder[0]})"

        case = await self._cases.change(case_id, actor=actor, action="release", allowed_from=("claimed",),
                                        mutate=give_back)
        await self._let_go(case_id, holder[0])
        await self.enqueue(case_id)
        return case

    async def finished(self, case_id: str, agent: str) -> None:
        """The case left the claimed state for good (answered or closed): stop watching its claim."""
        await self._let_go(case_id, agent)

    async def heartbeat(self, agent: str) -> None:
        claims = await self._redis.smembers(_agent_claims_key(agent))
        if claims:
            await self._redis.zadd(CLAIMS_KEY, {c: time.time() for c in claims}, xx=True)

    async def reclaim_abandoned(self) -> list[str]:
        """Return claims whose agent has gone quiet to the queue; the ids of the cases returned."""
        deadline = time.time() - self._claim_timeout
        stale = [raw.decode() for raw in await self._redis.zrangebyscore(CLAIMS_KEY, "-inf", deadline)]
        return [case_id for case_id in stale if await self._reclaim(case_id)]

    async def _reclaim(self, case_id: str) -> bool:
        holder: list[str] = []

        def unassign(case: Case) -> str:
            holder.append(case["assignee"])
            case["status"] = "queued"
            case["assignee"] = None
            return f"no heartbeat from {holder[0]} for {self._claim_timeout:.0f}s; back to the queue"

        try:
            await self._cases.change(case_id, actor="system", action="reclaim", allowed_from=("claimed",),
                                     mutate=unassign)
        except (CaseConflict, CaseNotFound):
            await self._redis.zrem(CLAIMS_KEY, case_id)
            return False
        await self._let_go(case_id, holder[0])
        await self.enqueue(case_id)
        return True

    async def _hold(self, case_id: str, agent: str) -> None:
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.zadd(CLAIMS_KEY, {case_id: time.time()})
            pipe.sadd(_agent_claims_key(agent), case_id)
            await pipe.execute()

    async def _let_go(self, case_id: str, agent: str) -> None:
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.zrem(CLAIMS_KEY, case_id)
            pipe.srem(_agent_claims_key(agent), case_id)
            await pipe.execute()

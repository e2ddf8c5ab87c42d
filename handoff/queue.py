"""The agent queue: queued cases handed to complaint handlers by priority lane, on the desks they read.

Lanes, desks and units. A case waits in one Redis stream per (lane, desk, unit): ``cg:{queue}:<lane>:<desk>``
for the head office, ``cg:{queue}:<lane>:<desk>:<unit>`` for another unit, where the lane is the case's
priority (urgent, high, normal, low; anything else counts as normal), the desk is its language (zh, en; any
other language goes to the en desk, as the router's own fallback is English) and the unit is the one that
handles it (its department, else the unit that received it). Every stream has the consumer group ``agents``.
An agent reads only the streams of the languages they read and of their unit and the units below it, so a
Chinese case is never delivered to, nor consumed by, an English-only agent, nor a branch's case by another
branch. Product desks are a filter on
the queue view (``waiting(products=...)``), not on ``next``: routing by product would split the lanes into
streams nobody might read, and a handler of a product desk claims from that view with ``claim``.

The case record (handoff.cases) stays the single source of truth for who owns a case. The hash
``cg:{queue}:entries`` says which stream entry a queued case waits in, so a claim made from the console
(``claim``, ``reassign``) takes the entry out of the stream at once. The ``{queue}`` hash tag keeps the
streams and that hash in one slot, for the scripts below on Redis Cluster; the ``{claims}`` tag keeps the
heartbeat index ``cg:{claims}`` and every handler's set of claims in another, so a claim changes both in one
transaction (there are only as many claims as cases in hand).

Guarantees:
- most urgent first: ``next`` hands out the urgent lane before high before normal before low, and the
  oldest entry first within a lane across all of the agent's desks (one atomic script picks the entry);
- desks are respected: ``next(languages=...)`` only reads, and so only consumes, the streams of those
  languages; cases of other desks stay in their streams for their readers;
- at-least-once delivery: a queued case stays in its stream until it is claimed, and an entry delivered
  to an agent who died before claiming comes back after ``delivery_timeout``, before any fresh entry of its
  lane;
- exactly one owner at a time: claiming is a checked transition on the case (queued/reopened → claimed),
  so agents racing for one case cannot both win; an entry whose case is no longer claimable is acknowledged,
  deleted and skipped;
- an abandoned claim comes back: an agent's requests are heartbeats for their claims, and a claim without a
  heartbeat for ``claim_timeout`` seconds goes back to its lane with an audit event (``reclaim``);
- every change of owner is on the record: claim, release, reclaim and a supervisor's ``reassign`` are audited
  transitions of the case, and the heartbeat bookkeeping follows the new owner.

``enqueue`` files a case at the back of its lane; enqueueing a waiting case again (say after its priority
changed) moves it, so a case waits in one place.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import ResponseError

from handoff.cases import Case, CaseConflict, CaseNotFound, CaseStore
from handoff.lifecycle import Role
from store.keys import CLAIMS_KEY, agent_claims_key, queue_stream_key
from store.keys import LEGACY_QUEUE_KEY as LEGACY_STREAM_KEY
from store.keys import QUEUE_ENTRIES_KEY as ENTRIES_KEY
from store.scripts import register_script

LANES = ("urgent", "high", "normal", "low")
DEFAULT_LANE = "normal"
DESKS = ("zh", "en")
DEFAULT_DESK = "en"
GROUP = "agents"
CLAIMABLE = ("queued", "reopened")
HEAD_OFFICE = "hq"


class _Unread:
    """Not read yet (``AgentQueue._claim``)."""


UNREAD = _Unread()


def stream_key(lane: str, desk: str, unit: str = HEAD_OFFICE) -> str:
    """A lane of a desk of a unit; the head office's keep the names they had before there were units."""
    return queue_stream_key(lane, desk, None if unit == HEAD_OFFICE else unit)


def lane_of(case: Case) -> str:
    priority = case.get("priority")
    return priority if priority in LANES else DEFAULT_LANE


def desk_of(case: Case) -> str:
    language = case.get("language")
    return language if language in DESKS else DEFAULT_DESK


def unit_of(case: Case) -> str:
    """The unit whose queue the case waits in: its responsible department, else the unit that received it."""
    return str(case.get("department") or case.get("unit") or HEAD_OFFICE)


def _desks(languages: Iterable[str] | None) -> tuple[str, ...]:
    if languages is None:
        return DESKS
    chosen = tuple(dict.fromkeys(languages))
    unknown = [language for language in chosen if language not in DESKS]
    if unknown:
        raise ValueError(f"no desk for {', '.join(unknown)}; desks are {', '.join(DESKS)}")
    return chosen


# KEYS: the agent's streams lane by lane, ARGV[4] desks per lane, then the entries hash. ARGV: group, consumer,
# min idle ms, width. Returns {stream, entry id, case id, the case's entry in the hash or false} of the entry now
# delivered to the consumer, or false.
_PICK = """
local group, agent, idle, width = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4])
local entries = KEYS[#KEYS]

local function older(a, b)
  if b == nil then return true end
  local ams, aseq = string.match(a, '(%d+)-(%d+)')
  local bms, bseq = string.match(b, '(%d+)-(%d+)')
  if tonumber(ams) ~= tonumber(bms) then return tonumber(ams) < tonumber(bms) end
  return tonumber(aseq) < tonumber(bseq)
end

local function last_delivered(key)
  for _, info in ipairs(redis.call('XINFO', 'GROUPS', key)) do
    local fields = {}
    for i = 1, #info, 2 do fields[info[i]] = info[i + 1] end
    if fields['name'] == group then return fields['last-delivered-id'] end
  end
  error('NOGROUP no group ' .. group .. ' on ' .. key)
end

local function case_id(fields)
  if not fields then return '' end
  for i = 1, #fields, 2 do if fields[i] == 'case_id' then return fields[i + 1] end end
  return ''
end

local function picked(key, id, case)
  return {key, id, case, redis.call('HGET', entries, case)}
end

for first = 1, #KEYS - 1, width do
  -- Deliveries nobody claimed within the timeout come back before anything new in this lane.
  local key, id = nil, nil
  for k = first, first + width - 1 do
    local stale = redis.call('XPENDING', KEYS[k], group, 'IDLE', idle, '-', '+', 1)
    if stale[1] and older(stale[1][1], id) then key, id = KEYS[k], stale[1][1] end
  end
  if key then
    local entry = redis.call('XCLAIM', key, group, agent, idle, id)[1]
    return picked(key, id, case_id(entry and entry[2]))
  end
  -- Then the oldest entry nobody has read yet, across the agent's desks.
  for k = first, first + width - 1 do
    local head = redis.call('XRANGE', KEYS[k], '(' .. last_delivered(KEYS[k]), '+', 'COUNT', 1)
    if head[1] and older(head[1][1], id) then key, id = KEYS[k], head[1][1] end
  end
  if key then
    local entry = redis.call('XREADGROUP', 'GROUP', group, agent, 'COUNT', 1, 'STREAMS', key, '>')[1][2][1]
    return picked(key, entry[1], case_id(entry[2]))
  end
end
return false
"""

# KEYS: stream, entries hash. ARGV: case id, product. Adds the case's entry at the stream's end and notes it in
# the hash; returns {the new entry's id, the entry the hash named before or false}.
_ADD = """
local before = redis.call('HGET', KEYS[2], ARGV[1])
local id = redis.call('XADD', KEYS[1], '*', 'case_id', ARGV[1], 'product', ARGV[2])
redis.call('HSET', KEYS[2], ARGV[1], KEYS[1] .. ' ' .. id)
return {id, before}
"""

# KEYS: stream, entries hash. ARGV: group, entry id, case id. The hash forgets the entry only if it is
# still the case's current one: a newer entry (the case was queued again meanwhile) must stay findable.
_FORGET = """
redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
redis.call('XDEL', KEYS[1], ARGV[2])
if redis.call('HGET', KEYS[2], ARGV[3]) == KEYS[1] .. ' ' .. ARGV[2] then
  redis.call('HDEL', KEYS[2], ARGV[3])
end
"""


class AgentQueue:
    def __init__(
        self, redis: Redis, cases: CaseStore, claim_timeout: float = 900.0, delivery_timeout: float = 60.0,
        units: Iterable[str] = (HEAD_OFFICE,),
    ) -> None:
        self._redis = redis
        self._cases = cases
        self._units = tuple(dict.fromkeys(units))
        self._grouped: set[str] = set()
        self._claim_timeout = claim_timeout
        self._delivery_timeout_ms = int(delivery_timeout * 1000)
        self._pick = register_script(redis, _PICK)
        self._forget_script = register_script(redis, _FORGET)
        self._add_script = register_script(redis, _ADD)

    async def ensure_group(self) -> None:
        """Create every lane's streams with their consumer group, and move entries of the old single stream."""
        for lane in LANES:
            for desk in DESKS:
                for unit in self._units:
                    await self._ensure_stream(stream_key(lane, desk, unit))
        await self._migrate_legacy_stream()

    async def _ensure_stream(self, key: str) -> None:
        if key in self._grouped:
            return
        try:
            await self._redis.xgroup_create(key, GROUP, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise
        self._grouped.add(key)

    async def _migrate_legacy_stream(self) -> None:
        # Entries of a claimed or closed case would be skipped by next() anyway; only waiting cases move.
        for _, fields in await self._redis.xrange(LEGACY_STREAM_KEY):
            case_id = fields[b"case_id"].decode()
            try:
                if (await self._cases.summary(case_id))["status"] in CLAIMABLE:
                    await self.enqueue(case_id)
            except CaseNotFound:
                continue
        await self._redis.delete(LEGACY_STREAM_KEY)

    async def enqueue(self, case_id: str) -> None:
        """File the case at the back of its lane on its desk (moving it if it was already waiting)."""
        case = await self._cases.summary(case_id)
        stream = stream_key(lane_of(case), desk_of(case), unit_of(case))
        await self._ensure_stream(stream)
        product = (case.get("complaint") or {}).get("product") or ""
        # The entry added and noted in the hash in one script (the {queue} slot); the one it replaces forgotten.
        _, before = await self._add_script(keys=[stream, ENTRIES_KEY], args=[case_id, str(product)])
        if before:
            await self._forget(before.decode(), case_id)

    async def next(self, agent: str, *, languages: Iterable[str] | None = None,
                   role: Role | str = Role.AGENT, units: Iterable[str] | None = None) -> Case | None:
        """Claim the most urgent, oldest case on ``agent``'s desks (all desks by default) in ``units`` (all by
        default); None when none waits."""
        desks = _desks(languages)
        queues = [unit for unit in self._units if units is None or unit in set(units)]
        if not desks or not queues:
            return None
        await self.reclaim_abandoned()
        streams = [stream_key(lane, desk, unit) for lane in LANES for desk in desks for unit in queues]
        for stream in streams:
            await self._ensure_stream(stream)
        while True:
            try:
                picked: list[bytes | None] | None = await self._pick(
                    keys=[*streams, ENTRIES_KEY], args=[GROUP, agent, self._delivery_timeout_ms,
                                                        len(desks) * len(queues)]
                )
            except ResponseError as exc:
                if "NOGROUP" not in str(exc):
                    raise
                # Redis lost its streams (restarted empty, or rebuilt): make them again and look once more.
                self._grouped.clear()
                for stream in streams:
                    await self._ensure_stream(stream)
                continue
            if not picked:
                return None
            stream, entry_id, case_id = (part.decode() for part in picked[:3] if part is not None)
            entry = f"{stream} {entry_id}"
            try:
                # The case's entry in the hash was read with the pick, before the claim (see _claim).
                return await self._claim(case_id, agent, role, also_forget=entry, waiting_in=picked[3])
            except (CaseConflict, CaseNotFound):
                await self._forget(entry, case_id)  # claimed meanwhile, closed or gone: not for anyone

    async def claim(self, case_id: str, agent: str, role: Role | str = Role.AGENT) -> Case:
        return await self._claim(case_id, agent, role)

    async def _claim(self, case_id: str, agent: str, role: Role | str, *, also_forget: str | None = None,
                     waiting_in: bytes | _Unread | None = UNREAD) -> Case:
        def take(case: Case) -> str:
            case["status"] = "claimed"
            case["assignee"] = agent
            return f"claimed by {agent}"

        # Read before the claim: an entry added after it (the case released again) must stay.
        found: bytes | None = (await self._redis.hget(ENTRIES_KEY, case_id) if isinstance(waiting_in, _Unread)
                               else waiting_in)
        case = await self._cases.change(case_id, actor=agent, action="claim", mutate=take, role=role)
        await self._hold(case_id, agent)
        entries = {found.decode()} if found else set()
        for entry in entries | ({also_forget} if also_forget else set()):
            await self._forget(entry, case_id)
        return case

    async def release(self, case_id: str, actor: str, *, supervisor: bool = False,
                      role: Role | str = Role.AGENT) -> Case:
        """Give a claimed case back to its lane; only its assignee (or a supervisor) may."""
        holder: list[str] = []

        def give_back(case: Case) -> str:
            if case["assignee"] != actor and not supervisor:
                raise CaseConflict(f"case {case_id} is claimed by {case['assignee']}, not {actor}")
            holder.append(case["assignee"])
            case["status"] = "queued"
            case["assignee"] = None
            return f"released by {actor} (was {holder[0]})"

        case = await self._cases.change(case_id, actor=actor, action="release", mutate=give_back, role=role)
        await self._let_go(case_id, holder[0])
        await self.enqueue(case_id)
        return case

    async def reassign(self, case_id: str, to_agent: str, by_supervisor: str,
                       role: Role | str = Role.SUPERVISOR) -> Case:
        """A supervisor hands a claimed or waiting case to ``to_agent``; the audit event names both agents.

        Checking that ``to_agent`` reads the case's language is the caller's business (it knows the agents).
        """
        previous: list[str | None] = []

        def hand_over(case: Case) -> str:
            if case["status"] == "claimed" and case["assignee"] == to_agent:
                raise CaseConflict(f"case {case_id} is already claimed by {to_agent}")
            previous.append(case["assignee"] if case["status"] == "claimed" else None)
            case["status"] = "claimed"
            case["assignee"] = to_agent
            return f"reassigned by {by_supervisor} from {previous[0] or 'the queue'} to {to_agent}"

        waiting_in = await self._redis.hget(ENTRIES_KEY, case_id)
        case = await self._cases.change(case_id, actor=by_supervisor, action="reassign", mutate=hand_over, role=role)
        await self._hold(case_id, to_agent, instead_of=previous[0])
        if waiting_in:
            await self._forget(waiting_in.decode(), case_id)
        return case

    async def watch_claim(self, case_id: str, agent: str) -> None:
        """Watch ``agent``'s claim on the case again (it came back to them: a plan returned for rework)."""
        await self._hold(case_id, agent)

    async def finished(self, case_id: str, agent: str) -> None:
        """The case left the claimed state for good (answered or closed): stop watching its claim."""
        await self._let_go(case_id, agent)

    async def is_waiting(self, case_id: str) -> bool:
        """Whether the case has its entry in a lane, to be handed out."""
        return bool(await self._redis.hexists(ENTRIES_KEY, case_id))

    async def is_watched(self, case_id: str) -> bool:
        """Whether the case's claim is watched for its holder's heartbeat."""
        return await self._redis.zscore(CLAIMS_KEY, case_id) is not None

    async def heartbeat(self, agent: str) -> None:
        """Keep ``agent``'s claims alive.

        The agent's set is the truth about what they hold, so a heartbeat also puts back a claim whose watch a
        racing release removed. A case it puts back after it was finished is dropped by the next sweep.
        """
        claims = await self._redis.smembers(agent_claims_key(agent))
        if claims:
            await self._redis.zadd(CLAIMS_KEY, {c: time.time() for c in claims})

    async def reclaim_abandoned(self) -> list[str]:
        """Return claims whose agent has gone quiet to their lanes; the ids of the cases returned."""
        deadline = time.time() - self._claim_timeout
        stale = [raw.decode() for raw in await self._redis.zrangebyscore(CLAIMS_KEY, "-inf", deadline)]
        return [case_id for case_id in stale if await self._reclaim(case_id, deadline)]

    async def _reclaim(self, case_id: str, deadline: float) -> bool:
        try:
            seen = await self._cases.summary(case_id)
        except CaseNotFound:
            seen = {"status": "gone", "assignee": None}
        if seen["status"] != "claimed":  # answered or closed without finished(): nothing left to watch
            await self._redis.zrem(CLAIMS_KEY, case_id)
            return False
        score = await self._redis.zscore(CLAIMS_KEY, case_id)
        if score is None or score > deadline:  # a heartbeat or a new claim came in meanwhile
            return False
        holder = seen["assignee"]

        def unassign(case: Case) -> str:
            if case["assignee"] != holder:
                raise CaseConflict(f"case {case_id} changed hands")
            case["status"] = "queued"
            case["assignee"] = None
            return f"no heartbeat from {holder} for {self._claim_timeout:g}s; back to the queue"

        try:
            await self._cases.change(case_id, actor="system", action="reclaim", mutate=unassign)
        except (CaseConflict, CaseNotFound):
            return False  # it moved on while we looked; the next sweep sees its new state
        await self._let_go(case_id, holder)
        await self.enqueue(case_id)
        return True

    async def waiting(
        self, languages: Iterable[str] | None = None, *, products: Iterable[str] | None = None,
        units: Iterable[str] | None = None,
    ) -> list[dict[str, Any]]:
        """The waiting cases for the console, most urgent and oldest first, as ``next`` would hand them out.

        Read from the streams themselves (one XRANGE per lane and desk, no case records): a claimed case's
        entry leaves its stream when it is claimed, so the streams hold exactly the waiting cases, apart from
        a case claimed at this very moment. ``position`` counts from 1 within the lane of this view; with
        ``products`` only cases of those products are listed (a product desk's view).
        """
        desks = _desks(languages)
        wanted = set(products) if products is not None else None
        queues = [unit for unit in self._units if units is None or unit in set(units)]
        places = [(desk, unit) for desk in desks for unit in queues]
        async with self._redis.pipeline(transaction=False) as pipe:
            for lane in LANES:
                for desk, unit in places:
                    pipe.xrange(stream_key(lane, desk, unit))
            ranges = await pipe.execute()
        view: list[dict[str, Any]] = []
        seen: set[str] = set()
        for i, lane in enumerate(LANES):
            lane_ranges = ranges[i * len(places):(i + 1) * len(places)]
            entries = sorted(
                ((_id_key(entry_id), desk, fields) for (desk, _), found in zip(places, lane_ranges, strict=True)
                 for entry_id, fields in found),
                key=lambda item: item[0],
            )
            position = 0
            for (millis, _), desk, fields in entries:
                case_id, product = fields[b"case_id"].decode(), fields.get(b"product", b"").decode() or None
                if case_id in seen or (wanted is not None and product not in wanted):
                    continue
                seen.add(case_id)
                position += 1
                view.append({"id": case_id, "priority": lane, "language": desk, "product": product,
                             "position": position,
                             "queued_at": datetime.fromtimestamp(millis / 1000, UTC).isoformat()})
        return view

    async def _forget(self, entry: str, case_id: str) -> None:
        stream, entry_id = entry.split(" ")
        await self._forget_script(keys=[stream, ENTRIES_KEY], args=[GROUP, entry_id, case_id])

    async def _hold(self, case_id: str, agent: str, *, instead_of: str | None = None) -> None:
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.zadd(CLAIMS_KEY, {case_id: time.time()})
            pipe.sadd(agent_claims_key(agent), case_id)
            if instead_of and instead_of != agent:
                pipe.srem(agent_claims_key(instead_of), case_id)
            await pipe.execute()

    async def _let_go(self, case_id: str, agent: str) -> None:
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.zrem(CLAIMS_KEY, case_id)
            pipe.srem(agent_claims_key(agent), case_id)
            await pipe.execute()


def _id_key(entry_id: bytes) -> tuple[int, int]:
    millis, seq = entry_id.decode().split("-")
    return int(millis), int(seq)

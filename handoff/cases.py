"""The case: the complaint record, its conversation and its audit trail, kept in Redis.

Guarantees:
- every change of a case's status, assignee or record is one atomic write (a script) with its audit event
  (who, when, what, before and after), so a case never changes without a trace;
- the audit trail is append-only: nothing here edits or deletes an event (only ``discard``, the retention
  purge's hand in Redis, removes a closed case whole);
- transitions are checked (a closed case cannot be claimed, only the assignee replies), and a refused
  transition changes nothing;
- with a system of record (``SystemOfRecord``), every case that changed in Redis is then written there too;
  if that write fails, the change stands in Redis and the case id waits in ``cg:record:pending`` until
  ``flush_pending`` writes it, so nothing is lost either way.

All keys of one case share the hash tag ``{<case id>}`` so its transactions and scripts also work on Redis
Cluster. The keys shared by many cases (the index ``cg:cases``, a complainant's ``cg:contact:…``, the ``once``
marks) are in other slots, so they are written in steps of their own, in an order whose interruption misleads no reader:
- opening: the id is reserved (its case key holds ``{}``, read as no case), then taken for ``once``, then put
  in the index and the contacts, and only then is the case written, in one script with its conversation
  and first event. Interrupted, the index may name a case that is not there (readers skip it), and the same
  ``once`` asked again writes the case under the id reserved the first time;
- restoring from the record: the case first, then the index; run again, it puts a restored case in the index;
- discarding: the case first, then the index; an index entry left behind names no case.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
import re
import weakref
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from redis.asyncio import Redis

from handoff import risk as risk_rules
from handoff.ids import new_case_id
from handoff.lifecycle import OPEN, TRANSITIONS, Role, Status, Transition
from handoff.nature import guess_nature
from handoff.sla import SlaPolicy
from store.keys import ALL_CASES_KEY, attachment_key, case_entry_once_key, case_once_key, contact_key
from store.keys import RECORD_PENDING_KEY as PENDING_KEY
from store.keys import case_events_key as _events_key
from store.keys import case_key as _case_key
from store.keys import case_messages_key as _messages_key
from store.once import AppendOnce
from store.scripts import register_script

log = logging.getLogger(__name__)

OPEN_STATUSES = tuple(status.value for status in Status if status in OPEN)
STATUSES = tuple(status.value for status in Status)
CUSTOMER_FIELDS = ("name", "phone", "email", "account_id")
COMPLAINT_FIELDS = (
    "product", "product_text", "incident_time", "incident_time_text", "place", "people_involved", "description",
    "desired_resolution",
)
OUTCOMES = ("upheld", "partially_upheld", "not_upheld", "withdrawn")
# What a complete record holds (README.md, "Unfinished intakes": name, contact, what happened, when, the service,
# the wish); a case without one of them is ``incomplete`` and names them in ``missing``. "contact" is a phone or an
# email, unless the customer declined to give one.
RECORD_FIELDS = ("name", "contact", "description", "product", "incident_time", "desired_resolution")

Case = dict[str, Any]


class CaseError(Exception):
    """A request about a case that cannot be honoured; the message says why."""


class CaseNotFound(CaseError):
    pass


class CaseConflict(CaseError):
    """The case is not in a state that allows this (wrong status, someone else's claim)."""


class CaseForbidden(CaseError):
    """The one asking may not do this to a case (their role, or it is their own plan to approve)."""


def _arrive(case: Case, before: str, transition: Transition) -> None:
    """Where the transition leaves the case: the target ``mutate`` chose, the single one, or where it was."""
    if not transition.targets:
        if case["status"] != before:
            raise CaseError(f"{transition.action} keeps a case's status")
        return
    if case["status"] == before and len(transition.targets) == 1 and before not in transition.targets:
        case["status"] = next(iter(transition.targets))
    if case["status"] not in transition.targets:
        raise CaseError(f"{transition.action} cannot leave a case {case['status']}")


def _now() -> str:
    return datetime.now(UTC).isoformat()


# A customer's file is kept by the SHA-256 of its content: an attachment's url is "attachment:<sha256>", and its
# content waits in Redis under store.keys.attachment_key (with an expiry) until the record has it.
ATTACHMENT_URL = re.compile(r"^attachment:([0-9a-f]{64})$")


ONCE_SECONDS = 30 * 24 * 3600

# KEYS: the case, its messages, its events (one slot). ARGV: the case (JSON), how many messages, the messages,
# then the events. Writes them unless Redis holds the case already (its key missing or reserved: ``{}``); 1 if
# it wrote.
_WRITE_CASE = """
local held = redis.call('GET', KEYS[1])
if held and held ~= '{}' then return 0 end
redis.call('SET', KEYS[1], ARGV[1])
redis.call('DEL', KEYS[2], KEYS[3])
local messages = tonumber(ARGV[2])
for i = 3, 2 + messages do redis.call('RPUSH', KEYS[2], ARGV[i]) end
for i = 3 + messages, #ARGV do redis.call('RPUSH', KEYS[3], ARGV[i]) end
return 1
"""
# KEYS: the case, its events (one slot). ARGV: the case as it was read, the case changed, the change's event.
# Writes the change and its event if the case is still as it was read (else 0: read it again, try again).
_CHANGE = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2])
redis.call('RPUSH', KEYS[2], ARGV[3])
return 1
"""


def _contacts(customer: dict[str, Any]) -> list[str]:
    """The ways to recognise a complainant again: phone digits, lower-cased email, account number."""
    found = []
    if customer.get("phone"):
        digits = "".join(ch for ch in str(customer["phone"]) if ch.isdigit())
        found.append("phone:" + digits[-11:])
    if customer.get("email"):
        found.append("email:" + str(customer["email"]).strip().lower())
    if customer.get("account_id"):
        found.append("account:" + str(customer["account_id"]).strip())
    return found


class SystemOfRecord(Protocol):
    """What the desk asks of the system of record that keeps every case beyond Redis (the gateway gives it
    ``records.record.CaseRecord``); a file is known by the SHA-256 of its content."""

    async def save(self, case: Case, files: Mapping[str, bytes] | None = None) -> None:
        """Keep the case as it is now, with ``files`` (content by SHA-256) the record does not hold yet."""

    async def stored_files(self, digests: Iterable[str]) -> set[str]:
        """Which of these files the record holds."""

    async def case_file(self, case_id: str, digest: str) -> tuple[str, str, bytes] | None:
        """A file of the case: its name, content type and content; None unless the record holds it."""


class CaseStore:
    def __init__(
        self,
        redis: Redis,
        sla: SlaPolicy | None = None,
        risk: risk_rules.RiskRules | None = None,
        record: SystemOfRecord | None = None,
        route: Callable[[Case], str | None] | None = None,
    ) -> None:
        self._redis = redis
        self._sla = sla or SlaPolicy()
        self._risk = risk or risk_rules.default_rules()
        self._record = record
        self._route = route
        self._append_once = AppendOnce(redis)
        self._write_script = register_script(redis, _WRITE_CASE)
        self._change_script = register_script(redis, _CHANGE)
        # One write to the record at a time per case, each reading Redis afresh: the last write is the newest.
        self._record_locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()

    async def create(
        self,
        *,
        channel: str,
        conversation_id: str,
        language: str,
        customer: dict[str, Any],
        complaint: dict[str, Any],
        handoff_reason: str,
        messages: Iterable[dict[str, Any]] = (),
        actor: str = "bot",
        risk_flags: Iterable[str] = (),
        unverified: Iterable[str] = (),
        attachments: Iterable[dict[str, Any]] = (),
        once: str | None = None,
        received_at: datetime | None = None,
        script: str | None = None,
        unit: str = "hq",
        preliminary_opinion: str | None = None,
        event_detail: str | None = None,
        action: str = "created",
        registered_by: str | None = None,
    ) -> Case:
        """Open a queued case from a finished (or interrupted) intake, with the conversation so far.

        ``risk_flags`` are what the bot noticed (a threat, anger); ``unverified`` names fields the customer
        gave that did not validate, so a handler checks them before relying on them. ``once`` names what
        opened the case (the message that ended the intake): asked again with the same ``once`` (a gateway
        died after creating it and another handles the message again), the case made the first time is
        returned instead of a second one.

        ``received_at`` is when the complaint came in (its first message, or what the staff who took it say):
        every deadline counts from it. A record that lacks a field of ``RECORD_FIELDS`` makes the case
        ``incomplete``, with the fields in ``missing``.
        """
        created = datetime.now(UTC)
        case_id = await self._take_id(created, once)
        if once is not None:
            with contextlib.suppress(CaseNotFound):
                return await self.get(case_id)  # opened by an earlier try with the same ``once``
        messages = list(messages)
        received = received_at or _first_time(messages) or created
        people = {name: customer.get(name) for name in CUSTOMER_FIELDS}
        people["contact_declined"] = bool(customer.get("contact_declined")) and not _has_contact(people)
        told = {name: complaint.get(name) for name in COMPLAINT_FIELDS}
        missing = missing_fields(people, told)
        case: Case = {
            "id": case_id,
            "channel": channel,
            "conversation_id": conversation_id,
            "language": language,
            "status": "queued",
            "handoff_reason": handoff_reason,
            "script": script if language == "zh" else None,
            "received_at": received.isoformat(),
            "incomplete": bool(missing),
            "missing": missing,
            "unit": unit,
            "customer": people,
            "complaint": told,
            "preliminary_opinion": preliminary_opinion,
            "registered_by": registered_by,
            "deadlines": self._sla.deadlines(received).to_dict(),
            "unverified": sorted(set(unverified)),
            "attachments": list(attachments),
            "assignee": None,
            "resolution": None,
            "created_at": created.isoformat(),
            "updated_at": created.isoformat(),
        }
        case["department"] = self._route(case) if self._route else None
        case["nature"] = guess_nature(_said(case, messages), told.get("product"))
        case["deadlines"] = self._policy_for(case).deadlines(received).to_dict()
        contacts = _contacts(case["customer"])
        # Indexed before it is written: interrupted in between, the index names a case readers do not find.
        repeat = await self._index(case_id, created, contacts, look_back=True)
        assessed = self._risk.grade(_customer_text(case, messages), tuple(risk_flags), repeat=repeat)
        case["risk"] = assessed.to_dict()
        case["priority"] = risk_rules.PRIORITY_BY_GRADE[assessed.grade]
        gaps = f"; missing {', '.join(missing)}" if missing else ""
        detail = event_detail or f"intake ended: {handoff_reason}{gaps}"
        event = _event(actor, action, None, "queued", detail)
        written = await self._write_case(case, messages, [event])
        if written is None:
            return await self.get(case_id)  # written meanwhile, by an earlier try with the same ``once``
        await self._write_through(case_id)
        return written

    async def _take_id(self, created: datetime, once: str | None) -> str:
        """The id to open the case under: a new one, reserved; with ``once``, the one an earlier try took."""
        if once is None:
            return await self._reserve_id(created)
        mark = case_once_key(once)
        while True:
            earlier = await self._redis.get(mark)
            if earlier is not None and await self._redis.exists(_case_key(earlier.decode())):
                return str(earlier.decode())
            case_id = await self._reserve_id(created)
            if earlier is not None:  # its case is gone (purged, or Redis lost it): the mark is stale
                await self._redis.delete(mark)
            if await self._redis.set(mark, case_id, nx=True, ex=ONCE_SECONDS):
                return case_id
            await self._redis.delete(_case_key(case_id))  # another try took ``once`` first: open theirs

    async def _index(self, case_id: str, created: datetime, contacts: Iterable[str], look_back: bool = False,
                     ) -> bool:
        """Put the case in the index of all cases and of its complainant's contacts (each key on its own, in one
        pipeline); with ``look_back``, whether any of these contacts opened another case than ``case_id`` within
        the repeat window (rules file, 90 days), read in the same pipeline."""
        contacts = list(contacts)
        look_back = look_back and bool(self._risk.repeat_window_days)
        since = (created - self._repeat_window).timestamp()
        async with self._redis.pipeline(transaction=False) as pipe:
            if look_back:
                for contact in contacts:
                    pipe.zrangebyscore(contact_key(contact), since, "+inf")
            pipe.zadd(ALL_CASES_KEY, {case_id: created.timestamp()})
            for contact in contacts:
                pipe.zadd(contact_key(contact), {case_id: created.timestamp()})
                pipe.expire(contact_key(contact), int(self._repeat_window.total_seconds()) + 86400)
            results = await pipe.execute()
        # The case itself is not a repeat of its own: it may be in the index already (this pipeline, or an
        # interrupted try).
        return look_back and any(set(found) - {case_id.encode()} for found in results[:len(contacts)])

    async def _write_case(self, case: Case, messages: Iterable[dict[str, Any]], events: Iterable[dict[str, Any]],
                          ) -> Case | None:
        """Write the case with its conversation and audit trail in one script (all in the case's slot), if Redis
        holds none yet (its key missing or reserved); the case as written (as ``get`` would read it), or None if
        Redis held it already."""
        case_id = case["id"]
        document = json.dumps({key: value for key, value in case.items() if key not in ("messages", "events")},
                              ensure_ascii=False)
        said = [json.dumps(entry, ensure_ascii=False) for entry in messages]
        trail = [json.dumps(entry, ensure_ascii=False) for entry in events]
        if not await self._write_script(keys=[_case_key(case_id), _messages_key(case_id), _events_key(case_id)],
                                        args=[document, len(said), *said, *trail]):
            return None
        written: Case = json.loads(document)
        written["messages"] = [json.loads(entry) for entry in said]
        written["events"] = [json.loads(entry) for entry in trail]
        return written

    def _policy_for(self, case: Case) -> SlaPolicy:
        """SLA_POLICY, with the deadlines the rules file sets for the case's product or nature."""
        periods = self._risk.deadlines_for((case.get("complaint") or {}).get("product"), case.get("nature"))
        if not {"acknowledge", "investigate", "respond"} & set(periods):
            return self._sla
        return dataclasses.replace(self._sla, acknowledge=periods.get("acknowledge", self._sla.acknowledge),
                                   investigate=periods.get("investigate", self._sla.investigate),
                                   respond=periods.get("respond", self._sla.respond))

    @property
    def _repeat_window(self) -> timedelta:
        return timedelta(days=self._risk.repeat_window_days)

    async def _reserve_id(self, created: datetime) -> str:
        while True:
            case_id = new_case_id(created)
            if await self._redis.set(_case_key(case_id), "{}", nx=True):
                return case_id

    async def earlier_cases(self, case: Case, limit: int = 20) -> list[dict[str, Any]]:
        """The same customer's other cases (by phone, email or account number), newest first, briefly."""
        found: dict[str, float] = {}
        for contact in _contacts(case.get("customer") or {}):
            for raw, score in await self._redis.zrange(contact_key(contact), 0, -1, withscores=True):
                found[raw.decode()] = score
        found.pop(case["id"], None)
        earlier = []
        for case_id in sorted(found, key=found.__getitem__, reverse=True)[:limit]:
            try:
                other = await self.summary(case_id)
            except CaseNotFound:
                continue
            earlier.append({"id": other["id"], "status": other["status"], "channel": other.get("channel"),
                            "received_at": other.get("received_at") or other.get("created_at"),
                            "product": (other.get("complaint") or {}).get("product"),
                            "outcome": (other.get("resolution") or {}).get("outcome")})
        return earlier

    async def get(self, case_id: str) -> Case:
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.get(_case_key(case_id))
            pipe.lrange(_messages_key(case_id), 0, -1)
            pipe.lrange(_events_key(case_id), 0, -1)
            raw, messages, events = await pipe.execute()
        if not raw or raw == b"{}":
            raise CaseNotFound(f"no case {case_id}")
        case: Case = json.loads(raw)
        case["messages"] = [json.loads(m) for m in messages]
        case["events"] = [json.loads(e) for e in events]
        return case

    async def summary(self, case_id: str) -> Case:
        """The case record without its messages and events (cheap, for lists)."""
        raw = await self._redis.get(_case_key(case_id))
        if not raw or raw == b"{}":
            raise CaseNotFound(f"no case {case_id}")
        case: Case = json.loads(raw)
        return case

    async def list(self, status: str | None = None, risk: str | None = None) -> list[Case]:
        """Cases, oldest first; without ``status`` only open ones."""
        ids = [i.decode() for i in await self._redis.zrange(ALL_CASES_KEY, 0, -1)]
        cases = []
        for case_id in ids:
            try:
                case = await self.summary(case_id)
            except CaseNotFound:
                continue
            if (status and case["status"] != status) or (not status and case["status"] == "closed"):
                continue
            if risk and case["risk"]["grade"] != risk:
                continue
            cases.append(case)
        return cases

    async def add_message(self, case_id: str, message: dict[str, Any], *, once: str | None = None) -> None:
        """Append to the case's conversation; with ``once`` (what the entry stands for), only the first time."""
        await self.summary(case_id)
        entry = json.dumps(message, ensure_ascii=False)
        if once is None:
            await self._redis.rpush(_messages_key(case_id), entry)
        else:
            mark = case_entry_once_key(case_id, once)
            if not await self._append_once.to_list(mark, _messages_key(case_id), entry, ONCE_SECONDS):
                return
        await self._write_through(case_id)

    async def change(
        self,
        case_id: str,
        *,
        actor: str,
        action: str,
        mutate: Callable[[Case], str | None],
        role: Role | str = Role.SYSTEM,
    ) -> Case:
        """Make the transition ``action`` (handoff.lifecycle.TRANSITIONS) on the case, with one audit event.

        The table decides: the case's status must be one the transition leaves (else CaseConflict) and
        ``role`` one that may make it (else CaseForbidden). ``mutate`` edits the case in place and returns the
        event's detail; it may set the status (to one of the transition's targets: a single target is set
        for it) and may raise CaseConflict to refuse. The write happens only if the case is still as it was read
        (compare and set, in one script; else it is read and checked again), so two handlers racing for one
        case cannot both win.
        """
        transition = TRANSITIONS.get(action)
        if transition is None:
            raise CaseError(f"no such change of a case: {action}")
        key = _case_key(case_id)
        while True:
            raw = await self._redis.get(key)
            if not raw or raw == b"{}":
                raise CaseNotFound(f"no case {case_id}")
            case: Case = json.loads(raw)
            before = case["status"]
            if Role(role) not in transition.roles:
                raise CaseForbidden(f"a {role} may not {action} a case")
            if before not in transition.sources:
                raise CaseConflict(f"case {case_id} is {before}; cannot {action}")
            detail = mutate(case)
            _arrive(case, before, transition)
            case["updated_at"] = _now()
            event = _event(actor, action, before, case["status"], detail)
            # Written only if the case is still as read (compare and set, in one script on the case's slot).
            if not await self._change_script(keys=[key, _events_key(case_id)],
                                             args=[raw, json.dumps(case, ensure_ascii=False),
                                                   json.dumps(event, ensure_ascii=False)]):
                continue  # changed meanwhile: read it again
            await self._write_through(case_id)
            return case

    async def _write_through(self, case_id: str) -> bool:
        """Write the case as Redis now holds it to the record; on failure keep its id for ``flush_pending``."""
        if self._record is None:
            return True
        lock = self._record_locks.setdefault(case_id, asyncio.Lock())
        async with lock:
            try:
                case = await self.get(case_id)
            except CaseNotFound:
                return True  # purged meanwhile: nothing left to write
            try:
                files = await self._files_to_keep(case)
                await self._record.save(case, files)
            except Exception as exc:  # the database is down, or refused the case: Redis keeps the change
                # The type only: a database error's text may quote the case's personal data.
                log.warning("case %s not written to the record (%s); will retry", case_id, type(exc).__name__)
                await self._redis.sadd(PENDING_KEY, case_id)
                return False
            if files:  # the record keeps them now
                await self._redis.delete(*(attachment_key(digest) for digest in files))
        return True

    async def complete(self, case_id: str, record: dict[str, Any], actor: str = "customer") -> Case:
        """Fill what an incomplete case lacks from a later record of the same intake (the customer came back):
        empty fields take the new values, and the description gains what the customer added."""

        def fill(case: Case) -> str:
            customer, complaint = case["customer"], case["complaint"]
            for name, key in (("name", "customer_name"), ("phone", "phone"), ("email", "email"),
                              ("account_id", "account_id")):
                if record.get(key) and not customer.get(name):
                    customer[name] = record[key]
            customer["contact_declined"] = (bool(record.get("contact_declined") or customer.get("contact_declined"))
                                            and not _has_contact(customer))
            for name in COMPLAINT_FIELDS:
                new, old = record.get(name), complaint.get(name)
                if new and not old:
                    complaint[name] = new
                elif new and name == "description" and str(new) not in str(old):
                    complaint[name] = f"{old}\n{new}"
            case["missing"] = missing_fields(customer, complaint)
            case["incomplete"] = bool(case["missing"])
            return "the customer added to the record" + (f"; missing {', '.join(case['missing'])}"
                                                          if case["missing"] else "; now complete")

        return await self.change(case_id, actor=actor, action="complete", mutate=fill, role=Role.CUSTOMER)

    async def _files_to_keep(self, case: Case) -> dict[str, bytes]:
        """The content of the case's files the record does not hold yet, from Redis."""
        assert self._record is not None
        wanted = {digest for digest, _ in case_files(case)}
        if not wanted:
            return {}
        missing = wanted - await self._record.stored_files(wanted)
        found = {}
        for digest in missing:
            content = await self._redis.get(attachment_key(digest))
            if content is not None:
                found[digest] = content
        return found

    async def case_file(self, case_id: str, digest: str) -> tuple[str, str, bytes] | None:
        """A file the customer sent with the case: its name, content type and content, from the record, else
        still waiting in Redis for it; None if the case has no such file or its content was not kept."""
        if self._record is not None:
            found = await self._record.case_file(case_id, digest)
            if found is not None:
                return found
        return await self._waiting_file(case_id, digest)

    async def _waiting_file(self, case_id: str, digest: str) -> tuple[str, str, bytes] | None:
        """A file of the case still waiting in Redis for the record: its name, content type and content."""
        entry = next((e for d, e in case_files(await self.get(case_id)) if d == digest), None)
        content = await self._redis.get(attachment_key(digest)) if entry else None
        if entry is None or content is None:
            return None
        return str(entry.get("name") or ""), str(entry.get("content_type") or ""), content

    async def flush_pending(self) -> int:
        """Retry the cases whose write to the record failed; how many still wait."""
        if self._record is None:
            return 0
        for raw in await self._redis.smembers(PENDING_KEY):
            case_id = raw.decode()
            # Taken out before the write: a failure from now on, here or in another gateway, puts it back.
            await self._redis.srem(PENDING_KEY, case_id)
            if not await self._write_through(case_id):
                break  # the database is still down: the rest waits for the next round
        return int(await self._redis.scard(PENDING_KEY))

    async def restore(self, case: Case) -> bool:
        """Put a case from the record back into Redis; False (and nothing written) if Redis holds it already.

        Either way the case is then in the index (and, while it counts for repeat complaints, its contacts'):
        a restore interrupted after writing the case puts it there when run again."""
        created = datetime.fromisoformat(case["created_at"])
        restored = await self._write_case(case, case["messages"], case["events"]) is not None
        recent = created > datetime.now(UTC) - self._repeat_window  # still counts for repeat complaints
        await self._index(case["id"], created, _contacts(case.get("customer") or {}) if recent else ())
        return restored

    async def discard(self, case_id: str) -> bool:
        """Remove a closed case from Redis after the retention purge; an open one stays. True if removed.

        The case goes first, then its index entries: interrupted in between, the index names a case that is gone
        (readers skip it, and discarding it again takes the entry out)."""
        try:
            case = await self.summary(case_id)
        except CaseNotFound:
            if not await self._redis.exists(_case_key(case_id)):  # not one being opened (reserved)
                await self._redis.zrem(ALL_CASES_KEY, case_id)
            return False
        if case["status"] != "closed":
            return False
        await self._redis.delete(_case_key(case_id), _messages_key(case_id), _events_key(case_id))
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.zrem(ALL_CASES_KEY, case_id)
            for contact in _contacts(case.get("customer") or {}):
                pipe.zrem(contact_key(contact), case_id)
            await pipe.execute()
        return True


def _event(actor: str, action: str, before: str | None, after: str, detail: str | None) -> dict[str, Any]:
    return {"at": _now(), "actor": actor, "action": action, "before": before, "after": after, "detail": detail}


def _said(case: Case, messages: list[dict[str, Any]]) -> list[str]:
    return [*(m["text"] for m in messages if m.get("from") == "customer"), case["complaint"].get("description") or ""]


def _customer_text(case: Case, messages: list[dict[str, Any]]) -> str:
    return "\n".join(_said(case, messages))


def case_files(case: Case) -> list[tuple[str, dict[str, Any]]]:
    """Every file kept by content hash that the case or its messages carry: (sha256, the attachment entry),
    once per digest and name."""
    entries = list(case.get("attachments") or [])
    for message in case.get("messages") or ():
        entries += message.get("attachments") or []
    found: dict[tuple[str, str], dict[str, Any]] = {}
    for entry in entries:
        match = ATTACHMENT_URL.match(str(entry.get("url") or "")) if isinstance(entry, dict) else None
        if match:
            found.setdefault((match.group(1), str(entry.get("name") or "")), entry)
    return [(digest, entry) for (digest, _), entry in found.items()]


def _has_contact(customer: dict[str, Any]) -> bool:
    return bool(customer.get("phone") or customer.get("email"))


def missing_fields(customer: dict[str, Any], complaint: dict[str, Any]) -> list[str]:
    """The fields of ``RECORD_FIELDS`` the record lacks."""
    have = {
        "name": bool(customer.get("name")),
        "contact": _has_contact(customer) or bool(customer.get("contact_declined")),
        **{name: bool(str(complaint.get(name) or "").strip())
           for name in ("description", "product", "incident_time", "desired_resolution")},
    }
    return [name for name in RECORD_FIELDS if not have[name]]


def _first_time(messages: list[dict[str, Any]]) -> datetime | None:
    """When the first message of these was sent (UTC-aware), if any says."""
    for message in messages:
        with contextlib.suppress(TypeError, ValueError):
            moment = datetime.fromisoformat(str(message.get("at")))
            return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return None

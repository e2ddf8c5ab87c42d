"""The complaint desk's verbs: what a handler or supervisor does to a case, each one audited.

claim, release, reassign, note, findings, classify, propose, approve, return, escalate, reply, resolve, close. The API
authenticates, checks the case is on the person's desks, calls one verb and reports what it returns. The
transitions table (handoff.lifecycle) says which statuses and roles allow each verb; the rules of handling are
here:

- only the case's holder replies, records findings, proposes or resolves it;
- an answer (a reply, a plan) with a forbidden phrase (handoff.wording) is refused before anything happens;
- a plan goes out at once where ``APPROVAL_POLICY`` needs no approval for the case's risk, else it waits in
  ``awaiting_approval`` for a supervisor of the case's unit or a unit above it, who is not its proposer;
  approved, its answer goes to the customer on their own channel; returned, it goes back to its proposer with
  the reason; ``resolve`` is the one-step form where no approval is needed;
- an escalation moves the case to a higher unit's queue and alerts that unit's supervisors, once;
- a reply or answer goes out before its event is written: a refused or failed one leaves no trace of having
  been sent (only a note when an approved answer could not reach the customer's channel).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from handoff.cases import OUTCOMES, Case, CaseConflict, CaseError, CaseForbidden, CaseStore
from handoff.lifecycle import SUPERVISORS, Role, Status
from handoff.nature import NATURES
from handoff.org import Org
from handoff.queue import AgentQueue
from handoff.wording import forbidden_in

APPROVAL_POLICIES = {"none": (), "high-risk": ("high",), "medium-and-up": ("medium", "high"),
                     "all": ("low", "medium", "high")}
MAX_TEXT = 10_000


class CannotReach(Exception):
    """The customer's channel cannot carry this (a call, a letter): the handler answers them another way."""


class Outbox(Protocol):
    """How answers reach the customer (the router, in the gateway)."""

    async def reply_from_agent(self, case: Case, agent: str, text: str) -> None: ...

    async def notify_status(self, case: Case) -> None: ...

    async def ask_satisfaction(self, case: Case) -> None: ...


class Events(Protocol):
    async def publish(self, case_id: str, status: str, reason: str) -> None: ...


class Alerts(Protocol):
    async def raise_once(self, case: Case, kind: str, detail: str, *, mark: str | None = None,
                         extra: dict[str, Any] | None = None) -> bool: ...


@dataclass(frozen=True, slots=True)
class Staff:
    """Who acts: a handler's name, role and unit."""

    name: str
    role: Role
    unit: str = "hq"

    @property
    def supervises(self) -> bool:
        return self.role in SUPERVISORS


@dataclass(frozen=True, slots=True)
class Plan:
    """A handling plan: the answer to the customer, the outcome, the corrective measures (整改措施), any
    compensation, and what happens to the staff responsible."""

    answer: str
    outcome: str
    measures: str | None = None
    compensation: dict[str, Any] | None = None
    responsible: dict[str, Any] | None = None

    @classmethod
    def from_body(cls, body: dict[str, Any]) -> Plan:
        answer = _required(body.get("answer"), "answer")
        outcome = body.get("outcome")
        if outcome not in OUTCOMES:
            raise CaseError(f"'outcome': one of {', '.join(OUTCOMES)}")
        return cls(answer, str(outcome), _text(body.get("measures"), "measures"),
                   _compensation(body.get("compensation")), _responsible(body.get("responsible")))

    def to_dict(self) -> dict[str, Any]:
        return {"answer": self.answer, "outcome": self.outcome, "measures": self.measures,
                "compensation": self.compensation, "responsible": self.responsible}


class Desk:
    def __init__(self, cases: CaseStore, queue: AgentQueue, outbox: Outbox, events: Events, alerts: Alerts,
                 org: Org, approval_policy: str = "medium-and-up") -> None:
        self._cases = cases
        self._queue = queue
        self._outbox = outbox
        self._events = events
        self._alerts = alerts
        self._org = org
        self._needs_approval = APPROVAL_POLICIES[approval_policy]

    # -- who holds it ------------------------------------------------------------------------------------

    async def claim(self, who: Staff, case_id: str) -> Case:
        case = await self._queue.claim(case_id, who.name, who.role)
        return await self._told(case, "claimed")

    async def next(self, who: Staff, languages: Iterable[str]) -> Case | None:
        case = await self._queue.next(who.name, languages=languages, role=who.role,
                                      units=self._org.below(who.unit))
        return None if case is None else await self._told(case, "claimed")

    async def release(self, who: Staff, case_id: str) -> Case:
        case = await self._queue.release(case_id, who.name, supervisor=who.supervises, role=who.role)
        return await self._told(case, "released")

    async def reassign(self, who: Staff, case_id: str, to: str) -> Case:
        case = await self._queue.reassign(case_id, to, who.name, who.role)
        return await self._told(case, "reassigned")

    # -- what is known -----------------------------------------------------------------------------------

    async def note(self, who: Staff, case_id: str, text: str) -> Case:
        """An internal note, for colleagues only: never sent to the customer."""
        entry = _entry(who, _required(text, "text"))

        def add(case: Case) -> str:
            case.setdefault("notes", []).append(entry)
            return f"note by {who.name}"

        return await self._change(who, case_id, "note", add, "note")

    async def findings(self, who: Staff, case_id: str, text: str) -> Case:
        """What the investigation established (due by the case's ``investigate_by``)."""
        entry = _entry(who, _required(text, "text"))

        def add(case: Case) -> str:
            _must_hold(who, case, "record findings on")
            case.setdefault("findings", []).append(entry)
            return f"findings by {who.name}"

        return await self._change(who, case_id, "findings", add, "findings")

    async def classify(self, who: Staff, case_id: str, nature: str | None, department: str | None) -> Case:
        """The handler says what kind of complaint it is (nature) and who handles it (department)."""
        if nature is not None and nature not in NATURES:
            raise CaseError(f"'nature': one of {', '.join(NATURES)}")
        if department is not None and department not in self._org:
            raise CaseError(f"'department': no unit {department!r} (GET /api/units lists them)")
        if nature is None and department is None:
            raise CaseError("give a 'nature' or a 'department'")
        moved: list[bool] = []

        def set_kind(case: Case) -> str:
            said = []
            if nature is not None:
                said.append(f"nature {case.get('nature')} → {nature}")
                case["nature"] = nature
            if department is not None and department != case.get("department"):
                said.append(f"department {case.get('department') or case.get('unit')} → {department}")
                case["department"] = department
                moved.append(case["status"] in (Status.QUEUED, Status.REOPENED))
            return f"classified by {who.name}: " + "; ".join(said)

        case = await self._change(who, case_id, "triage", set_kind, "classified")
        if moved and moved[0]:
            await self._queue.enqueue(case_id)  # it waits in its new department's queue
        return case

    # -- the answer --------------------------------------------------------------------------------------

    async def propose(self, who: Staff, case_id: str, plan: Plan) -> Case:
        """The handler's plan: it waits for a supervisor where the policy asks for approval, else goes out."""
        _allowed_words(plan.answer, "answer")
        needs: list[bool] = []

        def proposed(case: Case) -> str:
            _must_hold(who, case, "propose an answer to")
            needs.append(case["risk"]["grade"] in self._needs_approval)
            case["proposal"] = {**plan.to_dict(), "by": who.name, "at": _now()}
            case["approval"] = None
            case["status"] = Status.AWAITING_APPROVAL if needs[0] else Status.ANSWERED
            if not needs[0]:
                case["resolution"] = _resolution(plan, who.name)
            return f"plan by {who.name}: {plan.outcome}" + ("; awaiting approval" if needs[0] else "; sent")

        case = await self._change(who, case_id, "propose", proposed, "proposed")
        if needs[0]:
            await self._alerts.raise_once(case, "awaiting_approval", f"plan by {who.name} awaits approval",
                                          mark=f"awaiting_approval:{len(case.get('events') or [])}")
            return case
        return await self._answered(case, who.name, plan.answer)

    async def approve(self, who: Staff, case_id: str) -> Case:
        """A supervisor of the case's unit (or above) approves another's plan: its answer goes out."""
        approved_plan: list[dict[str, Any]] = []

        def approve(case: Case) -> str:
            plan = case.get("proposal") or {}
            if plan.get("by") == who.name:
                raise CaseForbidden("nobody approves their own plan: another supervisor must")
            self._must_supervise(who, case)
            approved_plan.append(plan)
            case["approval"] = {"by": who.name, "at": _now(), "decision": "approved"}
            case["resolution"] = {"summary": plan.get("answer"), "outcome": plan.get("outcome"),
                                  "by": plan.get("by"), "approved_by": who.name}
            return f"plan by {plan.get('by')} approved by {who.name}"

        case = await self._change(who, case_id, "approve", approve, "approved")
        return await self._answered(case, str(approved_plan[0].get("by")), str(approved_plan[0].get("answer")))

    async def return_plan(self, who: Staff, case_id: str, reason: str) -> Case:
        """A supervisor sends the plan back to its proposer, with the reason."""
        why = _required(reason, "reason")
        holder: list[str] = []

        def send_back(case: Case) -> str:
            self._must_supervise(who, case)
            plan = case.get("proposal") or {}
            case["approval"] = {"by": who.name, "at": _now(), "decision": "returned", "reason": why}
            case.setdefault("returned_plans", []).append({**plan, "returned_by": who.name, "reason": why})
            case["status"] = Status.CLAIMED
            case["assignee"] = plan.get("by") or case.get("assignee")
            holder.append(str(case["assignee"]))
            return f"plan returned by {who.name}: {why}"

        case = await self._change(who, case_id, "return", send_back, "returned")
        await self._queue.watch_claim(case_id, holder[0])
        return case

    async def escalate(self, who: Staff, case_id: str, to: str, reason: str) -> Case:
        """To a higher unit, with the reason: the case waits in that unit's queue and its supervisors hear."""
        why = _required(reason, "reason")
        if to not in self._org:
            raise CaseError(f"'to': no unit {to!r} (GET /api/units lists them)")
        holder: list[str | None] = []

        def move(case: Case) -> str:
            here = case.get("department") or case.get("unit") or self._org.head_office.id
            if to == here or here not in self._org.below(to):
                raise CaseError(f"'to': {to} is not a unit above {here}")
            holder.append(case.get("assignee") if case["status"] in (Status.CLAIMED, Status.AWAITING_APPROVAL)
                          else None)
            case.setdefault("escalations", []).append({"at": _now(), "by": who.name, "from": here, "to": to,
                                                       "reason": why})
            case["department"] = to
            case["status"] = Status.QUEUED
            case["assignee"] = None
            return f"escalated by {who.name} from {here} to {to}: {why}"

        case = await self._change(who, case_id, "escalate", move, "escalated")
        if holder[0]:
            await self._queue.finished(case_id, holder[0])
        await self._queue.enqueue(case_id)
        await self._alerts.raise_once(case, "escalated", f"escalated to {to} by {who.name}: {why}",
                                      mark=f"escalated:{to}", extra={"unit": to})
        return case

    async def reply(self, who: Staff, case_id: str, text: str) -> Case:
        """A message to the customer on their channel; on the audit trail once it went out."""
        said = _required(text, "text")
        _allowed_words(said, "text")
        case = await self._cases.get(case_id)
        if case["status"] != Status.CLAIMED:
            raise CaseConflict(f"case {case_id} is {case['status']}; cannot reply")
        _must_hold(who, case, "reply to")
        await self._outbox.reply_from_agent(case, who.name, said)
        return await self._change(who, case_id, "reply", lambda _case: f"reply by {who.name}", "agent_reply")

    async def resolve(self, who: Staff, case_id: str, summary: str, outcome: str) -> Case:
        """The one-step answer where no approval is needed: the outcome and what was done, recorded."""
        plan = Plan(_required(summary, "summary"), outcome)
        if outcome not in OUTCOMES:
            raise CaseError(f"'outcome': one of {', '.join(OUTCOMES)}")

        def answered(case: Case) -> str:
            _must_hold(who, case, "resolve")
            if case["risk"]["grade"] in self._needs_approval:
                raise CaseConflict(f"case {case_id} needs a supervisor's approval: propose the answer instead")
            case["resolution"] = _resolution(plan, who.name)
            return f"resolve by {who.name}: {outcome}"

        case = await self._change(who, case_id, "resolve", answered, "resolved")
        await self._queue.finished(case_id, who.name)
        await self._outbox.notify_status(case)
        await self._outbox.ask_satisfaction(case)
        return case

    async def close(self, who: Staff, case_id: str) -> Case:
        holder: list[str | None] = []

        def closed(case: Case) -> str:
            if case["assignee"] not in (who.name, None) and not who.supervises:
                raise CaseConflict(f"case {case_id} belongs to {case['assignee']}")
            if case["status"] != Status.ANSWERED and not who.supervises:
                raise CaseConflict("resolve the case before closing it (or ask a supervisor)")
            holder.append(case["assignee"])
            return f"closed by {who.name}"

        case = await self._change(who, case_id, "close", closed, "closed")
        if holder[0]:
            await self._queue.finished(case_id, holder[0])
        return case

    # -- inside ------------------------------------------------------------------------------------------

    async def _change(self, who: Staff, case_id: str, action: str, mutate: Any, reason: str) -> Case:
        case = await self._cases.change(case_id, actor=who.name, action=action, mutate=mutate, role=who.role)
        await self._events.publish(case_id, case["status"], reason)
        return await self._cases.get(case_id)

    async def _told(self, case: Case, reason: str) -> Case:
        await self._outbox.notify_status(case)
        await self._events.publish(case["id"], case["status"], reason)
        return await self._cases.get(case["id"])

    async def _answered(self, case: Case, by: str, answer: str) -> Case:
        """The answer goes to the customer; the claim is done; the satisfaction question follows."""
        if case.get("assignee"):
            await self._queue.finished(case["id"], str(case["assignee"]))
        try:
            await self._outbox.reply_from_agent(case, by, answer)
        except CannotReach as exc:
            await self._cases.change(case["id"], actor="system", action="note", role=Role.SYSTEM,
                                     mutate=_system_note(f"the answer could not go out on the customer's channel "
                                                         f"({exc}): tell them by phone or letter, and note it"))
        await self._outbox.notify_status(case)
        await self._outbox.ask_satisfaction(case)
        return await self._cases.get(case["id"])

    def _must_supervise(self, who: Staff, case: Case) -> None:
        where = case.get("department") or case.get("unit") or self._org.head_office.id
        if not who.supervises or where not in self._org.below(who.unit):
            raise CaseForbidden(f"only a supervisor of {where} or a unit above it may do this")


def _must_hold(who: Staff, case: Case, action: str) -> None:
    if case.get("assignee") != who.name:
        raise CaseConflict(f"claim case {case['id']} before you {action} it")


def _allowed_words(text: str, field: str) -> None:
    phrase = forbidden_in(text)
    if phrase is not None:
        raise CaseError(f"'{field}': never say \u201c{phrase}\u201d to a customer (it argues or blames); "
                        "acknowledge, apologise for the trouble, explain and help instead")


def _entry(who: Staff, text: str) -> dict[str, Any]:
    return {"at": _now(), "by": who.name, "text": text}


def _system_note(text: str) -> Any:
    def add(case: Case) -> str:
        case.setdefault("notes", []).append({"at": _now(), "by": "system", "text": text})
        return text

    return add


def _resolution(plan: Plan, by: str) -> dict[str, Any]:
    return {"summary": plan.answer, "outcome": plan.outcome, "by": by}


def _text(value: Any, field: str) -> str | None:
    """Optional text: None when absent or blank."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    return _required(value, field)


def _required(value: Any, field: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise CaseError(f"'{field}' is required and must be text")
    if len(value) > MAX_TEXT:
        raise CaseError(f"'{field}' is at most {MAX_TEXT} characters")
    return value.strip()


def _compensation(value: Any) -> dict[str, Any] | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise CaseError("'compensation': {\"amount\", \"currency\"} or null")
    amount, currency = value.get("amount"), value.get("currency")
    if isinstance(amount, bool) or not isinstance(amount, int | float) or amount < 0:
        raise CaseError("'compensation.amount' is a number, zero or more")
    if not isinstance(currency, str) or len(currency.strip()) != 3 or not currency.strip().isalpha():
        raise CaseError("'compensation.currency' is a three-letter code such as CNY")
    return {"amount": amount, "currency": currency.strip().upper()}


def _responsible(value: Any) -> dict[str, Any] | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise CaseError("'responsible': {\"staff\", \"action\"} or null")
    return {"staff": _required(value.get("staff"), "responsible.staff"),
            "action": _required(value.get("action"), "responsible.action")}


def _now() -> str:
    return datetime.now(UTC).isoformat()

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
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from handoff.cases import OUTCOMES, Case, CaseConflict, CaseError, CaseForbidden, CaseStore
from handoff.lifecycle import SUPERVISORS, Role, Status
from handoff.nature import NATURES
from handoff.org import Org
from handoff.queue import AgentQueue
from handoff.risk import RiskRules, default_rules
from handoff.sla import Period, SlaPolicy
from handoff.wording import forbidden_in

VISIT_METHODS = ("phone", "sms", "email", "webchat", "visit", "letter", "other")
LOW_SCORE = 2  # a score of this or less is a dissatisfied customer
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

    async def tell(self, case: Case, text: str) -> None: ...

    def can_survey(self, case: Case) -> bool: ...


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


@dataclass(frozen=True, slots=True)
class Visit:
    """A return visit (回访): when, how, whether the customer was reached, their score, whether the corrective
    measures were found carried out, and a note."""

    at: datetime
    method: str
    reached: bool
    score: int | None = None
    measures_verified: bool | None = None
    note: str | None = None

    @classmethod
    def from_body(cls, body: dict[str, Any], now: datetime) -> Visit:
        method = body.get("method")
        if method not in VISIT_METHODS:
            raise CaseError(f"'method': one of {', '.join(VISIT_METHODS)}")
        reached, score, verified = body.get("reached"), body.get("score"), body.get("measures_verified")
        if not isinstance(reached, bool):
            raise CaseError("'reached': true or false")
        if score is not None and (isinstance(score, bool) or score not in range(1, 6)):
            raise CaseError("'score': 1 to 5, or null")
        if verified is not None and not isinstance(verified, bool):
            raise CaseError("'measures_verified': true, false or null")
        if not reached and (score is not None or verified is not None):
            raise CaseError("'score' and 'measures_verified' need a customer who was reached")
        return cls(_moment(body.get("at"), now), str(method), reached, score, verified, _text(body.get("note"), "note"))

    def to_dict(self) -> dict[str, Any]:
        return {"at": self.at.isoformat(), "method": self.method, "reached": self.reached, "score": self.score,
                "measures_verified": self.measures_verified, "note": self.note}


@dataclass(frozen=True, slots=True)
class AfterAnswer:
    """The firm's settings for what follows the answer."""

    visit_after: int = 3  # working days after the answer the return visit is due
    attempts: int = 3  # tries to reach the customer before the case closes as not reached
    mediation: dict[str, str] = field(default_factory=lambda: {"zh": "", "en": ""})
    sla: SlaPolicy = field(default_factory=SlaPolicy)
    rules: RiskRules = field(default_factory=default_rules)  # its [[deadlines]] may set the visit's for a case

    def visit_due(self, after: datetime, case: Case | None = None) -> str:
        """When the return visit is due: the rules' period for the case's product or nature, else the firm's."""
        period = Period(self.visit_after)
        if case is not None:
            product, nature = (case.get("complaint") or {}).get("product"), case.get("nature")
            period = self.rules.deadlines_for(product, nature).get("return_visit", period)
        return self.sla.after(after, period).isoformat()

    def retry_due(self, after: datetime) -> str:
        """The next try to reach the customer: the next working day."""
        return self.sla.after(after, Period(1)).isoformat()


def judge_visit(case: Case, visit: Visit, by: str, policy: AfterAnswer) -> str:
    """What a return visit (or the customer's answer to the survey) means for the case, applied to it: closed
    (satisfied, or not reached after the last try), the next try due, reopened to its handler (a low score, the
    measures not carried out), or closed with a referral to mediation (dissatisfied after a second answer).
    Returns the outcome: closed, not_reached, retry, reopened or referred."""
    case.setdefault("return_visits", []).append({**visit.to_dict(), "by": by})
    plan = case.get("return_visit") or {"due": None, "attempts": 0}
    case["return_visit"] = plan
    if not visit.reached:
        plan["attempts"] = int(plan.get("attempts") or 0) + 1
        if plan["attempts"] >= policy.attempts:
            case["status"], case["closed_as"] = Status.CLOSED, "not_reached"
            return "not_reached"
        plan["due"] = policy.retry_due(visit.at)
        return "retry"
    plan["due"] = None
    if visit.score is not None:
        case["satisfaction"] = {"score": visit.score, "at": visit.at.isoformat(), "via": visit.method}
    if not ((visit.score is not None and visit.score <= LOW_SCORE) or visit.measures_verified is False):
        case["status"], case["closed_as"] = Status.CLOSED, "satisfied"
        return "closed"
    if int(case.get("reopened") or 0) >= 1:
        case["status"], case["closed_as"] = Status.CLOSED, "referred"
        case["referral"] = {"at": visit.at.isoformat(), "to": "mediation_or_arbitration"}
        return "referred"
    case["reopened"] = int(case.get("reopened") or 0) + 1
    case["status"] = Status.REOPENED
    case["assignee"] = (case.get("resolution") or {}).get("by") or case.get("assignee")
    return "reopened"


class Desk:
    def __init__(self, cases: CaseStore, queue: AgentQueue, outbox: Outbox, events: Events, alerts: Alerts,
                 org: Org, approval_policy: str = "medium-and-up", after: AfterAnswer | None = None) -> None:
        self._cases = cases
        self._queue = queue
        self._outbox = outbox
        self._events = events
        self._alerts = alerts
        self._org = org
        self._needs_approval = APPROVAL_POLICIES[approval_policy]
        self._after = after or AfterAnswer()

    def needs_approval(self, case: Case) -> bool:
        """Whether a plan for this case waits for a supervisor (APPROVAL_POLICY and the case's risk grade)."""
        return bool((case.get("risk") or {}).get("grade") in self._needs_approval)

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
                case["return_visit"] = {"due": self._after.visit_due(datetime.now(UTC), case), "attempts": 0}
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
            case["return_visit"] = {"due": self._after.visit_due(datetime.now(UTC), case), "attempts": 0}
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
            case["return_visit"] = {"due": self._after.visit_due(datetime.now(UTC), case), "attempts": 0}
            return f"resolve by {who.name}: {outcome}"

        case = await self._change(who, case_id, "resolve", answered, "resolved")
        await self._queue.finished(case_id, who.name)
        await self._outbox.notify_status(case)
        await self._outbox.ask_satisfaction(case)
        return case

    async def return_visit(self, who: Staff, case_id: str, visit: Visit) -> Case:
        """The handler logs a return visit (a call made, a visit paid): it closes, retries, reopens or refers."""
        outcome: list[str] = []

        def visited(case: Case) -> str:
            outcome.append(judge_visit(case, visit, who.name, self._after))
            return _visit_detail(who.name, visit, outcome[0], self._after.attempts)

        case = await self._change(who, case_id, "return_visit", visited, "return_visit")
        return await self._after_visit(case, outcome[0])

    async def follow_up(self, who: Staff, case_id: str, on: str, note: str | None) -> Case:
        """A date to come back to the case (the desk lists what is due)."""
        try:
            day = datetime.fromisoformat(on).date() if "T" in on else datetime.strptime(on, "%Y-%m-%d").date()
        except (TypeError, ValueError):
            raise CaseError("'on': a date such as 2026-12-10") from None
        entry = {"on": day.isoformat(), "note": _text(note, "note"), "by": who.name, "at": _now()}

        def set_date(case: Case) -> str:
            case["follow_up"] = entry
            return f"follow-up on {day.isoformat()} set by {who.name}"

        return await self._change(who, case_id, "follow_up", set_date, "follow_up")

    async def flag(self, who: Staff, case_id: str, typical: bool, reason: str | None) -> Case:
        """A handler marks the case as typical (or not), for the quarterly analysis's case studies."""
        entry = {"reason": _required(reason, "reason"), "by": who.name, "at": _now()} if typical else None

        def mark(case: Case) -> str:
            case["typical"] = entry
            return f"flagged typical by {who.name}: {reason}" if typical else f"typical flag removed by {who.name}"

        return await self._change(who, case_id, "flag", mark, "flagged")

    async def customer_rated(self, case: Case, score: int, channel: str) -> tuple[Case, str]:
        """The customer answered the satisfaction question on their channel: the same judgement as a visit."""
        outcome: list[str] = []
        visit = Visit(datetime.now(UTC), channel, True, score)

        def rated(record: Case) -> str:
            record["survey"] = "answered"
            outcome.append(judge_visit(record, visit, "customer", self._after))
            return f"customer satisfaction {score}/5" + {"reopened": "; reopened", "referred": "; referred to "
                                                        "mediation"}.get(outcome[0], "")

        changed = await self._cases.change(case["id"], actor="customer", action="satisfaction", mutate=rated,
                                           role=Role.CUSTOMER)
        await self._events.publish(case["id"], changed["status"], "satisfaction")
        return await self._after_visit(changed, outcome[0]), outcome[0]

    async def sweep_return_visits(self, now: datetime | None = None) -> list[str]:
        """Answered cases whose return visit is due: a customer the survey can reach is asked again (up to the
        tries, then the case closes as not reached); for the others the handlers are alerted, once per try."""
        now = now or datetime.now(UTC)
        touched = []
        for case in await self._cases.list(status=Status.ANSWERED):
            due = (case.get("return_visit") or {}).get("due")
            if not due or datetime.fromisoformat(due) > now:
                continue
            touched.append(case["id"])
            if self._outbox.can_survey(case):
                await self._survey_unanswered(case, now)
            else:
                tries = int((case.get("return_visit") or {}).get("attempts") or 0)
                await self._alerts.raise_once(case, "return_visit_due", "a return visit is due: call the customer "
                                              "and log it", mark=f"return_visit_due:{tries}")
        return touched

    async def _survey_unanswered(self, case: Case, now: datetime) -> None:
        visit = Visit(now, "survey", False)
        outcome: list[str] = []

        def unanswered(record: Case) -> str:
            outcome.append(judge_visit(record, visit, "system", self._after))
            return "the satisfaction question went unanswered" + (
                "; closed as not reached" if outcome[0] == "not_reached" else "; asked again")

        changed = await self._cases.change(case["id"], actor="system", action="return_visit", mutate=unanswered)
        await self._events.publish(case["id"], changed["status"], "return_visit")
        if outcome[0] == "retry":
            await self._outbox.ask_satisfaction(changed)

    async def _after_visit(self, case: Case, outcome: str) -> Case:
        if outcome == "reopened":
            handler = case.get("assignee")
            await self._alerts.raise_once(case, "reopened", f"the customer is not satisfied; back to {handler}",
                                          mark=f"reopened:{case.get('reopened')}")
        elif outcome == "referred":
            text = self._after.mediation.get(case.get("language") or "en") or ""
            try:
                if text:
                    await self._outbox.tell(case, text)
            except CannotReach:
                await self._cases.change(case["id"], actor="system", action="note", role=Role.SYSTEM,
                                         mutate=_system_note(f"tell the customer about mediation and arbitration: "
                                                             f"{text}"))
        await self._outbox.notify_status(case)
        return await self._cases.get(case["id"])

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


def _visit_detail(by: str, visit: Visit, outcome: str, attempts: int) -> str:
    said = {"closed": "satisfied; closed", "not_reached": f"not reached after {attempts} tries; closed",
            "retry": "not reached; tried again later", "reopened": "dissatisfied; reopened to its handler",
            "referred": "still dissatisfied after a second answer; told about mediation and arbitration"}[outcome]
    score = f", score {visit.score}" if visit.score is not None else ""
    measures = {True: ", measures carried out", False: ", measures NOT carried out", None: ""}[visit.measures_verified]
    return f"return visit by {by} ({visit.method}{score}{measures}): {said}"


def _moment(value: Any, now: datetime) -> datetime:
    if value in (None, ""):
        return now
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        raise CaseError("'at': an ISO 8601 date and time") from None
    moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    if moment > now + timedelta(minutes=5):
        raise CaseError("'at' is in the future")
    return moment


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

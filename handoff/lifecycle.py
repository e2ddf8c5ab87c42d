"""A case's life in one place: its statuses, the shape of its record, and the one table of transitions every
change goes through (``CaseStore.change`` refuses anything else).

    intake ─► queued ─claim─► claimed ─propose─► awaiting_approval ─approve─► answered ─satisfied─► closed
                ▲  ◄─release/reclaim─┘  │  ▲            │ return                 │ dissatisfied
                │                       │  └────────────┘                        ▼
                └──────── escalate ─────┴──resolve (no approval needed)──►  answered    reopened ─► claim …

Each transition names the statuses it leaves, the statuses it may arrive at (none: the status stays), and the
roles that may make it. A handler's own rules (only the holder replies; nobody approves their own plan) are the
desk's (``handoff.desk``); who may do what at all is here.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any, TypedDict


class Status(StrEnum):
    COLLECTING = "collecting"  # the bot is still gathering the record (no case is opened in this state today)
    QUEUED = "queued"  # waiting for a handler, in its lane and desk
    CLAIMED = "claimed"  # a handler works on it
    AWAITING_APPROVAL = "awaiting_approval"  # a handling plan waits for a supervisor's approval
    ANSWERED = "answered"  # the customer has the answer; their satisfaction and the return visit follow
    CLOSED = "closed"  # done: kept for the retention period
    REOPENED = "reopened"  # back for a handler (the customer was not satisfied)


class Role(StrEnum):
    CUSTOMER = "customer"
    BOT = "bot"
    SYSTEM = "system"  # the gateway itself: sweeps, surveys, deadlines
    AGENT = "agent"
    SUPERVISOR = "supervisor"
    ADMIN = "admin"


STATUSES = tuple(Status)
OPEN = frozenset(Status) - {Status.CLOSED}
STAFF = frozenset({Role.AGENT, Role.SUPERVISOR, Role.ADMIN})
SUPERVISORS = frozenset({Role.SUPERVISOR, Role.ADMIN})
WAITING = frozenset({Status.QUEUED, Status.REOPENED})


@dataclass(frozen=True, slots=True)
class Transition:
    action: str
    sources: frozenset[Status]
    targets: frozenset[Status]  # empty: the status stays as it was
    roles: frozenset[Role]

    def allows(self, status: str, role: Role) -> bool:
        return status in self.sources and role in self.roles


def _t(action: str, sources: frozenset[Status] | set[Status], targets: set[Status],
       roles: frozenset[Role]) -> Transition:
    return Transition(action, frozenset(sources), frozenset(targets), roles)


KEEP: set[Status] = set()
TRANSITIONS: dict[str, Transition] = {t.action: t for t in (
    _t("claim", WAITING, {Status.CLAIMED}, STAFF),
    _t("release", {Status.CLAIMED}, {Status.QUEUED}, STAFF),
    _t("reclaim", {Status.CLAIMED}, {Status.QUEUED}, frozenset({Role.SYSTEM})),
    _t("reassign", WAITING | {Status.CLAIMED}, {Status.CLAIMED}, SUPERVISORS),
    _t("note", frozenset(Status), KEEP, STAFF | {Role.SYSTEM}),
    _t("findings", {Status.CLAIMED}, KEEP, STAFF),
    _t("propose", {Status.CLAIMED}, {Status.AWAITING_APPROVAL, Status.ANSWERED}, STAFF),
    _t("approve", {Status.AWAITING_APPROVAL}, {Status.ANSWERED}, SUPERVISORS),
    _t("return", {Status.AWAITING_APPROVAL}, {Status.CLAIMED}, SUPERVISORS),
    _t("escalate", WAITING | {Status.CLAIMED, Status.AWAITING_APPROVAL}, {Status.QUEUED}, STAFF),
    # The desk checks the case is claimed before a reply goes out; once out, it is recorded whatever came since.
    _t("reply", OPEN, KEEP, STAFF),
    _t("resolve", {Status.CLAIMED}, {Status.ANSWERED}, STAFF),
    _t("close", OPEN - {Status.COLLECTING}, {Status.CLOSED}, STAFF),
    _t("survey", {Status.ANSWERED}, KEEP, frozenset({Role.SYSTEM})),
    _t("satisfaction", {Status.ANSWERED}, {Status.CLOSED, Status.REOPENED}, frozenset({Role.CUSTOMER})),
    # The return visit after the answer: satisfied, it closes; not reached, it waits for the next try (or closes
    # as not reached); dissatisfied or the measures not carried out, it reopens to its handler.
    _t("return_visit", {Status.ANSWERED}, {Status.ANSWERED, Status.CLOSED, Status.REOPENED},
       STAFF | {Role.SYSTEM}),
    _t("follow_up", OPEN, KEEP, STAFF),
    _t("flag", frozenset(Status), KEEP, STAFF),  # a typical case, for the quarter's case studies
    _t("complete", OPEN, KEEP, frozenset({Role.CUSTOMER, Role.BOT})),
    _t("triage", OPEN, KEEP, STAFF | {Role.SYSTEM}),  # nature, department, priority set by a person
)}
# How a case comes to be: an intake (the bot, a channel, the gateway) or a staff member's registration.
OPENINGS: dict[str, frozenset[Role]] = {
    "created": frozenset({Role.BOT, Role.SYSTEM, Role.CUSTOMER}),
    "register": STAFF,
}


class CaseDocument(TypedDict, total=False):
    """A case as Redis, the record and the API hold it (the API's ``Case``, gateway/openapi.py)."""

    id: str
    channel: str
    conversation_id: str
    language: str
    script: str | None
    status: str
    handoff_reason: str
    received_at: str
    created_at: str
    updated_at: str
    incomplete: bool
    missing: list[str]
    unit: str
    department: str | None
    nature: str | None
    risk: dict[str, Any]
    priority: str
    customer: dict[str, Any]
    complaint: dict[str, Any]
    preliminary_opinion: str | None
    registered_by: str | None
    deadlines: dict[str, str]
    assignee: str | None
    unverified: list[str]
    attachments: list[dict[str, Any]]
    resolution: dict[str, Any] | None
    return_visit: dict[str, Any] | None  # {due, attempts}: when the next visit is due, how many tries so far
    follow_up: dict[str, Any] | None  # {on, note, by}: a date the handler set to come back to the case
    referral: dict[str, Any] | None  # {at, to}: told about mediation and arbitration
    typical: dict[str, Any] | None  # {reason, by, at}: flagged by a handler for the quarter's case studies
    notes: list[dict[str, Any]]
    findings: list[dict[str, Any]]
    proposal: dict[str, Any] | None
    approval: dict[str, Any] | None
    escalations: list[dict[str, Any]]
    return_visits: list[dict[str, Any]]
    satisfaction: dict[str, Any] | None
    survey: str
    messages: list[dict[str, Any]]
    events: list[dict[str, Any]]


def role_of(name: str) -> Role:
    """The role of a handler's account role name ("agent", "supervisor", "admin")."""
    return Role(name)

"""The register (记录表): the complaint record in the form securities firms keep it, one entry per case, and each
unit's month of entries, which goes to head office within the first three trading days of the next month.

An entry has exactly the register's fields (``FIELDS``, in the register's order), each read from the case as it
is in the system of record:

    受理日期 received_at, as a day in the desk's time zone      受理人 who registered it, the channel's assistant
    受理单位 the receiving unit's name (ORG_FILE)                      (在线助理), or the first handler who claimed it
    投诉人 the customer's name      联系方式 phone and email        投诉事由 product and nature, and the story's start
    发生时间 / 地点 when and where it happened                        涉及部门及人员 department and people involved
    事情经过 the customer's account    客户诉求 what they ask for    性质 服务环境/服务产品/服务态度/服务流程/其他
    初步处理意见 the receiver's opinion   调查核实情况 the findings     处理意见 the answer and its outcome
    整改措施 corrective measures   赔偿 compensation   责任人处理 the staff responsible and what happens to them
    审批 approvals, returns and escalations   答复日期 each time an answer went out   回访情况 return visits
    客户满意度 the customer's score

Contacts are shown in full: the register is the firm's internal compliance record (the rules ask for the
complainant's contact, and head office uses it for return visits), read only by supervisors and admins, and the
gateway logs who produced which register, never its content. Each entry carries the SHA-256 of its case as
``complaint-gateway export`` computes it, so an entry can be checked against the full record.

A unit's month is the cases the unit received in that month (days in the desk's time zone). Producing it as a
file (HTML, CSV or PDF; by the command line or the records page) leaves a row in ``register_runs``;
``check_registers`` alerts head office once per unit and month when a unit that must file (head office, each
branch, any unit that received a complaint that month) has none by the end of the third trading day of the
next month. Trading days are the desk calendar's working days that are not weekend days: mainland China's
make-up Saturdays and Sundays are working days but the exchanges are shut.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any, Literal, Protocol
from zoneinfo import ZoneInfo

from sqlalchemy import and_, insert, or_, select
from sqlalchemy.ext.asyncio import AsyncEngine

from handoff import labels
from handoff.org import Org
from handoff.sla import SlaPolicy
from records.export import CaseExport, digest, load_case, load_cases
from records.reading import Source, reading
from records.record import answers, as_utc, measures_verified, paid_compensation, satisfaction_score
from records.reports.analysis import Period, period_of
from records.tables import CaseRow, RegisterRunRow

log = logging.getLogger(__name__)

RegisterFormat = Literal["html", "csv", "pdf"]
REGISTER_FORMATS: tuple[RegisterFormat, ...] = ("html", "csv", "pdf")
# (key, Chinese name, English label): the register's fields in its order.
FIELDS: tuple[tuple[str, str, str], ...] = (
    ("received_date", "受理日期", "Date received"),
    ("receiver", "受理人", "Received by"),
    ("unit", "受理单位", "Receiving unit"),
    ("complainant", "投诉人", "Complainant"),
    ("contact", "联系方式", "Contact"),
    ("subject", "投诉事由", "Subject of the complaint"),
    ("incident_time", "发生时间", "When it happened"),
    ("place", "地点", "Where"),
    ("involved", "涉及部门及人员", "Department and staff involved"),
    ("account", "事情经过", "What happened"),
    ("request", "客户诉求", "What the customer asks for"),
    ("nature", "性质", "Nature"),
    ("preliminary_opinion", "初步处理意见", "Preliminary opinion"),
    ("findings", "调查核实情况", "Investigation findings"),
    ("decision", "处理意见", "Decision (answer and outcome)"),
    ("measures", "整改措施", "Corrective measures"),
    ("compensation", "赔偿", "Compensation"),
    ("responsible", "责任人处理", "Action on the staff responsible"),
    ("approval", "审批", "Approval"),
    ("answered_date", "答复日期", "Date answered"),
    ("return_visits", "回访情况", "Return visits"),
    ("satisfaction", "客户满意度", "Customer satisfaction"),
)
FIELD_NAMES: tuple[str, ...] = tuple(zh for _, zh, _ in FIELDS)
TRADING_DAYS_TO_FILE = 3
# How staff visit a customer again without a channel adapter; a channel's own name comes with the assistants.
VISIT_METHODS = {"phone": "电话", "in_person": "当面", "letter": "信函"}
SCORES = {1: "非常不满意", 2: "不满意", 3: "基本满意", 4: "满意", 5: "非常满意"}
NOTHING = "无"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


# --- one entry -------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Entry:
    """One case's register entry: its fields by Chinese name, in the register's order."""

    case_id: str
    unit: str
    fields: dict[str, str | None]
    sha256: str

    def to_dict(self) -> dict[str, Any]:
        return {"case_id": self.case_id, "unit": self.unit, "sha256": self.sha256, "fields": dict(self.fields)}


def entry(export: CaseExport, org: Org, zone: str, assistants: labels.Names | None = None) -> Entry:
    """The register entry of a case from the record (``records.export.load_case``). ``assistants`` names the
    channels where the bot takes the complaint down (the gateway's adapters but the after-the-fact ones)."""
    assistants = assistants or {}
    case, events = export.case, export.events
    tz = ZoneInfo(zone)
    complaint, customer = case.get("complaint") or {}, case.get("customer") or {}
    values: dict[str, str | None] = {
        "received_date": _day(case.get("received_at") or case.get("created_at"), tz),
        "receiver": receiver(case, events, assistants),
        "unit": _unit_name(org, case.get("unit")),
        "complainant": _text(customer.get("name")),
        "contact": _contact(customer),
        "subject": subject(case),
        "incident_time": _incident_time(complaint, tz),
        "place": _text(complaint.get("place")),
        "involved": _joined([_unit_name(org, case.get("department")) if case.get("department") else None,
                             _text(complaint.get("people_involved"))]),
        "account": _text(complaint.get("description")),
        "request": _text(complaint.get("desired_resolution")),
        "nature": labels.name(labels.NATURES, case.get("nature") or "unknown", "zh"),
        "preliminary_opinion": _text(case.get("preliminary_opinion")),
        "findings": _entries(case.get("findings"), tz),
        "decision": _decision(case),
        "measures": _measures(case),
        "compensation": _compensation(case),
        "responsible": _responsible(case),
        "approval": _approval(case, events, org, tz),
        "answered_date": _joined([_day(e.get("at"), tz) for e in answers(events)]),
        "return_visits": _visits(case.get("return_visits"), tz, assistants),
        "satisfaction": _satisfaction(case),
    }
    fields = {zh: values[key] for key, zh, _ in FIELDS}
    return Entry(str(case.get("id")), str(case.get("unit") or org.head_office.id), fields, digest(export.body()))


def receiver(case: dict[str, Any], events: Sequence[dict[str, Any]], assistants: labels.Names) -> str | None:
    """Who took the complaint down: the staff member who registered it, the channel's online assistant, or the
    first handler who claimed it."""
    if case.get("registered_by"):
        return str(case["registered_by"])
    channel = str(case.get("channel") or "")
    if channel in assistants:
        return f"在线助理（{labels.name(assistants, channel, 'zh')}）"
    first = next((e for e in events if e.get("action") in ("claim", "reassign")), None)
    return str(first.get("actor")) if first else None


def subject(case: dict[str, Any]) -> str:
    """投诉事由 in one line: the product and the nature, and how the customer's account begins."""
    complaint = case.get("complaint") or {}
    product = labels.name(labels.PRODUCTS, complaint.get("product") or "unknown", "zh")
    nature = labels.name(labels.NATURES, case.get("nature") or "unknown", "zh")
    story = " ".join(str(complaint.get("description") or "").split())
    start = story if len(story) <= 40 else story[:39] + "…"
    return f"{product}（{nature}）" + (f"：{start}" if start else "")


def _unit_name(org: Org, unit_id: Any) -> str | None:
    if not unit_id:
        return None
    unit = org.units.get(str(unit_id))
    return unit.name_zh if unit else str(unit_id)


def _text(value: Any) -> str | None:
    text = str(value).strip() if value is not None else ""
    return text or None


def _joined(parts: Iterable[str | None], separator: str = "；") -> str | None:
    kept = [part for part in parts if part]
    return separator.join(kept) if kept else None


def _moment(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return as_utc(value)
    try:
        return as_utc(datetime.fromisoformat(str(value))) if value else None
    except ValueError:
        return None


def _day(value: Any, tz: ZoneInfo) -> str | None:
    moment = _moment(value)
    return moment.astimezone(tz).date().isoformat() if moment else None


def _minute(value: Any, tz: ZoneInfo) -> str | None:
    moment = _moment(value)
    return moment.astimezone(tz).strftime("%Y-%m-%d %H:%M") if moment else None


def _contact(customer: dict[str, Any]) -> str | None:
    found = _joined([_text(customer.get("phone")), _text(customer.get("email"))])
    if found is None and customer.get("contact_declined"):
        return "客户未提供"
    return found


def _incident_time(complaint: dict[str, Any], tz: ZoneInfo) -> str | None:
    when = _minute(complaint.get("incident_time"), tz) or _text(complaint.get("incident_time"))
    said = _text(complaint.get("incident_time_text"))
    if when and said and said != when:
        return f"{when}（客户原话：{said}）"
    return when or said


def _entries(items: Any, tz: ZoneInfo) -> str | None:
    """Notes or findings, one a line: when, who, what."""
    lines = [f"{_minute(item.get('at'), tz) or ''} {item.get('by') or ''}：{item.get('text') or ''}".strip()
             for item in items or () if isinstance(item, dict)]
    return "\n".join(lines) or None


def _decision(case: dict[str, Any]) -> str | None:
    plan, resolution = case.get("proposal") or {}, case.get("resolution") or {}
    answer = plan.get("answer") or resolution.get("summary")
    outcome = plan.get("outcome") or resolution.get("outcome")
    if not answer:
        return None
    said = f"处理结果：{labels.name(labels.OUTCOMES, outcome, 'zh')}" if outcome else ""
    waiting = "（待审批）" if case.get("status") == "awaiting_approval" else ""
    return f"{answer}（{said}）{waiting}" if said else f"{answer}{waiting}"


def _measures(case: dict[str, Any]) -> str | None:
    plan = case.get("proposal")
    if not plan:
        return None
    measures = _text(plan.get("measures"))
    if measures is None:
        return NOTHING
    verified = measures_verified(case)
    return f"{measures}（回访核实：{'已落实' if verified else '尚未核实'}）"


def _compensation(case: dict[str, Any]) -> str | None:
    plan = case.get("proposal")
    if not plan:
        return None
    offered = plan.get("compensation")
    if not isinstance(offered, dict):
        return NOTHING
    paid = paid_compensation(case)
    amount, currency = paid if paid else (offered.get("amount"), offered.get("currency"))
    shown = f"{currency} {amount:,.2f}" if isinstance(amount, int | float | Decimal) else f"{currency} {amount}"
    return shown if paid else f"{shown}（方案待审批，未支付）"


def _responsible(case: dict[str, Any]) -> str | None:
    plan = case.get("proposal")
    if not plan:
        return None
    responsible = plan.get("responsible")
    if not isinstance(responsible, dict):
        return NOTHING
    return f"{responsible.get('staff') or ''}：{responsible.get('action') or ''}"


def _approval(case: dict[str, Any], events: Sequence[dict[str, Any]], org: Org, tz: ZoneInfo) -> str | None:
    """Every decision on a plan (approved, returned with the reason), every escalation, in order; or that the
    answer needed no approval."""
    returned = iter(case.get("returned_plans") or ())
    steps: list[tuple[datetime, str]] = []
    for event in events:
        action, at = event.get("action"), _moment(event.get("at")) or _EPOCH
        when = at.astimezone(tz).strftime("%Y-%m-%d %H:%M")
        if action == "approve":
            steps.append((at, f"{when} {event.get('actor')} 审批同意"))
        elif action == "return":
            reason = (next(returned, None) or {}).get("reason") or ""
            steps.append((at, f"{when} {event.get('actor')} 退回" + (f"：{reason}" if reason else "")))
        elif action == "propose" and event.get("after") == "answered":
            steps.append((at, f"{when} 按审批规则无需审批，直接答复"))
        elif action == "resolve":
            steps.append((at, f"{when} {event.get('actor')} 直接答复（无需审批）"))
    for step in case.get("escalations") or ():
        if isinstance(step, dict):
            at = _moment(step.get("at")) or _EPOCH
            steps.append((at, f"{at.astimezone(tz):%Y-%m-%d %H:%M} {step.get('by')} 上报"
                              f"{_unit_name(org, step.get('to'))}：{step.get('reason') or ''}"))
    if not steps and case.get("status") == "awaiting_approval":
        return "待审批"
    return "\n".join(line for _, line in sorted(steps, key=lambda step: step[0])) or None


def _visits(visits: Any, tz: ZoneInfo, channels: labels.Names) -> str | None:
    methods = {**VISIT_METHODS, **{code: chinese for code, (_, chinese) in channels.items()}}
    lines = []
    for visit in visits or ():
        if not isinstance(visit, dict):
            continue
        method = str(visit.get("method") or "")
        method = f"{methods.get(method, method)}回访" if method else "回访"
        reached = "已联系上" if visit.get("reached") else "未联系上"
        parts = [_minute(visit.get("at"), tz), method, reached]
        if visit.get("score") is not None:
            parts.append(f"满意度 {visit.get('score')}")
        if visit.get("measures_verified") is not None:
            parts.append("整改措施已落实" if visit.get("measures_verified") else "整改措施未落实")
        if visit.get("note"):
            parts.append(str(visit["note"]))
        if visit.get("by"):
            parts.append(f"回访人 {visit['by']}")
        lines.append("，".join(part for part in parts if part))
    return "\n".join(lines) or None


def _satisfaction(case: dict[str, Any]) -> str | None:
    score = satisfaction_score(case)
    if score is None:
        return None
    return f"{score}（{SCORES.get(score, '')}）" if score in SCORES else str(score)


async def case_entry(source: Source, case_id: str, org: Org, zone: str,
                     assistants: labels.Names | None = None) -> Entry:
    """The register entry of one case in the record; CaseNotFound if there is none."""
    return entry(await load_case(source, case_id), org, zone, assistants)


# --- a unit's month --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MonthRegister:
    unit: str
    unit_zh: str
    unit_en: str
    month: Period
    zone: str
    generated_at: datetime
    entries: tuple[Entry, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"unit": {"id": self.unit, "name": {"zh": self.unit_zh, "en": self.unit_en}},
                "month": self.month.label, "zone": self.zone, "generated_at": self.generated_at.isoformat(),
                "fields": [{"zh": zh, "en": en} for _, zh, en in FIELDS],
                "entries": [e.to_dict() for e in self.entries]}


class RegisterError(ValueError):
    """A register that cannot be made as asked (an unknown unit, a month that cannot be read)."""


async def month_register(source: Source, org: Org, unit: str, month: str | Period, zone: str,
                         assistants: labels.Names | None = None) -> MonthRegister:
    """The entries of every case ``unit`` received in ``month``, in the order received."""
    if unit not in org:
        raise RegisterError(f"no unit {unit!r} (GET /api/units lists them)")
    period = month if isinstance(month, Period) else period_of(month)
    if not period.is_month:
        raise RegisterError("a register is of one month, such as 2026-11")
    start, end = period.bounds(ZoneInfo(zone))
    here = CaseRow.unit == unit
    if unit == org.head_office.id:  # a case from before units were recorded was received by head office
        here = or_(here, CaseRow.unit.is_(None))
    query = (select(CaseRow.id).where(and_(here, CaseRow.received_at >= start, CaseRow.received_at < end))
             .order_by(CaseRow.received_at, CaseRow.id))
    async with reading(source) as db:
        ids = list((await db.execute(query)).scalars().all())
        exports = await load_cases(db, ids)
    found = org.units[unit]
    return MonthRegister(unit, found.name_zh, found.name_en, period, zone, datetime.now(UTC),
                         tuple(entry(export, org, zone, assistants) for export in exports))


async def record_run(engine: AsyncEngine, register: MonthRegister, fmt: str, by: str) -> None:
    """Put on the record that ``by`` produced this unit's month as a ``fmt`` file."""
    row = {"unit": register.unit, "month": register.month.label, "format": fmt, "by": by[:64],
           "at": datetime.now(UTC), "cases": len(register.entries)}
    async with engine.begin() as connection:
        await connection.execute(insert(RegisterRunRow).values(row))
    log.info("register of %s for %s produced as %s by %s (%d cases)", register.unit, register.month.label, fmt, by,
             len(register.entries))


async def runs(source: Source, month: str) -> list[dict[str, Any]]:
    """Every time a unit's register of ``month`` was produced, first first."""
    query = (select(RegisterRunRow.unit, RegisterRunRow.format, RegisterRunRow.by, RegisterRunRow.at,
                    RegisterRunRow.cases).where(RegisterRunRow.month == month)
             .order_by(RegisterRunRow.at, RegisterRunRow.id))
    async with reading(source) as db:
        rows = (await db.execute(query)).all()
    return [{"unit": row.unit, "format": row.format, "by": row.by, "at": as_utc(row.at).isoformat(),
             "cases": row.cases} for row in rows]


# --- filing on time --------------------------------------------------------------------------------------


def is_trading_day(day: date, policy: SlaPolicy) -> bool:
    """A working day of the desk's calendar that is not a Saturday or Sunday (make-up working days are not
    trading days)."""
    return day.weekday() < 5 and policy.is_working_day(day)


def register_due(month: Period, policy: SlaPolicy) -> datetime:
    """When a unit's register of ``month`` is due at head office: the end of the working day (the policy's
    ``end_of_day``) of the third trading day after the month."""
    day, counted = month.end, 0
    while counted < TRADING_DAYS_TO_FILE:
        day += timedelta(days=1)
        counted += is_trading_day(day, policy)
    return datetime.combine(day, policy.end_of_day, tzinfo=ZoneInfo(policy.timezone))


def previous_month(moment: datetime, zone: str) -> Period:
    first = moment.astimezone(ZoneInfo(zone)).date().replace(day=1)
    return period_of(f"{first - timedelta(days=1):%Y-%m}")


class UnitAlerts(Protocol):
    """How supervisors hear about a unit (gateway.alerts.SupervisorAlerts.about_unit)."""

    async def about_unit(self, kind: str, unit: str, detail: str, *, mark: str, ttl: int = ...,
                         extra: dict[str, Any] | None = None) -> bool: ...


async def units_to_file(source: Source, org: Org, month: Period, zone: str) -> list[str]:
    """Head office, every branch, and any other unit that received a complaint in ``month``."""
    start, end = month.bounds(ZoneInfo(zone))
    query = select(CaseRow.unit).where(CaseRow.received_at >= start, CaseRow.received_at < end).distinct()
    async with reading(source) as db:
        received = {row or org.head_office.id for row in (await db.execute(query)).scalars().all()}
    return [u.id for u in org.units.values() if u.kind in ("hq", "branch") or u.id in received]


async def check_registers(
    source: Source, org: Org, policy: SlaPolicy, alerts: UnitAlerts, now: datetime | None = None
) -> list[str]:
    """Alert head office, once per unit and month, about each unit whose register of last month has not been
    produced by the end of the third trading day of this month; the units alerted this time."""
    now = now or datetime.now(UTC)
    month = previous_month(now, policy.timezone)
    due = register_due(month, policy)
    if now < due:
        return []
    produced = {row["unit"] for row in await runs(source, month.label)}
    alerted = []
    for unit in await units_to_file(source, org, month, policy.timezone):
        if unit in produced:
            continue
        name = org.units[unit]
        detail = (f"the register (记录表) of {name.name_en} {name.name_zh} for {month.label} was due at head "
                  f"office by {due.isoformat()} and has not been produced")
        extra = {"for_unit": unit, "month": month.label, "due_by": due.isoformat()}
        if await alerts.about_unit("register_missing", org.head_office.id, detail,
                                   mark=f"register:{unit}:{month.label}", extra=extra):
            alerted.append(unit)
    return alerted

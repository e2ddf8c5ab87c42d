"""Complaint analysis for a month, a quarter or any range of days, against the period before it.

What a report counts, for the cases *received* in the period (days in the report's time zone):
- cases by channel, product (the cause), risk rule (the cause's second level: a case counts once under each
  rule that fired, or under ``none``), risk grade and language; outcomes of the answer (``unresolved`` while
  there is none);
- handling times from receipt to acknowledgement (first claim), answer and close: median and p90 in hours, over
  the cases that got there (p90 by ``statistics.quantiles(n=10, method="inclusive")``);
- the share within each deadline: acknowledged by ``acknowledge_by``, answered by ``respond_by``. A case still
  waiting whose deadline has not come yet (at ``as_of``) is ``pending`` and left out of the share; one still
  waiting after its deadline has missed it;
- cases by receiving unit, by responsible department, by nature (服务环境, 服务产品, 服务态度, 服务流程, other) and
  by the staff involved (投诉较多的业务环节和人员: the staff a plan names responsible, else the people the customer
  named; cases naming nobody are not counted there);
- satisfaction: how many answered the survey (or a return visit's question), their mean score, how many gave each
  score from 1 to 5, and the satisfaction rate (the share of scores of 4 or 5) against ``SATISFACTION_TARGET``;
- corrective measures: how many answered plans had measures, and how many of those a return visit found carried
  out; compensation paid (the plans whose answer went out), cases and sums by currency;
- typical cases: the cases handlers flagged for case studies, with their reason;
- repeat complainants: people with two cases or more in the period. Cases are the same person's when they share
  a contact (phone digits, email in any capitals, or account number), directly or through another case;
- each number against the previous period: the calendar quarter or month before a quarter or a month, else the
  same number of days just before. A period not over yet counts the cases received so far.

The rows of both periods are read in one pass (a month at a time, to report progress) and counted in Python,
which suits tens of thousands of cases a quarter; the counting, like the drawing (``records.reports.output``),
runs in a worker thread (``asyncio.to_thread``) so a web server stays responsive. Long steps say what they are
doing through ``progress``.
"""

from __future__ import annotations

import asyncio
import re
import statistics
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any, Literal, get_args
from zoneinfo import ZoneInfo

from sqlalchemy import RowMapping, select

from handoff.org import Org
from records.reading import Source, reading, utc_or_none
from records.record import as_utc
from records.search import YEARS, day_start
from records.tables import CaseRow

Format = Literal["html", "csv", "pdf", "json"]
FileFormat = Literal["html", "csv", "pdf"]
Progress = Callable[[str], None]
FORMATS: tuple[str, ...] = get_args(Format)
GRADES = ("high", "medium", "low")
LANGUAGES = ("zh", "en")
STAGES = ("acknowledge", "answer", "close")
DEADLINES = ("acknowledge", "answer")
SCORES = (1, 2, 3, 4, 5)
SATISFIED = 4  # a score of 4 or 5 counts as satisfied, for the satisfaction rate
SATISFACTION_TARGET = 0.85
BATCH = 5000
_QUARTER = re.compile(r"^(\d{4})-?Q([1-4])$", re.IGNORECASE)
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")


class PeriodError(ValueError):
    """A period that cannot be read or makes no sense; the message says which."""


# --- periods ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Period:
    """Whole days, ``start`` and ``end`` both included."""

    start: date
    end: date

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    @property
    def label(self) -> str:
        if self.is_quarter:
            return f"{self.start.year}Q{(self.start.month - 1) // 3 + 1}"
        if self.is_month:
            return f"{self.start:%Y-%m}"
        return f"{self.start.isoformat()}..{self.end.isoformat()}"

    @property
    def is_month(self) -> bool:
        return self.start.day == 1 and self.end == _month_end(self.start)

    @property
    def is_quarter(self) -> bool:
        return self.start.day == 1 and self.start.month % 3 == 1 and self.end == _month_end(_add_months(self.start, 2))

    def previous(self) -> Period:
        """The quarter before a quarter, the month before a month, else as many days just before."""
        if self.is_quarter or self.is_month:
            months = 3 if self.is_quarter else 1
            first = _add_months(self.start, -months)
            return Period(first, self.start - timedelta(days=1))
        return Period(self.start - timedelta(days=self.days), self.start - timedelta(days=1))

    def bounds(self, zone: ZoneInfo) -> tuple[datetime, datetime]:
        """The period as UTC instants, start included, end excluded."""
        return day_start(self.start, zone), day_start(self.end + timedelta(days=1), zone)

    def to_dict(self) -> dict[str, str]:
        return {"label": self.label, "start": self.start.isoformat(), "end": self.end.isoformat()}


def _add_months(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def _month_end(day: date) -> date:
    return _add_months(day, 1) - timedelta(days=1)


def parse_period(
    quarter: str | None = None, month: str | None = None, start: str | date | None = None,
    end: str | date | None = None,
) -> tuple[date, date]:
    """The days of ``--quarter 2026Q4``, ``--month 2026-11`` or ``--from D --to D`` (both days included).

    Exactly one of the three forms; raises PeriodError with a message fit for the command line.
    """
    given = [name for name, value in (("quarter", quarter), ("month", month)) if value]
    if start or end:
        given.append("from/to")
    if len(given) != 1:
        raise PeriodError("give one of --quarter (2026Q4), --month (2026-11) or --from and --to (2026-10-01)")
    if quarter:
        period = _quarter(quarter)
    elif month:
        period = _month(month)
    else:
        if not (start and end):
            raise PeriodError("--from and --to go together")
        period = Period(_day(start, "from"), _day(end, "to"))
    _check(period)
    return period.start, period.end


def period_of(value: str | tuple[date, date] | Period) -> Period:
    """A period from ``2026Q4``, ``2026-11``, ``2026-10-01..2026-10-31`` (days in either order) or two days."""
    if isinstance(value, Period):
        period = value
    elif isinstance(value, tuple):
        period = Period(*value)
    elif ".." in value:
        first, _, last = value.partition("..")
        period = Period(*sorted((_day(first, "from"), _day(last, "to"))))
    elif _QUARTER.match(value.strip()):
        period = _quarter(value)
    else:
        period = _month(value)
    _check(period)
    return period


def _quarter(text: str) -> Period:
    found = _QUARTER.match(text.strip())
    if not found or int(found[1]) not in YEARS:
        raise PeriodError(f"a quarter is written like 2026Q4, not {text!r}")
    first = date(int(found[1]), (int(found[2]) - 1) * 3 + 1, 1)
    return Period(first, _month_end(_add_months(first, 2)))


def _month(text: str) -> Period:
    found = _MONTH.match(text.strip())
    if not found or not 1 <= int(found[2]) <= 12 or int(found[1]) not in YEARS:
        raise PeriodError(f"a month is written like 2026-11, not {text!r}")
    first = date(int(found[1]), int(found[2]), 1)
    return Period(first, _month_end(first))


def _day(value: str | date, name: str) -> date:
    try:
        day = value if isinstance(value, date) else date.fromisoformat(value.strip())
    except ValueError:
        day = None
    if day is None or day.year not in YEARS:
        raise PeriodError(f"{name} must be a day like 2026-10-01, not {value!r}")
    return day


def _check(period: Period) -> None:
    if period.end < period.start:
        raise PeriodError("the period ends before it starts")


# --- figures ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CaseFacts:
    """What a report needs of one case (one row of the query)."""

    created_at: datetime
    channel: str
    product: str | None
    risk_grade: str
    language: str
    outcome: str | None
    satisfaction: int | None
    acknowledge_by: datetime | None
    respond_by: datetime | None
    acknowledged_at: datetime | None
    answered_at: datetime | None
    closed_at: datetime | None
    phone: str | None
    email: str | None
    account_id: str | None
    rules: tuple[str, ...]
    id: str = ""
    unit: str | None = None
    department: str | None = None
    nature: str | None = None
    staff_involved: str | None = None
    measures_verified: bool | None = None
    compensation_amount: Decimal | None = None
    compensation_currency: str | None = None
    typical: bool = False


@dataclass(frozen=True, slots=True)
class Timing:
    hours: tuple[float, ...]

    @property
    def count(self) -> int:
        return len(self.hours)

    @property
    def median(self) -> float | None:
        return statistics.median(self.hours) if self.hours else None

    @property
    def p90(self) -> float | None:
        if len(self.hours) < 2:
            return self.hours[0] if self.hours else None
        return statistics.quantiles(self.hours, n=10, method="inclusive")[-1]


@dataclass(frozen=True, slots=True)
class DeadlineShare:
    met: int = 0
    missed: int = 0
    pending: int = 0

    @property
    def share(self) -> float | None:
        decided = self.met + self.missed
        return self.met / decided if decided else None


@dataclass(frozen=True, slots=True)
class Satisfaction:
    scores: Counter[int] = field(default_factory=Counter)

    @property
    def count(self) -> int:
        return sum(self.scores.values())

    @property
    def mean(self) -> float | None:
        return sum(s * n for s, n in self.scores.items()) / self.count if self.count else None

    @property
    def satisfied(self) -> int:
        return sum(n for s, n in self.scores.items() if s >= SATISFIED)

    @property
    def rate(self) -> float | None:
        """The share of scores of 4 or 5."""
        return self.satisfied / self.count if self.count else None


@dataclass(frozen=True, slots=True)
class Measures:
    """Answered plans with corrective measures, and how many a return visit found carried out."""

    planned: int = 0
    verified: int = 0

    @property
    def share(self) -> float | None:
        return self.verified / self.planned if self.planned else None


@dataclass(frozen=True, slots=True)
class Compensation:
    """Compensation paid: how many cases, and the sums by currency."""

    cases: int = 0
    totals: dict[str, Decimal] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Figures:
    """Everything a report says about one period."""

    total: int
    by_channel: Counter[str]
    by_product: Counter[str]
    by_rule: Counter[str]
    by_grade: Counter[str]
    by_language: Counter[str]
    outcomes: Counter[str]
    timings: dict[str, Timing]
    deadlines: dict[str, DeadlineShare]
    satisfaction: Satisfaction
    repeat_complainants: int
    repeat_cases: int
    by_unit: Counter[str] = field(default_factory=Counter)
    by_department: Counter[str] = field(default_factory=Counter)
    by_nature: Counter[str] = field(default_factory=Counter)
    by_staff: Counter[str] = field(default_factory=Counter)
    measures: Measures = field(default_factory=Measures)
    compensation: Compensation = field(default_factory=Compensation)
    typical: tuple[str, ...] = ()  # ids of the cases flagged typical, in the order received


def summarise(cases: Sequence[CaseFacts], as_of: datetime) -> Figures:
    return Figures(
        total=len(cases),
        by_channel=Counter(c.channel for c in cases),
        by_product=Counter(c.product or "unknown" for c in cases),
        by_rule=Counter(rule for c in cases for rule in (c.rules or ("none",))),
        by_grade=Counter(c.risk_grade for c in cases),
        by_language=Counter(c.language for c in cases),
        outcomes=Counter(c.outcome or "unresolved" for c in cases),
        timings={stage: Timing(tuple(_hours(cases, stage))) for stage in STAGES},
        deadlines={"acknowledge": _deadline(cases, as_of, "acknowledged_at", "acknowledge_by"),
                   "answer": _deadline(cases, as_of, "answered_at", "respond_by")},
        satisfaction=Satisfaction(Counter(c.satisfaction for c in cases if c.satisfaction in SCORES)),
        **_repeats(cases),
        by_unit=Counter(c.unit or "unknown" for c in cases),
        by_department=Counter(c.department or c.unit or "unknown" for c in cases),
        by_nature=Counter(c.nature or "unknown" for c in cases),
        by_staff=Counter(c.staff_involved for c in cases if c.staff_involved),
        measures=Measures(sum(c.measures_verified is not None for c in cases),
                          sum(c.measures_verified is True for c in cases)),
        compensation=_compensation(cases),
        typical=tuple(c.id for c in sorted(cases, key=lambda c: (c.created_at, c.id)) if c.typical),
    )


def _compensation(cases: Iterable[CaseFacts]) -> Compensation:
    totals: dict[str, Decimal] = {}
    paid = 0
    for case in cases:
        if case.compensation_amount is None:
            continue
        paid += 1
        currency = case.compensation_currency or "?"
        totals[currency] = totals.get(currency, Decimal(0)) + Decimal(case.compensation_amount)
    return Compensation(paid, totals)


_REACHED = {"acknowledge": "acknowledged_at", "answer": "answered_at", "close": "closed_at"}


def _hours(cases: Iterable[CaseFacts], stage: str) -> Iterable[float]:
    for case in cases:
        reached: datetime | None = getattr(case, _REACHED[stage])
        if reached is not None:
            yield (reached - case.created_at).total_seconds() / 3600


def _deadline(cases: Iterable[CaseFacts], as_of: datetime, done: str, due: str) -> DeadlineShare:
    met = missed = pending = 0
    for case in cases:
        finished: datetime | None = getattr(case, done)
        deadline: datetime | None = getattr(case, due)
        if deadline is None:
            continue
        if finished is not None:
            met, missed = (met + 1, missed) if finished <= deadline else (met, missed + 1)
        elif deadline < as_of:
            missed += 1
        else:
            pending += 1
    return DeadlineShare(met, missed, pending)


def contact_keys(case: CaseFacts) -> list[str]:
    """How a complainant is recognised again (as ``handoff.cases`` does for the repeat-complainant rule)."""
    keys = []
    digits = "".join(ch for ch in case.phone or "" if ch.isdigit())
    if digits:
        keys.append("phone:" + digits[-11:])
    if case.email and case.email.strip():
        keys.append("email:" + case.email.strip().lower())
    if case.account_id and case.account_id.strip():
        keys.append("account:" + case.account_id.strip())
    return keys


def _repeats(cases: Sequence[CaseFacts]) -> dict[str, int]:
    """People with two cases or more, linking cases that share any contact (union-find over the cases)."""
    parent = list(range(len(cases)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    first_with: dict[str, int] = {}
    for i, case in enumerate(cases):
        for key in contact_keys(case):
            parent[root(i)] = root(first_with.setdefault(key, i))
    sizes = Counter(root(i) for i, case in enumerate(cases) if contact_keys(case))
    repeated = [size for size in sizes.values() if size >= 2]
    return {"repeat_complainants": len(repeated), "repeat_cases": sum(repeated)}


# --- the report ------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Report:
    period: Period
    previous_period: Period
    zone: str
    as_of: datetime
    generated_at: datetime
    current: Figures
    previous: Figures
    target: float = SATISFACTION_TARGET
    unit_names: dict[str, tuple[str, str]] = field(default_factory=dict)  # unit id -> (English, Chinese)
    typical_cases: tuple[dict[str, Any], ...] = ()  # this period's, with the handler's reason
    channel_names: dict[str, tuple[str, str]] = field(default_factory=dict)  # channel -> (English, Chinese)

    @property
    def empty(self) -> bool:
        """No case in either period: nothing to draw."""
        return self.current.total == 0 and self.previous.total == 0

    def to_dict(self) -> dict[str, Any]:
        cur, prev = self.current, self.previous
        return {
            "period": {**self.period.to_dict(), "zone": self.zone},
            "previous_period": {**self.previous_period.to_dict(), "zone": self.zone},
            "as_of": self.as_of.isoformat(),
            "generated_at": self.generated_at.isoformat(),
            "total": change(cur.total, prev.total),
            **{name: counts(getattr(cur, name), getattr(prev, name), ORDER.get(name, ()))
               for name in COUNTS},
            "handling": {stage: _timing(cur.timings[stage], prev.timings[stage]) for stage in STAGES},
            "deadlines": {name: _share(cur.deadlines[name], prev.deadlines[name]) for name in DEADLINES},
            "satisfaction": {**_satisfaction(cur.satisfaction, prev.satisfaction), "target": self.target,
                             "meets_target": None if cur.satisfaction.rate is None
                             else cur.satisfaction.rate >= self.target},
            "repeat": {"complainants": change(cur.repeat_complainants, prev.repeat_complainants),
                       "cases": change(cur.repeat_cases, prev.repeat_cases)},
            "measures": {"planned": change(cur.measures.planned, prev.measures.planned),
                         "verified": change(cur.measures.verified, prev.measures.verified),
                         "share": change(cur.measures.share, prev.measures.share)},
            "compensation": {"cases": change(cur.compensation.cases, prev.compensation.cases),
                             "by_currency": _money(cur.compensation, prev.compensation)},
            "typical_cases": [dict(case) for case in self.typical_cases],
        }


COUNTS = ("by_channel", "by_product", "by_rule", "by_grade", "by_language", "outcomes", "by_unit", "by_department",
          "by_nature", "by_staff")
ORDER = {"by_grade": GRADES, "by_language": LANGUAGES}


def change(current: float | None, previous: float | None, digits: int = 4) -> dict[str, float | None]:
    """A number against the previous period's: the difference, and that difference in % of the previous."""
    diff = None if current is None or previous is None else current - previous
    pct = None if diff is None or not previous else round(100 * diff / previous, 1)
    return {"current": _round(current, digits), "previous": _round(previous, digits),
            "change": _round(diff, digits), "change_pct": pct}


def _round(value: float | None, digits: int) -> float | None:
    return value if value is None or isinstance(value, int) else round(value, digits)


def counts(current: Counter[str], previous: Counter[str], order: Sequence[str] = ()) -> list[dict[str, Any]]:
    """One row per key seen in either period: fixed ``order`` first, then the most frequent now."""
    keys = [k for k in order if k in current or k in previous]
    rest = (set(current) | set(previous)) - set(keys)
    keys += sorted(rest, key=lambda k: (-current[k], -previous[k], k))
    return [{"key": key, **change(current[key], previous[key])} for key in keys]


def _timing(current: Timing, previous: Timing) -> dict[str, Any]:
    return {"count": change(current.count, previous.count), "median_hours": change(current.median, previous.median, 2),
            "p90_hours": change(current.p90, previous.p90, 2)}


def _share(current: DeadlineShare, previous: DeadlineShare) -> dict[str, Any]:
    return {"met": current.met, "missed": current.missed, "pending": current.pending,
            "share": change(current.share, previous.share)}


def _money(current: Compensation, previous: Compensation) -> list[dict[str, Any]]:
    currencies = sorted(set(current.totals) | set(previous.totals))
    return [{"key": currency, **change(float(current.totals.get(currency, 0)), float(previous.totals.get(currency, 0)),
                                      2)} for currency in currencies]


def _satisfaction(current: Satisfaction, previous: Satisfaction) -> dict[str, Any]:
    return {"count": change(current.count, previous.count), "mean": change(current.mean, previous.mean, 2),
            "satisfied": change(current.satisfied, previous.satisfied), "rate": change(current.rate, previous.rate),
            "distribution": [{"key": str(s), **change(current.scores[s], previous.scores[s])} for s in SCORES]}


_FACT_COLUMNS = (
    CaseRow.created_at, CaseRow.channel, CaseRow.product, CaseRow.risk_grade, CaseRow.language, CaseRow.outcome,
    CaseRow.satisfaction, CaseRow.acknowledge_by, CaseRow.respond_by, CaseRow.acknowledged_at, CaseRow.answered_at,
    CaseRow.closed_at, CaseRow.phone, CaseRow.email, CaseRow.account_id, CaseRow.id, CaseRow.unit,
    CaseRow.department, CaseRow.nature, CaseRow.staff_involved, CaseRow.measures_verified,
    CaseRow.compensation_amount, CaseRow.compensation_currency, CaseRow.typical,
)


_TIMES = ("created_at", "acknowledge_by", "respond_by", "acknowledged_at", "answered_at", "closed_at")


def _facts(row: RowMapping) -> CaseFacts:
    values = dict(row)
    for name in _TIMES:  # aware UTC, whichever database gave them
        values[name] = utc_or_none(values[name])
    rules = values["rules"]
    values["rules"] = tuple(str(r) for r in rules) if isinstance(rules, list) else ()
    values["typical"] = bool(values["typical"])
    amount = values["compensation_amount"]
    values["compensation_amount"] = None if amount is None else Decimal(str(amount))
    return CaseFacts(**values)


async def read_facts(source: Source, start: datetime, end: datetime, progress: Progress | None) -> list[CaseFacts]:
    """The cases received in [start, end), read in steps so that a long read can say how far it got."""
    # Only the rules out of the document: the database extracts them, so whole documents never travel.
    rules = CaseRow.document[("risk", "rules")].label("rules")
    facts: list[CaseFacts] = []
    async with reading(source) as db:
        for first, last in _windows(start, end):
            query = select(*_FACT_COLUMNS, rules).where(CaseRow.created_at >= first, CaseRow.created_at < last)
            facts.extend(_facts(row._mapping) for row in await db.execute(query))
            _say(progress, f"read {len(facts):,} cases (up to {last:%Y-%m-%d})")
    return facts


def _windows(start: datetime, end: datetime) -> Iterable[tuple[datetime, datetime]]:
    """A month at a time, or a 24th of the span if that is longer: a long range takes few queries too."""
    step = max(timedelta(days=31), (end - start) / 24)
    while start < end:
        yield start, min(start + step, end)
        start += step


async def build_report(
    source: Source, period: str | tuple[date, date] | Period, *, zone: str = "UTC", as_of: datetime | None = None,
    progress: Progress | None = None, target: float = SATISFACTION_TARGET,
    unit_names: dict[str, tuple[str, str]] | None = None, channel_names: dict[str, tuple[str, str]] | None = None,
) -> Report:
    """The report for ``period`` (see ``period_of``), its days in ``zone``; deadlines judged at ``as_of``; the
    satisfaction rate against ``target``; units and channels named by ``unit_names`` and ``channel_names`` (code ->
    English, Chinese: the gateway's, which knows the adapters)."""
    current = period_of(period)
    before = current.previous()
    tz = ZoneInfo(zone)
    (start, middle), (_, end) = before.bounds(tz), current.bounds(tz)
    _say(progress, f"reading cases received from {before.start} to {current.end} ({zone})")
    facts = await read_facts(source, start, end, progress)
    as_of = as_utc(as_of) if as_of else datetime.now(UTC)
    _say(progress, f"counting {current.label} against {before.label}")
    now, then = await asyncio.to_thread(_both, facts, middle, as_of)
    typical = await read_typical(source, now.typical)
    return Report(current, before, zone, as_of, datetime.now(UTC), now, then, target, dict(unit_names or {}),
                  typical, dict(channel_names or {}))


async def read_typical(source: Source, case_ids: Sequence[str]) -> tuple[dict[str, Any], ...]:
    """The typical cases' ids, products, natures, units, outcomes and the reasons handlers gave for flagging them."""
    if not case_ids:
        return ()
    query = select(CaseRow.id, CaseRow.product, CaseRow.nature, CaseRow.unit, CaseRow.outcome,
                   CaseRow.document["typical"].label("flag")).where(CaseRow.id.in_(list(case_ids)))
    async with reading(source) as db:
        rows = {row.id: row for row in await db.execute(query)}
    found = []
    for case_id in case_ids:
        row = rows.get(case_id)
        if row is None:
            continue
        flag = row.flag if isinstance(row.flag, dict) else {}
        found.append({"id": case_id, "product": row.product, "nature": row.nature, "unit": row.unit,
                      "outcome": row.outcome, "reason": flag.get("reason"), "by": flag.get("by"),
                      "at": flag.get("at")})
    return tuple(found)


def _both(facts: list[CaseFacts], middle: datetime, as_of: datetime) -> tuple[Figures, Figures]:
    now = [f for f in facts if f.created_at >= middle]
    then = [f for f in facts if f.created_at < middle]
    return summarise(now, as_of), summarise(then, as_of)


def _say(progress: Progress | None, message: str) -> None:
    if progress is not None:
        progress(message)


def unit_names(org: Org) -> dict[str, tuple[str, str]]:
    """The units' names for a report: id -> (English, Chinese)."""
    return {unit.id: (unit.name_en, unit.name_zh) for unit in org.units.values()}

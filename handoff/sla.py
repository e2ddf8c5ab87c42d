"""Complaint deadlines: working days on real holiday calendars, calendar days, or elapsed hours.

A policy (``SlaPolicy``) gives every case three deadlines (acknowledge, investigate, respond), each a
``Period``: so many working days, calendar days or hours after receipt. What it guarantees:

- Working days follow the policy's holiday calendar. Mainland China ("CN", the default) uses
  ``chinese_calendar``, which knows the official holidays *and* the weekend days declared working days to
  make up for them. Any other country (``"GB"`` with subdivision ``"ENG"``, ``"US"``, ``"HK"``...) uses
  ``holidays``: that country's weekend and public holidays. For a year ``chinese_calendar`` does not know
  yet, CN falls back to ``holidays``' CN calendar instead of failing.
- Counting: when a policy counts the day of receipt, a complaint received on a working day before
  ``end_of_day`` has that day as day 1; otherwise day 1 is the next working day. A policy that counts
  from the day after receipt (the UK rules) always starts on the next working day.
- Working-day and calendar-day deadlines fall at ``end_of_day`` in the policy's time zone. Hour
  deadlines are elapsed time, so a daylight-saving change does not lengthen or shorten them.

Named presets (``SlaPolicy.preset``) hold the rules of the regimes this desk serves; ``urgency`` tells an
agent whether a deadline is overdue or close.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from types import MappingProxyType
from typing import Any, Literal, get_args
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import chinese_calendar  # type: ignore[import-untyped]
import holidays

Unit = Literal["working_days", "calendar_days", "hours"]
Urgency = Literal["overdue", "due_soon", "on_time"]

DUE_SOON = timedelta(hours=4)
_UNITS: frozenset[str] = frozenset(get_args(Unit))


@dataclass(frozen=True, slots=True)
class Period:
    """How long a deadline allows: ``Period(3)`` is three working days, ``Period(48, "hours")`` two days."""

    amount: int
    unit: Unit = "working_days"

    def __post_init__(self) -> None:
        if self.unit not in _UNITS:
            raise ValueError(f"unknown period unit {self.unit!r}; use one of {', '.join(sorted(_UNITS))}")
        if self.amount < 1:
            raise ValueError(f"a period is at least 1 ({self.unit}), got {self.amount}")


@dataclass(frozen=True, slots=True)
class Deadlines:
    acknowledge_by: datetime
    investigate_by: datetime
    respond_by: datetime
    policy: str | None = None  # the name of the policy that set them

    def to_dict(self) -> dict[str, str]:
        out = {
            "acknowledge_by": self.acknowledge_by.isoformat(),
            "investigate_by": self.investigate_by.isoformat(),
            "respond_by": self.respond_by.isoformat(),
        }
        if self.policy is not None:
            out["policy"] = self.policy
        return out


_ONE_WORKING_DAY = Period(1)
_THREE_WORKING_DAYS = Period(3)
_FOUR_WORKING_DAYS = Period(4)


@dataclass(frozen=True, slots=True)
class SlaPolicy:
    """When a complaint must be acknowledged, investigated and answered.

    The defaults are the "cn-securities" preset, so ``SlaPolicy()`` is the mainland securities-firm rule.
    """

    name: str = "cn-securities"
    acknowledge: Period = _ONE_WORKING_DAY
    investigate: Period = _THREE_WORKING_DAYS
    respond: Period = _FOUR_WORKING_DAYS
    country: str = "CN"
    subdivision: str | None = None
    timezone: str = "Asia/Shanghai"
    end_of_day: time = time(18, 0)
    count_receipt_day: bool = True

    def __post_init__(self) -> None:
        # Fail when the policy is built, not on the first complaint that arrives.
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {self.timezone!r}") from None
        _working_day_test(self.country, self.subdivision)

    @classmethod
    def preset(cls, name: str, **overrides: Any) -> SlaPolicy:
        """The named policy from ``PRESETS``, with any fields replaced by ``overrides``."""
        try:
            base = PRESETS[name]
        except KeyError:
            raise ValueError(f"unknown SLA preset {name!r}; known presets: {', '.join(PRESETS)}") from None
        return replace(base, **overrides)

    def deadlines(self, received_at: datetime) -> Deadlines:
        if received_at.tzinfo is None:
            raise ValueError("received_at must be timezone-aware")
        return Deadlines(
            acknowledge_by=self._due(received_at, self.acknowledge),
            investigate_by=self._due(received_at, self.investigate),
            respond_by=self._due(received_at, self.respond),
            policy=self.name,
        )

    def is_working_day(self, day: date) -> bool:
        return _working_day_test(self.country, self.subdivision)(day)

    def after(self, moment: datetime, period: Period) -> datetime:
        """The end of the period that starts at ``moment`` (a return visit's due time after the answer)."""
        return self._due(moment, period)

    def _due(self, received_at: datetime, period: Period) -> datetime:
        zone = ZoneInfo(self.timezone)
        if period.unit == "hours":
            # Through UTC: aware-datetime arithmetic is wall-clock time and would drift across DST.
            return (received_at.astimezone(UTC) + timedelta(hours=period.amount)).astimezone(zone)
        local = received_at.astimezone(zone)
        if period.unit == "calendar_days":
            day = local.date() + timedelta(days=period.amount)
        else:
            day = self._nth_working_day(local, period.amount)
        return datetime.combine(day, self.end_of_day, tzinfo=zone)

    def _nth_working_day(self, received: datetime, n: int) -> date:
        works = _working_day_test(self.country, self.subdivision)
        day = received.date()
        if not (self.count_receipt_day and received.time() < self.end_of_day and works(day)):
            day = _next_working_day(day, works)
        for _ in range(n - 1):
            day = _next_working_day(day, works)
        return day


def urgency(deadline: datetime, now: datetime, soon: timedelta = DUE_SOON) -> Urgency:
    """"overdue" once the deadline has passed, "due_soon" within ``soon`` of it, else "on_time"."""
    if now > deadline:
        return "overdue"
    if deadline - now <= soon:
        return "due_soon"
    return "on_time"


def _next_working_day(day: date, works: Callable[[date], bool]) -> date:
    day += timedelta(days=1)
    while not works(day):
        day += timedelta(days=1)
    return day


def _working_day_test(country: str, subdivision: str | None) -> Callable[[date], bool]:
    if country == "CN" and subdivision is None:
        return _cn_is_working_day
    return _holiday_calendar(country, subdivision).is_working_day


def _cn_is_working_day(day: date) -> bool:
    try:
        return bool(chinese_calendar.is_workday(day))
    except NotImplementedError:
        # chinese_calendar only knows years whose schedule the State Council has published. ``holidays``
        # computes the festivals of any year (and knows make-up working days where it has them), which is
        # better than refusing to open a case.
        return _holiday_calendar("CN", None).is_working_day(day)


@lru_cache(maxsize=32)
def _holiday_calendar(country: str, subdivision: str | None) -> holidays.HolidayBase:
    """One calendar per place; it fills in each year the first time a date in that year is asked about."""
    try:
        return holidays.country_holidays(country, subdiv=subdivision)
    except NotImplementedError as exc:
        raise ValueError(f"no holiday calendar for {country!r} (subdivision {subdivision!r}): {exc}") from None


PRESETS: Mapping[str, SlaPolicy] = MappingProxyType({
    # Mainland securities firms (CSRC-supervised): acknowledge on the day of receipt, investigate within
    # 3 and answer within 4 working days, on the State Council holiday calendar. These figures are this
    # desk's configured practice, not quoted from one CSRC article: check them against the firm's procedure.
    "cn-securities": SlaPolicy(),
    # A service promise, not a regulator's rule: every step within 48 elapsed hours, weekends included.
    "48-hours": SlaPolicy(
        name="48-hours",
        acknowledge=Period(48, "hours"),
        investigate=Period(48, "hours"),
        respond=Period(48, "hours"),
    ),
    # FCA DISP 1.6.1R asks for a "prompt" written acknowledgement: we choose the end of the next business
    # day. DISP 1.6.2R: final (or holding) response by the end of eight weeks after receipt, i.e. 56 calendar
    # days. DISP sets no separate investigation deadline, so investigate_by is respond_by.
    "uk-fca-disp": SlaPolicy(
        name="uk-fca-disp",
        acknowledge=_ONE_WORKING_DAY,
        investigate=Period(56, "calendar_days"),
        respond=Period(56, "calendar_days"),
        country="GB",
        subdivision="ENG",
        timezone="Europe/London",
        end_of_day=time(17, 0),
        count_receipt_day=False,
    ),
    # PSD/EMD complaints, FCA DISP 1.6.2AR: final response by the end of 15 business days after the day the
    # complaint was received (England and Wales bank holidays are not business days); the 35-day
    # exceptional extension needs a holding response and is left to the agent. Acknowledge as uk-fca-disp.
    "uk-fca-psd": SlaPolicy(
        name="uk-fca-psd",
        acknowledge=_ONE_WORKING_DAY,
        investigate=Period(15),
        respond=Period(15),
        country="GB",
        subdivision="ENG",
        timezone="Europe/London",
        end_of_day=time(17, 0),
        count_receipt_day=False,
    ),
})

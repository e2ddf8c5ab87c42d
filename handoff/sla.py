"""Complaint deadlines in working days, counting the day of receipt.

The default policy is the securities-firm practice: acknowledge on the day of receipt, investigate within
3 working days and answer within 4. Weekends are days off here; holiday calendars are a later refinement.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo


@dataclass(frozen=True, slots=True)
class Deadlines:
    acknowledge_by: datetime
    investigate_by: datetime
    respond_by: datetime

    def to_dict(self) -> dict[str, str]:
        return {
            "acknowledge_by": self.acknowledge_by.isoformat(),
            "investigate_by": self.investigate_by.isoformat(),
            "respond_by": self.respond_by.isoformat(),
        }


@dataclass(frozen=True, slots=True)
class SlaPolicy:
    investigate_days: int = 3
    respond_days: int = 4
    timezone: str = "Asia/Shanghai"
    end_of_day: time = time(18, 0)

    def deadlines(self, received_at: datetime) -> Deadlines:
        local = received_at.astimezone(ZoneInfo(self.timezone))
        return Deadlines(
            acknowledge_by=self._close_of(self._nth_working_day(local, 1)),
            investigate_by=self._close_of(self._nth_working_day(local, self.investigate_days)),
            respond_by=self._close_of(self._nth_working_day(local, self.respond_days)),
        )

    def _nth_working_day(self, received: datetime, n: int) -> date:
        """The n-th working day, where the day of receipt is the first if it is a working day itself."""
        day = received.date()
        if received.time() > self.end_of_day or not _is_working_day(day):
            day = _next_working_day(day)
        for _ in range(n - 1):
            day = _next_working_day(day)
        return day

    def _close_of(self, day: date) -> datetime:
        return datetime.combine(day, self.end_of_day, tzinfo=ZoneInfo(self.timezone))


def _is_working_day(day: date) -> bool:
    return day.weekday() < 5


def _next_working_day(day: date) -> date:
    day += timedelta(days=1)
    while not _is_working_day(day):
        day += timedelta(days=1)
    return day

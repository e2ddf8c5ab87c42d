"""Supervisor alerts: a high-risk complaint at once, and cases whose deadlines (acknowledge, investigate,
answer) are near or past.

Each alert about a case goes out once per kind (a mark in Redis, shared by every gateway replica); a
webhook that fails loses the mark again, so the next sweep tries once more. Every alert is also logged and
published on the desk's live events, so the console shows it whether or not a webhook is set.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
from redis.asyncio import Redis

from gateway.events import DeskEvents
from handoff.cases import OPEN_STATUSES, Case, CaseStore
from handoff.sla import urgency
from store.keys import case_alerted_key, unit_alerted_key

log = logging.getLogger(__name__)
MARK_SECONDS = 90 * 24 * 3600
WEBHOOK_TIMEOUT = aiohttp.ClientTimeout(total=10)
WATCHED = tuple(s for s in OPEN_STATUSES if s != "answered")
# Each deadline, the prefix of its alerts' kinds, and whether it is still to be met: the acknowledgement until a
# handler takes the case, the investigation until findings are recorded, the answer until it is given.
def _not_taken(case: Case) -> bool:
    return bool(case["status"] == "queued" and not case.get("reopened"))


def _not_investigated(case: Case) -> bool:
    return not case.get("findings") and case["status"] != "awaiting_approval"


def _not_answered(case: Case) -> bool:
    return True  # WATCHED holds only cases not answered


_STEPS: tuple[tuple[str, str, Callable[[Case], bool]], ...] = (
    ("acknowledge_by", "acknowledge_", _not_taken),
    ("investigate_by", "investigate_", _not_investigated),
    ("respond_by", "", _not_answered),
)
_STEP_NAMES = {"acknowledge_by": "acknowledgement", "investigate_by": "investigation", "respond_by": "answer"}


class SupervisorAlerts:
    def __init__(
        self,
        redis: Redis,
        http: aiohttp.ClientSession,
        events: DeskEvents,
        webhook_url: str = "",
        due_soon: timedelta = timedelta(hours=4),
    ) -> None:
        self._redis = redis
        self._http = http
        self._events = events
        self._webhook_url = webhook_url
        self._due_soon = due_soon

    async def raise_once(self, case: Case, kind: str, detail: str, *, mark: str | None = None,
                         extra: dict[str, Any] | None = None) -> bool:
        """Alert supervisors about ``case``; False if this alert about it went out before (one per ``kind``,
        or per ``mark`` where one kind may come again for another reason: an escalation to another unit)."""
        key = case_alerted_key(case["id"], mark or kind)
        if not await self._redis.set(key, "1", nx=True, ex=MARK_SECONDS):
            return False
        alert = {**_alert(case, kind, detail), **(extra or {})}
        log.warning("supervisor alert %s for case %s: %s", kind, case["id"], detail)
        await self._events.publish_alert(alert)
        if self._webhook_url and not await self._post(alert):
            await self._redis.delete(key)
            return False
        return True

    async def about_account(self, kind: str, name: str, detail: str) -> None:
        """An alert for admins about a handler's account (a burst of failed logins, an admin's account changed)."""
        alert = {"type": "alert", "kind": kind, "case_id": None, "account": name, "detail": detail,
                 "at": datetime.now(UTC).isoformat()}
        log.warning("admin alert %s for account %s: %s", kind, name, detail)
        await self._events.publish_alert(alert)
        if self._webhook_url:
            await self._post(alert)

    async def about_unit(self, kind: str, unit: str, detail: str, *, mark: str, ttl: int = MARK_SECONDS,
                         extra: dict[str, Any] | None = None) -> bool:
        """An alert for the supervisors of ``unit`` (and above) about no single case: a unit's register not
        produced (``register_missing``), a hot spot of complaints (``hotspot``). Once per ``mark`` for ``ttl``
        seconds; False if it went out before."""
        key = unit_alerted_key(mark)
        if not await self._redis.set(key, "1", nx=True, ex=ttl):
            return False
        alert = {"type": "alert", "kind": kind, "case_id": None, "unit": unit, "detail": detail,
                 "at": datetime.now(UTC).isoformat(), **(extra or {})}
        log.warning("supervisor alert %s for unit %s: %s", kind, unit, detail)
        await self._events.publish_alert(alert)
        if self._webhook_url and not await self._post(alert):
            await self._redis.delete(key)
            return False
        return True

    async def high_risk(self, case: Case) -> None:
        if case["risk"]["grade"] == "high":
            await self.raise_once(case, "high_risk", "; ".join(case["risk"]["reasons"]))

    async def check_deadlines(self, cases: CaseStore, now: datetime | None = None) -> list[str]:
        """Alert on every deadline of an open case that is near or past: the acknowledgement (nobody has taken
        a waiting case), the investigation (no findings yet) and the answer. The ids alerted this time."""
        now = now or datetime.now(UTC)
        alerted = []
        for case in await cases.list():
            if case["status"] not in WATCHED:
                continue
            for step, kind_prefix, pending in _STEPS:
                deadline = (case.get("deadlines") or {}).get(step)
                if not deadline or not pending(case):
                    continue
                state = urgency(datetime.fromisoformat(deadline), now, self._due_soon)
                if state != "on_time" and await self.raise_once(case, kind_prefix + state,
                                                                f"{_STEP_NAMES[step]} due by {deadline}"):
                    alerted.append(case["id"])
        return alerted

    async def _post(self, alert: dict[str, Any]) -> bool:
        try:
            async with self._http.post(self._webhook_url, json=alert, timeout=WEBHOOK_TIMEOUT) as response:
                if response.status < 300:
                    return True
                log.warning("alert webhook answered %s; will retry", response.status)
        except (aiohttp.ClientError, TimeoutError) as exc:
            log.warning("alert webhook unreachable (%s); will retry", exc)
        return False


def _alert(case: Case, kind: str, detail: str) -> dict[str, Any]:
    return {
        "type": "alert",
        "kind": kind,
        "case_id": case["id"],
        "status": case["status"],
        "priority": case.get("priority"),
        "risk": case["risk"]["grade"],
        "language": case["language"],
        "channel": case["channel"],
        "respond_by": case["deadlines"]["respond_by"],
        "unit": case.get("department") or case.get("unit") or "hq",
        "detail": detail,
        "at": datetime.now(UTC).isoformat(),
    }

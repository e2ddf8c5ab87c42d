"""Hot-spot warning: many complaints about one product, one receiving unit or one member of staff in a rolling
window (``[hotspots]`` in the risk rules file: ``window_days``, ``threshold``, ``by``).

``check_hotspots`` counts, in the system of record, the cases received in the last ``window_days`` days by each
value of each watched dimension; every value with ``threshold`` cases or more alerts the supervisors once
(``hotspot``), and the same value does not alert again for ``window_days`` days. A unit's hot spot goes to that
unit's supervisors (and those above), a product's or a staff member's to head office. Staff are read as the
record has them (the staff a plan names responsible, else the people the customer named), spaces evened out.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from handoff import labels
from handoff.org import Org
from handoff.risk import Hotspots
from records.reading import Source, reading
from records.reports.register import UnitAlerts
from records.tables import CaseRow

COLUMNS = {"product": CaseRow.product, "unit": CaseRow.unit, "staff": CaseRow.staff_involved}
NAMES = {"product": ("product", "业务"), "unit": ("unit", "受理单位"), "staff": ("staff member", "人员")}


@dataclass(frozen=True, slots=True)
class Hotspot:
    dimension: str
    value: str
    count: int


async def find_hotspots(source: Source, rules: Hotspots, now: datetime | None = None) -> list[Hotspot]:
    """Every value of the watched dimensions with ``threshold`` cases or more received in the window."""
    now = now or datetime.now(UTC)
    since = now - timedelta(days=rules.window_days)
    found = []
    async with reading(source) as db:
        for dimension in rules.by:
            column = COLUMNS[dimension]
            query = (select(column, func.count()).where(CaseRow.received_at > since, CaseRow.received_at <= now,
                                                        column.is_not(None))
                     .group_by(column).having(func.count() >= rules.threshold).order_by(column))
            found += [Hotspot(dimension, str(value), int(count)) for value, count in await db.execute(query)]
    return found


async def check_hotspots(
    source: Source, rules: Hotspots | None, org: Org, alerts: UnitAlerts, now: datetime | None = None
) -> list[Hotspot]:
    """Alert the supervisors about each hot spot not alerted within its window; the ones alerted this time."""
    if rules is None:
        return []
    alerted = []
    for spot in await find_hotspots(source, rules, now):
        unit = spot.value if spot.dimension == "unit" and spot.value in org else org.head_office.id
        key = hashlib.sha256(f"{spot.dimension}\n{spot.value}".encode()).hexdigest()[:32]
        extra: dict[str, Any] = {"dimension": spot.dimension, "value": spot.value, "count": spot.count,
                                 "window_days": rules.window_days, "threshold": rules.threshold}
        if await alerts.about_unit("hotspot", unit, _detail(spot, rules, org), mark=f"hotspot:{key}",
                                   ttl=rules.window_days * 86400, extra=extra):
            alerted.append(spot)
    return alerted


def _detail(spot: Hotspot, rules: Hotspots, org: Org) -> str:
    english, chinese = NAMES[spot.dimension]
    shown = spot.value
    if spot.dimension == "product":
        shown = labels.both(labels.PRODUCTS, spot.value)
    elif spot.dimension == "unit" and spot.value in org:
        shown = f"{org.units[spot.value].name_en} {org.units[spot.value].name_zh}"
    return (f"hot spot: {spot.count} complaints about {english} {shown} in the last {rules.window_days} days "
            f"(threshold {rules.threshold}) · 近{rules.window_days}天{chinese}“{shown}”被投诉{spot.count}次")

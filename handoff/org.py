"""The firm's organisation: its units (head office, branches, departments) from ``ORG_FILE``.

The file is TOML, one ``[[units]]`` table per unit::

    [[units]]
    id = "hq"
    name = { zh = "总部", en = "Head office" }
    kind = "hq"                      # hq | branch | department

    [[units]]
    id = "sh-pudong"
    name = { zh = "上海浦东营业部", en = "Shanghai Pudong branch" }
    kind = "branch"
    parent = "hq"

Routing rules (``[[routing]]``, first match wins) set a case's responsible ``department``: by its product,
its channel, words in what the customer said, or the unit that received it::

    [[routing]]
    products = ["margin_trading"]          # any of these products
    department = "margin-desk"

    [[routing]]
    keywords = ["营业部", "branch"]          # any of these words in the complaint
    units = ["sh-pudong"]                   # and received by one of these units
    department = "sh-pudong"

A rule with several conditions needs them all. A case no rule takes is handled where it was received.

Without the file there is one unit, ``hq``. A file that cannot be used (an unknown kind or parent, a repeated
id, a cycle, not exactly one head office, a rule naming no unit) is refused at start with the reason.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

KINDS = ("hq", "branch", "department")


class OrgError(ValueError):
    """ORG_FILE describes an organisation the gateway cannot use; the message says why."""


@dataclass(frozen=True, slots=True)
class Unit:
    id: str
    name_zh: str
    name_en: str
    kind: str
    parent: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "name": {"zh": self.name_zh, "en": self.name_en}, "kind": self.kind,
                "parent": self.parent}


HEAD_OFFICE = Unit("hq", "总部", "Head office", "hq")


@dataclass(frozen=True, slots=True)
class Rule:
    department: str
    products: frozenset[str] = frozenset()
    channels: frozenset[str] = frozenset()
    keywords: tuple[str, ...] = ()
    units: frozenset[str] = frozenset()

    def takes(self, case: dict[str, Any]) -> bool:
        complaint = case.get("complaint") or {}
        text = " ".join(str(complaint.get(k) or "") for k in ("description", "place", "people_involved")).lower()
        return ((not self.products or complaint.get("product") in self.products)
                and (not self.channels or case.get("channel") in self.channels)
                and (not self.keywords or any(word.lower() in text for word in self.keywords))
                and (not self.units or case.get("unit") in self.units))


@dataclass(frozen=True, slots=True)
class Org:
    units: dict[str, Unit]
    routing: tuple[Rule, ...] = ()

    def department_for(self, case: dict[str, Any]) -> str | None:
        """The responsible department the first rule that takes the case names; None: where it was received."""
        return next((rule.department for rule in self.routing if rule.takes(case)), None)

    def __contains__(self, unit_id: object) -> bool:
        return unit_id in self.units

    @property
    def head_office(self) -> Unit:
        return next(unit for unit in self.units.values() if unit.kind == "hq")

    def below(self, unit_id: str) -> set[str]:
        """The unit and every unit under it."""
        found = {unit_id}
        while True:
            more = {u.id for u in self.units.values() if u.parent in found} - found
            if not more:
                return found
            found |= more


def single_unit() -> Org:
    return Org({HEAD_OFFICE.id: HEAD_OFFICE})


def load_org(path: Path | str | None) -> Org:
    """The organisation in ``path`` (ORG_FILE), or the single head office without one."""
    if not path:
        return single_unit()
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise OrgError(f"ORG_FILE {path}: {exc}") from None
    units: dict[str, Unit] = {}
    for entry in data.get("units") or []:
        unit = _unit(entry)
        if unit.id in units:
            raise OrgError(f"ORG_FILE: unit {unit.id!r} appears twice")
        units[unit.id] = unit
    _check(units)
    return Org(units, tuple(_rule(entry, units) for entry in data.get("routing") or []))


def _rule(entry: Any, units: dict[str, Unit]) -> Rule:
    if not isinstance(entry, dict) or entry.get("department") not in units:
        raise OrgError(f"ORG_FILE: a [[routing]] rule names department {entry.get('department')!r}, not a unit"
                       if isinstance(entry, dict) else "ORG_FILE: [[routing]] entries are tables")
    for name in ("products", "channels", "keywords", "units"):
        if not isinstance(entry.get(name, []), list):
            raise OrgError(f"ORG_FILE: a [[routing]] rule's {name} is a list")
    unknown = [u for u in entry.get("units", []) if u not in units]
    if unknown:
        raise OrgError(f"ORG_FILE: a [[routing]] rule names units {unknown}, which are not units")
    return Rule(str(entry["department"]), frozenset(entry.get("products", [])), frozenset(entry.get("channels", [])),
                tuple(str(w) for w in entry.get("keywords", [])), frozenset(entry.get("units", [])))


def _unit(entry: Any) -> Unit:
    if not isinstance(entry, dict) or not isinstance(entry.get("id"), str) or not entry["id"].strip():
        raise OrgError("ORG_FILE: every [[units]] table needs an id")
    names: dict[str, Any] = entry["name"] if isinstance(entry.get("name"), dict) else {}
    kind = entry.get("kind", "branch")
    if kind not in KINDS:
        raise OrgError(f"ORG_FILE: unit {entry['id']!r} has kind {kind!r}, not one of {', '.join(KINDS)}")
    parent = entry.get("parent")
    return Unit(entry["id"].strip(), str(names.get("zh") or entry["id"]), str(names.get("en") or entry["id"]),
                kind, str(parent) if parent else None)


def _check(units: dict[str, Unit]) -> None:
    heads = [u.id for u in units.values() if u.kind == "hq"]
    if len(heads) != 1:
        raise OrgError(f"ORG_FILE: exactly one unit of kind hq is needed, found {len(heads)}")
    for unit in units.values():
        if unit.parent is not None and unit.parent not in units:
            raise OrgError(f"ORG_FILE: unit {unit.id!r} has parent {unit.parent!r}, which is not a unit")
        seen, current = {unit.id}, unit.parent
        while current is not None:
            if current in seen:
                raise OrgError(f"ORG_FILE: unit {unit.id!r} is its own ancestor")
            seen.add(current)
            current = units[current].parent

"""ORG_FILE contents for tests: a firm's units written out as the TOML an operator writes (handoff/org.py)."""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple


class Unit(NamedTuple):
    id: str
    zh: str
    en: str
    kind: str = "branch"
    parent: str | None = "hq"


HEAD_OFFICE = Unit("hq", "总部", "Head office", "hq", None)
PUDONG = Unit("sh-pudong", "上海浦东营业部", "Shanghai Pudong branch")


def org_toml(*units: Unit, routing: str = "") -> str:
    """The units (head office first if given) as ``[[units]]`` tables, then any ``[[routing]]`` text."""
    tables = []
    for unit in units:
        parent = f'parent = "{unit.parent}"\n' if unit.parent else ""
        tables.append(f'[[units]]\nid = "{unit.id}"\nname = {{ zh = "{unit.zh}", en = "{unit.en}" }}\n'
                      f'kind = "{unit.kind}"\n{parent}')
    return "\n".join(tables) + (f"\n{routing}" if routing else "")


def write_org(folder: Path, *units: Unit, routing: str = "") -> Path:
    """An ORG_FILE in ``folder`` with these units; its path."""
    path = folder / "org.toml"
    path.write_text(org_toml(*units, routing=routing), encoding="utf-8")
    return path

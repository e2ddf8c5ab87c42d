"""Search over the system of record, for supervisors: which cases match, newest first, a page at a time.

Every filter narrows (they combine with AND); an empty query lists every case. What each filter means:

- ``text``: every word of it (split on spaces, tabs, line breaks and full-width spaces) appears somewhere in
  the case's free text (description, names, contacts, what the customer said), in any capitals. Chinese
  needs no spaces: ``强制平仓`` finds the phrase.
- ``contact``: an email address (whole address, any capitals), or a phone number in any format: its last ten
  digits (fewer if fewer were given) appear in the stored number, which the bot and the channels keep in E.164
  (+8613912345678), so "139 1234 5678", "+86 139-1234-5678" and "13912345678" all find it.
- ``account``: the account number exactly; ``case_id``: the whole id, or its beginning (``C-2611`` is November
  2026's cases).
- ``products``, ``channels``, ``statuses``, ``risks``: any of the values given.
- ``created_from`` / ``created_to``: the days (both included, in either order) the case was received, in
  ``zone``.

Guarantees: a stable order (received time, then id, both descending) so paging never shows a case twice or
skips one while nothing is written; the total counts every match, not just the page; the query's text is data,
never SQL (bound parameters, LIKE wildcards escaped). It runs the same on SQLite and PostgreSQL: free text is a
substring test on the lower-cased ``search_text`` column, which PostgreSQL can serve from the trigram index in
``SEARCH_INDEXES``. Without those indexes every search still gives the same answers, only slower.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import ColumnElement, RowMapping, Select, func, select

from handoff.cases import STATUSES
from handoff.ids import is_case_id
from records.reading import Source, reading
from records.record import as_utc
from records.tables import CaseRow

MAX_PAGE_SIZE = 100
MAX_PAGE = 10_000  # a million cases deep: further than anyone pages, short of what breaks an OFFSET
MAX_TERMS = 10
MAX_TEXT = 200
RISK_GRADES = ("high", "medium", "low")
YEARS = range(1970, 3000)  # days outside are typing mistakes (and date arithmetic would overflow)
_LABEL = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
# What separates words: named, not str.split()'s idea of whitespace, so that the API document can say exactly
# what it accepts (its patterns read \s differently from Python).
WORD_SEPARATORS = r" \t\n\r\f\v\u00a0\u3000"
_SEPARATORS = re.compile(f"[{WORD_SEPARATORS}]+")
_CASE_ID_PART = re.compile(r"^C(-[0-9A-Z]*)*$")

# Indexes search wants beyond the models' own, by dialect, as migration 0002 creates them (tables made from the
# models directly, as the benchmark's and tests' bulk-loaded ones are, add them from here). Email lookups compare
# lower-cased addresses. On PostgreSQL a trigram index serves free text (LIKE '%...%' of three characters or
# more, Chinese included) instead of a read of every row; shorter words still work, by that read.
_EMAIL_INDEX = "CREATE INDEX IF NOT EXISTS ix_cases_email_lower ON cases (lower(email))"
SEARCH_INDEXES: dict[str, tuple[str, ...]] = {
    "sqlite": (_EMAIL_INDEX,),
    "postgresql": (
        _EMAIL_INDEX,
        "CREATE EXTENSION IF NOT EXISTS pg_trgm",
        "CREATE INDEX IF NOT EXISTS ix_cases_search_text_trgm ON cases USING gin (search_text gin_trgm_ops)",
    ),
}


class SearchError(ValueError):
    """A query that cannot be run as given; the message says which filter and why."""


@dataclass(frozen=True, slots=True)
class SearchQuery:
    text: str = ""
    contact: str = ""
    account: str = ""
    case_id: str = ""
    products: tuple[str, ...] = ()
    channels: tuple[str, ...] = ()
    statuses: tuple[str, ...] = ()
    risks: tuple[str, ...] = ()
    created_from: date | None = None
    created_to: date | None = None
    zone: str = "UTC"
    page: int = 1
    page_size: int = 20

    def __post_init__(self) -> None:
        if not 1 <= self.page <= MAX_PAGE:
            raise SearchError(f"page must be between 1 and {MAX_PAGE}")
        if not 1 <= self.page_size <= MAX_PAGE_SIZE:
            raise SearchError(f"page_size must be between 1 and {MAX_PAGE_SIZE}")
        _check_texts(self)
        _check_values("status", self.statuses, STATUSES)
        _check_values("risk", self.risks, RISK_GRADES)
        for name, values in (("product", self.products), ("channel", self.channels)):
            if any(not _LABEL.match(value) for value in values):
                raise SearchError(f"{name} must be a label such as online_trading (lower case, digits, _)")
        for name, day in (("from", self.created_from), ("to", self.created_to)):
            if day is not None and day.year not in YEARS:
                raise SearchError(f"{name} must be a day between {YEARS.start} and {YEARS.stop - 1}")
        _zone(self.zone)


def _check_texts(query: SearchQuery) -> None:
    for name, value in (("text", query.text), ("contact", query.contact), ("account", query.account),
                        ("case_id", query.case_id)):
        if len(value) > MAX_TEXT or "\x00" in value:  # PostgreSQL refuses NUL in text
            raise SearchError(f"{name} is at most {MAX_TEXT} characters, without NUL")
    if len(terms(query.text)) > MAX_TERMS:
        raise SearchError(f"text is at most {MAX_TERMS} words")
    contact = query.contact.strip()
    if contact and "@" not in contact and sum(ch.isdigit() for ch in contact) < 4:
        raise SearchError("contact must be an email address or a phone number (at least 4 digits)")
    if query.case_id and not _CASE_ID_PART.match(query.case_id.strip().upper()):
        raise SearchError("case_id must be a case id (C-261123-7KQ4) or its beginning (C-2611)")


def terms(text: str) -> list[str]:
    """The words of a free-text query, lower-cased as ``search_text`` is."""
    return [word for word in _SEPARATORS.split(text.lower()) if word]


def _check_values(name: str, values: tuple[str, ...], allowed: tuple[str, ...]) -> None:
    unknown = [value for value in values if value not in allowed]
    if unknown:
        raise SearchError(f"{name} must be one of {', '.join(allowed)}, not {unknown[0]!r}")


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise SearchError(f"unknown time zone {name!r}") from None


@dataclass(frozen=True, slots=True)
class SearchHit:
    """One case in a result list: enough to recognise it; the export has everything."""

    id: str
    created_at: datetime
    channel: str
    language: str
    status: str
    priority: str
    risk_grade: str
    product: str | None
    customer_name: str | None
    assignee: str | None
    outcome: str | None
    description: str | None

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "created_at": self.created_at.isoformat()}


@dataclass(frozen=True, slots=True)
class SearchPage:
    items: list[SearchHit] = field(default_factory=list)
    total: int = 0
    page: int = 1
    page_size: int = 20

    @property
    def pages(self) -> int:
        return -(-self.total // self.page_size)

    def to_dict(self) -> dict[str, Any]:
        return {"items": [hit.to_dict() for hit in self.items], "total": self.total, "page": self.page,
                "page_size": self.page_size, "pages": self.pages}


SNIPPET = 160
_HIT_COLUMNS = (
    CaseRow.id, CaseRow.created_at, CaseRow.channel, CaseRow.language, CaseRow.status, CaseRow.priority,
    CaseRow.risk_grade, CaseRow.product, CaseRow.customer_name, CaseRow.assignee, CaseRow.outcome,
)


async def search(source: Source, query: SearchQuery) -> SearchPage:
    """The page of cases matching ``query``, newest first, with the number of matches in all."""
    conditions = where(query)
    newest_first = (CaseRow.created_at.desc(), CaseRow.id.desc())
    # The page's ids first, then their columns: the rows skipped for a deep page are only index entries,
    # and a document is read for the page's cases alone.
    page_ids = (select(CaseRow.id).where(*conditions).order_by(*newest_first)
                .limit(query.page_size).offset((query.page - 1) * query.page_size)).subquery()
    description = CaseRow.document[("complaint", "description")].as_string().label("description")
    page_rows = (select(*_HIT_COLUMNS, description).join(page_ids, page_ids.c.id == CaseRow.id)
                 .order_by(*newest_first))
    async with reading(source) as db:
        rows = (await db.execute(page_rows)).all()
        if query.page == 1 and len(rows) < query.page_size:
            total = len(rows)  # the first page holds every match: no need to count them again
        else:
            total = (await db.execute(_count(conditions))).scalar_one()
    return SearchPage([_hit(row._mapping) for row in rows], total, query.page, query.page_size)


def _count(conditions: list[ColumnElement[bool]]) -> Select[int]:
    return select(func.count()).select_from(CaseRow).where(*conditions)


def _hit(row: RowMapping) -> SearchHit:
    return SearchHit(**{**row, "created_at": as_utc(row["created_at"]),
                        "description": _snippet(row["description"])})


def _snippet(text: str | None) -> str | None:
    if text is None or len(text) <= SNIPPET:
        return text
    return text[:SNIPPET - 1] + "…"


def where(query: SearchQuery) -> list[ColumnElement[bool]]:
    """The query's filters as SQL conditions on ``cases``."""
    conditions: list[ColumnElement[bool]] = [
        CaseRow.search_text.contains(term, autoescape=True) for term in terms(query.text)
    ]
    if query.contact.strip():
        conditions.append(_contact(query.contact.strip()))
    if query.account.strip():
        conditions.append(CaseRow.account_id == query.account.strip())
    if query.case_id.strip():
        conditions.append(_case_id(query.case_id.strip().upper()))
    for column, values in ((CaseRow.product, query.products), (CaseRow.channel, query.channels),
                           (CaseRow.status, query.statuses), (CaseRow.risk_grade, query.risks)):
        if values:
            conditions.append(column.in_(values))
    return conditions + _received(query)


def _received(query: SearchQuery) -> list[ColumnElement[bool]]:
    zone = _zone(query.zone)
    first, last = query.created_from, query.created_to
    if first and last and first > last:
        first, last = last, first  # a range typed backwards still means the days between
    conditions = []
    if first:
        conditions.append(CaseRow.created_at >= day_start(first, zone))
    if last:
        conditions.append(CaseRow.created_at < day_start(last + timedelta(days=1), zone))
    return conditions


def day_start(day: date, zone: ZoneInfo) -> datetime:
    """Midnight of ``day`` in ``zone``, in UTC: stored times are UTC, and SQLite compares them as text."""
    return as_utc(datetime.combine(day, time(), tzinfo=zone))


def _contact(contact: str) -> ColumnElement[bool]:
    if "@" in contact:
        return func.lower(CaseRow.email) == contact.lower()
    digits = "".join(ch for ch in contact if ch.isdigit())
    # The last ten digits: without the country code or a trunk 0, which people give or leave out at will.
    return CaseRow.phone.contains(digits[-10:], autoescape=True)


def _case_id(case_id: str) -> ColumnElement[bool]:
    if is_case_id(case_id):
        return CaseRow.id == case_id
    return CaseRow.id.startswith(case_id, autoescape=True)

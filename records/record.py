"""The system of record: every case with its messages and audit events in SQL, kept for the retention period.

Redis is the working store; this database is what survives its loss. ``CaseStore`` writes each case here after
every change (write-through: ``CaseRecord`` is its ``SystemOfRecord``), and ``records.recovery`` puts Redis back
together from it. SQLite (aiosqlite) is the embedded default, PostgreSQL (asyncpg) the server; the schema is
Alembic's (``records/migrations``).

Guarantees:
- saving is idempotent: the case row is upserted, and messages and events, append-only lists in Redis, are
  numbered by their place there and inserted once each, so saving the same case again changes nothing;
- a stale save does not win: the case row only takes a document at least as recent (``updated_at``) as its own;
- times are stored in UTC and read back UTC-aware on both databases (SQLite returns them naive);
- retention: ``purge`` deletes cases *closed* before the cutoff (kept the retention period after they were
  closed), with their messages and events; an open case is never deleted, however old; every purge that is not
  a dry run leaves a row in ``purges`` saying when, by whom, up to which date, how many and which cases;
- ``CaseRecord.open`` migrates the database to the latest revision first, so a fresh machine just works.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Executable, Table, and_, delete, event, func, insert, or_, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool
from sqlalchemy.sql.elements import ColumnElement

from handoff.cases import CUSTOMER_FIELDS, Case, CaseNotFound, case_files
from records.tables import Base

log = logging.getLogger(__name__)

CASES = Base.metadata.tables["cases"]
MESSAGES = Base.metadata.tables["case_messages"]
EVENTS = Base.metadata.tables["case_events"]
PURGES = Base.metadata.tables["purges"]
FILES = Base.metadata.tables["attachments"]
CASE_FILES = Base.metadata.tables["case_attachments"]
MAX_FILE_BYTES = 50 * 1024 * 1024  # a file past this is not a customer's document: it stays metadata only
MIGRATIONS_DIR = Path(__file__).with_name("migrations")
# A supervisor's reassign of a waiting case hands it to a handler just as a claim does.
ACKNOWLEDGING = ("claim", "reassign")
_MIGRATION_LOCK = 0x63675F72  # PostgreSQL advisory lock: replicas starting together migrate one at a time
_ASYNC_DRIVERS = {"postgresql": "postgresql+asyncpg", "postgres": "postgresql+asyncpg", "sqlite": "sqlite+aiosqlite"}
_CHUNK = 500  # ids per IN (...) list, well under both databases' parameter limits


class UnsupportedDatabase(ValueError):
    """The URL names a database other than SQLite or PostgreSQL."""


def record_engine(url: str, **options: Any) -> AsyncEngine:
    """An async engine on the record; errors and logs never show SQL parameters (they hold personal data)."""
    parsed = make_url(url)
    if parsed.drivername in _ASYNC_DRIVERS:  # a plain postgresql:// or sqlite:// URL gets the async driver
        parsed = parsed.set(drivername=_ASYNC_DRIVERS[parsed.drivername])
    if parsed.get_backend_name() not in ("sqlite", "postgresql"):
        raise UnsupportedDatabase(f"the record runs on SQLite or PostgreSQL, not {parsed.get_backend_name()}")
    engine = create_async_engine(parsed, hide_parameters=True, pool_pre_ping=True, **options)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
    return engine


def _sqlite_pragmas(dbapi_connection: Any, _connection_record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")  # off by default in SQLite
    cursor.execute("PRAGMA journal_mode=WAL")  # readers (search, reports) do not wait for the writer
    cursor.close()


async def migrate(url: str) -> str:
    """Bring the record's tables to the latest revision (a no-op if they are); the revision now in place."""
    engine = record_engine(url, poolclass=NullPool)
    try:
        async with engine.begin() as connection:
            if connection.dialect.name == "postgresql":
                await connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK})
            return await connection.run_sync(_upgrade)
    finally:
        await engine.dispose()


def _upgrade(connection: Connection) -> str:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = connection
    command.upgrade(config, "head")
    return ScriptDirectory.from_config(config).get_current_head() or ""


@dataclasses.dataclass(frozen=True, slots=True)
class PurgeSummary:
    """What a purge removed (or, for a dry run, would remove)."""

    at: datetime
    by: str
    cutoff: datetime
    cases: int
    messages: int
    events: int
    case_ids: tuple[str, ...]
    dry_run: bool = False


class CaseRecord:
    """The record of cases in one database; ``open`` (or ``async with``) before use, ``close`` after."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._engine: AsyncEngine | None = None

    @property
    def engine(self) -> AsyncEngine:
        if self._engine is None:
            raise RuntimeError("the record is not open")
        return self._engine

    async def open(self) -> None:
        await migrate(self.url)
        self._engine = record_engine(self.url)

    async def close(self) -> None:
        if self._engine is not None:
            await self._engine.dispose()
            self._engine = None

    async def __aenter__(self) -> CaseRecord:
        await self.open()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def save(self, case: Case, files: Mapping[str, bytes] | None = None) -> None:
        """Upsert the case's row and add the messages and events it has that the record has not yet; keep
        ``files`` (content by SHA-256) and link the case to every file of its own the record holds."""
        async with self.engine.begin() as connection:
            dialect = connection.dialect.name
            await connection.execute(_upsert_case(dialect, case_columns(case)))
            await _append(connection, MESSAGES, case["id"], case.get("messages", ()), message_columns)
            await _append(connection, EVENTS, case["id"], case.get("events", ()), event_columns)
            await _keep_files(connection, case, files or {})

    async def stored_files(self, digests: Iterable[str]) -> set[str]:
        """Which of these files the record holds."""
        wanted = list(digests)
        async with self.engine.connect() as connection:
            query = select(FILES.c.sha256).where(FILES.c.sha256.in_(wanted))
            return set((await connection.scalars(query)).all())

    async def case_file(self, case_id: str, digest: str) -> tuple[str, str, bytes] | None:
        """A file of the case: its name, content type and content; None unless the case holds it."""
        query = (select(CASE_FILES.c.name, FILES.c.content_type, FILES.c.content)
                 .join(FILES, FILES.c.sha256 == CASE_FILES.c.sha256)
                 .where(CASE_FILES.c.case_id == case_id, CASE_FILES.c.sha256 == digest).limit(1))
        async with self.engine.connect() as connection:
            row = (await connection.execute(query)).first()
        return (row.name, row.content_type, row.content) if row else None

    async def load(self, case_id: str) -> Case:
        """The case as ``CaseStore.get`` shows it: the document with its messages and events."""
        async with self.engine.connect() as connection:
            rows = (await connection.execute(select(CASES.c.id, CASES.c.document).where(CASES.c.id == case_id))).all()
            if not rows:
                raise CaseNotFound(f"no case {case_id} in the record")
            return (await _with_history(connection, [(row.id, row.document) for row in rows]))[0]

    async def all_cases(self, batch: int = 500) -> AsyncIterator[Case]:
        """Every case with its messages and events, oldest first, read ``batch`` cases at a time."""
        after: tuple[datetime, str] | None = None
        while True:
            query = select(CASES.c.id, CASES.c.created_at, CASES.c.document)
            if after is not None:
                query = query.where(or_(CASES.c.created_at > after[0],
                                        and_(CASES.c.created_at == after[0], CASES.c.id > after[1])))
            async with self.engine.connect() as connection:
                rows = (await connection.execute(query.order_by(CASES.c.created_at, CASES.c.id).limit(batch))).all()
                found = await _with_history(connection, [(row.id, row.document) for row in rows])
            for case in found:
                yield case
            if len(rows) < batch:
                return
            after = (rows[-1].created_at, rows[-1].id)

    async def open_case_ids(self) -> list[str]:
        """The ids of cases not closed, oldest first."""
        query = select(CASES.c.id).where(CASES.c.status != "closed").order_by(CASES.c.created_at, CASES.c.id)
        async with self.engine.connect() as connection:
            return list((await connection.scalars(query)).all())

    async def count(self) -> int:
        async with self.engine.connect() as connection:
            return int(await connection.scalar(select(func.count()).select_from(CASES)) or 0)

    async def purge(self, before: datetime, by: str, *, dry_run: bool = False) -> PurgeSummary:
        """Delete cases closed before ``before`` with their messages and events, and record the purge."""
        cutoff = as_utc(before)
        # Kept for the retention period after the case was closed (a case closed before the record knew when:
        # after it was opened).
        closed = func.coalesce(CASES.c.closed_at, CASES.c.created_at)
        expired = (select(CASES.c.id).where(CASES.c.status == "closed", closed < cutoff)
                   .order_by(CASES.c.id).with_for_update())
        async with self.engine.begin() as connection:
            ids = tuple((await connection.scalars(expired)).all())
            remove = _count if dry_run else _delete
            messages, events = await remove(connection, MESSAGES, ids), await remove(connection, EVENTS, ids)
            await remove(connection, CASE_FILES, ids)
            cases = await remove(connection, CASES, ids)
            if not dry_run:  # a file no case holds any more goes with the last case that held it
                await connection.execute(delete(FILES).where(~FILES.c.sha256.in_(select(CASE_FILES.c.sha256))))
            summary = PurgeSummary(datetime.now(UTC), by, cutoff, cases, messages, events, ids, dry_run)
            if not dry_run:
                await connection.execute(insert(PURGES).values(_purge_columns(summary)))
        return summary


def case_columns(case: Case) -> dict[str, Any]:
    """The case row: the columns search and reports use, and the document without messages and events."""
    customer, complaint = case.get("customer") or {}, case.get("complaint") or {}
    risk, deadlines = case.get("risk") or {}, case.get("deadlines") or {}
    events = case.get("events") or []
    created = _required_utc(case.get("created_at"), "created_at")
    row = {
        "id": case["id"], "channel": case.get("channel") or "", "language": case.get("language") or "",
        "status": case["status"], "priority": case.get("priority") or "normal",
        "risk_grade": risk.get("grade") or "low", "risk_score": int(risk.get("score") or 0),
        "product": complaint.get("product"), "handoff_reason": case.get("handoff_reason"),
        "customer_name": customer.get("name"), "phone": customer.get("phone"), "email": customer.get("email"),
        "account_id": customer.get("account_id"), "assignee": case.get("assignee"),
        "outcome": (case.get("resolution") or {}).get("outcome"),
        "satisfaction": satisfaction_score(case),
        "created_at": created, "updated_at": _utc(case.get("updated_at")) or created,
        "acknowledge_by": _utc(deadlines.get("acknowledge_by")), "respond_by": _utc(deadlines.get("respond_by")),
        "acknowledged_at": _first_time(events, ACKNOWLEDGING), "answered_at": first_answer(events),
        "closed_at": _closed_at(case, events), "search_text": search_text(case),
        "document": {key: value for key, value in case.items() if key not in ("messages", "events")},
        **register_columns(case),
    }
    return _fit(CASES, row)


def register_columns(case: Case) -> dict[str, Any]:
    """The columns the register and the quarterly analysis count on, read from the case document."""
    complaint, plan = case.get("complaint") or {}, case.get("proposal") or {}
    created = _utc(case.get("created_at"))
    compensation = paid_compensation(case)
    return {
        "received_at": _utc(case.get("received_at")) or created,
        "unit": case.get("unit") or None, "department": case.get("department") or case.get("unit") or None,
        "nature": case.get("nature") or None,
        "staff_involved": _one_line((plan.get("responsible") or {}).get("staff") or complaint.get("people_involved")),
        "measures_verified": measures_verified(case),
        "compensation_amount": compensation[0] if compensation else None,
        "compensation_currency": compensation[1] if compensation else None,
        "typical": is_typical(case),
    }


def answers(events: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """The events at which the customer got an answer: a one-step resolve, an approved plan, or a plan that went
    out at once because it needed no approval."""
    return [e for e in events if e.get("action") in ("resolve", "approve")
            or (e.get("action") == "propose" and e.get("after") == "answered")]


def first_answer(events: Sequence[dict[str, Any]]) -> datetime | None:
    return next((_utc(e.get("at")) for e in answers(events)), None)


def satisfaction_score(case: Case) -> int | None:
    """The customer's score (1-5): their answer to the survey, else the latest return visit that asked."""
    score = _int_or_none((case.get("satisfaction") or {}).get("score"))
    if score is not None:
        return score
    visits = [v for v in case.get("return_visits") or () if isinstance(v, dict) and v.get("score") is not None]
    return _int_or_none(visits[-1]["score"]) if visits else None


def measures_verified(case: Case) -> bool | None:
    """Whether a return visit found the corrective measures carried out; None when the plan had none."""
    if not str((case.get("proposal") or {}).get("measures") or "").strip():
        return None
    return any(isinstance(v, dict) and v.get("measures_verified") is True for v in case.get("return_visits") or ())


def paid_compensation(case: Case) -> tuple[Decimal, str] | None:
    """The compensation of the plan whose answer the customer got (approved, or sent without approval)."""
    plan, resolution = case.get("proposal") or {}, case.get("resolution") or {}
    compensation = plan.get("compensation")
    if not isinstance(compensation, dict) or not resolution or resolution.get("summary") != plan.get("answer"):
        return None
    try:
        amount = Decimal(str(compensation.get("amount")))
    except ArithmeticError:
        return None
    currency = str(compensation.get("currency") or "").strip().upper()[:3]
    return (amount, currency) if amount.is_finite() and amount >= 0 and currency else None


def is_typical(case: Case) -> bool:
    """Flagged by a handler as a typical case for case studies: ``typical`` is true, or ``{"reason", …}``."""
    flag = case.get("typical")
    if isinstance(flag, dict):
        return flag.get("typical", True) is not False
    return flag is True


def _one_line(value: Any) -> str | None:
    text = " ".join(str(value or "").split())
    return text or None


def message_columns(message: dict[str, Any]) -> dict[str, Any]:
    # The whole entry is kept as the document: attachments' metadata and whatever a channel adds.
    return _fit(MESSAGES, {"at": _utc(message.get("at")), "sender": message.get("from") or "unknown",
                           "channel": message.get("channel"), "text": message.get("text") or "",
                           "document": message})


def event_columns(entry: dict[str, Any]) -> dict[str, Any]:
    return _fit(EVENTS, {"at": _required_utc(entry.get("at"), "event time"), "actor": entry.get("actor") or "",
                         "action": entry.get("action") or "", "before": entry.get("before"),
                         "after": entry.get("after") or "", "detail": entry.get("detail")})


def search_text(case: Case) -> str:
    """Lower-cased names, contacts, description and the customer's own words, for free-text search."""
    customer = case.get("customer") or {}
    parts = [customer.get(name) for name in CUSTOMER_FIELDS]
    parts.append((case.get("complaint") or {}).get("description"))
    parts += [m.get("text") for m in case.get("messages", ()) if m.get("from") == "customer"]
    return "\n".join(str(part) for part in parts if part).lower()


async def _keep_files(connection: AsyncConnection, case: Case, files: Mapping[str, bytes]) -> None:
    refs = case_files(case)
    if not refs:
        return
    dialect, now = connection.dialect.name, datetime.now(UTC)
    new = [{"sha256": digest, "content_type": str(entry.get("content_type") or "application/octet-stream")[:255],
            "size": len(files[digest]), "content": files[digest], "stored_at": now}
           for digest, entry in refs if digest in files and len(files[digest]) <= MAX_FILE_BYTES
           and hashlib.sha256(files[digest]).hexdigest() == digest]
    if new:
        await connection.execute(_insert_new(dialect, FILES, list({row["sha256"]: row for row in new}.values())))
    held = set((await connection.scalars(
        select(FILES.c.sha256).where(FILES.c.sha256.in_({digest for digest, _ in refs})))).all())
    links = [{"case_id": case["id"], "sha256": digest, "name": str(entry.get("name") or "")[:255]}
             for digest, entry in refs if digest in held]
    if links:
        await connection.execute(_insert_new(dialect, CASE_FILES, links))


def _first_time(events: Sequence[dict[str, Any]], actions: Iterable[str]) -> datetime | None:
    wanted = set(actions)
    return next((_utc(e.get("at")) for e in events if e.get("action") in wanted), None)


def _closed_at(case: Case, events: Sequence[dict[str, Any]]) -> datetime | None:
    # Closed by a handler ("close") or by a satisfied customer ("satisfaction" with after=closed).
    if case.get("status") != "closed":
        return None
    return next((_utc(e.get("at")) for e in reversed(events) if e.get("after") == "closed"), None)


def _fit(table: Table, row: dict[str, Any]) -> dict[str, Any]:
    """Text values cut to their column's length: PostgreSQL refuses longer ones, and one odd field must not
    keep a whole case out of the record."""
    for name, value in row.items():
        length = getattr(table.c[name].type, "length", None)
        if length and value is not None:
            row[name] = str(value)[:length]
    return row


def _upsert_case(dialect: str, row: dict[str, Any]) -> Executable:
    if dialect == "postgresql":
        pg = postgresql.insert(CASES).values(row)
        return pg.on_conflict_do_update(index_elements=[CASES.c.id], set_=_update_from(row, pg.excluded),
                                        where=CASES.c.updated_at <= pg.excluded.updated_at)
    if dialect == "sqlite":
        lite = sqlite.insert(CASES).values(row)
        return lite.on_conflict_do_update(index_elements=[CASES.c.id], set_=_update_from(row, lite.excluded),
                                          where=CASES.c.updated_at <= lite.excluded.updated_at)
    raise UnsupportedDatabase(dialect)


def _update_from(row: dict[str, Any], excluded: Any) -> dict[str, ColumnElement[Any]]:
    return {name: excluded[name] for name in row if name != "id"}


def _insert_new(dialect: str, table: Table, rows: list[dict[str, Any]]) -> Executable:
    # A save racing another (two gateways) may find its rows already there: they are the same rows.
    if dialect == "postgresql":
        return postgresql.insert(table).values(rows).on_conflict_do_nothing()
    if dialect == "sqlite":
        return sqlite.insert(table).values(rows).on_conflict_do_nothing()
    raise UnsupportedDatabase(dialect)


async def _append(
    connection: AsyncConnection,
    table: Table,
    case_id: str,
    entries: Iterable[dict[str, Any]],
    to_columns: Callable[[dict[str, Any]], dict[str, Any]],
) -> None:
    """Insert the entries past the last one stored; an entry's seq is its index in the Redis list."""
    stored = await connection.scalar(select(func.max(table.c.seq)).where(table.c.case_id == case_id))
    start = -1 if stored is None else int(stored)
    rows = [{**to_columns(entry), "case_id": case_id, "seq": seq}
            for seq, entry in enumerate(entries) if seq > start]
    for first in range(0, len(rows), _CHUNK):
        await connection.execute(_insert_new(connection.dialect.name, table, rows[first:first + _CHUNK]))


async def _with_history(connection: AsyncConnection, documents: Sequence[tuple[str, dict[str, Any]]]) -> list[Case]:
    """The documents with their messages and events, in the order of their lists in Redis."""
    history: dict[str, Case] = {case_id: {"messages": [], "events": []} for case_id, _ in documents}
    ids = list(history)
    for first in range(0, len(ids), _CHUNK):
        chunk = ids[first:first + _CHUNK]
        messages = select(MESSAGES.c.case_id, MESSAGES.c.document).where(MESSAGES.c.case_id.in_(chunk))
        for row in await connection.execute(messages.order_by(MESSAGES.c.case_id, MESSAGES.c.seq)):
            history[row.case_id]["messages"].append(row.document)
        events = select(EVENTS).where(EVENTS.c.case_id.in_(chunk)).order_by(EVENTS.c.case_id, EVENTS.c.seq)
        for row in await connection.execute(events):
            history[row.case_id]["events"].append(_event_document(row._mapping))
    return [{**document, **history[case_id]} for case_id, document in documents]


def _event_document(row: Any) -> dict[str, Any]:
    # The same shape and order as handoff.cases._event writes.
    return {"at": as_utc(row["at"]).isoformat(), "actor": row["actor"], "action": row["action"],
            "before": row["before"], "after": row["after"], "detail": row["detail"]}


async def _count(connection: AsyncConnection, table: Table, ids: Sequence[str]) -> int:
    column = table.c.id if table is CASES else table.c.case_id
    total = 0
    for first in range(0, len(ids), _CHUNK):
        query = select(func.count()).select_from(table).where(column.in_(ids[first:first + _CHUNK]))
        total += int(await connection.scalar(query) or 0)
    return total


async def _delete(connection: AsyncConnection, table: Table, ids: Sequence[str]) -> int:
    column = table.c.id if table is CASES else table.c.case_id
    total = 0
    for first in range(0, len(ids), _CHUNK):
        result = await connection.execute(delete(table).where(column.in_(ids[first:first + _CHUNK])))
        total += result.rowcount
    return total


def _purge_columns(summary: PurgeSummary) -> dict[str, Any]:
    return _fit(PURGES, {"at": summary.at, "by": summary.by, "cutoff": summary.cutoff, "cases": summary.cases,
                         "messages": summary.messages, "events": summary.events,
                         "case_ids": {"ids": list(summary.case_ids)}})


def as_utc(value: datetime) -> datetime:
    """UTC-aware; a naive time (SQLite hands them back so) is taken to be UTC already."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _utc(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return as_utc(value)
    if not value:
        return None
    try:
        return as_utc(datetime.fromisoformat(str(value)))
    except ValueError:
        return None


def _required_utc(value: Any, what: str) -> datetime:
    parsed = _utc(value)
    if parsed is None:
        raise ValueError(f"{what} is not a time")
    return parsed


def _int_or_none(value: Any) -> int | None:
    try:
        return None if value is None else int(value)
    except (TypeError, ValueError):
        return None

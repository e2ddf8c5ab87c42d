"""Record databases with known content, for the search, report, export and records API tests.

The tables come from the models (``Base.metadata.create_all``); rows go in directly, in bulk, so a test can
hold ten thousand cases in a few seconds on SQLite or PostgreSQL.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from itertools import islice
from typing import Any

from sqlalchemy import insert, text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from records.search import SEARCH_INDEXES
from records.tables import Base, CaseRow, EventRow, MessageRow

BATCH = 2000


async def empty_record(url: str, *, search_indexes: bool = False) -> AsyncEngine:
    engine = create_async_engine(url)
    async with engine.begin() as connection:
        await connection.run_sync(Base.metadata.create_all)
        for statement in SEARCH_INDEXES[connection.dialect.name] if search_indexes else ():
            await connection.execute(text(statement))
    return engine


async def insert_cases(engine: AsyncEngine, rows: Iterable[dict[str, Any]]) -> None:
    rows = iter(rows)
    while batch := list(islice(rows, BATCH)):
        async with engine.begin() as connection:
            await connection.execute(insert(CaseRow), batch)


async def insert_history(engine: AsyncEngine, case_id: str, messages: list[dict[str, Any]],
                         events: list[dict[str, Any]]) -> None:
    """A case's conversation and audit trail, numbered in order."""
    async with engine.begin() as connection:
        if messages:
            await connection.execute(insert(MessageRow), [
                {"case_id": case_id, "seq": seq, "at": datetime.fromisoformat(m["at"]), "sender": m["from"],
                 "channel": m.get("channel"), "text": m.get("text", ""), "document": m}
                for seq, m in enumerate(messages, start=1)])
        if events:
            await connection.execute(insert(EventRow), [
                {"case_id": case_id, "seq": seq, **{**e, "at": datetime.fromisoformat(e["at"])}}
                for seq, e in enumerate(events, start=1)])


def case_row(case_id: str, created: datetime, **overrides: Any) -> dict[str, Any]:
    """One hand-made case row (and its document) with the given columns; the rest plain and consistent."""
    customer = {"name": overrides.pop("customer_name", "Amy Ho"), "phone": overrides.pop("phone", None),
                "email": overrides.pop("email", None), "account_id": overrides.pop("account_id", None)}
    description = overrides.pop("description", "a complaint")
    row: dict[str, Any] = {
        "id": case_id, "channel": "webchat", "language": "en", "status": "queued", "priority": "normal",
        "risk_grade": "low", "risk_score": 0, "product": "other", "handoff_reason": "complete",
        "customer_name": customer["name"], **{k: v for k, v in customer.items() if k != "name"},
        "assignee": None, "outcome": None, "satisfaction": None, "created_at": created, "updated_at": created,
        "acknowledge_by": created + timedelta(days=1), "respond_by": created + timedelta(days=15),
        "acknowledged_at": None, "answered_at": None, "closed_at": None, **overrides,
    }
    row["search_text"] = " ".join(str(v) for v in (description, *customer.values()) if v).lower()
    row["document"] = {
        "id": case_id, "channel": row["channel"], "language": row["language"], "status": row["status"],
        "handoff_reason": row["handoff_reason"], "customer": copy.deepcopy(customer),
        "complaint": {"product": row["product"], "description": description},
        "deadlines": {"acknowledge_by": row["acknowledge_by"].isoformat(), "respond_by": row["respond_by"].isoformat()},
        "unverified": [], "attachments": [], "assignee": None, "resolution": None,
        "created_at": created.isoformat(), "updated_at": created.isoformat(),
        "risk": {"grade": row["risk_grade"], "score": row["risk_score"], "reasons": [], "rules": []},
        "priority": row["priority"], "satisfaction": None,
    }
    return row


def at(text: str) -> datetime:
    """An aware UTC time from ISO text without an offset: ``at("2026-10-31T20:00")``."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC)

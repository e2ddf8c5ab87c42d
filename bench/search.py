"""Supervisors' search over 100,000 cases, on SQLite and on PostgreSQL.

Each database gets the same synthetic record (``records.synthetic``: a year of Chinese and English complaints,
repeat complainants, every status), then a set of typical searches runs ``--runs`` times each: free text in both
languages, a contact, an account, a case id and its prefix, filters with and without a date range, a deep page,
and a word that matches nothing (the worst case: every row is read and nothing stops the scan early).

Each search's ratio is its median time against an anchor's, measured in turn with it (anchor, search, anchor,
search...) on the same database, so that both see the same load on the machine: ``SELECT count(*) FROM cases
WHERE length(search_text) < 0``, one pass over every case's text that returns nothing, which no index can
answer (the trigram index included). It is the least an un-indexed free-text search must do, so the ratio says
how many such passes a search costs, paging, counting, sorting and the other filters included, whatever the
machine or the database; a threshold in milliseconds would say more about the machine than about the search.
The result is the highest ratio on either database. The absolute p50/p95 are printed for information, with the
issue's own goal (under a second) beside them.

    .venv/bin/python -m bench.search                  # 100,000 cases on both databases
    .venv/bin/python -m bench.search --cases 10000    # quicker, while developing

The tables are the models' (``Base.metadata.create_all``) plus ``records.search.SEARCH_INDEXES``, as the
migration makes them; ``--no-indexes`` leaves those out.

PostgreSQL is a temporary database created on POSTGRES_ADMIN_URL (default the local server) and dropped
afterwards; without a server that part is skipped with a message. The last line is
``search: ratio X (goal Y)``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from itertools import islice
from pathlib import Path
from typing import Any

from sqlalchemy import Select, func, insert, select, text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from records.search import SEARCH_INDEXES, SearchQuery, search
from records.synthetic import generate_cases
from records.tables import Base, CaseRow
from tests.support.scratch_postgres import NoPostgres, scratch_database

GOAL = 3.0  # the costliest search's median, in passes over the table's text
GOAL_MS = 1000.0
CASES = int(os.environ.get("BENCH_SEARCH_CASES", "100000"))
SEED = 7
START, END = date(2025, 12, 1), date(2026, 12, 1)
ABSENT = "zzqx-no-such-word"
BATCH = 2000


@dataclass(frozen=True, slots=True)
class Timing:
    total: int
    p50: float
    p95: float
    anchor: float  # median of the anchor runs between this search's runs

    @property
    def ratio(self) -> float:
        return self.p50 / self.anchor


def searches(probe: dict[str, Any]) -> list[tuple[str, SearchQuery]]:
    """Typical searches, with contacts and ids taken from a case that exists."""
    month = SearchQuery(created_from=date(2026, 10, 1), created_to=date(2026, 10, 31))
    return [
        ("newest, no filter", SearchQuery()),
        ("text zh 强制平仓", SearchQuery(text="强制平仓")),
        ("text en margin call", SearchQuery(text="margin call")),
        ("text zh 2 words", SearchQuery(text="证监会 理财")),
        ("phone", SearchQuery(contact=probe["phone"])),
        ("email", SearchQuery(contact=probe["email"].upper())),
        ("account", SearchQuery(account=probe["account_id"])),
        ("case id", SearchQuery(case_id=probe["id"])),
        ("case id prefix (a day)", SearchQuery(case_id=probe["id"][:8])),
        ("product+status+risk", SearchQuery(products=("margin_trading",), statuses=("closed",), risks=("high",))),
        ("month+channel", replace(month, channels=("email",))),
        ("text+month+product", replace(month, text="平仓", products=("margin_trading",))),
        ("status open, page 5", SearchQuery(statuses=("queued", "claimed", "answered"), page=5)),
        ("no filter, page 200", SearchQuery(page=200, page_size=50)),
        ("text matching nothing", SearchQuery(text=ABSENT)),
    ]


def pick_probe(rows: list[dict[str, Any]]) -> dict[str, Any]:
    return next(row for row in rows if row["phone"] and row["email"] and row["account_id"])


async def load(engine: AsyncEngine, cases: int, indexes: bool) -> dict[str, Any]:
    """Create the tables and insert ``cases`` synthetic cases; return one with every contact, to search for."""
    async with engine.begin() as connection:
        await connection.run_sync(Base.metadata.create_all)
        for statement in SEARCH_INDEXES[engine.dialect.name] if indexes else ():
            await connection.execute(text(statement))
    rows = generate_cases(cases, SEED, START, END, as_of=datetime(2026, 12, 1, tzinfo=UTC))
    probe: dict[str, Any] | None = None
    done = 0
    for batch in _batches(rows):
        probe = probe or pick_probe(batch)
        async with engine.begin() as connection:
            await connection.execute(insert(CaseRow), batch)
        done += len(batch)
        print(f"\r  inserted {done:,}/{cases:,}", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)
    async with engine.begin() as connection:
        await connection.execute(text("ANALYZE"))
    assert probe is not None
    return probe


def _batches(rows: Iterator[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    while batch := list(islice(rows, BATCH)):
        yield batch


def anchor_statement() -> Select[int]:
    """One pass over every case's text that finds nothing (no index can answer it)."""
    return select(func.count()).select_from(CaseRow).where(func.length(CaseRow.search_text) < 0)


async def _ms(call: Awaitable[Any]) -> float:
    started = time.perf_counter()
    await call
    return (time.perf_counter() - started) * 1000


async def timed(engine: AsyncEngine, query: SearchQuery, runs: int) -> Timing:
    """The search and the anchor in turn, so that both see the same load on the machine."""
    total = (await search(engine, query)).total  # and a warm cache: the runs compare steady states
    spent, anchors = [], []
    async with engine.connect() as connection:
        await connection.execute(anchor_statement())
        for _ in range(runs):
            spent.append(await _ms(search(engine, query)))
            anchors.append(await _ms(connection.execute(anchor_statement())))
    return Timing(total, statistics.median(spent), p95(spent), statistics.median(anchors))


def p95(times: list[float]) -> float:
    return statistics.quantiles(times, n=20, method="inclusive")[-1] if len(times) > 1 else times[0]


async def measure(engine: AsyncEngine, cases: int, runs: int, indexes: bool) -> dict[str, Timing]:
    probe = await load(engine, cases, indexes)
    return {name: await timed(engine, query, runs) for name, query in searches(probe)}


def show(database: str, timings: dict[str, Timing]) -> float:
    print(f"\n{database}")
    print(f"{'search':<26}{'matches':>9}{'p50 ms':>9}{'p95 ms':>9}{'anchor ms':>11}{'ratio':>8}")
    for name, t in timings.items():
        print(f"{name:<26}{t.total:>9,}{t.p50:>9.1f}{t.p95:>9.1f}{t.anchor:>11.1f}{t.ratio:>8.2f}")
    name, worst = max(timings.items(), key=lambda item: item[1].ratio)
    slowest = max(t.p95 for t in timings.values())
    print(f"{database}: highest ratio {worst.ratio:.2f} ({name}); slowest p95 {slowest:.1f} ms")
    return worst.ratio


async def on_sqlite(cases: int, runs: int, indexes: bool) -> tuple[float, float]:
    with tempfile.TemporaryDirectory() as folder:
        engine = create_async_engine(f"sqlite+aiosqlite:///{Path(folder) / 'record.db'}")
        try:
            timings = await measure(engine, cases, runs, indexes)
        finally:
            await engine.dispose()
    return show("sqlite", timings), max(t.p95 for t in timings.values())


@asynccontextmanager
async def postgres_database() -> AsyncIterator[str | None]:
    """The URL of a new, empty database, dropped afterwards; None (and a message) if there is no server."""
    try:
        async with scratch_database("cg_bench") as url:
            yield url
    except NoPostgres as exc:
        print(f"\npostgresql: skipped, {exc}")
        yield None


async def on_postgres(cases: int, runs: int, indexes: bool) -> tuple[float, float] | None:
    async with postgres_database() as url:
        if url is None:
            return None
        engine = create_async_engine(url)
        try:
            timings = await measure(engine, cases, runs, indexes)
        finally:
            await engine.dispose()
    return show("postgresql", timings), max(t.p95 for t in timings.values())


async def main(cases: int, runs: int, indexes: bool, databases: str) -> None:
    print(f"{cases:,} cases, {runs} runs per search; search indexes {'on' if indexes else 'off'}")
    results = []
    if databases in ("both", "sqlite"):
        results.append(await on_sqlite(cases, runs, indexes))
    if databases in ("both", "postgresql"):
        postgres = await on_postgres(cases, runs, indexes)
        if postgres is not None:
            results.append(postgres)
    ratio, slowest = max(r[0] for r in results), max(r[1] for r in results)
    print(f"slowest p95 on any database: {slowest:.1f} ms (goal < {GOAL_MS:.0f} ms)")
    print(f"search: ratio {ratio:.2f} (goal {GOAL})")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", type=int, default=CASES, help=f"cases per database (default {CASES:,})")
    parser.add_argument("--runs", type=int, default=15, help="timed runs of each search (default 15)")
    parser.add_argument("--no-indexes", dest="indexes", action="store_false",
                        help="without records.search.SEARCH_INDEXES (the models' own indexes only)")
    parser.add_argument("--database", choices=("both", "sqlite", "postgresql"), default="both")
    args = parser.parse_args()
    asyncio.run(main(args.cases, args.runs, args.indexes, args.database))

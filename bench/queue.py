"""A case through the handoff queue against the raw stream operations it stands on, on the same Redis.

Measured, per case, what the gateway does when an intake ends and a handler takes the case and answers it:
``CaseStore.create`` (a complaint with a ten-message transcript and its own contact details),
``AgentQueue.enqueue``, ``AgentQueue.next`` (the handler's claim: the queue's own acknowledgement of the
stream entry is part of it), then the resolve as the agent API does it: ``CaseStore.change`` to answered
and ``AgentQueue.finished``. Telling the customer (channel work) is not part of the queue and not measured.

The anchor, per case: XADD, XREADGROUP and XACK on one stream with one consumer group: the least a
Redis-streams queue with acknowledgement does. One client, one case at a time (each case's latency);
batches of ``--cases`` alternate between the two, and the ratio is the median over rounds of the queue's
time per case over the anchor's in the same round (goal <= 2). The time of each step, and the round trips
per case (over one more batch: the commands by kind from MONITOR, the round trips from Redis's count of
read events), say where the time goes.

The gateway also writes every case change through to its system of record (SQL). That is the record's
work rather than the queue's: it is measured in a third row, on SQLite as a single machine runs it, and
printed beside the ratio, not in it.

    .venv/bin/python -m bench.queue [--cases N] [--rounds N]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

from redis.asyncio import Redis

from bench._common import RedisTally, embedded_redis, interleaved, median, redis_tally, say, table, verdict
from handoff.cases import Case, CaseStore
from handoff.lifecycle import Role
from handoff.queue import AgentQueue
from records.record import CaseRecord

GOAL = 2.0
AGENT = "bench-handler"
STREAM, GROUP = "bench:{anchor}:stream", "agents"
TRANSCRIPT = [
    ("customer", "我要投诉"), ("bot", "请问您怎么称呼？"), ("customer", "张三"),
    ("bot", "请问投诉处理专员可以通过哪个电话号码联系您？"), ("customer", "{phone}"),
    ("bot", "请您描述一下事情的经过。"), ("customer", "我昨天下的买单一直没有成交，损失了很多钱"),
    ("bot", "请问您希望我们如何处理这件事？"), ("customer", "希望尽快查明原因并给我答复"),
    ("system", "您的投诉已登记。"),
]


class Counter:
    def __init__(self) -> None:
        self.n = 0

    def next(self) -> int:
        self.n += 1
        return self.n


def answered(case: Case) -> str:
    case["status"] = "answered"
    case["resolution"] = {"summary": "Order checked and explained.", "outcome": "upheld", "by": AGENT}
    return f"resolve by {AGENT}: upheld"


class Steps:
    """Time spent in each step of the queue's path, over every case it handled."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self.cpu: dict[str, float] = {}
        self.cases = 0

    @contextlib.contextmanager
    def timing(self, step: str) -> Iterator[None]:
        started, cpu = time.perf_counter(), time.process_time()
        yield
        self.seconds[step] = self.seconds.get(step, 0.0) + time.perf_counter() - started
        self.cpu[step] = self.cpu.get(step, 0.0) + time.process_time() - cpu


async def through_queue(cases: CaseStore, queue: AgentQueue, n: int, steps: Steps | None = None) -> None:
    """One case created, queued, claimed by the next free handler and answered."""
    steps = steps or Steps()
    phone = f"139{n:08d}"
    messages = [{"at": "2026-01-01T00:00:00+00:00", "from": who, "channel": "webchat",
                 "text": text.format(phone=phone)} for who, text in TRANSCRIPT]
    with steps.timing("CaseStore.create"):
        case = await cases.create(
            channel="webchat", conversation_id=f"webchat:bench-{n}", language="zh",
            customer={"name": "张三", "phone": phone, "email": None, "account_id": None},
            complaint={"description": messages[6]["text"], "desired_resolution": messages[8]["text"]},
            handoff_reason="complete", messages=messages,
        )
    with steps.timing("AgentQueue.enqueue"):
        await queue.enqueue(case["id"])
    with steps.timing("AgentQueue.next (claim)"):
        claimed = await queue.next(AGENT)
    if claimed is None or claimed["id"] != case["id"]:
        raise RuntimeError(f"the queue handed out {claimed and claimed['id']} instead of {case['id']}")
    with steps.timing("CaseStore.change (resolve) + finished"):
        await cases.change(case["id"], actor=AGENT, action="resolve", mutate=answered, role=Role.AGENT)
        await queue.finished(case["id"], AGENT)
    steps.cases += 1


async def raw_streams(redis: Redis, n: int) -> None:
    """The anchor: one entry added, read by the group's consumer and acknowledged."""
    entry_id = await redis.xadd(STREAM, {"case_id": f"C-{n}", "product": ""})
    delivered = await redis.xreadgroup(GROUP, AGENT, {STREAM: ">"}, count=1)
    if delivered[0][1][0][0] != entry_id:
        raise RuntimeError("the anchor stream delivered another entry")
    await redis.xack(STREAM, GROUP, entry_id)


async def per_case(work: Callable[[int], Awaitable[None]], counter: Counter, cases: int) -> float:
    """Seconds per case over a batch of ``cases``, one after the other."""
    started = time.perf_counter()
    for _ in range(cases):
        await work(counter.next())
    return (time.perf_counter() - started) / cases


@contextlib.asynccontextmanager
async def with_record(redis: Redis) -> AsyncIterator[CaseStore]:
    """A case store that writes through to a system of record on SQLite, as a single machine's gateway does."""
    with tempfile.TemporaryDirectory(prefix="bench-record-") as folder:
        async with CaseRecord(f"sqlite+aiosqlite:///{Path(folder) / 'record.db'}") as record:
            yield CaseStore(redis, record=record)


async def measure(redis_url: str, batch: int, rounds: int) -> None:
    redis = Redis.from_url(redis_url)
    try:
        cases = CaseStore(redis)
        queue = AgentQueue(redis, cases)
        await queue.ensure_group()
        await redis.xgroup_create(STREAM, GROUP, id="0", mkstream=True)
        counter, steps = Counter(), Steps()
        async with with_record(redis) as recorded:
            runs: dict[str, Callable[[], Awaitable[float]]] = {
                "anchor": lambda: per_case(lambda n: raw_streams(redis, n), counter, batch),
                "queue": lambda: per_case(lambda n: through_queue(cases, queue, n, steps), counter, batch),
            }
            recorded_queue = AgentQueue(redis, recorded)
            runs["record"] = lambda: per_case(lambda n: through_queue(recorded, recorded_queue, n), counter,
                                              max(batch // 5, 10))
            for run in runs.values():  # warm up: connections, scripts loaded, the record's tables
                await run()
            steps = Steps()  # the runs look it up when they run: the warm-up is not counted
            say(f"{rounds} batches of {batch} cases on each side, alternating; one case at a time")
            times = await interleaved(rounds, runs)
            tallies: dict[str, RedisTally] = {}
            for name, work in (("anchor", lambda n: raw_streams(redis, n)),
                               ("queue", lambda n: through_queue(cases, queue, n))):
                async with redis_tally(redis_url) as tallies[name]:
                    await per_case(work, counter, 50)
    finally:
        await redis.aclose()
    report(times, tallies, 50, steps)


def report(times: dict[str, list[float]], tallies: dict[str, RedisTally], tallied: int, steps: Steps) -> None:
    labels = {"anchor": "XADD + XREADGROUP + XACK (anchor)", "queue": "create, enqueue, next, resolve",
              "record": "the same, with the record on SQLite"}
    # Each batch is next to an anchor batch of the same round: their ratio is free of load changes between rounds.
    versus = {name: median([x / a for a, x in zip(times["anchor"], samples, strict=True)])
              for name, samples in times.items()}
    print()
    rows: list[list[Any]] = []
    for name, samples in times.items():
        trips = round(tallies[name].reads_per(tallied), 2) if name in tallies else "-"
        rows.append([labels[name], 1e6 * median(samples), trips, versus[name]])
    table(["per case", "median us", "round trips", "vs anchor (same round)"], rows)
    print()
    table(["time per case through the queue, by step", "mean us", "of it Python CPU us"],
          [[step, 1e6 * seconds / steps.cases, 1e6 * steps.cpu[step] / steps.cases]
           for step, seconds in steps.seconds.items()])
    print()
    table(["Redis commands per case through the queue (MULTI..EXEC as one)", "count"],
          [[kind, round(n, 2)] for kind, n in tallies["queue"].per(tallied)]
          + [["total", round(sum(n for _, n in tallies["queue"].per(tallied)), 2)],
             ["(commands run inside scripts)", sum(tallies["queue"].in_scripts.values()) / tallied],
             ["round trips (read events Redis processed)", round(tallies["queue"].reads_per(tallied), 2)]])
    print()
    say(f"queue with the system of record (SQLite write-through), for information: {versus['record']:.1f}x the anchor")
    trips = tallies["queue"].reads_per(tallied)
    verdict("queue vs raw streams", versus["queue"], GOAL, at_most=True,
            why=f"{trips:.0f} round trips per case against the anchor's 3")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", type=int, default=200, help="cases per batch (default 200)")
    parser.add_argument("--rounds", type=int, default=7, help="batches on each side (default 7)")
    args = parser.parse_args()
    with embedded_redis() as redis_url:
        asyncio.run(measure(redis_url, args.cases, args.rounds))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""One gateway process with 2,000 idle web chat sockets and 50 active conversations.

The gateway runs as ``complaint-gateway serve``; the bot is an instant stub inside this benchmark, so what
is measured is the gateway. Fifty customers converse throughout: each sends a message, waits for the ack
and the bot's answer, then pauses 0.5 to 1.5 seconds (far faster than people type) and goes on. The idle
sockets have said hello (each is a web chat session) and then wait, answering the server's heartbeats.

- Memory per idle socket: the gateway's resident memory (VmRSS) just before the 2,000 sockets open, once
  the conversations have run for a while, against after they have opened and settled; Redis's own memory
  for their sessions beside it.
- Turn latency: runs of ``--seconds`` without and with the idle sockets alternate (the sockets open and
  close between runs); the ratio is the active conversations' p99 turn latency with the idle sockets over
  without them, each side's median of its runs' p99 (a run disturbed by other work on a shared machine
  moves a pooled p99 a lot, a median of runs little). Goal <= 1.5: idle sockets should cost memory, not time.

    .venv/bin/python -m bench.scale [--idle N] [--active N] [--seconds S] [--rounds N]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import resource
import sys
import time

import aiohttp
from redis.asyncio import Redis

from bench._common import (
    ChatCustomer,
    GatewayProcess,
    embedded_redis,
    gateway,
    median,
    percentile,
    say,
    stub_bot,
    table,
    verdict,
)
from gateway.embedded_redis import free_port
from tests.support.chat_client import ChatClient

GOAL = 1.5
TEXT = "Any news about my complaint?"
OPENING_AT_ONCE = 50


class IdleSockets:
    """Sockets that said hello and wait; a reader each, so the server's heartbeats are answered."""

    def __init__(self) -> None:
        self.sockets: list[aiohttp.ClientWebSocketResponse] = []
        self.readers: list[asyncio.Task[None]] = []

    async def open(self, http: aiohttp.ClientSession, url: str, count: int) -> None:
        limit = asyncio.Semaphore(OPENING_AT_ONCE)

        async def one() -> None:
            async with limit:
                ws = (await ChatClient.connect(http, url, language="en")).ws
            self.sockets.append(ws)
            self.readers.append(asyncio.create_task(self._read(ws)))

        await asyncio.gather(*(one() for _ in range(count)))

    @staticmethod
    async def _read(ws: aiohttp.ClientWebSocketResponse) -> None:
        async for _ in ws:
            pass

    async def close(self) -> None:
        limit = asyncio.Semaphore(OPENING_AT_ONCE)

        async def one(ws: aiohttp.ClientWebSocketResponse) -> None:
            async with limit:
                await ws.close()

        await asyncio.gather(*(one(ws) for ws in self.sockets))
        for reader in self.readers:
            reader.cancel()
        await asyncio.gather(*self.readers, return_exceptions=True)
        self.sockets, self.readers = [], []


async def converse(customers: list[ChatCustomer], seconds: float) -> list[float]:
    """Every customer in conversation for ``seconds``; the turn latencies."""
    latencies: list[float] = []
    deadline = time.monotonic() + seconds

    async def customer(chat: ChatCustomer, pace: random.Random) -> None:
        await asyncio.sleep(pace.uniform(0, 1))  # not all at once
        while time.monotonic() < deadline:
            latencies.append(await chat.turn(TEXT))
            await asyncio.sleep(pace.uniform(0.5, 1.5))

    await asyncio.gather(*(customer(chat, random.Random(n)) for n, chat in enumerate(customers)))
    return latencies


async def redis_memory(redis: Redis) -> int:
    return int((await redis.info("memory"))["used_memory"])


async def measure(redis_url: str, bot_port: int, gw: GatewayProcess, idle: int, active: int, seconds: float,
                  rounds: int) -> None:
    connector = aiohttp.TCPConnector(limit=0)
    redis = Redis.from_url(redis_url)
    async with stub_bot(bot_port), aiohttp.ClientSession(connector=connector) as http:
        customers = [await ChatCustomer.connect(http, gw.ws_url, language="en") for _ in range(active)]
        await converse(customers, 5)  # warm up
        sockets = IdleSockets()
        rss_before, redis_before = gw.rss_kib(), await redis_memory(redis)
        await sockets.open(http, gw.ws_url, idle)
        await asyncio.sleep(2)
        rss_after, redis_after = gw.rss_kib(), await redis_memory(redis)
        await sockets.close()
        say(f"{active} conversations; {rounds} runs of {seconds:g}s without and with {idle} idle sockets, "
            "alternating")
        runs: dict[str, list[list[float]]] = {"without": [], "with": []}
        for i in range(rounds):
            for side in ("without", "with") if i % 2 == 0 else ("with", "without"):
                if side == "with":
                    await sockets.open(http, gw.ws_url, idle)
                    await asyncio.sleep(1)
                runs[side].append(await converse(customers, seconds))
                if side == "with":
                    await sockets.close()
        for chat in customers:
            await chat.close()
    await redis.aclose()
    report(runs, idle, rss_before, rss_after, redis_before, redis_after)


def report(runs: dict[str, list[list[float]]], idle: int, rss_before: int, rss_after: int, redis_before: int,
           redis_after: int) -> None:
    print()
    table(["gateway memory", "MiB"], [
        ["before the idle sockets (VmRSS)", rss_before / 1024],
        [f"with {idle} idle sockets", rss_after / 1024],
        ["per idle socket, KiB", (rss_after - rss_before) / idle],
        ["Redis, per idle session, KiB", (redis_after - redis_before) / 1024 / idle],
    ])
    print()
    rows, p99 = [], {}
    for side, samples in runs.items():
        pooled = [t for run in samples for t in run]
        p99[side] = median([percentile(run, 99) for run in samples])
        rows.append([f"{side} idle sockets", len(pooled), 1000 * median(pooled), 1000 * percentile(pooled, 99),
                     1000 * p99[side], " ".join(f"{1000 * percentile(run, 99):.0f}" for run in samples)])
    table(["active turns", "turns", "p50 ms", "p99 ms (pooled)", "median run p99 ms", "p99 of each run"], rows)
    print()
    verdict(f"scale, p99 turn with {idle} idle sockets", p99["with"] / p99["without"], GOAL, at_most=True)


def raise_open_files(needed: int) -> None:
    """Enough file descriptors for every socket, here and in the gateway (a child inherits the limit)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
    soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    if soft != resource.RLIM_INFINITY and soft < needed:
        raise SystemExit(f"{needed} file descriptors needed, the limit is {soft}: raise it (ulimit -n)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--idle", type=int, default=2000, help="idle sockets (default 2000)")
    parser.add_argument("--active", type=int, default=50, help="active conversations (default 50)")
    parser.add_argument("--seconds", type=float, default=10.0, help="length of one run (default 10)")
    parser.add_argument("--rounds", type=int, default=6, help="runs on each side (default 6)")
    args = parser.parse_args()
    raise_open_files(2 * (args.idle + args.active) + 1000)
    bot_port = free_port()
    with (embedded_redis() as redis_url,
          gateway("scale", redis_url, f"http://127.0.0.1:{bot_port}") as gw):
        asyncio.run(measure(redis_url, bot_port, gw, args.idle, args.active, args.seconds, args.rounds))
    return 0


if __name__ == "__main__":
    sys.exit(main())

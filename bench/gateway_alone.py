"""The gateway alone: web chat messages per second with an instant bot, against a minimal durable relay.

The bot is a stub inside this benchmark (Rasa's REST webhook shape, answered at once), so what is measured
is the gateway's own work per message: the protocol, the rate check, recording the message durably in
Redis, the conversation's lease and inbox, the call to the bot, the bot's answer written to the session's
stream and fanned out to the socket. The anchor is the least a durable chat gateway could do: the same
protocol, each message recorded with one XADD (same Redis, same client library) before its ack, the stub bot
asked over HTTP, its answer sent back (no dedup, no ordering across replicas, no lease, no fan-out, no
transcript). The ratio is the gateway's rate over the relay's (goal >= 0.5).

Both servers run as processes of their own (the gateway as ``complaint-gateway serve``); the same client
drives both: ``--clients`` sockets at once, each sending a message and waiting for its answer (the ack and the
bot's message) before the next. Runs of ``--seconds`` alternate between them; the ratio is the median over
rounds of the gateway's rate over the relay's in the same round. The servers' CPU time per message (from
/proc) and the Redis round trips per message (over a separate run of one customer: the commands by kind from
MONITOR, the round trips from Redis's count of read events) say where the gateway's time goes.

A third server, for information only, is a bare aiohttp WebSocket server that sends every text frame straight
back: the least any aiohttp WebSocket service does per message. On two cores the client (one Python process)
is what limits it, so its rate is lower than the server could do.

    .venv/bin/python -m bench.gateway_alone [--clients N] [--seconds S] [--rounds N]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
import uuid
from collections.abc import Awaitable, Callable

import aiohttp

from bench._common import (
    ChatCustomer,
    RedisTally,
    cpu_seconds,
    echo_server,
    embedded_redis,
    gateway,
    interleaved,
    median,
    redis_tally,
    say,
    stub_bot,
    table,
    verdict,
)
from gateway.embedded_redis import free_port

GOAL = 0.5
LABELS = {"relay": "minimal durable relay (anchor)", "gateway": "gateway", "echo": "echo server"}
TALLIED = 200  # messages of one customer while Redis is watched
TEXT = "My order from yesterday has still not been filled."


class EchoCustomer:
    """The same client against the echo server: a message frame out, the same frame back."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws

    @classmethod
    async def connect(cls, http: aiohttp.ClientSession, url: str) -> EchoCustomer:
        return cls(await http.ws_connect(url))

    async def turn(self, text: str) -> float:
        message_id = uuid.uuid4().hex
        started = time.perf_counter()
        await self.ws.send_json({"type": "message", "id": message_id, "text": text})
        while True:
            frame = await self.ws.receive_json()
            if frame.get("id") == message_id:
                return time.perf_counter() - started

    async def close(self) -> None:
        await self.ws.close()


async def rate(turns: list[Callable[[], Awaitable[float]]], seconds: float, pid: int) -> tuple[float, float]:
    """Messages per second over ``seconds`` with every client busy, and the server's CPU ms per message."""
    done = 0
    stop = False

    async def client(turn: Callable[[], Awaitable[float]]) -> None:
        nonlocal done
        while not stop:
            await turn()
            done += 1

    tasks = [asyncio.create_task(client(turn)) for turn in turns]
    await asyncio.sleep(0.5)  # every client under way
    start_done, start_cpu, started = done, cpu_seconds(pid), time.perf_counter()
    await asyncio.sleep(seconds)
    count, cpu, elapsed = done - start_done, cpu_seconds(pid) - start_cpu, time.perf_counter() - started
    stop = True
    await asyncio.gather(*tasks)
    return count / elapsed, 1000 * cpu / max(count, 1)


async def measure(redis_url: str, bot_port: int, gateway: tuple[str, int], echo: tuple[str, int],
                  relay: tuple[str, int], clients: int, seconds: float, rounds: int) -> float:
    async with stub_bot(bot_port), aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as http:
        chats = [await ChatCustomer.connect(http, gateway[0], language="en") for _ in range(clients)]
        relayed = [await ChatCustomer.connect(http, relay[0], language="en") for _ in range(clients)]
        echoes = [await EchoCustomer.connect(http, echo[0]) for _ in range(clients)]
        sides: dict[str, tuple[list[Callable[[], Awaitable[float]]], int]] = {
            "echo": ([lambda e=e: e.turn(TEXT) for e in echoes], echo[1]),
            "gateway": ([lambda c=c: c.turn(TEXT) for c in chats], gateway[1]),
            "relay": ([lambda c=c: c.turn(TEXT) for c in relayed], relay[1]),
        }
        for turns, pid in sides.values():  # warm up
            await rate(turns, 2, pid)
        say(f"{clients} clients at once, {rounds} runs of {seconds:g}s on each side, alternating")
        results = await interleaved(rounds, {name: lambda side=side: rate(side[0], seconds, side[1])
                                             for name, side in sides.items()})
        async with redis_tally(redis_url) as tally:
            for _ in range(TALLIED):
                await chats[0].turn(TEXT)
        for customer in [*chats, *relayed, *echoes]:
            await customer.close()
    return report(results, tally)


def report(results: dict[str, list[tuple[float, float]]], tally: RedisTally) -> float:
    rates = {name: median([r for r, _ in runs]) for name, runs in results.items()}
    cpu = {name: median([c for _, c in runs]) for name, runs in results.items()}
    # Each gateway run is next to a relay run: their ratio is free of load changes between rounds.
    paired = [g / r for (g, _), (r, _) in zip(results["gateway"], results["relay"], strict=True)]
    ratio = median(paired)
    print()
    runs = [[f"run {i + 1}", *(results[name][i][0] for name in LABELS), f"{paired[i]:.3f}"]
            for i in range(len(paired))]
    table(["messages per second", *LABELS.values(), "gateway / relay"],
          [*runs, ["median", *(rates[name] for name in LABELS), f"{ratio:.3f}"]])
    print()
    table(["server CPU per message", "ms"], [[LABELS[name], cpu[name]] for name in LABELS])
    print()
    round_trips = tally.reads_per(TALLIED)
    table(["Redis commands per message (one customer; MULTI..EXEC as one)", "count"],
          [[kind, round(n, 2)] for kind, n in tally.per(TALLIED) if n >= 0.05]
          + [["total", round(sum(n for _, n in tally.per(TALLIED)), 2)],
             ["(commands run inside scripts)", sum(tally.in_scripts.values()) / TALLIED],
             ["round trips (read events Redis processed)", round(round_trips, 2)]])
    print()
    echo = median([g / e for (g, _), (e, _) in zip(results["gateway"], results["echo"], strict=True)])
    say(f"gateway vs the bare echo server, for information: {echo:.3f} of its rate")
    verdict("gateway alone vs relay", ratio, GOAL, at_most=False,
            why=f"the gateway spends {cpu['gateway']:.2f} ms of CPU per message over {round_trips:.0f} Redis round "
                f"trips; the echo server {cpu['echo']:.2f} ms, the relay {cpu['relay']:.2f} ms over one")
    return ratio


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=16, help="sockets sending at once (default 16)")
    parser.add_argument("--seconds", type=float, default=5.0, help="length of one run (default 5)")
    parser.add_argument("--rounds", type=int, default=5, help="runs on each side (default 5)")
    args = parser.parse_args()
    bot_port = free_port()
    bot_url = f"http://127.0.0.1:{bot_port}"
    with (embedded_redis() as redis_url, echo_server() as echo, echo_server((redis_url, bot_url)) as relay,
          gateway("alone", redis_url, bot_url) as gw):
        asyncio.run(measure(redis_url, bot_port, (gw.ws_url, gw.process.pid), echo, relay, args.clients,
                            args.seconds, args.rounds))
    return 0


if __name__ == "__main__":
    sys.exit(main())

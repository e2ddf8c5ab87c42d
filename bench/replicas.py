"""Two gateway processes against one, on one Redis, with an instant bot: web chat messages per second.

A gateway keeps no state of its own (docs/operations.md, "Gateway replicas"), so a second replica on the same
Redis should add capacity. Both replicas run as ``complaint-gateway serve`` on one embedded Redis and one
record; the bot is an instant stub inside this benchmark, so what is measured is the gateway.

The load is ``--customers`` web chat customers at once, each sending a message and waiting for its ack and
the bot's answer before the next; a message counts once that answer has arrived. They are spread over
``--load-processes`` processes of their own, so that no one client event loop sets the pace. The same load
goes to one gateway (the anchor) and to two, the customers split evenly over both as a balancer would spread
them. Each side has its own customers, connected from the start; the other side's sit idle meanwhile (idle
sockets cost memory, not time: bench/scale.py). Runs of ``--seconds`` alternate between the sides (one, two,
two, one ...), every load process counting over the same window; the ratio is the median over rounds of the
two replicas' rate over the one's in the same round (goal >= 1.6).

What bounds the figure on this machine's two cores is CPU, and not the load. Over the runs here the load
processes took 0.12 to 0.2 of a core together (about 0.5 ms a message: one process would do), the stub bot
0.1, Redis 0.2 to 0.3, and one gateway at full load 0.8 to 0.95 of a core (one event loop) when nothing
else ran. That leaves a second replica well under a core even then, and the machine is shared: other work
took from nothing to a whole core during the runs. With the machine to themselves the two replicas got about
1.3 cores where one got 0.95, and spent about 1.15x the CPU per message of one alone (every replica hears
every other's pub/sub nudges, channels/webchat/channel.py: an idle replica beside a busy one takes a tenth
of a core); the ratio was 1.2 to 1.3 then, and 1.0 to 1.2 with other work running.
The tables print the cores each process kept busy and the serving gateways' CPU per message, side by side;
a line for information gives the ratio that CPU per message would allow with a core for each replica
(twice the one's over the two's), which is what a machine with cores to spare would be expected to show.

    .venv/bin/python -m bench.replicas [--customers N] [--load-processes N] [--seconds S] [--rounds N]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import multiprocessing
import os
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path

import aiohttp
from redis.asyncio import Redis

from bench._common import (
    ChatCustomer,
    GatewayProcess,
    cpu_seconds,
    embedded_redis,
    gateway,
    interleaved,
    median,
    say,
    stub_bot,
    table,
    verdict,
)
from gateway.embedded_redis import free_port

GOAL = 1.6
TEXT = "My order from yesterday has still not been filled."
SIDES = ("one", "two")
# The gateways that serve each side: the anchor's idle replica is not its cost (the cores table shows it).
SERVING = {"one": ("gateway 1",), "two": ("gateway 1", "gateway 2")}
LEAD = 1.0  # seconds between a run's order and its window: every customer of every load process under way


@dataclass(frozen=True)
class Run:
    """What a load process is told: drive one side's customers, and count over [begin, begin + seconds]
    (``time.monotonic``, which every process on the machine shares)."""

    side: str
    begin: float
    seconds: float


@dataclass(frozen=True)
class Load:
    """What a load process did over a run's window: answered messages, and the CPU it spent on them."""

    messages: int
    cpu: float


# ---------------------------------------------------------------------------------------- the load processes


def assignments(urls: Sequence[str], customers: int, processes: int) -> list[list[str]]:
    """The gateway of each customer, process by process: the customers dealt to the gateways in turn, then,
    gateway by gateway, to the processes in turn, so that every gateway, every process and every process's
    share of each gateway is even (within one)."""
    by_gateway = sorted((urls[n % len(urls)] for n in range(customers)), key=urls.index)
    return [by_gateway[p::processes] for p in range(processes)]


def load_process(pipe: Connection, targets: Mapping[str, list[str]]) -> None:
    """A load process's life: its customers on every side connect, then it drives the runs it is told."""
    asyncio.run(serve_runs(pipe, targets))


async def serve_runs(pipe: Connection, targets: Mapping[str, list[str]]) -> None:
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as http:
        customers = {side: [await ChatCustomer.connect(http, url, language="en") for url in urls]
                     for side, urls in targets.items()}
        pipe.send("ready")
        while (run := await asyncio.to_thread(pipe.recv)) is not None:
            pipe.send(await drive(customers[run.side], run))
        for chats in customers.values():
            for chat in chats:
                await chat.close()


async def drive(customers: list[ChatCustomer], run: Run) -> Load:
    """Every customer busy until the window has passed; the answered messages inside it."""
    done = 0
    stop = False

    async def customer(chat: ChatCustomer) -> None:
        nonlocal done
        while not stop:
            await chat.turn(TEXT)
            done += 1

    tasks = [asyncio.create_task(customer(chat)) for chat in customers]
    await asyncio.sleep(max(0.0, run.begin - time.monotonic()))
    start_done, start_cpu = done, time.process_time()
    await asyncio.sleep(max(0.0, run.begin + run.seconds - time.monotonic()))
    load = Load(done - start_done, time.process_time() - start_cpu)
    stop = True
    await asyncio.gather(*tasks)
    return load


class LoadProcesses:
    """The load processes, started fresh (``spawn``: nothing of this process's event loop comes along)."""

    def __init__(self, shares: Mapping[str, list[list[str]]]) -> None:
        context = multiprocessing.get_context("spawn")
        self.pipes: list[Connection] = []
        self.processes: list[multiprocessing.process.BaseProcess] = []
        for n in range(len(next(iter(shares.values())))):
            ours, theirs = context.Pipe()
            targets = {side: share[n] for side, share in shares.items()}
            self.processes.append(context.Process(target=load_process, args=(theirs, targets), daemon=True))
            self.pipes.append(ours)

    async def start(self) -> None:
        for process in self.processes:
            process.start()
        for pipe in self.pipes:
            if await asyncio.to_thread(pipe.recv) != "ready":
                raise RuntimeError("a load process did not connect its customers")

    async def run(self, run: Run) -> list[Load]:
        for pipe in self.pipes:
            pipe.send(run)
        return [await asyncio.to_thread(pipe.recv) for pipe in self.pipes]

    def stop(self) -> None:
        for pipe, process in zip(self.pipes, self.processes, strict=True):
            if process.is_alive():
                pipe.send(None)
            process.join(15)
            if process.is_alive():
                process.terminate()
                process.join()

    @property
    def pids(self) -> list[int]:
        return [process.pid for process in self.processes if process.pid is not None]


# ------------------------------------------------------------------------------------------- measuring


def machine_busy_seconds() -> float:
    """CPU time every core of the machine has spent on anything but idling, so far (/proc/stat)."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle, iowait = fields[3], fields[4]
    return (sum(fields[:8]) - idle - iowait) / os.sysconf("SC_CLK_TCK")


@dataclass
class Sample:
    """One run of one side: its rate, and the cores each kind of process kept busy over its window."""

    rate: float
    cores: dict[str, float]
    gateway_cpu_per_message: float


class Measure:
    def __init__(self, loads: LoadProcesses, pids: Mapping[str, int], seconds: float) -> None:
        self.loads, self.pids, self.seconds = loads, pids, seconds

    def cpu(self) -> dict[str, float]:
        used = {name: cpu_seconds(pid) for name, pid in self.pids.items()}
        used["stub bot (this process)"] = time.process_time()
        used["machine"] = machine_busy_seconds()
        return used

    async def run(self, side: str) -> Sample:
        run = Run(side, time.monotonic() + LEAD, self.seconds)
        results = asyncio.ensure_future(self.loads.run(run))
        await asyncio.sleep(max(0.0, run.begin - time.monotonic()))
        before = self.cpu()
        await asyncio.sleep(max(0.0, run.begin + run.seconds - time.monotonic()))
        after = self.cpu()
        loads = await results
        messages = sum(load.messages for load in loads)
        cores = {name: (after[name] - before[name]) / self.seconds for name in before}
        cores["load processes"] = sum(load.cpu for load in loads) / self.seconds
        ours = sum(v for name, v in cores.items() if name != "machine")
        cores["other work on the machine"] = max(0.0, cores.pop("machine") - ours)
        serving = sum(cores[name] for name in SERVING[side])
        return Sample(messages / self.seconds, cores, 1000 * serving * self.seconds / max(messages, 1))


async def redis_pid(redis_url: str) -> int:
    redis = Redis.from_url(redis_url)
    try:
        return int((await redis.info("server"))["process_id"])
    finally:
        await redis.aclose()


async def measure(redis_url: str, bot_port: int, gateways: Sequence[GatewayProcess], customers: int,
                  load_processes: int, seconds: float, rounds: int) -> float:
    urls = {"one": [gateways[0].ws_url], "two": [gw.ws_url for gw in gateways]}
    loads = LoadProcesses({side: assignments(urls[side], customers, load_processes) for side in SIDES})
    pids = {f"gateway {n + 1}": gw.process.pid for n, gw in enumerate(gateways)}
    pids["Redis"] = await redis_pid(redis_url)
    async with stub_bot(bot_port):
        try:
            await loads.start()
            measuring = Measure(loads, pids, seconds)
            for side in SIDES:  # warm up: connections to the bot open, every code path run
                await Measure(loads, pids, 2).run(side)
            say(f"{customers} customers from {load_processes} load processes; {rounds} runs of {seconds:g}s "
                "on each side, alternating")
            results = await interleaved(rounds, {side: lambda side=side: measuring.run(side) for side in SIDES})
        finally:
            await asyncio.to_thread(loads.stop)
    return report(results)


# ------------------------------------------------------------------------------------------- reporting


def report(results: Mapping[str, list[Sample]]) -> float:
    # Each two-replica run is next to a one-replica run: their ratio is free of load changes between rounds.
    paired = [two.rate / one.rate for one, two in zip(results["one"], results["two"], strict=True)]
    ratio = median(paired)
    rates = {side: median([s.rate for s in samples]) for side, samples in results.items()}
    print()
    table(["messages per second", "one gateway (anchor)", "two gateways", "two / one"],
          [*([f"run {i + 1}", one.rate, two.rate, f"{paired[i]:.2f}"]
             for i, (one, two) in enumerate(zip(results["one"], results["two"], strict=True))),
           ["median", rates["one"], rates["two"], f"{ratio:.2f}"]])
    print()
    cores = {side: median_cores(samples) for side, samples in results.items()}
    names = list(dict.fromkeys(name for side in SIDES for name in cores[side]))
    table(["cores busy (median of runs)", "one gateway", "two gateways"],
          [*([name, cores["one"].get(name, 0.0), cores["two"].get(name, 0.0)] for name in names),
           ["machine (of 2)", sum(cores["one"].values()), sum(cores["two"].values())]])
    print()
    cpu = {side: median([s.gateway_cpu_per_message for s in samples]) for side, samples in results.items()}
    table(["gateways' CPU per message", "ms"],
          [["one gateway serving (gateway 1)", cpu["one"]], ["two gateways serving (both)", cpu["two"]]])
    print()
    say("two gateways over one, round by round: " + " ".join(f"{r:.2f}" for r in paired))
    gateways = {side: sum(cores[side][name] for name in SERVING[side]) for side in SIDES}
    idle = 2 - sum(cores["two"].values())
    say(f"the serving gateways got {gateways['two']:.2f} cores with two replicas, {gateways['one']:.2f} with one "
        f"({gateways['two'] / gateways['one']:.2f}x), and spent {cpu['two'] / cpu['one']:.2f}x the CPU per message; "
        f"{max(idle, 0.0):.2f} of the 2 cores stayed idle with two replicas")
    say(f"for information: with a core for each replica, that CPU per message would allow two over one "
        f"{2 * cpu['one'] / cpu['two']:.2f}")
    verdict("replicas, two gateways vs one", ratio, GOAL, at_most=False,
            why=f"the machine had {sum(cores['two'].values()):.2f} of 2 cores busy with two replicas "
                f"(Redis {cores['two']['Redis']:.2f}, load {cores['two']['load processes']:.2f}, stub bot "
                f"{cores['two']['stub bot (this process)']:.2f}, other work "
                f"{cores['two']['other work on the machine']:.2f}): the replicas could only share what was left")
    return ratio


def median_cores(samples: Sequence[Sample]) -> dict[str, float]:
    return {name: median([s.cores[name] for s in samples]) for name in samples[0].cores}


# ------------------------------------------------------------------------------------------- processes


@contextlib.contextmanager
def shared_record() -> Iterator[str]:
    """One record (a SQLite file) for both replicas, as they share one database in production."""
    with tempfile.TemporaryDirectory(prefix="bench-record-") as folder:
        yield f"sqlite+aiosqlite:///{folder}/record.db"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--customers", type=int, default=32, help="customers sending at once (default 32)")
    parser.add_argument("--load-processes", type=int, default=2, help="processes driving them (default 2)")
    parser.add_argument("--seconds", type=float, default=5.0, help="length of one run (default 5)")
    parser.add_argument("--rounds", type=int, default=6, help="runs on each side (default 6)")
    args = parser.parse_args()
    bot_port = free_port()
    bot_url = f"http://127.0.0.1:{bot_port}"
    with (embedded_redis() as redis_url, shared_record() as record,
          gateway("replica-1", redis_url, bot_url, DATABASE_URL=record) as first,
          gateway("replica-2", redis_url, bot_url, DATABASE_URL=record) as second):
        asyncio.run(measure(redis_url, bot_port, [first, second], args.customers, args.load_processes,
                            args.seconds, args.rounds))
    return 0


if __name__ == "__main__":
    sys.exit(main())

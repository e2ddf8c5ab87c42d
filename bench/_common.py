"""What the benchmarks share: the processes they start, the clients they drive, and how they report.

Processes are started before any event loop runs (blocking waits are fine there) and stopped in reverse
order: an embedded Redis in a temporary folder (never the machine's own Redis), the action server and
one Rasa server per tracker store, gateways as ``complaint-gateway serve`` subprocesses, an echo server
and a minimal relay. The stub bot runs inside the benchmark's own event loop.

A benchmark's last line is ``NAME: ratio X (goal Y)``; the line before it says whether the goal is met.
Anchor and measured runs alternate (A B B A ...), or go in lockstep turn by turn, so that load from other
work on the shared machine falls on both alike.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import json
import math
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from redis.asyncio import Redis

from gateway import supervisor
from gateway.embedded_redis import EmbeddedRedis, free_port
from tests.support.chat_client import ChatClient

LOG_DIR = supervisor.ROOT / "var" / "bench"

# The answers of a complete intake, as a customer types them (tests/e2e/test_intake.py): the story first, then
# name and contact, the wish, where and who, and yes to the read-back.
CONVERSATIONS: dict[str, tuple[str, ...]] = {
    "zh": ("我要投诉", "我昨天下的买单一直没有成交，损失了很多钱", "张三", "13800138000",
           "希望尽快查明原因并给我答复", "不清楚", "没有", "对"),
    "en": ("I want to file a complaint", "The app charged me a commission twice for one trade last Friday",
           "John Smith", "+44 7700 900123", "Please refund the extra commission", "online", "no", "yes"),
}
LANGUAGES = ("zh", "en")

# Rasa's tracker stores: ours (endpoints.yml) and Rasa's default, as a deployment without the gateway has it.
TRACKER_STORES: dict[str, str | None] = {
    "intake": "components.tracker_store.CurrentIntakeTrackerStore",
    "stock": None,
}


def say(message: str) -> None:
    print(message, flush=True)


# ---------------------------------------------------------------------------------------------- processes


@contextlib.contextmanager
def embedded_redis() -> Iterator[str]:
    """A fresh embedded Redis (append-only file on, as the gateway runs it) in a temporary folder."""
    with tempfile.TemporaryDirectory(prefix="bench-redis-") as folder:
        redis = EmbeddedRedis(Path(folder))
        url = redis.start()
        try:
            yield url
        finally:
            redis.stop()


def _start_rasa(port: int, actions_port: int, store: str | None) -> subprocess.Popen[bytes]:
    endpoints = LOG_DIR / f"endpoints-{port}.yml"
    text = f"action_endpoint:\n  url: http://127.0.0.1:{actions_port}/webhook\n"
    if store:
        text += f"tracker_store:\n  type: {store}\n"
    endpoints.write_text(text)
    with (LOG_DIR / f"rasa-{port}.log").open("ab") as log:
        return subprocess.Popen(
            [str(supervisor.RASA), "run", "--interface", "127.0.0.1", "--port", str(port),
             "--model", str(supervisor.MODEL), "--endpoints", str(endpoints), "--credentials", "credentials.yml"],
            cwd=supervisor.BOT_DIR, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            env={**os.environ, "RASA_TELEMETRY_ENABLED": "false"},
        )


@contextlib.contextmanager
def bot(stores: Sequence[str] = ("intake",)) -> Iterator[dict[str, str]]:
    """The action server and one Rasa server per tracker store (same model); their URLs by store name."""
    supervisor.ensure_model(progress=say)
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    processes = supervisor.Processes()
    actions_port = free_port()
    try:
        actions = processes.add("actions", supervisor.start_actions(actions_port, LOG_DIR / "actions.log"))
        servers: dict[str, tuple[str, subprocess.Popen[bytes]]] = {}
        for store in stores:
            port = free_port()
            rasa = processes.add(f"rasa-{store}", _start_rasa(port, actions_port, TRACKER_STORES[store]))
            servers[store] = (f"http://127.0.0.1:{port}", rasa)
        say(f"starting the action server and {len(stores)} Rasa server(s) ({', '.join(stores)} tracker store)...")
        supervisor.wait_http(f"http://127.0.0.1:{actions_port}/health", 180, actions)
        for url, rasa in servers.values():
            supervisor.wait_http(url + "/", 300, rasa)
        yield {store: url for store, (url, _) in servers.items()}
    finally:
        processes.stop()


@dataclass
class GatewayProcess:
    url: str
    process: subprocess.Popen[bytes]

    @property
    def ws_url(self) -> str:
        return self.url.replace("http://", "ws://") + "/chat/ws"

    def rss_kib(self) -> int:
        """Resident memory of the gateway process (VmRSS), in KiB."""
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        raise RuntimeError("no VmRSS line")


def cpu_seconds(pid: int) -> float:
    """User and system CPU time a process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextlib.contextmanager
def gateway(name: str, redis_url: str, rasa_url: str, **env: str) -> Iterator[GatewayProcess]:
    """``complaint-gateway serve`` as an operator runs it, with the benchmark's customers allowed to type fast."""
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    port = free_port()
    base = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "RASA_URL", "PORT", "HOST", "DATA_DIR")}
    with tempfile.TemporaryDirectory(prefix=f"bench-{name}-") as data_dir:
        settings = {"REDIS_URL": redis_url, "RASA_URL": rasa_url, "DATA_DIR": data_dir, "HOST": "127.0.0.1",
                    "PORT": str(port), "CHAT_RATE_LIMIT": "1000000", "RASA_TIMEOUT": "60",
                    # The benchmark's customers all come from loopback: no per-address cap on them.
                    "CHAT_SESSIONS_PER_ADDRESS": "1000000", "CHAT_SOCKETS_PER_ADDRESS": "1000000", **env}
        with (LOG_DIR / f"gateway-{name}.log").open("ab") as log:
            process = subprocess.Popen([sys.executable, "-m", "gateway.cli", "serve"], env={**base, **settings},
                                       stdout=log, stderr=subprocess.STDOUT, cwd=supervisor.ROOT)
        try:
            url = f"http://127.0.0.1:{port}"
            supervisor.wait_http(url + "/healthz", 60, process)
            yield GatewayProcess(url, process)
        finally:
            process.terminate()
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def add_account(redis_url: str, name: str, role: str = "supervisor", database_url: str | None = None) -> str:
    """A handler's account, made with the CLI as an operator makes one; its password. Without ``database_url``
    the account goes to a throwaway record: the gateway finds it in Redis, its working copy."""
    password = secrets.token_urlsafe(16)
    with tempfile.TemporaryDirectory(prefix="bench-account-") as folder:
        env = {**os.environ, "REDIS_URL": redis_url, "DATA_DIR": folder,
               "DATABASE_URL": database_url or f"sqlite+aiosqlite:///{folder}/record.db"}
        subprocess.run([sys.executable, "-m", "gateway.cli", "agents", "add", name, "--role", role,
                        "--password-stdin"], input=password.encode(), env=env, check=True, cwd=supervisor.ROOT,
                       capture_output=True)
    return password


async def _healthz(request: web.Request) -> web.Response:
    return web.Response(text="ok")


def serve_echo(port: int) -> None:
    """A bare aiohttp WebSocket echo server: every text frame goes straight back (the anchor of the gateway)."""

    async def echo(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(max_msg_size=64 * 1024)
        await ws.prepare(request)
        async for msg in ws:
            if msg.type == aiohttp.WSMsgType.TEXT:
                await ws.send_str(msg.data)
        return ws

    app = web.Application()
    app.router.add_get("/chat/ws", echo)
    app.router.add_get("/healthz", _healthz)
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None)


def serve_relay(port: int, redis_url: str, bot_url: str) -> None:
    """The least a durable chat gateway does: the web chat protocol, each message recorded in Redis (one
    XADD) before its ack, the bot asked over HTTP, its answer sent back. No dedup, ordering, lease or fan-out."""

    async def clients(app: web.Application) -> AsyncIterator[None]:
        async with aiohttp.ClientSession() as http:
            redis = Redis.from_url(redis_url)
            app[RELAY_CLIENTS] = (redis, http)
            yield
            await redis.aclose()

    async def relay(request: web.Request) -> web.WebSocketResponse:
        redis, http = request.app[RELAY_CLIENTS]
        ws = web.WebSocketResponse(max_msg_size=64 * 1024)
        await ws.prepare(request)
        session = uuid.uuid4().hex
        async for msg in ws:
            frame = json.loads(msg.data)
            if frame["type"] == "hello":
                await ws.send_json({"type": "welcome", "session": session, "language": "en"})
                continue
            await redis.xadd(f"relay:{{{session}}}", {"id": frame["id"], "text": frame["text"]})
            await ws.send_json({"type": "ack", "id": frame["id"], "duplicate": False})
            async with http.post(bot_url + "/webhooks/rest/webhook",
                                 json={"sender": session, "message": frame["text"]}) as response:
                answer = await response.json()
            for message in answer:
                await ws.send_json({"type": "message", "from": "bot", "text": message["text"], "buttons": []})
        return ws

    app = web.Application()
    app.cleanup_ctx.append(clients)
    app.router.add_get("/chat/ws", relay)
    app.router.add_get("/healthz", _healthz)
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None)


RELAY_CLIENTS = web.AppKey("relay_clients", tuple)


@contextlib.contextmanager
def echo_server(relay_to: tuple[str, str] | None = None) -> Iterator[tuple[str, int]]:
    """The echo server (or with ``relay_to`` = (Redis URL, bot URL), the relay) in a process of its own, like
    the gateway; its WebSocket URL and process id."""
    port = free_port()
    code = (f"from bench._common import serve_relay; serve_relay({port}, {relay_to[0]!r}, {relay_to[1]!r})"
            if relay_to else f"from bench._common import serve_echo; serve_echo({port})")
    process = subprocess.Popen([sys.executable, "-c", code], cwd=supervisor.ROOT, stdin=subprocess.DEVNULL)
    try:
        supervisor.wait_http(f"http://127.0.0.1:{port}/healthz", 30, process)
        yield f"ws://127.0.0.1:{port}/chat/ws", process.pid
    finally:
        process.terminate()
        process.wait(15)


@contextlib.asynccontextmanager
async def stub_bot(port: int) -> AsyncIterator[str]:
    """Rasa's REST webhook answered at once with one text: the bot taken out of the measurement."""

    async def webhook(request: web.Request) -> web.Response:
        body = await request.json()
        return web.json_response([{"recipient_id": body["sender"], "text": "Thank you, noted."}])

    async def root(request: web.Request) -> web.Response:
        return web.Response(text="stub bot")

    app = web.Application()
    app.router.add_post("/webhooks/rest/webhook", webhook)
    app.router.add_get("/", root)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


# ------------------------------------------------------------------------------------------------ clients


def rest_metadata(language: str) -> dict[str, Any]:
    """What the gateway sends Rasa with a web chat message (router: language, channel, contact)."""
    return {"language": language, "channel": "webchat", "contact": {"name": None, "phone": None, "email": None}}


class RestCustomer:
    """A customer talking to Rasa's REST webhook directly, as a deployment without the gateway has it."""

    def __init__(self, http: aiohttp.ClientSession, rasa_url: str) -> None:
        self.http = http
        self.url = rasa_url.rstrip("/") + "/webhooks/rest/webhook"
        self.sender = f"bench-{uuid.uuid4().hex}"

    async def turn(self, text: str, language: str) -> tuple[float, list[dict[str, Any]]]:
        """Seconds until Rasa answered, and its answer."""
        payload = {"sender": self.sender, "message": text, "metadata": rest_metadata(language)}
        started = time.perf_counter()
        async with self.http.post(self.url, json=payload) as response:
            response.raise_for_status()
            answer: list[dict[str, Any]] = await response.json()
        return time.perf_counter() - started, answer


def bot_texts(answer: list[dict[str, Any]]) -> int:
    """How many text messages a REST answer holds (what the gateway turns into bot frames)."""
    return sum(1 for m in answer if m.get("text"))


@dataclass(frozen=True)
class Step:
    """One customer message and what the bot answers to it (learnt from Rasa before measuring)."""

    text: str
    replies: int
    ends_intake: bool


Script = dict[str, list[Step]]


async def learn_script(http: aiohttp.ClientSession, rasa_url: str) -> Script:
    """How many messages the bot says to each answer, and which answer completes the record."""
    script: Script = {}
    for language in LANGUAGES:
        customer, steps = RestCustomer(http, rasa_url), []
        for text in CONVERSATIONS[language]:
            _, answer = await customer.turn(text, language)
            ends = any((m.get("custom") or {}).get("event") == "case_ready" for m in answer)
            steps.append(Step(text, bot_texts(answer), ends))
        if not steps[-1].ends_intake or any(step.ends_intake for step in steps[:-1]):
            raise SystemExit(f"the bot did not complete the {language} intake on its last answer: {steps}")
        script[language] = steps
    return script


class ChatCustomer(ChatClient):
    """A customer on the gateway's web chat: hello, then messages, each acknowledged and answered by frames.

    An error frame from the gateway ends the bench (Refused): a refused message would make the timing void.
    """

    REFUSE_ERRORS = True
    WAIT = 120.0

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        super().__init__(ws)
        self.case_id = ""

    async def turn(self, text: str, replies: int = 1, case: bool = False) -> float:
        """Seconds from sending ``text`` until its ack and ``replies`` bot messages have arrived.

        With ``case``, the turn ends the intake: it lasts until the case frame (the customer sees the case
        number), which the gateway sends after the bot's last words and the case's creation.
        """
        message_id = uuid.uuid4().hex
        started = time.perf_counter()
        await self.post(text, message_id)
        await self.expect(lambda f: f["type"] == "ack" and f["id"] == message_id)
        for _ in range(replies):
            await self.expect(lambda f: f["type"] == "message" and f["from"] == "bot")
        if case:
            self.case_id = (await self.expect(lambda f: f["type"] == "case"))["case_id"]
        elapsed = time.perf_counter() - started
        if not case and any(f["type"] == "case" and f["status"] == "queued" for f in self.frames):
            raise RuntimeError("a case opened in the middle of an intake: the bot was unavailable")
        self.frames.clear()  # what is left is the customer's own message, echoed
        return elapsed


class DirectSide:
    """One sender on Rasa's REST webhook, answering a script's steps; checks the bot answers as it did before."""

    def __init__(self, http: aiohttp.ClientSession, rasa_url: str, language: str) -> None:
        self.customer, self.language = RestCustomer(http, rasa_url), language

    async def turn(self, step: Step) -> float:
        elapsed, answer = await self.customer.turn(step.text, self.language)
        if bot_texts(answer) != step.replies:
            raise RuntimeError(f"the bot answered {step.text!r} unlike before: {answer}")
        return elapsed

    async def close(self) -> None:
        pass


class GatewaySide:
    """One web chat session answering a script's steps; ``after_intake`` runs (not timed) when a case opened."""

    def __init__(self, customer: ChatCustomer, after_intake: Callable[[ChatCustomer], Awaitable[None]] | None) -> None:
        self.customer, self.after_intake = customer, after_intake

    @classmethod
    async def open(cls, http: aiohttp.ClientSession, ws_url: str, language: str,
                   after_intake: Callable[[ChatCustomer], Awaitable[None]] | None = None) -> GatewaySide:
        return cls(await ChatCustomer.connect(http, ws_url, language=language), after_intake)

    async def turn(self, step: Step) -> float:
        elapsed = await self.customer.turn(step.text, step.replies, step.ends_intake)
        if step.ends_intake and self.after_intake is not None:
            await self.after_intake(self.customer)
        return elapsed

    async def close(self) -> None:
        await self.customer.close()


Side = DirectSide | GatewaySide


async def lockstep(sides: Mapping[str, Side], steps: Sequence[Step], rotation: int = 0) -> dict[str, list[float]]:
    """Every side through the same steps, a turn each in turn, the order rotating from turn to turn.

    Turn n of every side is measured within a second or so of the others', so load from other work on a
    shared machine falls on all sides alike. Which side goes first at turn n also depends on ``rotation``:
    give each repetition its own, so that no side always takes the same place at the same turn. The sides
    are closed afterwards.
    """
    names = list(sides)
    times: dict[str, list[float]] = {name: [] for name in names}
    try:
        for n, step in enumerate(steps):
            first = (n + rotation) % len(names)
            for name in names[first:] + names[:first]:
                times[name].append(await sides[name].turn(step))
    finally:
        for side in sides.values():
            await side.close()
    return times


class RedisTally:
    """What Redis executed while it listened (MONITOR): round trips by kind, and the commands scripts ran.

    A MULTI ... EXEC block counts as one (redis-py sends a transaction in one write), labelled with the
    commands inside it; EVALSHA is one, and what its script ran is counted apart. Commands of a pipeline
    without MULTI are indistinguishable from single ones in MONITOR and count one each there, so the total
    of round trips is taken from Redis itself instead: ``reads``, the read events it processed meanwhile
    (INFO ``total_reads_processed``; a pipeline arrives in one read).
    """

    def __init__(self) -> None:
        self.round_trips: collections.Counter[str] = collections.Counter()
        self.in_scripts: collections.Counter[str] = collections.Counter()
        self.reads = 0
        self._transactions: dict[str, list[str]] = {}

    def add(self, entry: Mapping[str, Any]) -> None:
        name = str(entry["command"]).split(" ", 1)[0].strip('"').upper()
        if name == "INFO":
            return  # the tally's own, reading Redis's count of read events
        if entry["client_type"] == "lua":
            self.in_scripts[name] += 1
            return
        connection = f"{entry['client_address']}:{entry['client_port']}"
        if name == "MULTI":
            self._transactions[connection] = []
        elif connection in self._transactions:
            if name in ("EXEC", "DISCARD"):
                inside = self._transactions.pop(connection)
                self.round_trips[f"MULTI {' '.join(dict.fromkeys(inside))} EXEC"] += 1
            else:
                self._transactions[connection].append(name)
        else:
            self.round_trips[name] += 1

    def per(self, n: int) -> list[tuple[str, float]]:
        """Commands by kind (a transaction or a script as one), per one of ``n``."""
        return [(kind, count / n) for kind, count in self.round_trips.most_common()]

    def reads_per(self, n: int) -> float:
        """Round trips (read events Redis processed), per one of ``n``."""
        return self.reads / n


@contextlib.asynccontextmanager
async def redis_tally(redis_url: str) -> AsyncIterator[RedisTally]:
    """Tally every command Redis executes inside the block (from every client: keep the block quiet)."""
    tally = RedisTally()
    redis = Redis.from_url(redis_url)
    try:
        async with redis.monitor() as monitor:

            async def listen() -> None:
                async for entry in monitor.listen():
                    tally.add(entry)

            listener = asyncio.create_task(listen())
            await asyncio.sleep(0.2)
            try:
                reads = int((await redis.info("stats"))["total_reads_processed"])
                yield tally
                await asyncio.sleep(0.5)  # commands still on their way to the monitor
                # Less the read of this INFO itself (its reply counts it already).
                tally.reads = int((await redis.info("stats"))["total_reads_processed"]) - reads - 1
            finally:
                listener.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await listener
    finally:
        await redis.aclose()


# ---------------------------------------------------------------------------------------------- reporting


def interleaved(rounds: int, runs: Mapping[str, Callable[[], Awaitable[Any]]]) -> Awaitable[dict[str, list[Any]]]:
    """Each run ``rounds`` times, alternating their order round by round (A B, B A, A B ...)."""

    async def go() -> dict[str, list[Any]]:
        results: dict[str, list[Any]] = {name: [] for name in runs}
        order = list(runs)
        for i in range(rounds):
            for name in order if i % 2 == 0 else reversed(order):
                results[name].append(await runs[name]())
        return results

    return go()


def percentile(samples: Sequence[float], p: float) -> float:
    """The p-th percentile (nearest rank) of samples."""
    ordered = sorted(samples)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def median(samples: Sequence[float]) -> float:
    return statistics.median(samples)


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    cells = [[str(h) for h in headers]] + [[_cell(v) for v in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    for n, row in enumerate(cells):
        print("  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True))))
        if n == 0:
            print("  ".join("-" * w for w in widths))


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.2f}" if abs(value) < 100 else f"{value:.0f}"
    return str(value)


def verdict(name: str, ratio: float, goal: float, *, at_most: bool, why: str = "") -> None:
    """The last two lines: whether the goal is met (by how much it is missed), then ``NAME: ratio X (goal Y)``."""
    met = ratio <= goal if at_most else ratio >= goal
    if met:
        say("goal met")
    else:
        off = ratio / goal if at_most else goal / ratio
        say(f"goal MISSED: {off:.2f}x {'over' if at_most else 'under'} the goal" + (f"; {why}" if why else ""))
    shown = f"{ratio:.2f}" if ratio >= 0.1 else f"{ratio:.3f}"
    say(f"{name}: ratio {shown} (goal {'<=' if at_most else '>='} {goal:g})")

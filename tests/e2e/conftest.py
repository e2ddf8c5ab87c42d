"""The whole running system for end-to-end tests, started once per session.

Real processes only: the trained model (cached by a fingerprint of bot/), the Rasa server and the action
server from bot/.venv, Redis, and gateways started with ``complaint-gateway serve`` as an operator would.
Logs go to var/test-logs/ so a failure can be read afterwards.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import sys
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from playwright.async_api import Browser, BrowserContext, Page, async_playwright, expect
from redis import Redis as SyncRedis

from gateway import supervisor
from gateway.embedded_redis import EmbeddedRedis, free_port
from tests.conftest import E2E_DB, with_db

LOGS = supervisor.ROOT / "var" / "test-logs"
AGENT, AGENT_PASSWORD = "e2e-handler", "a long test password"
BOT_TOKEN = secrets.token_urlsafe(16)
TRANSCRIPTS_TOKEN = secrets.token_urlsafe(16)
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
HAVE_CHROMIUM = os.path.exists(CHROMIUM)
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


@dataclass
class Gateway:
    url: str
    process: subprocess.Popen[bytes]
    env: dict[str, str]

    @property
    def ws_url(self) -> str:
        return self.url.replace("http://", "ws://") + "/chat/ws"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()


# One system of record for every gateway and CLI run of the session, as replicas of a deployment share one
# DATABASE_URL: an account the CLI makes is the one the gateways list.
SHARED_RECORD = Path(tempfile.mkdtemp(prefix="cg-e2e-record-")) / "record.db"


def gateway_env(redis_url: str, rasa_url: str, data_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "RASA_URL", "PORT", "HOST")}
    env.setdefault("DATABASE_URL", f"sqlite+aiosqlite:///{SHARED_RECORD}")
    # Every test customer comes from loopback: the per-address chat caps are for the public, not for the suite.
    env.setdefault("CHAT_SESSIONS_PER_ADDRESS", "100000")
    env.setdefault("CHAT_SOCKETS_PER_ADDRESS", "100000")
    env.update(REDIS_URL=redis_url, RASA_URL=rasa_url, DATA_DIR=str(data_dir), HOST="127.0.0.1",
               LOG_LEVEL="INFO", **extra)
    return env


def start_gateway(name: str, redis_url: str, rasa_url: str, data_dir: Path, port: int | None = None,
                  **extra: str) -> Gateway:
    port = port or free_port()
    env = gateway_env(redis_url, rasa_url, data_dir, PORT=str(port), GATEWAY_BOT_TOKEN=BOT_TOKEN,
                      TRANSCRIPTS_TOKEN=TRANSCRIPTS_TOKEN, **extra)
    LOGS.mkdir(parents=True, exist_ok=True)
    with (LOGS / f"gateway-{name}.log").open("ab") as log:
        process = subprocess.Popen([sys.executable, "-m", "gateway.cli", "serve"], env=env,
                                   stdout=log, stderr=subprocess.STDOUT, cwd=supervisor.ROOT)
    url = f"http://127.0.0.1:{port}"
    supervisor.wait_http(url + "/healthz", 60, process)
    return Gateway(url, process, env)


@pytest.fixture(scope="session")
def e2e_redis(redis_server: str) -> Iterator[str]:
    url = with_db(redis_server, E2E_DB)
    client = SyncRedis.from_url(url)
    client.flushdb()
    try:
        yield url
    finally:
        client.flushdb()
        client.close()


@pytest.fixture(scope="session")
def gateway_port() -> int:
    """The main gateway's port, known before the action server starts so the bot can ask it about cases."""
    return free_port()


@pytest.fixture(scope="session")
def rasa(gateway_port: int) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """The real Rasa server and action server, with the model trained from bot/ (retrained if it changed)."""
    supervisor.ensure_model()
    processes = supervisor.Processes()
    rasa_port, actions_port = free_port(), free_port()
    link = supervisor.GatewayLink(f"http://127.0.0.1:{gateway_port}", BOT_TOKEN)
    try:
        supervisor.start_bot(rasa_port, actions_port, LOGS, processes, progress=lambda _: None, gateway=link)
        yield f"http://127.0.0.1:{rasa_port}", processes.started[-1][1]
    finally:
        processes.stop()


@pytest.fixture(scope="session")
def agent_account(e2e_redis: str, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    return add_agent(e2e_redis, tmp_path_factory.mktemp("cli"))


@pytest.fixture(scope="session")
def gateway(e2e_redis: str, rasa: tuple[str, Any], agent_account: Any, gateway_port: int,
            tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    process = start_gateway("main", e2e_redis, rasa[0], tmp_path_factory.mktemp("gw-main"), port=gateway_port)
    try:
        yield process
    finally:
        process.stop()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


class AgentApi:
    """The agent API as a handler's client uses it."""

    def __init__(self, http: aiohttp.ClientSession, base: str) -> None:
        self.http, self.base, self.headers = http, base, {}

    async def login(self, name: str, password: str) -> None:
        async with self.http.post(f"{self.base}/api/login", json={"name": name, "password": password}) as r:
            assert r.status == 200, await r.text()
            self.headers = {"Authorization": f"Bearer {(await r.json())['token']}"}

    async def call(self, method: str, path: str, **kwargs: Any) -> Any:
        async with self.http.request(method, f"{self.base}{path}", headers=self.headers, **kwargs) as r:
            assert r.status < 300, f"{method} {path}: {r.status} {await r.text()}"
            return await r.json() if r.status != 204 else None


@pytest.fixture
def own_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedRedis]:
    """A Redis server of the test's own (append-only file on, as the embedded default), to stop, kill or fill."""
    server = EmbeddedRedis(tmp_path_factory.mktemp("own-redis"))
    server.start()
    try:
        yield server
    finally:
        server.stop()


def add_agent(redis_url: str, data_dir: Path, name: str = AGENT, password: str = AGENT_PASSWORD,
              role: str = "agent", **extra: str) -> tuple[str, str]:
    """A handler's account on that Redis, made with the CLI exactly as the README tells operators to (``extra``:
    more settings, such as REDIS_MODE)."""
    env = gateway_env(redis_url, "http://127.0.0.1:9", data_dir, **extra)
    subprocess.run([sys.executable, "-m", "gateway.cli", "agents", "add", name, "--role", role,
                    "--password-stdin"], input=password.encode(), env=env, check=True,
                   cwd=supervisor.ROOT, capture_output=True)
    return name, password


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Browser]:
    """Debian's headless Chromium, one per test module."""
    if not HAVE_CHROMIUM:
        if os.environ.get("REQUIRE_BROWSER"):
            pytest.fail("chromium is not installed (apt-get install chromium)")
        pytest.skip("chromium is not installed (apt-get install chromium)")
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield browser
        await browser.close()


Profile = Callable[[str, str], Awaitable[BrowserContext]]


@pytest.fixture
async def profiles(browser: Browser) -> AsyncIterator[Profile]:
    """Fresh browser profiles in a given locale and time zone; a script error on any of their pages fails the test."""
    contexts: list[BrowserContext] = []
    errors: list[str] = []

    async def profile(locale: str, timezone: str) -> BrowserContext:
        context = await browser.new_context(locale=locale, timezone_id=timezone,
                                            viewport={"width": 1400, "height": 1100})
        context.on("weberror", lambda failure: errors.append(str(failure.error)))
        contexts.append(context)
        return context

    yield profile
    for context in contexts:
        await context.close()
    assert not errors, f"the console threw: {errors}"


async def say(page: Page, text: str) -> None:
    """Type like a customer, send with Enter, and wait for the bot to answer that turn."""
    answered = await page.locator(".msg-bot, .msg-system").count()
    await page.locator("#message-input").fill(text)
    await page.locator("#message-input").press("Enter")
    await expect(page.locator(".msg-customer").last).to_contain_text(text)
    await expect(page.locator(".msg-bot, .msg-system")).not_to_have_count(answered, timeout=60_000)

"""The local supervisor behind ``complaint-gateway up``: model, Rasa, action server, Redis, as child processes.

Rasa lives in its own environment (``bot/.venv``, Python 3.10) because it pins old aiohttp, redis and
pydantic; the gateway only ever talks to it over HTTP on 127.0.0.1. The model is retrained only when
bot/'s configuration or training data changed since the last training (a fingerprint beside the model).
The end-to-end tests start the same processes through these functions.
"""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from gateway.privacy import redact

ROOT = Path(__file__).resolve().parent.parent
BOT_DIR = ROOT / "bot"
RASA = BOT_DIR / ".venv" / "bin" / "rasa"
MODEL = BOT_DIR / "models" / "complaint.tar.gz"
FINGERPRINT = BOT_DIR / "models" / "complaint.fingerprint"
Progress = Callable[[str], None]


def _say(message: str) -> None:
    print(message, flush=True)


class SupervisorError(RuntimeError):
    pass


def bot_fingerprint() -> str:
    """A hash of everything the trained model depends on."""
    digest = hashlib.sha256()
    inputs = [BOT_DIR / "config.yml", BOT_DIR / "domain.yml", BOT_DIR / "requirements.txt"]
    inputs += sorted((BOT_DIR / "data").rglob("*.yml"))
    inputs += sorted((BOT_DIR / "components").glob("*.py"))  # the pipeline's own components shape the model
    for path in inputs:
        digest.update(str(path.relative_to(BOT_DIR)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def model_is_current() -> bool:
    return MODEL.exists() and FINGERPRINT.exists() and FINGERPRINT.read_text().strip() == bot_fingerprint()


def ensure_model(progress: Progress = _say, force: bool = False) -> Path:
    """Train the model if bot/ changed since the last training; the model's path either way."""
    if not RASA.exists():
        raise SupervisorError(f"{RASA} is missing: run `make setup` first")
    if model_is_current() and not force:
        progress(f"bot model is up to date ({MODEL.relative_to(ROOT)})")
        return MODEL
    fingerprint = bot_fingerprint()
    progress("training the bot model (bot/ changed since the last training)...")
    started = time.monotonic()
    log = ROOT / "var" / "log" / "train.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("wb") as out:
        result = subprocess.run(
            [str(RASA), "train", "--out", "models", "--fixed-model-name", "complaint"],
            cwd=BOT_DIR, stdout=out, stderr=subprocess.STDOUT, check=False, env=_bot_env(),
        )
    if result.returncode != 0 or not MODEL.exists():
        raise SupervisorError(f"training failed; see {log}")
    FINGERPRINT.write_text(fingerprint)
    progress(f"trained in {time.monotonic() - started:.0f}s")
    return MODEL


@dataclass(frozen=True)
class GatewayLink:
    """How the action server reaches the gateway's bot API (for case status questions)."""

    url: str
    token: str


@dataclass
class Processes:
    """Children started by the supervisor, stopped in reverse order."""

    started: list[tuple[str, subprocess.Popen[bytes]]] = field(default_factory=list)

    def add(self, name: str, process: subprocess.Popen[bytes]) -> subprocess.Popen[bytes]:
        self.started.append((name, process))
        return process

    def stop(self) -> None:
        for _, process in reversed(self.started):
            if process.poll() is None:
                process.terminate()
        for _, process in reversed(self.started):
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self.started.clear()


def _bot_env() -> dict[str, str]:
    # Rasa reports usage to its vendor unless told not to; nothing leaves an operator's machine.
    return {**os.environ, "RASA_TELEMETRY_ENABLED": "false"}


def _spawn(command: list[str], log: Path, env: Mapping[str, str] | None = None) -> subprocess.Popen[bytes]:
    """Start a bot process whose output reaches ``log`` only through the gateway's redaction: Rasa logs a
    message's text when a turn is cancelled or fails, and a log must never hold a phone, email or account number
    in clear (docs/architecture.md, guarantee 8)."""
    log.parent.mkdir(parents=True, exist_ok=True)
    process = subprocess.Popen(command, cwd=BOT_DIR, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               stdin=subprocess.DEVNULL, env={**_bot_env(), **(env or {})})
    threading.Thread(target=_copy_redacted, args=(process, log), daemon=True).start()
    return process


_STAMP = re.compile(r"^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}(?:[.,]\d+)?")


def _copy_redacted(process: subprocess.Popen[bytes], log: Path) -> None:
    assert process.stdout is not None
    with log.open("ab") as out:
        for raw in process.stdout:
            line = raw.decode("utf-8", "replace")
            stamp = _STAMP.match(line)
            kept = stamp.group() if stamp else ""  # the time a line was written is not personal data
            out.write((kept + redact(line[len(kept):])).encode())
            out.flush()


def start_actions(port: int, log: Path, gateway: GatewayLink | None = None) -> subprocess.Popen[bytes]:
    """The action server on 127.0.0.1 only: it runs the bot's actions for anyone who reaches it, unauthenticated.

    rasa-sdk 3.6 has no --interface option; its server binds to the SANIC_HOST environment variable
    (rasa_sdk/endpoint.py ``run``), 0.0.0.0 without it.
    """
    env = {"SANIC_HOST": "127.0.0.1"}
    if gateway:
        env |= {"GATEWAY_URL": gateway.url, "GATEWAY_BOT_TOKEN": gateway.token}
    return _spawn([str(RASA), "run", "actions", "--port", str(port), "--actions", "actions"], log, env)


def start_rasa(port: int, actions_port: int, log: Path, model: Path = MODEL) -> subprocess.Popen[bytes]:
    endpoints = log.with_name(f"endpoints-{port}.yml")
    endpoints.write_text(
        f"action_endpoint:\n  url: http://127.0.0.1:{actions_port}/webhook\n"
        # Keeps each conversation from its latest restart on, so turn latency stays flat (bot/endpoints.yml).
        "tracker_store:\n  type: components.tracker_store.CurrentIntakeTrackerStore\n"
    )
    return _spawn(
        [str(RASA), "run", "--interface", "127.0.0.1", "--port", str(port), "--model", str(model),
         "--endpoints", str(endpoints), "--credentials", "credentials.yml"],
        log,
    )


def wait_http(url: str, timeout: float, process: subprocess.Popen[bytes] | None = None,
              progress: Progress | None = None) -> None:
    """Block until ``url`` answers 200 (before any event loop runs), or fail if the process died."""
    deadline = time.monotonic() + timeout
    next_dot = time.monotonic() + 5
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise SupervisorError(f"process for {url} exited with {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        if progress and time.monotonic() > next_dot:
            progress("  still starting...")
            next_dot = time.monotonic() + 10
        time.sleep(0.3)
    raise SupervisorError(f"{url} did not answer within {timeout:.0f}s")


def start_bot(rasa_port: int, actions_port: int, log_dir: Path, processes: Processes,
              progress: Progress = _say, gateway: GatewayLink | None = None) -> None:
    """Start the action server and the Rasa server and wait until both answer."""
    progress(f"starting the action server on 127.0.0.1:{actions_port}...")
    actions = processes.add("actions", start_actions(actions_port, log_dir / "actions.log", gateway))
    progress(f"starting the Rasa server on 127.0.0.1:{rasa_port} (takes a minute)...")
    rasa = processes.add("rasa", start_rasa(rasa_port, actions_port, log_dir / "rasa.log"))
    wait_http(f"http://127.0.0.1:{actions_port}/health", 180, actions, progress)
    wait_http(f"http://127.0.0.1:{rasa_port}/", 300, rasa, progress)
    progress("bot ready")

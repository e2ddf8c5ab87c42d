"""``complaint-gateway agents ...`` as an operator runs it: accounts in the record, every change audited."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from redis.asyncio import Redis

from gateway.settings import Settings
from tests.conftest import UNIT_DB, with_db


def cli(env: dict[str, str], *args: str, password: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "gateway.cli", "agents", *args], env=env, capture_output=True,
                          text=True, input=password, timeout=120, check=False)


def operator_env(settings: Settings, redis_server: str, record: Path) -> dict[str, str]:
    return {**os.environ, "DATABASE_URL": f"sqlite+aiosqlite:///{record}", "REDIS_URL": with_db(redis_server, UNIT_DB),
            "DATA_DIR": str(settings.data_dir), "LOG_LEVEL": "WARNING"}


async def test_an_operator_manages_accounts_and_the_record_keeps_who_did_what(
    settings: Settings, redis: Redis, redis_server: str, tmp_path: Path
) -> None:
    env = operator_env(settings, redis_server, tmp_path / "record.db")
    made = cli(env, "add", "alice", "--role", "supervisor", "--languages", "zh", "--password-stdin", "--by", "ops",
               password="a long password\n")
    assert made.returncode == 0 and "alice (supervisor; zh) created" in made.stdout

    again = cli(env, "add", "alice", "--role", "admin", "--password-stdin", password="someone else's\n")
    assert again.returncode == 1 and "exists" in again.stderr, "an account is never silently overwritten"

    assert cli(env, "set", "alice", "--role", "agent", "--languages", "zh,en", "--by", "ops").returncode == 0
    assert cli(env, "disable", "alice", "--by", "ops").returncode == 0
    listed = cli(env, "list").stdout
    assert "alice (agent; zh, en; disabled)" in listed
    assert cli(env, "enable", "alice", "--by", "ops").returncode == 0
    reset = cli(env, "reset", "alice", "--password-stdin", "--by", "ops", password="a new long password\n")
    assert reset.returncode == 0

    events = [json.loads(line) for line in cli(env, "events", "alice").stdout.splitlines()]
    assert [(e["actor"], e["action"]) for e in events] == [
        ("ops", "reset"), ("ops", "enable"), ("ops", "disable"), ("ops", "change"), ("ops", "create")]
    assert events[3]["detail"]["before"]["role"] == "supervisor" and events[3]["detail"]["after"]["role"] == "agent"
    assert "a new long password" not in json.dumps(events) and "argon2" not in json.dumps(events)

    refused = cli(env, "disable", "nobody")
    assert refused.returncode == 1 and "no account named 'nobody'" in refused.stderr
    short = cli(env, "add", "bob", "--password-stdin", password="short\n")
    assert short.returncode == 1 and "at least 8" in short.stderr

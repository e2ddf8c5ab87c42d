"""The ``complaint-gateway`` command: up, serve, train, agents add."""

from __future__ import annotations

import argparse
import asyncio
import logging
import secrets
import sys
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import urlsplit

from aiohttp import web

from gateway import privacy, supervisor
from gateway.app import create_app
from gateway.auth import Agents, AuthError
from gateway.embedded_redis import EmbeddedRedis
from gateway.settings import Settings, SettingsError
from gateway.store import open_redis

DEMO_AGENT = "demo"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="complaint-gateway", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("up", help="run the whole system locally: Redis, Rasa, action server, gateway")
    commands.add_parser("serve", help="run the gateway alone (Redis from REDIS_URL, Rasa from RASA_URL)")
    train = commands.add_parser("train", help="train the bot model if bot/ changed")
    train.add_argument("--force", action="store_true", help="train even if the model is up to date")
    agents = commands.add_parser("agents", help="manage complaint handlers' accounts")
    agent_commands = agents.add_subparsers(dest="agents_command", required=True)
    add = agent_commands.add_parser("add", help="create or update an account")
    add.add_argument("name")
    add.add_argument("--role", choices=("agent", "supervisor", "admin"), default="agent")
    add.add_argument("--languages", default="zh,en",
                     help="the desks this handler reads, comma-separated (zh, en); default both")
    add.add_argument("--password-stdin", action="store_true", required=True,
                     help="read the password from standard input (never from the command line)")
    args = parser.parse_args(argv)
    try:
        settings = Settings.from_env()
    except SettingsError as exc:
        parser.error(str(exc))
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    privacy.install()
    try:
        if args.command == "up":
            return up(settings)
        if args.command == "serve":
            web.run_app(create_app(settings), host=settings.host, port=settings.port, print=None)
            return 0
        if args.command == "train":
            supervisor.ensure_model(force=args.force)
            return 0
        password = sys.stdin.readline().rstrip("\n")
        languages = tuple(part.strip() for part in args.languages.split(",") if part.strip())
        asyncio.run(add_agent(settings, args.name, password, args.role, languages))
        print(f"agent {args.name} ({args.role}; {', '.join(languages)}) saved")
        return 0
    except (supervisor.SupervisorError, AuthError) as exc:
        print(f"complaint-gateway: {exc}", file=sys.stderr)
        return 1


async def add_agent(settings: Settings, name: str, password: str, role: str, languages: tuple[str, ...]) -> None:
    async with open_redis(settings) as redis:
        await Agents(redis, settings.token_ttl, settings.login_lockout).add(name, password, role, languages)


def _demo_password(data_dir: Path) -> str:
    """The demo agent's password: made once per machine and kept under var/, so it stays the same."""
    path = data_dir / "demo-agent-password"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(9))
        path.chmod(0o600)
    return path.read_text().strip()


def up(settings: Settings) -> int:
    """Start everything on its embedded defaults, print where to open it, stop it all on Ctrl-C."""
    processes = supervisor.Processes()
    embedded: EmbeddedRedis | None = None
    log_dir = settings.data_dir / "log"
    try:
        supervisor.ensure_model()
        if not settings.redis_url:
            embedded = EmbeddedRedis(settings.data_dir / "redis")
            print(f"starting the embedded Redis (append-only file in {embedded.data_dir})...", flush=True)
            settings = Settings.from_env(redis_url=embedded.start())
        rasa_port = urlsplit(settings.rasa_url).port or 5005
        settings = Settings.from_env(redis_url=settings.redis_url,
                                     bot_token=settings.bot_token or secrets.token_urlsafe(24))
        link = supervisor.GatewayLink(f"http://127.0.0.1:{settings.port}", settings.bot_token)
        supervisor.start_bot(rasa_port, settings.actions_port, log_dir, processes, gateway=link)
        password = _demo_password(settings.data_dir)
        asyncio.run(add_agent(settings, DEMO_AGENT, password, "supervisor", ("zh", "en")))
        # run_app calls `print` once its sites listen: the banner never promises a closed port.
        web.run_app(create_app(settings), host=settings.host, port=settings.port,
                    print=lambda _started: _banner(settings, password))
    except KeyboardInterrupt:
        pass
    finally:
        print("stopping...", flush=True)
        processes.stop()
        if embedded is not None:
            embedded.stop()
    return 0


def _banner(settings: Settings, password: str) -> None:
    base = settings.base_url
    print(
        "\ncomplaint-gateway is running\n"
        f"  chat page:      {base}/\n"
        f"  agent console:  {base}/agent   (log in as {DEMO_AGENT} / {password})\n"
        f"  agent API:      {base}/api/openapi.json\n"
        f"  logs:           {settings.data_dir / 'log'}\n"
        "Press Ctrl-C to stop.\n",
        flush=True,
    )


if __name__ == "__main__":
    sys.exit(main())

"""``complaint-gateway agents add|list|set|disable|enable|reset|events``: handlers' accounts from the shell.

What an operator does here is on the accounts' audit trail like an admin's change through the API, under the
name given with ``--by`` (default: the operating system user). Passwords are read from standard input only.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from collections.abc import AsyncIterator

from gateway.auth import ROLES, Agent, Agents
from gateway.settings import Settings
from gateway.store import open_redis
from handoff.org import load_org
from records.record import CaseRecord


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    agents = commands.add_parser("agents", help="manage complaint handlers' accounts")
    verbs = agents.add_subparsers(dest="agents_command", required=True)
    add = verbs.add_parser("add", help="create an account (an existing name is refused: change it instead)")
    add.add_argument("name")
    add.add_argument("--role", choices=ROLES, default="agent")
    add.add_argument("--languages", default="zh,en",
                     help="the desks this handler reads, comma-separated (zh, en); default both")
    add.add_argument("--unit", default="hq", help="the unit the handler works in (ORG_FILE); default hq")
    _password_stdin(add)
    verbs.add_parser("list", help="every account: role, desks, whether disabled")
    change = verbs.add_parser("set", help="change an account's role or desks (its sessions follow at once)")
    change.add_argument("name")
    change.add_argument("--role", choices=ROLES)
    change.add_argument("--languages", help="comma-separated (zh, en)")
    change.add_argument("--unit", help="the unit the handler works in (ORG_FILE)")
    disable = verbs.add_parser("disable", help="disable an account and end its sessions")
    enable = verbs.add_parser("enable", help="enable a disabled account")
    reset = verbs.add_parser("reset", help="set a new password and end the account's sessions")
    _password_stdin(reset)
    for parser in (disable, enable, reset):
        parser.add_argument("name")
    for parser in (add, change, disable, enable, reset):
        parser.add_argument("--by", help="who makes the change, for the audit trail (default: the OS user)")
    events = verbs.add_parser("events", help="who changed whose account, when and what (newest first)")
    events.add_argument("name", nargs="?")


def _password_stdin(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--password-stdin", action="store_true", required=True,
                        help="read the password from standard input (never from the command line)")


@contextlib.asynccontextmanager
async def open_accounts(settings: Settings) -> AsyncIterator[Agents]:
    async with CaseRecord(settings.record_url) as record, open_redis(settings) as redis:
        units = tuple(load_org(settings.org_file).units)
        yield Agents(redis, record.engine, settings.token_ttl, settings.login_lockout, units=units)


async def run(settings: Settings, args: argparse.Namespace, by: str) -> int:
    verb = args.agents_command
    by = getattr(args, "by", None) or by
    async with open_accounts(settings) as accounts:
        if verb == "list":
            for agent in await accounts.list():
                print(_line(agent))
            return 0
        if verb == "events":
            for event in await accounts.changes(args.name):
                print(json.dumps(event, ensure_ascii=False))
            return 0
        if verb == "add":
            agent = await accounts.add(args.name, _read_password(), args.role, _languages(args.languages), by=by,
                                       unit=args.unit)
            print(f"agent {_line(agent)} created")
            return 0
        changes: dict[str, object] = {}
        if verb == "set":
            changes = {"role": args.role, "languages": _languages(args.languages) if args.languages else None,
                       "unit": args.unit}
        elif verb in ("disable", "enable"):
            changes = {"disabled": verb == "disable"}
        elif verb == "reset":
            changes = {"password": _read_password()}
        agent = await accounts.change(args.name, by, **changes)  # type: ignore[arg-type]
        print(f"agent {_line(agent)} saved")
        return 0


async def ensure(settings: Settings, name: str, password: str, role: str) -> None:
    """The account, created if it is missing (an existing one is left as it is)."""
    async with open_accounts(settings) as accounts:
        if await accounts.get(name) is None:
            await accounts.add(name, password, role, by="setup")


def _line(agent: Agent) -> str:
    state = "; disabled" if agent.disabled else ""
    unit = "" if agent.unit == "hq" else f"; {agent.unit}"
    return f"{agent.name} ({agent.role}; {', '.join(agent.languages)}{unit}{state})"


def _languages(text: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in text.split(",") if part.strip())


def _read_password() -> str:
    return sys.stdin.readline().rstrip("\n")

"""The ``complaint-gateway`` command: up, serve, train, agents (gateway/accounts_cli.py), and the record's
migrate, rebuild-queue, purge, report, register and export."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import logging
import secrets
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from urllib.parse import urlsplit

from aiohttp import web
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from gateway import accounts_cli, hardening, privacy, supervisor
from gateway.app import create_app
from gateway.auth import AccountError, Agents
from gateway.channel_list import assistant_names, declared, names
from gateway.embedded_redis import EmbeddedRedis
from gateway.router import link_open_case
from gateway.settings import Settings, SettingsError
from gateway.store import open_redis
from handoff.cases import CaseNotFound, CaseStore
from handoff.org import load_org
from handoff.queue import AgentQueue
from handoff.sla import SlaPolicy
from records.export import export_case
from records.record import CaseRecord, PurgeSummary, UnsupportedDatabase, migrate
from records.recovery import purge_expired, rebuild_working_state, years_before
from records.reports.analysis import PeriodError, parse_period, period_of, unit_names
from records.reports.output import write_report
from records.reports.register import REGISTER_FORMATS, RegisterError, month_register, record_run, units_to_file
from records.reports.register_formats import month_filename, render_month

DEMO_AGENT = "demo"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="complaint-gateway", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("up", help="run the whole system locally: Redis, Rasa, action server, gateway")
    commands.add_parser("serve", help="run the gateway alone (Redis from REDIS_URL, Rasa from RASA_URL)")
    train = commands.add_parser("train", help="train the bot model if bot/ changed")
    train.add_argument("--force", action="store_true", help="train even if the model is up to date")
    accounts_cli.add_parser(commands)
    _add_record_commands(commands)
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
            web.run_app(create_app(settings), host=settings.host, port=settings.port, print=None,
                        **hardening.server_options())
            return 0
        if args.command == "train":
            supervisor.ensure_model(force=args.force)
            return 0
        if args.command in RECORD_COMMANDS:
            return asyncio.run(run_record_command(settings, args))
        return asyncio.run(accounts_cli.run(settings, args, by=_os_user()))
    except (supervisor.SupervisorError, AccountError, UnsupportedDatabase, CaseNotFound) as exc:
        print(f"complaint-gateway: {exc}", file=sys.stderr)
        return 1
    except (SQLAlchemyError, OSError) as exc:
        where = _shown_url(settings.record_url)
        print(f"complaint-gateway: the record at {where} failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1


RECORD_COMMANDS = ("migrate", "rebuild-queue", "purge", "report", "register", "export")


def _add_record_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    commands.add_parser("migrate", help="bring the record's tables (DATABASE_URL) to the latest revision")
    commands.add_parser("rebuild-queue", help="rebuild Redis's cases, queue and claims from the record "
                                              "(after Redis was lost); safe to run again")
    purge = commands.add_parser("purge", help="delete closed cases past the retention period from the record "
                                              "and Redis, and record the purge")
    purge.add_argument("--older-than-years", type=int, metavar="N",
                       help="purge closed cases created more than N years ago (default RETENTION_YEARS)")
    purge.add_argument("--dry-run", action="store_true", help="say what would be purged; delete nothing")
    purge.add_argument("--by", help="who purges, for the purge's record (default: the operating system user)")
    report = commands.add_parser("report", help="complaint analysis for a quarter, a month or a range of days")
    report.add_argument("--quarter", help="e.g. 2026Q4")
    report.add_argument("--month", help="e.g. 2026-11")
    report.add_argument("--from", dest="start", metavar="DATE", help="first day of a range (with --to)")
    report.add_argument("--to", dest="end", metavar="DATE", help="last day of a range")
    report.add_argument("--format", choices=("html", "csv", "pdf"), default="html")
    report.add_argument("--out", default=".", help="a file, or a folder to write complaints-<period>.<format> in")
    register = commands.add_parser("register", help="a unit's monthly register of complaints (记录表), for head "
                                                     "office; recorded as produced")
    register.add_argument("--month", required=True, help="e.g. 2026-11 (days in the desk's time zone)")
    register.add_argument("--unit", help="a unit of ORG_FILE (default: every unit that files one that month)")
    register.add_argument("--format", choices=REGISTER_FORMATS, default="pdf")
    register.add_argument("--out", default=".", help="a folder to write register-<unit>-<month>.<format> in, or "
                                                     "the file to write (with --unit)")
    register.add_argument("--by", help="who produces it, for the record (default: the operating system user)")
    export = commands.add_parser("export", help="one case as a self-contained file, for a regulator's request")
    export.add_argument("case_id")
    export.add_argument("--format", choices=("json", "html"), default="json")
    export.add_argument("--out", help="the file to write (default: <case id>.<format>)")


async def run_record_command(settings: Settings, args: argparse.Namespace) -> int:
    if args.command == "migrate":
        revision = await migrate(settings.record_url)
        print(f"the record at {_shown_url(settings.record_url)} is at revision {revision}")
        return 0
    if args.command == "rebuild-queue":
        counts = await rebuild_queue(settings)
        print(f"{counts['cases']} cases in the record: {counts['restored']} restored to Redis, "
              f"{counts['requeued']} put back in the queue, {counts['claims']} claims watched again, "
              f"{counts['conversations']} conversations linked to their open case; "
              f"{counts['accounts']} handlers' accounts restored (sessions are not: handlers log in again)")
        return 0
    if args.command == "report":
        return await write_report_command(settings, args)
    if args.command == "register":
        return await write_register_command(settings, args)
    if args.command == "export":
        out = Path(args.out or f"{args.case_id}.{args.format}")
        async with CaseRecord(settings.record_url) as record:
            content = await export_case(record.engine, args.case_id, args.format, by=_os_user(),
                                        channels=names(declared()))
        await asyncio.to_thread(out.write_bytes, content)
        print(f"case {args.case_id} written to {out}")
        return 0
    years = settings.retention_years if args.older_than_years is None else args.older_than_years
    summary = await purge_record(settings, years, args.by or _os_user(), args.dry_run)
    print(_purge_report(summary))
    return 0


async def write_report_command(settings: Settings, args: argparse.Namespace) -> int:
    try:
        period = parse_period(args.quarter, args.month, args.start, args.end)
    except PeriodError as exc:
        print(f"complaint-gateway report: {exc}", file=sys.stderr)
        return 2
    await migrate(settings.record_url)
    zone = SlaPolicy.preset(settings.sla_policy).timezone  # quarters begin at the desk's midnight, as in the API
    written = await write_report(settings.record_url, period, args.format, Path(args.out),
                                 progress=lambda step: print(step, file=sys.stderr), zone=zone,
                                 target=settings.satisfaction_target,
                                 unit_names=unit_names(load_org(settings.org_file)),
                                 channel_names=names(declared()))
    print(f"report written to {written}")
    return 0


async def write_register_command(settings: Settings, args: argparse.Namespace) -> int:
    """Write a unit's month (or every unit's that files one) and record each as produced."""
    org = load_org(settings.org_file)
    try:
        month = period_of(args.month)
        if not month.is_month:
            raise PeriodError("a register is of one month, such as 2026-11")
        if args.unit is not None and args.unit not in org:
            raise RegisterError(f"no unit {args.unit!r} (ORG_FILE lists the units)")
    except (PeriodError, RegisterError) as exc:
        print(f"complaint-gateway register: {exc}", file=sys.stderr)
        return 2
    zone = SlaPolicy.preset(settings.sla_policy).timezone
    out, by = Path(args.out), args.by or _os_user()
    into_folder = not args.unit or not out.suffix or await asyncio.to_thread(out.is_dir)
    async with CaseRecord(settings.record_url) as record:
        units = [args.unit] if args.unit else await units_to_file(record.engine, org, month, zone)
        for unit in units:
            register = await month_register(record.engine, org, unit, month, zone, assistant_names(declared()))
            content = await asyncio.to_thread(render_month, register, args.format)
            name = month_filename(register, args.format)
            target = out / name if into_folder else out
            await asyncio.to_thread(_write, target, content)
            await record_run(record.engine, register, args.format, by)
            print(f"register of {unit} for {month.label} ({len(register.entries)} cases) written to {target}")
    return 0


def _write(target: Path, content: bytes) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(content)


async def rebuild_queue(settings: Settings) -> dict[str, int]:
    async with CaseRecord(settings.record_url) as record, open_redis(settings) as redis:
        cases = CaseStore(redis)
        units = tuple(load_org(settings.org_file).units)
        queue = AgentQueue(redis, cases, claim_timeout=settings.claim_timeout, units=units)
        counts = await rebuild_working_state(record, cases, queue, partial(link_open_case, redis))
        accounts = Agents(redis, record.engine, settings.token_ttl, settings.login_lockout, units=units)
        return {**counts, **await accounts.restore_working_copies()}


async def purge_record(settings: Settings, years: int, by: str, dry_run: bool) -> PurgeSummary:
    cutoff = years_before(datetime.now(UTC), years)
    async with CaseRecord(settings.record_url) as record, open_redis(settings) as redis:
        return await purge_expired(record, CaseStore(redis), before=cutoff, by=by, dry_run=dry_run)


def _purge_report(summary: PurgeSummary) -> str:
    verb = "would purge" if summary.dry_run else "purged"
    lines = [f"{verb} {summary.cases} closed cases created before {summary.cutoff:%Y-%m-%d %H:%M} UTC "
             f"({summary.messages} messages, {summary.events} events)"
             + ("" if summary.dry_run else f"; recorded as done by {summary.by}")]
    lines += [f"  {case_id}" for case_id in summary.case_ids]
    return "\n".join(lines)


def _shown_url(url: str) -> str:
    """The database URL without its password, for messages."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except SQLAlchemyError:
        return "DATABASE_URL (not a database URL)"


def _os_user() -> str:
    try:
        return getpass.getuser()
    except OSError:  # no user name in the environment nor the password database (some containers)
        return "unknown"


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
        asyncio.run(accounts_cli.ensure(settings, DEMO_AGENT, password, "supervisor"))
        # run_app calls `print` once its sites listen: the banner never promises a closed port.
        web.run_app(create_app(settings), host=settings.host, port=settings.port,
                    print=lambda _started: _banner(settings, password), **hardening.server_options())
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

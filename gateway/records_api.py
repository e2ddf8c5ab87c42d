"""The record's API and console page, for supervisors and admins: search, reports, registers, a case's export.

Routes (``routes()``), all read-only and all for the supervisor and admin roles (401 without a session, 403 for
an agent):

- ``GET /api/records/search``: cases matching the filters, newest first, a page at a time;
- ``GET /api/records/report?period=``: the report for a quarter (``2026Q4``), a month (``2026-11``) or a range of
  days (``2026-10-01..2026-10-15``), as JSON (``charts=true`` adds the charts as base64 PNG), HTML, CSV or PDF;
- ``GET /api/records/cases/{case_id}/export``: one case as a JSON or HTML file (an attachment);
- ``GET /api/cases/{case_id}/register``: one case's register entry (记录表), as JSON, HTML or PDF;
- ``GET /api/records/register?unit=&month=``: a unit's month of register entries, as JSON (to read), or as an
  HTML, CSV or PDF file (to file with head office: producing one is recorded, by whom and when);
- ``GET /api/records/register-status?month=``: for each unit that files a register that month, when it is due
  and when it was produced;
- ``GET /records``: the console page (``records_static/``), which uses the ones above.

Registers are the receiving unit's: a supervisor reads those of their unit and the units below it (head office
all of them), and the log says who produced which, never what it holds.

Days (a search's from/to, a report's periods) are days in the desk's time zone, the SLA policy's. The database
is the app's ``RECORD_ENGINE``. Bad parameters get 400 with ``{"error": ...}``, an unknown case 404.
"""

from __future__ import annotations

import asyncio
import base64
import logging
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, cast

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway import channel_list, keys
from gateway.api import current_agent, error
from gateway.auth import Agent
from gateway.records_openapi import OPENAPI_PATHS as OPENAPI_PATHS  # the path items of routes(), for the SPEC
from gateway.records_openapi import REGISTER_ENTRY_FORMATS
from handoff.cases import CaseNotFound
from handoff.sla import SlaPolicy
from records.export import EXPORT_FORMATS, export_case
from records.reports import analysis, output
from records.reports import register as registers
from records.reports.register_formats import entry_html, entry_pdf, month_filename, render_month
from records.search import SearchError, SearchQuery, search

log = logging.getLogger(__name__)

RECORD_ENGINE = web.AppKey("record_engine", AsyncEngine)
STATIC_DIR = Path(__file__).with_name("records_static")
ROLES = ("supervisor", "admin")
CONTENT_TYPES = {"html": "text/html", "csv": "text/csv", "pdf": "application/pdf", "json": "application/json"}
# Files from the record hold customers' words: never run anything, never load anything, whatever they say.
FILE_HEADERS = {"Content-Security-Policy": "default-src 'none'; img-src data:; style-src 'unsafe-inline'",
                "X-Content-Type-Options": "nosniff"}


def routes() -> list[web.AbstractRouteDef]:
    return [
        web.get("/api/records/search", search_records),
        web.get("/api/records/report", report),
        web.get("/api/records/cases/{case_id:C-[^/]+}/export", export),
        web.get("/api/cases/{case_id:C-[^/]+}/register", case_register),
        web.get("/api/records/register", unit_register),
        web.get("/api/records/register-status", register_status),
        web.get("/records", console),
        web.static("/records/static", STATIC_DIR),
    ]


def desk_policy(request: web.Request) -> SlaPolicy:
    return SlaPolicy.preset(request.app[keys.SETTINGS].sla_policy)


def desk_zone(request: web.Request) -> str:
    return desk_policy(request).timezone


# --- search ----------------------------------------------------------------------------------------------


def _values(request: web.Request, name: str) -> tuple[str, ...]:
    """``?status=queued&status=claimed`` and ``?status=queued,claimed`` alike."""
    return tuple(part.strip() for raw in request.query.getall(name, []) for part in raw.split(",") if part.strip())


def _day(request: web.Request, name: str) -> date | None:
    raw = request.query.get(name, "").strip()
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise SearchError(f"{name} must be a day like 2026-10-01") from None


def _number(request: web.Request, name: str, default: int) -> int:
    raw = request.query.get(name, "").strip()
    if not raw:
        return default
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 9):
        raise SearchError(f"{name} must be a whole number, such as 1 or 20")
    return int(raw)


def search_query(request: web.Request) -> SearchQuery:
    """The request's filters; SearchError names the first one that is wrong."""
    query = request.query
    return SearchQuery(
        text=query.get("q", ""), contact=query.get("contact", ""), account=query.get("account", ""),
        case_id=query.get("case_id", ""), products=_values(request, "product"),
        channels=_values(request, "channel"), statuses=_values(request, "status"), risks=_values(request, "risk"),
        created_from=_day(request, "from"), created_to=_day(request, "to"), zone=desk_zone(request),
        page=_number(request, "page", 1), page_size=_number(request, "page_size", 20),
    )


async def search_records(request: web.Request) -> web.Response:
    await current_agent(request, *ROLES)
    try:
        query = search_query(request)
    except SearchError as exc:
        return error(400, str(exc))
    page = await search(request.app[RECORD_ENGINE], query)
    return web.json_response({**page.to_dict(), "zone": query.zone})


# --- reports ---------------------------------------------------------------------------------------------


async def report(request: web.Request) -> web.Response:
    await current_agent(request, *ROLES)
    fmt = request.query.get("format", "json")
    if fmt not in analysis.FORMATS:
        return error(400, f"format must be one of {', '.join(analysis.FORMATS)}")
    asked = request.query.get("period", "").strip()
    if not asked:
        return error(400, "period is required: a quarter (2026Q4), a month (2026-11) or days (2026-10-01..2026-10-15)")
    try:
        period = analysis.period_of(asked)
    except analysis.PeriodError as exc:
        return error(400, str(exc))
    built = await analysis.build_report(request.app[RECORD_ENGINE], period, zone=desk_zone(request),
                                        target=request.app[keys.SETTINGS].satisfaction_target,
                                        unit_names=analysis.unit_names(request.app[keys.ORG]),
                                        channel_names=channel_list.names(request.app[channel_list.KNOWN]))
    if fmt == "json":
        return web.json_response(await _report_json(built, request.query.get("charts") in ("1", "true")))
    content = await output.render_async(built, cast(analysis.Format, fmt))
    name = output.default_filename(built, cast(analysis.Format, fmt))
    inline = "inline" if fmt == "html" else "attachment"  # the HTML report opens in a tab; the others save
    return _file(content, fmt, f'{inline}; filename="{name}"')


async def _report_json(built: analysis.Report, charts: bool) -> dict[str, Any]:
    data = built.to_dict()
    if charts:
        from records.reports.charts import png_charts

        pngs = await asyncio.to_thread(png_charts, built)
        data["charts"] = {name: base64.b64encode(png).decode() for name, png in pngs.items()}
    return data


def _file(content: bytes, fmt: str, disposition: str) -> web.Response:
    response = web.Response(body=content, content_type=CONTENT_TYPES[fmt], headers=FILE_HEADERS)
    if fmt != "pdf":
        response.charset = "utf-8"
    response.headers["Content-Disposition"] = disposition
    return response


# --- export ----------------------------------------------------------------------------------------------


async def export(request: web.Request) -> web.Response:
    agent = await current_agent(request, *ROLES)
    fmt = request.query.get("format", "json")
    if fmt not in EXPORT_FORMATS:
        return error(400, f"format must be one of {', '.join(EXPORT_FORMATS)}")
    case_id = request.match_info["case_id"]
    try:
        content = await export_case(request.app[RECORD_ENGINE], case_id, fmt, by=agent.name,
                                    channels=channel_list.names(request.app[channel_list.KNOWN]))
    except CaseNotFound as exc:
        return error(404, str(exc))
    log.info("case %s exported as %s by %s", case_id, fmt, agent.name)
    return _file(content, fmt, f'attachment; filename="{case_id}.{fmt}"')


# --- the register ----------------------------------------------------------------------------------------


def _assistants(request: web.Request) -> dict[str, tuple[str, str]]:
    return channel_list.assistant_names(request.app[channel_list.KNOWN])


def _reads_unit(request: web.Request, agent: Agent, unit: str) -> bool:
    return unit in request.app[keys.ORG].below(agent.unit)


async def case_register(request: web.Request) -> web.Response:
    """One case's register entry: JSON (the fields by their Chinese names), HTML or PDF."""
    agent = await current_agent(request, *ROLES)
    fmt = request.query.get("format", "json")
    if fmt not in REGISTER_ENTRY_FORMATS:
        return error(400, f"format must be one of {', '.join(REGISTER_ENTRY_FORMATS)}")
    case_id = request.match_info["case_id"]
    try:
        item = await registers.case_entry(request.app[RECORD_ENGINE], case_id, request.app[keys.ORG],
                                          desk_zone(request), _assistants(request))
    except CaseNotFound as exc:
        return error(404, str(exc))
    if not _reads_unit(request, agent, item.unit):
        return error(403, f"case {case_id} was received by {item.unit}, outside {agent.unit}")
    log.info("register entry of case %s as %s by %s", case_id, fmt, agent.name)
    if fmt == "json":
        return web.json_response(item.to_dict())
    if fmt == "html":
        return _file(entry_html(item).encode(), fmt, f'inline; filename="register-{case_id}.html"')
    content = await asyncio.to_thread(entry_pdf, item)
    return _file(content, fmt, f'attachment; filename="register-{case_id}.pdf"')


def _month(request: web.Request) -> analysis.Period:
    asked = request.query.get("month", "").strip()
    if not asked:
        raise analysis.PeriodError("month is required, such as 2026-11")
    period = analysis.period_of(asked)
    if not period.is_month:
        raise analysis.PeriodError("a register is of one month, such as 2026-11")
    return period


async def unit_register(request: web.Request) -> web.Response:
    """A unit's month: JSON to read it, or a file (HTML, CSV, PDF) to file it, which is recorded as produced."""
    agent = await current_agent(request, *ROLES)
    fmt = request.query.get("format", "json")
    if fmt not in ("json", *registers.REGISTER_FORMATS):
        return error(400, f"format must be json or one of {', '.join(registers.REGISTER_FORMATS)}")
    try:
        month = _month(request)
    except analysis.PeriodError as exc:
        return error(400, str(exc))
    unit = request.query.get("unit", "").strip() or agent.unit
    org = request.app[keys.ORG]
    if unit not in org:
        return error(404, f"no unit {unit!r} (GET /api/units lists them)")
    if not _reads_unit(request, agent, unit):
        return error(403, f"{unit} is outside {agent.unit}")
    engine = request.app[RECORD_ENGINE]
    register = await registers.month_register(engine, org, unit, month, desk_zone(request), _assistants(request))
    if fmt == "json":
        return web.json_response({**register.to_dict(), "runs": [
            run for run in await registers.runs(engine, month.label) if run["unit"] == unit]})
    content = await asyncio.to_thread(render_month, register, fmt)
    await registers.record_run(engine, register, fmt, agent.name)
    inline = "inline" if fmt == "html" else "attachment"
    return _file(content, fmt, f'{inline}; filename="{month_filename(register, fmt)}"')


async def register_status(request: web.Request) -> web.Response:
    """Which units file a register for the month (by default last month), when it is due, and when it was
    produced; the reader's units only."""
    agent = await current_agent(request, *ROLES)
    policy = desk_policy(request)
    try:
        month = _month(request) if request.query.get("month") else registers.previous_month(
            datetime.now(UTC), policy.timezone)
    except analysis.PeriodError as exc:
        return error(400, str(exc))
    engine, org = request.app[RECORD_ENGINE], request.app[keys.ORG]
    produced = await registers.runs(engine, month.label)
    due = registers.register_due(month, policy)
    units = [unit for unit in await registers.units_to_file(engine, org, month, policy.timezone)
             if _reads_unit(request, agent, unit)]
    return web.json_response({"month": month.label, "due_by": due.isoformat(), "units": [
        {"id": unit, "name": {"zh": org.units[unit].name_zh, "en": org.units[unit].name_en},
         "produced": [run for run in produced if run["unit"] == unit]} for unit in units]})


async def console(request: web.Request) -> web.FileResponse:
    return web.FileResponse(STATIC_DIR / "records.html")

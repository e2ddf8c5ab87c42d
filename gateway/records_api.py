"""The record's API and console page, for supervisors and admins: search, reports, a case's export.

Routes (``routes()``), all read-only and all for the supervisor and admin roles (401 without a session, 403 for
an agent):

- ``GET /api/records/search``: cases matching the filters, newest first, a page at a time;
- ``GET /api/records/report?period=``: the report for a quarter (``2026Q4``), a month (``2026-11``) or a range of
  days (``2026-10-01..2026-10-15``), as JSON (``charts=true`` adds the charts as base64 PNG), HTML, CSV or PDF;
- ``GET /api/records/cases/{case_id}/export``: one case as a JSON or HTML file (an attachment);
- ``GET /records``: the console page (``records_static/``), which uses the three above.

Days (a search's from/to, a report's periods) are days in the desk's time zone, the SLA policy's. The database
is the app's ``RECORD_ENGINE``. Bad parameters get 400 with ``{"error": ...}``, an unknown case 404.
"""

from __future__ import annotations

import asyncio
import base64
import logging
from datetime import date
from pathlib import Path
from typing import Any, cast

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway import keys
from gateway.api import current_agent, error
from gateway.records_openapi import OPENAPI_PATHS as OPENAPI_PATHS  # the path items of routes(), for the SPEC
from handoff import reports
from handoff.cases import CaseNotFound
from handoff.export import EXPORT_FORMATS, export_case
from handoff.search import SearchError, SearchQuery, search
from handoff.sla import SlaPolicy

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
        web.get("/records", console),
        web.static("/records/static", STATIC_DIR),
    ]


def desk_zone(request: web.Request) -> str:
    return SlaPolicy.preset(request.app[keys.SETTINGS].sla_policy).timezone


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
    if fmt not in reports.FORMATS:
        return error(400, f"format must be one of {', '.join(reports.FORMATS)}")
    asked = request.query.get("period", "").strip()
    if not asked:
        return error(400, "period is required: a quarter (2026Q4), a month (2026-11) or days (2026-10-01..2026-10-15)")
    try:
        period = reports.period_of(asked)
    except reports.PeriodError as exc:
        return error(400, str(exc))
    built = await reports.build_report(request.app[RECORD_ENGINE], period, zone=desk_zone(request))
    if fmt == "json":
        return web.json_response(await _report_json(built, request.query.get("charts") in ("1", "true")))
    content = await reports.render_async(built, cast(reports.Format, fmt))
    name = reports.default_filename(built, cast(reports.Format, fmt))
    inline = "inline" if fmt == "html" else "attachment"  # the HTML report opens in a tab; the others save
    return _file(content, fmt, f'{inline}; filename="{name}"')


async def _report_json(built: reports.Report, charts: bool) -> dict[str, Any]:
    data = built.to_dict()
    if charts:
        from handoff.report_charts import png_charts

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
        content = await export_case(request.app[RECORD_ENGINE], case_id, fmt, by=agent.name)
    except CaseNotFound as exc:
        return error(404, str(exc))
    log.info("case %s exported as %s by %s", case_id, fmt, agent.name)
    return _file(content, fmt, f'attachment; filename="{case_id}.{fmt}"')


async def console(request: web.Request) -> web.FileResponse:
    return web.FileResponse(STATIC_DIR / "records.html")

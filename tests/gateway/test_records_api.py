"""The records API and page on the real app: supervisors search, read reports and registers, and export; nobody
else does."""

from __future__ import annotations

import base64
import dataclasses
import json
import subprocess
from collections.abc import AsyncIterator
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from aiohttp import web
from sqlalchemy.ext.asyncio import create_async_engine

from gateway import keys, records_api
from gateway.app import create_app
from gateway.records_api import RECORD_ENGINE
from gateway.settings import Settings
from records.reports.register import FIELD_NAMES
from records.synthetic import generate_cases
from records.tables import Base
from tests.conftest import PASSWORD, login
from tests.records.record_data import at, case_row, insert_cases, insert_history

CASE_ID = "C-261105-7KQ4"
ROUTES = ("/api/records/search", "/api/records/report?period=2026Q4", f"/api/records/cases/{CASE_ID}/export",
          f"/api/cases/{CASE_ID}/register", "/api/records/register?month=2026-11", "/api/records/register-status")


async def _record_engine(app: web.Application) -> AsyncIterator[None]:
    """The record's engine, where the app does not provide one itself."""
    if RECORD_ENGINE in app:
        yield
        return
    engine = create_async_engine(app[keys.SETTINGS].record_url)
    app[RECORD_ENGINE] = engine
    yield
    await engine.dispose()


def _serves_records(app: web.Application) -> bool:
    return any(getattr(r, "canonical", None) == "/records" for r in app.router.resources())


@pytest.fixture
async def client(aiohttp_client: Any, settings: Settings, record_url: str) -> Any:
    app = create_app(dataclasses.replace(settings, database_url=record_url))
    if not _serves_records(app):
        app.router.add_routes(records_api.routes())
    app.cleanup_ctx.append(_record_engine)
    client = await aiohttp_client(app)
    engine = app[RECORD_ENGINE]
    async with engine.begin() as connection:  # the app may have migrated the database already
        await connection.run_sync(Base.metadata.create_all)
    created = at("2026-11-05T02:00")
    special = case_row(CASE_ID, created, language="zh", customer_name="王芳", phone="+8613912345678",
                       description="融资融券账户被强制平仓", product="margin_trading", risk_grade="high")
    await insert_cases(engine, [*generate_cases(60, 5, date(2026, 10, 1), date(2026, 11, 1)), special])
    await insert_history(engine, CASE_ID, [
        {"at": "2026-11-05T02:00:00+00:00", "from": "customer", "channel": "webchat", "text": "<b>我要投诉</b>"}],
        [{"at": "2026-11-05T02:00:01+00:00", "actor": "bot", "action": "created", "before": None,
          "after": "queued", "detail": "intake ended"}])
    for name, role in (("sue", "supervisor"), ("adam", "admin"), ("ann", "agent")):
        await app[keys.AGENTS].add(name, PASSWORD, role)
    return client


async def test_without_a_session_every_route_gets_401(client: Any) -> None:
    for path in ROUTES:
        response = await client.get(path)
        assert response.status == 401, path
        assert (await response.json())["error"]


async def test_an_agent_gets_403_everywhere(client: Any) -> None:
    auth = await login(client, "ann")
    for path in ROUTES:
        response = await client.get(path, headers=auth)
        assert response.status == 403, path
        assert "supervisor" in (await response.json())["error"]


async def test_a_supervisor_searches_and_gets_a_page_of_results(client: Any) -> None:
    auth = await login(client, "sue")
    everything = await (await client.get("/api/records/search?page_size=10", headers=auth)).json()
    assert everything["total"] == 61 and len(everything["items"]) == 10 and everything["pages"] == 7
    assert everything["items"][0]["id"] == CASE_ID and everything["zone"] == "Asia/Shanghai"
    found = await (await client.get("/api/records/search", params={"q": "强制平仓", "contact": "139 1234 5678",
                                                                   "risk": "high,medium", "product": "margin_trading",
                                                                   "from": "2026-11-05", "to": "2026-11-05"},
                                    headers=auth)).json()
    assert [hit["id"] for hit in found["items"]] == [CASE_ID] and found["total"] == 1
    assert found["items"][0]["customer_name"] == "王芳"
    repeated = await (await client.get("/api/records/search?status=queued&status=closed&status=claimed&"
                                       "status=answered", headers=auth)).json()
    assert repeated["total"] == 61


async def test_an_admin_may_search_too_with_the_console_cookie(client: Any) -> None:
    await client.post("/api/login", json={"name": "adam", "password": PASSWORD})  # sets the session cookie
    response = await client.get("/api/records/search?case_id=C-2611")
    assert response.status == 200 and (await response.json())["total"] == 1


BAD_SEARCHES = (
    "page_size=500", "page=0", "page=abc", "page=99999999999", "page=%C2%B2", "status=lost", "risk=extreme",
    "from=yesterday", "from=0001-01-01", "to=9999-12-31", "contact=12", "case_id=X-1", "product=DROP%20TABLE",
    "q=%00", "q=" + "+w" * 11,
)


async def test_bad_search_parameters_get_400(client: Any) -> None:
    auth = await login(client, "sue")
    for query in BAD_SEARCHES:  # one app for them all: starting one per query would be slow
        response = await client.get(f"/api/records/search?{query}", headers=auth)
        assert response.status == 400, query
        assert (await response.json())["error"], query


async def test_the_export_is_an_attachment_that_round_trips(client: Any) -> None:
    auth = await login(client, "sue")
    response = await client.get(f"/api/records/cases/{CASE_ID}/export", headers=auth)
    assert response.status == 200 and response.content_type == "application/json"
    assert response.headers["Content-Disposition"] == f'attachment; filename="{CASE_ID}.json"'
    exported = json.loads(await response.read())
    assert exported["export"]["by"] == "sue" and exported["case"]["id"] == CASE_ID
    assert exported["messages"][0]["text"] == "<b>我要投诉</b>" and exported["events"][0]["action"] == "created"

    page = await client.get(f"/api/records/cases/{CASE_ID}/export?format=html", headers=auth)
    assert page.status == 200 and page.content_type == "text/html" and page.charset == "utf-8"
    assert page.headers["Content-Disposition"] == f'attachment; filename="{CASE_ID}.html"'
    assert "default-src 'none'" in page.headers["Content-Security-Policy"]
    assert "&lt;b&gt;我要投诉&lt;/b&gt;" in await page.text()


async def test_an_unknown_case_is_404_and_an_unknown_format_400(client: Any) -> None:
    auth = await login(client, "sue")
    missing = await client.get("/api/records/cases/C-000000-AAAA/export", headers=auth)
    assert missing.status == 404 and (await missing.json())["error"]
    wrong = await client.get(f"/api/records/cases/{CASE_ID}/export?format=xml", headers=auth)
    assert wrong.status == 400 and "json, html" in (await wrong.json())["error"]


async def test_the_report_comes_as_json_html_csv_and_pdf(client: Any) -> None:
    auth = await login(client, "sue")
    data = await (await client.get("/api/records/report?period=2026Q4", headers=auth)).json()
    assert data["period"] == {"label": "2026Q4", "start": "2026-10-01", "end": "2026-12-31",
                              "zone": "Asia/Shanghai"}
    assert data["total"]["current"] + data["total"]["previous"] == 61 and "charts" not in data
    expected = {"html": ("text/html", b"<!doctype html>"), "csv": ("text/csv", "\ufeff# report".encode()),
                "pdf": ("application/pdf", b"%PDF")}
    for fmt, (content_type, start) in expected.items():
        response = await client.get(f"/api/records/report?period=2026-11&format={fmt}", headers=auth)
        assert response.status == 200 and response.content_type == content_type, fmt
        assert (await response.read()).startswith(start), fmt
        assert 'filename="complaints-2026-11.' in response.headers["Content-Disposition"]


async def test_the_report_json_can_carry_its_charts(client: Any) -> None:
    auth = await login(client, "sue")
    response = await client.get("/api/records/report?period=2026-10-01..2026-11-30&charts=true", headers=auth)
    charts = (await response.json())["charts"]
    assert set(charts) == {"channel", "product", "risk", "nature", "handling", "satisfaction"}
    assert all(base64.b64decode(png).startswith(b"\x89PNG") for png in charts.values())


BAD_REPORTS = (
    "", "period=", "quarter=2026Q4", "period=2026Q9", "period=2026-1", "period=2026-10-01",
    "period=2026-10-01..", "period=2026Q4&format=docx", "period=1900-01-01..1900-02-01", "period=9999Q4",
    "period=2026-02-30..2026-03-01",
)


async def test_bad_report_parameters_get_400(client: Any) -> None:
    auth = await login(client, "sue")
    for query in BAD_REPORTS:
        response = await client.get(f"/api/records/report?{query}", headers=auth)
        assert response.status == 400, query
        assert (await response.json())["error"], query


async def test_the_records_page_and_its_files_are_served(client: Any) -> None:
    page = await client.get("/records")
    assert page.status == 200 and page.content_type == "text/html"
    text = await page.text()
    assert "/records/static/records.js" in text and "/records/static/records.css" in text
    for name in ("records.js", "records.css"):
        assert (await client.get(f"/records/static/{name}")).status == 200
    script = await (await client.get("/records/static/records.js")).text()
    assert "innerHTML" not in script  # everything from the server is shown with textContent


def test_the_openapi_paths_describe_exactly_the_api_routes() -> None:
    served = sorted((route.method.lower(), _path(route)) for route in records_api.routes()
                    if isinstance(route, web.RouteDef) and route.path.startswith("/api/"))
    documented = sorted((method, path) for path, item in records_api.OPENAPI_PATHS.items() for method in item)
    assert documented == served


def _path(route: web.RouteDef) -> str:
    return route.path.replace("{case_id:C-[^/]+}", "{case_id}")


# --- the register ----------------------------------------------------------------------------------------


@pytest.fixture
async def approving(aiohttp_client: Any, settings: Settings, record_url: str) -> Any:
    """The real app with every plan waiting for a supervisor's approval, and its handlers."""
    app = create_app(dataclasses.replace(settings, database_url=record_url, approval_policy="all"))
    client = await aiohttp_client(app)
    for name, role in (("sue", "supervisor"), ("ann", "agent")):
        await app[keys.AGENTS].add(name, PASSWORD, role)
    return client


async def handled_case(client: Any) -> str:
    """A walk-in registered by a handler, investigated, its plan approved by a supervisor: all through the API."""
    ann, sue = await login(client, "ann"), await login(client, "sue")
    registered = await client.post("/api/cases", headers=ann, json={
        "channel": "in_person", "language": "zh", "unit": "hq", "preliminary_opinion": "先核实短信记录",
        "customer": {"name": "张伟", "phone": "13912345678"},
        "complaint": {"description": "融资融券账户被强制平仓，没有收到追加保证金通知", "product": "margin_trading",
                      "place": "营业部柜台", "people_involved": "客户经理小王", "desired_resolution": "赔偿损失"}})
    assert registered.status == 201, await registered.text()
    case_id = (await registered.json())["id"]
    steps = [(ann, "claim", {}), (ann, "findings", {"text": "追保短信未发出"}),
             (ann, "propose", {"answer": "向您致歉，补偿部分损失", "outcome": "upheld", "measures": "修复短信通道",
                               "compensation": {"amount": 300, "currency": "CNY"},
                               "responsible": {"staff": "小王", "action": "培训"}}),
             (sue, "approve", {})]
    for auth, step, body in steps:
        response = await client.post(f"/api/cases/{case_id}/{step}", headers=auth, json=body)
        assert response.status == 200, (step, await response.text())
    return case_id


def pdf_text(path: Path) -> str:
    return subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True, check=True, timeout=60).stdout


async def test_a_case_s_register_entry_comes_as_json_html_and_pdf_with_the_register_s_fields(
    approving: Any, tmp_path: Path
) -> None:
    case_id = await handled_case(approving)
    sue = await login(approving, "sue")
    entry = await (await approving.get(f"/api/cases/{case_id}/register", headers=sue)).json()
    assert list(entry["fields"]) == list(FIELD_NAMES) and entry["case_id"] == case_id
    fields = entry["fields"]
    assert (fields["受理人"], fields["受理单位"], fields["投诉人"], fields["联系方式"]) == ("ann", "总部", "张伟",
                                                                                          "+8613912345678")
    assert fields["调查核实情况"].endswith("ann：追保短信未发出") and fields["赔偿"] == "CNY 300.00"
    assert fields["处理意见"] == "向您致歉，补偿部分损失（处理结果：成立）" and fields["审批"].endswith("sue 审批同意")
    assert fields["答复日期"] == fields["受理日期"] and fields["回访情况"] is None

    page = await approving.get(f"/api/cases/{case_id}/register?format=html", headers=sue)
    assert page.status == 200 and page.content_type == "text/html"
    html = await page.text()
    assert "受理日期<br><span class=en>Date received</span>" in html and "default-src 'none'" in page.headers[
        "Content-Security-Policy"]
    pdf = await approving.get(f"/api/cases/{case_id}/register?format=pdf", headers=sue)
    assert pdf.status == 200 and pdf.content_type == "application/pdf"
    path = tmp_path / "entry.pdf"
    path.write_bytes(await pdf.read())
    text = pdf_text(path)
    assert all(name in text for name in FIELD_NAMES) and "修复短信通道" in text and entry["sha256"] in text

    ann = await login(approving, "ann")
    assert (await approving.get(f"/api/cases/{case_id}/register", headers=ann)).status == 403
    assert (await approving.get(f"/api/cases/{case_id}/register?format=doc", headers=sue)).status == 400
    assert (await approving.get("/api/cases/C-000000-AAAA/register", headers=sue)).status == 404


async def test_a_unit_s_month_is_read_and_filed_and_filing_is_recorded(approving: Any) -> None:
    case_id = await handled_case(approving)
    sue = await login(approving, "sue")
    month = datetime.now(ZoneInfo("Asia/Shanghai")).strftime("%Y-%m")
    read = await (await approving.get(f"/api/records/register?month={month}", headers=sue)).json()
    assert [e["case_id"] for e in read["entries"]] == [case_id] and read["unit"]["id"] == "hq" and read["runs"] == []
    filed = await approving.get(f"/api/records/register?month={month}&unit=hq&format=csv", headers=sue)
    assert filed.status == 200 and filed.content_type == "text/csv"
    assert filed.headers["Content-Disposition"] == f'attachment; filename="register-hq-{month}.csv"'
    assert case_id in (await filed.read()).decode("utf-8-sig")
    status = await (await approving.get(f"/api/records/register-status?month={month}", headers=sue)).json()
    assert [(u["id"], [(r["format"], r["by"], r["cases"]) for r in u["produced"]]) for u in status["units"]] == [
        ("hq", [("csv", "sue", 1)])]
    for query, code in (("", 400), ("month=2026-13", 400), ("month=2026Q4", 400), (f"month={month}&format=doc", 400),
                        (f"month={month}&unit=nowhere", 404)):
        response = await approving.get(f"/api/records/register?{query}", headers=sue)
        assert response.status == code, query

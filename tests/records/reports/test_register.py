"""The register (记录表): one case's entry with exactly the register's fields, a unit's month in HTML, CSV and PDF
(the PDF's text read back with pdftotext), and head office alerted once when a unit's month was not produced by
the third trading day, counted across a make-up working day."""

from __future__ import annotations

import csv
import io
import os
import shutil
import subprocess
import sys
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
import pytest
from aiohttp import web
from redis.asyncio import Redis

from gateway.alerts import SupervisorAlerts
from gateway.channel_list import assistant_names, declared
from gateway.events import DeskEvents
from gateway.settings import Settings
from handoff.cases import Case, CaseStore
from handoff.lifecycle import Role
from handoff.org import Org, load_org
from handoff.queue import AgentQueue
from handoff.sla import SlaPolicy
from records.export import export_case
from records.record import CaseRecord
from records.reports.analysis import period_of
from records.reports.register import (
    FIELD_NAMES,
    case_entry,
    check_registers,
    is_trading_day,
    month_register,
    record_run,
    register_due,
    runs,
)
from records.reports.register_formats import entry_html, entry_pdf, month_csv, month_html, month_pdf
from tests.conftest import UNIT_DB, with_db
from tests.support.org_files import HEAD_OFFICE, PUDONG, Unit, org_toml

SHANGHAI = ZoneInfo("Asia/Shanghai")
ORG = org_toml(HEAD_OFFICE, PUDONG, Unit("margin-desk", "融资融券部", "Margin desk", "department"))


@pytest.fixture
def org(tmp_path: Path) -> Org:
    path = tmp_path / "org.toml"
    path.write_text(ORG, encoding="utf-8")
    return load_org(path)


@pytest.fixture
async def record(record_url: str) -> AsyncIterator[CaseRecord]:
    async with CaseRecord(record_url) as opened:
        yield opened


@pytest.fixture
async def desk(redis: Redis, record: CaseRecord) -> tuple[CaseStore, AgentQueue]:
    cases = CaseStore(redis, record=record)
    queue = AgentQueue(redis, cases, claim_timeout=60, units=("hq", "sh-pudong", "margin-desk"))
    await queue.ensure_group()
    return cases, queue


def pdf_text(pdf: bytes, tmp_path: Path) -> str:
    """The PDF's text as poppler's pdftotext reads it (CI installs poppler-utils)."""
    if shutil.which("pdftotext") is None:
        pytest.fail("pdftotext is missing (apt-get install poppler-utils)")
    path = tmp_path / "read.pdf"
    path.write_bytes(pdf)
    done = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True,
                          timeout=60)
    return done.stdout


def pages(pdf: bytes, tmp_path: Path) -> int:
    path = tmp_path / "count.pdf"
    path.write_bytes(pdf)
    info = subprocess.run(["pdfinfo", str(path)], capture_output=True, text=True, check=True, timeout=60).stdout
    return int(next(line.split()[-1] for line in info.splitlines() if line.startswith("Pages:")))


def setter(**fields: Any) -> Any:
    def mutate(case: Case) -> str:
        case.update(fields)
        return ", ".join(fields)

    return mutate


async def registered(cases: CaseStore, queue: AgentQueue, received: datetime, *, unit: str = "sh-pudong",
                     name: str = "张伟", by: str | None = "li.na", channel: str = "in_person") -> Case:
    case = await cases.create(
        channel=channel, conversation_id=f"{channel}:{received.timestamp()}:{name}", language="zh",
        customer={"name": name, "phone": "+8613912345678", "email": "zhangwei@example.cn"},
        complaint={"product": "margin_trading", "incident_time": "2026-10-31T09:35:00+08:00",
                   "incident_time_text": "上周五上午九点半", "place": "浦东营业部柜台",
                   "people_involved": "客户经理小王",
                   "description": "融资融券账户被强制平仓，事前没有收到追加保证金的通知",
                   "desired_resolution": "赔偿平仓损失"},
        handoff_reason="registered", actor=by or "bot", received_at=received, unit=unit, registered_by=by,
        preliminary_opinion="先调取短信发送记录核实", action="register" if by else "created")
    await queue.enqueue(case["id"])
    return case


async def handled(cases: CaseStore, queue: AgentQueue, case_id: str) -> Case:
    """Investigated, a plan returned once and approved, a return visit, the customer's score."""
    await queue.claim(case_id, "ann")
    await cases.change(case_id, actor="ann", action="findings", role=Role.AGENT, mutate=setter(
        findings=[{"at": "2026-11-03T02:00:00+00:00", "by": "ann", "text": "追保短信因通道故障未发出"}]))
    plan = {"answer": "对给您带来的不便深表歉意，我们将补偿您的部分损失", "outcome": "upheld",
            "measures": "修复短信通道并增加电话提醒", "compensation": {"amount": 1200.5, "currency": "CNY"},
            "responsible": {"staff": "小王", "action": "通报批评并培训"}, "by": "ann",
            "at": "2026-11-03T03:00:00+00:00"}
    await cases.change(case_id, actor="ann", action="propose", role=Role.AGENT,
                       mutate=setter(status="awaiting_approval", proposal=plan, approval=None))
    await cases.change(case_id, actor="sue", action="return", role=Role.SUPERVISOR, mutate=setter(
        status="claimed", approval={"by": "sue", "decision": "returned", "reason": "补偿金额请再核"},
        returned_plans=[{**plan, "returned_by": "sue", "reason": "补偿金额请再核"}]))
    await cases.change(case_id, actor="ann", action="propose", role=Role.AGENT,
                       mutate=setter(status="awaiting_approval", proposal=plan, approval=None))
    await cases.change(case_id, actor="sue", action="approve", role=Role.SUPERVISOR, mutate=setter(
        approval={"by": "sue", "at": "2026-11-04T01:00:00+00:00", "decision": "approved"},
        resolution={"summary": plan["answer"], "outcome": "upheld", "by": "ann", "approved_by": "sue"}))
    await queue.finished(case_id, "ann")
    visit = {"at": "2026-11-07T02:00:00+00:00", "method": "phone", "reached": True, "score": 4,
             "measures_verified": True, "note": "客户表示认可", "by": "ann"}
    await cases.change(case_id, actor="customer", action="satisfaction", role=Role.CUSTOMER, mutate=setter(
        status="closed", return_visits=[visit], satisfaction={"score": 4, "at": visit["at"]}))
    return await cases.get(case_id)


# --- one case's entry ------------------------------------------------------------------------------------


async def test_an_entry_has_exactly_the_register_fields_read_from_the_case(
    desk: tuple[CaseStore, AgentQueue], record: CaseRecord, org: Org, tmp_path: Path
) -> None:
    cases, queue = desk
    case = await registered(cases, queue, datetime(2026, 11, 2, 1, 30, tzinfo=UTC))
    await cases.change(case["id"], actor="ann", action="triage", role=Role.AGENT,
                       mutate=setter(nature="process", department="margin-desk"))
    case = await handled(cases, queue, case["id"])
    item = await case_entry(record.engine, case["id"], org, "Asia/Shanghai")

    assert tuple(item.fields) == FIELD_NAMES and len(FIELD_NAMES) == 22
    fields = item.fields
    assert fields["受理日期"] == "2026-11-02" and fields["受理人"] == "li.na" and fields["受理单位"] == "上海浦东营业部"
    assert fields["投诉人"] == "张伟" and fields["联系方式"] == "+8613912345678；zhangwei@example.cn"
    assert fields["投诉事由"].startswith("融资融券（服务流程）：融资融券账户被强制平仓")  # type: ignore[union-attr]
    assert fields["发生时间"] == "2026-10-31 09:35（客户原话：上周五上午九点半）" and fields["地点"] == "浦东营业部柜台"
    assert fields["涉及部门及人员"] == "融资融券部；客户经理小王"
    assert fields["事情经过"] == "融资融券账户被强制平仓，事前没有收到追加保证金的通知"
    assert fields["客户诉求"] == "赔偿平仓损失"
    assert fields["性质"] == "服务流程" and fields["初步处理意见"] == "先调取短信发送记录核实"
    assert fields["调查核实情况"] == "2026-11-03 10:00 ann：追保短信因通道故障未发出"
    assert fields["处理意见"] == "对给您带来的不便深表歉意，我们将补偿您的部分损失（处理结果：成立）"
    assert fields["整改措施"] == "修复短信通道并增加电话提醒（回访核实：已落实）"
    assert fields["赔偿"] == "CNY 1,200.50" and fields["责任人处理"] == "小王：通报批评并培训"
    approval = (fields["审批"] or "").splitlines()
    assert len(approval) == 2 and approval[0].endswith("sue 退回：补偿金额请再核")
    assert approval[1].endswith("sue 审批同意")
    answered = next(e for e in case["events"] if e["action"] == "approve")["at"]
    assert fields["答复日期"] == datetime.fromisoformat(answered).astimezone(SHANGHAI).date().isoformat()
    assert fields["回访情况"] == ("2026-11-07 10:00，电话回访，已联系上，满意度 4，整改措施已落实，客户表示认可，"
                                "回访人 ann")
    assert fields["客户满意度"] == "4（满意）"

    exported = (await export_case(record.engine, case["id"], "json")).decode()
    assert f'"sha256": "{item.sha256}"' in exported  # the entry names the case as its export does

    html = entry_html(item)
    assert "受理日期<br><span class=en>Date received</span>" in html and "客户满意度" in html
    text = pdf_text(entry_pdf(item), tmp_path)
    for name in FIELD_NAMES:
        assert name in text, name
    for value in ("上海浦东营业部", "张伟", "融资融券部；客户经理小王", "修复短信通道并增加电话提醒", "CNY 1,200.50",
                  "Date received", item.sha256):
        assert value in text, value


async def test_the_receiver_is_the_staff_member_the_online_assistant_or_the_first_claimer(
    desk: tuple[CaseStore, AgentQueue], record: CaseRecord, org: Org
) -> None:
    cases, queue = desk
    when = datetime(2026, 11, 2, 1, 30, tzinfo=UTC)
    by_staff = await registered(cases, queue, when, by="li.na")
    by_bot = await registered(cases, queue, when, by=None, channel="webchat", name="李四")
    by_call = await registered(cases, queue, when, by=None, channel="transcript", name="王五")
    await queue.claim(by_call["id"], "bob")
    assistants = assistant_names(declared())  # as the gateway passes them: transcripts are not among them
    receivers = [(await case_entry(record.engine, c["id"], org, "Asia/Shanghai", assistants)).fields["受理人"]
                 for c in (by_staff, by_bot, by_call)]
    assert receivers == ["li.na", "在线助理（网页在线）", "bob"]
    # Nothing handled yet: the handling fields are empty, never invented.
    fields = (await case_entry(record.engine, by_bot["id"], org, "Asia/Shanghai")).fields
    assert all(fields[name] is None for name in ("调查核实情况", "处理意见", "整改措施", "赔偿", "审批", "答复日期",
                                                 "回访情况", "客户满意度"))


# --- a unit's month --------------------------------------------------------------------------------------


async def test_a_units_month_holds_the_cases_it_received_that_month_in_html_csv_and_pdf(
    desk: tuple[CaseStore, AgentQueue], record: CaseRecord, org: Org, tmp_path: Path
) -> None:
    cases, queue = desk
    # 17:00 UTC on 31 October is 01:00 on 1 November in Shanghai: November's.
    first = await registered(cases, queue, datetime(2026, 10, 31, 17, 0, tzinfo=UTC), name="张伟")
    await handled(cases, queue, first["id"])
    ours = [first] + [await registered(cases, queue, datetime(2026, 11, day, 2, tzinfo=UTC), name=f"客户{day}")
                      for day in range(2, 14)]
    await registered(cases, queue, datetime(2026, 10, 31, 15, 0, tzinfo=UTC), name="十月")  # 23:00 in Shanghai
    await registered(cases, queue, datetime(2026, 11, 5, 2, tzinfo=UTC), unit="hq", name="总部客户")
    await registered(cases, queue, datetime(2026, 12, 1, 2, tzinfo=UTC), name="十二月")

    register = await month_register(record.engine, org, "sh-pudong", "2026-11", "Asia/Shanghai")
    assert [e.case_id for e in register.entries] == [c["id"] for c in ours]
    assert register.to_dict()["unit"]["name"] == {"zh": "上海浦东营业部", "en": "Shanghai Pudong branch"}

    table = list(csv.reader(io.StringIO(month_csv(register).decode("utf-8-sig"))))
    assert table[0] == ["序号", "案件编号", *FIELD_NAMES, "SHA-256"]
    assert [row[1] for row in table[1:]] == [c["id"] for c in ours]
    assert table[1][2:5] == ["2026-11-01", "li.na", "上海浦东营业部"]
    assert table[1][6] == "'+8613912345678；zhangwei@example.cn"  # never read as a formula

    html = month_html(register)
    assert html.count("<table class=entry>") == len(ours) and "十月" not in html and "总部客户" not in html
    pdf = month_pdf(register)
    text = pdf_text(pdf, tmp_path)
    assert "客户投诉记录表" in text and "上海浦东营业部" in text and "客户13" in text and "赔偿平仓损失" in text
    assert all(name in text for name in FIELD_NAMES) and "十二月" not in text
    assert pages(pdf, tmp_path) > 3 and "共" in text  # paginated, each page numbered

    empty = await month_register(record.engine, org, "margin-desk", "2026-11", "Asia/Shanghai")
    assert empty.entries == () and "本月无投诉" in month_html(empty)


# --- filing on time --------------------------------------------------------------------------------------


def test_the_register_is_due_on_the_third_trading_day_make_up_days_not_counted() -> None:
    policy = SlaPolicy()
    # October 2026: the National Day holiday to the 7th, then Thursday 8th, Friday 9th, Saturday 10th (a make-up
    # working day: the exchanges are shut), Monday 12th.
    assert policy.is_working_day(date(2026, 10, 10)) and not is_trading_day(date(2026, 10, 10), policy)
    assert register_due(period_of("2026-09"), policy) == datetime.combine(date(2026, 10, 12), time(18),
                                                                            tzinfo=SHANGHAI)
    # January 2026: Sunday the 4th is a make-up working day; Monday 5th to Wednesday 7th are trading days.
    assert register_due(period_of("2025-12"), policy) == datetime.combine(date(2026, 1, 7), time(18),
                                                                            tzinfo=SHANGHAI)
    assert register_due(period_of("2026-11"), policy) == datetime.combine(date(2026, 12, 3), time(18),
                                                                            tzinfo=SHANGHAI)


@pytest.fixture
async def webhook(aiohttp_server: Any) -> Any:
    received: list[dict[str, Any]] = []

    async def receive(request: web.Request) -> web.Response:
        received.append(await request.json())
        return web.Response(status=204)

    app = web.Application()
    app.router.add_post("/alerts", receive)
    server = await aiohttp_server(app)
    server.received = received
    return server


async def test_head_office_hears_once_of_a_register_not_produced_by_the_third_trading_day(
    desk: tuple[CaseStore, AgentQueue], record: CaseRecord, org: Org, redis: Redis, webhook: Any
) -> None:
    cases, queue = desk
    await registered(cases, queue, datetime(2026, 9, 15, 2, tzinfo=UTC), unit="margin-desk")
    september = await month_register(record.engine, org, "hq", "2026-09", "Asia/Shanghai")
    await record_run(record.engine, september, "pdf", "hq.clerk")
    policy = SlaPolicy()

    def local(day: int, hour: int) -> datetime:
        return datetime(2026, 10, day, hour, tzinfo=SHANGHAI)

    async with aiohttp.ClientSession() as http:
        alerts = SupervisorAlerts(redis, http, DeskEvents(redis), str(webhook.make_url("/alerts")))
        # The make-up Saturday is the third working day but no trading day: nothing is late yet.
        for moment in (local(10, 19), local(11, 12), local(12, 17)):
            assert await check_registers(record.engine, org, policy, alerts, now=moment) == [], moment
        late = await check_registers(record.engine, org, policy, alerts, now=local(12, 18))
        assert late == ["sh-pudong", "margin-desk"]  # the branch must file; the department received a case
        assert await check_registers(record.engine, org, policy, alerts, now=local(13, 9)) == []  # once
        branch = await month_register(record.engine, org, "sh-pudong", "2026-09", "Asia/Shanghai")
        await record_run(record.engine, branch, "csv", "pudong.clerk")
        assert await check_registers(record.engine, org, policy, alerts, now=local(14, 9)) == []
    assert [(a["kind"], a["unit"], a["for_unit"], a["month"]) for a in webhook.received] == [
        ("register_missing", "hq", "sh-pudong", "2026-09"), ("register_missing", "hq", "margin-desk", "2026-09")]
    assert webhook.received[0]["due_by"] == "2026-10-12T18:00:00+08:00" and webhook.received[0]["case_id"] is None
    assert {r["unit"] for r in await runs(record.engine, "2026-09")} == {"hq", "sh-pudong"}


# --- the command ------------------------------------------------------------------------------------------


async def test_the_register_command_writes_a_units_month_and_records_that_it_did(
    desk: tuple[CaseStore, AgentQueue], record: CaseRecord, record_url: str, redis_server: str, settings: Settings,
    tmp_path: Path,
) -> None:
    cases, queue = desk
    case = await registered(cases, queue, datetime(2026, 11, 3, 2, tzinfo=UTC), unit="hq")
    env = {**os.environ, "DATABASE_URL": record_url, "REDIS_URL": with_db(redis_server, UNIT_DB),
           "DATA_DIR": str(settings.data_dir), "LOG_LEVEL": "WARNING"}

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "gateway.cli", "register", *args], env=env,
                              capture_output=True, text=True, timeout=180, check=False)

    done = run("--month", "2026-11", "--unit", "hq", "--format", "csv", "--out", str(tmp_path), "--by", "clerk")
    assert done.returncode == 0, done.stderr
    written = tmp_path / "register-hq-2026-11.csv"
    assert str(written) in done.stdout and case["id"] in written.read_text(encoding="utf-8-sig")
    everyone = run("--month", "2026-11", "--format", "html", "--out", str(tmp_path / "all"))
    assert everyone.returncode == 0, everyone.stderr
    assert {p.name for p in (tmp_path / "all").iterdir()} == {"register-hq-2026-11.html"}  # the one unit: hq
    produced = [(r["unit"], r["format"], r["by"], r["cases"]) for r in await runs(record.engine, "2026-11")]
    assert produced[0] == ("hq", "csv", "clerk", 1) and [p[:2] for p in produced[1:]] == [("hq", "html")]
    bad = run("--month", "2026-13", "--unit", "hq")
    assert bad.returncode == 2 and "2026-11" in bad.stderr
    unknown = run("--month", "2026-11", "--unit", "nowhere")
    assert unknown.returncode == 2 and "no unit 'nowhere'" in unknown.stderr

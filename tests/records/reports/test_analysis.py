"""Reports: periods, and a report over 10,000 generated cases that matches a plain count, with its charts, and a
PDF laid out from the HTML page (its Chinese read back with pdftotext, its charts embedded as images).

The acceptance test writes what it drew to var/test-logs/reports-<database>/ (PNG charts, the PDF, the HTML and
CSV) so that a person can look at them.
"""

from __future__ import annotations

import csv
import io
import json
import math
import random
import shutil
import subprocess
import warnings
from collections import Counter, deque
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from records.reports.analysis import (
    Figures,
    Period,
    PeriodError,
    Report,
    build_report,
    parse_period,
    period_of,
)
from records.reports.charts import png_charts
from records.reports.output import render, write_report
from records.synthetic import generate_cases
from tests.records.record_data import at, case_row, empty_record, insert_cases

LOGS = Path(__file__).resolve().parents[3] / "var" / "test-logs"
AS_OF = datetime(2026, 12, 20, tzinfo=UTC)  # late in Q4: some cases still open, some deadlines still ahead
Q3 = (datetime(2026, 7, 1, tzinfo=UTC), datetime(2026, 10, 1, tzinfo=UTC))
Q4 = (datetime(2026, 10, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC))
PNG = b"\x89PNG\r\n\x1a\n"


# --- periods ---------------------------------------------------------------------------------------------


def test_the_period_flags_give_whole_days() -> None:
    assert parse_period(quarter="2026Q4") == (date(2026, 10, 1), date(2026, 12, 31))
    assert parse_period(quarter="2026-q1") == (date(2026, 1, 1), date(2026, 3, 31))
    assert parse_period(month="2026-02") == (date(2026, 2, 1), date(2026, 2, 28))
    assert parse_period(start="2026-10-05", end="2026-10-11") == (date(2026, 10, 5), date(2026, 10, 11))
    assert parse_period(start=date(2026, 1, 1), end=date(2026, 1, 1)) == (date(2026, 1, 1), date(2026, 1, 1))


@pytest.mark.parametrize("flags, complaint", [
    ({}, "one of"), ({"quarter": "2026Q4", "month": "2026-11"}, "one of"), ({"quarter": "2026Q5"}, "quarter"),
    ({"month": "2026-13"}, "month"), ({"month": "11/2026"}, "month"), ({"start": "2026-10-01"}, "together"),
    ({"start": "2026-10-02", "end": "2026-10-01"}, "before it starts"), ({"start": "yesterday", "end": "2026-10-01"},
                                                                        "from"),
    ({"start": "1900-01-01", "end": "2026-01-01"}, "from"), ({"quarter": "9999Q4"}, "quarter"),
])
def test_a_period_that_cannot_be_read_is_refused_with_the_reason(flags: dict[str, Any], complaint: str) -> None:
    with pytest.raises(PeriodError, match=complaint):
        parse_period(**flags)


def test_the_previous_period_is_the_quarter_or_month_before_or_as_many_days() -> None:
    assert period_of("2026Q1").previous() == Period(date(2025, 10, 1), date(2025, 12, 31))
    assert period_of("2026-03").previous() == Period(date(2026, 2, 1), date(2026, 2, 28))
    week = Period(date(2026, 10, 5), date(2026, 10, 11))
    assert week.previous() == Period(date(2026, 9, 28), date(2026, 10, 4))
    assert period_of((date(2026, 10, 1), date(2026, 12, 31))).label == "2026Q4"
    assert period_of("2026-10-05..2026-10-11") == week and week.label == "2026-10-05..2026-10-11"
    assert period_of("2026-10-11..2026-10-05") == week  # a range typed backwards: the same days


# --- an independent count ----------------------------------------------------------------------------------


def within(rows: list[dict[str, Any]], span: tuple[datetime, datetime]) -> list[dict[str, Any]]:
    return [r for r in rows if span[0] <= r["created_at"] < span[1]]


def hours(rows: list[dict[str, Any]], column: str) -> list[float]:
    return sorted((r[column] - r["created_at"]).total_seconds() / 3600 for r in rows if r[column] is not None)


def median(values: list[float]) -> float:
    middle = len(values) // 2
    return values[middle] if len(values) % 2 else (values[middle - 1] + values[middle]) / 2


def p90(values: list[float]) -> float:
    """Linear between the two nearest ranks, at 0.9 of the way from the first value to the last."""
    position = 0.9 * (len(values) - 1)
    low = math.floor(position)
    high = min(low + 1, len(values) - 1)
    return values[low] + (values[high] - values[low]) * (position - low)


def on_time(rows: list[dict[str, Any]], done: str, due: str) -> tuple[int, int, int]:
    met = sum(1 for r in rows if r[done] is not None and r[done] <= r[due])
    late = sum(1 for r in rows if r[done] is not None and r[done] > r[due])
    overdue = sum(1 for r in rows if r[done] is None and r[due] < AS_OF)
    waiting = sum(1 for r in rows if r[done] is None and r[due] >= AS_OF)
    return met, late + overdue, waiting


def people(rows: list[dict[str, Any]]) -> list[int]:
    """How many cases each complainant has: cases sharing a phone, email or account are one person's."""
    def contacts(r: dict[str, Any]) -> set[str]:
        found = set()
        if r["phone"]:
            found.add("phone " + "".join(c for c in r["phone"] if c.isdigit())[-11:])
        if r["email"]:
            found.add("email " + r["email"].lower())
        if r["account_id"]:
            found.add("account " + r["account_id"])
        return found

    by_contact: dict[str, list[int]] = {}
    for i, r in enumerate(rows):
        for contact in contacts(r):
            by_contact.setdefault(contact, []).append(i)
    seen: set[int] = set()
    sizes = []
    for i, r in enumerate(rows):  # breadth-first through shared contacts
        if i in seen or not contacts(r):
            continue
        group, todo = 0, deque([i])
        seen.add(i)
        while todo:
            j = todo.popleft()
            group += 1
            for contact in contacts(rows[j]):
                for k in by_contact[contact]:
                    if k not in seen:
                        seen.add(k)
                        todo.append(k)
        sizes.append(group)
    return sizes


UNITS = ("hq", "sh-pudong", "bj-xidan")
NATURES = ("service_environment", "product", "attitude", "process", "other")
STAFF = ("客户经理小王", "柜台 李娜", "Tom Baker", "营业部经理")


def with_handling(rows: list[dict[str, Any]], seed: int) -> list[dict[str, Any]]:
    """What handling adds to generated cases: units, departments, natures, staff involved, corrective measures
    (some verified on a return visit), compensation paid and typical cases, as the record keeps them."""
    rng = random.Random(seed)
    for row in rows:
        unit = rng.choice(UNITS)
        answered = row["outcome"] is not None
        measures = rng.random() < 0.6 if answered and row["outcome"] in ("upheld", "partially_upheld") else False
        paid = answered and row["outcome"] == "upheld" and rng.random() < 0.4
        typical = rng.random() < 0.01
        row.update(
            received_at=row["created_at"], unit=unit, department="margin-desk" if row["product"] == "margin_trading"
            else unit, nature=rng.choice(NATURES), staff_involved=rng.choice(STAFF) if rng.random() < 0.4 else None,
            measures_verified=(rng.random() < 0.7) if measures else None,
            compensation_amount=Decimal(rng.choice(("100", "250.50", "1200"))) if paid else None,
            compensation_currency=("CNY" if row["language"] == "zh" else "USD") if paid else None, typical=typical)
        row["document"] = {**row["document"], "unit": unit, "department": row["department"],
                           "nature": row["nature"]}
        if typical:
            row["document"]["typical"] = {"reason": f"teaches {row['id']}", "by": "sue", "at": AS_OF.isoformat()}
    return rows


def plain_count(rows: list[dict[str, Any]]) -> dict[str, Any]:
    groups = people(rows)
    scores = [r["satisfaction"] for r in rows if r["satisfaction"] is not None]
    paid = [r for r in rows if r.get("compensation_amount") is not None]
    totals: dict[str, Decimal] = {}
    for r in paid:
        currency = r["compensation_currency"]
        totals[currency] = totals.get(currency, Decimal(0)) + r["compensation_amount"]
    return {
        "by_unit": Counter(r.get("unit") or "unknown" for r in rows),
        "by_department": Counter(r.get("department") or "unknown" for r in rows),
        "by_nature": Counter(r.get("nature") or "unknown" for r in rows),
        "by_staff": Counter(r["staff_involved"] for r in rows if r.get("staff_involved")),
        "rate": sum(1 for s in scores if s >= 4) / len(scores),
        "measures": (sum(1 for r in rows if r.get("measures_verified") is not None),
                     sum(1 for r in rows if r.get("measures_verified") is True)),
        "compensation": (len(paid), totals),
        "typical": [r["id"] for r in sorted(rows, key=lambda r: (r["created_at"], r["id"])) if r.get("typical")],
        "total": len(rows),
        "by_channel": Counter(r["channel"] for r in rows),
        "by_product": Counter(r["product"] for r in rows),
        "by_grade": Counter(r["risk_grade"] for r in rows),
        "by_language": Counter(r["language"] for r in rows),
        "by_rule": Counter(rule for r in rows for rule in r["document"]["risk"]["rules"] or ["none"]),
        "outcomes": Counter(r["outcome"] or "unresolved" for r in rows),
        "hours": {stage: hours(rows, column) for stage, column in
                  (("acknowledge", "acknowledged_at"), ("answer", "answered_at"), ("close", "closed_at"))},
        "acknowledge": on_time(rows, "acknowledged_at", "acknowledge_by"),
        "answer": on_time(rows, "answered_at", "respond_by"),
        "satisfaction": (len(scores), sum(scores) / len(scores), Counter(scores)),
        "repeat": (sum(1 for g in groups if g >= 2), sum(g for g in groups if g >= 2)),
    }


def assert_figures_match(figures: Figures, expected: dict[str, Any]) -> None:
    assert figures.total == expected["total"]
    for name in ("by_channel", "by_product", "by_grade", "by_language", "by_rule", "outcomes"):
        assert dict(getattr(figures, name)) == dict(expected[name]), name
    for stage, values in expected["hours"].items():
        timing = figures.timings[stage]
        assert timing.count == len(values) > 100, stage
        assert timing.median == pytest.approx(median(values), rel=1e-9), stage
        assert timing.p90 == pytest.approx(p90(values), rel=1e-9), stage
    for name in ("acknowledge", "answer"):
        share = figures.deadlines[name]
        assert (share.met, share.missed, share.pending) == expected[name], name
        assert share.share == pytest.approx(expected[name][0] / (expected[name][0] + expected[name][1]))
    count, mean, distribution = expected["satisfaction"]
    assert figures.satisfaction.count == count and figures.satisfaction.mean == pytest.approx(mean)
    assert dict(figures.satisfaction.scores) == dict(distribution)
    assert (figures.repeat_complainants, figures.repeat_cases) == expected["repeat"]
    for name in ("by_unit", "by_department", "by_nature", "by_staff"):
        assert dict(getattr(figures, name)) == dict(expected[name]), name
    assert figures.satisfaction.rate == pytest.approx(expected["rate"])
    assert (figures.measures.planned, figures.measures.verified) == expected["measures"]
    assert expected["measures"][0] > 100 and 0 < expected["measures"][1] < expected["measures"][0]
    assert (figures.compensation.cases, figures.compensation.totals) == expected["compensation"]
    assert list(figures.typical) == expected["typical"] and len(expected["typical"]) > 5


# --- the acceptance test -------------------------------------------------------------------------------------


@pytest.fixture
async def two_quarters(record_url: str) -> Any:
    engine = await empty_record(record_url)
    rows = with_handling(list(generate_cases(10_000, 2026, date(2026, 7, 1), date(2027, 1, 1), as_of=AS_OF)), 7)
    await insert_cases(engine, rows)
    try:
        yield engine, rows
    finally:
        await engine.dispose()


async def test_a_report_over_10000_cases_matches_a_plain_count(two_quarters: Any, record_url: str) -> None:
    engine, rows = two_quarters
    said: list[str] = []
    names = {"hq": ("Head office", "总部"), "sh-pudong": ("Shanghai Pudong branch", "上海浦东营业部")}
    report = await build_report(engine, "2026Q4", as_of=AS_OF, progress=said.append, target=0.5, unit_names=names)
    q3, q4 = within(rows, Q3), within(rows, Q4)
    assert len(q3) + len(q4) == 10_000 and len(q3) > 4000 and len(q4) > 4000
    assert_figures_match(report.current, plain_count(q4))
    assert_figures_match(report.previous, plain_count(q3))
    assert report.period.label == "2026Q4" and report.previous_period.label == "2026Q3"
    assert any(line.startswith("read ") for line in said) and any("counting" in line for line in said)

    data = json.loads(json.dumps(report.to_dict()))  # what the API and the JSON file give
    assert data["total"] == {"current": len(q4), "previous": len(q3), "change": len(q4) - len(q3),
                             "change_pct": round(100 * (len(q4) - len(q3)) / len(q3), 1)}
    webchat = next(row for row in data["by_channel"] if row["key"] == "webchat")
    now, before = plain_count(q4)["by_channel"]["webchat"], plain_count(q3)["by_channel"]["webchat"]
    assert webchat == {"key": "webchat", "current": now, "previous": before, "change": now - before,
                       "change_pct": round(100 * (now - before) / before, 1)}
    mean_now, mean_before = plain_count(q4)["satisfaction"][1], plain_count(q3)["satisfaction"][1]
    assert data["satisfaction"]["mean"]["change"] == pytest.approx(mean_now - mean_before, abs=0.01)
    assert [row["key"] for row in data["by_grade"]] == ["high", "medium", "low"]
    rate = plain_count(q4)["rate"]
    assert data["satisfaction"]["rate"]["current"] == pytest.approx(rate, abs=1e-4)
    assert data["satisfaction"]["target"] == 0.5 and data["satisfaction"]["meets_target"] == (rate >= 0.5)
    paid, totals = plain_count(q4)["compensation"]
    assert data["compensation"]["cases"]["current"] == paid
    assert {row["key"]: row["current"] for row in data["compensation"]["by_currency"]} == {
        currency: float(total) for currency, total in totals.items()}
    typical = plain_count(q4)["typical"]
    assert [(c["id"], c["reason"], c["by"]) for c in data["typical_cases"]] == [
        (case_id, f"teaches {case_id}", "sue") for case_id in typical]

    folder = LOGS / f"reports-{record_url.split('+')[0]}"
    check_the_charts_and_files(report, folder)


def check_the_charts_and_files(report: Report, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        # A label drawn as empty boxes: Chinese text without a font that has it.
        warnings.filterwarnings("error", r"Glyph \d+ .* missing from")
        charts = png_charts(report)
        pdf = render(report, "pdf")
    assert set(charts) == {"channel", "product", "risk", "nature", "handling", "satisfaction"}
    for name, png in charts.items():
        (folder / f"{name}.png").write_bytes(png)
        assert png.startswith(PNG) and len(png) > 10_000, name
    (folder / "report.pdf").write_bytes(pdf)
    assert pdf.startswith(b"%PDF") and pdf.rstrip().endswith(b"%%EOF")
    check_the_pdf(folder / "report.pdf", len(charts))
    html = render(report, "html")
    (folder / "report.html").write_bytes(html)
    assert html.count(b'src="data:image/png;base64,') == len(charts)
    table = render(report, "csv")
    (folder / "report.csv").write_bytes(table)
    sections = csv_sections(table)
    channel_rows = {row[0]: int(row[3]) for row in sections["by_channel"][1:]}
    assert channel_rows == dict(report.current.by_channel)
    unit_rows = {row[0]: (row[2], int(row[3])) for row in sections["by_unit"][1:]}
    assert unit_rows["sh-pudong"] == ("上海浦东营业部", report.current.by_unit["sh-pudong"])
    assert {row[0] for row in sections["typical_cases"][1:]} == set(report.current.typical)


def check_the_pdf(path: Path, charts: int) -> None:
    """Bilingual text a reader can search (pdftotext), several pages, and every chart embedded as an image."""
    if shutil.which("pdftotext") is None:
        pytest.fail("pdftotext is missing (apt-get install poppler-utils)")
    text = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True,
                          timeout=60).stdout
    flat = "".join(text.split())  # a long name may wrap inside its table cell
    for words in ("Complaints report", "投诉分析报告", "按受理单位", "上海浦东营业部", "按投诉性质", "服务态度",
                  "投诉较多的人员", "客户经理小王", "满意率", "整改措施", "典型案例", "第 2 页"):
        assert "".join(words.split()) in flat, words
    listed = subprocess.run(["pdfimages", "-list", str(path)], capture_output=True, text=True, check=True,
                            timeout=60).stdout.splitlines()[2:]
    assert sum(line.split()[2] == "image" for line in listed) == charts  # each chart once (its alpha is a smask)


def csv_sections(content: bytes) -> dict[str, list[list[str]]]:
    """Each ``# key: title`` section's rows (its header first)."""
    sections: dict[str, list[list[str]]] = {}
    current: list[list[str]] = []
    for row in csv.reader(io.StringIO(content.decode("utf-8-sig"))):
        if row and row[0].startswith("# "):
            current = sections.setdefault(row[0][2:].split(":")[0], [])
        elif row:
            current.append(row)
    return sections


# --- smaller cases ---------------------------------------------------------------------------------------


async def test_the_report_counts_days_in_its_time_zone(record_url: str) -> None:
    engine = await empty_record(record_url)
    # 17:00 UTC on 30 September is 01:00 on 1 October in Shanghai.
    await insert_cases(engine, [case_row("C-260930-AAAA", at("2026-09-30T17:00"))])
    try:
        utc_report = await build_report(engine, "2026Q4", as_of=AS_OF)
        shanghai = await build_report(engine, "2026Q4", zone="Asia/Shanghai", as_of=AS_OF)
    finally:
        await engine.dispose()
    assert (utc_report.current.total, utc_report.previous.total) == (0, 1)
    assert (shanghai.current.total, shanghai.previous.total) == (1, 0)
    assert shanghai.to_dict()["period"]["zone"] == "Asia/Shanghai"


async def test_an_empty_period_still_gives_a_whole_report(record_url: str, tmp_path: Path) -> None:
    said: list[str] = []
    engine = await empty_record(record_url)
    await engine.dispose()
    path = await write_report(record_url, "2026-11", "pdf", tmp_path, progress=said.append)
    assert path == tmp_path / "complaints-2026-11.pdf" and path.read_bytes().startswith(b"%PDF")
    assert any(line.startswith("wrote ") for line in said)
    report = await build_report(record_url, (date(2026, 11, 1), date(2026, 11, 7)))
    data = report.to_dict()
    assert data["total"]["current"] == 0 and data["total"]["change_pct"] is None
    assert data["handling"]["answer"]["median_hours"]["current"] is None
    assert data["deadlines"]["answer"]["share"]["current"] is None
    html = render(report, "html")
    assert b"2026-11-01..2026-11-07" in html and b"nothing to draw" in html and b"<img" not in html


async def test_a_late_answer_and_a_passed_deadline_both_miss_it(record_url: str) -> None:
    created = at("2026-11-02T09:00")
    rows = [
        case_row("C-261102-AAA1", created, acknowledged_at=created + timedelta(hours=2),
                 answered_at=created + timedelta(days=3)),
        case_row("C-261102-AAA2", created, acknowledged_at=created + timedelta(days=2),
                 answered_at=created + timedelta(days=16)),
        case_row("C-261102-AAA3", created),  # never touched: both deadlines passed by 20 December
        case_row("C-261102-AAA4", at("2026-12-19T09:00")),  # still within both deadlines
    ]
    engine = await empty_record(record_url)
    await insert_cases(engine, rows)
    try:
        report = await build_report(engine, "2026-Q4", as_of=AS_OF)
    finally:
        await engine.dispose()
    ack, answer = report.current.deadlines["acknowledge"], report.current.deadlines["answer"]
    assert (ack.met, ack.missed, ack.pending) == (1, 2, 1) and ack.share == pytest.approx(1 / 3)
    assert (answer.met, answer.missed, answer.pending) == (1, 2, 1)
    assert report.current.timings["answer"].hours == (72.0, 384.0)


async def test_the_csv_and_html_escape_and_label_what_they_show(record_url: str) -> None:
    engine = await empty_record(record_url)
    await insert_cases(engine, [case_row("C-261103-AAAA", at("2026-11-03T09:00"), product="<b>odd</b>")])
    try:
        report = await build_report(engine, "2026Q4", as_of=AS_OF)
    finally:
        await engine.dispose()
    html = render(report, "html").decode()
    assert "<b>odd</b>" not in html and "&lt;b&gt;odd&lt;/b&gt;" in html
    assert "按业务（投诉原因）" in html and "Cases by product (cause)" in html
    sections = csv_sections(render(report, "csv"))
    assert sections["by_product"][0] == ["key", "name_en", "name_zh", "this_period", "previous_period", "change",
                                         "change_pct"]
    assert sections["by_product"][1][:4] == ["<b>odd</b>", "<b>odd</b>", "<b>odd</b>", "1"]
    assert {"report", "key_numbers", "by_channel", "by_rule", "deadlines", "handling_times",
            "satisfaction"} <= set(sections)

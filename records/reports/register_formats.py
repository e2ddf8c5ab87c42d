"""The register (记录表) as files: one case's entry in HTML or PDF, a unit's month in HTML, CSV or PDF.

The register is Chinese: every field name is the register's own, with its English label beside it in HTML and
PDF. The HTML needs nothing else (styles inline, nothing loaded) and escapes every text; the PDF is that HTML
laid out by ``records.reports.pdf`` (A4 pages, numbered, Chinese as text), each entry with its case's SHA-256. The CSV
starts with a byte-order mark (spreadsheets then read the Chinese) and has one row per case; a value a
spreadsheet would run as a formula (=, +, -, @ before words) is written with a leading apostrophe.
"""

from __future__ import annotations

import csv
import io
import re
from html import escape

from records.reports.pdf import html_to_pdf
from records.reports.register import FIELD_NAMES, FIELDS, Entry, MonthRegister

STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI","PingFang SC","Microsoft YaHei","Noto Sans CJK SC",
"WenQuanYi Micro Hei",sans-serif;margin:2rem auto;max-width:60rem;padding:0 1rem;color:#1b2430;line-height:1.5}
h1{font-size:1.45rem;margin-bottom:.2rem}h2{font-size:1.1rem;margin:1.6rem 0 .4rem;border-bottom:1px solid #d5dbe3}
.en{color:#5a6575;font-weight:normal;font-size:.85em}.meta{color:#5a6575;font-size:.9rem}
table{border-collapse:collapse;width:100%;margin:.4rem 0}
th,td{padding:.3rem .5rem;border:1px solid #d5dbe3;text-align:left;vertical-align:top}
th[scope=row]{width:11rem;background:#f5f7fa;font-weight:600}thead th{background:#eef2f7}
td{white-space:pre-wrap;overflow-wrap:anywhere}.empty{color:#8a94a3}
.sha{font-family:ui-monospace,"DejaVu Sans Mono",monospace;font-size:.8rem;color:#5a6575;overflow-wrap:anywhere}
@media print{body{margin:0}}
"""
TITLE_ZH, TITLE_EN = "客户投诉记录表", "Complaint register"
SUMMARY = ("受理日期", "投诉人", "投诉事由", "性质", "答复日期", "客户满意度")
_FORMULA = re.compile(r"^[=@\t\r]|^[+\-](?![\d\s()\-]*$)")


# --- one entry -------------------------------------------------------------------------------------------


def entry_html(item: Entry) -> str:
    parts = [_head(f"{TITLE_ZH} {item.case_id}"),
             f"<h1>{TITLE_ZH} <span class=en>{TITLE_EN}</span></h1>",
             f"<p class=meta>案件编号 Case {escape(item.case_id)}</p>", _fields(item),
             f"<p class=sha>SHA-256（案件记录校验值 of the case as exported）: {escape(item.sha256)}</p>",
             "</body></html>"]
    return "\n".join(parts)


def entry_pdf(item: Entry) -> bytes:
    return html_to_pdf(entry_html(item), footer=f"{item.case_id} · SHA-256 {item.sha256}")


# --- a unit's month --------------------------------------------------------------------------------------


def month_html(register: MonthRegister) -> str:
    title = f"{TITLE_ZH} {register.unit_zh} {register.month.label}"
    parts = [_head(title),
             f"<h1>{TITLE_ZH} <span class=en>{TITLE_EN}</span></h1>",
             f"<p class=meta>受理单位 Unit: {escape(register.unit_zh)} ({escape(register.unit_en)}, "
             f"{escape(register.unit)}) · 月份 Month: {escape(register.month.label)} · "
             f"共 {len(register.entries)} 件 cases · 时区 Time zone {escape(register.zone)} · "
             f"生成时间 Produced {escape(register.generated_at.isoformat(timespec='seconds'))}</p>"]
    if not register.entries:
        parts.append("<p>本月无投诉。 No complaints were received this month.</p>")
    else:
        parts.append(_summary(register))
        for number, item in enumerate(register.entries, start=1):
            parts += [f"<h2 class=entry-head>{number}. {escape(item.case_id)}</h2>", _fields(item),
                      f"<p class=sha>SHA-256: {escape(item.sha256)}</p>"]
    parts.append("</body></html>")
    return "\n".join(parts)


def month_csv(register: MonthRegister) -> bytes:
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["序号", "案件编号", *FIELD_NAMES, "SHA-256"])
    for number, item in enumerate(register.entries, start=1):
        writer.writerow([number, item.case_id, *(_cell(item.fields[name]) for name in FIELD_NAMES), item.sha256])
    return out.getvalue().encode()


def month_pdf(register: MonthRegister) -> bytes:
    return html_to_pdf(month_html(register), footer=f"{TITLE_ZH} {register.unit_zh} {register.month.label}")


def render_month(register: MonthRegister, fmt: str) -> bytes:
    if fmt == "html":
        return month_html(register).encode()
    if fmt == "csv":
        return month_csv(register)
    if fmt == "pdf":
        return month_pdf(register)
    raise ValueError("a register is html, csv or pdf")


def month_filename(register: MonthRegister, fmt: str) -> str:
    return f"register-{register.unit}-{register.month.label}.{fmt}"


# --- parts -----------------------------------------------------------------------------------------------


def _head(title: str) -> str:
    return (f'<!doctype html>\n<html lang="zh-CN"><head><meta charset="utf-8"><title>{escape(title)}</title>'
            f"<style>{STYLE}</style></head><body>")


def _fields(item: Entry) -> str:
    rows = []
    for _, zh, en in FIELDS:
        value = item.fields[zh]
        shown = escape(value) if value else "<span class=empty>—</span>"
        rows.append(f"<tr><th scope=row>{zh}<br><span class=en>{escape(en)}</span></th><td>{shown}</td></tr>")
    return f"<table class=entry><tbody>{''.join(rows)}</tbody></table>"


def _summary(register: MonthRegister) -> str:
    head = "".join(f"<th scope=col>{name}</th>" for name in ("序号", "案件编号", *SUMMARY))
    body = "".join(
        f"<tr><td>{number}</td><td>{escape(item.case_id)}</td>"
        + "".join(f"<td>{escape((item.fields[name] or '—').splitlines()[0])}</td>" for name in SUMMARY) + "</tr>"
        for number, item in enumerate(register.entries, start=1))
    return f"<table class=summary><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _cell(value: str | None) -> str:
    """A value for a spreadsheet: never run as a formula."""
    if not value:
        return ""
    return "'" + value if _FORMULA.search(value) else value

"""A report as JSON, CSV, a self-contained HTML page (charts inline as PNG), and that page as a PDF.

CSV holds one table per section, each under a line ``# <section>: <title>`` and its own header row, with a
blank line between sections: a spreadsheet shows them one below the other, a program splits on the ``#`` lines.
It starts with a byte-order mark so that spreadsheet programs read the Chinese correctly.

The HTML page needs nothing else (no scripts, styles and images inline) so it can be mailed or archived as it
is; every text in it is escaped. The PDF is the same page laid out by ``records.reports.pdf`` (the register's path):
bilingual, paginated, the charts embedded as images.
"""

from __future__ import annotations

import base64
import csv
import io
import json
from html import escape
from typing import Any

from handoff import labels
from records.reports.analysis import STAGES, Report
from records.reports.pdf import html_to_pdf

STAGE_NAMES = {"acknowledge": ("Acknowledge", "受理确认"), "answer": ("Answer", "答复"), "close": ("Close", "办结")}
# section -> (English title, Chinese title, names of its keys)
COUNT_SECTIONS: dict[str, tuple[str, str, labels.Names | None]] = {
    "by_channel": ("Cases by channel", "按渠道", None),
    "by_product": ("Cases by product (cause)", "按业务（投诉原因）", labels.PRODUCTS),
    "by_rule": ("Cases by risk rule (cause detail)", "按风险规则（原因细分）", None),
    "by_grade": ("Cases by risk grade", "按风险等级", labels.GRADES),
    "by_language": ("Cases by language", "按语言", labels.LANGUAGES),
    "outcomes": ("Outcomes", "处理结果", labels.OUTCOMES),
    "by_unit": ("Cases by receiving unit", "按受理单位", None),
    "by_department": ("Cases by responsible department", "按处理部门", None),
    "by_nature": ("Cases by nature", "按投诉性质", labels.NATURES),
    "by_staff": ("Staff involved in most complaints", "投诉较多的人员", None),
}
CHART_TITLES = {
    "channel": ("Cases by channel", "按渠道"), "product": ("Cases by product", "按业务"),
    "risk": ("Cases by risk grade", "按风险等级"), "handling": ("Handling times", "处理时长"),
    "satisfaction": ("Satisfaction", "满意度"), "nature": ("Cases by nature", "按投诉性质"),
}


def section_names(report: Report, key: str) -> labels.Names:
    """The names of a count section's keys: fixed labels, the risk rules', the units' from ORG_FILE, or none
    (staff are shown as recorded)."""
    names = COUNT_SECTIONS[key][2]
    if names is not None:
        return names
    if key == "by_rule":
        return labels.rules()
    if key == "by_channel":
        return {**labels.STAFF_CHANNELS, **report.channel_names}
    if key in ("by_unit", "by_department"):
        return {**report.unit_names, "unknown": ("not recorded", "未记录")}
    return {}


def key_numbers(data: dict[str, Any]) -> list[tuple[str, str, str, dict[str, Any]]]:
    """The headline numbers of a report's ``to_dict()``: (English, Chinese, kind, numbers), in reading order.

    The kind (count, hours, share, score) says how to show the number.
    """
    rows = [("cases received", "受理投诉", "count", data["total"])]
    for stage in STAGES:
        english, chinese = STAGE_NAMES[stage]
        handling = data["handling"][stage]
        rows.append((f"{english.lower()}: median hours", f"{chinese}中位数（小时）", "hours", handling["median_hours"]))
        rows.append((f"{english.lower()}: p90 hours", f"{chinese}90分位（小时）", "hours", handling["p90_hours"]))
    rows += [("acknowledged within deadline", "按时受理确认", "share", data["deadlines"]["acknowledge"]["share"]),
             ("answered within deadline", "按时答复", "share", data["deadlines"]["answer"]["share"]),
             ("satisfaction answers", "满意度评价数", "count", data["satisfaction"]["count"]),
             ("satisfaction mean (1-5)", "满意度均分", "score", data["satisfaction"]["mean"]),
             ("satisfaction rate (scores 4-5)", "满意率（4-5分）", "share", data["satisfaction"]["rate"]),
             ("measures verified on a return visit", "整改措施回访落实率", "share", data["measures"]["share"]),
             ("cases compensated", "赔偿案件数", "count", data["compensation"]["cases"]),
             ("repeat complainants", "重复投诉人", "count", data["repeat"]["complainants"]),
             ("cases from repeat complainants", "重复投诉案件", "count", data["repeat"]["cases"])]
    return rows


def number(value: float | None, kind: str = "count") -> str:
    """A report's number as people read it: 1,234 cases, 12.5 hours, 93.1%, 3.84."""
    if value is None:
        return "-"
    if kind == "share":
        return f"{value:.1%}"
    if kind == "count":
        return f"{value:,.0f}"
    return f"{value:,.2f}" if kind in ("score", "money") else f"{value:,.1f}"


def percent_change(value: float | None) -> str:
    return "-" if value is None else f"{value:+.1f}%"


# --- JSON ------------------------------------------------------------------------------------------------


def to_json(report: Report) -> bytes:
    return json.dumps(report.to_dict(), ensure_ascii=False, indent=2).encode()


# --- CSV -------------------------------------------------------------------------------------------------

CHANGE_COLUMNS = ["this_period", "previous_period", "change", "change_pct"]


def to_csv(report: Report) -> bytes:
    data = report.to_dict()
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out, lineterminator="\n")
    period, previous = data["period"], data["previous_period"]
    _section(writer, "report", "Complaints report 投诉分析报告", ["field", "value"], [
        ["period", period["label"]], ["from", period["start"]], ["to", period["end"]], ["time_zone", period["zone"]],
        ["previous_period", previous["label"]], ["deadlines_judged_at", data["as_of"]],
        ["generated_at", data["generated_at"]]])
    _section(writer, "key_numbers", "Key numbers 关键指标", ["measure", "measure_zh", *CHANGE_COLUMNS],
             [[en, zh, *_changes(row)] for en, zh, _, row in key_numbers(data)])
    for key, (english, chinese, _) in COUNT_SECTIONS.items():
        names = section_names(report, key)
        _section(writer, key, f"{english} {chinese}", ["key", "name_en", "name_zh", *CHANGE_COLUMNS],
                 [[_cell(row["key"]), *map(_cell, names.get(row["key"], (row["key"], row["key"]))), *_changes(row)]
                  for row in data[key]])
    _section(writer, "deadlines", "Within deadline 按时完成", ["deadline", "met", "missed", "pending", *CHANGE_COLUMNS],
             [[name, d["met"], d["missed"], d["pending"], *_changes(d["share"])]
              for name, d in data["deadlines"].items()])
    _section(writer, "handling_times", "Handling times in hours 处理时长（小时）",
             ["stage", "measure", *CHANGE_COLUMNS],
             [[stage, measure, *_changes(values[measure])] for stage, values in data["handling"].items()
              for measure in ("count", "median_hours", "p90_hours")])
    _section(writer, "satisfaction", "Satisfaction scores 满意度评分", ["score", *CHANGE_COLUMNS],
             [[row["key"], *_changes(row)] for row in data["satisfaction"]["distribution"]])
    satisfaction = data["satisfaction"]
    _section(writer, "satisfaction_target", "Satisfaction rate against target 满意率与目标",
             ["rate", "target", "meets_target"],
             [[_blank(satisfaction["rate"]["current"]), satisfaction["target"], _blank(satisfaction["meets_target"])]])
    measures = data["measures"]
    _section(writer, "measures", "Corrective measures verified 整改措施落实", ["measure", *CHANGE_COLUMNS],
             [[name, *_changes(measures[name])] for name in ("planned", "verified", "share")])
    _section(writer, "compensation", "Compensation paid 赔偿支付", ["currency", *CHANGE_COLUMNS],
             [["cases", *_changes(data["compensation"]["cases"])],
              *([row["key"], *_changes(row)] for row in data["compensation"]["by_currency"])])
    _section(writer, "typical_cases", "Typical cases flagged for case studies 典型案例",
             ["case_id", "product", "nature", "unit", "outcome", "reason", "flagged_by"],
             [[case["id"], case["product"] or "", case["nature"] or "", case["unit"] or "", case["outcome"] or "",
               _cell(case["reason"]), case["by"] or ""] for case in data["typical_cases"]])
    return out.getvalue().encode()


def _blank(value: Any) -> Any:
    return "" if value is None else value


def _cell(value: Any) -> Any:
    """Text from the record for a spreadsheet: never run as a formula (=, +, -, @ before words)."""
    if not isinstance(value, str) or not value:
        return "" if value is None else value
    risky = value[0] in "=@\t\r" or (value[0] in "+-" and not value[1:].replace(" ", "").isdigit())
    return "'" + value if risky else value


def _changes(row: dict[str, Any]) -> list[Any]:
    return ["" if row[k] is None else row[k] for k in ("current", "previous", "change", "change_pct")]


def _section(writer: Any, key: str, title: str, header: list[str], rows: list[list[Any]]) -> None:
    writer.writerow([f"# {key}: {title}"])
    writer.writerow(header)
    writer.writerows(rows)
    writer.writerow([])


# --- HTML ------------------------------------------------------------------------------------------------

STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI","PingFang SC","Microsoft YaHei","Noto Sans CJK SC",sans-serif;
margin:2rem auto;max-width:60rem;padding:0 1rem;color:#1b2430;line-height:1.45}
h1{font-size:1.6rem;margin-bottom:.2rem}h2{font-size:1.2rem;margin-top:2rem;border-bottom:1px solid #d5dbe3}
.zh{color:#5a6575;font-weight:normal}.meta{color:#5a6575}
table{border-collapse:collapse;margin:.5rem 0 1rem;min-width:28rem}
th,td{padding:.3rem .6rem;border-bottom:1px solid #e3e7ed;text-align:right}
th:first-child,td:first-child{text-align:left}thead th{background:#f2f5f9;white-space:nowrap}
th[scope=row]{width:42%}
.worse{color:#9b2c1f}.better{color:#1e6b3c}
figure{margin:1rem 0}figure img{max-width:100%;height:auto;border:1px solid #e3e7ed}
@media print{body{margin:0}h2{break-after:avoid}figure,table{break-inside:avoid}}
"""


def to_pdf(report: Report, charts: dict[str, bytes]) -> bytes:
    """The HTML page as A4 pages (``records.reports.pdf``), the charts embedded."""
    footer = f"Complaints report 投诉分析报告 {report.period.label}"
    return html_to_pdf(to_html(report, charts).decode(), footer=footer)


def to_html(report: Report, charts: dict[str, bytes]) -> bytes:
    data = report.to_dict()
    period = data["period"]
    parts = [
        "<!doctype html>", '<html lang="en"><head><meta charset="utf-8">',
        f"<title>Complaints report {escape(period['label'])}</title>", f"<style>{STYLE}</style></head><body>",
        f"<h1>Complaints report {escape(period['label'])} <span class=zh>投诉分析报告</span></h1>",
        f"<p class=meta>{escape(period['start'])} – {escape(period['end'])} ({escape(period['zone'])}), compared "
        f"with {escape(data['previous_period']['label'])} · 对比上一期. Deadlines judged at "
        f"{escape(data['as_of'])}; generated {escape(data['generated_at'])}.</p>",
        _heading("Key numbers", "关键指标"), _key_table(data),
    ]
    for key, (english, chinese, _) in COUNT_SECTIONS.items():
        parts += [_heading(english, chinese), _count_table(data[key], section_names(report, key))]
    parts += [_heading("Within deadline", "按时完成情况"), _deadline_table(data)]
    parts += [_heading("Satisfaction scores", "满意度评分"), _target(data), _count_table(
        data["satisfaction"]["distribution"], {str(s): (str(s), str(s)) for s in range(1, 6)})]
    parts += [_heading("Corrective measures and compensation", "整改措施与赔偿"), _measures_table(data)]
    parts += [_heading("Typical cases flagged for case studies", "典型案例"), _typical_table(report, data)]
    parts += [_heading("Charts", "图表"), *(_chart(name, png) for name, png in charts.items())]
    if not charts:
        parts.append("<p>No cases in either period, so nothing to draw. 两期均无案件，无图表。</p>")
    parts.append("</body></html>")
    return "\n".join(parts).encode()


def _heading(english: str, chinese: str) -> str:
    return f"<h2>{escape(english)} <span class=zh>{escape(chinese)}</span></h2>"


def _head(first: str) -> str:
    cells = "".join(f"<th scope=col>{escape(c)}</th>" for c in
                    (first, "This period 本期", "Previous 上期", "Change 变化", "%"))
    return f"<thead><tr>{cells}</tr></thead>"


def _tone(pct: float | None, kind: str) -> str:
    """More complaints or longer waits are worse; a larger share on time or a better score is better."""
    if not pct:
        return ""
    better = pct > 0 if kind in ("share", "score") else pct < 0
    return " class=better" if better else " class=worse"


def _change_cells(row: dict[str, Any], kind: str = "count") -> str:
    pct = row["change_pct"]
    tone = _tone(pct, kind)
    change = row["change"]
    shown = "-" if change is None else ("+" if change > 0 else "") + number(change, kind)
    if change is not None and kind == "share":  # a change of a share is in percentage points
        shown = f"{100 * change:+.1f} pp"
    return (f"<td>{escape(number(row['current'], kind))}</td><td>{escape(number(row['previous'], kind))}</td>"
            f"<td>{escape(shown)}</td><td{tone}>{escape(percent_change(pct))}</td>")


def _key_table(data: dict[str, Any]) -> str:
    rows = "".join(f"<tr><th scope=row>{escape(en)} <span class=zh>{escape(zh)}</span></th>"
                   f"{_change_cells(row, kind)}</tr>" for en, zh, kind, row in key_numbers(data))
    return f"<table>{_head('Measure 指标')}<tbody>{rows}</tbody></table>"


def _count_table(rows: list[dict[str, Any]], names: labels.Names) -> str:
    body = "".join(f"<tr><th scope=row>{escape(labels.both(names, row['key']))}</th>{_change_cells(row)}</tr>"
                   for row in rows)
    return f"<table>{_head('')}<tbody>{body}</tbody></table>"


def _deadline_table(data: dict[str, Any]) -> str:
    names = {"acknowledge": "Acknowledged on time 按时受理确认", "answer": "Answered on time 按时答复"}
    head = "".join(f"<th scope=col>{escape(c)}</th>" for c in
                   ("", "Met 按时", "Missed 超时", "Pending 未到期", "Share 比例", "Previous 上期", "%"))
    body = ""
    for name, row in data["deadlines"].items():
        share = row["share"]
        body += (f"<tr><th scope=row>{escape(names[name])}</th><td>{row['met']:,}</td><td>{row['missed']:,}</td>"
                 f"<td>{row['pending']:,}</td><td>{escape(number(share['current'], 'share'))}</td>"
                 f"<td>{escape(number(share['previous'], 'share'))}</td>"
                 f"<td>{escape(percent_change(share['change_pct']))}</td></tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _target(data: dict[str, Any]) -> str:
    satisfaction = data["satisfaction"]
    rate, target, meets = satisfaction["rate"]["current"], satisfaction["target"], satisfaction["meets_target"]
    verdict = ("no answers yet 暂无评价" if meets is None else "meets the target 达标" if meets
               else "below the target 未达标")
    tone = "" if meets is None else " class=better" if meets else " class=worse"
    return (f"<p{tone}>Satisfaction rate (scores 4-5) 满意率: <strong>{escape(number(rate, 'share'))}</strong> "
            f"against a target of 目标 {escape(number(target, 'share'))}: {escape(verdict)}.</p>")


def _measures_table(data: dict[str, Any]) -> str:
    measures, compensation = data["measures"], data["compensation"]
    rows = [("Answered plans with corrective measures 有整改措施的方案", measures["planned"], "count"),
            ("Measures verified on a return visit 回访核实已落实", measures["verified"], "count"),
            ("Share verified 落实率", measures["share"], "share"),
            ("Cases compensated 赔偿案件", compensation["cases"], "count")]
    rows += [(f"Compensation paid 赔偿金额 ({row['key']})", row, "money") for row in compensation["by_currency"]]
    body = "".join(f"<tr><th scope=row>{escape(label)}</th>{_change_cells(row, kind)}</tr>"
                   for label, row, kind in rows)
    return f"<table>{_head('')}<tbody>{body}</tbody></table>"


def _typical_table(report: Report, data: dict[str, Any]) -> str:
    cases = data["typical_cases"]
    if not cases:
        return "<p>No case was flagged in this period. 本期无典型案例。</p>"
    units = section_names(report, "by_unit")
    head = "".join(f"<th scope=col>{c}</th>" for c in ("Case 案件", "Product 业务", "Nature 性质", "Unit 单位",
                                                       "Outcome 结果", "Why typical 典型原因", "Flagged by 标记人"))
    body = "".join(
        f"<tr><td>{escape(case['id'])}</td><td>{escape(labels.both(labels.PRODUCTS, case['product']))}</td>"
        f"<td>{escape(labels.both(labels.NATURES, case['nature']))}</td>"
        f"<td>{escape(labels.both(units, case['unit']))}</td>"
        f"<td>{escape(labels.both(labels.OUTCOMES, case['outcome']))}</td>"
        f"<td>{escape(str(case['reason'] or ''))}</td><td>{escape(str(case['by'] or ''))}</td></tr>"
        for case in cases)
    return f"<table class=typical><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _chart(name: str, png: bytes) -> str:
    english, chinese = CHART_TITLES.get(name, (name, name))
    source = "data:image/png;base64," + base64.b64encode(png).decode()
    return (f'<figure><img src="{source}" alt="{escape(english)}">'
            f"<figcaption>{escape(english)} · {escape(chinese)}</figcaption></figure>")

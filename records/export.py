"""One case out of the record as a self-contained file, for a regulator's or a customer's request.

Two forms of the same content: the case record, its handling times, the whole conversation and the whole audit
trail, under an export header (format and version, when, by whom).

- JSON, for machines. The header carries ``sha256``: the SHA-256 of the rest of the file written canonically
  (``json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":"))`` where body is the file without
  its ``export`` key), so anyone can check later that the content is what was exported.
- HTML, for people: one page, labels in English and Chinese, styles inline, nothing loaded from anywhere, and
  every text from the record escaped (a customer's words are data, never markup). Printing it from a browser
  gives the PDF: browsers have the Chinese fonts a bare server may lack.

Nothing here changes the record; the API logs who exported which case. An export leaves out the channel's
internal address of the conversation (``conversation_id``): it serves no reader, and a channel's address must
never work as a credential in someone else's hands.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from html import escape
from typing import Any, Literal

from sqlalchemy import select

from handoff import labels
from handoff.cases import CaseNotFound
from records.reading import Source, reading, utc_or_none
from records.tables import CaseRow, EventRow, MessageRow

ExportFormat = Literal["json", "html"]
EXPORT_FORMATS: tuple[ExportFormat, ...] = ("json", "html")
FORMAT_NAME = "complaint-gateway/case-export"
FORMAT_VERSION = 1
HANDLING = ("acknowledged_at", "answered_at", "closed_at")
EVENT_FIELDS = ("at", "actor", "action", "before", "after", "detail")
INTERNAL_FIELDS = ("conversation_id",)  # in the record for the gateway's own use, never in an export
_CHUNK = 500  # cases per IN (...) list


@dataclass(frozen=True, slots=True)
class CaseExport:
    case: dict[str, Any]
    handling: dict[str, str | None]
    messages: list[dict[str, Any]]
    events: list[dict[str, Any]]

    def body(self) -> dict[str, Any]:
        return {"case": self.case, "handling": self.handling, "messages": self.messages, "events": self.events}


def digest(body: dict[str, Any]) -> str:
    canonical = json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


async def load_case(source: Source, case_id: str) -> CaseExport:
    """The case with its messages and events in order; CaseNotFound if the record has no such case."""
    found = await load_cases(source, [case_id])
    if not found:
        raise CaseNotFound(f"no case {case_id} in the record")
    return found[0]


async def load_cases(source: Source, case_ids: Sequence[str]) -> list[CaseExport]:
    """The cases the record holds of ``case_ids``, in that order, each with its messages and events in order:
    a few queries per hundred cases, for a unit's month of registers."""
    loaded: dict[str, CaseExport] = {}
    async with reading(source) as db:
        for first in range(0, len(case_ids), _CHUNK):
            chunk = list(case_ids[first:first + _CHUNK])
            loaded.update(await _load_chunk(db, chunk))
    return [loaded[case_id] for case_id in case_ids if case_id in loaded]


async def _load_chunk(db: Any, case_ids: list[str]) -> dict[str, CaseExport]:
    # Columns, not ORM objects: the readers also run on a plain connection.
    case_query = (select(CaseRow.id, CaseRow.document, *(getattr(CaseRow, name) for name in HANDLING))
                  .where(CaseRow.id.in_(case_ids)))
    message_query = (select(MessageRow.case_id, MessageRow.at, MessageRow.sender, MessageRow.channel,
                            MessageRow.text, MessageRow.document)
                     .where(MessageRow.case_id.in_(case_ids)).order_by(MessageRow.case_id, MessageRow.seq))
    event_query = (select(EventRow.case_id, *(getattr(EventRow, name) for name in EVENT_FIELDS))
                   .where(EventRow.case_id.in_(case_ids)).order_by(EventRow.case_id, EventRow.seq))
    messages: dict[str, list[dict[str, Any]]] = {case_id: [] for case_id in case_ids}
    events: dict[str, list[dict[str, Any]]] = {case_id: [] for case_id in case_ids}
    cases = (await db.execute(case_query)).all()
    for message in (await db.execute(message_query)).all():
        fields = dict(message._mapping)
        messages[fields.pop("case_id")].append(_message(fields))
    for event in (await db.execute(event_query)).all():
        fields = dict(event._mapping)
        events[fields.pop("case_id")].append(_event(fields))
    return {row.id: CaseExport({name: value for name, value in row.document.items() if name not in INTERNAL_FIELDS},
                               {name: _iso(getattr(row, name)) for name in HANDLING},
                               messages[row.id], events[row.id]) for row in cases}


def _iso(moment: datetime | None) -> str | None:
    aware = utc_or_none(moment)
    return aware.isoformat() if aware else None


def _message(row: Mapping[str, Any]) -> dict[str, Any]:
    # The stored entry is the whole message (attachments included); the columns fill in what an old one lacks.
    entry = dict(row["document"]) if isinstance(row["document"], dict) else {}
    entry.setdefault("at", _iso(row["at"]))
    entry.setdefault("from", row["sender"])
    entry.setdefault("channel", row["channel"])
    entry.setdefault("text", row["text"])
    return entry


def _event(row: Mapping[str, Any]) -> dict[str, Any]:
    return {**row, "at": _iso(row["at"])}


def header(export: CaseExport, by: str, now: datetime | None = None) -> dict[str, Any]:
    return {"format": FORMAT_NAME, "version": FORMAT_VERSION, "case_id": export.case.get("id"),
            "exported_at": (now or datetime.now(UTC)).isoformat(), "by": by, "sha256": digest(export.body())}


async def export_case(
    source: Source, case_id: str, fmt: ExportFormat, *, by: str = "system", now: datetime | None = None,
    channels: labels.Names = labels.STAFF_CHANNELS,
) -> bytes:
    """The case as a JSON or HTML file's bytes; ``by`` names who exported it (shown in the file); ``channels``
    names the channels (the gateway's adapters and staff's ways in)."""
    if fmt not in EXPORT_FORMATS:
        raise ValueError(f"format must be one of {', '.join(EXPORT_FORMATS)}")
    export = await load_case(source, case_id)
    head = header(export, by, now)
    if fmt == "json":
        return json.dumps({"export": head, **export.body()}, ensure_ascii=False, indent=2).encode()
    return to_html(export, head, channels).encode()


# --- HTML ------------------------------------------------------------------------------------------------

STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI","PingFang SC","Microsoft YaHei","Noto Sans CJK SC",sans-serif;
margin:2rem auto;max-width:56rem;padding:0 1rem;color:#1b2430;line-height:1.5}
h1{font-size:1.5rem;margin-bottom:.2rem}h2{font-size:1.15rem;margin-top:2rem;border-bottom:1px solid #d5dbe3}
.zh{color:#5a6575;font-weight:normal}.meta{color:#5a6575;font-size:.9rem}
table{border-collapse:collapse;width:100%;margin:.5rem 0}
th,td{padding:.3rem .5rem;border-bottom:1px solid #e3e7ed;text-align:left;vertical-align:top}
th[scope=row]{width:14rem;color:#3b4756;font-weight:600}thead th{background:#f2f5f9}
.msg{border-left:4px solid #b9c6d8;padding:.3rem .8rem;margin:.6rem 0;break-inside:avoid}
.msg.customer{border-color:#1f5fa8}.msg.agent{border-color:#2e8b57}.msg.system{border-color:#999}
.msg .who{font-size:.85rem;color:#5a6575}.msg .text{white-space:pre-wrap;overflow-wrap:anywhere}
footer{margin-top:2rem;font-size:.8rem;color:#5a6575;overflow-wrap:anywhere}
@media print{body{margin:0}h2{break-after:avoid}}
"""
SENDERS = {"customer": "Customer 客户", "bot": "Automated desk 自动受理", "agent": "Complaint handler 投诉专员",
           "system": "System 系统"}
CUSTOMER_FIELDS = (("name", "Name 姓名"), ("phone", "Phone 电话"), ("email", "Email 邮箱"),
                   ("account_id", "Account 账号"))
COMPLAINT_FIELDS = (
    ("product", "Product 业务"), ("incident_time", "When it happened 发生时间"),
    ("incident_time_text", "When, in their words 时间（原话）"), ("place", "Where 地点"),
    ("people_involved", "People involved 相关人员"), ("description", "What happened 投诉内容"),
    ("desired_resolution", "What they ask for 诉求"),
)


def to_html(export: CaseExport, head: dict[str, Any], channels: labels.Names = labels.STAFF_CHANNELS) -> str:
    case = export.case
    case_id = str(case.get("id", ""))
    parts = [
        "<!doctype html>", '<html lang="en"><head><meta charset="utf-8">',
        f"<title>Case {escape(case_id)}</title><style>{STYLE}</style></head><body>",
        f"<h1>Complaint case {escape(case_id)} <span class=zh>投诉案件</span></h1>",
        f"<p class=meta>Exported {escape(str(head['exported_at']))} by {escape(str(head['by']))} · "
        f"导出时间及导出人. Format {escape(FORMAT_NAME)} v{FORMAT_VERSION}.</p>",
        _section("Record", "案件信息", _record_table(case, export.handling, channels)),
        _section("Customer", "客户", _fields(case.get("customer") or {}, CUSTOMER_FIELDS)),
        _section("Complaint", "投诉内容", _complaint(case.get("complaint") or {})),
        _section("Attachments", "附件", _attachments(case.get("attachments") or [])),
        _section("Conversation", "对话记录", "".join(_message_html(m) for m in export.messages)
                 or "<p>No messages. 无对话记录。</p>"),
        _section("Audit trail", "审计记录", _events_table(export.events)),
        f"<footer>SHA-256 of the record as exported 导出内容校验值: {escape(str(head['sha256']))}</footer>",
        "</body></html>",
    ]
    return "\n".join(parts)


def _section(english: str, chinese: str, body: str) -> str:
    return f"<section><h2>{escape(english)} <span class=zh>{escape(chinese)}</span></h2>{body}</section>"


def _text(value: Any) -> str:
    if value is None or value == "" or value == []:
        return "—"
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value)
    return str(value)


def _rows(pairs: list[tuple[str, Any]]) -> str:
    body = "".join(f"<tr><th scope=row>{escape(label)}</th><td>{escape(_text(value))}</td></tr>"
                   for label, value in pairs)
    return f"<table><tbody>{body}</tbody></table>"


def _fields(values: dict[str, Any], fields: tuple[tuple[str, str], ...]) -> str:
    return _rows([(label, values.get(name)) for name, label in fields])


def _record_table(case: dict[str, Any], handling: dict[str, str | None], channels: labels.Names) -> str:
    risk = case.get("risk") or {}
    deadlines = case.get("deadlines") or {}
    resolution = case.get("resolution") or {}
    satisfaction = case.get("satisfaction") or {}
    return _rows([
        ("Status 状态", labels.both(labels.STATUSES, case.get("status"))),
        ("Channel 渠道", labels.both(channels, case.get("channel"))),
        ("Language 语言", labels.both(labels.LANGUAGES, case.get("language"))),
        ("Received 受理时间", case.get("created_at")), ("Last change 最后更新", case.get("updated_at")),
        ("Risk 风险", f"{labels.both(labels.GRADES, risk.get('grade'))} ({_text(risk.get('score'))})"),
        ("Warning signs 预警信号", risk.get("reasons")), ("Priority 优先级", case.get("priority")),
        ("Handed over because 转人工原因", case.get("handoff_reason")),
        ("Acknowledge by 受理确认期限", deadlines.get("acknowledge_by")),
        ("Investigate by 调查期限", deadlines.get("investigate_by")),
        ("Respond by 答复期限", deadlines.get("respond_by")), ("Deadline policy 时限规则", deadlines.get("policy")),
        ("Acknowledged 受理确认", handling.get("acknowledged_at")), ("Answered 答复", handling.get("answered_at")),
        ("Closed 办结", handling.get("closed_at")), ("Handler 处理人", case.get("assignee")),
        ("Outcome 处理结果", labels.both(labels.OUTCOMES, resolution.get("outcome"))),
        ("Answer 答复摘要", resolution.get("summary")), ("Answered by 答复人", resolution.get("by")),
        ("Satisfaction 满意度", f"{satisfaction['score']}/5" if satisfaction.get("score") else None),
        ("Not verified 未核实", case.get("unverified")),
    ])


def _complaint(complaint: dict[str, Any]) -> str:
    values = {**complaint, "product": labels.both(labels.PRODUCTS, complaint.get("product")) or None}
    return _fields(values, COMPLAINT_FIELDS)


def _attachments(attachments: list[Any]) -> str:
    if not attachments:
        return "<p>None. 无。</p>"
    rows = "".join(
        f"<tr><td>{escape(_text(a.get('name')))}</td><td>{escape(_text(a.get('content_type')))}</td>"
        f"<td>{escape(_text(a.get('size')))}</td><td>{escape(_text(a.get('url')))}</td></tr>"
        for a in attachments if isinstance(a, dict))
    head = "".join(f"<th scope=col>{c}</th>" for c in ("Name 名称", "Type 类型", "Bytes 字节", "Stored at 存放位置"))
    return f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>"


def _message_html(message: dict[str, Any]) -> str:
    sender = str(message.get("from") or "")
    kind = sender if sender in SENDERS else "system"
    who = f"{SENDERS.get(sender, sender)} · {_text(message.get('channel'))} · {_text(message.get('at'))}"
    files = [a.get("name") for a in message.get("attachments") or [] if isinstance(a, dict)]
    attached = f"<div class=who>Attached 附件: {escape(_text(files))}</div>" if files else ""
    return (f'<div class="msg {kind}"><div class=who>{escape(who)}</div>'
            f"<div class=text>{escape(_text(message.get('text')))}</div>{attached}</div>")


def _events_table(events: list[dict[str, Any]]) -> str:
    head = "".join(f"<th scope=col>{c}</th>" for c in
                   ("When 时间", "Who 操作人", "Action 操作", "Status before → after 状态变化", "Detail 说明"))
    rows = "".join(
        f"<tr><td>{escape(_text(e.get('at')))}</td><td>{escape(_text(e.get('actor')))}</td>"
        f"<td>{escape(_text(e.get('action')))}</td>"
        f"<td>{escape(_text(e.get('before')))} → {escape(_text(e.get('after')))}</td>"
        f"<td>{escape(_text(e.get('detail')))}</td></tr>" for e in events)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>"

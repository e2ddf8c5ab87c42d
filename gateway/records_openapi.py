"""The records API's part of the OpenAPI document: the path items of ``gateway.records_api.routes()``.

A module of its own, importing nothing from the gateway, so that ``gateway.openapi`` can merge it into the
document (``SPEC["paths"]``) without an import cycle through ``gateway.api``.
"""

from __future__ import annotations

from typing import Any

from handoff.cases import STATUSES
from records.export import EXPORT_FORMATS
from records.reports.analysis import FORMATS
from records.reports.register import FIELDS, REGISTER_FORMATS
from records.search import MAX_PAGE, MAX_PAGE_SIZE, RISK_GRADES, WORD_SEPARATORS

# The patterns say exactly what the server accepts, so that a request the document allows is never refused.

_YEAR = "(19[7-9][0-9]|2[0-9]{3})"
_DAY = _YEAR + "-(0[1-9]|1[0-2])-(0[1-9]|1[0-9]|2[0-8])"  # 29-31 are accepted too, but not in every month
_NO_NUL = "\\u0000"
_SPACE, _WORD = f"[{WORD_SEPARATORS}]", f"[^{WORD_SEPARATORS}{_NO_NUL}]"
_WORDS = f"^{_SPACE}*(?:{_WORD}+{_SPACE}+){{0,9}}{_WORD}*{_SPACE}*$"  # at most ten words
_CONTACT = f"^(?:[^@{_NO_NUL}]*@[^{_NO_NUL}]*|(?:[^0-9{_NO_NUL}]*[0-9]){{4}}[^{_NO_NUL}]*)$"
_LABELS = "^[a-z][a-z0-9_]{0,63}(?:,[a-z][a-z0-9_]{0,63})*$"
_MONTH = f"^{_YEAR}-(0[1-9]|1[0-2])$"
REGISTER_ENTRY_FORMATS = ("json", "html", "pdf")


def _one_of(values: tuple[str, ...]) -> str:
    choice = "(?:" + "|".join(values) + ")"
    return f"^{choice}(?:,{choice})*$"


def _error(description: str) -> dict[str, Any]:
    return {"description": description,
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}


def _bad_request(description: str) -> dict[str, Any]:
    """400: a JSON error from the handler, or plain text from the HTTP layer for a request line over 8 KiB."""
    answer = _error(description)
    answer["content"]["text/plain"] = {"schema": {"type": "string"}}
    return answer


def _query(name: str, description: str, schema: dict[str, Any], required: bool = False) -> dict[str, Any]:
    return {"name": name, "in": "query", "description": description, "required": required, "schema": schema}


def _text(pattern: str, max_length: int = 200) -> dict[str, Any]:
    return {"type": "string", "maxLength": max_length, "pattern": pattern}


_AUTH = {"401": _error("Not logged in"), "403": _error("Not a supervisor or admin")}
_ANY_OF = "any of these, separated by commas (or the parameter repeated)"
_HIT = {"type": "object", "required": ["id", "created_at", "channel", "status", "risk_grade"], "properties": {
    "id": {"type": "string"}, "created_at": {"type": "string", "format": "date-time"},
    "channel": {"type": "string"}, "language": {"type": "string"}, "status": {"type": "string"},
    "priority": {"type": "string"}, "risk_grade": {"type": "string"},
    **{k: {"type": ["string", "null"]} for k in ("product", "customer_name", "assignee", "outcome", "description")}}}
_SEARCH_PARAMETERS = [
    _query("q", "words that all appear in the case's text (Chinese or English, any capitals; at most ten)",
           _text(_WORDS)),
    _query("contact", "an email address, or a phone number in any format (at least 4 digits)", _text(_CONTACT)),
    _query("account", "an account number, exactly", _text(f"^[^{_NO_NUL}]*$")),
    _query("case_id", "a case id, or its beginning (C-2611)", _text("^[Cc](?:-[0-9A-Za-z]*)*$")),
    _query("product", f"products: {_ANY_OF}", _text(_LABELS, 1000)),
    _query("channel", f"channels: {_ANY_OF}", _text(_LABELS, 1000)),
    _query("status", f"statuses: {_ANY_OF}", _text(_one_of(STATUSES), 1000)),
    _query("risk", f"risk grades: {_ANY_OF}", _text(_one_of(RISK_GRADES), 1000)),
    _query("from", "first day received, in the desk's time zone (the two days in either order)", _text(f"^{_DAY}$")),
    _query("to", "last day received, included", _text(f"^{_DAY}$")),
    _query("page", "page number, from 1", {"type": "integer", "minimum": 1, "maximum": MAX_PAGE}),
    _query("page_size", "cases per page", {"type": "integer", "minimum": 1, "maximum": MAX_PAGE_SIZE}),
]

_TEXT_OR_NULL = {"type": ["string", "null"]}
_ENTRY = {"type": "object", "required": ["case_id", "unit", "sha256", "fields"], "properties": {
    "case_id": {"type": "string"}, "unit": {"type": "string"},
    "sha256": {"type": "string", "description": "SHA-256 of the case as complaint-gateway export computes it"},
    "fields": {"type": "object", "description": "exactly the register's fields, by their Chinese names, in order",
               "required": [zh for _, zh, _ in FIELDS], "additionalProperties": False,
               "properties": {zh: {**_TEXT_OR_NULL, "description": en} for _, zh, en in FIELDS}}}}
_RUN = {"type": "object", "properties": {"unit": {"type": "string"}, "format": {"type": "string"},
                                         "by": {"type": "string"}, "at": {"type": "string", "format": "date-time"},
                                         "cases": {"type": "integer"}}}
_FILES = {"text/html": {"schema": {"type": "string"}}, "text/csv": {"schema": {"type": "string"}},
          "application/pdf": {"schema": {"type": "string", "format": "binary"}}}

OPENAPI_PATHS: dict[str, Any] = {
    "/api/records/search": {"get": {
        "summary": "Search the record: cases matching every filter given, newest first (supervisors and admins)",
        "parameters": _SEARCH_PARAMETERS,
        "responses": {
            "200": {"description": "A page of matches", "content": {"application/json": {"schema": {
                "type": "object", "required": ["items", "total", "page", "page_size", "pages"], "properties": {
                    "items": {"type": "array", "items": _HIT}, "total": {"type": "integer"},
                    "page": {"type": "integer"}, "page_size": {"type": "integer"}, "pages": {"type": "integer"},
                    "zone": {"type": "string"}}}}}},
            "400": _bad_request("A filter is not valid"), **_AUTH,
        },
    }},
    "/api/records/report": {"get": {
        "summary": "Complaint analysis for a quarter, a month or a range of days, against the period before "
                   "(supervisors and admins)",
        "parameters": [
            _query("period", "2026Q4, 2026-11, or 2026-10-01..2026-10-15 (days in the desk's time zone)",
                   _text(f"^(?:{_YEAR}-?[Qq][1-4]|{_YEAR}-(0[1-9]|1[0-2])|{_DAY}\\.\\.{_DAY})$", 40),
                   required=True),
            _query("format", "json (the default), html, csv or pdf",
                   {"type": "string", "enum": list(FORMATS)}),
            _query("charts", "true: the JSON carries the charts too, as base64 PNG", {"type": "boolean"}),
        ],
        "responses": {
            "200": {"description": "The report", "content": {
                "application/json": {"schema": {"type": "object"}}, "text/html": {"schema": {"type": "string"}},
                "text/csv": {"schema": {"type": "string"}},
                "application/pdf": {"schema": {"type": "string", "format": "binary"}}}},
            "400": _bad_request("No period, or one that cannot be read; or an unknown format"), **_AUTH,
        },
    }},
    "/api/cases/{case_id}/register": {"get": {
        "summary": "One case's register entry (记录表): the register's fields in Chinese, as JSON, HTML (with "
                   "English labels) or PDF (supervisors and admins of the receiving unit or above)",
        "parameters": [
            {"name": "case_id", "in": "path", "required": True, "schema": {"type": "string"}},
            _query("format", "json (the default), html or pdf",
                   {"type": "string", "enum": list(REGISTER_ENTRY_FORMATS)}),
        ],
        "responses": {
            "200": {"description": "The entry", "content": {
                "application/json": {"schema": _ENTRY}, "text/html": {"schema": {"type": "string"}},
                "application/pdf": {"schema": {"type": "string", "format": "binary"}}}},
            "400": _bad_request("An unknown format"), "404": _error("No such case in the record"), **_AUTH,
        },
    }},
    "/api/records/register": {"get": {
        "summary": "A unit's month of register entries (记录表): JSON to read, or an HTML, CSV or PDF file to file "
                   "with head office (producing a file is recorded)",
        "parameters": [
            _query("month", "the month, such as 2026-11 (days in the desk's time zone)", _text(_MONTH, 7),
                   required=True),
            _query("unit", "a unit id (GET /api/units); default the reader's own", _text(f"^[^{_NO_NUL}]*$", 64)),
            _query("format", "json (the default), html, csv or pdf",
                   {"type": "string", "enum": ["json", *REGISTER_FORMATS]}),
        ],
        "responses": {
            "200": {"description": "The month", "content": {"application/json": {"schema": {
                "type": "object", "required": ["unit", "month", "entries"], "properties": {
                    "unit": {"type": "object"}, "month": {"type": "string"}, "zone": {"type": "string"},
                    "fields": {"type": "array"}, "entries": {"type": "array", "items": _ENTRY},
                    "runs": {"type": "array", "items": _RUN}}}}, **_FILES}},
            "400": _bad_request("No month, or one that cannot be read; or an unknown format"),
            "404": _error("No such unit"), **_AUTH,
        },
    }},
    "/api/records/register-status": {"get": {
        "summary": "Which units file a register for the month, when it is due at head office (the third trading "
                   "day after it) and when each was produced",
        "parameters": [_query("month", "the month, such as 2026-11 (default: last month)", _text(_MONTH, 7))],
        "responses": {
            "200": {"description": "The units", "content": {"application/json": {"schema": {
                "type": "object", "required": ["month", "due_by", "units"], "properties": {
                    "month": {"type": "string"}, "due_by": {"type": "string", "format": "date-time"},
                    "units": {"type": "array", "items": {"type": "object", "properties": {
                        "id": {"type": "string"}, "name": {"type": "object"},
                        "produced": {"type": "array", "items": _RUN}}}}}}}}},
            "400": _bad_request("A month that cannot be read"), **_AUTH,
        },
    }},
    "/api/records/cases/{case_id}/export": {"get": {
        "summary": "One case with its conversation and audit trail, as a file (supervisors and admins)",
        "parameters": [
            {"name": "case_id", "in": "path", "required": True, "schema": {"type": "string"}},
            _query("format", "json (the default) or html", {"type": "string", "enum": list(EXPORT_FORMATS)}),
        ],
        "responses": {
            "200": {"description": "The file (Content-Disposition: attachment)", "content": {
                "application/json": {"schema": {"type": "object"}}, "text/html": {"schema": {"type": "string"}}}},
            "400": _bad_request("An unknown format"), "404": _error("No such case in the record"), **_AUTH,
        },
    }},
}

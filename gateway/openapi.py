"""The agent API's OpenAPI 3.1 description, served at GET /api/openapi.json."""

from __future__ import annotations

from typing import Any

from gateway.records_openapi import OPENAPI_PATHS as RECORDS_PATHS
from handoff.cases import STATUSES


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


_ERRORS = {
    "401": _json(_ref("Error"), "Not logged in"),
    "403": _json(_ref("Error"), "Not allowed: another desk's case, the wrong role, or a cookie session "
                                "without its X-CSRF-Token header"),
    "404": _json(_ref("Error"), "No such case"),
    "409": _json(_ref("Error"), "The case is not in a state that allows this"),
}
_BODY_ERRORS = {
    "400": _json(_ref("Error"), "The body is not a JSON object"),
    "422": _json(_ref("Error"), "A field is missing or invalid"),
}
_CASE_ID = {"name": "case_id", "in": "path", "required": True, "schema": {"type": "string"}}


def _case_action(summary: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "summary": summary,
        "parameters": [_CASE_ID],
        "responses": {"200": _json(_ref("Case"), "The case after the change"), **_ERRORS},
    }
    if body is not None:
        operation["requestBody"] = {"required": True, "content": {"application/json": {"schema": body}}}
        operation["responses"].update(_BODY_ERRORS)
    return {"post": operation}


# Text with at least one visible character (blank text is refused like missing text) and no NUL (refused: it
# cannot be stored). The visible character is not a NUL either: a bare \S would let "\x00" through.
# Text with something in it: not only what Python's strip() removes, which is \s and the separators \x1c-\x1f
# and \x85 (the server checks "not blank" that way; the schema's \s is ECMAScript's, without those).
_NOT_BLANK = r"^[^\x00]*[^\x00\s\x1c-\x1f\x85][^\x00]*$"
_TEXT = {"type": "string", "minLength": 1, "pattern": _NOT_BLANK}
_AGENT = {"type": "object", "required": ["name", "role", "languages"], "properties": {
    "name": {"type": "string"}, "role": {"type": "string", "enum": ["agent", "supervisor", "admin"]},
    "languages": {"type": "array", "items": {"type": "string", "enum": ["zh", "en"]}},
    "disabled": {"type": "boolean"}}}
_AGENT_NAME = {"name": "name", "in": "path", "required": True,
               "schema": {"type": "string", "pattern": r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"}}
_PASSWORD = {**_TEXT, "minLength": 8, "maxLength": 1024}
_DESKS = {"type": "array", "minItems": 1, "items": {"type": "string", "enum": ["zh", "en"]}}
_ROLE = {"type": "string", "enum": ["agent", "supervisor", "admin"]}
_ACCOUNT_ERRORS = {
    "404": _json(_ref("Error"), "No such account"),
    "409": _json(_ref("Error"), "The last enabled admin can be neither disabled nor demoted"),
}


def _account_action(summary: str, body: dict[str, Any] | None = None, method: str = "post") -> dict[str, Any]:
    operation: dict[str, Any] = {
        "summary": summary,
        "parameters": [_AGENT_NAME],
        "responses": {"200": _json(_AGENT, "The account after the change"), **_AUTH_ERRORS, **_ACCOUNT_ERRORS},
    }
    if body is not None:
        operation["requestBody"] = {"required": True, "content": {"application/json": {"schema": body}}}
        operation["responses"].update(_BODY_ERRORS)
    return {method: operation}
_AUTH_ERRORS = {"401": _ERRORS["401"], "403": _ERRORS["403"]}
_ENTRY = {"type": "object", "properties": {"at": {"type": "string"}, "by": {"type": "string"},
                                           "text": {"type": "string"}}}
_MONEY = {"type": ["object", "null"], "required": ["amount", "currency"], "properties": {
    "amount": {"type": "number", "minimum": 0}, "currency": {"type": "string", "pattern": "^[A-Za-z]{3}$"}}}
_PLAN = {"type": "object", "required": ["answer", "outcome"], "properties": {
    "answer": {"type": "string", "minLength": 1, "maxLength": 10_000, "pattern": _NOT_BLANK},
    "outcome": {"type": "string", "enum": ["upheld", "partially_upheld", "not_upheld", "withdrawn"]},
    "measures": {"type": ["string", "null"], "maxLength": 10_000, "pattern": r"^[^\x00]*$"},
    "compensation": _MONEY,
    "responsible": {"type": ["object", "null"], "required": ["staff", "action"], "properties": {
        "staff": {"type": "string", "minLength": 1, "maxLength": 10_000, "pattern": _NOT_BLANK},
        "action": {"type": "string", "minLength": 1, "maxLength": 10_000, "pattern": _NOT_BLANK}}}}}
_CANNED = {"type": "object", "properties": {"id": {"type": "integer"}, "language": {"type": "string"},
                                            "title": {"type": "string"}, "text": {"type": "string"},
                                            "by": {"type": "string"}, "at": {"type": "string"}}}
_OPTIONAL_TEXT = {"type": ["string", "null"], "maxLength": 10_000, "pattern": r"^[^\x00]*$"}
_REGISTRATION = {
    "type": "object", "required": ["channel", "language", "complaint"],
    "properties": {
        "channel": {"type": "string", "enum": ["in_person", "letter", "comment_book", "phone", "referral"]},
        "language": {"type": "string", "enum": ["zh", "en"]},
        "unit": {**_OPTIONAL_TEXT, "description": "A unit's id (GET /api/units); default the head office"},
        "received_at": {"type": ["string", "null"], "format": "date-time",
                        "description": "When the complaint came in (default now; not in the future)"},
        "late_reason": {**_OPTIONAL_TEXT, "description": "Needed when received_at is more than an hour ago"},
        "preliminary_opinion": _OPTIONAL_TEXT,
        "customer": {"type": "object", "properties": {
            "name": _OPTIONAL_TEXT, "phone": _OPTIONAL_TEXT, "email": _OPTIONAL_TEXT, "account_id": _OPTIONAL_TEXT,
            "contact_declined": {"type": "boolean"}}},
        "complaint": {"type": "object", "required": ["description"], "properties": {
            "description": {"type": "string", "minLength": 1, "maxLength": 10_000,
                            "pattern": _NOT_BLANK},
            "product": {"type": ["string", "null"], "enum": [
                "brokerage_account", "online_trading", "margin_trading", "funds_wealth", "ipo_subscription",
                "bank_securities_transfer", "fees_commissions", "dividends_corporate_actions", "branch_service",
                "other", None]},
            "incident_time": {"type": ["string", "null"], "description": "ISO 8601 date or date and time"},
            **{k: _OPTIONAL_TEXT for k in ("place", "people_involved", "desired_resolution")}}},
        "attachment": {"type": "object", "required": ["content_base64"], "properties": {
            "name": {"type": "string"}, "content_type": {"type": "string"},
            "content_base64": {"type": "string", "contentEncoding": "base64"}}},
    },
}
_NULLABLE_TEXT = {"type": ["string", "null"]}

SPEC: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {"title": "complaint-gateway agent API", "version": "0.1.0"},
    "components": {
        "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"},
                            "cookie": {"type": "apiKey", "in": "cookie", "name": "cg_session"}},
        "schemas": {
            "Error": {"type": "object", "properties": {"error": {"type": "string"}}, "required": ["error"]},
            "Case": {
                "type": "object",
                "required": ["id", "channel", "language", "status", "risk", "priority", "customer", "complaint",
                             "deadlines", "assignee"],
                "properties": {
                    "id": {"type": "string", "pattern": r"^C-\d{6}-[0-9A-Z]{4}$"},
                    "channel": {"type": "string"},
                    "language": {"type": "string", "enum": ["zh", "en"]},
                    "status": {"type": "string", "enum": list(STATUSES)},
                    "department": _NULLABLE_TEXT,
                    "nature": {"type": ["string", "null"], "enum": ["service_environment", "product", "attitude",
                                                                     "process", "other", None]},
                    "notes": {"type": "array", "items": _ENTRY},
                    "findings": {"type": "array", "items": _ENTRY},
                    "proposal": {"type": ["object", "null"]},
                    "approval": {"type": ["object", "null"]},
                    "escalations": {"type": "array", "items": {"type": "object"}},
                    "needs_approval": {"type": "boolean",
                                       "description": "Whether a plan for this case waits for a supervisor"},
                    "earlier_cases": {"type": "array", "description": "The customer's other cases (one case only)",
                                      "items": {"type": "object", "properties": {
                                          "id": {"type": "string"}, "status": {"type": "string"}}}},
                    "risk": {"type": "object", "properties": {
                        "grade": {"type": "string", "enum": ["high", "medium", "low"]},
                        "score": {"type": "integer"},
                        "reasons": {"type": "array", "items": {"type": "string"}},
                        "rules": {"type": "array", "items": {"type": "string"}}}},
                    "due": {"type": ["string", "null"], "enum": ["overdue", "due_soon", "on_time", None],
                            "description": "How the answer deadline stands; null once answered or closed"},
                    "satisfaction": {"type": ["object", "null"], "properties": {
                        "score": {"type": "integer", "minimum": 1, "maximum": 5},
                        "at": {"type": "string", "format": "date-time"}}},
                    "priority": {"type": "string", "enum": ["urgent", "high", "normal", "low"]},
                    "received_at": {"type": "string", "format": "date-time",
                                    "description": "The complaint's first message: every deadline counts from it"},
                    "incomplete": {"type": "boolean"},
                    "missing": {"type": "array", "items": {"type": "string", "enum": [
                        "name", "contact", "description", "product", "incident_time", "desired_resolution"]}},
                    "script": {"type": ["string", "null"], "enum": ["Hans", "Hant", None]},
                    "unit": {"type": "string", "description": "The receiving unit (GET /api/units)"},
                    "preliminary_opinion": _NULLABLE_TEXT,
                    "registered_by": {**_NULLABLE_TEXT, "description": "The staff member who registered it"},
                    "customer": {"type": "object", "properties": {
                        **{k: _NULLABLE_TEXT for k in ("name", "phone", "email", "account_id")},
                        "contact_declined": {"type": "boolean"}}},
                    "complaint": {"type": "object", "properties": {
                        k: _NULLABLE_TEXT for k in ("product", "incident_time", "place", "people_involved",
                                                    "description", "desired_resolution")}},
                    "deadlines": {"type": "object", "properties": {
                        k: {"type": "string", "format": "date-time"}
                        for k in ("acknowledge_by", "investigate_by", "respond_by")}},
                    "assignee": _NULLABLE_TEXT,
                    "messages": {"type": "array", "items": {"type": "object", "properties": {
                        "at": {"type": "string"}, "from": {"type": "string"}, "channel": {"type": "string"},
                        "text": {"type": "string"}}}},
                    "events": {"type": "array", "items": {"type": "object", "properties": {
                        "at": {"type": "string"}, "actor": {"type": "string"}, "action": {"type": "string"},
                        "before": _NULLABLE_TEXT, "after": {"type": "string"}, "detail": _NULLABLE_TEXT}}},
                },
            },
        },
    },
    "security": [{"bearer": []}, {"cookie": []}],
    "paths": {
        "/api/login": {"post": {
            "summary": "Log in; answers a bearer token and sets the console's session cookie",
            "security": [],
            "requestBody": {"required": True, "content": {"application/json": {"schema": {
                "type": "object", "required": ["name", "password"],
                "properties": {"name": _TEXT, "password": _TEXT}}}}},
            "responses": {
                "200": _json({"type": "object", "properties": {
                    "token": {"type": "string"}, "agent": _AGENT,
                    "csrf": {"type": "string", "description": "Send as X-CSRF-Token with a cookie session"}}},
                    "Logged in"),
                "401": _json(_ref("Error"), "Wrong name or password"), **_BODY_ERRORS,
                "415": _json(_ref("Error"), "The body is not JSON (Content-Type: application/json)"),
                "429": _json(_ref("Error"), "Tried too fast: wait for the Retry-After header's seconds"),
            },
        }},
        "/api/logout": {"post": {"summary": "End this token", "responses": {
            "200": {"description": "Done"}, "403": _ERRORS["403"]}}},
        "/api/me": {"get": {"summary": "Who is logged in, with the CSRF token of this session", "responses": {
            "200": _json(_AGENT, "The agent"), "401": _ERRORS["401"]}}},
        "/api/agents": {
            "get": {"summary": "Every handler's account (supervisors and admins)", "responses": {
                "200": _json({"type": "object", "properties": {"agents": {"type": "array", "items": _AGENT}}},
                             "The accounts"), **_AUTH_ERRORS}},
            "post": {"summary": "Create an account (admins); an existing name is 409, never overwritten",
                     "requestBody": {"required": True, "content": {"application/json": {"schema": {
                         "type": "object", "required": ["name", "password"], "properties": {
                             "name": {"type": "string", "pattern": r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"},
                             "password": _PASSWORD, "role": _ROLE, "languages": _DESKS}}}}},
                     "responses": {"201": _json(_AGENT, "The account"), **_AUTH_ERRORS, **_BODY_ERRORS,
                                   "409": _json(_ref("Error"), "An account of that name exists")}},
        },
        "/api/agents/{name}": _account_action(
            "Change an account's role or desks (admins); its open sessions follow at once",
            {"type": "object", "minProperties": 1, "properties": {"role": _ROLE, "languages": _DESKS}}, "patch"),
        "/api/agents/{name}/disable": _account_action("Disable an account and end its sessions (admins)"),
        "/api/agents/{name}/enable": _account_action("Enable a disabled account (admins)"),
        "/api/agents/{name}/reset": _account_action(
            "Set a new password and end the account's sessions (admins)",
            {"type": "object", "required": ["password"], "properties": {"password": _PASSWORD}}),
        "/api/account-events": {"get": {
            "summary": "Who changed whose account, when and what, newest first (admins)",
            "parameters": [{"name": "name", "in": "query", "schema": {"type": "string"}}],
            "responses": {"200": _json({"type": "object", "properties": {"events": {"type": "array", "items": {
                "type": "object", "properties": {
                    "at": {"type": "string", "format": "date-time"}, "actor": {"type": "string"},
                    "action": {"type": "string"}, "target": {"type": "string"}, "detail": {"type": "object"}}}}}},
                "The account events"), **_AUTH_ERRORS}}},
        "/api/cases": {"post": {
            "summary": "Register a complaint staff took (walk-in, letter, comment book, phone, referral); the "
                       "logged-in handler is its receiver",
            "requestBody": {"required": True, "content": {"application/json": {"schema": _REGISTRATION}}},
            "responses": {"201": _json(_ref("Case"), "The case, queued"), **_AUTH_ERRORS, **_BODY_ERRORS}},
            "get": {
            "summary": "Cases, oldest first; open ones unless a status is given",
            "parameters": [
                {"name": "status", "in": "query", "schema": {"type": "string", "enum": list(STATUSES)}},
                {"name": "risk", "in": "query", "schema": {"type": "string", "enum": ["high", "medium", "low"]}},
                {"name": "unit", "in": "query", "schema": {"type": "string"}},
                {"name": "department", "in": "query", "schema": {"type": "string"}},
                {"name": "due", "in": "query", "schema": {"type": "string", "enum": ["return_visit", "follow_up"]}},
            ],
            "responses": {"200": _json({"type": "object", "properties": {
                "cases": {"type": "array", "items": _ref("Case")}}}, "The cases on the agent's desks"),
                "400": _json(_ref("Error"), "An unknown status or risk"), "401": _ERRORS["401"]},
        }},
        "/api/units": {"get": {"summary": "The firm's units (ORG_FILE): head office, branches, departments",
                               "responses": {"200": _json({"type": "object", "properties": {"units": {
                                   "type": "array", "items": {"type": "object", "properties": {
                                       "id": {"type": "string"}, "kind": {"type": "string"},
                                       "parent": _NULLABLE_TEXT, "name": {"type": "object"}}}}}}, "The units"),
                                   "401": _ERRORS["401"]}}},
        "/api/channels": {"get": {
            "summary": "Every channel adapter in registry order (on here or not, what it can do), then the ways staff "
                       "register a complaint (adapter false)",
            "responses": {"200": _json({"type": "object", "properties": {"channels": {
                "type": "array", "items": {"type": "object", "required": ["name", "title", "adapter", "on"],
                                           "properties": {
                    "name": {"type": "string"}, "title": {"type": "object", "properties": {
                        "zh": {"type": "string"}, "en": {"type": "string"}}},
                    "adapter": {"type": "boolean"}, "on": {"type": "boolean"},
                    "capabilities": {"type": ["object", "null"], "properties": {
                        "survey": {"type": "boolean"}, "batch": {"type": "boolean"},
                        "answer_later": {"type": "boolean"}, "reply_deadline": {"type": ["number", "null"]},
                        "writes_to_phone": {"type": "boolean"}}}}}}}}, "The channels"),
                          "401": _ERRORS["401"]}}},
        "/api/cases/next": {"post": {"summary": "Claim the most urgent waiting case", "responses": {
            "200": _json(_ref("Case"), "The case, now yours"), "204": {"description": "Nobody is waiting"},
            **_AUTH_ERRORS}}},
        "/api/cases/{case_id}": {"get": {"summary": "One case with its conversation and audit trail",
                                         "parameters": [_CASE_ID],
                                         "responses": {"200": _json(_ref("Case"), "The case"), **_ERRORS}}},
        "/api/cases/{case_id}/claim": _case_action("Claim a waiting case"),
        "/api/cases/{case_id}/release": _case_action("Give a claimed case back to the queue"),
        "/api/cases/{case_id}/reply": _case_action(
            "Answer the customer through their own channel",
            {"type": "object", "required": ["text"], "properties": {"text": _TEXT}}),
        "/api/cases/{case_id}/resolve": _case_action(
            "Record the answer and outcome",
            {"type": "object", "required": ["summary", "outcome"], "properties": {
                "summary": _TEXT,
                "outcome": {"type": "string", "enum": ["upheld", "partially_upheld", "not_upheld", "withdrawn"]}}}),
        "/api/cases/{case_id}/close": _case_action("Close an answered case"),
        "/api/cases/{case_id}/reassign": _case_action(
            "Give the case to another handler of its desk (supervisors and admins)",
            {"type": "object", "required": ["agent"], "properties": {"agent": _TEXT}}),
        "/api/cases/{case_id}/attachments/{sha256}": {"get": {
            "summary": "A file the customer sent with the case, as a download (Content-Disposition: attachment)",
            "parameters": [_CASE_ID, {"name": "sha256", "in": "path", "required": True,
                                      "schema": {"type": "string", "pattern": "^[0-9a-f]{64}$"}}],
            "responses": {"200": {"description": "The file's bytes", "content": {"application/octet-stream": {
                "schema": {"type": "string", "format": "binary"}}}}, **_ERRORS}}},
        "/api/cases/{case_id}/notes": _case_action(
            "An internal note for colleagues (never sent to the customer)",
            {"type": "object", "required": ["text"], "properties": {"text": _TEXT}}),
        "/api/cases/{case_id}/findings": _case_action(
            "What the investigation established (the holder)",
            {"type": "object", "required": ["text"], "properties": {"text": _TEXT}}),
        "/api/cases/{case_id}/classify": _case_action(
            "Set the complaint's nature and its responsible department (a unit)",
            {"type": "object", "minProperties": 1, "properties": {
                "nature": {"type": "string", "enum": ["service_environment", "product", "attitude", "process",
                                                      "other"]},
                "department": _TEXT}}),
        "/api/cases/{case_id}/propose": _case_action(
            "The handling plan: sent at once where APPROVAL_POLICY needs no approval, else awaiting_approval; a "
            "forbidden phrase in the answer is 422", _PLAN),
        "/api/cases/{case_id}/approve": _case_action(
            "A supervisor of the case's unit or above approves another's plan: the answer goes to the customer"),
        "/api/cases/{case_id}/return": _case_action(
            "A supervisor returns the plan to its proposer with the reason",
            {"type": "object", "required": ["reason"], "properties": {"reason": _TEXT}}),
        "/api/cases/{case_id}/escalate": _case_action(
            "Move the case to a higher unit's queue with the reason; its supervisors are alerted",
            {"type": "object", "required": ["to", "reason"], "properties": {"to": _TEXT, "reason": _TEXT}}),
        "/api/cases/{case_id}/return-visit": _case_action(
            "Log a return visit (回访): a satisfied customer closes the case, one not reached is tried again (then "
            "closed as not reached), a low score or measures not carried out reopens it to its handler",
            {"type": "object", "required": ["method", "reached"], "properties": {
                "at": {"type": ["string", "null"], "format": "date-time"},
                "method": {"type": "string", "enum": ["phone", "sms", "email", "webchat", "visit", "letter", "other"]},
                "reached": {"type": "boolean"},
                "score": {"type": ["integer", "null"], "minimum": 1, "maximum": 5},
                "measures_verified": {"type": ["boolean", "null"]},
                "note": {"type": ["string", "null"], "maxLength": 10_000, "pattern": r"^[^\x00]*$"}}}),
        "/api/cases/{case_id}/follow-up": _case_action(
            "A date to come back to the case",
            {"type": "object", "required": ["on"], "properties": {
                "on": {"type": "string", "format": "date"},
                "note": {"type": ["string", "null"], "maxLength": 10_000, "pattern": r"^[^\x00]*$"}}}),
        "/api/cases/{case_id}/flag": _case_action(
            "Mark a typical case for the quarter's case studies (with the reason), or unmark it",
            {"type": "object", "required": ["typical"], "properties": {
                "typical": {"type": "boolean"}, "reason": {"type": ["string", "null"], "maxLength": 10_000,
                                                           "pattern": r"^[^\x00]*$"}}}),
        "/api/canned-replies": {
            "get": {"summary": "Approved answer templates", "parameters": [
                {"name": "language", "in": "query", "schema": {"type": "string", "enum": ["zh", "en"]}}],
                "responses": {"200": _json({"type": "object", "properties": {
                    "replies": {"type": "array", "items": _CANNED}}}, "The templates"), "401": _ERRORS["401"]}},
            "post": {"summary": "Add a template (supervisors); a forbidden phrase is 422",
                     "requestBody": {"required": True, "content": {"application/json": {"schema": {
                         "type": "object", "required": ["language", "title", "text"], "properties": {
                             "language": {"type": "string", "enum": ["zh", "en"]},
                             "title": {**_TEXT, "maxLength": 200}, "text": {**_TEXT, "maxLength": 4000}}}}}},
                     "responses": {"201": _json(_CANNED, "The template"), **_AUTH_ERRORS, **_BODY_ERRORS}},
        },
        "/api/canned-replies/{reply_id}": {"delete": {
            "summary": "Remove a template (supervisors)",
            "parameters": [{"name": "reply_id", "in": "path", "required": True,
                            "schema": {"type": "integer", "minimum": 0, "maximum": 999_999_999}}],
            "responses": {"200": {"description": "Removed"}, **_AUTH_ERRORS,
                          "404": _json(_ref("Error"), "No such template")}}},
        "/api/events": {"get": {"summary": "Server-sent events: a JSON line per case change or alert the reader "
                                           "may see (their desks; supervisor alerts for supervisors)",
                                "responses": {"200": {"description": "text/event-stream"}, "401": _ERRORS["401"],
                                              "429": _json(_ref("Error"), "Too many open streams")}}},
        "/api/openapi.json": {"get": {"summary": "This document", "security": [],
                                      "responses": {"200": {"description": "OpenAPI 3.1"}}}},
        **RECORDS_PATHS,
    },
}

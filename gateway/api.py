"""The agent API (JSON, under /api) and the console page that uses it.

Every request but login needs a token: ``Authorization: Bearer`` or the console's session cookie; a cookie
session's changes (POST) also need the ``X-CSRF-Token`` header. Each authenticated request is also a
heartbeat for the agent's claims. Agents see the desks (case languages) they read; supervisors and admins
see every desk, and only they reassign cases or list accounts. Errors are JSON ``{"error": ...}`` with the
status that says what went wrong (401 no session, 403 not allowed); a refused request changes nothing.
"""

from __future__ import annotations

import json
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

from aiohttp import web

from channels.base import CannotDeliver
from channels.language import script
from channels.text import UnsafeText, clean_text
from gateway import keys
from gateway.auth import (
    LANGUAGES,
    AccountError,
    AccountExists,
    AccountNotFound,
    Agent,
    AuthError,
    LastAdmin,
    Throttled,
    csrf_matches,
    csrf_token,
)
from gateway.openapi import SPEC
from handoff.cases import STATUSES, Case, CaseConflict, CaseError, CaseForbidden, CaseNotFound
from handoff.desk import CannotReach, Desk, Staff
from handoff.lifecycle import Role
from handoff.queue import desk_of, unit_of
from handoff.registration import registration
from handoff.sla import DUE_SOON, SlaPolicy, urgency
from store.keys import attachment_key

CONSOLE_DIR = Path(__file__).with_name("console_static")
COOKIE = "cg_session"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
SETTLED = ("answered", "closed")
MAX_REPLY = 10_000
ATTACHMENT_HOLD_SECONDS = 30 * 24 * 3600  # a scan waits in Redis at most this long for the record to take it
STREAMS_PER_AGENT = 5  # open event streams per handler on one gateway (a console needs one)
OPEN_STREAMS = web.AppKey("open_streams", Counter)
DESK = web.AppKey("desk", Desk)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def routes() -> list[web.AbstractRouteDef]:
    return [
        web.post("/api/login", login),
        web.post("/api/logout", logout),
        web.get("/api/me", me),
        web.get("/api/openapi.json", openapi),
        web.get("/api/cases", list_cases),
        web.post("/api/cases", register),
        web.get("/api/units", list_units),
        web.post("/api/cases/next", next_case),
        web.get("/api/cases/{case_id:C-[^/]+}", get_case),
        web.post("/api/cases/{case_id:C-[^/]+}/claim", claim),
        web.post("/api/cases/{case_id:C-[^/]+}/release", release),
        web.post("/api/cases/{case_id:C-[^/]+}/reply", reply),
        web.post("/api/cases/{case_id:C-[^/]+}/resolve", resolve),
        web.post("/api/cases/{case_id:C-[^/]+}/close", close),
        web.post("/api/cases/{case_id:C-[^/]+}/reassign", reassign),
        web.get("/api/cases/{case_id:C-[^/]+}/attachments/{sha256:[0-9a-f]{64}}", attachment),
        web.get("/api/agents", list_agents),
        web.post("/api/agents", add_agent),
        web.patch("/api/agents/{name}", change_agent),
        web.post("/api/agents/{name}/disable", disable_agent),
        web.post("/api/agents/{name}/enable", enable_agent),
        web.post("/api/agents/{name}/reset", reset_agent),
        web.get("/api/account-events", account_events),
        web.get("/api/events", events),
        web.get("/agent", console),
        web.static("/agent/static", CONSOLE_DIR),
    ]


def error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


@web.middleware
async def json_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Turn refusals into JSON answers at the edge, for the API only."""
    if not request.path.startswith("/api/"):
        return await handler(request)
    try:
        return await handler(request)
    except CaseNotFound as exc:
        return error(404, str(exc))
    except CaseForbidden as exc:
        return error(403, str(exc))
    except (CaseConflict, CannotReach) as exc:
        return error(409, str(exc))
    except CaseError as exc:
        return error(422, str(exc))
    except CannotDeliver as exc:
        return error(409, str(exc))
    except AccountNotFound as exc:
        return error(404, str(exc))
    except (AccountExists, LastAdmin) as exc:
        return error(409, str(exc))
    except AccountError as exc:
        return error(422, str(exc))
    except web.HTTPException as exc:
        if exc.status >= 400 and exc.content_type != "application/json":
            refusal = error(exc.status, exc.text or exc.reason)
            if "Allow" in exc.headers:  # a 405 says which methods the path takes
                refusal.headers["Allow"] = exc.headers["Allow"]
            return refusal
        raise


def public(case: Case, now: datetime | None = None, soon: timedelta = DUE_SOON) -> Case:
    """The case as the API shows it: how its answer deadline stands, and without the channel's internal
    address (a web chat session id)."""
    shown = {k: v for k, v in case.items() if k not in ("conversation_id",)}
    respond_by = case.get("deadlines", {}).get("respond_by")
    settled = case.get("status") in SETTLED or not respond_by
    shown["due"] = None if settled else urgency(datetime.fromisoformat(respond_by), now or datetime.now(UTC), soon)
    shown.setdefault("satisfaction", None)
    return shown


async def json_body(request: web.Request, *required: str, optional: tuple[str, ...] = ()) -> dict[str, Any]:
    """The body's ``required`` and ``optional`` fields (others are ignored), their text made safe to keep."""
    try:
        body = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise web.HTTPBadRequest(text="the body must be JSON") from None
    if not isinstance(body, dict):
        raise web.HTTPBadRequest(text="the body must be a JSON object")
    body = {name: _cleaned(body[name], name) for name in (*required, *optional) if name in body}
    for name in required:
        if not isinstance(body.get(name), str) or not body[name].strip():
            raise web.HTTPUnprocessableEntity(text=f"'{name}' is required and must be text")
    return body


def _cleaned(value: Any, where: str) -> Any:
    """The value as sent, once no text in it holds what cannot be stored (a NUL, half a surrogate pair): that is
    422 naming the field, before anything is done with it."""
    if isinstance(value, str):
        try:
            clean_text(value)
        except UnsafeText as exc:
            raise web.HTTPUnprocessableEntity(text=f"'{where}': {exc}") from None
    elif isinstance(value, dict):
        for key, item in value.items():
            _cleaned(key, where)
            _cleaned(item, f"{where}.{key}")
    elif isinstance(value, list):
        for item in value:
            _cleaned(item, where)
    return value


def _bearer(request: web.Request) -> str | None:
    header = request.headers.get("Authorization", "")
    return header[7:].strip() if header.startswith("Bearer ") else None


def _token(request: web.Request) -> str | None:
    return _bearer(request) or request.cookies.get(COOKIE)


def _check_csrf(request: web.Request, token: str) -> None:
    """A cookie rides along on any site's request; a change must also show the token only our page knows."""
    if request.method in SAFE_METHODS or _bearer(request):
        return
    if not csrf_matches(token, request.headers.get(CSRF_HEADER, "")):
        raise web.HTTPForbidden(text=f"missing or wrong {CSRF_HEADER} header")


async def current_agent(request: web.Request, *roles: str) -> Agent:
    """The logged-in agent (401 without a session); 403 if ``roles`` are given and theirs is not one."""
    token = _token(request)
    agent = await request.app[keys.AGENTS].agent_for(token) if token else None
    if token is None or agent is None:
        raise web.HTTPUnauthorized(text="log in first")
    _check_csrf(request, token)
    if roles and agent.role not in roles:
        raise web.HTTPForbidden(text=f"only a {' or '.join(roles)} may do this")
    await request.app[keys.QUEUE].heartbeat(agent.name)
    return agent


def _due_soon(request: web.Request) -> timedelta:
    return timedelta(hours=request.app[keys.SETTINGS].due_soon_hours)


def _on_desk(request: web.Request, agent: Agent, case: Case) -> Case:
    if not agent.reads(desk_of(case)):
        raise web.HTTPForbidden(text=f"case {case['id']} belongs to another desk ({case['language']})")
    if unit_of(case) not in request.app[keys.ORG].below(agent.unit):
        raise web.HTTPForbidden(text=f"case {case['id']} is handled by {unit_of(case)}, outside {agent.unit}")
    return case


def _visible(request: web.Request, agent: Agent, case: Case) -> bool:
    return agent.reads(desk_of(case)) and unit_of(case) in request.app[keys.ORG].below(agent.unit)


async def login(request: web.Request) -> web.Response:
    # JSON only: a cross-site form can post text/plain without asking, but not application/json.
    if request.content_type != "application/json":
        return error(415, "log in with a JSON body (Content-Type: application/json)")
    body = await json_body(request, "name", "password")
    try:
        token, agent = await request.app[keys.AGENTS].login(body["name"], body["password"], request.remote or "")
    except Throttled as exc:
        refusal = error(429, str(exc))
        refusal.headers["Retry-After"] = str(exc.retry_after)
        return refusal
    except AuthError as exc:
        return error(401, str(exc))
    response = web.json_response({"token": token, "agent": agent.to_dict(), "csrf": csrf_token(token)})
    secure = request.app[keys.SETTINGS].base_url.startswith("https://")
    response.set_cookie(COOKIE, token, httponly=True, samesite="Strict", secure=secure, path="/",
                        max_age=request.app[keys.SETTINGS].token_ttl)
    return response


async def logout(request: web.Request) -> web.Response:
    token = _token(request)
    if token:
        _check_csrf(request, token)
        await request.app[keys.AGENTS].logout(token)
    response = web.json_response({"ok": True})
    response.del_cookie(COOKIE, path="/")
    return response


async def me(request: web.Request) -> web.Response:
    agent = await current_agent(request)
    return web.json_response({**agent.to_dict(), "csrf": csrf_token(_token(request) or "")})


async def openapi(request: web.Request) -> web.Response:
    return web.json_response(SPEC)


async def list_cases(request: web.Request) -> web.Response:
    agent = await current_agent(request)
    status, risk = request.query.get("status") or None, request.query.get("risk") or None
    if status and status not in STATUSES:
        return error(400, f"status must be one of {', '.join(STATUSES)}")
    if risk and risk not in ("high", "medium", "low"):
        return error(400, "risk must be high, medium or low")
    unit, department = request.query.get("unit") or None, request.query.get("department") or None
    due = request.query.get("due") or None
    if due not in (None, "return_visit", "follow_up"):
        return error(400, "due must be return_visit or follow_up")
    cases = await request.app[keys.CASES].list(status=status, risk=risk)
    now = datetime.now(UTC)
    soon = _due_soon(request)
    shown = [public(c, now, soon) for c in cases if _visible(request, agent, c)
             and (unit is None or c.get("unit") == unit) and (department is None or c.get("department") == department)
             and (due is None or _is_due(c, due, now, _desk_zone(request)))]
    return web.json_response({"cases": shown})


def _desk_zone(request: web.Request) -> ZoneInfo:
    return ZoneInfo(SlaPolicy.preset(request.app[keys.SETTINGS].sla_policy).timezone)


def _is_due(case: Case, what: str, now: datetime, zone: ZoneInfo) -> bool:
    """A return visit due (an answered case), or a follow-up date reached on the desk's calendar (an open case)."""
    if what == "return_visit":
        when = str((case.get("return_visit") or {}).get("due") or "")
        return case["status"] == "answered" and bool(when) and datetime.fromisoformat(when) <= now
    on = str((case.get("follow_up") or {}).get("on") or "")
    return case["status"] != "closed" and bool(on) and on <= now.astimezone(zone).date().isoformat()


REGISTRATION_FIELDS = ("channel", "language", "unit", "received_at", "late_reason", "customer", "complaint",
                      "preliminary_opinion", "attachment")


async def register(request: web.Request) -> web.Response:
    """A complaint staff took (a walk-in, a letter, the comment book, a call, a referral): the same checks,
    risk grading, deadlines, queue and audit trail as a bot's intake; the staff member is its receiver."""
    agent = await current_agent(request)
    body = await json_body(request, optional=REGISTRATION_FIELDS)
    zone = SlaPolicy.preset(request.app[keys.SETTINGS].sla_policy).timezone
    taken = registration(body, request.app[keys.ORG], datetime.now(UTC), zone)
    attachments = []
    if taken.attachment is not None:
        entry, content = taken.attachment
        await request.app[keys.REDIS].set(attachment_key(entry["url"].split(":", 1)[1]), content,
                                          ex=ATTACHMENT_HOLD_SECONDS)
        attachments.append(entry)
    said = [taken.complaint["description"]]
    late = f"; received {taken.received_at.isoformat()}, registered late: {taken.late_reason}" if (
        taken.late_reason) else ""
    case = await request.app[keys.CASES].create(
        channel=taken.channel, conversation_id=f"{taken.channel}:{uuid.uuid4().hex}", language=taken.language,
        customer=taken.customer, complaint=taken.complaint, handoff_reason="registered", actor=agent.name,
        attachments=attachments, received_at=taken.received_at, script=script(said) or "Hans", unit=taken.unit,
        preliminary_opinion=taken.preliminary_opinion, action="register", registered_by=agent.name,
        event_detail=f"registered by {agent.name} ({taken.channel}, unit {taken.unit}){late}")
    await request.app[keys.QUEUE].enqueue(case["id"])
    await request.app[keys.EVENTS].publish(case["id"], case["status"], "registered")
    await request.app[keys.ALERTS].high_risk(case)
    full = await request.app[keys.CASES].get(case["id"])
    return web.json_response(public(full, soon=_due_soon(request)), status=201)


async def list_units(request: web.Request) -> web.Response:
    await current_agent(request)
    return web.json_response({"units": [unit.to_dict() for unit in request.app[keys.ORG].units.values()]})


async def get_case(request: web.Request) -> web.Response:
    agent = await current_agent(request)
    case = await request.app[keys.CASES].get(request.match_info["case_id"])
    shown = public(_on_desk(request, agent, case), soon=_due_soon(request))
    shown["earlier_cases"] = await request.app[keys.CASES].earlier_cases(case)
    shown["needs_approval"] = request.app[DESK].needs_approval(case)
    return web.json_response(shown)


async def _desk_case(request: web.Request, agent: Agent) -> str:
    """The case id in the path, once it is known to be on the agent's desks and in their units."""
    case_id = request.match_info["case_id"]
    _on_desk(request, agent, await request.app[keys.CASES].summary(case_id))
    return case_id


def _staff(agent: Agent) -> Staff:
    return Staff(agent.name, Role(agent.role), agent.unit)


def _shown(request: web.Request, case: Case) -> web.Response:
    shown = public(case, soon=_due_soon(request))
    shown["needs_approval"] = request.app[DESK].needs_approval(case)
    return web.json_response(shown)


async def next_case(request: web.Request) -> web.StreamResponse:
    agent = await current_agent(request)
    languages = LANGUAGES if agent.supervises else agent.languages
    case = await request.app[DESK].next(_staff(agent), languages)
    return web.Response(status=204) if case is None else _shown(request, case)


async def claim(request: web.Request) -> web.Response:
    agent = await current_agent(request)
    return _shown(request, await request.app[DESK].claim(_staff(agent), await _desk_case(request, agent)))


async def release(request: web.Request) -> web.Response:
    agent = await current_agent(request)
    return _shown(request, await request.app[DESK].release(_staff(agent), await _desk_case(request, agent)))


async def reply(request: web.Request) -> web.Response:
    agent = await current_agent(request)
    body = await json_body(request, "text")
    if len(body["text"].strip()) > MAX_REPLY:
        return error(413, f"a reply is at most {MAX_REPLY} characters")
    case_id = await _desk_case(request, agent)
    return _shown(request, await request.app[DESK].reply(_staff(agent), case_id, body["text"]))


async def resolve(request: web.Request) -> web.Response:
    agent = await current_agent(request)
    body = await json_body(request, "summary", "outcome")
    case_id = await _desk_case(request, agent)
    return _shown(request, await request.app[DESK].resolve(_staff(agent), case_id, body["summary"],
                                                           body["outcome"]))


async def close(request: web.Request) -> web.Response:
    agent = await current_agent(request)
    return _shown(request, await request.app[DESK].close(_staff(agent), await _desk_case(request, agent)))


async def reassign(request: web.Request) -> web.Response:
    supervisor = await current_agent(request, "supervisor", "admin")
    body = await json_body(request, "agent")
    case_id = await _desk_case(request, supervisor)
    case = await request.app[keys.CASES].summary(case_id)
    target = await request.app[keys.AGENTS].get(body["agent"].strip())
    if target is None or target.disabled:
        return error(422, f"no agent {body['agent'].strip()!r}")
    if not target.reads(desk_of(case)):
        return error(409, f"{target.name} does not read {case['language']}: pick an agent of that desk")
    if unit_of(case) not in request.app[keys.ORG].below(target.unit):
        return error(409, f"{target.name} works in {target.unit}, not above {unit_of(case)}")
    return _shown(request, await request.app[DESK].reassign(_staff(supervisor), case_id, target.name))


# Kinds of file a browser shows as they are without running anything; every other one is sent as bytes to save.
SHOWN_AS_IS = frozenset({"application/pdf", "image/png", "image/jpeg", "image/gif", "image/webp", "text/plain"})


async def attachment(request: web.Request) -> web.Response:
    """A file the customer sent with the case, always as a download: never rendered as a page of ours."""
    agent = await current_agent(request)
    case_id, digest = await _desk_case(request, agent), request.match_info["sha256"]
    found = await request.app[keys.CASES].case_file(case_id, digest)
    if found is None:
        return error(404, f"case {case_id} has no such file (or its content was not kept)")
    name, content_type, content = found
    shown = content_type.split(";")[0].strip().lower()
    disposition = "attachment; filename*=UTF-8''" + quote(name or digest[:12], safe="")
    return web.Response(body=content, headers={
        "Content-Type": shown if shown in SHOWN_AS_IS else "application/octet-stream",
        "Content-Disposition": disposition, "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "sandbox; default-src 'none'", "Cache-Control": "private, no-store"})


async def list_agents(request: web.Request) -> web.Response:
    await current_agent(request, "supervisor", "admin")
    return web.json_response({"agents": [a.to_dict() for a in await request.app[keys.AGENTS].list()]})


async def add_agent(request: web.Request) -> web.Response:
    """Create an account (admins); a name that exists is 409: accounts are changed, never overwritten."""
    admin = await current_agent(request, "admin")
    body = await json_body(request, "name", "password", optional=("role", "languages", "unit"))
    role, languages = body.get("role", "agent"), _languages(body.get("languages", list(LANGUAGES)))
    unit = body.get("unit") or request.app[keys.ORG].head_office.id
    if not isinstance(role, str) or not isinstance(unit, str):
        return error(422, "role and unit must be text")
    agent = await request.app[keys.AGENTS].add(body["name"], body["password"], role, languages, by=admin.name,
                                               unit=unit)
    return web.json_response(agent.to_dict(), status=201)


def _languages(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(x, str) for x in value):
        raise AccountError('languages must be a list such as ["zh", "en"]')
    return tuple(value)


async def _change_agent(request: web.Request, **changes: Any) -> web.Response:
    admin = await current_agent(request, "admin")
    name = request.match_info["name"]
    agent = await request.app[keys.AGENTS].change(name, admin.name, **changes)
    await request.app[keys.EVENTS].publish_account(name)
    return web.json_response(agent.to_dict())


async def change_agent(request: web.Request) -> web.Response:
    """An account's role or desks (admins); its open sessions have the new rights at once."""
    await current_agent(request, "admin")
    body = await json_body(request, optional=("role", "languages", "unit"))
    role, languages, unit = body.get("role"), body.get("languages"), body.get("unit")
    if (role is not None and not isinstance(role, str)) or (unit is not None and not isinstance(unit, str)):
        return error(422, "role and unit must be text")
    return await _change_agent(request, role=role, languages=None if languages is None else _languages(languages),
                               unit=unit)


async def disable_agent(request: web.Request) -> web.Response:
    return await _change_agent(request, disabled=True)


async def enable_agent(request: web.Request) -> web.Response:
    return await _change_agent(request, disabled=False)


async def reset_agent(request: web.Request) -> web.Response:
    """A new password (admins): every session of the account ends at once."""
    await current_agent(request, "admin")
    body = await json_body(request, "password")
    return await _change_agent(request, password=body["password"])


async def account_events(request: web.Request) -> web.Response:
    """Who changed whose account, when and what, newest first (admins)."""
    await current_agent(request, "admin")
    target = request.query.get("name") or None
    return web.json_response({"events": await request.app[keys.AGENTS].changes(target)})


async def events(request: web.Request) -> web.StreamResponse:
    """Server-sent events: one ``data:`` line of JSON per change the reader may see, a comment as keepalive.

    The session is checked again with every event and keepalive: a handler whose rights changed sees what the
    new rights allow, and a session that ended (password reset, account disabled) ends its stream.
    """
    agent = await current_agent(request)
    token = _token(request) or ""
    open_streams = request.app[OPEN_STREAMS]
    if open_streams[agent.name] >= STREAMS_PER_AGENT:
        return error(429, f"at most {STREAMS_PER_AGENT} live streams per handler; close another console first")
    open_streams[agent.name] += 1
    stream = request.app[keys.EVENTS].stream()
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache",
                                           "X-Accel-Buffering": "no"})
    try:
        await anext(stream)  # subscribed before the console hears that the stream is open
        await response.prepare(request)
        async for event in stream:
            reader = await request.app[keys.AGENTS].agent_for(token)
            if reader is None:
                break
            if event is None:
                await response.write(b": keepalive\n\n")
            elif await _may_see(request, reader, json.loads(event)):
                await response.write(f"data: {event}\n\n".encode())
            await request.app[keys.QUEUE].heartbeat(reader.name)
    except ConnectionResetError:
        pass  # the console went away
    finally:
        await stream.aclose()
        open_streams[agent.name] -= 1
    return response


ACCOUNT_ALERTS = ("login_burst", "account_changed")


async def _may_see(request: web.Request, reader: Agent, event: dict[str, Any]) -> bool:
    """Case changes and alerts of the reader's desks; account alerts for admins only; nothing internal."""
    kind = event.get("type")
    if kind == "alert":
        if event.get("kind") in ACCOUNT_ALERTS:
            return reader.role == "admin"
        in_units = str(event.get("unit") or "hq") in request.app[keys.ORG].below(reader.unit)
        return reader.reads(str(event.get("language"))) and in_units
    if kind == "case":
        try:
            case = await request.app[keys.CASES].summary(str(event.get("case_id")))
        except CaseNotFound:
            return False
        return _visible(request, reader, case)
    return False


async def console(request: web.Request) -> web.FileResponse:
    return web.FileResponse(CONSOLE_DIR / "agent.html")

"""The handling steps of the agent API (README.md, "Handling": investigate, propose, approve or return,
escalate), and the supervisors' library of approved answer templates.

Each route authenticates, checks the case is on the person's desks and in their units, calls one verb of the
desk (handoff.desk) and shows the case as it now is. Refusals: 403 (the role, or approving one's own plan), 409
(the case's status), 422 (a missing or bad field, a forbidden phrase, an unknown unit).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aiohttp import web
from sqlalchemy import delete, insert, select

from gateway import keys
from gateway.api import DESK, _desk_case, _shown, _staff, current_agent, error, json_body
from handoff.cases import CaseError
from handoff.desk import Plan, Visit
from handoff.wording import forbidden_in
from records.tables import Base

CANNED = Base.metadata.tables["canned_replies"]
CASE = "/api/cases/{case_id:C-[^/]+}"
MAX_CANNED = 4000


def routes() -> list[web.AbstractRouteDef]:
    return [
        web.post(f"{CASE}/notes", note),
        web.post(f"{CASE}/findings", findings),
        web.post(f"{CASE}/classify", classify),
        web.post(f"{CASE}/propose", propose),
        web.post(f"{CASE}/approve", approve),
        web.post(f"{CASE}/return", return_plan),
        web.post(f"{CASE}/escalate", escalate),
        web.post(f"{CASE}/return-visit", return_visit),
        web.post(f"{CASE}/follow-up", follow_up),
        web.post(f"{CASE}/flag", flag),
        web.get("/api/canned-replies", list_canned),
        web.post("/api/canned-replies", add_canned),
        web.delete("/api/canned-replies/{reply_id:[0-9]{1,9}}", remove_canned),
    ]


async def note(request: web.Request) -> web.Response:
    """An internal note for colleagues: never sent to the customer."""
    agent = await current_agent(request)
    body = await json_body(request, "text")
    case_id = await _desk_case(request, agent)
    return _shown(request, await request.app[DESK].note(_staff(agent), case_id, body["text"]))


async def findings(request: web.Request) -> web.Response:
    agent = await current_agent(request)
    body = await json_body(request, "text")
    case_id = await _desk_case(request, agent)
    return _shown(request, await request.app[DESK].findings(_staff(agent), case_id, body["text"]))


async def classify(request: web.Request) -> web.Response:
    """The complaint's nature (服务环境, 服务产品, 服务态度, 服务流程, other) and its responsible department."""
    agent = await current_agent(request)
    body = await json_body(request, optional=("nature", "department"))
    case_id = await _desk_case(request, agent)
    nature, department = body.get("nature"), body.get("department")
    if (nature is not None and not isinstance(nature, str)) or (department is not None and
                                                                 not isinstance(department, str)):
        return error(422, "'nature' and 'department' are text")
    return _shown(request, await request.app[DESK].classify(_staff(agent), case_id, nature, department))


async def propose(request: web.Request) -> web.Response:
    agent = await current_agent(request)
    body = await json_body(request, optional=("answer", "outcome", "measures", "compensation", "responsible"))
    plan = Plan.from_body(body)
    case_id = await _desk_case(request, agent)
    return _shown(request, await request.app[DESK].propose(_staff(agent), case_id, plan))


async def approve(request: web.Request) -> web.Response:
    agent = await current_agent(request, "supervisor", "admin")
    case_id = await _desk_case(request, agent)
    return _shown(request, await request.app[DESK].approve(_staff(agent), case_id))


async def return_plan(request: web.Request) -> web.Response:
    agent = await current_agent(request, "supervisor", "admin")
    body = await json_body(request, "reason")
    case_id = await _desk_case(request, agent)
    return _shown(request, await request.app[DESK].return_plan(_staff(agent), case_id, body["reason"]))


async def escalate(request: web.Request) -> web.Response:
    agent = await current_agent(request)
    body = await json_body(request, "to", "reason")
    case_id = await _desk_case(request, agent)
    return _shown(request, await request.app[DESK].escalate(_staff(agent), case_id, body["to"].strip(),
                                                            body["reason"]))


async def return_visit(request: web.Request) -> web.Response:
    """The handler logs a return visit: when, how, reached or not, the score, whether the measures were carried
    out, a note."""
    agent = await current_agent(request)
    body = await json_body(request, optional=("at", "method", "reached", "score", "measures_verified", "note"))
    visit = Visit.from_body(body, datetime.now(UTC))
    case_id = await _desk_case(request, agent)
    return _shown(request, await request.app[DESK].return_visit(_staff(agent), case_id, visit))


async def follow_up(request: web.Request) -> web.Response:
    """A date to come back to the case; ``GET /api/cases?due=follow_up`` lists those due."""
    agent = await current_agent(request)
    body = await json_body(request, "on", optional=("note",))
    case_id = await _desk_case(request, agent)
    return _shown(request, await request.app[DESK].follow_up(_staff(agent), case_id, body["on"], body.get("note")))


async def flag(request: web.Request) -> web.Response:
    """Mark a typical case for the quarter's case studies (``{"typical": true, "reason"}``), or unmark it."""
    agent = await current_agent(request)
    body = await json_body(request, optional=("typical", "reason"))
    if not isinstance(body.get("typical"), bool):
        return error(422, "'typical': true or false")
    case_id = await _desk_case(request, agent)
    return _shown(request, await request.app[DESK].flag(_staff(agent), case_id, body["typical"], body.get("reason")))


async def list_canned(request: web.Request) -> web.Response:
    """The approved answer templates, for handlers to insert into a reply or a plan."""
    await current_agent(request)
    language = request.query.get("language")
    query = select(CANNED).order_by(CANNED.c.language, CANNED.c.title)
    if language:
        query = query.where(CANNED.c.language == language)
    async with request.app[keys.RECORD].engine.connect() as connection:
        rows = (await connection.execute(query)).all()
    return web.json_response({"replies": [_canned(row) for row in rows]})


async def add_canned(request: web.Request) -> web.Response:
    """A supervisor adds a template: in Chinese or English, checked against the forbidden phrases."""
    supervisor = await current_agent(request, "supervisor", "admin")
    body = await json_body(request, "language", "title", "text")
    if body["language"] not in ("zh", "en"):
        return error(422, "'language': zh or en")
    if len(body["title"]) > 200 or len(body["text"]) > MAX_CANNED:
        return error(422, f"'title' is at most 200 characters and 'text' at most {MAX_CANNED}")
    phrase = forbidden_in(body["title"] + "\n" + body["text"])
    if phrase is not None:
        raise CaseError(f"'text': never say \u201c{phrase}\u201d to a customer (it argues or blames)")
    row = {"language": body["language"], "title": body["title"].strip(), "text": body["text"].strip(),
           "by": supervisor.name, "at": datetime.now(UTC)}
    async with request.app[keys.RECORD].engine.begin() as connection:
        result = await connection.execute(insert(CANNED).values(row).returning(CANNED.c.id))
        reply_id = result.scalar_one()
    return web.json_response(_canned_dict({**row, "id": reply_id}), status=201)


async def remove_canned(request: web.Request) -> web.Response:
    await current_agent(request, "supervisor", "admin")
    reply_id = int(request.match_info["reply_id"])
    async with request.app[keys.RECORD].engine.begin() as connection:
        removed = (await connection.execute(delete(CANNED).where(CANNED.c.id == reply_id))).rowcount
    if not removed:
        return error(404, f"no canned reply {reply_id}")
    return web.json_response({"ok": True})


def _canned(row: Any) -> dict[str, Any]:
    return _canned_dict(dict(row._mapping))


def _canned_dict(row: dict[str, Any]) -> dict[str, Any]:
    at = row["at"] if row["at"].tzinfo else row["at"].replace(tzinfo=UTC)
    return {"id": row["id"], "language": row["language"], "title": row["title"], "text": row["text"],
            "by": row["by"], "at": at.isoformat()}

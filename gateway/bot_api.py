"""What the bot's action server may ask the gateway: a case's status, for a customer who gives a case number.

Only the action server holds the shared token (``GATEWAY_BOT_TOKEN``); without one configured the endpoint
is off. It answers the status and deadline only, never the record, so a guessed case id reveals nothing
personal.
"""

from __future__ import annotations

import hmac

from aiohttp import web

from gateway import keys
from handoff.cases import CaseNotFound
from handoff.ids import is_case_id

TOKEN_HEADER = "X-Bot-Token"


def routes() -> list[web.AbstractRouteDef]:
    return [web.get("/bot/cases/{case_id}/status", case_status)]


async def case_status(request: web.Request) -> web.Response:
    expected = request.app[keys.SETTINGS].bot_token
    given = request.headers.get(TOKEN_HEADER, "")
    if not expected:
        raise web.HTTPNotFound(text="the bot API is off (GATEWAY_BOT_TOKEN is not set)")
    if not hmac.compare_digest(given.encode(), expected.encode()):
        raise web.HTTPForbidden(text="wrong bot token")
    case_id = request.match_info["case_id"].upper()
    if not is_case_id(case_id):
        raise web.HTTPBadRequest(text="not a case id")
    try:
        case = await request.app[keys.CASES].summary(case_id)
    except CaseNotFound:
        raise web.HTTPNotFound(text="no such case") from None
    return web.json_response({"id": case["id"], "status": case["status"],
                              "respond_by": case["deadlines"]["respond_by"]})

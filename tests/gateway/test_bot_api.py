"""The bot's window into the gateway: a case's status for the holder of the shared token, nothing more."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from gateway import keys
from gateway.app import create_app
from gateway.settings import Settings

TOKEN = "shared-secret-for-the-action-server"


async def test_the_bot_learns_a_case_status_and_nothing_personal(aiohttp_client: Any, settings: Settings) -> None:
    app = create_app(replace(settings, bot_token=TOKEN))
    client = await aiohttp_client(app)
    case = await app[keys.CASES].create(channel="webchat", conversation_id="webchat:s", language="en",
                                        customer={"name": "Ann", "phone": "+447700900123"},
                                        complaint={"description": "fee charged twice"}, handoff_reason="complete")
    answer = await client.get(f"/bot/cases/{case['id'].lower()}/status", headers={"X-Bot-Token": TOKEN})
    assert answer.status == 200
    assert await answer.json() == {"id": case["id"], "status": "queued",
                                   "respond_by": case["deadlines"]["respond_by"]}


async def test_without_the_token_the_bot_api_refuses(aiohttp_client: Any, settings: Settings) -> None:
    client = await aiohttp_client(create_app(replace(settings, bot_token=TOKEN)))
    assert (await client.get("/bot/cases/C-261123-AAAA/status")).status == 403
    assert (await client.get("/bot/cases/C-261123-AAAA/status", headers={"X-Bot-Token": "guess"})).status == 403
    assert (await client.get("/bot/cases/nonsense/status", headers={"X-Bot-Token": TOKEN})).status == 400
    assert (await client.get("/bot/cases/C-261123-AAAA/status", headers={"X-Bot-Token": TOKEN})).status == 404


async def test_with_no_token_configured_the_bot_api_is_off(aiohttp_client: Any, settings: Settings) -> None:
    client = await aiohttp_client(create_app(settings))
    assert (await client.get("/bot/cases/C-261123-AAAA/status", headers={"X-Bot-Token": ""})).status == 404

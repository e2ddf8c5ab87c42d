"""Script and markup from customers stay text: in the agent console and on the chat page, in real Chromium.

Two cases carry the payloads: one complained through the real chat page to the real bot (what a customer
can really type reaches the description and the conversation), and one written straight into the case
store the running gateway reads (so every customer field holds one: name, phone, email, account, every
complaint field, messages, attachment names, the handoff reason). The handler opens the queue and each
case; the handler's reply, also full of markup, reaches the customer's chat page. On every page:
``window.__pwned`` stays undefined, no dialog opens, no element is made from the text, and the text reads
literally.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import aiohttp
import pytest
from playwright.async_api import Browser, BrowserContext, Dialog, Locator, Page, expect
from redis.asyncio import Redis

from handoff.cases import CaseStore
from handoff.ids import CASE_ID_PATTERN
from tests.e2e.conftest import LOGS, AgentApi, Gateway, say
from tests.e2e.test_agent_console import BOT, LIVE, console, open_case, queue_row, sign_in

pytestmark = pytest.mark.e2e
__all__ = ["console"]  # the handler's browser profile, shared with the console test

PAYLOADS = [
    "<script>window.__pwned=1</script>",
    '<img src=x onerror="window.__pwned=1;alert(1)">',
    '"><svg onload="window.__pwned=1">',
    "javascript:window.__pwned=1//",
    "'\"><iframe srcdoc=\"<script>parent.__pwned=1</script>\"></iframe>",
    '<a href="javascript:window.__pwned=1">click me</a>',
    "{{constructor.constructor('window.__pwned=1')()}}",
    "</textarea><body onload=\"window.__pwned=1\">",
]
# Elements a payload would create if any of it were parsed as HTML.
INJECTED = "script, img, svg, iframe, a[href^='javascript'], body body, [onerror], [onload]"


def hostile(field: str, i: int) -> str:
    return f"{field} {PAYLOADS[i % len(PAYLOADS)]}"


class Watched:
    """A page whose dialogs are recorded (and dismissed) from the moment it opens."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.dialogs: list[str] = []

        async def on_dialog(dialog: Dialog) -> None:
            self.dialogs.append(dialog.message)
            await dialog.dismiss()

        page.on("dialog", on_dialog)

    async def assert_inert(self, *regions: str) -> None:
        assert await self.page.evaluate("typeof window.__pwned") == "undefined"
        assert self.dialogs == []
        for region in regions:
            injected = await self.page.locator(region).locator(INJECTED).count()
            assert injected == 0, f"{region} holds {injected} element(s) made from customer text"


@pytest.fixture
async def store(e2e_redis: str) -> AsyncIterator[CaseStore]:
    """The case store of the running gateway (same Redis database)."""
    redis = Redis.from_url(e2e_redis)
    try:
        yield CaseStore(redis)
    finally:
        await redis.aclose()


async def every_field_hostile(store: CaseStore) -> dict[str, Any]:
    customer = {name: hostile(name, i) for i, name in enumerate(("name", "phone", "email", "account_id"))}
    complaint = {name: hostile(name, i + 4) for i, name in enumerate(
        ("product", "incident_time", "place", "people_involved", "description", "desired_resolution"))}
    now = datetime.now(UTC).isoformat()
    messages = [{"at": now, "from": "customer", "channel": "webchat", "text": hostile("message", i)}
                for i in range(len(PAYLOADS))]
    attachments = [{"name": hostile("attachment", i), "content_type": "text/html", "size": 10,
                    "url": "javascript:window.__pwned=1", "text": PAYLOADS[i]} for i in range(3)]
    case = await store.create(channel="webchat", conversation_id="webchat:inert-test-session", language="en",
                              customer=customer, complaint=complaint, handoff_reason=hostile("reason", 2),
                              messages=messages, attachments=attachments)
    return {"case": case, "customer": customer, "complaint": complaint, "messages": messages}


async def reads_literally(locator: Locator, text: str) -> None:
    await expect(locator).to_contain_text(text.strip())


async def test_every_customer_field_full_of_markup_is_shown_as_text_in_the_console(
    console: BrowserContext, gateway: Gateway, agent_account: tuple[str, str], store: CaseStore
) -> None:
    made = await every_field_hostile(store)
    case_id = made["case"]["id"]
    agent = Watched(await console.new_page())
    await sign_in(agent.page, gateway, *agent_account)

    await expect(queue_row(agent.page, case_id)).to_be_visible(timeout=LIVE)
    await reads_literally(queue_row(agent.page, case_id), made["customer"]["name"])
    await agent.assert_inert("#queue")

    await open_case(agent.page, case_id)
    for value in made["customer"].values():
        await reads_literally(agent.page.locator("#customer-record"), value)
    for value in made["complaint"].values():
        await reads_literally(agent.page.locator("#complaint-record"), value)
    for message in made["messages"]:
        await reads_literally(agent.page.locator("#conversation"), message["text"])
    await reads_literally(agent.page.locator("#audit-trail"), hostile("reason", 2))
    await agent.assert_inert("#queue", "#case-view")
    await agent.page.screenshot(path=str(LOGS / "console-inert.png"), full_page=True)

    # Switching the console's language re-renders everything: still text.
    await agent.page.locator("#lang-toggle").click()
    await reads_literally(agent.page.locator("#customer-record"), made["customer"]["name"])
    await agent.page.locator("#lang-toggle").click()
    await agent.assert_inert("#queue", "#case-view")


async def test_markup_typed_to_the_bot_and_a_handlers_markup_reply_stay_text_on_both_sides(
    browser: Browser, console: BrowserContext, gateway: Gateway, agent_account: tuple[str, str],
    http: aiohttp.ClientSession,
) -> None:
    agent = Watched(await console.new_page())
    await sign_in(agent.page, gateway, *agent_account)

    customer_context = await browser.new_context(locale="en-GB")
    customer = Watched(await customer_context.new_page())
    await customer.page.goto(gateway.url + "/")
    await expect(customer.page.locator("#message-input")).to_be_visible()
    description = f"The app charged me a commission twice for one trade last Friday {PAYLOADS[0]} {PAYLOADS[1]}"
    wish = f"Please refund the extra commission {PAYLOADS[2]}"
    # The story first, then who and how to reach them, the wish, where and who (asked once each), the read-back.
    for text in ("I want to file a complaint", description, "John Smith", "+44 7700 900123", wish, "online", "no",
                 "yes"):
        await say(customer.page, text)
    await expect(customer.page.locator("#case-banner #case-id")).to_have_text(CASE_ID_PATTERN, timeout=BOT)
    case_id = (await customer.page.locator("#case-banner #case-id").text_content() or "").strip()
    await reads_literally(customer.page.locator(".msg-customer .msg-text").nth(1), description)
    await customer.assert_inert("body")

    await expect(queue_row(agent.page, case_id)).to_be_visible(timeout=LIVE)
    await open_case(agent.page, case_id)
    await reads_literally(agent.page.locator("#conversation"), description)
    await reads_literally(agent.page.locator("#conversation"), wish)
    await agent.page.locator("#claim-button").click()
    await expect(agent.page.locator("#case-status")).to_have_text("Claimed")
    reply = f"We are refunding it {PAYLOADS[3]} {PAYLOADS[4]} {PAYLOADS[5]}"
    await agent.page.locator("#reply-input").fill(reply)
    await agent.page.locator("#reply-send").click()
    await expect(agent.page.locator("#conversation .msg-agent .msg-text").last).to_have_text(reply)
    await expect(customer.page.locator(".msg-agent .msg-text").last).to_have_text(reply, timeout=LIVE)
    await customer.assert_inert("body")
    await agent.assert_inert("#queue", "#case-view")
    await customer.page.screenshot(path=str(LOGS / "chat-page-inert.png"), full_page=True)

    # What the API holds is what was typed: the pages escaped nothing into the record.
    api = AgentApi(http, gateway.url)
    await api.login(*agent_account)
    case = await api.call("GET", f"/api/cases/{case_id}")
    assert any(m["text"] == description for m in case["messages"] if m["from"] == "customer")
    assert [m["text"] for m in case["messages"] if m["from"] == "agent"] == [reply]
    await customer_context.close()

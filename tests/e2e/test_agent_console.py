"""A complaint handler works a case in the real agent console, in real headless Chromium.

The customer complains on the real chat page (or over the chat WebSocket) to the real bot; the case reaches
the handler's open console by live events; the handler's reply reaches the customer's chat; after the
resolution the customer rates it, and the rating shows on the case. A first complaint is graded low and resolved
in one step; a repeat complainant's is graded medium, and under the default APPROVAL_POLICY its answer goes out
once a supervisor approves the handler's plan. The console's session is its HttpOnly cookie, so every change it
makes must also carry the CSRF token: one that does not is refused.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from playwright.async_api import Browser, BrowserContext, Locator, Page, expect

from handoff.ids import CASE_ID_PATTERN
from tests.e2e.conftest import LOGS, AgentApi, Gateway, add_agent, say
from tests.e2e.test_intake import CONVERSATIONS, complain
from tests.support.chat_client import ChatClient

pytestmark = pytest.mark.e2e

SUPERVISOR, SUPERVISOR_PASSWORD = "e2e-supervisor", "another long test password"
SURVEY = re.compile(r"\b1\b.{1,12}\b5\b")  # "a number from 1 to 5", "1 到 5 的数字"
LIVE = 30_000  # ms for anything that travels gateway -> SSE -> console, or gateway -> chat page
BOT = 60_000  # ms for anything that waits on the real bot
# The web chat customer's number in the first test is theirs alone in the session: a first complaint, graded low
# and resolved in one step (the same number twice makes a repeat complainant, graded medium).
FIRST_TIME_PHONE = "+44 7700 900461"


@pytest.fixture(scope="module")
def supervisor_account(e2e_redis: str, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    return add_agent(e2e_redis, tmp_path_factory.mktemp("cli-supervisor"), SUPERVISOR, SUPERVISOR_PASSWORD,
                     role="supervisor")


@pytest.fixture
async def console(browser: Browser) -> AsyncIterator[BrowserContext]:
    """A fresh browser profile for the handler, in English; a script error on any of its pages fails the test."""
    context = await browser.new_context(locale="en-GB", viewport={"width": 1400, "height": 1000})
    errors: list[str] = []
    context.on("weberror", lambda failure: errors.append(str(failure.error)))
    yield context
    await context.close()
    assert not errors, f"the console threw: {errors}"


async def sign_in(page: Page, gateway: Gateway, name: str, password: str) -> None:
    """Through the console's own form; the console is then open and hears live events."""
    await page.goto(gateway.url + "/agent")
    await page.locator("#login-name").fill(name)
    await page.locator("#login-password").fill(password)
    await page.locator("#login-submit").click()
    await expect(page.locator("#console-view")).to_be_visible()
    await expect(page.locator("#agent-name")).to_have_text(name)
    await expect(page.locator("#live-status")).to_have_attribute("data-state", "live", timeout=LIVE)


def queue_row(page: Page, case_id: str) -> Locator:
    return page.locator(f'#queue .case-row[data-case-id="{case_id}"] .case-row-button')


async def open_case(page: Page, case_id: str) -> None:
    await queue_row(page, case_id).click()
    await expect(page.locator("#case-title")).to_have_text(case_id)


async def fetch(page: Page, method: str, path: str, headers: dict[str, str] | None = None) -> dict[str, Any]:
    """A request from the console's own origin, with its cookie, and only the headers given."""
    answer: dict[str, Any] = await page.evaluate(
        """async ([method, path, headers]) => {
            const init = {method, headers: {'Accept': 'application/json', ...headers}, credentials: 'same-origin'};
            if (method !== 'GET') { init.headers['Content-Type'] = 'application/json'; init.body = '{}'; }
            const r = await fetch(path, init);
            const text = await r.text();
            let body = null;
            try { body = JSON.parse(text); } catch (e) { body = text; }
            return {status: r.status, body};
        }""",
        [method, path, headers or {}],
    )
    return answer


async def test_a_handler_answers_a_web_chat_complaint_and_sees_the_customers_rating(
    browser: Browser, console: BrowserContext, gateway: Gateway, agent_account: tuple[str, str],
    http: aiohttp.ClientSession,
) -> None:
    agent = await console.new_page()
    await sign_in(agent, gateway, *agent_account)
    await expect(agent.locator("#agent-desks")).to_have_text("Desks: Chinese, English")

    customer_context = await browser.new_context(locale="en-GB")
    customer = await customer_context.new_page()
    await customer.goto(gateway.url + "/")
    await expect(customer.locator("#message-input")).to_be_visible()
    phone = CONVERSATIONS["en"][3]
    for text in CONVERSATIONS["en"]:
        await say(customer, FIRST_TIME_PHONE if text == phone else text)
    await expect(customer.locator("#case-banner #case-id")).to_have_text(CASE_ID_PATTERN, timeout=BOT)
    case_id = (await customer.locator("#case-banner #case-id").text_content() or "").strip()

    # The case arrives on the open console by live events: no reload, and no polling (it runs only
    # while the event stream is down).
    await expect(queue_row(agent, case_id)).to_be_visible(timeout=LIVE)
    await expect(agent.locator("#live-status")).to_have_attribute("data-state", "live")
    await open_case(agent, case_id)
    await expect(agent.locator("#case-status")).to_have_text("Queued")
    await expect(agent.locator("#case-due-badge")).to_have_text("On time")
    await expect(agent.locator("#complaint-record")).to_contain_text(CONVERSATIONS["en"][1])
    await expect(agent.locator("#reassign-form")).to_be_hidden()  # a handler, not a supervisor

    await agent.locator("#claim-button").click()
    await expect(agent.locator("#case-status")).to_have_text("Claimed")
    reply = "I am sorry about the double commission. We are refunding it to your account today."
    await agent.locator("#reply-input").fill(reply)
    await agent.locator("#reply-send").click()
    await expect(agent.locator("#conversation .msg-agent .msg-text").last).to_have_text(reply)
    await expect(customer.locator(".msg-agent .msg-text").last).to_have_text(reply, timeout=LIVE)

    await agent.locator("#resolve-button").click()
    await agent.locator("#resolve-outcome").select_option("upheld")
    await agent.locator("#resolve-summary").fill("Commission charged twice for one trade; the extra charge refunded.")
    await agent.locator("#resolve-submit").click()
    await expect(agent.locator("#case-status")).to_have_text("Answered")
    await expect(agent.locator("#case-due-badge")).to_be_hidden()  # no deadline once answered

    survey = customer.locator(".msg-system .msg-text, .msg-bot .msg-text").filter(has_text=SURVEY)
    await expect(survey).to_have_count(1, timeout=LIVE)
    await expect(survey).to_contain_text(case_id)
    await customer.locator("#message-input").fill("4")
    await customer.locator("#message-input").press("Enter")
    await expect(customer.locator(".msg-customer .msg-text").last).to_have_text("4")

    # Live: the rating is a case change, so the open case view shows it without being asked to.
    satisfaction = agent.locator("#case-satisfaction")
    await expect(satisfaction).to_contain_text("Customer satisfaction: 4/5", timeout=LIVE)
    await agent.screenshot(path=str(LOGS / "agent-console.png"), full_page=True)

    # And after a reload: the console finds its session (and its CSRF token) again and reopens the case.
    await agent.reload()
    await expect(agent.locator("#case-title")).to_have_text(case_id)
    await expect(satisfaction).to_contain_text("Customer satisfaction: 4/5")
    await agent.locator("#lang-toggle").click()
    await expect(satisfaction).to_contain_text("客户满意度：4/5")
    await agent.locator("#lang-toggle").click()

    api = AgentApi(http, gateway.url)
    await api.login(*agent_account)
    case = await api.call("GET", f"/api/cases/{case_id}")
    assert case["satisfaction"]["score"] == 4
    assert case["risk"]["grade"] == "low"
    assert case["resolution"]["outcome"] == "upheld"
    assert case["due"] is None
    assert [m["text"] for m in case["messages"] if m["from"] == "agent"] == [reply]
    await customer_context.close()


async def test_a_cookie_session_change_without_the_csrf_token_is_refused_and_changes_nothing(
    console: BrowserContext, gateway: Gateway, agent_account: tuple[str, str], http: aiohttp.ClientSession,
) -> None:
    chat = await ChatClient.connect(http, gateway.ws_url, language="zh")
    case_id = (await complain(chat, "zh"))["case_id"]
    await chat.close()
    api = AgentApi(http, gateway.url)
    await api.login(*agent_account)
    before = await api.call("GET", f"/api/cases/{case_id}")
    assert before["status"] == "queued" and before["assignee"] is None

    page = await console.new_page()
    await sign_in(page, gateway, *agent_account)
    await page.reload()  # from here the console knows its CSRF token only from /api/me
    await expect(page.locator("#agent-name")).to_have_text(agent_account[0])
    await open_case(page, case_id)

    claim = f"/api/cases/{case_id}/claim"
    missing = await fetch(page, "POST", claim)
    assert missing["status"] == 403, missing
    assert missing["body"]["error"]
    wrong = await fetch(page, "POST", claim, {"X-CSRF-Token": "0" * 64})
    assert wrong["status"] == 403, wrong
    assert (await fetch(page, "GET", f"/api/cases/{case_id}"))["status"] == 200  # reading needs no token

    after = await api.call("GET", f"/api/cases/{case_id}")
    assert after["status"] == "queued" and after["assignee"] is None
    assert after["events"] == before["events"]
    assert after["messages"] == before["messages"]

    # The console's own buttons carry the token, so the same change through it goes through.
    await page.locator("#claim-button").click()
    await expect(page.locator("#case-status")).to_have_text("Claimed")
    assert (await api.call("GET", f"/api/cases/{case_id}"))["assignee"] == agent_account[0]
    await page.locator("#release-button").click()
    await expect(page.locator("#case-status")).to_have_text("Queued")

    # Signing out is a change too: it must carry the token, or the session would live on.
    await page.locator("#logout-button").click()
    await expect(page.locator("#login-view")).to_be_visible()
    assert (await fetch(page, "GET", "/api/me"))["status"] == 401


async def test_only_a_supervisor_gets_the_reassign_control_and_can_hand_a_case_to_a_handler(
    console: BrowserContext, browser: Browser, gateway: Gateway, agent_account: tuple[str, str],
    supervisor_account: tuple[str, str], http: aiohttp.ClientSession,
) -> None:
    chat = await ChatClient.connect(http, gateway.ws_url, language="en")
    case_id = (await complain(chat, "en"))["case_id"]
    await chat.close()

    handler_context = await browser.new_context(locale="en-GB")
    handler = await handler_context.new_page()
    await sign_in(handler, gateway, *agent_account)
    assert (await fetch(handler, "GET", "/api/agents"))["status"] == 403
    await handler_context.close()

    page = await console.new_page()
    await sign_in(page, gateway, *supervisor_account)
    await expect(page.locator("#agent-role")).to_have_text("Supervisor")
    await open_case(page, case_id)
    await expect(page.locator("#reassign-form")).to_be_visible()
    await page.locator("#reassign-agent").select_option(agent_account[0])
    await page.locator("#reassign-submit").click()
    await expect(page.locator("#case-sub")).to_contain_text(f"Handler: {agent_account[0]}")
    await page.screenshot(path=str(LOGS / "agent-console-supervisor.png"), full_page=True)

    api = AgentApi(http, gateway.url)
    await api.login(*agent_account)
    assert (await api.call("GET", f"/api/cases/{case_id}"))["assignee"] == agent_account[0]


async def test_a_dissatisfied_customer_reopens_the_case_and_it_comes_back_to_the_open_console(
    console: BrowserContext, gateway: Gateway, agent_account: tuple[str, str],
    supervisor_account: tuple[str, str], http: aiohttp.ClientSession,
) -> None:
    page = await console.new_page()
    await sign_in(page, gateway, *agent_account)
    api = AgentApi(http, gateway.url)
    await api.login(*agent_account)
    supervisor = AgentApi(http, gateway.url)
    await supervisor.login(*supervisor_account)

    # The customer called about it before (a call a handler put on the record), so the chat complaint is a
    # repeat: graded medium, its answer needs a supervisor's approval.
    _, description, name, phone = CONVERSATIONS["zh"][:4]
    await api.call("POST", "/api/cases", json={"channel": "phone", "language": "zh",
                                              "customer": {"name": name, "phone": phone},
                                              "complaint": {"description": description}})
    chat = await ChatClient.connect(http, gateway.ws_url, language="zh")
    case_id = (await complain(chat, "zh"))["case_id"]
    await expect(queue_row(page, case_id)).to_be_visible(timeout=LIVE)

    await api.call("POST", f"/api/cases/{case_id}/claim")
    answer = "您好，经核查，您的买单未成交是因为委托价格低于当时的成交价，给您带来困扰，我们深表歉意。"
    plan = await api.call("POST", f"/api/cases/{case_id}/propose", json={
        "answer": answer, "outcome": "not_upheld", "measures": "在委托界面提示未成交委托的原因",
        "compensation": None, "responsible": None})
    assert plan["status"] == "awaiting_approval", plan["risk"]
    await expect(queue_row(page, case_id).locator(".row-meta")).to_contain_text("Awaiting approval", timeout=LIVE)
    await supervisor.call("POST", f"/api/cases/{case_id}/approve")
    await expect(queue_row(page, case_id).locator(".row-meta")).to_contain_text("Answered", timeout=LIVE)

    heard = await chat.expect(lambda f: f["type"] == "message" and f["from"] == "agent")
    assert heard["text"] == answer
    question = await chat.expect(lambda f: f["type"] == "message" and bool(SURVEY.search(str(f.get("text")))))
    assert case_id in question["text"]
    await chat.send("2")
    await chat.close()

    row = queue_row(page, case_id)
    await expect(row.locator(".status-reopened")).to_have_text("Reopened", timeout=LIVE)
    await open_case(page, case_id)
    await expect(page.locator("#case-status")).to_have_text("Reopened")
    await expect(page.locator("#case-satisfaction")).to_contain_text("Customer satisfaction: 2/5")
    await expect(page.locator("#case-satisfaction")).to_have_class(re.compile(r"\bunhappy\b"))
    await expect(page.locator("#claim-button")).to_be_enabled()

    case = await api.call("GET", f"/api/cases/{case_id}")
    assert case["status"] == "reopened" and case["assignee"] == agent_account[0]  # back to its handler
    assert case["satisfaction"]["score"] == 2
    assert case["approval"]["by"] == supervisor_account[0] and case["risk"]["grade"] == "medium"

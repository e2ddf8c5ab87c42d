"""Staff register a complaint that came by another way (a walk-in, a letter, the comment book) through the agent
console's own form, in real headless Chromium, and the new case opens with its record.

A gateway of the test's own runs with an ORG_FILE (a head office and a branch), beside the session's Rasa and
Redis. The browser runs in the customer's time zone, so the times typed into the form reach the record with the
browser's offset. A refused registration shows the server's reason beside the form, keeps what was typed and
creates nothing; an incomplete registration says what is missing; a reply to a walk-in, who has no channel here,
is refused with the reason. A complaint typed while the session ran out waits for the same handler to sign in again.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
import pytest
from playwright.async_api import FilePayload, Locator, Page, expect
from playwright.async_api import TimeoutError as PlaywrightTimeoutError

from handoff.ids import CASE_ID_PATTERN
from tests.e2e.conftest import LOGS, AgentApi, Gateway, Profile, start_gateway
from tests.e2e.test_agent_console import LIVE, queue_row, sign_in
from tests.support.org_files import HEAD_OFFICE, PUDONG, org_toml

pytestmark = pytest.mark.e2e

ORG = org_toml(HEAD_OFFICE, PUDONG)
SCAN_LIMIT = 700 * 1024  # bytes; the API's limit for a scanned letter (handoff/registration.py)
# The customers here use contacts no other e2e test uses: the same number twice makes a repeat complainant,
# whose higher risk grade would change how other tests' cases are handled.



@pytest.fixture(scope="module")
def org_gateway(e2e_redis: str, rasa: tuple[str, Any], agent_account: tuple[str, str],
                tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    org = tmp_path_factory.mktemp("org") / "org.toml"
    org.write_text(ORG, encoding="utf-8")
    gateway = start_gateway("register", e2e_redis, rasa[0], tmp_path_factory.mktemp("gw-register"),
                            ORG_FILE=str(org))
    try:
        yield gateway
    finally:
        gateway.stop()



@pytest.fixture
async def api(http: aiohttp.ClientSession, org_gateway: Gateway, agent_account: tuple[str, str]) -> AgentApi:
    client = AgentApi(http, org_gateway.url)
    await client.login(*agent_account)
    return client


async def case_ids(api: AgentApi) -> set[str]:
    return {c["id"] for c in (await api.call("GET", "/api/cases"))["cases"]}


async def open_form(page: Page) -> Locator:
    await page.locator("#register-button").click()
    dialog = page.locator("#register-dialog")
    await expect(dialog).to_be_visible()
    return dialog


async def opened_case(page: Page) -> str:
    """The id of the case the console opened after a registration."""
    await expect(page.locator("#register-dialog")).to_be_hidden()
    await expect(page.locator("#case-title")).to_have_text(CASE_ID_PATTERN)
    return (await page.locator("#case-title").text_content() or "").strip()


async def sign_in_again(page: Page, name: str, password: str) -> None:
    await page.locator("#login-name").fill(name)
    await page.locator("#login-password").fill(password)
    await page.locator("#login-submit").click()
    await expect(page.locator("#console-view")).to_be_visible()


def local_input(moment: datetime) -> str:
    """A moment as a datetime-local field holds it."""
    return moment.strftime("%Y-%m-%dT%H:%M")


async def test_a_walk_in_registered_in_the_chinese_console_opens_as_a_case_with_its_record(
    profiles: Profile, org_gateway: Gateway, agent_account: tuple[str, str], api: AgentApi,
) -> None:
    zone = ZoneInfo("Asia/Shanghai")
    page = await (await profiles("zh-CN", "Asia/Shanghai")).new_page()
    await sign_in(page, org_gateway, *agent_account)
    await expect(page.locator("#register-button")).to_have_text("登记投诉")
    form = await open_form(page)

    await expect(form.locator("#reg-unit")).to_have_value("hq")  # the head office unless the staff say otherwise
    await expect(form.locator("#reg-unit option[value='sh-pudong']")).to_have_text("上海浦东营业部")
    await expect(form.locator("#reg-late-reason")).to_be_hidden()  # received now: not late
    await form.locator("#reg-channel").select_option("in_person")
    await form.locator("#reg-language").select_option("zh")
    await form.locator("#reg-unit").select_option("sh-pudong")
    came = (datetime.now(zone) - timedelta(days=1)).replace(hour=9, minute=30, second=0, microsecond=0)
    await form.locator("#reg-received-at").fill(local_input(came))
    await expect(form.locator("#reg-late-reason")).to_be_visible()
    await form.get_by_label("姓名").fill("李梅")
    await form.get_by_label("电话").fill("139 2468 1357")
    await form.get_by_label("账户").fill("880097531")
    description = "上周三在营业部柜台办理销户，工作人员态度很差，还多收了手续费"
    await form.get_by_label("事情经过").fill(description)
    await expect(form.locator("#reg-product option[value='brokerage_account']")).to_have_text("证券账户")
    await form.locator("#reg-product").select_option("brokerage_account")
    incident_day = (came - timedelta(days=2)).date()
    await form.locator("#reg-incident-date").fill(incident_day.isoformat())
    await form.locator("#reg-incident-time").fill("10:30")
    await form.get_by_label("发生地点").fill("浦东营业部柜台")
    await form.get_by_label("涉及人员").fill("柜员小张")
    await form.get_by_label("客户诉求").fill("退还多收的手续费并道歉")
    await form.get_by_label("初步处理意见").fill("核实柜台录像与收费记录")
    scan = b"%PDF-1.4 the customer's letter, scanned"
    await form.locator("#reg-file").set_input_files(
        files=FilePayload(name="来信扫描.pdf", mimeType="application/pdf", buffer=scan))

    await page.screenshot(path=str(LOGS / "console-register-form.png"))

    # Received yesterday: registering it today needs the reason, asked for in the page before anything is sent.
    before = await case_ids(api)
    await form.locator("#register-submit").click()
    await expect(form.locator("#register-error")).to_contain_text("延迟登记的原因")
    await expect(form.locator("#reg-late-reason")).to_have_attribute("aria-invalid", "true")
    assert await case_ids(api) == before
    await form.locator("#reg-late-reason").fill("登记系统昨日停机")
    await form.locator("#register-submit").click()

    case_id = await opened_case(page)
    await expect(page.locator("#case-sub")).to_contain_text("现场来访")
    record = page.locator("#complaint-record")
    for shown in ("上海浦东营业部", agent_account[0], "证券账户", description, "浦东营业部柜台", "柜员小张",
                  "退还多收的手续费并道歉", "核实柜台录像与收费记录",
                  incident_day.strftime("%Y/%m/%d 10:30")):  # the incident in the browser's own time
        await expect(record).to_contain_text(shown)
    await expect(record.locator("a[download]")).to_have_text("来信扫描.pdf")
    await expect(page.locator("#deadlines")).to_contain_text("受理时间")
    await expect(page.locator("#deadlines")).to_contain_text("09:30")  # shown in the browser's own time
    await expect(page.locator("#case-incomplete")).to_be_hidden()
    await expect(queue_row(page, case_id)).to_be_visible(timeout=LIVE)
    await page.screenshot(path=str(LOGS / "console-register-zh.png"), full_page=True)

    case = await api.call("GET", f"/api/cases/{case_id}")
    assert (case["channel"], case["language"], case["unit"]) == ("in_person", "zh", "sh-pudong")
    assert datetime.fromisoformat(case["received_at"]) == came, "the typed time, with the browser's offset"
    assert case["registered_by"] == agent_account[0]
    assert case["customer"]["phone"] == "+8613924681357" and case["customer"]["account_id"] == "880097531"
    assert datetime.fromisoformat(case["complaint"]["incident_time"]) == datetime.combine(
        incident_day, datetime.min.time().replace(hour=10, minute=30), zone)
    assert case["preliminary_opinion"] == "核实柜台录像与收费记录"
    assert [a["name"] for a in case["attachments"]] == ["来信扫描.pdf"]
    assert case["incomplete"] is False
    assert "登记系统昨日停机" in case["events"][0]["detail"]
    digest = case["attachments"][0]["url"].split(":", 1)[1]
    async with api.http.get(f"{api.base}/api/cases/{case_id}/attachments/{digest}", headers=api.headers) as r:
        assert r.status == 200 and await r.read() == scan


async def test_a_phone_number_the_server_refuses_is_shown_beside_the_form_and_creates_nothing(
    profiles: Profile, org_gateway: Gateway, agent_account: tuple[str, str], api: AgentApi,
) -> None:
    page = await (await profiles("en-GB", "Europe/London")).new_page()
    await sign_in(page, org_gateway, *agent_account)
    await expect(page.locator("#register-button")).to_have_text("Register a complaint")
    form = await open_form(page)
    await expect(form.locator("#reg-unit")).to_have_value("hq")
    await expect(form.locator("#reg-unit option:checked")).to_have_text("Head office")
    await form.get_by_label("How it came").select_option("letter")
    await form.get_by_label("Customer’s language").select_option("en")
    await form.get_by_label("Name", exact=True).fill("John Smith")
    await form.get_by_label("Phone", exact=True).fill("123")
    description = f"Letter {uuid.uuid4().hex[:8]}: the branch lost my transfer form and the money never arrived."
    await form.get_by_label("What happened").fill(description)
    await form.get_by_label("Product").select_option("bank_securities_transfer")
    await form.get_by_label("What the customer wants").fill("Find the form and make the transfer")

    # A scan over the limit is refused in the page, before anything is sent.
    await form.locator("#reg-file").set_input_files(
        files=FilePayload(name="letter.pdf", mimeType="application/pdf", buffer=b"x" * (SCAN_LIMIT + 1)))
    await expect(form.locator("#reg-file-error")).to_contain_text("700 KB")
    assert await form.locator("#reg-file").evaluate("input => input.files.length") == 0

    before = await case_ids(api)
    await form.locator("#register-submit").click()
    error = form.locator("#register-error")
    await expect(error).to_contain_text("customer.phone")  # the server's reason, naming the field
    await expect(error).to_contain_text("Phone")
    await expect(error).to_have_attribute("role", "alert")
    await expect(form.locator("#reg-phone")).to_have_attribute("aria-invalid", "true")
    await expect(form.locator("#reg-phone")).to_be_focused()
    await expect(form.get_by_label("What happened")).to_have_value(description)  # nothing typed is lost
    await expect(form.get_by_label("Name", exact=True)).to_have_value("John Smith")
    assert await case_ids(api) == before
    assert not [c for c in (await api.call("GET", "/api/cases"))["cases"]
                if (c.get("complaint") or {}).get("description") == description]

    await form.get_by_label("Phone", exact=True).fill("+44 7700 900614")
    await expect(form.locator("#reg-phone")).not_to_have_attribute("aria-invalid", "true")
    await form.locator("#register-submit").click()
    case_id = await opened_case(page)
    await expect(page.locator("#case-sub")).to_contain_text("letter")
    await expect(page.locator("#customer-record")).to_contain_text("+447700900614")
    await expect(page.locator("#complaint-record")).to_contain_text("Transfers and withdrawals")
    assert await case_ids(api) == before | {case_id}
    case = await api.call("GET", f"/api/cases/{case_id}")
    assert (case["channel"], case["language"], case["unit"]) == ("letter", "en", "hq")

    # The form opens afresh for the next complaint.
    await open_form(page)
    await expect(form.get_by_label("What happened")).to_have_value("")
    await expect(form.locator("#register-error")).to_be_empty()


async def test_an_incomplete_registration_says_what_is_missing_and_a_reply_to_a_walk_in_is_refused(
    profiles: Profile, org_gateway: Gateway, agent_account: tuple[str, str], api: AgentApi,
) -> None:
    page = await (await profiles("en-GB", "Asia/Hong_Kong")).new_page()
    await sign_in(page, org_gateway, *agent_account)
    form = await open_form(page)
    await form.locator("#reg-channel").select_option("comment_book")
    await form.locator("#reg-language").select_option("zh")
    # Written in the comment book in Traditional characters, no name, no wish; the customer left no contact.
    await form.get_by_label("What happened").fill("上週我在營業部櫃檯辦理銷戶，工作人員態度很差，還多收了手續費")
    await form.get_by_label("The customer declined to give a contact").check()
    await form.locator("#register-submit").click()

    case_id = await opened_case(page)
    notice = page.locator("#case-incomplete")
    await expect(notice).to_have_text("Incomplete: missing name, product, when it happened, what the customer wants.")
    await expect(page.locator("#case-sub")).to_contain_text("comment book")
    await expect(page.locator("#case-sub")).to_contain_text("Chinese (Traditional)")
    await expect(page.locator("#customer-record")).to_contain_text("Declined to give a contact")
    await expect(queue_row(page, case_id).locator(".badge-incomplete")).to_have_text("Incomplete", timeout=LIVE)
    await page.locator("#lang-toggle").click()
    await expect(notice).to_have_text("记录不完整：缺少姓名、产品或业务、发生时间、客户诉求。")
    await expect(page.locator("#case-sub")).to_contain_text("中文（繁体）")
    await page.locator("#lang-toggle").click()

    # No channel reaches a customer who wrote in the comment book: the reply is refused, with what to do instead.
    await page.locator("#claim-button").click()
    await expect(page.locator("#case-status")).to_have_text("Claimed")
    reply = "We are sorry for the trouble; we are looking into the fee."
    await page.locator("#reply-input").fill(reply)
    await page.locator("#reply-send").click()
    await expect(page.locator("#reply-error")).to_contain_text("call or write to them")
    await expect(page.locator("#reply-input")).to_have_value(reply)
    await page.screenshot(path=str(LOGS / "console-register-incomplete.png"), full_page=True)

    case = await api.call("GET", f"/api/cases/{case_id}")
    assert case["incomplete"] is True
    assert case["missing"] == ["name", "product", "incident_time", "desired_resolution"]
    assert case["customer"]["contact_declined"] is True and case["script"] == "Hant"
    assert not [m for m in case["messages"] if m["from"] == "agent"]


async def test_a_complaint_typed_when_the_session_ran_out_waits_for_the_same_handler_to_sign_in_again(
    profiles: Profile, org_gateway: Gateway, agent_account: tuple[str, str], api: AgentApi,
) -> None:
    page = await (await profiles("en-GB", "Europe/London")).new_page()
    await sign_in(page, org_gateway, *agent_account)
    form = await open_form(page)
    description = f"Walk-in {uuid.uuid4().hex[:8]}: the counter refused to print my statement."
    await form.get_by_label("What happened").fill(description)
    await form.get_by_label("Name", exact=True).fill("Mary Jones")

    before = await case_ids(api)
    await page.context.clear_cookies()  # the session is gone, as after its time ran out
    # The console learns it from the next request: this submit, or a refresh of its own that met the ended session
    # first and closed the form before the click could land.
    with contextlib.suppress(PlaywrightTimeoutError):
        await form.locator("#register-submit").click(timeout=5000)
    await expect(page.locator("#login-view")).to_be_visible()
    await expect(page.locator("#login-error")).to_have_text("Your session has ended. Please sign in again.")
    assert await case_ids(api) == before

    await sign_in_again(page, *agent_account)
    await open_form(page)
    await expect(form.get_by_label("What happened")).to_have_value(description)
    await expect(form.get_by_label("Name", exact=True)).to_have_value("Mary Jones")
    await form.locator("#register-submit").click()
    case_id = await opened_case(page)
    await expect(page.locator("#complaint-record")).to_contain_text(description)
    assert await case_ids(api) == before | {case_id}

    # Signing out on purpose leaves nothing behind for the next person at this desk.
    await open_form(page)
    await form.get_by_label("What happened").fill("Not finished")
    await page.keyboard.press("Escape")
    await expect(page.locator("#register-dialog")).to_be_hidden()
    await page.locator("#logout-button").click()
    await expect(page.locator("#login-view")).to_be_visible()
    await sign_in_again(page, *agent_account)
    await open_form(page)
    await expect(form.get_by_label("What happened")).to_have_value("")


async def test_a_form_left_open_when_the_console_finds_the_session_ended_on_its_own_is_kept(
    profiles: Profile, org_gateway: Gateway, agent_account: tuple[str, str], api: AgentApi,
) -> None:
    """The handler is still in a field when a colleague's new case makes the console refresh and meet the ended
    session: the form closes under the cursor, and what was typed waits for the same handler."""
    page = await (await profiles("en-GB", "Europe/London")).new_page()
    await sign_in(page, org_gateway, *agent_account)
    form = await open_form(page)
    await form.get_by_label("What happened").fill("A letter about a transfer that took a week.")
    await form.get_by_label("Name", exact=True).fill("Peter Lane")  # the cursor stays in this field

    await page.context.clear_cookies()
    await api.call("POST", "/api/cases", json={
        "channel": "letter", "language": "en", "customer": {"name": "A colleague's walk-in", "contact_declined": True},
        "complaint": {"description": f"Registered at another desk {uuid.uuid4().hex[:8]}."}})
    await expect(page.locator("#login-error")).to_have_text("Your session has ended. Please sign in again.",
                                                            timeout=LIVE)

    await sign_in_again(page, *agent_account)
    await open_form(page)
    await expect(form.get_by_label("What happened")).to_have_value("A letter about a transfer that took a week.")
    await expect(form.get_by_label("Name", exact=True)).to_have_value("Peter Lane")

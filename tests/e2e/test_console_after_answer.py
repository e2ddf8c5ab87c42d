"""After the answer, in the real agent console, in real headless Chromium: the return visit (回访), follow-ups,
typical cases and the customer's earlier cases.

A handler answers a walk-in's complaint from the console, logs two calls that do not reach the customer and a
third that does (score 5, measures carried out): the case closes as satisfied, with the score and where it came
from. The handler flags it as a typical case (a reason is required), and opens the same customer's earlier case
from the customer panel. Another customer finds the corrective measures not carried out: the case goes back to
its handler, reopened, and a supervisor's open console is alerted; answered again and still dissatisfied, the
customer is referred to mediation and arbitration. The queue's quick filters list the follow-ups and the return
visits due; a customer nobody reaches closes as not reached. The Propose button says whether the plan waits for
a supervisor.

A gateway of the test's own runs on the session's Redis and record, without the bot (every case is registered by
staff through the API) and with ``APPROVAL_POLICY=high-risk``: only a high-risk case's plan waits for approval.
Its deadline sweep runs every second, so a return visit that falls due is alerted at once.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
import pytest
from playwright.async_api import Page, expect

from tests.e2e.conftest import LOGS, AgentApi, Gateway, Profile, add_agent, start_gateway
from tests.e2e.test_agent_console import LIVE, open_case, queue_row, sign_in

pytestmark = pytest.mark.e2e

NO_BOT = "http://127.0.0.1:9"  # every case here is registered by staff
PASSWORD = "a long password for after the answer"
HANDLER, LEAD = "e2e-aa-handler", "e2e-aa-lead"
# Markup typed by staff into the new fields stays text (the console builds nothing from it).
MARKUP = '<img src=x onerror="window.__pwned=1">'
INJECTED = "img, svg, script, iframe, [onerror], [onload]"
# The customers' numbers are used by no other end-to-end test (the same number twice is a repeat complainant).
GRACE, FIONA = "+44 7700 900531", "+44 7700 900532"
LI_NA, ZHOU, SUN = "13911470051", "13911470052", "13911470053"



@pytest.fixture(scope="module")
def desk(e2e_redis: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    for name, role in ((HANDLER, "agent"), (LEAD, "supervisor")):
        add_agent(e2e_redis, tmp_path_factory.mktemp(f"cli-{name}"), name, PASSWORD, role=role)
    gateway = start_gateway("after-answer-console", e2e_redis, NO_BOT, tmp_path_factory.mktemp("gw-after-console"),
                            APPROVAL_POLICY="high-risk", RETURN_VISIT_ATTEMPTS="3", DEADLINE_CHECK_SECONDS="1")
    try:
        yield gateway
    finally:
        gateway.stop()



async def api_for(http: aiohttp.ClientSession, gateway: Gateway, name: str) -> AgentApi:
    client = AgentApi(http, gateway.url)
    await client.login(name, PASSWORD)
    return client


async def console_for(profiles: Profile, gateway: Gateway, name: str, locale: str, timezone: str) -> Page:
    page = await (await profiles(locale, timezone)).new_page()
    await sign_in(page, gateway, name, PASSWORD)
    return page


async def register(api: AgentApi, language: str, name: str, phone: str, story: str, product: str,
                   channel: str = "in_person") -> dict[str, Any]:
    case: dict[str, Any] = await api.call("POST", "/api/cases", json={
        "channel": channel, "language": language, "customer": {"name": name, "phone": phone},
        "complaint": {"description": story, "product": product}})
    return case


async def answered(api: AgentApi, case_id: str, answer: str) -> dict[str, Any]:
    """Claimed and answered through the API: the return visit follows."""
    await api.call("POST", f"/api/cases/{case_id}/claim")
    case: dict[str, Any] = await api.call("POST", f"/api/cases/{case_id}/propose", json={
        "answer": answer, "outcome": "upheld", "measures": "Post the new fee schedule in the branch hall"})
    assert case["status"] == "answered", case["status"]
    return case


def day_shown(day: date, language: str) -> str:
    """A date as the console writes it in its language."""
    return f"{day.year}年{day.month}月{day.day}日" if language == "zh" else f"{day.day} {day:%B} {day.year}"


def received_day(case: dict[str, Any], timezone: str) -> date:
    return datetime.fromisoformat(case["received_at"]).astimezone(ZoneInfo(timezone)).date()


async def assert_inert(page: Page) -> None:
    assert await page.evaluate("typeof window.__pwned") == "undefined"
    assert await page.locator("#case-view").locator(INJECTED).count() == 0


async def log_visit(page: Page, method: str, reached: str, score: int | None = None, measures: str | None = None,
                    note: str = "") -> None:
    """The return visit form, as a handler fills it in (labels in the console's language); back when the visit is
    listed (the form is cleared then, and a visit logged at once after would be typed into a form being cleared)."""
    form, logged = page.locator("#visit-form"), page.locator("#visits-list > li")
    before = await logged.count()
    await form.locator("#visit-method").select_option(method)
    await form.get_by_label(reached, exact=True).check()
    if score is not None:
        await form.locator(f"#visit-score-{score}").check()
    if measures is not None:
        await form.get_by_label(measures, exact=True).check()
    await form.locator("#visit-note").fill(note)
    await form.locator("#visit-submit").click()
    await expect(logged).not_to_have_count(before)


async def test_a_handler_answers_a_walk_in_visits_until_the_customer_is_satisfied_flags_it_and_opens_an_earlier_case(
    profiles: Profile, desk: Gateway, http: aiohttp.ClientSession,
) -> None:
    zone = "Europe/London"
    api = await api_for(http, desk, HANDLER)
    # The customer's earlier complaint, answered and closed after a satisfied return visit.
    earlier = await register(api, "en", "Grace Lee", GRACE, "The ticket machine in the branch hall was broken and I "
                             "waited two hours to be served", "branch_service")
    await api.call("POST", f"/api/cases/{earlier['id']}/claim")
    await api.call("POST", f"/api/cases/{earlier['id']}/resolve",
                   json={"summary": "The ticket machine is repaired; we are sorry for the wait.", "outcome": "upheld"})
    await api.call("POST", f"/api/cases/{earlier['id']}/return-visit",
                   json={"method": "phone", "reached": True, "score": 4, "measures_verified": True})
    case = await register(api, "en", "Grace Lee", GRACE, "The app logged me out during a trade and my order went "
                          "through twice", "online_trading")
    case_id = case["id"]
    threat = await register(api, "en", "Fiona Hall", FIONA, "My transfer has been missing for a week: I will "
                            "report this to the FCA", "bank_securities_transfer")
    assert threat["risk"]["grade"] == "high"

    page = await console_for(profiles, desk, HANDLER, "en-GB", zone)
    await expect(queue_row(page, case_id)).to_be_visible(timeout=LIVE)
    await open_case(page, case_id)

    # The customer panel lists the earlier case: its status, product, outcome and date in the console's words.
    earlier_list = page.locator("#earlier-cases")
    await expect(page.locator("#earlier-heading")).to_have_text("Earlier cases of this customer")
    await expect(earlier_list.locator("li")).to_have_count(1)
    for shown in (earlier["id"], "Closed", "Branch service", "Upheld", day_shown(received_day(earlier, zone), "en")):
        await expect(earlier_list).to_contain_text(shown)

    # No approval is needed for this case: the button says the answer goes out.
    await expect(page.locator("#propose-button")).to_have_text("Send the answer…")
    await page.locator("#claim-button").click()
    await expect(page.locator("#case-status")).to_have_text("Claimed")
    await page.locator("#propose-button").click()
    form = page.locator("#propose-form")
    await expect(form.locator("#propose-submit")).to_have_text("Send the answer")
    await form.get_by_label("Answer to the customer").fill("We are sorry: the second order is cancelled and its "
                                                           "fees refunded.")
    await form.get_by_label("Outcome").select_option("upheld")
    await form.get_by_label("Corrective measures").fill("The app no longer sends an order twice after a logout.")
    await form.locator("#propose-submit").click()
    await expect(page.locator("#case-status")).to_have_text("Answered")
    await expect(page.locator("#toast")).to_have_text(f"The answer to {case_id} went out.")

    # The return visit: when it is due, the tries so far, and the form to log one.
    panel = page.locator("#visit-panel")
    await expect(panel.locator("#visit-heading")).to_have_text("Return visit")
    await expect(panel.locator("#visit-due")).to_contain_text("Return visit due")
    await expect(panel.locator("#visit-tries")).to_have_text("Tries so far: 0")
    await expect(panel.locator("#visit-reached-fields")).to_be_hidden()  # score and measures need a customer reached

    await log_visit(page, "phone", "No", note=f"No answer; left a voicemail {MARKUP}")
    await expect(panel.locator("#visit-tries")).to_have_text("Tries so far: 1")
    await expect(page.locator("#toast")).to_contain_text("Not reached: try again")
    await expect(page.locator("#case-status")).to_have_text("Answered")
    await log_visit(page, "sms", "No", note="Text sent; no reply")
    await expect(panel.locator("#visit-tries")).to_have_text("Tries so far: 2")
    await expect(panel.locator("#visits-list > li")).to_have_count(2)

    await page.locator("#visit-reached-yes").check()
    await expect(panel.locator("#visit-reached-fields")).to_be_visible()
    await log_visit(page, "phone", "Yes", score=5, measures="Carried out",
                    note="The customer is satisfied; the app has not sent an order twice since")
    await expect(page.locator("#case-status")).to_have_text("Closed")
    await expect(panel.locator("#visit-state")).to_have_text("Closed: the customer is satisfied.")
    await expect(panel.locator("#visit-form")).to_be_hidden()
    await expect(page.locator("#case-satisfaction")).to_contain_text("Customer satisfaction: 5/5")
    await expect(page.locator("#case-satisfaction")).to_contain_text(f"on a return visit by {HANDLER} (phone call)")
    visits = panel.locator("#visits-list > li")
    await expect(visits).to_have_count(3)
    for shown in ("Phone call", "Reached", "Score 5/5", "Measures carried out", HANDLER):
        await expect(visits.first).to_contain_text(shown)
    await expect(visits.nth(1)).to_contain_text("SMS")
    await expect(visits.nth(2)).to_contain_text("Not reached")
    await expect(visits.nth(2)).to_contain_text(f"No answer; left a voicemail {MARKUP}")
    await expect(page.locator("#follow-form")).to_be_hidden()  # a closed case has nothing to follow up

    # A typical case for the quarter's case studies: the reason is required.
    await expect(page.locator("#case-typical")).to_be_hidden()
    await page.locator("#typical-submit").click()
    await expect(page.locator("#typical-error")).to_have_text("Please say why this case is typical.")
    await expect(page.get_by_label("Why it is typical")).to_have_attribute("aria-invalid", "true")
    reason = f"A double order after a logout: a case study for the app team {MARKUP}"
    await page.get_by_label("Why it is typical").fill(reason)
    await page.locator("#typical-submit").click()
    await expect(page.locator("#case-typical")).to_have_text("Typical case")
    await expect(page.locator("#typical-shown")).to_contain_text(reason)
    await expect(page.locator("#typical-shown")).to_contain_text(HANDLER)
    await expect(page.locator("#typical-remove")).to_be_visible()
    await assert_inert(page)
    await page.screenshot(path=str(LOGS / "console-after-answer-en.png"), full_page=True)

    shown = await api.call("GET", f"/api/cases/{case_id}")
    assert (shown["status"], shown["closed_as"]) == ("closed", "satisfied")
    assert [(v["method"], v["reached"], v["by"]) for v in shown["return_visits"]] == [
        ("phone", False, HANDLER), ("sms", False, HANDLER), ("phone", True, HANDLER)]
    assert (shown["return_visits"][2]["score"], shown["return_visits"][2]["measures_verified"]) == (5, True)
    assert shown["return_visits"][0]["note"] == f"No answer; left a voicemail {MARKUP}"
    assert (shown["satisfaction"]["score"], shown["satisfaction"]["via"]) == (5, "phone")
    assert (shown["typical"]["reason"], shown["typical"]["by"]) == (reason, HANDLER)

    # The earlier case opens from the customer panel, and lists this one in turn.
    await earlier_list.get_by_role("link", name=earlier["id"]).click()
    await expect(page.locator("#case-title")).to_have_text(earlier["id"])
    await expect(page.locator("#case-status")).to_have_text("Closed")
    await expect(page.locator("#visit-state")).to_have_text("Closed: the customer is satisfied.")
    await expect(page.locator("#case-typical")).to_be_hidden()
    await expect(earlier_list).to_contain_text(case_id)
    await expect(earlier_list).to_contain_text("Online / app trading")

    # A high-risk case's plan waits for a supervisor: the button says so.
    await open_case(page, threat["id"])
    await expect(page.locator("#propose-button")).to_have_text("Propose for approval…")
    await expect(page.locator("#earlier-cases")).to_contain_text("None")


async def test_measures_not_carried_out_reopen_the_case_to_its_handler_and_alert_the_supervisor_in_chinese(
    profiles: Profile, desk: Gateway, http: aiohttp.ClientSession,
) -> None:
    zone = "Asia/Shanghai"
    api = await api_for(http, desk, HANDLER)
    lead = await console_for(profiles, desk, LEAD, "zh-CN", zone)
    case = await register(api, "zh", "李娜", LI_NA, "营业部收取的转托管费与公示的收费标准不一致", "fees_commissions",
                          channel="phone")
    case_id = case["id"]
    await answered(api, case_id, "经核查，多收的转托管费已退回您的账户，给您带来不便深表歉意。")

    page = await console_for(profiles, desk, HANDLER, "zh-CN", zone)
    await expect(queue_row(page, case_id)).to_be_visible(timeout=LIVE)
    await open_case(page, case_id)
    panel = page.locator("#visit-panel")
    await expect(panel.locator("#visit-heading")).to_have_text("回访")
    await expect(panel.locator("#visit-tries")).to_have_text("已尝试 0 次")
    await expect(page.locator("#earlier-cases")).to_contain_text("无")
    await log_visit(page, "phone", "是", score=4, measures="未落实", note="客户称营业部大厅仍未张贴新的收费标准")

    # Back to its handler, reopened; the supervisor's open console hears it at once.
    await expect(page.locator("#case-status")).to_have_text("重新受理")
    await expect(page.locator("#toast")).to_have_text(f"客户不满意：{case_id} 已重新受理，交回 {HANDLER} 处理。")
    await expect(page.locator("#case-sub")).to_contain_text(f"处理人：{HANDLER} (您)")
    await expect(page.locator("#visits-list")).to_contain_text("整改措施未落实")
    await expect(page.locator("#case-satisfaction")).to_contain_text("客户满意度：4/5")
    await expect(panel.locator("#visit-form")).to_be_hidden()
    await expect(lead.locator("#toast")).to_have_text(f"预警：{case_id} 的客户不满意，案件已重新受理。", timeout=LIVE)

    # A follow-up date on the reopened case. The desk's server counts follow-ups due by its own date (UTC), which
    # is never later than Shanghai's.
    today = datetime.now(UTC).date()
    note = f"周三前与营业部核实收费标准已张贴 {MARKUP}"
    await page.get_by_label("跟进日期").fill(today.isoformat())
    await page.get_by_label("跟进事项").fill(note)
    await page.locator("#follow-submit").click()
    await expect(page.locator("#follow-shown")).to_contain_text(f"跟进日期：{day_shown(today, 'zh')}")
    await expect(page.locator("#follow-shown")).to_contain_text(note)
    later = await register(api, "zh", "周杰", ZHOU, "手机APP行情刷新延迟，下单价格与显示不符", "online_trading")
    await api.call("POST", f"/api/cases/{later['id']}/claim")
    await api.call("POST", f"/api/cases/{later['id']}/follow-up",
                   json={"on": (today + timedelta(days=30)).isoformat(), "note": "下月复查"})

    await page.locator("#due-follow-up").click()
    await expect(page.locator("#due-follow-up")).to_have_attribute("aria-pressed", "true")
    await expect(queue_row(page, case_id)).to_be_visible()
    await expect(queue_row(page, case_id)).to_contain_text(f"跟进 {day_shown(today, 'zh')}")
    await expect(queue_row(page, later["id"])).to_have_count(0)

    # A customer nobody reached when their visit fell due is listed, and its handler is alerted.
    missed = await register(api, "zh", "孙丽", SUN, "营业部柜台办理业务时间过长", "branch_service")
    await answered(api, missed["id"], "已增加柜台人手，给您带来不便深表歉意。")
    long_ago = (datetime.now(UTC) - timedelta(days=10)).isoformat()
    await api.call("POST", f"/api/cases/{missed['id']}/return-visit",
                   json={"at": long_ago, "method": "phone", "reached": False, "note": "无人接听"})
    await expect(page.locator("#toast")).to_have_text(f"{missed['id']} 需要回访。", timeout=LIVE)
    await page.locator("#due-return-visit").click()
    await expect(page.locator("#due-return-visit")).to_have_attribute("aria-pressed", "true")
    await expect(page.locator("#due-follow-up")).to_have_attribute("aria-pressed", "false")
    await expect(queue_row(page, missed["id"])).to_be_visible()
    await expect(queue_row(page, case_id)).to_have_count(0)
    await open_case(page, missed["id"])
    await expect(panel.locator("#visit-tries")).to_have_text("已尝试 1 次")
    await expect(panel.locator("#visit-due")).to_contain_text("已逾期")
    await log_visit(page, "phone", "否", note="仍无人接听")
    await log_visit(page, "sms", "否", note="短信未回复")
    await expect(page.locator("#case-status")).to_have_text("已结案")
    await expect(panel.locator("#visit-state")).to_have_text("已结案：多次尝试仍未联系上客户（3 次）。")
    await expect(queue_row(page, missed["id"])).to_have_count(0, timeout=LIVE)
    await page.locator("#due-return-visit").click()
    await expect(page.locator("#due-return-visit")).to_have_attribute("aria-pressed", "false")
    await expect(queue_row(page, case_id)).to_be_visible()

    # Answered a second time and still dissatisfied: the customer is referred to mediation and arbitration. A call
    # reaches nobody by itself, so the handler is asked to tell them.
    await open_case(page, case_id)
    await page.locator("#claim-button").click()
    await expect(page.locator("#case-status")).to_have_text("处理中")
    await page.locator("#propose-button").click()
    form = page.locator("#propose-form")
    await form.get_by_label("答复客户的内容").fill("收费标准已于今日张贴，再次致歉。")
    await form.get_by_label("处理结果").select_option("upheld")
    await form.locator("#propose-submit").click()
    await expect(page.locator("#case-status")).to_have_text("已答复")
    await log_visit(page, "phone", "是", score=1, note="客户仍不满意")
    await expect(page.locator("#case-status")).to_have_text("已结案")
    await expect(panel.locator("#visit-state")).to_have_text("已结案：二次答复后客户仍不满意，已转介调解或仲裁。")
    await expect(panel.locator("#visit-referral")).to_contain_text("请致电或致函告知客户调解、仲裁途径")
    await expect(page.locator("#notes-list")).to_contain_text("tell the customer about mediation and arbitration")
    await assert_inert(page)
    await page.screenshot(path=str(LOGS / "console-after-answer-zh.png"), full_page=True)

    shown = await api.call("GET", f"/api/cases/{case_id}")
    assert (shown["status"], shown["closed_as"], shown["referral"]["to"]) == (
        "closed", "referred", "mediation_or_arbitration")
    assert [(v["score"], v["measures_verified"]) for v in shown["return_visits"]] == [(4, False), (1, None)]
    assert (shown["follow_up"]["on"], shown["follow_up"]["note"], shown["follow_up"]["by"]) == (
        today.isoformat(), note, HANDLER)
    missed_now = await api.call("GET", f"/api/cases/{missed['id']}")
    assert (missed_now["status"], missed_now["closed_as"]) == ("closed", "not_reached")

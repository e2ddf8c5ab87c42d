"""Handlers and supervisors carry complaints through the handling process in the real agent console, in real
headless Chromium.

A handler classifies a case, notes and investigates it and proposes the answer with its corrective measures
(整改措施), compensation and what happens to the staff responsible; a supervisor of the branch returns the plan
with a reason the handler reads at once; the handler proposes again; a supervisor of the head office approves it
and the case is answered. The console shows all of it in Chinese and in English. Nobody approves their own plan,
not even by calling the API; approved answer templates go into a reply at the cursor; a reply or a plan with a
phrase never to say to a customer shows the server's refusal; a case escalated to the head office leaves the
branch's console and alerts the head office's supervisors.

A gateway of the test's own runs with an ORG_FILE (a head office, two branches and a branch's wealth desk) on the
session's Redis and record; no bot is needed. The cases are registered by staff and name a large sum, so they are
graded medium and, under the default APPROVAL_POLICY (medium-and-up), their answers wait for a supervisor.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from playwright.async_api import Page, expect

from gateway import supervisor
from tests.e2e.conftest import LOGS, AgentApi, Gateway, Profile, gateway_env, start_gateway
from tests.e2e.test_agent_console import LIVE, open_case, queue_row, sign_in
from tests.support.org_files import HEAD_OFFICE, PUDONG, Unit, org_toml

pytestmark = pytest.mark.e2e

ORG = org_toml(HEAD_OFFICE, PUDONG, Unit("bj-chaoyang", "北京朝阳营业部", "Beijing Chaoyang branch"),
              Unit("sh-pudong-wealth", "浦东营业部财富管理部", "Pudong wealth desk", "department", "sh-pudong"))
NO_BOT = "http://127.0.0.1:9"  # nothing here talks to the bot: every case is registered by staff
PASSWORD = "a long password for handling"
HANDLER, BRANCH_SUPERVISOR, HQ_SUPERVISOR = "e2e-hd-handler", "e2e-hd-pudong-supervisor", "e2e-hd-hq-supervisor"
STAFF = {HANDLER: ("agent", "sh-pudong"), BRANCH_SUPERVISOR: ("supervisor", "sh-pudong"),
         HQ_SUPERVISOR: ("supervisor", "hq")}
# A sum this large grades the complaint medium (handoff/risk_rules.toml: large_sum). The customers' numbers are
# used by no other end-to-end test: a repeat complainant would be graded differently.
STORY_ZH = "客户经理推荐的理财产品亏损了20万元，购买时没有说明风险"
STORY_EN = "The adviser sold me a fund without explaining the risk and I lost 150,000 dollars"



def add_staff(redis_url: str, data_dir: Path, org_file: Path, name: str, role: str, unit: str) -> None:
    """An account in one unit of the organisation, made with the CLI as the README tells operators to."""
    env = gateway_env(redis_url, NO_BOT, data_dir, ORG_FILE=str(org_file))
    subprocess.run([sys.executable, "-m", "gateway.cli", "agents", "add", name, "--role", role, "--unit", unit,
                    "--password-stdin"], input=PASSWORD.encode(), env=env, check=True, cwd=supervisor.ROOT,
                   capture_output=True)


@pytest.fixture(scope="module")
def org_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("org-handling") / "org.toml"
    path.write_text(ORG, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def handling_gateway(e2e_redis: str, org_file: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    for name, (role, unit) in STAFF.items():
        add_staff(e2e_redis, tmp_path_factory.mktemp(f"cli-{name}"), org_file, name, role, unit)
    gateway = start_gateway("handling", e2e_redis, NO_BOT, tmp_path_factory.mktemp("gw-handling"),
                            ORG_FILE=str(org_file))
    try:
        yield gateway
    finally:
        gateway.stop()


async def api_for(http: aiohttp.ClientSession, gateway: Gateway, name: str) -> AgentApi:
    client = AgentApi(http, gateway.url)
    await client.login(name, PASSWORD)
    return client


async def console_for(profiles: Profile, gateway: Gateway, name: str, locale: str) -> Page:
    page = await (await profiles(locale, "UTC")).new_page()
    await sign_in(page, gateway, name, PASSWORD)
    return page


async def register(api: AgentApi, language: str, story: str, name: str, phone: str) -> dict[str, Any]:
    """A call taken at the Pudong branch, put on the record by staff."""
    case: dict[str, Any] = await api.call("POST", "/api/cases", json={
        "channel": "phone", "language": language, "unit": "sh-pudong",
        "customer": {"name": name, "phone": phone}, "complaint": {"description": story, "product": "funds_wealth"}})
    assert case["risk"]["grade"] == "medium", case["risk"]  # its answer waits for a supervisor's approval
    return case


async def opened(page: Page, case_id: str) -> None:
    await expect(queue_row(page, case_id)).to_be_visible(timeout=LIVE)
    await open_case(page, case_id)


async def test_a_returned_plan_is_proposed_again_and_approved_by_another_supervisor_in_chinese_and_english(
    profiles: Profile, handling_gateway: Gateway, http: aiohttp.ClientSession,
) -> None:
    handler_api = await api_for(http, handling_gateway, HANDLER)
    case_id = (await register(handler_api, "zh", STORY_ZH, "王芳", "13911470001"))["id"]

    handler = await console_for(profiles, handling_gateway, HANDLER, "zh-CN")
    await opened(handler, case_id)
    await expect(handler.locator("#complaint-record")).to_contain_text("上海浦东营业部")
    classification = handler.locator("#classify-record")
    await expect(classification).to_contain_text("责任部门上海浦东营业部（受理单位）")
    await expect(classification).to_contain_text("投诉性质服务产品")  # guessed from the customer's words

    # The handler classes it (a sale that skipped the risk warning) and gives it to the branch's wealth desk.
    await expect(handler.locator("#classify-department option[value='sh-pudong-wealth']")).to_have_text(
        "浦东营业部财富管理部")
    await handler.locator("#classify-nature").select_option("process")
    await handler.locator("#classify-department").select_option("sh-pudong-wealth")
    await handler.locator("#classify-submit").click()
    await expect(classification).to_contain_text("投诉性质服务流程")
    await expect(classification).to_contain_text("责任部门浦东营业部财富管理部")

    await handler.locator("#claim-button").click()
    await expect(handler.locator("#case-status")).to_have_text("处理中")
    await expect(handler.locator("#notes-hint")).to_have_text("仅供同事查看，不会发送给客户。")
    note = "已致电客户，约定本周五前给出答复"
    await handler.get_by_label("添加备注").fill(note)
    await handler.locator("#note-submit").click()
    await expect(handler.locator("#notes-list")).to_contain_text(note)
    await expect(handler.locator("#notes-list")).to_contain_text(HANDLER)
    await expect(handler.get_by_label("添加备注")).to_have_value("")

    await expect(handler.locator("#findings-due")).to_contain_text("调查期限：")
    findings = "调取销售录音：客户经理未做风险揭示；产品风险等级R4，高于客户的风险承受能力C2"
    await handler.get_by_label("记录调查核实的情况").fill(findings)
    await handler.locator("#findings-submit").click()
    await expect(handler.locator("#findings-list")).to_contain_text(findings)

    await handler.locator("#propose-button").click()
    form = handler.locator("#propose-form")
    answer = "王女士您好：经核查，销售时确未充分揭示产品风险，给您带来损失和困扰，我们深表歉意。我们将按核定金额赔偿。"
    measures = "对营业部理财销售人员开展适当性培训，并复查近一年同类产品的销售记录"
    await form.get_by_label("答复客户的内容").fill(answer)
    await form.get_by_label("处理结果").select_option("partially_upheld")
    await form.get_by_label("整改措施").fill(measures)
    await form.get_by_label("向客户赔偿").check()
    await form.get_by_label("金额").fill("20000")
    await expect(form.get_by_label("币种")).to_have_value("CNY")
    await form.get_by_label("责任人", exact=True).fill("客户经理王某")
    await form.get_by_label("处理措施").fill("通报批评，扣减当季绩效")
    await form.locator("#propose-submit").click()
    await expect(handler.locator("#case-status")).to_have_text("待审批")
    await expect(form).to_be_hidden()
    plan = handler.locator("#plan-record")
    await expect(handler.locator("#plan-state")).to_have_text("待主管审批")
    for shown in ("整改措施" + measures, "赔偿20,000.00 CNY", "责任人处理客户经理王某：通报批评，扣减当季绩效",
                  "处理结果部分成立", answer):
        await expect(plan).to_contain_text(shown)
    await expect(handler.locator("#approval-actions")).to_be_hidden()  # a handler approves nothing

    # A supervisor of the branch sends it back, with the reason.
    branch = await console_for(profiles, handling_gateway, BRANCH_SUPERVISOR, "zh-CN")
    await opened(branch, case_id)
    await expect(queue_row(branch, case_id)).to_contain_text("待审批")
    await expect(branch.locator("#plan-state")).to_have_text("待主管审批")
    await branch.locator("#return-button").click()
    reason = "赔偿金额依据不足：请补充亏损计算明细"
    await branch.get_by_label("退回原因").fill(reason)
    await branch.locator("#return-submit").click()
    await expect(branch.locator("#case-status")).to_have_text("处理中")

    # The handler's open console hears it at once, and reads why.
    await expect(handler.locator("#plan-state")).to_have_text(f"已被 {BRANCH_SUPERVISOR} 退回：{reason}", timeout=LIVE)
    await expect(handler.locator("#case-status")).to_have_text("处理中")
    await handler.locator("#propose-button").click()
    await expect(form.get_by_label("整改措施")).to_have_value(measures)  # the returned plan, to change
    await expect(form.get_by_label("金额")).to_have_value("20000")
    measures = measures + "；赔偿金额按所附亏损计算明细核定"
    await form.get_by_label("整改措施").fill(measures)
    await form.get_by_label("金额").fill("18500")
    await form.locator("#propose-submit").click()
    await expect(handler.locator("#case-status")).to_have_text("待审批")
    await expect(handler.locator("#returned-summary")).to_have_text("已退回的方案（1）")
    await handler.screenshot(path=str(LOGS / "console-handling-zh.png"), full_page=True)

    # A supervisor of the head office reads it all in English and approves.
    hq = await console_for(profiles, handling_gateway, HQ_SUPERVISOR, "en-GB")
    await opened(hq, case_id)
    await expect(queue_row(hq, case_id)).to_contain_text("Awaiting approval")
    await expect(hq.locator("#case-status")).to_have_text("Awaiting approval")
    await expect(hq.locator("#complaint-record")).to_contain_text("Receiving unitShanghai Pudong branch")
    await expect(hq.locator("#classify-record")).to_contain_text("Responsible departmentPudong wealth desk")
    await expect(hq.locator("#classify-record")).to_contain_text("NatureService process")
    await expect(hq.locator("#notes-list")).to_contain_text(note)
    await expect(hq.locator("#findings-list")).to_contain_text(findings)
    await expect(hq.locator("#findings-due")).to_contain_text("Investigate by")
    await expect(hq.locator("#plan-state")).to_have_text("Awaiting a supervisor’s approval")
    for shown in ("Corrective measures" + measures, "Compensation18,500.00 CNY",
                  "Staff responsible客户经理王某: 通报批评，扣减当季绩效", "OutcomePartially upheld",
                  f"Proposed by{HANDLER}"):
        await expect(hq.locator("#plan-record")).to_contain_text(shown)
    await hq.locator("#returned-summary").click()
    await expect(hq.locator("#returned-summary")).to_have_text("Returned plans (1)")
    await expect(hq.locator("#returned-list")).to_contain_text(f"Returned by {BRANCH_SUPERVISOR}: {reason}")
    await expect(hq.locator("#returned-list")).to_contain_text("Compensation20,000.00 CNY")
    await hq.locator("#approve-button").click()
    await expect(hq.locator("#case-status")).to_have_text("Answered")
    await expect(hq.locator("#plan-state")).to_contain_text(f"Approved by {HQ_SUPERVISOR}")
    await expect(hq.locator("#approval-actions")).to_be_hidden()
    # The customer called: no channel of the gateway reaches them, and a note says how to give the answer.
    await expect(hq.locator("#notes-list")).to_contain_text("tell them by phone or letter")
    audit = hq.locator("#audit-trail")
    for action in ("Plan approved", "Plan returned", "Plan proposed", "Findings recorded", "Internal note",
                   "Classified", "Registered by staff"):
        await expect(audit).to_contain_text(action)
    await hq.screenshot(path=str(LOGS / "console-handling-en.png"), full_page=True)

    await expect(handler.locator("#case-status")).to_have_text("已答复", timeout=LIVE)
    await expect(handler.locator("#plan-state")).to_contain_text(f"已由 {HQ_SUPERVISOR} 审批通过")
    for action in ("审批通过", "退回处理方案", "提交处理方案", "记录调查核实情况", "内部备注", "分类"):
        await expect(handler.locator("#audit-trail")).to_contain_text(action)

    case = await handler_api.call("GET", f"/api/cases/{case_id}")
    assert case["status"] == "answered"
    assert (case["approval"]["by"], case["approval"]["decision"]) == (HQ_SUPERVISOR, "approved")
    assert case["proposal"]["by"] == HANDLER and case["proposal"]["measures"] == measures
    assert case["proposal"]["compensation"] == {"amount": 18500, "currency": "CNY"}
    assert case["proposal"]["responsible"] == {"staff": "客户经理王某", "action": "通报批评，扣减当季绩效"}
    assert [(p["returned_by"], p["reason"]) for p in case["returned_plans"]] == [(BRANCH_SUPERVISOR, reason)]
    assert (case["nature"], case["department"]) == ("process", "sh-pudong-wealth")
    assert [n["text"] for n in case["notes"] if n["by"] == HANDLER] == [note]
    assert [f["text"] for f in case["findings"]] == [findings]


async def test_a_supervisor_gets_no_approve_button_for_their_own_plan_and_the_api_refuses_it(
    profiles: Profile, handling_gateway: Gateway, http: aiohttp.ClientSession,
) -> None:
    own_api = await api_for(http, handling_gateway, BRANCH_SUPERVISOR)
    case_id = (await register(own_api, "en", STORY_EN, "Alan Brown", "+44 7700 900472"))["id"]

    page = await console_for(profiles, handling_gateway, BRANCH_SUPERVISOR, "en-GB")
    await opened(page, case_id)
    await page.locator("#claim-button").click()
    await expect(page.locator("#case-status")).to_have_text("Claimed")
    await page.locator("#propose-button").click()
    form = page.locator("#propose-form")
    await form.get_by_label("Answer to the customer").fill("We are sorry: the fund's risk was not explained to you.")
    await form.get_by_label("Outcome").select_option("upheld")
    await form.get_by_label("Corrective measures").fill("Retrain the branch's advisers on suitability.")
    await form.locator("#propose-submit").click()
    await expect(page.locator("#case-status")).to_have_text("Awaiting approval")
    await expect(page.locator("#plan-record")).to_contain_text("CompensationNone")
    await expect(page.locator("#own-plan")).to_have_text("This is your own plan: another supervisor approves it.")
    await expect(page.locator("#approval-actions")).to_be_hidden()
    await expect(page.locator("#approve-button")).to_be_hidden()

    # Forced through the API, the approval is refused and changes nothing.
    async with http.post(f"{handling_gateway.url}/api/cases/{case_id}/approve", headers=own_api.headers) as r:
        assert r.status == 403, await r.text()
        assert "nobody approves their own plan" in (await r.json())["error"]
    case = await own_api.call("GET", f"/api/cases/{case_id}")
    assert case["status"] == "awaiting_approval" and case["approval"] is None

    # Another supervisor does get the buttons.
    other = await console_for(profiles, handling_gateway, HQ_SUPERVISOR, "en-GB")
    await opened(other, case_id)
    await expect(other.locator("#approve-button")).to_be_visible()
    await expect(other.locator("#own-plan")).to_be_hidden()


async def test_a_template_goes_into_the_reply_at_the_cursor_and_forbidden_phrases_show_the_servers_refusal(
    profiles: Profile, handling_gateway: Gateway, http: aiohttp.ClientSession,
) -> None:
    hq_api = await api_for(http, handling_gateway, HQ_SUPERVISOR)
    await hq_api.call("POST", "/api/canned-replies",
                      json={"language": "zh", "title": "致歉", "text": "给您带来不便，我们深表歉意。"})
    hq = await console_for(profiles, handling_gateway, HQ_SUPERVISOR, "en-GB")
    await hq.locator("#templates-button").click()
    dialog = hq.locator("#templates-dialog")
    await expect(dialog).to_be_visible()
    await expect(dialog.locator("#templates-list")).to_contain_text("致歉")
    await dialog.get_by_label("Language").select_option("en")
    await dialog.get_by_label("Title").fill("Firm line")
    await dialog.get_by_label("Text").fill("It is not our fault: the market moved.")
    await dialog.locator("#template-submit").click()
    await expect(dialog.locator("#template-error")).to_contain_text("never say \u201cit is not our fault\u201d")
    apology = "We are sorry for the trouble this has caused you."
    await dialog.get_by_label("Title").fill("Apology")
    await dialog.get_by_label("Text").fill(apology)
    await dialog.locator("#template-submit").click()
    await expect(dialog.locator("#templates-list")).to_contain_text(apology)
    await expect(dialog.locator("#templates-list")).not_to_contain_text("Firm line")
    await dialog.locator("#templates-close").click()

    handler_api = await api_for(http, handling_gateway, HANDLER)
    case_id = (await register(handler_api, "en", STORY_EN, "Mary Green", "+44 7700 900473"))["id"]
    handler = await console_for(profiles, handling_gateway, HANDLER, "en-GB")
    await expect(handler.locator("#templates-button")).to_be_hidden()  # the library is the supervisors'
    await opened(handler, case_id)
    await handler.locator("#claim-button").click()
    await expect(handler.locator("#case-status")).to_have_text("Claimed")

    # The template goes in where the cursor is, between the greeting and the signature.
    reply = handler.locator("#reply-input")
    await reply.fill("Dear Ms Green,\n\nKind regards")
    await reply.evaluate("box => box.setSelectionRange('Dear Ms Green,\\n\\n'.length, 'Dear Ms Green,\\n\\n'.length)")
    templates = handler.locator("#reply-template")
    await expect(templates.locator("option", has_text="致歉")).to_have_count(0)  # a Chinese one
    await templates.select_option(label="Apology")
    await expect(reply).to_have_value(f"Dear Ms Green,\n\n{apology}Kind regards")
    await expect(reply).to_be_focused()
    await expect(templates).to_have_value("")

    # A reply that argues is refused by the server, which names the phrase; nothing goes out and nothing is lost.
    argued = "We checked: a double charge is impossible."
    await reply.fill(argued)
    await handler.locator("#reply-send").click()
    await expect(handler.locator("#reply-error")).to_contain_text("never say \u201cimpossible\u201d")
    await expect(handler.locator("#reply-error")).to_have_attribute("role", "alert")
    await expect(reply).to_have_value(argued)

    # Resolving in one step is not for a case whose answer a supervisor approves: the console leads to the plan.
    await handler.locator("#resolve-button").click()
    await handler.locator("#resolve-outcome").select_option("not_upheld")
    summary = "The fund was sold with its risk explained."
    await handler.locator("#resolve-summary").fill(summary)
    await handler.locator("#resolve-submit").click()
    await expect(handler.locator("#resolve-error")).to_contain_text("needs a supervisor’s approval")
    await handler.locator("#resolve-to-propose").click()
    form = handler.locator("#propose-form")
    await expect(form).to_be_visible()
    await expect(handler.locator("#resolve-form")).to_be_hidden()
    await expect(form.get_by_label("Answer to the customer")).to_have_value(summary)
    await expect(form.get_by_label("Outcome")).to_have_value("not_upheld")
    await form.locator("#propose-template").select_option(label="Apology")
    await expect(form.get_by_label("Answer to the customer")).to_have_value(summary + apology)

    # A plan that blames the customer is refused too, beside the form, with the answer marked.
    await form.get_by_label("Answer to the customer").fill("It is your fault for not reading the fund's documents.")
    await form.locator("#propose-submit").click()
    await expect(form.locator("#propose-error")).to_contain_text("never say \u201cit is your fault\u201d")
    await expect(form.get_by_label("Answer to the customer")).to_have_attribute("aria-invalid", "true")
    await expect(handler.locator("#case-status")).to_have_text("Claimed")
    await handler.screenshot(path=str(LOGS / "console-handling-refusals.png"), full_page=True)

    case = await handler_api.call("GET", f"/api/cases/{case_id}")
    assert case["status"] == "claimed" and case.get("proposal") is None
    assert not [m for m in case["messages"] if m["from"] == "agent"]

    # A supervisor deletes the template; the handler's console offers it no more.
    await hq.locator("#templates-button").click()
    await dialog.get_by_role("button", name="Delete the template “Apology”").click()
    await expect(dialog.locator("#templates-list")).not_to_contain_text(apology)
    await handler.locator("#refresh-queue").click()
    await expect(templates).to_be_hidden()


async def test_an_escalated_case_leaves_the_branch_and_alerts_the_head_offices_supervisors(
    profiles: Profile, handling_gateway: Gateway, http: aiohttp.ClientSession,
) -> None:
    handler_api = await api_for(http, handling_gateway, HANDLER)
    case_id = (await register(handler_api, "zh", STORY_ZH, "赵强", "13911470003"))["id"]
    hq = await console_for(profiles, handling_gateway, HQ_SUPERVISOR, "en-GB")

    handler = await console_for(profiles, handling_gateway, HANDLER, "zh-CN")
    await opened(handler, case_id)
    await handler.locator("#claim-button").click()
    await expect(handler.locator("#case-status")).to_have_text("处理中")
    await handler.locator("#escalate-button").click()
    form = handler.locator("#escalate-form")
    await expect(form.get_by_label("上报至")).to_have_value("hq")
    await expect(form.locator("#escalate-to option")).to_have_text(["总部"])  # only the units above the branch
    reason = "涉及金额较大，客户要求总部处理"
    await form.get_by_label("原因").fill(reason)
    await form.locator("#escalate-submit").click()
    await expect(handler.locator("#toast")).to_contain_text(f"{case_id} 已上报至总部")
    await expect(handler.locator("#case-empty")).to_be_visible()  # the head office's case now
    await expect(queue_row(handler, case_id)).to_have_count(0, timeout=LIVE)

    await expect(hq.locator("#toast")).to_have_text(f"Alert: {case_id} was escalated to Head office.", timeout=LIVE)
    await opened(hq, case_id)
    await expect(hq.locator("#case-status")).to_have_text("Queued")
    await expect(hq.locator("#escalations-list")).to_contain_text("Shanghai Pudong branch → Head office")
    await expect(hq.locator("#escalations-list")).to_contain_text(reason)
    await expect(hq.locator("#classify-record")).to_contain_text("Responsible departmentHead office")
    await expect(hq.locator("#audit-trail")).to_contain_text("Escalated")
    await expect(hq.locator("#escalate-button")).to_be_disabled()  # nothing is above the head office

    hq_api = await api_for(http, handling_gateway, HQ_SUPERVISOR)
    shown = await hq_api.call("GET", f"/api/cases/{case_id}")
    assert (shown["status"], shown["department"], shown["assignee"]) == ("queued", "hq", None)
    assert [(e["from"], e["to"], e["reason"]) for e in shown["escalations"]] == [("sh-pudong", "hq", reason)]

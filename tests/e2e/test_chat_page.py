"""A customer complains in the real chat page, in real headless Chromium (Debian's, driven by Playwright)."""

from __future__ import annotations

import pytest
from playwright.async_api import Browser, expect

from handoff.ids import CASE_ID_PATTERN
from tests.e2e.conftest import LOGS, Gateway, say

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize("language", ["en", "zh"])
async def test_a_customer_types_a_complaint_and_gets_a_case_number(
    language: str, browser: Browser, gateway: Gateway
) -> None:
    context = await browser.new_context(locale="zh-CN" if language == "zh" else "en-GB")
    page = await context.new_page()
    await page.goto(gateway.url + "/")
    await expect(page.locator("#message-input")).to_be_visible()
    if language == "zh":
        turns = ["我要投诉", "你们的APP转账失败了三次，资金一直没有到账", "李四", "13912345678",
                 "上周五，希望尽快把钱退回来", "线上", "没有", "对"]
    else:
        turns = ["I would like to make a complaint",
                 "My bank-securities transfer failed three times and the money never arrived", "Jane Doe",
                 "+44 7700 900456", "Last Friday. I want the money back in my account", "online", "no", "yes"]
    for text in turns:
        await say(page, text)
    case_id = page.locator("#case-banner #case-id")
    await expect(case_id).to_have_text(CASE_ID_PATTERN, timeout=60_000)
    await page.screenshot(path=str(LOGS / f"chat-page-{language}.png"), full_page=True)
    await context.close()

"""The records page in real Chromium: a supervisor reads a unit's month of the register (记录表), opens a case's
entry, files the month as CSV and sees it filed with head office."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from playwright.async_api import Browser, async_playwright, expect

from gateway import keys
from gateway.app import create_app
from gateway.settings import Settings
from tests.conftest import PASSWORD
from tests.e2e.conftest import CHROMIUM, FLAGS, HAVE_CHROMIUM


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Browser]:
    if not HAVE_CHROMIUM:
        if os.environ.get("REQUIRE_BROWSER"):
            pytest.fail("chromium is not installed (apt-get install chromium)")
        pytest.skip("chromium is not installed (apt-get install chromium)")
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield launched
        await launched.close()


async def test_a_supervisor_reads_a_units_month_and_files_it_from_the_records_page(
    aiohttp_server: Any, settings: Settings, browser: Browser
) -> None:
    app = create_app(replace(settings, database_url=f"sqlite+aiosqlite:///{settings.data_dir / 'record.db'}"))
    gateway = await aiohttp_server(app)
    await app[keys.AGENTS].add("sue", PASSWORD, "supervisor")
    case = await app[keys.CASES].create(
        channel="webchat", conversation_id="webchat:page", language="zh", customer={"name": "张伟"},
        complaint={"description": "佣金被多收了", "product": "fees_commissions"}, handoff_reason="complete",
        received_at=datetime.now(UTC))
    month = datetime.now(ZoneInfo("Asia/Shanghai")).strftime("%Y-%m")
    context = await browser.new_context(locale="zh-CN", accept_downloads=True)
    try:
        page = await context.new_page()
        await page.goto(str(gateway.make_url("/agent")))
        await page.evaluate("""body => fetch('/api/login', {method: 'POST', body,
            headers: {'Content-Type': 'application/json'}})""", f'{{"name": "sue", "password": "{PASSWORD}"}}')
        await page.goto(str(gateway.make_url("/records")))
        await expect(page.locator("#register-heading")).to_have_text("投诉记录表")
        await page.locator("#g-month").fill(month)
        await expect(page.locator("#g-unit")).to_have_value("hq")
        await page.locator("#register-form button[type=submit]").click()
        row = page.locator("#register-body tr")
        await expect(row).to_have_count(1)
        await expect(row.first).to_contain_text(case["id"])
        await expect(row.first).to_contain_text("张伟")
        await expect(page.locator("#filing-body")).to_contain_text("尚未生成")

        async with page.expect_popup() as opened:
            await row.first.locator(".entry a", has_text="HTML").click()
        entry = await opened.value
        await expect(entry.locator("h1")).to_contain_text("客户投诉记录表")
        await expect(entry.locator("table.entry")).to_contain_text("Date received")

        async with page.expect_download() as downloading:
            await page.locator("#rg-csv").click()
        download = await downloading.value
        assert download.suggested_filename == f"register-hq-{month}.csv"
        await page.locator("#register-form button[type=submit]").click()
        await expect(page.locator("#filing-body")).to_contain_text("sue 于")
        await expect(page.locator("#filing-body")).to_contain_text("CSV（1 件）")
    finally:
        await context.close()

"""Security headers on every answer of the real app: what a browser may run, who may frame a page, no version.

The pages run under their policy in real Chromium: the chat page, the console and the records page load with
no policy violation, and the chat widget opens the chat on a site named in CHAT_EMBED_ORIGINS but not on another.
"""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from playwright.async_api import Browser, ConsoleMessage, async_playwright, expect

from gateway.app import create_app
from gateway.settings import Settings
from tests.e2e.conftest import CHROMIUM, FLAGS, HAVE_CHROMIUM

FIRM_SITE = "https://www.example.com"
PAGES = ["/", "/agent", "/records", "/static/index.html"]
OTHER_ANSWERS = ["/static/chat.js", "/agent/static/agent.css", "/records/static/records.js", "/healthz",
                 "/api/openapi.json", "/api/cases", "/api/records/search", "/metrics", "/nowhere"]


def policy(header: str) -> dict[str, str]:
    """A Content-Security-Policy as {directive: sources}."""
    parts = (part.strip().split(None, 1) for part in header.split(";") if part.strip())
    return {part[0]: part[1] if len(part) > 1 else "" for part in parts}


@pytest.fixture
async def client(aiohttp_client: Any, settings: Settings) -> Any:
    return await aiohttp_client(create_app(replace(settings, chat_embed_origins=(FIRM_SITE,))))


@pytest.mark.parametrize("path", PAGES + OTHER_ANSWERS)
async def test_every_answer_carries_the_security_headers_and_no_server_version(client: Any, path: str) -> None:
    response = await client.get(path)
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    csp = policy(response.headers["Content-Security-Policy"])
    assert "frame-ancestors" in csp and csp["object-src"] == "'none'" and csp["base-uri"] == "'none'"
    assert "'unsafe-inline'" not in csp.get("script-src", "'none'") and "'unsafe-eval'" not in str(csp)
    assert not re.search(r"\d", response.headers.get("Server", "")), response.headers["Server"]


@pytest.mark.parametrize("path", PAGES)
async def test_pages_load_their_own_scripts_and_styles_only(client: Any, path: str) -> None:
    response = await client.get(path)
    assert response.status == 200 and response.content_type == "text/html"
    csp = policy(response.headers["Content-Security-Policy"])
    assert csp["default-src"] == "'self'" and csp["script-src"] == "'self'" and csp["style-src"] == "'self'"
    assert csp["connect-src"] == "'self'"  # the chat's WebSocket and the console's event stream


async def test_only_the_chat_page_may_be_framed_and_only_by_the_firms_sites(client: Any) -> None:
    for path in ("/", "/static/index.html"):
        response = await client.get(path)
        assert policy(response.headers["Content-Security-Policy"])["frame-ancestors"] == f"'self' {FIRM_SITE}"
        assert "X-Frame-Options" not in response.headers  # it cannot name another site; the policy does
    for path in ["/agent", "/records", *OTHER_ANSWERS]:
        response = await client.get(path)
        assert policy(response.headers["Content-Security-Policy"])["frame-ancestors"] == "'none'", path
        assert response.headers["X-Frame-Options"] == "DENY"


async def test_without_embedding_sites_the_chat_page_is_framed_by_its_own_origin_only(
        aiohttp_client: Any, settings: Settings) -> None:
    client = await aiohttp_client(create_app(settings))
    response = await client.get("/")
    assert policy(response.headers["Content-Security-Policy"])["frame-ancestors"] == "'self'"


async def test_documents_the_api_makes_may_style_themselves_but_run_nothing(client: Any) -> None:
    """Reports and case exports are HTML with their own inline style and charts as data: images."""
    csp = policy((await client.get("/api/records/report")).headers["Content-Security-Policy"])
    assert csp["default-src"] == "'none'" and "script-src" not in csp
    assert csp["style-src"] == "'unsafe-inline'" and csp["img-src"] == "data:"


# ------------------------------------------------------------------------------------------- in Chromium


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


Serve = Callable[..., Any]


async def a_site(aiohttp_server: Serve, widget: dict[str, str]) -> TestServer:
    """A web site on an origin of its own whose page puts the chat widget on it (from ``widget["url"]``)."""

    async def home(request: web.Request) -> web.Response:
        page = f'<!doctype html><title>Firm</title><p>Our services</p><script src="{widget["url"]}" async></script>'
        return web.Response(text=page, content_type="text/html")

    app = web.Application()
    app.router.add_get("/", home)
    return await aiohttp_server(app)


def origin(server: TestServer) -> str:
    return str(server.make_url("/")).rstrip("/")


async def test_the_pages_run_under_their_policy_and_the_widget_opens_the_chat_on_the_firms_site_only(
        aiohttp_server: Serve, settings: Settings, browser: Browser) -> None:
    widget: dict[str, str] = {}
    firm, other = await a_site(aiohttp_server, widget), await a_site(aiohttp_server, widget)
    gateway = await aiohttp_server(create_app(replace(settings, chat_embed_origins=(origin(firm),))))
    widget["url"] = str(gateway.make_url("/static/widget.js"))
    context = await browser.new_context()
    violations: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text:
            violations.append(message.text)

    try:
        page = await context.new_page()
        page.on("console", on_console)
        for path, ready in (("/", "#message-input"), ("/agent", "#login-name"), ("/records", "#gate-title")):
            await page.goto(str(gateway.make_url(path)), wait_until="networkidle")
            await expect(page.locator(ready)).to_be_visible()
        assert violations == []

        await page.goto(str(firm.make_url("/")))
        await page.locator("[data-complaint-widget] button.launcher").click()
        chat = page.frame_locator("[data-complaint-widget] iframe")
        await expect(chat.locator("#message-input")).to_be_visible()
        await expect(chat.locator("#conn-status")).to_have_attribute("data-state", "online")
        assert violations == []

        await page.goto(str(other.make_url("/")))
        await page.locator("[data-complaint-widget] button.launcher").click()
        await expect(page.locator("[data-complaint-widget] iframe")).to_be_attached()
        for _ in range(50):  # the browser reports the refusal once it has the chat page's answer
            if any("frame-ancestors" in text for text in violations):
                break
            await asyncio.sleep(0.2)
        assert any("frame-ancestors" in text for text in violations), violations
        await expect(page.frame_locator("[data-complaint-widget] iframe").locator("#message-input")).to_have_count(0)
    finally:
        await context.close()

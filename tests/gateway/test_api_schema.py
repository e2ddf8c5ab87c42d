"""The agent API against its own OpenAPI document: generated requests, no 500, answers as documented."""

from __future__ import annotations

import asyncio
import re
import threading
from collections.abc import Iterator
from typing import Any

import pytest
import requests
import schemathesis
from aiohttp import web
from hypothesis import HealthCheck, settings
from redis import Redis as SyncRedis
from schemathesis.specs.openapi.checks import negative_data_rejection, positive_data_acceptance

from gateway import keys
from gateway.app import create_app
from gateway.openapi import SPEC
from gateway.settings import Settings
from tests.conftest import PASSWORD, SPARE_DB, with_db

# The event stream never ends and logout would end the session the other requests use.
schema = schemathesis.openapi.from_dict(SPEC).exclude(path_regex=r"^/api/(events|logout)$")


class LiveGateway:
    """The real app on a port of its own, in a thread with its own event loop (the requests are blocking)."""

    def __init__(self, gateway_settings: Settings) -> None:
        self._settings = gateway_settings
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._runner: web.AppRunner | None = None
        self.url = ""

    def start(self) -> None:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(timeout=30)

    async def _start(self) -> None:
        app = create_app(self._settings)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}"
        await app[keys.AGENTS].add("fuzz", PASSWORD, "admin")

    def stop(self) -> None:
        if self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(timeout=30)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)


@pytest.fixture(scope="module")
def live(redis_server: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, str]]]:
    redis_url = with_db(redis_server, SPARE_DB)
    SyncRedis.from_url(redis_url).flushdb()
    gateway = LiveGateway(Settings.from_env({}, redis_url=redis_url, rasa_url="http://127.0.0.1:9",
                                            data_dir=tmp_path_factory.mktemp("fuzz")))
    gateway.start()
    try:
        answer = requests.post(gateway.url + "/api/login", json={"name": "fuzz", "password": PASSWORD}, timeout=10)
        yield gateway.url, {"Authorization": f"Bearer {answer.json()['token']}"}
    finally:
        gateway.stop()
        SyncRedis.from_url(redis_url).flushdb()



# A registration's phone, email and dates are checked as the bot checks them (phonenumbers, email-validator, no
# future time): a document cannot say all of that, so a well-formed value may still get its documented 422.
CHECKED_BEYOND_THE_SCHEMA = {("POST", "/api/cases")}


@schema.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
def test_generated_requests_get_documented_answers_and_never_a_500(
    case: Any, live: tuple[str, dict[str, str]]
) -> None:
    base_url, auth = live
    # Leniency is allowed (an empty filter is no filter); a wrong answer, an undocumented one or a 500 is not.
    excluded = [negative_data_rejection]
    if (case.method, case.path) in CHECKED_BEYOND_THE_SCHEMA:
        excluded.append(positive_data_acceptance)
    case.call_and_validate(base_url=base_url, headers=auth, excluded_checks=excluded)


@schema.parametrize()
@settings(max_examples=5, deadline=None, suppress_health_check=list(HealthCheck))
def test_generated_requests_without_a_session_never_get_a_500(case: Any, live: tuple[str, dict[str, str]]) -> None:
    base_url, _ = live
    response = case.call(base_url=base_url)
    assert response.status_code < 500, response.text


def patterns(node: Any) -> Iterator[str]:
    """Every ``pattern`` in the document."""
    if isinstance(node, dict):
        if isinstance(node.get("pattern"), str):
            yield node["pattern"]
        for value in node.values():
            yield from patterns(value)
    elif isinstance(node, list):
        for value in node:
            yield from patterns(value)


def test_no_text_pattern_lets_a_nul_through() -> None:
    # The server refuses NUL (it cannot be stored): a document that allowed it would promise what is refused.
    text_patterns = [p for p in patterns(SPEC) if "x00" in p]
    assert text_patterns
    assert not [p for p in text_patterns if re.search(p, "\x00") or re.search(p, " \x00 ")]

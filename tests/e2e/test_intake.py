"""Customers complain over the real WebSocket; the real bot collects the record; a handler answers.

Runs the whole system: Rasa and its action server, Redis, and gateways as separate processes.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import uuid
from typing import Any

import aiohttp
import pytest

from tests.e2e.conftest import AgentApi, Gateway, start_gateway
from tests.support.chat_client import ChatClient

pytestmark = pytest.mark.e2e

# The story first, then name and contact, the wish, where and who (asked once each), and yes to the read-back.
CONVERSATIONS = {
    "zh": ("我要投诉", "我昨天下的买单一直没有成交，损失了很多钱", "张三", "13800138000",
           "希望尽快查明原因并给我答复", "不清楚", "没有", "对"),
    "en": ("I want to file a complaint", "The app charged me a commission twice for one trade last Friday",
           "John Smith", "+44 7700 900123", "Please refund the extra commission", "online", "no", "yes"),
}


async def complain(chat: ChatClient, language: str) -> dict[str, Any]:
    """Answer the bot's questions, one after the other, until the case number arrives."""
    for text in CONVERSATIONS[language]:
        assert (await chat.send(text))["type"] == "ack"
        await chat.bot_says(timeout=60)
    return await chat.expect(lambda f: f["type"] == "case", timeout=60)


async def wait_for_message_in_case(api: AgentApi, case_id: str, text: str) -> dict[str, Any]:
    for _ in range(100):
        case: dict[str, Any] = await api.call("GET", f"/api/cases/{case_id}")
        if any(m["from"] == "customer" and m["text"] == text for m in case["messages"]):
            return case
        await asyncio.sleep(0.1)
    raise AssertionError(f"{text!r} never reached case {case_id}")


@pytest.mark.parametrize("language", ["zh", "en"])
async def test_a_complaint_becomes_a_case_a_handler_answers_and_the_customer_reaches_the_handler(
    language: str, gateway: Gateway, agent_account: tuple[str, str], http: aiohttp.ClientSession
) -> None:
    chat = await ChatClient.connect(http, gateway.ws_url, language=language)
    case_frame = await complain(chat, language)
    assert case_frame["status"] == "queued"

    api = AgentApi(http, gateway.url)
    await api.login(*agent_account)
    queued = await api.call("GET", "/api/cases?status=queued")
    assert case_frame["case_id"] in [c["id"] for c in queued["cases"]]

    case = await api.call("POST", f"/api/cases/{case_frame['case_id']}/claim")
    _, description, name, phone = CONVERSATIONS[language][:4]
    assert case["customer"]["name"] == name
    assert case["customer"]["phone"].replace(" ", "").endswith(phone.replace(" ", "")[-8:])
    assert case["complaint"]["description"] == description
    assert case["language"] == language and case["assignee"] == agent_account[0]

    reply = "您好，我们正在核查您的委托记录。" if language == "zh" else "Hello, we are checking your trade records."
    await api.call("POST", f"/api/cases/{case['id']}/reply", json={"text": reply})
    heard = await chat.expect(lambda f: f["type"] == "message" and f["from"] == "agent")
    assert heard["text"] == reply

    await chat.drain()
    follow_up = "谢谢，订单号是 A123" if language == "zh" else "Thanks, the order number is A123"
    await chat.send(follow_up)
    case = await wait_for_message_in_case(api, case["id"], follow_up)
    after = await chat.drain()
    assert not [f for f in after if f["type"] == "message" and f["from"] == "bot"], "the bot answered"
    assert [m["from"] for m in case["messages"]].count("agent") == 1
    await chat.close()


async def test_two_gateways_keep_one_conversation_in_order_and_store_a_retry_once(
    rasa: tuple[str, Any], e2e_redis: str, agent_account: tuple[str, str],
    http: aiohttp.ClientSession, tmp_path_factory: pytest.TempPathFactory,
) -> None:
    # This customer types faster than the default rate limit allows.
    left, right = (start_gateway(name, e2e_redis, rasa[0], tmp_path_factory.mktemp(f"gw-{name}"),
                                 CHAT_RATE_LIMIT="100") for name in ("left", "right"))
    try:
        first_socket = await ChatClient.connect(http, left.ws_url, language="en")
        second_socket = await ChatClient.connect(http, right.ws_url, session=first_socket.session)
        sockets = [first_socket, second_socket]
        # The whole intake at once, alternating gateways, without waiting for the bot: order decides
        # which answer fills which field.
        for i, text in enumerate(CONVERSATIONS["en"]):
            assert (await sockets[i % 2].send(text))["type"] == "ack"
        case_frame = await first_socket.expect(lambda f: f["type"] == "case", timeout=90)

        numbered = [f"detail {n}" for n in range(12)]
        for i, text in enumerate(numbered):
            message_id = uuid.uuid4().hex
            assert (await sockets[i % 2].send(text, message_id))["duplicate"] is False
            retry = await sockets[(i + 1) % 2].send(text, message_id)
            assert retry["duplicate"] is True

        api = AgentApi(http, right.url)
        await api.login(*agent_account)
        case = await wait_for_message_in_case(api, case_frame["case_id"], numbered[-1])
        said = [m["text"] for m in case["messages"] if m["from"] == "customer"]
        assert said == [*CONVERSATIONS["en"], *numbered]
        assert case["customer"]["name"] == "John Smith"
        assert case["complaint"]["description"] == CONVERSATIONS["en"][1]
    finally:
        left.stop()
        right.stop()


async def test_rasa_stopped_mid_conversation_gives_a_holding_reply_and_a_queued_case(
    rasa: tuple[str, subprocess.Popen[bytes]], e2e_redis: str, agent_account: tuple[str, str],
    http: aiohttp.ClientSession, tmp_path_factory: pytest.TempPathFactory,
) -> None:
    bot_timeout = 3
    impatient = start_gateway("impatient", e2e_redis, rasa[0], tmp_path_factory.mktemp("gw-impatient"),
                              RASA_TIMEOUT=str(bot_timeout))
    rasa_process = rasa[1]
    try:
        chat = await ChatClient.connect(http, impatient.ws_url, language="en")
        await chat.send("I want to complain about my broker")
        await chat.bot_says(timeout=60)
        await chat.drain()

        os.kill(rasa_process.pid, signal.SIGSTOP)  # Rasa hangs: accepts nothing, answers nothing
        await chat.send("Mary Major")
        holding = await chat.bot_says(timeout=bot_timeout + 15)
        assert "complaint handler" in holding
        case_frame = await chat.expect(lambda f: f["type"] == "case", timeout=15)
        assert case_frame["status"] == "queued"
        os.kill(rasa_process.pid, signal.SIGCONT)

        api = AgentApi(http, impatient.url)
        await api.login(*agent_account)
        case = await api.call("GET", f"/api/cases/{case_frame['case_id']}")
        said = [m["text"] for m in case["messages"] if m["from"] == "customer"]
        assert said == ["I want to complain about my broker", "Mary Major"]
        assert case["handoff_reason"] == "bot_unavailable" and case["status"] == "queued"
    finally:
        os.kill(rasa_process.pid, signal.SIGCONT)
        impatient.stop()

"""A WeChat complaint with the real bot: encrypted (safe mode) webhooks in, encrypted passive replies out, and a
handler's reply through the customer-service API (tests/support/wechat_double.py plays WeChat's servers)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from typing import Any

import aiohttp
import pytest

from channels.wechat.crypto import MessageCrypt
from channels.wechat.messages import parse
from gateway.embedded_redis import free_port
from tests.e2e.conftest import AgentApi, Gateway, start_gateway
from tests.support.wechat_double import (
    AES_KEY,
    APP_ID,
    APP_SECRET,
    TOKEN,
    FakeWeChatApi,
    fake_wechat,
    message_xml,
    next_msg_id,
    sealed,
    webhook_query,
)

pytestmark = pytest.mark.e2e
CUSTOMER = "oE2eWeChatCustomer0000000001"
# The story first, then name and contact, the wish, where and who (asked once each), and yes to the read-back.
CONVERSATION = ("我要投诉", "我昨天下的买单一直没有成交，损失了很多钱", "张三", "13800138000",
                "希望尽快查明原因并给我答复", "不清楚", "没有", "对")
CRYPT = MessageCrypt(TOKEN, AES_KEY, APP_ID)
STATEMENT = "https://mmbiz.qpic.cn/mmbiz_jpg/order-screenshot/0"


@pytest.fixture(scope="module")
def wechat_port() -> int:
    return free_port()


@pytest.fixture(scope="module")
async def wechat_api(wechat_port: int) -> AsyncIterator[FakeWeChatApi]:
    async with fake_wechat(wechat_port) as (_, api):
        yield api


@pytest.fixture(scope="module")
def wechat_gateway(e2e_redis: str, rasa: tuple[str, Any], wechat_port: int,
                   tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    gateway = start_gateway("wechat", e2e_redis, rasa[0], tmp_path_factory.mktemp("gw-wechat"),
                            WECHAT_TOKEN=TOKEN, WECHAT_APP_ID=APP_ID, WECHAT_APP_SECRET=APP_SECRET,
                            WECHAT_AES_KEY=AES_KEY, WECHAT_API_BASE_URL=f"http://127.0.0.1:{wechat_port}")
    try:
        yield gateway
    finally:
        gateway.stop()


async def post(http: aiohttp.ClientSession, gateway: Gateway, xml: str) -> str | None:
    """Post a message in safe mode; the decrypted passive reply's text, or None for ``success``."""
    envelope, query = sealed(xml, webhook_query(openid=CUSTOMER))
    async with http.post(gateway.url + "/channels/wechat", params=query, data=envelope) as response:
        assert response.status == 200, await response.text()
        body = await response.text()
    if body == "success":
        return None
    sealed_reply = parse(body.encode())
    assert CRYPT.verify(sealed_reply["MsgSignature"], sealed_reply["TimeStamp"], sealed_reply["Nonce"],
                        sealed_reply["Encrypt"])
    reply = parse(CRYPT.decrypt(sealed_reply["Encrypt"]).encode())
    assert (reply["ToUserName"], reply["MsgType"]) == (CUSTOMER, "text")
    return reply["Content"]


async def turn(http: aiohttp.ClientSession, gateway: Gateway, api: FakeWeChatApi, xml: str) -> list[str]:
    """What the customer reads after a message: the passive reply, or, when the bot took longer than WeChat
    waits, what reaches them through the customer-service API."""
    before = len(api.sent)
    if (reply := await post(http, gateway, xml)) is not None:
        return [reply]
    async with asyncio.timeout(60):
        while len(api.sent) == before:
            await asyncio.sleep(0.1)
    return [m["text"]["content"] for m in api.sent[before:]]


async def test_a_wechat_complaint_with_the_real_bot_and_a_handlers_reply_through_the_api(
    wechat_gateway: Gateway, wechat_api: FakeWeChatApi, agent_account: tuple[str, str],
    http: aiohttp.ClientSession
) -> None:
    greeting = await post(http, wechat_gateway, message_xml("event", openid=CUSTOMER, Event="subscribe"))
    assert greeting and "感谢关注" in greeting

    heard: list[str] = []
    for n, text in enumerate(CONVERSATION):
        msg_id = next_msg_id()
        xml = message_xml(Content=text, openid=CUSTOMER, msg_id=msg_id)
        heard += await turn(http, wechat_gateway, wechat_api, xml)
        if n == 1:
            # A screenshot of the order: kept on the case; the bot has nothing to say to it and goes on.
            picture = message_xml("image", openid=CUSTOMER, PicUrl=STATEMENT, MediaId="order-screenshot")
            assert await post(http, wechat_gateway, picture) is None
        if n == 2:
            # WeChat got no answer in time and retried: the retry gets what the first try said, or success.
            assert await post(http, wechat_gateway, xml) in (heard[-1], None)
        if any("C-" in h for h in heard):
            break
    async with asyncio.timeout(30):
        while not any("C-" in h for h in heard + [m["text"]["content"] for m in wechat_api.sent]):
            await asyncio.sleep(0.1)
    said = heard + [m["text"]["content"] for m in wechat_api.sent]
    notice = next(h for h in said if "C-" in h)
    case_id = notice[notice.index("C-"):][:13]

    api = AgentApi(http, wechat_gateway.url)
    await api.login(*agent_account)
    case = await api.call("POST", f"/api/cases/{case_id}/claim")
    assert case["channel"] == "wechat" and case["language"] == "zh"
    assert case["customer"]["name"] == "张三"
    assert case["complaint"]["description"] == CONVERSATION[1]
    customer_said = [m["text"] for m in case["messages"] if m["from"] == "customer"]
    assert customer_said.count("张三") == 1, "the retry is on the case once"
    assert [a["url"] for a in case["attachments"]] == [STATEMENT]

    sent_before = len(wechat_api.sent)
    reply = "您好，我们正在核查您的委托记录。"
    await api.call("POST", f"/api/cases/{case_id}/reply", json={"text": reply})
    assert wechat_api.sent[sent_before:] == [{"touser": CUSTOMER, "msgtype": "text", "text": {"content": reply}}]
    assert wechat_api.token_requests == 1

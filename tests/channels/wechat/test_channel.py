"""The WeChat Official Account channel on the real app and Redis, with WeChat's side played by signed (and, in
safe mode, encrypted) webhooks and a local stand-in for its API (tests/support/wechat_double.py).

Rasa is unreachable here unless a test starts the stand-in bot, so a first message gets the holding reply and a
case: enough to see the webhook's guarantees. The conversation with the real bot is in tests/e2e/test_wechat.py.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import pytest
from redis.asyncio import Redis

from channels.base import CannotDeliver
from channels.held_answers import HeldAnswers
from channels.message import OutboundMessage
from channels.wechat.channel import GREETING
from channels.wechat.crypto import MessageCrypt, signature
from channels.wechat.messages import parse
from gateway import keys
from gateway.app import create_app
from gateway.settings import Settings, SettingsError
from tests.support.rasa_double import QUESTION, stand_in_rasa
from tests.support.wechat_double import (
    ACCOUNT,
    AES_KEY,
    APP_ID,
    APP_SECRET,
    OPENID,
    TOKEN,
    FakeWeChatApi,
    fake_wechat,
    message_xml,
    next_msg_id,
    sealed,
    webhook_query,
)

PATH = "/channels/wechat"


@pytest.fixture
async def wechat_api() -> AsyncIterator[tuple[str, FakeWeChatApi]]:
    async with fake_wechat() as api:
        yield api


@pytest.fixture
def wechat_settings(settings: Settings, wechat_api: tuple[str, FakeWeChatApi]) -> Settings:
    return replace(settings, wechat_token=TOKEN, wechat_app_id=APP_ID, wechat_app_secret=APP_SECRET,
                   wechat_aes_key=AES_KEY, wechat_api_base_url=wechat_api[0])


@pytest.fixture
async def wechat(aiohttp_client: Any, wechat_settings: Settings) -> Any:
    return await aiohttp_client(create_app(wechat_settings))


async def post(client: Any, xml: str | bytes, query: dict[str, str] | None = None) -> Any:
    return await client.post(PATH, params=query or webhook_query(openid=OPENID), data=xml,
                             headers={"Content-Type": "text/xml"})


async def say(client: Any, xml: str, to: str = OPENID) -> str | None:
    """Post a plain-mode message; the passive reply's text, or None when the gateway answered ``success``."""
    response = await post(client, xml)
    assert response.status == 200, await response.text()
    return reply_text(await response.text(), to)


def reply_text(body: str, to: str = OPENID) -> str | None:
    if body == "success":
        return None
    reply = parse(body.encode())
    assert (reply["ToUserName"], reply["FromUserName"], reply["MsgType"]) == (to, ACCOUNT, "text"), reply
    return reply["Content"]


async def only_case(client: Any) -> dict[str, Any]:
    cases = await client.app[keys.CASES].list()
    assert len(cases) == 1, cases
    return dict(await client.app[keys.CASES].get(cases[0]["id"]))


async def notes_on_the_case(client: Any, done: Any) -> list[dict[str, Any]]:
    """The case's notes, once ``done(notes)`` holds (a note is recorded at once, put on the case just after)."""
    async with asyncio.timeout(15):
        while True:
            notes = [m for m in (await only_case(client))["messages"] if m["from"] == "system"]
            if done(notes):
                return notes
            await asyncio.sleep(0.05)


async def eventually(check: Any, within: float = 15.0) -> None:
    async with asyncio.timeout(within):
        while not check():
            await asyncio.sleep(0.05)


async def test_the_server_check_echoes_echostr_only_to_a_signed_request(wechat: Any, redis: Redis) -> None:
    before = await redis.dbsize()
    good = await wechat.get(PATH, params=webhook_query(echostr="5838479218127813673"))
    assert good.status == 200 and await good.text() == "5838479218127813673"
    forged = await wechat.get(PATH, params={**webhook_query(echostr="1"), "signature": "0" * 40})
    unsigned = await wechat.get(PATH, params={"timestamp": "1", "nonce": "2", "echostr": "1"})
    other_token = await wechat.get(PATH, params=webhook_query(token="not-the-token", echostr="1"))
    assert [r.status for r in (forged, unsigned, other_token)] == [403, 403, 403]
    assert await redis.dbsize() == before


async def test_a_text_is_answered_in_the_passive_reply_and_becomes_a_wechat_case(wechat: Any) -> None:
    reply = await say(wechat, message_xml(Content="我要投诉，我的转账一直没到账"))
    assert reply is not None and "C-" in reply, "the holding reply and the case number, in one passive reply"
    assert "投诉专员" in reply, reply
    case = await only_case(wechat)
    assert case["channel"] == "wechat" and case["conversation_id"] == f"wechat:{OPENID}"
    assert case["language"] == "zh"
    assert [m["text"] for m in case["messages"] if m["from"] == "customer"] == ["我要投诉，我的转账一直没到账"]


async def test_safe_mode_is_verified_decrypted_and_answered_encrypted(wechat: Any) -> None:
    query = webhook_query()
    envelope, query = sealed(message_xml(Content="我的账户被冻结了"), query)
    response = await post(wechat, envelope, query)
    assert response.status == 200, await response.text()
    answer = parse((await response.text()).encode())
    crypt = MessageCrypt(TOKEN, AES_KEY, APP_ID)
    assert crypt.verify(answer["MsgSignature"], answer["TimeStamp"], answer["Nonce"], answer["Encrypt"])
    assert answer["Nonce"] == query["nonce"]
    assert "C-" in (reply_text(crypt.decrypt(answer["Encrypt"])) or "")
    assert (await only_case(wechat))["messages"][0]["text"] == "我的账户被冻结了"


async def test_a_forged_or_stale_request_gets_403_and_changes_nothing(wechat: Any, redis: Redis) -> None:
    before = await redis.dbsize()
    xml = message_xml(Content="hello")
    forged = await post(wechat, xml, {**webhook_query(), "signature": "f" * 40})
    wrong_token = await post(wechat, xml, webhook_query(token="not-the-token"))
    unsigned = await wechat.post(PATH, data=xml)
    stale = await post(wechat, xml, webhook_query(timestamp=1409659813))  # a query string from 2014, replayed
    # Safe mode: the query string is WeChat's, but the encrypted message is not the one it signed.
    envelope, query = sealed(message_xml(Content="hello"), webhook_query())
    _, other_query = sealed(message_xml(Content="something else"), webhook_query())
    swapped = await post(wechat, envelope, {**query, "msg_signature": other_query["msg_signature"]})
    assert [r.status for r in (forged, wrong_token, unsigned, stale, swapped)] == [403] * 5
    assert await redis.dbsize() == before


@pytest.mark.parametrize("body", [
    b"<xml><ToUserName>broken",
    b"not xml at all",
    b"",
    # XXE: an external entity reading a file, and an internal one ("billion laughs")
    b'<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
    b"<xml><ToUserName>gh_0123456789ab</ToUserName><FromUserName>oia2TjjewbmiOUlr6X-1crbLOvLw</FromUserName>"
    b"<CreateTime>1</CreateTime><MsgType>text</MsgType><Content>&xxe;</Content><MsgId>1</MsgId></xml>",
    b'<!DOCTYPE xml [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">'
    b'<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]><xml><ToUserName>gh_0123456789ab</ToUserName>'
    b"<FromUserName>oia2TjjewbmiOUlr6X-1crbLOvLw</FromUserName><CreateTime>1</CreateTime><MsgType>text</MsgType>"
    b"<Content>&c;</Content><MsgId>2</MsgId></xml>",
    b"<xml><Content>&undeclared;</Content></xml>",
    b"<other><MsgType>text</MsgType></other>",
    b"<xml><ToUserName>gh_0123456789ab</ToUserName><MsgType>text</MsgType><Content>no sender</Content></xml>",
    b"<xml><ToUserName>a</ToUserName><FromUserName>../../etc</FromUserName><CreateTime>1</CreateTime>"
    b"<MsgType>text</MsgType><MsgId>1</MsgId></xml>",
    b"<xml><ToUserName>a</ToUserName><FromUserName>o1</FromUserName><CreateTime>soon</CreateTime>"
    b"<MsgType>text</MsgType><MsgId>1</MsgId></xml>",
], ids=["cut-short", "not-xml", "empty", "xxe", "billion-laughs", "undeclared-entity", "not-xml-root",
        "no-sender", "sender-not-an-openid", "time-not-a-number"])
async def test_malformed_xml_or_xml_with_entities_gets_400_and_changes_nothing(
    wechat: Any, redis: Redis, body: bytes, server_errors: list[logging.LogRecord]
) -> None:
    before = await redis.dbsize()
    response = await post(wechat, body)
    assert response.status == 400, await response.text()
    assert await response.text(), "a reason"
    assert await redis.dbsize() == before
    assert server_errors == []


async def test_safe_mode_that_does_not_decrypt_gets_400_and_changes_nothing(wechat: Any, redis: Redis) -> None:
    before = await redis.dbsize()
    query = webhook_query()
    # Signed by WeChat's rules, but encrypted with another account's key: it does not decrypt to this AppID.
    other_key = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
    envelope, query = sealed(message_xml(Content="hello"), query, aes_key=other_key)
    undecryptable = await post(wechat, envelope, query)
    garbage = "<xml><Encrypt><![CDATA[bm90IGEgbWVzc2FnZQ==]]></Encrypt></xml>"
    signed_garbage = {**query, "msg_signature": signature(TOKEN, query["timestamp"], query["nonce"],
                                                          "bm90IGEgbWVzc2FnZQ==")}
    garbled = await post(wechat, garbage, signed_garbage)
    no_encrypt = await post(wechat, message_xml(Content="hello"), {**webhook_query(), "encrypt_type": "aes",
                                                                    "msg_signature": "0" * 40})
    assert [r.status for r in (undecryptable, garbled, no_encrypt)] == [400, 400, 400]
    assert await redis.dbsize() == before


async def test_an_oversized_body_gets_413(wechat: Any, redis: Redis) -> None:
    before = await redis.dbsize()
    response = await post(wechat, message_xml(Content="投诉" * 600_000))
    assert response.status == 413
    assert await redis.dbsize() == before


async def test_wechats_retry_gets_the_same_answer_and_causes_no_second_turn(
    wechat: Any, wechat_api: tuple[str, FakeWeChatApi]
) -> None:
    xml = message_xml(Content="My margin call was wrong")
    first = await say(wechat, xml)
    again = await say(wechat, xml)
    assert first and again == first
    # Three retries at once, as WeChat may send while the gateway is slow: still one message on the case.
    retries = await asyncio.gather(*(say(wechat, xml) for _ in range(3)))
    assert retries == [first] * 3
    case = await only_case(wechat)
    assert [m["text"] for m in case["messages"] if m["from"] == "customer"] == ["My margin call was wrong"]
    assert wechat_api[1].sent == [], "the answer went back in the passive reply, not again by the API"


async def test_a_slow_bot_gets_success_then_its_answer_through_the_customer_service_api(
    aiohttp_client: Any, wechat_settings: Settings, wechat_api: tuple[str, FakeWeChatApi]
) -> None:
    async with stand_in_rasa(gated=True) as rasa:
        client = await aiohttp_client(create_app(replace(wechat_settings, rasa_url=rasa.url, rasa_timeout=60.0)))
        xml = message_xml(Content="I want to complain about a trade")
        first = asyncio.create_task(say(client, xml))
        await rasa.asked.wait()
        retry = asyncio.create_task(say(client, xml))  # WeChat got no answer yet: it tries again
        assert await first is None, "success, within WeChat's 5 seconds"
        assert await retry is None, "the retry gets what the first try said"
        assert wechat_api[1].sent == []
        rasa.release.set()
        await eventually(lambda: wechat_api[1].sent)
        assert wechat_api[1].sent == [{"touser": OPENID, "msgtype": "text", "text": {"content": QUESTION}}]
        assert await say(client, xml) is None, "a later retry: success, not a second answer"
        assert len(rasa.turns) == 1, "one bot turn"
        assert len(wechat_api[1].sent) == 1


async def test_an_agent_reply_goes_through_the_api_with_one_token_renewed_when_wechat_refuses_it(
    wechat: Any, wechat_api: tuple[str, FakeWeChatApi]
) -> None:
    _, api = wechat_api
    await say(wechat, message_xml(Content="I was charged twice for one trade"))
    case = await only_case(wechat)
    await wechat.app[keys.QUEUE].claim(case["id"], "ann")
    router = wechat.app[keys.ROUTER]
    await router.reply_from_agent(case, "ann", "We are refunding the second charge today.")
    await router.reply_from_agent(case, "ann", "The refund has left.")
    assert api.token_requests == 1, "the token is kept, not fetched per message"
    api.expire_tokens()  # 42001
    await router.reply_from_agent(case, "ann", "It should arrive tomorrow.")
    api.revoke_tokens()  # 40001
    await router.reply_from_agent(case, "ann", "Please tell us when it has arrived.")
    assert api.token_requests == 3
    assert [m["text"]["content"] for m in api.sent] == [
        "We are refunding the second charge today.", "The refund has left.", "It should arrive tomorrow.",
        "Please tell us when it has arrived."]
    assert {m["touser"] for m in api.sent} == {OPENID}
    assert [m["text"] for m in (await only_case(wechat))["messages"] if m["from"] == "agent"][-1] == (
        "Please tell us when it has arrived.")


async def test_a_customer_silent_for_48_hours_cannot_be_reached_and_the_handler_is_told_why(
    wechat: Any, wechat_api: tuple[str, FakeWeChatApi]
) -> None:
    await say(wechat, message_xml(Content="Nobody told me about the fee"))
    case = await only_case(wechat)
    await wechat.app[keys.QUEUE].claim(case["id"], "ann")
    wechat_api[1].errcodes.append(45015)
    with pytest.raises(CannotDeliver, match="48 hours"):
        await wechat.app[keys.ROUTER].reply_from_agent(case, "ann", "We have looked into the fee.")
    assert wechat_api[1].sent == []
    assert not [m for m in (await only_case(wechat))["messages"] if m["from"] == "agent"], "not on the case as sent"


async def test_following_gets_a_chinese_greeting_and_unfollowing_is_a_note(wechat: Any, redis: Redis) -> None:
    greeting = await say(wechat, message_xml("event", Event="subscribe"))
    assert greeting == GREETING and "感谢关注" in greeting
    assert await wechat.app[keys.CASES].list() == [], "following is not a complaint"
    await say(wechat, message_xml(Content="我要投诉，客户经理不接电话"))
    assert await say(wechat, message_xml("event", Event="unsubscribe")) is None
    notes = await notes_on_the_case(wechat, lambda found: any("取消关注" in n["text"] for n in found))
    assert len([n for n in notes if "取消关注" in n["text"]]) == 1


async def test_pictures_voice_locations_and_links_are_kept_on_the_case(wechat: Any) -> None:
    image = message_xml("image", PicUrl="https://mmbiz.qpic.cn/statement.jpg", MediaId="media-image-1")
    await say(wechat, image)
    await say(wechat, message_xml("voice", MediaId="media-voice-1", Format="amr", Recognition="我的委托没有成交"))
    await say(wechat, message_xml("location", Location_X="31.2304", Location_Y="121.4737", Scale="15",
                                  Label="上海市黄浦区南京东路营业部"))
    await say(wechat, message_xml("link", Title="Statement", Description="my March statement",
                                  Url="https://example.com/statement"))
    await say(wechat, message_xml("video", MediaId="media-video-1", ThumbMediaId="thumb-1"))
    case = await only_case(wechat)
    said = [m for m in case["messages"] if m["from"] == "customer"]
    assert case["attachments"][0]["url"] == "https://mmbiz.qpic.cn/statement.jpg"
    assert [m["text"] for m in said[1:4]] == ["我的委托没有成交", "上海市黄浦区南京东路营业部",
                                             "Statement\nmy March statement\nhttps://example.com/statement"]
    kept = [a for m in said for a in m.get("attachments", ())]
    assert [a["content_type"] for a in kept] == ["image/jpeg", "audio/amr", "text/plain", "text/html", "video/mp4"]
    assert "media-voice-1" in kept[1]["name"] and kept[1]["text"] == "我的委托没有成交"
    assert "31.2304" in kept[2]["text"] and kept[3]["url"] == "https://example.com/statement"


async def test_a_message_of_an_unknown_type_is_kept_with_its_xml_and_answered_success(
    wechat: Any, server_errors: list[logging.LogRecord]
) -> None:
    await say(wechat, message_xml(Content="my complaint"))
    xml = message_xml("miniprogrampage", Title="A card", PagePath="pages/index")
    assert await say(wechat, xml) is None
    assert await say(wechat, xml) is None, "its retry too"
    assert await say(wechat, message_xml("event", Event="CLICK", EventKey="MENU_COMPLAIN")) is None
    notes = await notes_on_the_case(wechat, lambda found: any("CLICK" in n["text"] for n in found))
    unknown = [n for n in notes if "miniprogrampage" in n["text"]]
    assert len(unknown) == 1
    assert unknown[0]["attachments"][0]["text"] == xml
    assert any("CLICK" in n["text"] and "MENU_COMPLAIN" in n["text"] for n in notes)
    assert server_errors == []


async def test_the_language_is_the_texts_and_chinese_when_the_text_cannot_tell(
    aiohttp_client: Any, wechat_settings: Settings
) -> None:
    async with stand_in_rasa() as rasa:
        client = await aiohttp_client(create_app(replace(wechat_settings, rasa_url=rasa.url)))
        english, unknown = "oEnglishSpeaker000000000001", "oDigitsOnly00000000000000001"
        for openid, text in ((english, "My withdrawal is stuck"), (english, "13800138000"), (unknown, "12345")):
            assert await say(client, message_xml(Content=text, openid=openid), to=openid) == QUESTION
        assert [turn["metadata"]["language"] for turn in rasa.turns] == ["en", "en", "zh"]


async def test_answers_a_stopped_gateway_held_for_its_passive_reply_go_out_once_through_the_api(
    wechat: Any, redis: Redis, wechat_api: tuple[str, FakeWeChatApi]
) -> None:
    stopped = HeldAnswers(redis, "wechat", reply_wait=0, grace=0)
    msg_id = next_msg_id()
    await stopped.hold(msg_id)
    for text in ("感谢您的耐心。", "您的案件编号是 C-20261129-0001。"):
        assert await stopped.add(OutboundMessage("wechat", OPENID, text, "bot", in_reply_to=msg_id))
    await eventually(lambda: len(wechat_api[1].sent) >= 2, within=30)
    await asyncio.sleep(6)  # the next sweep (every 5 s) finds nothing more to send
    assert [m["text"]["content"] for m in wechat_api[1].sent] == ["感谢您的耐心。", "您的案件编号是 C-20261129-0001。"]


async def test_the_customers_openid_never_appears_in_the_logs(
    wechat: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)  # the level the gateway runs at
    await say(wechat, message_xml(Content="我要投诉"))
    await say(wechat, message_xml("event", Event="unsubscribe"))
    await notes_on_the_case(wechat, lambda notes: any("取消关注" in n["text"] for n in notes))
    # The test server's access log shows query strings; the gateway's own (gateway/hardening.py) does not.
    logged = "\n".join(r.getMessage() for r in caplog.records if r.name != "aiohttp.access")
    assert "case" in logged and OPENID not in logged


async def test_without_its_settings_the_channel_is_off(aiohttp_client: Any, settings: Settings) -> None:
    client = await aiohttp_client(create_app(replace(settings, wechat_token=TOKEN, wechat_app_id=APP_ID)))
    response = await client.get(PATH, params=webhook_query(echostr="1"))
    assert response.status == 404


async def test_plain_mode_works_without_an_aes_key_and_safe_mode_then_gets_400(
    aiohttp_client: Any, wechat_settings: Settings, redis: Redis
) -> None:
    client = await aiohttp_client(create_app(replace(wechat_settings, wechat_aes_key="")))
    before = await redis.dbsize()
    envelope, query = sealed(message_xml(Content="hello"), webhook_query())
    assert (await post(client, envelope, query)).status == 400
    assert await redis.dbsize() == before
    assert await say(client, message_xml(Content="hello, I have a complaint"))


@pytest.mark.parametrize("bad", ["too-short", AES_KEY + "A", AES_KEY[:42] + "!", "密" * 43])
def test_an_aes_key_that_is_not_43_base64_characters_stops_the_gateway_naming_it(bad: str) -> None:
    with pytest.raises(SettingsError, match="WECHAT_AES_KEY") as refused:
        Settings.from_env({"WECHAT_AES_KEY": bad})
    assert bad not in str(refused.value), "the key itself is not shown"
    assert Settings.from_env({"WECHAT_AES_KEY": AES_KEY}).wechat_aes_key == AES_KEY

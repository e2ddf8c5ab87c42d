"""The SMS webhook on the real app and Redis, with Twilio's side played by signed requests and a local API.

Rasa is unreachable here, so every first message gets the holding reply and a case: enough to see the
webhook's guarantees. The conversation with the real bot is in tests/e2e/test_sms.py.
"""

from __future__ import annotations

import asyncio
import json
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import pytest
from redis.asyncio import Redis

from channels.held_answers import HeldAnswers
from channels.message import OutboundMessage
from channels.twilio.sms import split_for_sms
from gateway import keys
from gateway.app import create_app
from gateway.settings import Settings
from store.keys import sms_optout_history_key, sms_optout_key, sms_status_history_key, sms_status_key
from tests.support.rasa_double import stand_in_rasa
from tests.support.twilio_double import (
    ACCOUNT_SID,
    AUTH_TOKEN,
    FROM_NUMBER,
    FakeMessagesApi,
    fake_twilio,
    signature,
    signed_post,
)

PUBLIC = "https://complaints.example.com"
CUSTOMER = "+8613800138000"


@pytest.fixture
async def twilio_api() -> AsyncIterator[tuple[str, FakeMessagesApi]]:
    async with fake_twilio() as api:
        yield api


@pytest.fixture
def sms_settings(settings: Settings, twilio_api: tuple[str, FakeMessagesApi]) -> Settings:
    return replace(settings, twilio_account_sid=ACCOUNT_SID, twilio_auth_token=AUTH_TOKEN,
                   twilio_from_number=FROM_NUMBER, twilio_api_base_url=twilio_api[0], public_base_url=PUBLIC)


@pytest.fixture
async def sms(aiohttp_client: Any, sms_settings: Settings) -> Any:
    return await aiohttp_client(create_app(sms_settings))


def inbound(sid: str, body: str, sender: str = CUSTOMER) -> dict[str, str]:
    return {"MessageSid": sid, "AccountSid": ACCOUNT_SID, "From": sender, "To": FROM_NUMBER, "Body": body,
            "NumMedia": "0", "ToCity": "", "ToZip": ""}


async def text(client: Any, params: dict[str, str]) -> list[str]:
    """Send a signed webhook; the texts of the TwiML <Message>s that came back."""
    response = await signed_post(client.session, str(client.make_url("")), "/channels/twilio/sms", params,
                                 public_base=PUBLIC)
    assert response.status == 200, await response.text()
    assert response.content_type == "application/xml"
    return [m.text or "" for m in ET.fromstring(await response.text()).iter("Message")]


async def test_a_text_is_answered_in_twiml_and_the_case_holds_the_senders_number(sms: Any) -> None:
    replies = await text(sms, inbound("SM0001", "我要投诉，我的转账一直没到账"))
    assert any("投诉专员" in r for r in replies)
    assert any("C-" in r for r in replies), "the case number is texted back"
    cases = await sms.app[keys.CASES].list()
    assert [c["customer"]["phone"] for c in cases] == [CUSTOMER]
    assert cases[0]["channel"] == "sms"


async def test_a_forged_or_altered_request_gets_403_and_changes_nothing(sms: Any, redis: Redis) -> None:
    before = await redis.dbsize()
    base = str(sms.make_url(""))
    forged = await sms.post("/channels/twilio/sms", data=inbound("SM0002", "hello"),
                            headers={"X-Twilio-Signature": "invalidsig"})
    missing = await sms.post("/channels/twilio/sms", data=inbound("SM0002", "hello"))
    good = inbound("SM0002", "hello")
    # A real signed request, replayed with one parameter changed.
    header = {"X-Twilio-Signature": signature(PUBLIC + "/channels/twilio/sms", good)}
    altered = await sms.post("/channels/twilio/sms", data={**good, "Body": "hello!"}, headers=header)
    wrong_token = await signed_post(sms.session, base, "/channels/twilio/sms", good, public_base=PUBLIC,
                                    token="not-the-token")
    assert [r.status for r in (forged, missing, altered, wrong_token)] == [403, 403, 403, 403]
    assert await redis.dbsize() == before


async def test_a_repeated_webhook_gets_the_same_answer_and_causes_no_second_turn(
    sms: Any, twilio_api: tuple[str, FakeMessagesApi]
) -> None:
    # Twilio retries when the first response never reached it: the retry must carry what that one said.
    first = await text(sms, inbound("SM0003", "My margin call was wrong"))
    again = await text(sms, inbound("SM0003", "My margin call was wrong"))
    assert first and again == first
    await asyncio.sleep(0.5)
    case = (await sms.app[keys.CASES].list())[0]
    full = await sms.app[keys.CASES].get(case["id"])
    assert [m["text"] for m in full["messages"] if m["from"] == "customer"] == ["My margin call was wrong"]
    assert twilio_api[1].calls == []


async def test_an_agent_reply_leaves_through_the_rest_api_and_delivery_is_recorded(
    sms: Any, twilio_api: tuple[str, FakeMessagesApi], redis: Redis
) -> None:
    await text(sms, inbound("SM0004", "I was charged twice for one trade"))
    case = (await sms.app[keys.CASES].list())[0]
    await sms.app[keys.QUEUE].claim(case["id"], "ann")
    await sms.app[keys.ROUTER].reply_from_agent(case, "ann", "We are refunding the second charge today.")
    assert twilio_api[1].refused == []
    assert twilio_api[1].calls == [{"To": CUSTOMER, "From": FROM_NUMBER,
                                    "Body": "We are refunding the second charge today.",
                                    "StatusCallback": PUBLIC + "/channels/twilio/sms/status"}]
    callback = {"MessageSid": "SM00000000000000000000000000000001", "MessageStatus": "delivered",
                "AccountSid": ACCOUNT_SID}
    response = await signed_post(sms.session, str(sms.make_url("")), "/channels/twilio/sms/status", callback,
                                 public_base=PUBLIC)
    assert response.status == 204
    status = await redis.hget(sms_status_key("SM00000000000000000000000000000001"), "status")
    assert status == b"delivered"


async def test_after_stop_nothing_more_is_sent_and_help_is_answered(
    sms: Any, twilio_api: tuple[str, FakeMessagesApi], redis: Redis
) -> None:
    await text(sms, inbound("SM0005", "my account was frozen"))
    case = (await sms.app[keys.CASES].list())[0]
    assert await text(sms, inbound("SM0006", "退订")) == []
    assert await redis.exists(sms_optout_key(CUSTOMER))
    await sms.app[keys.QUEUE].claim(case["id"], "ann")
    await sms.app[keys.ROUTER].reply_from_agent(case, "ann", "We unfroze it.")
    assert twilio_api[1].calls == []
    help_text = await text(sms, inbound("SM0007", "HELP"))
    assert help_text and "STOP" in help_text[0]
    await text(sms, inbound("SM0008", "START"))
    await sms.app[keys.ROUTER].reply_from_agent(case, "ann", "Welcome back.")
    assert [c["Body"] for c in twilio_api[1].calls] == ["Welcome back."]


def test_long_replies_split_at_sentences_within_ten_segments() -> None:
    chinese = "您好，" + "我们已经收到您的投诉，正在核查相关的交易记录。" * 40
    parts = split_for_sms(chinese)
    assert "".join(parts) == chinese.strip()
    assert all(len(p) <= 700 for p in parts) and len(parts) > 1
    assert all(p.endswith("。") for p in parts[:-1])
    english = "We are sorry. " * 200
    assert all(len(p) <= 1600 for p in split_for_sms(english))


async def test_pictures_sent_by_mms_are_kept_on_the_case(sms: Any) -> None:
    params = {**inbound("SM0009", "here is the statement"), "NumMedia": "1",
              "MediaUrl0": "https://api.twilio.com/2010-04-01/Accounts/AC/Messages/MM1/Media/ME1",
              "MediaContentType0": "image/jpeg"}
    await text(sms, params)
    case = (await sms.app[keys.CASES].list())[0]
    assert case["attachments"] == [{"name": "media-0", "content_type": "image/jpeg", "size": 0,
                                    "url": params["MediaUrl0"], "text": None}]


async def test_answers_a_stopped_gateway_held_for_its_twiml_are_texted_once_by_the_rest_api(
    sms: Any, redis: Redis, twilio_api: tuple[str, FakeMessagesApi]
) -> None:
    # What a gateway that died in the middle of a webhook leaves: answers held for a TwiML never sent.
    stopped = HeldAnswers(redis, "sms", reply_wait=0, grace=0)
    await stopped.hold("SM-of-a-stopped-gateway")
    for text in ("Thank you, we have your complaint.", "Your case number is C-20261129-0001."):
        assert await stopped.add(OutboundMessage("sms", CUSTOMER, text, "bot", in_reply_to="SM-of-a-stopped-gateway"))
    _, api = twilio_api
    async with asyncio.timeout(30):
        while len(api.calls) < 2:
            await asyncio.sleep(0.1)
    await asyncio.sleep(6)  # the next sweep (every 5 s) finds nothing more to send
    assert [(c["To"], c["Body"]) for c in api.calls] == [
        (CUSTOMER, "Thank you, we have your complaint."), (CUSTOMER, "Your case number is C-20261129-0001.")]
    assert await stopped.take("SM-of-a-stopped-gateway") == []


async def test_the_same_webhook_twice_at_once_gets_the_first_answer_in_both_twiml_documents(
    sms: Any, settings: Settings, twilio_api: tuple[str, FakeMessagesApi]
) -> None:
    params = inbound("SM0010", "My transfer never arrived")
    # Neither try may sit out the whole reply wait: the bot (here its holding reply) answers at once.
    async with asyncio.timeout(settings.sms_reply_wait / 2):
        first, second = await asyncio.gather(text(sms, params), text(sms, params))
    assert any("C-" in r for r in first), first
    assert second == first
    assert twilio_api[1].calls == [], "the answer went back in the TwiML, not a second time by the REST API"
    assert len(await sms.app[keys.CASES].list()) == 1


async def test_twilios_retry_to_another_gateway_at_the_same_time_gets_the_same_answer(
    sms: Any, aiohttp_client: Any, sms_settings: Settings, twilio_api: tuple[str, FakeMessagesApi]
) -> None:
    other_gateway = await aiohttp_client(create_app(sms_settings))
    params = inbound("SM0013", "Nobody told me about the fee")
    async with asyncio.timeout(sms_settings.sms_reply_wait / 2):
        first, second = await asyncio.gather(text(sms, params), text(other_gateway, params))
    assert any("C-" in r for r in first), first
    assert second == first
    assert twilio_api[1].calls == []
    assert len(await sms.app[keys.CASES].list()) == 1


async def test_a_replayed_stop_changes_nothing(sms: Any, redis: Redis) -> None:
    optout = sms_optout_key(CUSTOMER)
    stop = inbound("SM0011", "STOP")
    assert await asyncio.gather(text(sms, stop), text(sms, stop)) == [[], []]
    assert await redis.exists(optout)
    await text(sms, inbound("SM0012", "START"))
    assert await text(sms, stop) == []
    assert not await redis.exists(optout), "the customer's START still stands"
    history = [json.loads(raw)["opted_out"] for raw in await redis.lrange(sms_optout_history_key(CUSTOMER), 0, -1)]
    assert history == [True, False]


async def test_a_repeated_status_callback_is_recorded_once(sms: Any, redis: Redis) -> None:
    async def callback(status: str) -> None:
        fields = {"MessageSid": "SM" + "5" * 32, "MessageStatus": status, "AccountSid": ACCOUNT_SID}
        response = await signed_post(sms.session, str(sms.make_url("")), "/channels/twilio/sms/status", fields,
                                     public_base=PUBLIC)
        assert response.status == 204

    await callback("sent")
    await asyncio.gather(callback("delivered"), callback("delivered"))
    await callback("sent")  # replayed
    sid = "SM" + "5" * 32
    assert await redis.hget(sms_status_key(sid), "status") == b"delivered"
    history = await redis.lrange(sms_status_history_key(sid), 0, -1)
    assert [json.loads(raw)["status"] for raw in history] == ["sent", "delivered"]


async def test_a_picture_without_words_is_kept_and_the_bot_is_not_asked_to_read_it(
    aiohttp_client: Any, sms_settings: Settings
) -> None:
    async with stand_in_rasa() as rasa:
        sms = await aiohttp_client(create_app(replace(sms_settings, rasa_url=rasa.url)))
        await text(sms, inbound("SM0101", "My statement shows a fee charged twice"))
        picture = {**inbound("SM0102", ""), "NumMedia": "1", "MediaContentType0": "image/jpeg",
                   "MediaUrl0": "https://api.twilio.com/2010-04-01/Accounts/AC/Messages/MM2/Media/ME2"}
        assert await text(sms, picture) == [], "nothing to answer"
        assert [turn["message"] for turn in rasa.turns] == ["My statement shows a fee charged twice"]
        await text(sms, inbound("SM0103", "That is the statement"))
        assert len(rasa.turns) == 2, "the intake goes on"

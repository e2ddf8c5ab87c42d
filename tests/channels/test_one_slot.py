"""On a real Redis Cluster (3 primaries, 3 replicas), every operation of the channels, of store.once and
store.lease, and of the logins and accounts that runs a transaction or a Lua script keeps its keys in one hash
slot: each one runs (no CROSSSLOT) and what it wrote reads back right.

The client is the gateway's own (``gateway.store.open_redis`` with REDIS_MODE=cluster). The channels run as in
the gateway, on a stand-in for the router (``QuietInbox``; the router's own walk is tests/handoff/test_one_slot.py).
Where each transaction and script was made is noted while the module runs (tests/support/one_slot.py): the last
test fails if one in the channels or the logins ran on no walk here.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from redis.asyncio import Redis
from redis.crc import key_slot

from channels.email.channel import EmailChannel, EmailConfig, ImapConfig
from channels.email.outbox import Outbox, SmtpConfig, Undelivered
from channels.held_answers import HeldAnswers, answer_once
from channels.message import InboundMessage, OutboundMessage
from channels.twilio.common import TwilioConfig
from channels.twilio.sms import TwilioSms
from channels.twilio.voice import TwilioVoice, VoiceSettings
from channels.webchat.channel import WebChat, WebChatLimits, conversation_key
from gateway.auth import Agents
from gateway.login_throttle import LoginThrottle
from gateway.settings import Settings
from gateway.store import open_redis
from records.record import CaseRecord
from store import keys
from store.lease import Lease
from store.once import AppendOnce
from store.renames import rename_legacy_keys
from tests.support.chat_client import ChatClient
from tests.support.mail_servers import Dovecot, MailUser, SmtpSink
from tests.support.one_slot import ROOT, Sites, sites_in_the_source
from tests.support.redis_topologies import RedisCluster
from tests.support.twilio_double import ACCOUNT_SID, AUTH_TOKEN, FROM_NUMBER, signed_post

pytestmark = pytest.mark.redis_topology

# Where the transactions and scripts live that the walks below must reach.
WALKED = (*sorted((ROOT / "channels").rglob("*.py")),
          *(ROOT / "gateway" / name for name in ("auth.py", "login_throttle.py")))
PUBLIC = "https://complaints.example.com"
TWILIO = TwilioConfig(ACCOUNT_SID, AUTH_TOKEN, FROM_NUMBER, public_base_url=PUBLIC)


class QuietInbox:
    """The router's place: records what it is given, answers nothing (or fails, as a bug in handling would)."""

    def __init__(self, fail: bool = False) -> None:
        self.received: list[InboundMessage] = []
        self._fail = fail

    async def receive(self, message: InboundMessage) -> bool:
        if self._fail:
            raise RuntimeError("a bug in handling the message")
        if any(seen.message_id == message.message_id for seen in self.received):
            return False
        self.received.append(message)
        return True

    async def receive_and_wait(self, message: InboundMessage, within: float) -> bool | None:
        await self.receive(message)
        return False

    async def case_of(self, conversation_id: str) -> str | None:
        return None


@pytest.fixture(scope="module", autouse=True)
def sites() -> Iterator[Sites]:
    sites = Sites()
    with sites.recording():
        yield sites


@pytest.fixture
async def cluster(redis_cluster: RedisCluster, tmp_path: Path) -> AsyncIterator[Redis]:
    settings = Settings.from_env({}, redis_mode="cluster", redis_url=redis_cluster.url, data_dir=tmp_path)
    async with open_redis(settings) as redis:
        await redis.flushall()  # every primary: the Cluster is the module's, each test starts empty
        yield redis


async def eventually(check: Callable[[], Awaitable[bool]], timeout: float = 30.0) -> None:
    async with asyncio.timeout(timeout):
        while not await check():
            await asyncio.sleep(0.1)


def reply(to: str) -> EmailMessage:
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = "desk@example.test", to, "Re: 账户被冻结"
    message["Message-ID"] = make_msgid(domain="example.test")
    message.set_content("您好，我们已收到您的投诉。")
    return message


def test_keys_written_together_share_a_slot() -> None:
    together = [
        (keys.email_outbox_key("a@x"), keys.EMAIL_OUTBOX_DUE_KEY, keys.EMAIL_OUTBOX_FAILED_KEY),
        (keys.email_quarantine_key("<q@x>"), keys.EMAIL_QUARANTINED_KEY),
        (keys.sms_status_key("SM1"), keys.sms_status_history_key("SM1")),
        (keys.sms_optout_key("+8613800138000"), keys.sms_optout_history_key("+8613800138000")),
        (keys.held_flag_key("sms", "SM1"), keys.held_answers_key("sms", "SM1")),
        (keys.webchat_echo_key("k1", "m1"), keys.webchat_frames_key("k1"), keys.webchat_session_key("k1")),
        (keys.login_from_key("ann", "10.0.0.1"), keys.login_all_key("ann")),
    ]
    assert [len({key_slot(name.encode()) for name in names}) for names in together] == [1] * len(together)


async def test_the_outbox_takes_retries_gives_up_and_forgets(cluster: Redis, smtp_sink: SmtpSink) -> None:
    undelivered: list[Undelivered] = []

    async def report(failure: Undelivered) -> None:
        undelivered.append(failure)

    outbox = Outbox(cluster, SmtpConfig("127.0.0.1", smtp_sink.port, tls="none", timeout=5.0),
                    on_undelivered=report)
    later = await outbox.enqueue(reply("li.lei@example.org"), conversation="thread-1")
    never = await outbox.enqueue(reply("gone@example.org"), conversation="thread-2")
    smtp_sink.fail_next(1)  # 451: the first is tried again later
    smtp_sink.fail_next(1, "554 5.7.1 message rejected")  # the second never
    assert await outbox.send_due() == 0
    assert [f.outbox_id for f in undelivered] == [never] and await outbox.pending() == 1
    [failed] = [json.loads(raw) for raw in await cluster.lrange(keys.EMAIL_OUTBOX_FAILED_KEY, 0, -1)]
    assert (failed["id"], failed["failed"]) == (never, "554 5.7.1 message rejected")
    assert json.loads(await cluster.get(keys.email_outbox_key(later)))["attempts"] == 1
    await asyncio.sleep(1.1)  # the first retry's backoff
    assert await outbox.send_due() == 1
    assert [m.message["Message-ID"] for m in smtp_sink.messages] == [f"<{later}>"]
    assert await outbox.pending() == 0 and not await cluster.exists(keys.email_outbox_key(later))
    # The same message again (a resend after a fault) is forgotten, not sent twice.
    again = reply("li.lei@example.org")
    again.replace_header("Message-ID", f"<{later}>")
    await outbox.enqueue(again)
    assert await outbox.send_due() == 0
    assert len(smtp_sink.messages) == 1 and await outbox.pending() == 0


def email_channel(dovecot: Dovecot, mailbox: MailUser, smtp_sink: SmtpSink) -> EmailChannel:
    imap = ImapConfig(dovecot.host, dovecot.imaps_port, mailbox.name, mailbox.password, "implicit",
                      str(dovecot.ca_file), poll_seconds=1.0)
    return EmailChannel(EmailConfig(imap, SmtpConfig("127.0.0.1", smtp_sink.port, tls="none"), mailbox.address))


def deliver_complaint(mailbox: MailUser, sender: str, message_id: str, subject: str, text: str) -> None:
    complaint = EmailMessage()
    complaint["From"], complaint["To"], complaint["Subject"] = sender, mailbox.address, subject
    complaint["Message-ID"] = f"<{message_id}>"
    complaint.set_content(text)
    mailbox.deliver(complaint.as_bytes())


async def test_an_email_that_cannot_be_handled_is_quarantined(
    cluster: Redis, dovecot: Dovecot, mailbox: MailUser, smtp_sink: SmtpSink
) -> None:
    channel = email_channel(dovecot, mailbox, smtp_sink)
    deliver_complaint(mailbox, "li.lei@example.org", "q1@example.org", "账户被冻结", "我的证券账户昨天被冻结了。")
    async with channel.running(cluster, QuietInbox(fail=True)):
        await eventually(lambda: cluster.exists(keys.EMAIL_QUARANTINED_KEY))
    assert await cluster.lrange(keys.EMAIL_QUARANTINED_KEY, 0, -1) == [b"q1@example.org"]
    record = await cluster.hgetall(keys.email_quarantine_key("q1@example.org"))
    assert record[b"reason"].startswith(b"RuntimeError: a bug in handling")
    assert b"q1@example.org" in record[b"raw"]
    assert len(mailbox.list_messages("Quarantine")) == 1


async def test_an_email_is_read_and_answered_within_the_daily_count_of_automatic_replies(
    cluster: Redis, dovecot: Dovecot, mailbox: MailUser, smtp_sink: SmtpSink
) -> None:
    channel = email_channel(dovecot, mailbox, smtp_sink)
    deliver_complaint(mailbox, "han.mei@example.org", "a1@example.org", "转账没到账",
                      "我前天从证券账户转出的五万元还没到银行卡。")
    inbox = QuietInbox()
    async with channel.running(cluster, inbox):
        await eventually(lambda: asyncio.sleep(0, bool(inbox.received)))
        answer = OutboundMessage("email", inbox.received[0].conversation_key, "您好，已收到您的投诉。", "bot")
        await channel.send(answer)
        await eventually(lambda: asyncio.sleep(0, bool(smtp_sink.messages)))
    assert smtp_sink.messages[0].message["To"] == "han.mei@example.org"
    assert await cluster.get(keys.email_auto_replies_key("han.mei@example.org", datetime.now(UTC))) == b"1"


@contextlib.asynccontextmanager
async def serving(aiohttp_client: Any, channel: Any, redis: Redis, inbox: QuietInbox) -> AsyncIterator[Any]:
    """A web app with only the channel's routes, the channel running on ``redis``."""
    app = web.Application()
    app.add_routes(channel.routes())
    async with channel.running(redis, inbox):
        yield await aiohttp_client(app)


async def post(client: Any, path: str, fields: dict[str, str]) -> str:
    response = await signed_post(client.session, str(client.make_url("")), path, fields, public_base=PUBLIC)
    assert response.status in (200, 204), await response.text()
    return str(await response.text())


async def test_sms_status_callbacks_and_opt_outs_are_recorded_with_their_history(
    cluster: Redis, aiohttp_client: Any
) -> None:
    sid, number = "SM" + "7" * 32, "+8613800138000"
    async with serving(aiohttp_client, TwilioSms(TWILIO, reply_wait=0.2), cluster, QuietInbox()) as client:
        for status in ("sent", "delivered", "delivered"):
            await post(client, "/channels/twilio/sms/status",
                       {"MessageSid": sid, "MessageStatus": status, "AccountSid": ACCOUNT_SID})
        for message_sid, word in (("SM-stop", "退订"), ("SM-start", "START")):
            await post(client, "/channels/twilio/sms", {"MessageSid": message_sid, "AccountSid": ACCOUNT_SID,
                                                        "From": number, "To": FROM_NUMBER, "Body": word})
            assert await cluster.exists(keys.sms_optout_key(number)) == (word == "退订")
    assert await cluster.hget(keys.sms_status_key(sid), "status") == b"delivered"
    history = await cluster.lrange(keys.sms_status_history_key(sid), 0, -1)
    assert [json.loads(raw)["status"] for raw in history] == ["sent", "delivered"]
    optouts = await cluster.lrange(keys.sms_optout_history_key(number), 0, -1)
    assert [json.loads(raw)["opted_out"] for raw in optouts] == [True, False]


async def test_a_calls_state_is_kept_and_its_end_reported(cluster: Redis, aiohttp_client: Any) -> None:
    inbox, call = QuietInbox(), "CA" + "1" * 32
    async with serving(aiohttp_client, TwilioVoice(TWILIO, VoiceSettings()), cluster, inbox) as client:
        greeting = await post(client, "/channels/twilio/voice", {"CallSid": call, "From": "+8613800138000"})
        assert greeting == await post(client, "/channels/twilio/voice", {"CallSid": call, "From": "+8613800138000"})
        state = await cluster.hgetall(keys.voice_call_key(call))
        assert (state[b"language"], state[b"caller"]) == (b"zh", b"+8613800138000")
        assert await cluster.ttl(keys.voice_call_key(call)) > 0
        await post(client, "/channels/twilio/voice/status", {"CallSid": call, "CallStatus": "completed"})
    assert [(m.conversation_key, m.command) for m in inbox.received] == [(call, "hangup")]


@contextlib.asynccontextmanager
async def web_chat(aiohttp_client: Any, redis: Redis, inbox: QuietInbox) -> AsyncIterator[tuple[WebChat, str]]:
    """A running web chat and its socket's URL."""
    chat = WebChat(WebChatLimits())
    app = web.Application()
    app.add_routes(chat.routes())
    running = contextlib.AsyncExitStack()
    await running.enter_async_context(chat.running(redis, inbox))
    try:
        client = await aiohttp_client(app)
        yield chat, str(client.make_url("/chat/ws"))
    finally:
        await running.aclose()


async def test_a_web_chat_session_and_its_frames_are_stored(cluster: Redis, aiohttp_client: Any) -> None:
    inbox = QuietInbox()
    async with web_chat(aiohttp_client, cluster, inbox) as (chat, url), aiohttp.ClientSession() as http:
        customer = await ChatClient.connect(http, url, language="zh")
        assert customer.session is not None
        key = conversation_key(customer.session)
        assert (await customer.send("我的转账没到账", "m1"))["type"] == "ack"  # the nudge went round the Cluster
        await chat.send(OutboundMessage("webchat", key, "您好，请问是哪一笔转账？", "bot"))
        assert await customer.bot_says() == "您好，请问是哪一笔转账？"
        await customer.close()
    frames = [json.loads(fields[b"frame"]) for _, fields in await cluster.xrange(keys.webchat_frames_key(key))]
    assert [(f["from"], f["text"]) for f in frames] == [
        ("customer", "我的转账没到账"), ("bot", "您好，请问是哪一笔转账？")]
    assert await cluster.hgetall(keys.webchat_session_key(key)) == {b"language": b"zh", b"spoke": b"1"}
    assert await cluster.ttl(keys.webchat_frames_key(key)) > 0
    assert await cluster.get(keys.webchat_rate_key(key)) == b"1"
    assert [m.text for m in inbox.received] == ["我的转账没到账"]


async def test_held_answers_are_held_taken_once_and_answered_once(cluster: Redis) -> None:
    held = HeldAnswers(cluster, "sms", reply_wait=0.0, grace=0.0)
    await held.hold("SM1")
    answer = OutboundMessage("sms", "+8613800138000", "您好", "bot", in_reply_to="SM1")
    assert await held.add(answer) is True
    assert [a.text for a in await held.take("SM1")] == ["您好"]
    assert await held.take("SM1") == [] and await held.add(answer) is False
    worked: list[str] = []

    async def work_out() -> str:
        worked.append("once")
        await asyncio.sleep(0.1)
        return "<Response/>"

    both = await asyncio.gather(*(answer_once(cluster, keys.sms_answer_key("SM2"), work_out, lease=5, keep=60)
                                  for _ in range(2)))
    assert both == ["<Response/>"] * 2 and worked == ["once"]


async def test_append_once_and_a_lease(cluster: Redis) -> None:
    once = AppendOnce(cluster)
    mark, inbox = keys.conversation_key("sms:+86", "seen:m1"), keys.conversation_key("sms:+86", "inbox")
    assert [await once.to_list(mark, inbox, "m1", 60) for _ in range(2)] == [True, False]
    echo, frames = keys.webchat_echo_key("k1", "m1"), keys.webchat_frames_key("k1")
    assert [await once.to_stream(echo, frames, "frame", "{}", 60) for _ in range(2)] == [True, False]
    assert (await cluster.lrange(inbox, 0, -1), await cluster.xlen(frames)) == ([b"m1"], 1)
    mine = Lease(cluster, keys.email_lease_key("0123456789abcdef"), "replica-a", 5000)
    theirs = Lease(cluster, mine.key, "replica-b", 5000)
    assert (await mine.take(), await theirs.take(), await theirs.renew(), await mine.renew()) == (
        True, False, False, True)
    assert (await theirs.release(), await mine.release(), await theirs.renew()) == (False, True, True)


async def test_the_login_throttle_counts_per_address_and_per_account(cluster: Redis) -> None:
    throttle = LoginThrottle(cluster, free_tries=2, account_free_tries=10)
    tries = [await throttle.admit("ann", "10.0.0.1") for _ in range(3)]
    assert [t.admitted for t in tries] == [True, True, False] and tries[2].retry_after > 0
    assert (await throttle.admit("ann", "10.0.0.2")).admitted, "another address is not held up"
    await throttle.succeeded("ann", "10.0.0.1")
    assert (await throttle.admit("ann", "10.0.0.1")).admitted
    assert await cluster.hget(keys.login_all_key("ann"), "tries") == b"3"


async def test_keys_under_their_old_names_move_across_slots(cluster: Redis) -> None:
    old_due, old_message = "cg:email:outbox:due", "cg:email:outbox:{o1@example.test}"
    old_history = "cg:sms:status:SM1:history"
    assert key_slot(old_due.encode()) != key_slot(keys.EMAIL_OUTBOX_DUE_KEY.encode())
    await cluster.zadd(old_due, {"o1@example.test": 1.0})
    await cluster.set(old_message, "{}", ex=1000)
    await cluster.rpush(old_history, "sent", "delivered")
    await cluster.rpush(keys.sms_status_history_key("SM1"), "read")  # written since the upgrade
    assert await rename_legacy_keys(cluster) == 3
    assert await cluster.zrange(keys.EMAIL_OUTBOX_DUE_KEY, 0, -1) == [b"o1@example.test"]
    assert 990 < await cluster.ttl(keys.email_outbox_key("o1@example.test")) <= 1000
    assert await cluster.lrange(keys.sms_status_history_key("SM1"), 0, -1) == [b"sent", b"delivered", b"read"]
    assert [await cluster.exists(name) for name in (old_due, old_message, old_history)] == [0, 0, 0]
    assert await rename_legacy_keys(cluster) == 0


async def test_accounts_log_in_and_a_new_password_ends_their_sessions(cluster: Redis, tmp_path: Path) -> None:
    record = CaseRecord(f"sqlite+aiosqlite:///{tmp_path / 'record.db'}")
    await record.open()
    try:
        agents = Agents(cluster, record.engine, token_ttl=3600, lockout_after=5)
        await agents.add("ann", "correct horse battery")
        tokens = [(await agents.login("ann", "correct horse battery", f"10.0.0.{n}"))[0] for n in (1, 2)]
        assert [(await agents.agent_for(token)) is not None for token in tokens] == [True, True]
        await agents.change("ann", "root", password="a new horse battery")
        assert [await agents.agent_for(token) for token in tokens] == [None, None]
        assert await cluster.hget(keys.account_key("ann"), "revision") == b"2"
    finally:
        await record.close()


def test_every_transaction_and_script_of_the_channels_ran_on_the_cluster(
    sites: Sites, request: pytest.FixtureRequest
) -> None:
    walks = [item for item in request.session.items if item.module is request.module and item is not request.node]
    if len(walks) < sum(1 for name in dir(request.module) if name.startswith("test_")) - 1:
        pytest.skip("the walks are the other tests of this module: run it whole")
    in_the_source = sites_in_the_source(WALKED)
    assert in_the_source - sites.used == set(), "walk these on the cluster too"
    walked = {str(path.relative_to(ROOT)) for path in WALKED}
    assert {site for site in sites.used if site[0] in walked} - in_the_source == set(), "the source walk missed some"

"""The email channel against a real IMAP server (Dovecot) and an SMTP sink, on the real app and Redis.

Rasa is unreachable here, so a customer's first email gets the holding reply and a case: enough to see the
channel's guarantees. The conversation with the real bot is in tests/e2e/test_email.py.
"""

from __future__ import annotations

import asyncio
import imaplib
from collections.abc import Awaitable, Callable
from dataclasses import replace
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path
from typing import Any

import pytest
from redis.asyncio import Redis

from channels.email.outbox import DUE_KEY, FAILED_KEY, Outbox, SmtpConfig
from gateway import keys
from gateway.app import create_app
from gateway.settings import Settings
from tests.support.mail_servers import Dovecot, MailUser, SmtpSink

CORPUS = Path(__file__).resolve().parents[4] / "shared" / "corpus" / "email"
CUSTOMER = "li.lei@example.org"


def email_settings(settings: Settings, dovecot: Dovecot, desk: MailUser, sink: SmtpSink) -> Settings:
    return replace(settings, imap_host=dovecot.host, imap_port=dovecot.imaps_port, imap_user=desk.name,
                   imap_password=desk.password, imap_tls="implicit", mail_ca_file=str(dovecot.ca_file),
                   imap_poll_seconds=1.0, smtp_host="127.0.0.1", smtp_port=sink.port, smtp_tls="none",
                   mail_from=desk.address)


def complaint(subject: str, body: str, sender: str = CUSTOMER, **headers: str) -> bytes:
    message = EmailMessage()
    message["From"] = f"Li Lei <{sender}>"
    message["To"] = "complaints@example.test"
    message["Subject"] = subject
    message["Message-ID"] = make_msgid(domain="example.org")
    for name, value in headers.items():
        message[name.replace("_", "-")] = value
    message.set_content(body)
    return message.as_bytes()


def raw_complaint(from_header: str, subject: str, body: str = "我的证券账户昨天被冻结了。",
                  message_id: str | None = None) -> bytes:
    """An email written byte by byte, as an RFC 6532 (SMTPUTF8) mailer sends it: UTF-8 headers, unencoded."""
    headers = [f"From: {from_header}", "To: complaints@example.test", f"Subject: {subject}",
               f"Message-ID: {message_id or make_msgid(domain='example.org')}", "MIME-Version: 1.0",
               "Content-Type: text/plain; charset=utf-8", "Content-Transfer-Encoding: 8bit"]
    return ("\r\n".join(headers) + "\r\n\r\n" + body + "\r\n").encode()


async def eventually(check: Callable[[], Awaitable[bool]], timeout: float = 20.0) -> None:
    async with asyncio.timeout(timeout):
        while not await check():
            await asyncio.sleep(0.2)


@pytest.fixture
async def desk(aiohttp_client: Any, settings: Settings, dovecot: Dovecot, mailbox: MailUser,
               smtp_sink: SmtpSink) -> Any:
    return await aiohttp_client(create_app(email_settings(settings, dovecot, mailbox, smtp_sink)))


async def test_an_email_is_recorded_moved_and_answered_in_its_thread(
    desk: Any, mailbox: MailUser, smtp_sink: SmtpSink
) -> None:
    raw = complaint("账户被冻结", "你好，我的证券账户昨天被冻结了，没有收到任何通知。")
    mailbox.deliver(raw)
    [reply] = await smtp_sink.wait_for(1, timeout=20)
    original_id = raw.split(b"Message-ID: ")[1].split(b"\n")[0].strip().decode()
    assert reply.message["In-Reply-To"] == original_id and original_id in reply.message["References"]
    assert reply.message["Auto-Submitted"] == "auto-replied"
    assert reply.message["X-Auto-Response-Suppress"] == "All"
    assert reply.rcpt_tos == [CUSTOMER]
    case_id = (await desk.app[keys.CASES].list())[0]["id"]
    assert f"[{case_id}]" in reply.message["Subject"] and reply.message["Subject"].startswith("Re: 账户被冻结")
    assert {part.get_content_type() for part in reply.message.iter_parts()} == {"text/plain", "text/html"}
    await eventually(lambda: _async(count(mailbox, "Processed") == 1))
    assert mailbox.list_messages("INBOX") == []


async def test_machines_are_recorded_and_never_answered(
    desk: Any, mailbox: MailUser, smtp_sink: SmtpSink, redis: Redis
) -> None:
    if not CORPUS.exists():
        pytest.skip(f"corpus not found at {CORPUS}")
    machine = ["auto-reply/sisimai__rfc3834-01.eml", "auto-reply/sisimai__rfc3834-03.eml",
               "bounce/flanker__bounce-zed.eml", "bounce/flanker__complaints-aol.eml",
               "auto-reply/flanker__disposition-notification.eml", "bounce/mikelmail__report_422.eml"]
    for name in machine:
        mailbox.deliver((CORPUS / name).read_bytes())
    await eventually(lambda: _async(count(mailbox, "Processed") == len(machine)))
    await asyncio.sleep(1.0)
    assert smtp_sink.messages == []
    assert await desk.app[keys.CASES].list() == []
    assert await redis.llen("cg:email:machine") == len(machine)


async def test_a_stranger_replying_to_the_thread_starts_their_own_intake(
    desk: Any, mailbox: MailUser, smtp_sink: SmtpSink
) -> None:
    first = complaint("Fees charged twice", "You charged my commission twice on the same order.")
    mailbox.deliver(first)
    [reply] = await smtp_sink.wait_for(1, timeout=20)
    follow_up = complaint("Re: Fees charged twice", "Any news?", In_Reply_To=reply.message["Message-ID"])
    stranger = complaint("Re: Fees charged twice", "I have the same problem!", sender="someone.else@example.net",
                         In_Reply_To=reply.message["Message-ID"])
    mailbox.deliver(follow_up)
    mailbox.deliver(stranger)
    await smtp_sink.wait_for(2, timeout=20)
    cases = await desk.app[keys.CASES].list()
    assert sorted(c["customer"]["email"] for c in cases) == [CUSTOMER, "someone.else@example.net"]
    mine = next(c for c in cases if c["customer"]["email"] == CUSTOMER)
    await eventually(lambda: _has_message(desk, mine["id"], "Any news?"))


async def test_an_agent_reply_is_ordinary_mail_in_the_thread(
    desk: Any, mailbox: MailUser, smtp_sink: SmtpSink
) -> None:
    mailbox.deliver(complaint("Withdrawal stuck", "My withdrawal has been pending for a week."))
    [auto] = await smtp_sink.wait_for(1, timeout=20)
    case = (await desk.app[keys.CASES].list())[0]
    await desk.app[keys.QUEUE].claim(case["id"], "ann")
    await desk.app[keys.ROUTER].reply_from_agent(case, "ann", "We have released the withdrawal today.")
    messages = await smtp_sink.wait_for(2, timeout=20)
    answer = messages[1].message
    assert "Auto-Submitted" not in answer and answer["In-Reply-To"]
    assert auto.message["Message-ID"] in answer["References"]
    assert "We have released the withdrawal today." in answer.get_body(("plain",)).get_content()  # type: ignore[union-attr]


async def test_smtp_down_for_a_while_every_reply_leaves_exactly_once_when_it_is_back(
    redis: Redis, smtp_sink: SmtpSink
) -> None:
    outbox = Outbox(redis, SmtpConfig("127.0.0.1", smtp_sink.port, tls="none", timeout=2.0), poll=0.1)
    smtp_sink.down()
    ids = []
    for n in range(3):
        message = EmailMessage()
        message["From"], message["To"] = "desk@example.test", f"customer{n}@example.org"
        message["Subject"], message["Message-ID"] = f"reply {n}", make_msgid(domain="example.test")
        message.set_content(f"answer {n}")
        ids.append(await outbox.enqueue(message))
    async with outbox.running():
        await asyncio.sleep(1.5)  # a few attempts against a closed port
        assert await outbox.pending() == 3 and smtp_sink.messages == []
        smtp_sink.fail_next(1)
        smtp_sink.up()
        await eventually(lambda: _async(len(smtp_sink.messages) == 3), timeout=30)
        await asyncio.sleep(1.0)
    assert sorted(m.message["Subject"] for m in smtp_sink.messages) == ["reply 0", "reply 1", "reply 2"]
    assert await outbox.pending() == 0


def count(mailbox: MailUser, folder: str) -> int:
    """How many messages a folder holds (0 until the gateway has created it)."""
    try:
        return len(mailbox.list_messages(folder))
    except imaplib.IMAP4.error:
        return 0


async def _async(value: Any) -> bool:
    return bool(value)


async def _has_message(desk: Any, case_id: str, text: str) -> bool:
    case = await desk.app[keys.CASES].get(case_id)
    return any(m["text"] == text for m in case["messages"])


async def test_starttls_on_the_plain_port_works_too(
    aiohttp_client: Any, settings: Settings, dovecot: Dovecot, mailbox: MailUser, smtp_sink: SmtpSink
) -> None:
    starttls = replace(email_settings(settings, dovecot, mailbox, smtp_sink), imap_port=dovecot.imap_port,
                       imap_tls="starttls")
    await aiohttp_client(create_app(starttls))
    mailbox.deliver(complaint("Statement missing", "My monthly statement never arrived."))
    [reply] = await smtp_sink.wait_for(1, timeout=20)
    assert reply.rcpt_tos == [CUSTOMER]


# (From, Subject, the case's email, RCPT of the reply, whether the reply needs SMTPUTF8)
INTERNATIONAL = [
    pytest.param("张伟 <张伟@example.cn>", "账户被冻结", "张伟@example.cn", "张伟@example.cn", True,
                 id="chinese-mailbox-name"),
    pytest.param("Zhang Wei <zhang@例子.中国>", "Account frozen", "zhang@例子.中国",
                 "zhang@xn--fsqu00a.xn--fiqs8s", False, id="chinese-domain"),
    pytest.param("Zhang Wei <zhang@xn--fsqu00a.xn--fiqs8s>", "Account frozen", "zhang@例子.中国",
                 "zhang@xn--fsqu00a.xn--fiqs8s", False, id="chinese-domain-written-in-idna"),
    pytest.param(f"Li Lei <{CUSTOMER}>", "Re:\u2028", CUSTOMER, CUSTOMER, False, id="subject-line-separator"),
    pytest.param(f"Li Lei <{CUSTOMER}>", "=?utf-8?q?Re:=E2=80=A9=0D=0ABcc:_someone@example.net?=", CUSTOMER,
                 CUSTOMER, False, id="subject-header-injection"),
]


@pytest.mark.parametrize(("sender", "subject", "case_email", "rcpt", "smtputf8"), INTERNATIONAL)
async def test_customers_with_international_addresses_or_odd_subjects_are_answered(
    desk: Any, mailbox: MailUser, smtp_sink: SmtpSink, sender: str, subject: str, case_email: str, rcpt: str,
    smtputf8: bool
) -> None:
    mailbox.deliver(raw_complaint(sender, subject, message_id="<a\u2028b@example.org>"))
    [reply] = await smtp_sink.wait_for(1, timeout=20)
    assert reply.rcpt_tos == [rcpt]
    assert ("SMTPUTF8" in reply.mail_options) == smtputf8
    [case] = await desk.app[keys.CASES].list()
    assert case["customer"]["email"] == case_email
    subject_lines = [line for line in reply.raw.split(b"\r\n\r\n")[0].split(b"\r\n")
                     if line.lower().startswith(b"subject:")]
    assert len(subject_lines) == 1 and f"[{case['id']}]" in reply.message["Subject"]
    assert not any(separator in reply.message["Subject"] for separator in "\r\n\u2028\u2029\x85")
    assert "Bcc" not in reply.message  # the subject's line break started no header of its own
    await eventually(lambda: _async(count(mailbox, "Processed") == 1))
    assert count(mailbox, "Quarantine") == 0


@pytest.mark.parametrize(("sender", "server_smtputf8", "reason"), [
    pytest.param("张伟@example.cn", False, "SMTPUTF8", id="chinese-mailbox-name-without-smtputf8"),
    pytest.param("zhang@例子..中国", True, "not a valid internationalised domain name", id="unwritable-domain"),
])
async def test_a_reply_that_can_never_leave_puts_the_case_on_the_desk_with_the_reason(
    aiohttp_client: Any, settings: Settings, dovecot: Dovecot, mailbox: MailUser, redis: Redis, sender: str,
    server_smtputf8: bool, reason: str
) -> None:
    with SmtpSink(smtputf8=server_smtputf8) as sink:
        desk = await aiohttp_client(create_app(email_settings(settings, dovecot, mailbox, sink)))
        cases = desk.app[keys.CASES]
        mailbox.deliver(raw_complaint(f"张伟 <{sender}>", "账户被冻结"))

        async def noted() -> bool:
            listed = await cases.list()
            return bool(listed) and any(reason in m["text"] for m in (await cases.get(listed[0]["id"]))["messages"])

        await eventually(noted)
        tries = sink.greetings
        await eventually(lambda: _async(count(mailbox, "Processed") == 1))
        await asyncio.sleep(2.5)  # the outbox polls every second: time for retries, were there any
        assert sink.greetings == tries and sink.messages == []
    [case] = await cases.list()
    assert case["status"] == "queued" and case["customer"]["email"] == sender
    [note] = [m for m in (await cases.get(case["id"]))["messages"] if reason in m["text"]]
    assert note["from"] == "system" and sender in note["text"] and "another way" in note["text"]
    assert await redis.zcard(DUE_KEY) == 0
    assert await redis.llen(FAILED_KEY) == (0 if server_smtputf8 else 1)
    assert count(mailbox, "Quarantine") == 0

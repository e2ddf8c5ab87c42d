"""Complaints by email with the real bot: a real Dovecot mailbox in, replies by SMTP in the thread.

A GB2312 Chinese complaint and an HTML-only English one arrive; the bot's reply asks for what is missing;
the customer answers above the quoted history, as mail clients do; the case gets the right fields and
none of the quoted text.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from email.message import EmailMessage
from email.utils import make_msgid
from typing import Any

import aiohttp
import pytest

from tests.e2e.conftest import AgentApi, Gateway, start_gateway
from tests.support.mail_servers import Dovecot, MailUser, SmtpMessage, SmtpSink, new_user

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def desk_mailbox(dovecot: Dovecot) -> MailUser:
    return new_user(dovecot)


@pytest.fixture(scope="module")
def sink() -> Iterator[SmtpSink]:
    server = SmtpSink()
    server.up()
    try:
        yield server
    finally:
        server.close()


def mail_settings(dovecot: Dovecot, mailbox: MailUser, sink: SmtpSink) -> dict[str, str]:
    """A gateway's settings to read ``mailbox`` and send through ``sink``."""
    return dict(IMAP_HOST=dovecot.host, IMAP_PORT=str(dovecot.imaps_port), IMAP_USER=mailbox.name,
                IMAP_PASSWORD=mailbox.password, MAIL_CA_FILE=str(dovecot.ca_file), IMAP_POLL_SECONDS="1",
                SMTP_HOST="127.0.0.1", SMTP_PORT=str(sink.port), SMTP_TLS="none", MAIL_FROM=mailbox.address)


@pytest.fixture(scope="module")
def mail_gateway(dovecot: Dovecot, desk_mailbox: MailUser, sink: SmtpSink, e2e_redis: str, rasa: tuple[str, Any],
                 tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    gateway = start_gateway(
        "email", e2e_redis, rasa[0], tmp_path_factory.mktemp("gw-email"), **mail_settings(dovecot, desk_mailbox, sink))
    try:
        yield gateway
    finally:
        gateway.stop()


def first_email(sender: str, name: str, subject: str, body: str, *, html: bool, charset: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = f"{name} <{sender}>"
    message["To"] = "complaints@example.test"
    message["Subject"] = subject
    message["Message-ID"] = make_msgid(domain=sender.split("@")[1])
    if html:
        message.set_content(f"<html><body><p>{body}</p><p>{name}</p></body></html>", subtype="html",
                            charset=charset)
    else:
        message.set_content(f"{body}\n\n{name}\n", charset=charset)
    return message


def answer(to: SmtpMessage, sender: str, name: str, text: str, *, html: bool) -> EmailMessage:
    """The customer's reply: new text on top, the desk's email quoted below, as their mail client does."""
    asked = to.message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    message = EmailMessage()
    message["From"] = f"{name} <{sender}>"
    message["To"] = to.message["From"]
    message["Subject"] = "Re: " + to.message["Subject"]
    message["Message-ID"] = make_msgid(domain=sender.split("@")[1])
    message["In-Reply-To"] = to.message["Message-ID"]
    message["References"] = f"{to.message.get('References', '')} {to.message['Message-ID']}".strip()
    if html:
        quoted = asked.replace("\n", "<br>")
        message.set_content(f"<div>{text}</div><br><div class=\"gmail_quote\"><div>On Mon, 23 Nov 2026, "
                            f"Complaints desk wrote:</div><blockquote class=\"gmail_quote\">{quoted}</blockquote>"
                            "</div>", subtype="html")
    else:
        block = "\n".join(["-----原始邮件-----", f"发件人: {to.message['From']}", "发送时间: 2026年11月23日 10:00",
                           f"收件人: {sender}", f"主题: {to.message['Subject']}", "", asked])
        message.set_content(f"{text}\n\n{block}\n", charset="gb2312" if not html else "utf-8")
    return message


async def reply_to(sink: SmtpSink, address: str, seen: int, timeout: float = 60) -> SmtpMessage:
    async with asyncio.timeout(timeout):
        while True:
            mine = [m for m in sink.messages if m.rcpt_tos == [address]]
            if len(mine) > seen:
                return mine[seen]
            await asyncio.sleep(0.2)


async def email_intake(mailbox: MailUser, sink: SmtpSink, c: dict[str, Any]) -> tuple[str | None, int]:
    """Customer ``c`` emails ``mailbox`` and answers each of the desk's replies (the phone when asked for a number,
    else the story) until one carries a case number, five at most: (that case id, the replies received)."""
    mailbox.deliver(first_email(c["sender"], c["name"], c["subject"], c["opening"], html=c["html"],
                                charset=c["charset"]).as_bytes())
    for received in range(1, 6):
        reply = await reply_to(sink, c["sender"], received - 1)
        assert reply.message["In-Reply-To"], "every reply is in the customer's thread"
        if "C-" in reply.message["Subject"]:
            return reply.message["Subject"].split("[")[-1].rstrip("]"), received
        text = reply.message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
        said = c["phone"] if any(w in text.lower() for w in ("电话", "phone", "number")) else c["body"]
        mailbox.deliver(answer(reply, c["sender"], c["name"], said, html=c["html"]).as_bytes())
    return None, 5


# The first email only says there is a complaint; the details come in the replies.
CUSTOMERS = {
    "zh": dict(sender="wang.fang@example.cn", name="王芳", subject="投诉", charset="gb2312", html=False,
               opening="你好，我要投诉。", phone="13911112222",
               body="我的账户上周五的一笔交易被扣了两次佣金，请尽快处理并退还多扣的费用。"),
    "en": dict(sender="mark.taylor@example.com", name="Mark Taylor", subject="Complaint", charset="utf-8",
               html=True, opening="Hello, I would like to make a complaint.", phone="+44 7700 900321",
               body="The trading app charged me the commission twice for one trade last Friday."),
}


@pytest.mark.parametrize("language", ["zh", "en"])
async def test_an_email_complaint_is_completed_by_replies_in_the_thread(
    language: str, mail_gateway: Gateway, desk_mailbox: MailUser, sink: SmtpSink, agent_account: tuple[str, str],
    http: aiohttp.ClientSession,
) -> None:
    c = CUSTOMERS[language]
    case_id, received = await email_intake(desk_mailbox, sink, c)
    assert case_id, "the intake ended with a case number in the subject"
    assert received >= 2, "the customer's reply filled what the first email left out"

    api = AgentApi(http, mail_gateway.url)
    await api.login(*agent_account)
    case = await api.call("GET", f"/api/cases/{case_id}")
    assert case["status"] == "queued" and case["channel"] == "email" and case["language"] == language
    assert case["customer"]["email"] == c["sender"] and case["customer"]["name"] == c["name"]
    if case["customer"]["phone"]:  # asked for only when the bot wants a phone besides the email address
        assert case["customer"]["phone"].replace(" ", "").endswith(c["phone"].replace(" ", "")[-8:])
    assert c["body"][:12] in case["complaint"]["description"]
    everything = " ".join([case["complaint"]["description"], *(m["text"] for m in case["messages"]
                                                                if m["from"] == "customer")])
    for quoted in ("发件人", "原始邮件", "wrote:", "gmail_quote", "Complaints desk"):
        assert quoted not in everything, f"quoted history leaked into the case: {quoted}"


def utf8_email(sender: str, name: str, subject: str, body: str) -> bytes:
    """A first email as an SMTPUTF8 mailer writes it: UTF-8 headers, the address unencoded."""
    headers = [f"From: {name} <{sender}>", "To: complaints@example.test", f"Subject: {subject}",
               f"Message-ID: {make_msgid(domain='example.cn')}", "MIME-Version: 1.0",
               "Content-Type: text/plain; charset=utf-8", "Content-Transfer-Encoding: 8bit"]
    return ("\r\n".join(headers) + "\r\n\r\n" + body + "\r\n").encode()


@pytest.mark.parametrize(("sender", "rcpt", "smtputf8"), [
    ("张伟@example.cn", "张伟@example.cn", True),
    ("zhang.wei@例子.中国", "zhang.wei@xn--fsqu00a.xn--fiqs8s", False),
])
async def test_the_bot_answers_customers_at_internationalised_addresses(
    sender: str, rcpt: str, smtputf8: bool, mail_gateway: Gateway, desk_mailbox: MailUser, sink: SmtpSink
) -> None:
    desk_mailbox.deliver(utf8_email(sender, "张伟", "投诉", "你好，我要投诉。"))
    reply = await reply_to(sink, rcpt, 0)
    assert reply.message["In-Reply-To"] and ("SMTPUTF8" in reply.mail_options) == smtputf8


@pytest.fixture(scope="module")
def ascii_only_sink() -> Iterator[SmtpSink]:
    server = SmtpSink(smtputf8=False)
    server.up()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture(scope="module")
def ascii_only_gateway(dovecot: Dovecot, ascii_only_sink: SmtpSink, e2e_redis: str, rasa: tuple[str, Any],
                       tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Gateway, MailUser]]:
    """A gateway whose SMTP server does not offer SMTPUTF8, with a mailbox of its own."""
    mailbox = new_user(dovecot)
    gateway = start_gateway(
        "email-ascii-only", e2e_redis, rasa[0], tmp_path_factory.mktemp("gw-email-ascii"),
        **mail_settings(dovecot, mailbox, ascii_only_sink))
    try:
        yield gateway, mailbox
    finally:
        gateway.stop()


async def test_a_customer_the_mail_server_cannot_reach_goes_on_the_desk_with_the_reason(
    ascii_only_gateway: tuple[Gateway, MailUser], ascii_only_sink: SmtpSink, agent_account: tuple[str, str],
    http: aiohttp.ClientSession,
) -> None:
    gateway, mailbox = ascii_only_gateway
    mailbox.deliver(utf8_email("李娜@example.cn", "李娜", "投诉", "你好，我要投诉。"))
    api = AgentApi(http, gateway.url)
    await api.login(*agent_account)
    async with asyncio.timeout(60):
        while not (mine := [c for c in (await api.call("GET", "/api/cases"))["cases"]
                            if c["customer"]["email"] == "李娜@example.cn"]):
            await asyncio.sleep(0.5)
    [case] = mine
    case = await api.call("GET", f"/api/cases/{case['id']}")
    assert case["status"] == "queued"
    notes = [m["text"] for m in case["messages"] if m["from"] == "system" and "SMTPUTF8" in m["text"]]
    assert notes and "李娜@example.cn" in notes[0]
    assert ascii_only_sink.messages == []

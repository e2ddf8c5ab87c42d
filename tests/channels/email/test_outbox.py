"""The durable SMTP outbox against the aiosmtpd sink (tests/support/mail_servers.py) and a real Redis.

Internationalised addresses (RFC 6531, SMTPUTF8) and replies that can never be sent: they are reported once and
leave the outbox, instead of coming back every few minutes for ever.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from email.message import EmailMessage
from email.utils import make_msgid

import pytest
from redis.asyncio import Redis

from channels.email.outbox import FAILED_KEY, Outbox, SmtpConfig, Undelivered, smtp_address
from tests.support.mail_servers import SmtpSink

DESK = "desk@example.test"


def reply_to(address: str, subject: str = "Re: 账户被冻结") -> EmailMessage:
    message = EmailMessage()
    message["From"] = f"Complaints desk <{DESK}>"
    message["To"] = f"张伟 <{address}>"
    message["Subject"] = subject
    message["Message-ID"] = make_msgid(domain="example.test")
    message.set_content("您好，我们已收到您的投诉。")
    return message


class Reports:
    """What the outbox reported as never to be delivered."""

    def __init__(self) -> None:
        self.undelivered: list[Undelivered] = []

    async def __call__(self, failure: Undelivered) -> None:
        self.undelivered.append(failure)

    async def wait_for(self, count: int) -> list[Undelivered]:
        async with asyncio.timeout(20):
            while len(self.undelivered) < count:
                await asyncio.sleep(0.05)
        return self.undelivered


@pytest.fixture
def reports() -> Reports:
    return Reports()


OutboxFor = Callable[[SmtpSink], Outbox]


@pytest.fixture
def outbox_for(redis: Redis, reports: Reports) -> OutboxFor:
    """Outboxes for a sink, polling quickly, each reporting to ``reports``."""

    def make(sink: SmtpSink) -> Outbox:
        return Outbox(redis, SmtpConfig("127.0.0.1", sink.port, tls="none", timeout=5.0), poll=0.05,
                      on_undelivered=reports)

    return make


def test_an_internationalised_domain_goes_on_the_wire_in_idna() -> None:
    assert smtp_address("zhang@例子.中国") == "zhang@xn--fsqu00a.xn--fiqs8s"
    assert smtp_address("Zhang@Example.ORG") == "Zhang@Example.ORG"  # ASCII stays exactly as written
    assert smtp_address("张伟@example.cn") == "张伟@example.cn"  # the local part is the customer's own
    assert smtp_address("jdöe@mächine.example") == "jdöe@xn--mchine-bua.example"
    with pytest.raises(ValueError, match="domain"):
        smtp_address("zhang@例子..中国")


async def test_a_reply_to_a_non_ascii_mailbox_goes_by_smtputf8(
    redis: Redis, smtp_sink: SmtpSink, outbox_for: OutboxFor, reports: Reports
) -> None:
    outbox = outbox_for(smtp_sink)
    await outbox.enqueue(reply_to("张伟@example.cn"))
    assert await outbox.send_due() == 1
    [received] = smtp_sink.messages
    assert received.rcpt_tos == ["张伟@example.cn"]
    assert "SMTPUTF8" in received.mail_options
    assert received.message["To"].addresses[0].addr_spec == "张伟@example.cn"
    assert received.message["Subject"] == "Re: 账户被冻结"
    assert reports.undelivered == [] and await outbox.pending() == 0


async def test_without_smtputf8_at_the_server_the_reply_is_reported_once_and_not_retried(
    redis: Redis, outbox_for: OutboxFor, reports: Reports
) -> None:
    with SmtpSink(smtputf8=False) as sink:
        outbox = outbox_for(sink)
        outbox_id = await outbox.enqueue(reply_to("张伟@example.cn"), conversation="thread-1")
        async with outbox.running():
            [failure] = await reports.wait_for(1)
            tries = sink.greetings
            for _ in range(20):  # twenty more rounds of the sender: nothing is due any more
                await outbox.send_due()
        assert sink.greetings == tries == 1
    assert (failure.outbox_id, failure.conversation) == (outbox_id, "thread-1")
    assert "SMTPUTF8" in failure.reason
    assert sink.messages == [] and await outbox.pending() == 0
    assert await redis.llen(FAILED_KEY) == 1


async def test_a_recipient_refused_for_good_is_reported_not_retried(
    redis: Redis, outbox_for: OutboxFor, reports: Reports
) -> None:
    with SmtpSink(refuse_recipients={"gone@example.org"}) as sink:
        outbox = outbox_for(sink)
        await outbox.enqueue(reply_to("gone@example.org"), conversation="thread-2")
        async with outbox.running():
            [failure] = await reports.wait_for(1)
            for _ in range(20):
                await outbox.send_due()
        assert sink.greetings == 1
    assert failure.conversation == "thread-2" and "550" in failure.reason
    assert await outbox.pending() == 0


async def test_a_message_refused_for_good_is_reported(
    redis: Redis, smtp_sink: SmtpSink, outbox_for: OutboxFor, reports: Reports
) -> None:
    outbox = outbox_for(smtp_sink)
    smtp_sink.fail_next(1, "554 5.7.1 message rejected")
    await outbox.enqueue(reply_to("li.lei@example.org"), conversation="thread-3")
    assert await outbox.send_due() == 0
    [failure] = reports.undelivered
    assert failure.conversation == "thread-3" and failure.reason.startswith("554")
    assert await outbox.pending() == 0

"""A gateway killed while reading the mailbox: after a restart every email counts exactly once."""

from __future__ import annotations

import asyncio
import json
import signal
from email.message import EmailMessage
from email.utils import make_msgid
from typing import Any

import pytest
from redis.asyncio import Redis

from tests.e2e.conftest import start_gateway
from tests.support.mail_servers import Dovecot, MailUser, SmtpSink

# A killed gateway leaves a conversation waiting for its lease (a minute) on top of 40 emails: more than the default.
pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]
EMAILS = 40


def complaint(n: int) -> bytes:
    message = EmailMessage()
    message["From"] = f"Customer {n} <customer{n}@example.org>"
    message["To"] = "complaints@example.test"
    message["Subject"] = f"Complaint number {n}"
    message["Message-ID"] = make_msgid(domain="example.org")
    message.set_content(f"My transfer number {n} never arrived at my bank account.")
    return message.as_bytes()


async def cases_from_this_test(redis: Redis) -> list[str]:
    """The customers of cases this test made (the e2e database holds other tests' cases too)."""
    ids = [i.decode() for i in await redis.zrange("cg:cases", 0, -1)]
    emails = []
    for case_id in ids:
        raw = await redis.get(f"cg:case:{{{case_id}}}")
        email = json.loads(raw)["customer"].get("email") if raw else None
        if email and email.startswith("customer") and email.endswith("@example.org"):
            emails.append(email)
    return emails


def answered(sink: SmtpSink) -> set[str]:
    """Every customer who got a reply; a reply sent twice across the crash counts once."""
    return {sent.rcpt_tos[0] for sent in sink.messages}


def processed(mailbox: MailUser) -> int:
    try:
        return len(mailbox.list_messages("Processed"))
    except Exception:  # the gateway has not created the folder yet
        return 0


async def test_a_gateway_killed_mid_mailbox_processes_every_email_exactly_once(
    dovecot: Dovecot, mailbox: MailUser, smtp_sink: SmtpSink, e2e_redis: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    env: dict[str, Any] = {
        "IMAP_HOST": dovecot.host, "IMAP_PORT": str(dovecot.imaps_port), "IMAP_USER": mailbox.name,
        "IMAP_PASSWORD": mailbox.password, "MAIL_CA_FILE": str(dovecot.ca_file), "IMAP_POLL_SECONDS": "1",
        "SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(smtp_sink.port), "SMTP_TLS": "none",
        "MAIL_FROM": mailbox.address,
    }
    for n in range(EMAILS):
        mailbox.deliver(complaint(n))
    redis = Redis.from_url(e2e_redis)
    # Rasa is unreachable on purpose: every email gets the holding reply and a case, fast.
    first = start_gateway("mail-1", e2e_redis, "http://127.0.0.1:9", tmp_path_factory.mktemp("mail-1"), **env)
    try:
        async with asyncio.timeout(60):
            while len(await cases_from_this_test(redis)) < 3:
                await asyncio.sleep(0.05)
        first.process.send_signal(signal.SIGKILL)
        first.process.wait()
    finally:
        first.stop()
    assert processed(mailbox) < EMAILS, "the gateway was killed too late to show anything"

    second = start_gateway("mail-2", e2e_redis, "http://127.0.0.1:9", tmp_path_factory.mktemp("mail-2"), **env)
    try:
        # A conversation the killed gateway was in the middle of waits for its lease to expire (a minute), and
        # the answers it held for the email in flight wait out their grace period before the survivor sends them.
        for _ in range(1500):
            if (processed(mailbox) >= EMAILS and len(answered(smtp_sink)) >= EMAILS
                    and len(await cases_from_this_test(redis)) >= EMAILS):
                break
            await asyncio.sleep(0.2)
        else:
            pytest.fail(f"after a restart: {processed(mailbox)} of {EMAILS} emails processed, "
                        f"{len(answered(smtp_sink))} customers answered, {len(await cases_from_this_test(redis))} "
                        f"cases, {len(mailbox.list_messages())} left in INBOX")
        await asyncio.sleep(2)
    finally:
        second.stop()
    assert mailbox.list_messages("INBOX") == []
    assert sorted(await cases_from_this_test(redis)) == sorted(f"customer{n}@example.org" for n in range(EMAILS))
    replies: dict[str, set[str]] = {}
    for sent in smtp_sink.messages:
        replies.setdefault(sent.rcpt_tos[0], set()).add(sent.message["Message-ID"])
    unanswered = {f"customer{n}@example.org" for n in range(EMAILS)} - set(replies)
    assert not unanswered, f"customers never answered: {sorted(unanswered)}"
    # The mailbox is read one email at a time, so at most one was being answered when the gateway died: its
    # customer may get that answer twice (the survivor handles the recorded message again), everyone else
    # exactly one reply. A reply SMTP took just as the gateway died goes again with the same Message-ID.
    answered_twice = [customer for customer, ids in replies.items() if len(ids) > 1]
    assert len(answered_twice) <= 1, replies
    assert all(len(ids) <= 2 for ids in replies.values()), replies
    await redis.aclose()

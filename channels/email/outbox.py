"""The durable SMTP outbox: a reply is stored in Redis first and leaves by SMTP when the server takes it.

Guarantees:
- never lost: ``enqueue`` returns once the message is in Redis; a message stays there until an SMTP server
  has accepted it;
- retried with backoff (1 s, 2 s, 4 s ... up to 5 minutes) while the server is down or answers 4xx; a 5xx
  answer (to the message or to its every recipient) is final, and so is a recipient whose mailbox name is not
  ASCII when the server does not offer SMTPUTF8: the message is recorded as failed and reported once
  (``on_undelivered``), so it neither loops nor goes unnoticed;
- internationalised addresses: a domain leaves in IDNA (``zhang@xn--fsqu00a.xn--fiqs8s``); a mailbox name that
  is not ASCII (``张伟@example.cn``) leaves by SMTPUTF8 (RFC 6531), with the message's headers in UTF-8;
- sent once: a message being sent is leased to one sender (any gateway replica), and a message whose
  Message-ID is recorded as sent is never sent again. The one gap left is SMTP's own: a server that
  accepted the message but whose answer was lost (the gateway died mid-reply) gets it again.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import ssl
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from email.message import EmailMessage
from email.policy import SMTP, SMTPUTF8
from typing import Any

import aiosmtplib
from redis.asyncio import Redis
from redis.exceptions import RedisError

from store.keys import EMAIL_OUTBOX_DUE_KEY as DUE_KEY
from store.keys import EMAIL_OUTBOX_FAILED_KEY as FAILED_KEY
from store.keys import email_outbox_key as _message_key
from store.keys import email_sent_key as _sent_key
from store.scripts import register_script

log = logging.getLogger(__name__)

MAX_BACKOFF = 300.0
NO_SMTPUTF8 = ("the customer's address has a mailbox name that is not ASCII, which needs SMTPUTF8 "
               "(internationalised email), and the SMTP server does not offer it")

# Take up to ARGV[2] messages due by ARGV[1] and lease them until ARGV[3]: one sender each.
_TAKE_DUE = """
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
for _, id in ipairs(due) do redis.call('ZADD', KEYS[1], ARGV[3], id) end
return due
"""


@dataclass(frozen=True, slots=True)
class SmtpConfig:
    host: str
    port: int = 587
    username: str = ""
    password: str = ""
    tls: str = "starttls"  # "starttls", "implicit" or "none"
    ca_file: str = ""
    verify: bool = True
    timeout: float = 30.0

    def ssl_context(self) -> ssl.SSLContext:
        return tls_context(self.ca_file, self.verify)


def tls_context(ca_file: str, verify: bool) -> ssl.SSLContext:
    """TLS for the mail servers: the system's trust (or ``ca_file``), checks off only when ``verify`` is."""
    context = ssl.create_default_context(cafile=ca_file or None)
    if not verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


@dataclass(frozen=True, slots=True)
class Undelivered:
    """A message the outbox gave up on: it can never be sent as it is."""

    outbox_id: str
    conversation: str  # what the sender gave ``enqueue`` to find its conversation again ("" if nothing)
    reason: str  # the server's final answer, or why it could not be asked


OnUndelivered = Callable[[Undelivered], Awaitable[None]]


class Outbox:
    def __init__(self, redis: Redis, smtp: SmtpConfig, poll: float = 1.0,
                 on_undelivered: OnUndelivered | None = None) -> None:
        self._redis = redis
        self._smtp = smtp
        self._poll = poll
        self._on_undelivered = on_undelivered
        self._take_due = register_script(redis, _TAKE_DUE)
        self._wake = asyncio.Event()

    async def enqueue(self, message: EmailMessage, conversation: str = "") -> str:
        """Store the message for sending; its Message-ID (without brackets) is the outbox id. Its addresses
        must be as SMTP carries them (``smtp_address``); ``conversation`` comes back if it is undeliverable."""
        outbox_id = str(message["Message-ID"]).strip("<>")
        sender, recipients = _address(message["From"]), [_address(message["To"])]
        utf8 = not all(address.isascii() for address in (sender, *recipients))
        raw = message.as_bytes(policy=SMTPUTF8 if utf8 else SMTP)
        record = {"raw": raw.decode("utf-8", "surrogateescape"), "from": sender, "to": recipients,
                  "smtputf8": utf8, "conversation": conversation, "attempts": 0}
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.set(_message_key(outbox_id), json.dumps(record))
            pipe.zadd(DUE_KEY, {outbox_id: time.time()})
            await pipe.execute()
        self._wake.set()
        return outbox_id

    async def pending(self) -> int:
        return int(await self._redis.zcard(DUE_KEY))

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        sender = asyncio.create_task(self._send_forever())
        try:
            yield
        finally:
            sender.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sender

    async def _send_forever(self) -> None:
        while True:
            try:
                await self.send_due()
            except Exception:  # a bug or Redis outage must not end the sender for good
                log.exception("email outbox: sending failed; retrying")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._poll)
            self._wake.clear()

    async def send_due(self) -> int:
        """Send what is due now; how many messages left the outbox."""
        now = time.time()
        # Leased for longer than one SMTP attempt can take; a sender that died frees its messages then.
        lease = now + self._smtp.timeout * 1.5
        due = await self._take_due(keys=[DUE_KEY], args=[now, 20, lease])
        sent = 0
        for raw_id in due:
            sent += await self._send_one(raw_id.decode() if isinstance(raw_id, bytes) else str(raw_id))
        return sent

    async def _send_one(self, outbox_id: str) -> int:
        if await self._redis.exists(_sent_key(outbox_id)):
            await self._forget(outbox_id)
            return 0
        raw = await self._redis.get(_message_key(outbox_id))
        if raw is None:
            await self._redis.zrem(DUE_KEY, outbox_id)
            return 0
        record = json.loads(raw)
        try:
            await self._deliver(record)
        except aiosmtplib.SMTPNotSupported as exc:
            if record.get("smtputf8") and "SMTPUTF8" in str(exc):  # the server will not change its mind
                await self._give_up(outbox_id, record, NO_SMTPUTF8)
            else:
                await self._retry_later(outbox_id, record, type(exc).__name__)
            return 0
        except (aiosmtplib.SMTPResponseException, aiosmtplib.SMTPRecipientsRefused) as exc:
            code, answer = _final_answer(exc)
            if 500 <= code < 600:
                await self._give_up(outbox_id, record, answer)
                return 0
            await self._retry_later(outbox_id, record, answer)
            return 0
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            await self._retry_later(outbox_id, record, type(exc).__name__)
            return 0
        await self._redis.set(_sent_key(outbox_id), str(time.time()), ex=400 * 24 * 3600)
        await self._forget(outbox_id)
        return 1

    async def _deliver(self, record: dict[str, Any]) -> None:
        smtp = self._smtp
        await aiosmtplib.send(
            record["raw"].encode("utf-8", "surrogateescape"), sender=record["from"], recipients=record["to"],
            hostname=smtp.host, port=smtp.port, timeout=smtp.timeout,
            username=smtp.username or None, password=smtp.password or None,
            mail_options=["SMTPUTF8"] if record.get("smtputf8") else None,
            use_tls=smtp.tls == "implicit", start_tls=smtp.tls == "starttls",
            tls_context=smtp.ssl_context() if smtp.tls != "none" else None,
        )

    async def _retry_later(self, outbox_id: str, record: dict[str, object], reason: str) -> None:
        attempts = int(str(record.get("attempts", 0))) + 1
        record.update(attempts=attempts, last_error=reason)
        delay = min(2.0 ** (attempts - 1), MAX_BACKOFF)
        log.warning("email outbox: SMTP not available (%s); retry %d in %.0fs", reason, attempts, delay)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.set(_message_key(outbox_id), json.dumps(record))
            pipe.zadd(DUE_KEY, {outbox_id: time.time() + delay})
            await pipe.execute()

    async def _give_up(self, outbox_id: str, record: dict[str, object], reason: str) -> None:
        log.error("email outbox: a message cannot be delivered (%s)", reason)
        # Reported before it leaves the outbox: if reporting fails (Redis gone), the message comes back after
        # its lease and is reported then; the receiver ignores a second report of the same message.
        await self._report(Undelivered(outbox_id, str(record.get("conversation") or ""), reason))
        record.update(failed=reason)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.rpush(FAILED_KEY, json.dumps({"id": outbox_id, **record}))
            pipe.delete(_message_key(outbox_id))
            pipe.zrem(DUE_KEY, outbox_id)
            await pipe.execute()

    async def _report(self, failure: Undelivered) -> None:
        if self._on_undelivered is None:
            return
        try:
            await self._on_undelivered(failure)
        except RedisError:
            raise
        except Exception:  # a bug in the report must not keep the message coming back
            log.exception("email outbox: could not report an undeliverable message")

    async def _forget(self, outbox_id: str) -> None:
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.delete(_message_key(outbox_id))
            pipe.zrem(DUE_KEY, outbox_id)
            await pipe.execute()


def smtp_address(address: str) -> str:
    """The address as SMTP carries it: an internationalised domain in IDNA (A-labels), the mailbox name as
    written (one that is not ASCII needs SMTPUTF8). ValueError if the domain cannot be written in IDNA."""
    mailbox, at, domain = address.rpartition("@")
    if not at or domain.isascii():
        return address
    try:
        return f"{mailbox}@{domain.encode('idna').decode('ascii')}"
    except UnicodeError as exc:
        raise ValueError(f"the address's domain is not a valid internationalised domain name ({exc})") from None


def _final_answer(exc: aiosmtplib.SMTPResponseException | aiosmtplib.SMTPRecipientsRefused) -> tuple[int, str]:
    """The SMTP code and answer that decide a failed send: for refused recipients, the mildest refusal (a
    message one of them may still take later is retried)."""
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        answers = [(refusal.code, refusal.message) for refusal in exc.recipients] or [(0, "no recipient")]
        code, message = min(answers)
    else:
        code, message = exc.code, exc.message
    return code, f"{code} {message}"


def _address(header: object) -> str:
    """The bare address of a From/To header (an email.headerregistry header, or text)."""
    addresses = getattr(header, "addresses", None)
    if addresses:
        return str(addresses[0].addr_spec)
    return str(header).strip()

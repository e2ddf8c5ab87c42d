"""The durable SMTP outbox: a reply is stored in Redis first and leaves by SMTP when the server takes it.

Guarantees:
- never lost: ``enqueue`` returns once the message is in Redis; a message stays there until an SMTP server
  has accepted it;
- retried with backoff (1 s, 2 s, 4 s ... up to 5 minutes) while the server is down or answers 4xx; a 5xx
  answer is final and recorded as failed, so a refused message does not loop;
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
from collections.abc import AsyncIterator
from dataclasses import dataclass
from email.message import EmailMessage
from email.policy import SMTP
from typing import Any

import aiosmtplib
from redis.asyncio import Redis

log = logging.getLogger(__name__)

DUE_KEY = "cg:email:outbox:due"
MAX_BACKOFF = 300.0

# Take up to ARGV[2] messages due by ARGV[1] and lease them until ARGV[3]: one sender each.
_TAKE_DUE = """
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
for _, id in ipairs(due) do redis.call('ZADD', KEYS[1], ARGV[3], id) end
return due
"""


def _message_key(outbox_id: str) -> str:
    return f"cg:email:outbox:{{{outbox_id}}}"


def _sent_key(outbox_id: str) -> str:
    return f"cg:email:sent:{{{outbox_id}}}"


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
        context = ssl.create_default_context(cafile=self.ca_file or None)
        if not self.verify:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        return context


class Outbox:
    def __init__(self, redis: Redis, smtp: SmtpConfig, poll: float = 1.0) -> None:
        self._redis = redis
        self._smtp = smtp
        self._poll = poll
        self._take_due = redis.register_script(_TAKE_DUE)
        self._wake = asyncio.Event()

    async def enqueue(self, message: EmailMessage) -> str:
        """Store the message for sending; its Message-ID (without brackets) is the outbox id."""
        outbox_id = str(message["Message-ID"]).strip("<>")
        record = {"raw": message.as_bytes(policy=SMTP).decode("utf-8", "surrogateescape"),
                  "from": _address(message["From"]), "to": [_address(message["To"])], "attempts": 0}
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
        except aiosmtplib.SMTPResponseException as exc:
            if 500 <= exc.code < 600:
                await self._give_up(outbox_id, record, f"{exc.code} {exc.message}")
                return 0
            await self._retry_later(outbox_id, record, f"{exc.code} {exc.message}")
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
        log.error("email outbox: the SMTP server refused a message for good (%s)", reason)
        record.update(failed=reason)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.rpush("cg:email:outbox:failed", json.dumps({"id": outbox_id, **record}))
            pipe.delete(_message_key(outbox_id))
            pipe.zrem(DUE_KEY, outbox_id)
            await pipe.execute()

    async def _forget(self, outbox_id: str) -> None:
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.delete(_message_key(outbox_id))
            pipe.zrem(DUE_KEY, outbox_id)
            await pipe.execute()


def _address(header: object) -> str:
    """The bare address of a From/To header (an email.headerregistry header, or text)."""
    addresses = getattr(header, "addresses", None)
    if addresses:
        return str(addresses[0].addr_spec)
    return str(header).strip()

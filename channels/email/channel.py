"""Email: complaints read from an IMAP mailbox, answered by SMTP in the customer's thread.

Guarantees:
- one gateway replica reads a mailbox at a time (a lease in Redis, renewed while it works); another takes
  over within a lease period when that one dies;
- a message is moved out of the inbox (to ``Processed``) only after it is recorded; a gateway killed in
  between finds it again and the router's Message-ID deduplication makes it count once; UIDVALIDITY and
  the last UID done are kept, so a restart neither skips nor repeats;
- a message whose handling fails is moved to ``Quarantine`` with the reason recorded, and the next one is
  read as usual; parsing itself never fails (channels.email.parse) and runs in an executor;
- machines are never answered: auto-replies, bounces, delay notices, abuse reports and read receipts are
  recorded (on the case they concern, when there is one), cause no bot turn and no reply; at most
  ``auto_replies_per_day`` automatic replies go to one address a day, whatever happens;
- replies carry Message-ID, In-Reply-To, References and the case tag in the subject; automatic ones carry
  ``Auto-Submitted: auto-replied`` and ``X-Auto-Response-Suppress: All``; all go through the durable
  outbox (channels.email.outbox). The bot's questions about one email leave as one email;
- every customer can be answered: an internationalised address goes out as SMTP carries it (IDNA domain,
  SMTPUTF8 for a mailbox name that is not ASCII), and what a customer wrote reaches a header only on one line
  (no line or paragraph separator, no control character), so it can neither break the reply nor add a header;
- a reply that can never leave (a mailbox name that is not ASCII and a server without SMTPUTF8, a final
  refusal, an address no one can write) puts the conversation on the desk: a case, if it had none, and a note
  on it saying why, once; the reply is not retried.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import html
import json
import logging
import re
import secrets
import ssl
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

import aioimaplib
from aiohttp import web
from redis.asyncio import Redis
from redis.exceptions import RedisError

from channels.base import Capabilities, ChannelInfo, Inbox, needs_text
from channels.email.outbox import Outbox, SmtpConfig, Undelivered, smtp_address, tls_context
from channels.email.parse import DEFAULT_MAX_ATTACHMENT_BYTES, ParsedEmail, normalize_subject, parse
from channels.email.threads import EmailThreads, Thread
from channels.held_answers import HeldAnswers, send_orphans_forever
from channels.message import Attachment, Contact, InboundMessage, OutboundMessage
from channels.settings import not_negative, port_setting, positive, setting
from store.keys import (
    EMAIL_MACHINE_KEY,
    EMAIL_QUARANTINED_KEY,
    attachment_key,
    email_auto_replies_key,
    email_case_key,
    email_lease_key,
    email_mailbox_key,
    email_message_key,
    email_quarantine_key,
)
from store.lease import Lease

log = logging.getLogger(__name__)

LEASE_MS = 30_000
IDLE_SECONDS = 10.0
ATTACHMENT_HOLD_SECONDS = 30 * 24 * 3600
_UIDVALIDITY = re.compile(rb"UIDVALIDITY (\d+)")
_FETCH_UID = re.compile(rb"UID (\d+)")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
# A message id a reply can name as it is: printable ASCII without "<" and ">" (a customer's id with a line
# separator or other oddities in it is left out of In-Reply-To and References rather than break the header).
_MESSAGE_ID = re.compile(r"[\x21-\x3b\x3d\x3f-\x7e]+")


@dataclass(frozen=True, slots=True)
class ImapConfig:
    host: str
    port: int = 993
    username: str = ""
    password: str = ""
    tls: str = "implicit"  # "implicit", "starttls" or "none" (loopback tests only)
    ca_file: str = ""
    verify: bool = True
    poll_seconds: float = 30.0
    timeout: float = 30.0
    inbox: str = "INBOX"
    processed: str = "Processed"
    quarantine: str = "Quarantine"

    def ssl_context(self) -> ssl.SSLContext:
        return tls_context(self.ca_file, self.verify)


@dataclass(frozen=True, slots=True)
class EmailConfig:
    imap: ImapConfig
    smtp: SmtpConfig
    mail_from: str
    from_name: str = "Complaints desk / 投诉服务"
    own_addresses: tuple[str, ...] = ()
    auto_replies_per_day: int = 5
    max_attachment_bytes: int = DEFAULT_MAX_ATTACHMENT_BYTES
    reply_wait: float = 20.0
    replica: str = field(default_factory=lambda: secrets.token_hex(6))


@dataclass(frozen=True)
class EmailSettings:
    imap_host: str = setting("IMAP_HOST", "")
    imap_port: int = port_setting("IMAP_PORT", 993)
    imap_user: str = setting("IMAP_USER", "")
    imap_password: str = setting("IMAP_PASSWORD", "", secret=True)
    imap_tls: str = setting("IMAP_TLS", "implicit", choices=("implicit", "starttls"))
    imap_poll_seconds: float = positive("IMAP_POLL_SECONDS", 30.0)
    smtp_host: str = setting("SMTP_HOST", "")
    smtp_port: int = port_setting("SMTP_PORT", 587)
    smtp_user: str = setting("SMTP_USER", "")
    smtp_password: str = setting("SMTP_PASSWORD", "", secret=True)
    # "none" is for a relay on the same machine or network segment (and the tests' loopback sink).
    smtp_tls: str = setting("SMTP_TLS", "starttls", choices=("starttls", "implicit", "none"))
    mail_from: str = setting("MAIL_FROM", "")
    mail_ca_file: str = setting("MAIL_CA_FILE", "", file=True)
    mail_verify_tls: bool = setting("MAIL_VERIFY_TLS", True)
    email_auto_replies_per_day: int = not_negative("EMAIL_AUTO_REPLIES_PER_DAY", 5)
    email_max_attachment_bytes: int = not_negative("EMAIL_MAX_ATTACHMENT_BYTES", DEFAULT_MAX_ATTACHMENT_BYTES)


def email_config(settings: EmailSettings) -> EmailConfig:
    verify, ca_file = settings.mail_verify_tls, settings.mail_ca_file
    imap = ImapConfig(settings.imap_host, settings.imap_port, settings.imap_user, settings.imap_password,
                      settings.imap_tls, ca_file, verify, settings.imap_poll_seconds)
    smtp = SmtpConfig(settings.smtp_host, settings.smtp_port, settings.smtp_user, settings.smtp_password,
                      settings.smtp_tls, ca_file, verify)
    return EmailConfig(imap, smtp, settings.mail_from, auto_replies_per_day=settings.email_auto_replies_per_day,
                       max_attachment_bytes=settings.email_max_attachment_bytes)


class ImapError(Exception):
    pass


class EmailChannel:
    name = "email"
    info = ChannelInfo(name, "电子邮件", "email", needs=("IMAP_HOST", "IMAP_USER", "SMTP_HOST", "MAIL_FROM"),
                       capabilities=Capabilities(survey=True))

    @classmethod
    def from_settings(cls, settings: EmailSettings) -> EmailChannel | str:
        if not (settings.imap_host and settings.imap_user and settings.smtp_host and settings.mail_from):
            return needs_text(cls.info)
        return cls(email_config(settings))

    def __init__(self, config: EmailConfig) -> None:
        self._config = config
        self._redis: Redis | None = None
        self._lease: Lease | None = None
        self._inbox: Inbox | None = None
        self._threads: EmailThreads | None = None
        self._outbox: Outbox | None = None
        self._held: HeldAnswers | None = None
        mailbox = f"{config.imap.username}@{config.imap.host}:{config.imap.port}"
        self._mailbox_key = hashlib.sha256(mailbox.encode()).hexdigest()[:16]

    def routes(self) -> Iterable[web.AbstractRouteDef]:
        return []

    @contextlib.asynccontextmanager
    async def running(self, redis: Redis, inbox: Inbox) -> AsyncIterator[None]:
        self._redis, self._inbox = redis, inbox
        self._lease = Lease(redis, email_lease_key(self._mailbox_key), self._config.replica, LEASE_MS)
        own = (self._config.mail_from, self._config.imap.username, *self._config.own_addresses)
        self._threads = EmailThreads(redis, own)
        self._outbox = Outbox(redis, self._config.smtp, on_undelivered=self._undelivered)
        # The answers to an email go out as one reply; if the gateway dies first, another replica sends them.
        self._held = held = HeldAnswers(redis, self.name, self._config.reply_wait)
        async with self._outbox.running():
            tasks = [asyncio.create_task(self._read_forever()),
                     asyncio.create_task(send_orphans_forever(held, self._mail_answers))]
            try:
                yield
            finally:
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
                with contextlib.suppress(RedisError):
                    await self._require_lease().release()

    # ------------------------------------------------------------------------------------------ out

    async def send(self, message: OutboundMessage) -> None:
        if self._held is not None and await self._held.add(message):
            return  # it joins the other answers to that email in one reply
        await self._mail(message.conversation_key, [message])

    async def _mail_answers(self, answers: list[OutboundMessage]) -> None:
        await self._mail(answers[0].conversation_key, answers)

    async def _mail(self, key: str, answers: list[OutboundMessage]) -> None:
        """Send the answers to one email as one reply in its thread."""
        threads, outbox = self._ready()
        for answer in answers:
            if answer.case_id:
                await threads.note_case(key, answer.case_id)
        texts = [a.text for a in answers if a.text]
        thread = await threads.get(key)
        if not texts or thread is None:
            return
        automatic = all(a.automatic for a in answers)
        if automatic and not await self._may_auto_reply(thread.contact):
            log.warning("email: automatic reply suppressed (daily limit for one address reached)")
            return
        try:
            message = self._compose(thread, "\n\n".join(texts), automatic)
            await outbox.enqueue(message, conversation=key)
        except ValueError as exc:  # no SMTP form of the customer's address (or of the text): never sendable
            log.warning("email: a reply cannot be written (%s)", type(exc).__name__)
            await self._undelivered(Undelivered(make_msgid().strip("<>"), key, str(exc)))
            return
        await threads.remember_outbound(key, str(message["Message-ID"]).strip("<>"))

    def _compose(self, thread: Thread, text: str, automatic: bool) -> EmailMessage:
        config = self._config
        sender = _mailbox(config.from_name, config.mail_from)
        message = EmailMessage()
        message["From"] = sender
        message["To"] = _mailbox(thread.contact_name, thread.contact)
        subject = normalize_subject(_one_line(thread.subject)) or "Your complaint / 您的投诉"
        tag = f"[{thread.case_id}]" if thread.case_id else ""
        message["Subject"] = f"Re: {subject}" + (f" {tag}" if tag and tag not in subject else "")
        message["Message-ID"] = make_msgid(domain=sender.domain or None)
        message["Date"] = format_datetime(datetime.now(UTC))
        if _MESSAGE_ID.fullmatch(thread.last_message_id):
            message["In-Reply-To"] = f"<{thread.last_message_id}>"
        if references := [r for r in thread.references if _MESSAGE_ID.fullmatch(r)]:
            message["References"] = " ".join(f"<{r}>" for r in references)
        if automatic:
            message["Auto-Submitted"] = "auto-replied"
            message["X-Auto-Response-Suppress"] = "All"
        message.set_content(text, charset="utf-8")
        paragraphs = "".join(f"<p>{html.escape(p).replace(chr(10), '<br>')}</p>" for p in text.split("\n\n"))
        message.add_alternative(f"<!doctype html><html><body>{paragraphs}</body></html>", subtype="html",
                                charset="utf-8")
        return message

    async def _undelivered(self, failure: Undelivered) -> None:
        """A reply that can never leave: the conversation goes on the desk with the reason, said once."""
        if not failure.conversation:
            return
        threads, _ = self._ready()
        thread = await threads.get(failure.conversation)
        contact, name = (thread.contact, thread.contact_name) if thread else ("", "")
        note = (f"The email reply could not be sent to {contact or 'the customer'}: {failure.reason}. "
                f"Please reach the customer another way, such as a phone call. / "
                f"邮件答复无法发送至{contact or '客户'}，请通过电话等其他方式联系客户。")
        inbox = self._require_inbox()
        # The note first: without a case yet, it joins the transcript the case is opened from.
        for command in ("note", "handoff"):
            await inbox.receive(InboundMessage(
                channel=self.name, conversation_key=failure.conversation,
                message_id=f"undelivered-{command}:{failure.outbox_id}", text=note if command == "note" else "",
                contact=Contact(name=name or None, email=contact or None),
                command=command))

    async def _may_auto_reply(self, address: str) -> bool:
        redis = self._require_redis()
        key = email_auto_replies_key(address, datetime.now(UTC))
        async with redis.pipeline(transaction=True) as pipe:
            pipe.incr(key)
            pipe.expire(key, 2 * 24 * 3600)
            count, _ = await pipe.execute()
        return int(count) <= self._config.auto_replies_per_day

    # ------------------------------------------------------------------------------------------- in

    async def _read_forever(self) -> None:
        backoff = 1.0
        while True:
            try:
                if await self._require_lease().take():
                    await self._read_mailbox()
                    backoff = 1.0
                else:
                    await asyncio.sleep(LEASE_MS / 3000)
            except asyncio.CancelledError:
                raise
            except (ImapError, aioimaplib.Abort, OSError, TimeoutError, RedisError) as exc:
                log.warning("email: mailbox unavailable (%s); retrying in %.0fs", type(exc).__name__, backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 60.0)

    async def _read_mailbox(self) -> None:
        imap = await self._connect()
        try:
            await self._ensure_folders(imap)
            idle = imap.has_capability("IDLE")
            while await self._require_lease().renew():
                await self._read_new(imap)
                if idle:
                    await self._idle(imap)
                else:
                    await asyncio.sleep(min(self._config.imap.poll_seconds, LEASE_MS / 3000))
        finally:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(imap.logout(), 5)

    async def _connect(self) -> aioimaplib.IMAP4:
        config = self._config.imap
        if config.tls == "implicit":
            imap: aioimaplib.IMAP4 = aioimaplib.IMAP4_SSL(config.host, config.port, timeout=config.timeout,
                                                          ssl_context=config.ssl_context())
        else:
            imap = aioimaplib.IMAP4(config.host, config.port, timeout=config.timeout)
        await imap.wait_hello_from_server()
        if config.tls == "starttls":
            await _starttls(imap, config)
        response = await imap.login(config.username, config.password)
        _check(response, "LOGIN")
        return imap

    async def _ensure_folders(self, imap: aioimaplib.IMAP4) -> None:
        for folder in (self._config.imap.processed, self._config.imap.quarantine):
            await imap.create(folder)  # answers NO when it exists already: fine

    async def _idle(self, imap: aioimaplib.IMAP4) -> None:
        """Wait for the server to announce new mail, or ``IDLE_SECONDS`` (to renew the lease)."""
        idle = await imap.idle_start(timeout=IDLE_SECONDS)
        with contextlib.suppress(TimeoutError):
            await imap.wait_server_push(timeout=IDLE_SECONDS + 1)
        imap.idle_done()
        await asyncio.wait_for(idle, self._config.imap.timeout)

    async def _read_new(self, imap: aioimaplib.IMAP4) -> None:
        config, redis = self._config.imap, self._require_redis()
        selected = await imap.select(config.inbox)
        _check(selected, "SELECT")
        validity = _first_int(_UIDVALIDITY, selected.lines)
        state_key = email_mailbox_key(self._mailbox_key)
        known = await redis.hget(state_key, "uidvalidity")
        if known is None or int(known) != validity:
            # A new UIDVALIDITY renumbers everything: start over; Message-IDs stop any repeat.
            await redis.hset(state_key, mapping={"uidvalidity": str(validity), "last_uid": "0"})
        last = int(await redis.hget(state_key, "last_uid") or 0)
        found = await imap.uid_search(f"UID {last + 1}:*")
        _check(found, "SEARCH")
        uids = sorted(int(u) for line in found.lines[:-1] for u in line.split() if u.isdigit() and int(u) > last)
        for uid in uids:
            if not await self._require_lease().renew():
                return
            await self._read_one(imap, uid)
            await redis.hset(state_key, "last_uid", str(uid))

    async def _read_one(self, imap: aioimaplib.IMAP4, uid: int) -> None:
        raw = await self._fetch(imap, uid)
        loop = asyncio.get_running_loop()
        limit = self._config.max_attachment_bytes
        parsed = await loop.run_in_executor(None, lambda: parse(raw, max_attachment_bytes=limit))
        try:
            await self._take(parsed, raw)
        except (RedisError, asyncio.CancelledError):
            raise  # not the message's fault: leave it in the inbox for the next round
        except Exception as exc:
            log.exception("email: quarantining a message that could not be handled")
            await self._quarantine(raw, parsed, f"{type(exc).__name__}: {exc}")
            await self._move(imap, uid, self._config.imap.quarantine)
            return
        await self._move(imap, uid, self._config.imap.processed)

    async def _fetch(self, imap: aioimaplib.IMAP4, uid: int) -> bytes:
        response = await imap.uid("fetch", str(uid), "(BODY.PEEK[])")
        _check(response, "FETCH")
        literals = [bytes(line) for line in response.lines if isinstance(line, bytearray)]
        if not literals:
            raise ImapError(f"FETCH of UID {uid} returned no message")
        return literals[0]

    async def _move(self, imap: aioimaplib.IMAP4, uid: int, folder: str) -> None:
        if imap.has_capability("MOVE"):
            _check(await imap.uid("move", str(uid), folder), "MOVE")
            return
        _check(await imap.uid("copy", str(uid), folder), "COPY")
        _check(await imap.uid("store", str(uid), "+FLAGS", r"(\Deleted \Seen)"), "STORE")
        _check(await imap.expunge(), "EXPUNGE")

    async def _take(self, parsed: ParsedEmail, raw: bytes) -> None:
        """Record one email: a customer's goes to the router; a machine's goes on the record only."""
        threads, _ = self._ready()
        if threads.is_own(parsed.from_address):
            await self._note("own", parsed)
            return
        if parsed.kind != "customer":
            await self._note(parsed.kind, parsed)
            return
        inbox = self._require_inbox()
        key = await threads.place(parsed, self._is_open)
        new_thread = await threads.get(key) is None
        await threads.remember_inbound(key, parsed)
        message = InboundMessage(
            channel=self.name, conversation_key=key, message_id=parsed.message_id,
            text=_words_for_bot(parsed, new_thread), received_at=parsed.date or datetime.now(UTC),
            contact=Contact(name=parsed.from_name or None, email=parsed.from_address or None),
            attachments=tuple(await self._keep_attachments(parsed)),
        )
        assert self._held is not None
        answers = await self._held.answers_to(inbox, message)
        if answers:
            await self._mail(key, answers)

    async def _is_open(self, key: str) -> bool:
        threads, _ = self._ready()
        thread = await threads.get(key)
        if thread is None:
            return False
        return thread.case_id is None or await self._require_inbox().case_of(f"{self.name}:{key}") is not None

    async def _keep_attachments(self, parsed: ParsedEmail) -> list[Attachment]:
        """Attachment metadata on the message; their content (up to the limit) in Redis, by digest, until the
        system of record takes it with the case."""
        redis = self._require_redis()
        kept = []
        for part in parsed.attachments:
            digest = hashlib.sha256(part.content).hexdigest()
            # Until the record keeps it (it takes it with the case, then drops this copy); never for ever.
            await redis.set(attachment_key(digest), part.content, nx=True, ex=ATTACHMENT_HOLD_SECONDS)
            kept.append(Attachment(name=part.name, content_type=part.content_type, size=part.size,
                                   url=f"attachment:{digest}"))
        return kept

    async def _note(self, kind: str, parsed: ParsedEmail) -> None:
        """Put a machine's message (or our own) on the record, and on the case it concerns, if any."""
        summary = _machine_summary(kind, parsed)
        record = {"kind": kind, "message_id": parsed.message_id, "summary": summary,
                  "at": datetime.now(UTC).isoformat()}
        await self._require_redis().rpush(EMAIL_MACHINE_KEY, json.dumps(record, ensure_ascii=False))
        if kind == "own":
            return
        key = await self._thread_named(parsed)
        if key is None:
            return
        note = InboundMessage(channel=self.name, conversation_key=key, message_id=parsed.message_id,
                              text=summary, command="note")
        await self._require_inbox().receive(note)

    async def _thread_named(self, parsed: ParsedEmail) -> str | None:
        refs = [parsed.report.original_message_id] if parsed.report and parsed.report.original_message_id else []
        for candidate in (*refs, parsed.in_reply_to, *parsed.references):
            if not candidate:
                continue
            key = await self._require_redis().get(email_message_key(candidate))
            if key:
                return str(key.decode())
        if parsed.case_tag:
            key = await self._require_redis().get(email_case_key(parsed.case_tag))
            return key.decode() if key else None
        return None

    async def _quarantine(self, raw: bytes, parsed: ParsedEmail, reason: str) -> None:
        record = {"message_id": parsed.message_id, "reason": reason, "size": len(raw),
                  "at": datetime.now(UTC).isoformat()}
        redis = self._require_redis()
        async with redis.pipeline(transaction=True) as pipe:
            pipe.hset(email_quarantine_key(parsed.message_id), mapping={**record, "raw": raw})
            pipe.rpush(EMAIL_QUARANTINED_KEY, parsed.message_id)
            await pipe.execute()

    # -------------------------------------------------------------------------------------- helpers

    def _ready(self) -> tuple[EmailThreads, Outbox]:
        if self._threads is None or self._outbox is None:
            raise RuntimeError("email used before the app started")
        return self._threads, self._outbox

    def _require_redis(self) -> Redis:
        if self._redis is None:
            raise RuntimeError("email used before the app started")
        return self._redis

    def _require_lease(self) -> Lease:
        if self._lease is None:
            raise RuntimeError("email used before the app started")
        return self._lease

    def _require_inbox(self) -> Inbox:
        if self._inbox is None:
            raise RuntimeError("email used before the app started")
        return self._inbox


async def _starttls(imap: aioimaplib.IMAP4, config: ImapConfig) -> None:
    """Upgrade a plain IMAP connection to TLS (RFC 2595), which aioimaplib does not do itself."""
    protocol = imap.protocol
    response = await protocol.execute(aioimaplib.Command("STARTTLS", protocol.new_tag()))
    _check(response, "STARTTLS")
    loop = asyncio.get_running_loop()
    transport = await loop.start_tls(protocol.transport, protocol, config.ssl_context(),
                                     server_hostname=config.host)
    if transport is None:
        raise ImapError("STARTTLS: the TLS handshake did not complete")
    protocol.transport = transport
    await protocol.capability()


def _check(response: aioimaplib.Response, command: str) -> None:
    if response.result != "OK":
        detail = b" ".join(line for line in response.lines if isinstance(line, bytes))[:200]
        raise ImapError(f"{command} failed: {response.result} {detail.decode(errors='replace')}")


def _first_int(pattern: re.Pattern[bytes], lines: list[bytes]) -> int:
    for line in lines:
        if isinstance(line, bytes) and (found := pattern.search(line)):
            return int(found.group(1))
    raise ImapError("the server did not say the mailbox's UIDVALIDITY")


def _mailbox(name: str, address: str) -> Address:
    """A From or To of a reply: the name on one line, the address as SMTP carries it (the outbox sees that a
    mailbox name that is not ASCII needs SMTPUTF8)."""
    username, at, domain = smtp_address(address).rpartition("@")
    return Address(_one_line(name), username=username, domain=domain) if at else Address(_one_line(name), address)


def _one_line(text: str) -> str:
    """Text for a header: one line, whatever separators (CR, LF, NEL, U+2028, U+2029 ...) or control
    characters it held, so that it can neither break the message nor start a header of its own."""
    return " ".join(_CONTROL.sub(" ", text).split())


def _words_for_bot(parsed: ParsedEmail, new_thread: bool) -> str:
    """What the customer wrote, for the bot: the new text (no quotes, no signature), with the subject
    of a first email, which often says what it is about."""
    body = (parsed.new_text or parsed.reply_text or parsed.text).strip()
    if new_thread and parsed.normalized_subject:
        return f"{parsed.normalized_subject}\n{body}".strip()
    return body or parsed.subject


def _machine_summary(kind: str, parsed: ParsedEmail) -> str:
    report = parsed.report
    detail = ""
    if report is not None and report.status:
        detail = f" status {report.status}"
    return f"[{kind}] {parsed.normalized_subject or parsed.subject}{detail}".strip()

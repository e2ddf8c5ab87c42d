"""Which conversation an email belongs to, and how to reply in its thread.

Rules, in order:
1. Mail from the gateway's own addresses is never a customer's (the caller drops it).
2. A reply joins the conversation its In-Reply-To/References name (any message of the thread, ours or the
   customer's), or the one its subject's case tag ``[C-...]`` names, only when the sender is that
   conversation's contact or was among its recipients; a stranger replying to a thread starts their own.
3. A customer's next email while their last conversation is still open (an intake, or a case not yet
   closed) joins it.
4. Anything else starts a new intake, keyed by the email's own Message-ID.

Every message id of a thread (in and out) is remembered, so a reply to any of them finds the thread.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass

from redis.asyncio import Redis

from channels.email.mime import readable_address
from channels.email.parse import ParsedEmail
from store.keys import email_case_key as _case_key
from store.keys import email_latest_key as _latest_key
from store.keys import email_message_key as _message_key
from store.keys import email_thread_key as _thread_key

MEMORY_SECONDS = 400 * 24 * 3600
LATEST_SECONDS = 30 * 24 * 3600  # a customer's next email joins their open intake within this
MAX_REFERENCES = 20
IsOpen = Callable[[str], Awaitable[bool]]


@dataclass(frozen=True, slots=True)
class Thread:
    key: str
    contact: str
    contact_name: str
    subject: str
    last_message_id: str
    references: tuple[str, ...]
    participants: tuple[str, ...]
    case_id: str | None


def thread_key_for(message_id: str) -> str:
    """A conversation key from a Message-ID: short, stable, and free of the customer's address."""
    return hashlib.sha256(message_id.lower().encode()).hexdigest()[:24]


class EmailThreads:
    def __init__(self, redis: Redis, own_addresses: Iterable[str]) -> None:
        self._redis = redis
        # Compared in the form mail is read in (channels.email.parse): an IDNA domain in its own script.
        self._own = {readable_address(a).lower() for a in own_addresses if a}

    def is_own(self, address: str) -> bool:
        return address.lower() in self._own

    async def place(self, email: ParsedEmail, is_open: IsOpen) -> str:
        """The conversation key this customer email belongs to (an existing one, or a new one)."""
        sender = email.from_address.lower()
        for candidate in await self._named_threads(email):
            thread = await self.get(candidate)
            if thread and (sender == thread.contact or sender in thread.participants):
                return candidate
        raw: bytes | None = await self._redis.get(_latest_key(sender))
        latest = raw.decode() if raw else None
        if latest and await is_open(latest):
            return latest
        return thread_key_for(email.message_id)

    async def _named_threads(self, email: ParsedEmail) -> list[str]:
        ids = [m for m in (email.in_reply_to, *reversed(email.references)) if m]
        # One GET each, not MGET: the Message-IDs' keys lie in many Redis Cluster slots.
        async with self._redis.pipeline(transaction=False) as pipe:
            for message_id in ids:
                pipe.get(_message_key(message_id))
            found = [k.decode() for k in await pipe.execute() if k]
        if email.case_tag:
            tagged = await self._redis.get(_case_key(email.case_tag))
            if tagged:
                found.append(tagged.decode())
        return list(dict.fromkeys(found))

    async def remember_inbound(self, key: str, email: ParsedEmail) -> None:
        """Record the email as the thread's latest word from the customer."""
        thread = await self.get(key)
        sender = email.from_address.lower()
        recipients = {a.address.lower() for a in (*email.to, *email.cc) if a.address}
        participants = sorted((set(thread.participants) if thread else set()) | (recipients - self._own))
        references = [*(thread.references if thread else ()), email.message_id][-MAX_REFERENCES:]
        fields = {
            "contact": thread.contact if thread else sender,
            "contact_name": thread.contact_name if thread else email.from_name,
            "subject": thread.subject if thread else (email.normalized_subject or email.subject),
            "last_message_id": email.message_id,
            "references": json.dumps(references),
            "participants": json.dumps(participants),
        }
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.hset(_thread_key(key), mapping=fields)
            pipe.expire(_thread_key(key), MEMORY_SECONDS)
            pipe.set(_message_key(email.message_id), key, ex=MEMORY_SECONDS)
            if not thread or sender == thread.contact:
                pipe.set(_latest_key(sender), key, ex=LATEST_SECONDS)
            await pipe.execute()

    async def remember_outbound(self, key: str, message_id: str) -> None:
        thread = await self.get(key)
        references = [*(thread.references if thread else ()), message_id][-MAX_REFERENCES:]
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.set(_message_key(message_id), key, ex=MEMORY_SECONDS)
            pipe.hset(_thread_key(key), "references", json.dumps(references))
            await pipe.execute()

    async def note_case(self, key: str, case_id: str) -> None:
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.hset(_thread_key(key), "case_id", case_id)
            pipe.set(_case_key(case_id), key, ex=MEMORY_SECONDS)
            await pipe.execute()

    async def get(self, key: str) -> Thread | None:
        raw = {k.decode(): v.decode() for k, v in (await self._redis.hgetall(_thread_key(key))).items()}
        if "contact" not in raw:
            return None
        return Thread(
            key=key,
            contact=raw["contact"],
            contact_name=raw.get("contact_name", ""),
            subject=raw.get("subject", ""),
            last_message_id=raw.get("last_message_id", ""),
            references=tuple(json.loads(raw.get("references", "[]"))),
            participants=tuple(json.loads(raw.get("participants", "[]"))),
            case_id=raw.get("case_id") or None,
        )

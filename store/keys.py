"""Every Redis key (and pub/sub channel) the project uses, by family: what it holds and its Redis type.

The names are what Redis already holds, so they never change: tests/store/test_keys.py compares each one with
the name it has always had. A name that had to change (a hash tag added) keeps its old name here too
(``LEGACY_CLAIMS_KEY``) or in store/renames.py, which moves what Redis holds under it at the gateway's start. A
part in braces (``{<case id>}``, ``{queue}``) is a hash tag: the keys that share it share a Redis Cluster slot, so
one script or transaction may touch them all. A client address, a session token, a customer's contact or a
caller-chosen id appears only as a SHA-256 digest, never in clear.
"""

from __future__ import annotations

import hashlib
from datetime import date


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


# --------------------------------------------------------------------------------------------- conversations

ACTIVE_CONVERSATIONS_KEY = "cg:conversations:active"
"""Set of conversation ids whose inbox may hold messages no one is draining (the router's sweeper resumes them)."""

IDLE_INTAKES_KEY = "cg:intakes:idle"
"""Sorted set: conversation id in intake, scored by when it falls silent for good (epoch seconds)."""


def conversation_key(conversation_id: str, part: str) -> str:
    """One part of a conversation (the router's): ``state`` hash (intake, language, open case); ``inbox`` and
    ``working`` lists of messages waiting and in hand (JSON); ``lease`` string (who drains it, ``store.lease``);
    ``transcript`` list of the intake's lines (JSON); ``seen:<message id>`` string (the message recorded, then
    ``handled``); ``recorded:``, ``said-…:`` marks and ``reply:``, ``say-…:``, ``case-notice:`` strings (what a
    step did, so doing it again repeats nothing)."""
    return f"cg:conv:{{{conversation_id}}}:{part}"


QUARANTINE_KEY = "cg:quarantine"
"""List of raw messages (JSON) whose handling failed with a bug, kept for a person to look at."""

# ----------------------------------------------------------------------------------------------------- cases


def case_key(case_id: str) -> str:
    """String: the case (JSON), without its conversation and audit trail; ``{}`` while its id is reserved and
    the case not yet written (readers take it for no case)."""
    return f"cg:case:{{{case_id}}}"


def case_messages_key(case_id: str) -> str:
    """List of the case's conversation entries (JSON), oldest first."""
    return f"cg:case:{{{case_id}}}:messages"


def case_events_key(case_id: str) -> str:
    """List of the case's audit events (JSON), append-only."""
    return f"cg:case:{{{case_id}}}:events"


def case_entry_once_key(case_id: str, once: str) -> str:
    """String mark: the conversation entry that ``once`` stands for is on the case (``store.once``)."""
    return f"cg:case:{{{case_id}}}:once:" + _digest(once)


def case_once_key(once: str) -> str:
    """String: the id of the case opened (or reserved) for what ``once`` stands for, so opening it again finds
    that case. Outside the case's slot: set on its own, before the case is written."""
    return "cg:case-once:" + _digest(once)


ALL_CASES_KEY = "cg:cases"
"""Sorted set: every case id in Redis, scored by its creation (epoch seconds). One key for all cases, so in no
case's slot: an id is added before its case is written and removed after it is deleted, and may name a case not
(or no longer) in Redis, which readers skip."""

RECORD_PENDING_KEY = "cg:record:pending"
"""Set of case ids changed in Redis whose write to the system of record failed (written by ``flush_pending``)."""


def contact_key(contact: str) -> str:
    """Sorted set of the case ids of one complainant (``phone:…``, ``email:…``, ``account:…``), by creation;
    kept like ``ALL_CASES_KEY``, so it may name a case not in Redis."""
    return "cg:contact:" + _digest(contact)


def attachment_key(digest: str) -> str:
    """String: a customer's file, by the SHA-256 of its content, until the system of record holds it."""
    return f"cg:attachment:{digest}"


# ----------------------------------------------------------------------------------------------------- queue

QUEUE_ENTRIES_KEY = "cg:{queue}:entries"
"""Hash: case id → "<stream> <entry id>", the queue entry the case waits in."""

CLAIMS_KEY = "cg:{claims}"
"""Sorted set: claimed case id, scored by when its handler was last seen (epoch seconds). Tagged ``{claims}``
with every handler's set (``agent_claims_key``), so a claim changes both in one transaction."""

LEGACY_CLAIMS_KEY = "cg:claims"
"""``CLAIMS_KEY`` before it had its hash tag (``store.renames`` moves it)."""

LEGACY_QUEUE_KEY = "cg:queue"
"""Stream: the single queue before lanes; emptied into the lanes when the consumer groups are made."""


def queue_stream_key(lane: str, desk: str, unit: str | None = None) -> str:
    """Stream of the cases waiting in a lane of a desk (``case_id``, ``product``); ``unit`` None for the head
    office, whose streams keep the names they had before there were units."""
    return f"cg:{{queue}}:{lane}:{desk}" + ("" if unit is None else f":{unit}")


def agent_claims_key(agent: str) -> str:
    """Set of the case ids a handler has claimed (in the slot of ``CLAIMS_KEY``)."""
    return f"cg:{{claims}}:agent:{agent}"


def legacy_agent_claims_key(agent: str) -> str:
    """``agent_claims_key`` before it had its hash tag (``store.renames`` moves it); ``*`` matches them all."""
    return f"cg:agent-claims:{agent}"


# ------------------------------------------------------------------------------------------ desk and alerts

DESK_EVENTS_CHANNEL = "cg:desk-events"
"""Pub/sub channel (no key): what the consoles hear about (case changes, alerts, accounts), JSON."""


def case_alerted_key(case_id: str, mark: str) -> str:
    """String mark (expiring): supervisors were alerted about the case for ``mark`` (an alert kind or reason)."""
    return f"cg:alerted:{{{case_id}}}:{mark}"


def unit_alerted_key(mark: str) -> str:
    """String mark (expiring): the alert about a unit known by ``mark`` went out."""
    return f"cg:alerted:unit:{mark}"


# -------------------------------------------------------------------------------------------------- accounts

LEGACY_AGENTS_KEY = "cg:agents"
"""Set of account names from before the system of record kept accounts (imported from, never written)."""


def legacy_agent_key(name: str) -> str:
    """String: an account from before the system of record kept them (JSON, with its password hash)."""
    return f"cg:agent:{name}"


def account_key(name: str) -> str:
    """Hash: the working copy of an account (``revision``, the account as JSON), kept newer-wins."""
    return f"cg:account:{{{name}}}"


def account_sessions_key(name: str) -> str:
    """Set of the session keys (``session_key``) of an account, so all can be ended at once."""
    return f"cg:account:{{{name}}}:sessions"


def session_key(token: str) -> str:
    """String (expiring): a console session (JSON), by the digest of its token."""
    return "cg:token:" + _digest(token)


def login_from_key(name: str, address: str) -> str:
    """Hash (``tries``, ``next``): failed logins to an account from one client address."""
    return f"cg:login:{{{name}}}:from:{_digest(address)[:16]}"


def login_all_key(name: str) -> str:
    """Hash (``tries``, ``next``): failed logins to an account from every address."""
    return f"cg:login:{{{name}}}:all"


# ----------------------------------------------------------------------------------------- held answers


def held_index_key(channel: str) -> str:
    """Sorted set: the channel's message ids whose answers are held, scored by when they count as orphaned."""
    return f"cg:held:{channel}"


def held_flag_key(channel: str, message_id: str) -> str:
    """String flag: answers to the message are held for its response; whoever deletes it takes them."""
    return f"cg:held:{{{channel}:{message_id}}}:flag"


def held_answers_key(channel: str, message_id: str) -> str:
    """List of the answers (JSON) held for the message's response."""
    return f"cg:held:{{{channel}:{message_id}}}:answers"


# ----------------------------------------------------------------------------------------------------- email


def email_lease_key(mailbox: str) -> str:
    """String (expiring): the replica that reads the mailbox (``store.lease``), by the mailbox's digest."""
    return f"cg:email:lease:{mailbox}"


def email_mailbox_key(mailbox: str) -> str:
    """Hash (``uidvalidity``, ``last_uid``): how far the mailbox has been read."""
    return f"cg:email:mailbox:{mailbox}"


def email_auto_replies_key(address: str, day: date) -> str:
    """String counter (expiring): automatic replies sent to one address on one day (UTC)."""
    return f"cg:email:auto:{_digest(address.lower())[:16]}:{day:%Y%m%d}"


EMAIL_MACHINE_KEY = "cg:email:machine"
"""List of the machines' messages (auto-replies, bounces, receipts) and our own, noted (JSON)."""


# The quarantine and the outbox are few keys, rarely written: each family shares one hash tag, so one
# transaction puts a message with its list or set (their names before the tags: store/renames.py).


def email_quarantine_key(message_id: str) -> str:
    """Hash: an email whose handling failed (the reason, the raw message)."""
    return f"cg:email:{{quarantine}}:message:{message_id}"


EMAIL_QUARANTINED_KEY = "cg:email:{quarantine}:ids"
"""List of the Message-IDs of the emails in quarantine (``email_quarantine_key``), in order."""

EMAIL_OUTBOX_DUE_KEY = "cg:email:{outbox}:due"
"""Sorted set: outbox ids, scored by when they are next due to be sent (epoch seconds)."""

EMAIL_OUTBOX_FAILED_KEY = "cg:email:{outbox}:failed"
"""List of the emails that could never be sent (JSON, with the reason)."""


def email_outbox_key(outbox_id: str) -> str:
    """String: an email waiting in the outbox (JSON)."""
    return f"cg:email:{{outbox}}:message:{outbox_id}"


def email_sent_key(outbox_id: str) -> str:
    """String (expiring): when the outbox's email was sent, so it is never sent twice."""
    return f"cg:email:sent:{{{outbox_id}}}"


def email_message_key(message_id: str) -> str:
    """String (expiring): the thread key of the email with that Message-ID (case-insensitive)."""
    return f"cg:email:message:{message_id.lower()}"


def email_thread_key(key: str) -> str:
    """Hash (expiring): an email thread (subject, addresses, references, case id)."""
    return f"cg:email:thread:{{{key}}}"


def email_latest_key(address: str) -> str:
    """String (expiring): the thread key of a sender's latest email, which their next one may join."""
    return f"cg:email:latest:{address.lower()}"


def email_case_key(case_id: str) -> str:
    """String: the thread key of the email thread of a case (its tag in a subject finds the thread)."""
    return f"cg:email:case:{case_id}"


# ------------------------------------------------------------------------------------------------------- SMS

# An opt-out is written with its history, and a status with its history, in one transaction: the number (the
# message's SID) is their hash tag (their names before the tags, without braces: store/renames.py).


def sms_optout_key(number: str) -> str:
    """String: when the number sent STOP; no key, no opt-out."""
    return f"cg:sms:optout:{{{number}}}"


def sms_optout_history_key(number: str) -> str:
    """List of the number's STOP and START (JSON)."""
    return f"cg:sms:optout:{{{number}}}:history"


def sms_status_key(message_sid: str) -> str:
    """Hash: the latest delivery status Twilio reported for a message we sent."""
    return f"cg:sms:status:{{{message_sid}}}"


def sms_status_history_key(message_sid: str) -> str:
    """List of every delivery status reported for the message (JSON)."""
    return f"cg:sms:status:{{{message_sid}}}:history"


def sms_status_reported_key(message_sid: str, status: str) -> str:
    """String (expiring): that status of the message was recorded, so a repeated report counts once."""
    return f"cg:sms:status:{{{message_sid}}}:reported:{status}"


def sms_answer_key(message_sid: str) -> str:
    """String (expiring): the answer to an inbound SMS webhook, worked out once for Twilio's retries."""
    return f"cg:sms:answer:{message_sid}"


# ----------------------------------------------------------------------------------------------------- voice


def voice_call_key(call_sid: str) -> str:
    """Hash (expiring): a call in progress (``language``, ``misses``, ``caller``)."""
    return f"cg:voice:{{{call_sid}}}"


def voice_answer_key(call_sid: str, request: str) -> str:
    """String (expiring): the TwiML answer to one webhook of the call, worked out once for Twilio's retries."""
    return f"cg:voice:{{{call_sid}}}:answer:{request}"


# ------------------------------------------------------------------------------------------ a channel's own


def channel_key(channel: str, *parts: str) -> str:
    """The namespace of a channel's own keys, ``cg:<channel>:<part>:…``: a channel added later names its keys in
    its folder with this (``channels/wechat/keys.py``), so adding one changes nothing here. The SMS, voice, email
    and web chat families above came first and keep their names, some with hash tags of their own."""
    return ":".join(("cg", channel, *parts))


# --------------------------------------------------------------------------------------------------- webchat

WEBCHAT_NUDGE_CHANNEL = "cg:webchat:nudge"
"""Pub/sub channel (no key): the conversation key of a web chat session with new frames."""


def webchat_session_key(key: str) -> str:
    """Hash (expiring): a web chat session (``language``, ``spoke``), by its conversation key."""
    return f"cg:webchat:{{{key}}}"


def webchat_frames_key(key: str) -> str:
    """Stream (expiring): what the session's page shows (``frame``: JSON), replayed on reconnect."""
    return f"cg:webchat:{{{key}}}:frames"


def webchat_rate_key(key: str) -> str:
    """String counter (expiring): the session's messages in the current rate window."""
    return f"cg:webchat:{{{key}}}:rate"


def webchat_echo_key(key: str, message_id: str) -> str:
    """String mark (expiring): the customer's message is shown in the session's frames (``store.once``)."""
    return f"cg:webchat:{{{key}}}:echoed:{message_id}"


def webchat_sent_key(key: str, once: str) -> str:
    """String mark (expiring): an answer (``OutboundMessage.once``, one frame of it) is in the session's frames
    (``store.once``)."""
    return f"cg:webchat:{{{key}}}:sent:{_digest(once)}"


def webchat_sockets_key(client: str) -> str:
    """Sorted set (expiring): a client address's open sockets, scored by when each one's place lapses (ms)."""
    return f"cg:webchat:client:{{{client}}}:sockets"


def webchat_new_sessions_key(client: str) -> str:
    """String counter (expiring): sessions a client address started in the current window."""
    return f"cg:webchat:client:{{{client}}}:new"

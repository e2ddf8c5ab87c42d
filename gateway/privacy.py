"""Personal data stays out of logs.

Conversation ids carry phone numbers and email addresses (an SMS conversation is keyed by the sender's
number), so logs name a conversation by a short pseudonym instead. As a second line of defence, a logging
filter masks anything shaped like a phone number, an email address or an ID/account number in every
record, whoever logged it.
"""

from __future__ import annotations

import hashlib
import logging
import re

_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
# Phones, IDs and accounts: 7+ digits in a row, 9+ digits with spaces or dashes between groups, or 7+ after a
# "+". Shorter spaced runs are left alone: they are log noise such as "200 3338" (status and size).
_NUMBER = re.compile(
    r"(?<![\w.+])(?:\+\d(?:[ -]?\d){6,}|\d(?:[ -]?\d){8,}|\d{7,})[Xx]?(?![\w.])"
)


def conversation_ref(conversation_id: str) -> str:
    """``sms:+8613800138000`` becomes ``sms:5f3e0a9c``: stable, so a log can be followed, but not personal."""
    channel, _, key = conversation_id.partition(":")
    return f"{channel}:{hashlib.sha256(key.encode()).hexdigest()[:8]}"


def redact(text: str) -> str:
    return _NUMBER.sub(_mask_number, _EMAIL.sub("[email]", text))


def _mask_number(match: re.Match[str]) -> str:
    digits = re.sub(r"\D", "", match.group())
    return "*" * max(len(digits) - 4, 0) + digits[-4:] if len(digits) >= 7 else match.group()


class RedactingFilter(logging.Filter):
    """Masks personal data in a record's final message (and drops the arguments it came from)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


def install(logger: logging.Logger | None = None) -> None:
    """Put the filter on every handler of ``logger`` (the root logger by default)."""
    for handler in (logger or logging.getLogger()).handlers:
        if not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(RedactingFilter())

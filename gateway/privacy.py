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
from urllib.parse import unquote

# Every run of the characters an address starts with is matched, with or without an address in it: a search that
# could fail would start again at each position inside a long run (a path or User-Agent of letters), and masking a
# line would cost its length squared. Runs without an "@domain" are put back as they were (``_mask_email``).
_EMAIL = re.compile(r"[\w.+-]+(@[\w-]+(?:\.[\w-]+)+)?")
# Phones, IDs and accounts: 7+ digits in a row, 9+ digits with spaces or dashes between groups, 7+ after a
# "+", or 5+ after an area code in brackets ("(555) 123-4567", "+44 (0)7700 900123"). Shorter spaced runs
# are left alone: they are log noise such as "200 3338" (status and size). A case id (C-261206-3263: its last
# four may all be digits) is not personal, and an operator must be able to find the case it names.
_NUMBER = re.compile(
    r"(?<![\w.+])(?:\+\d{1,3}[ -]?)?\(\d{1,5}\)[ -]?\d(?:[ -]?\d){4,}(?![\w.])"
    r"|(?<![\w.+])(?<!C-)(?:\+\d(?:[ -]?\d){6,}|\d(?:[ -]?\d){8,}|\d{7,})[Xx]?(?![\w.])"
)
# A URL in a log line (an access log's request line) carries "+" and "@" percent-encoded: decoded first, so
# "?caller=%2B8613800138000" and "li%40example.org" are seen for what they are.
_ESCAPED = re.compile(r"%(2[BbDdEe08-9]|40|5[Ff])")


def conversation_ref(conversation_id: str) -> str:
    """``sms:+8613800138000`` becomes ``sms:5f3e0a9c``: stable, so a log can be followed, but not personal."""
    channel, _, key = conversation_id.partition(":")
    return f"{channel}:{hashlib.sha256(key.encode()).hexdigest()[:8]}"


def redact(text: str) -> str:
    if "%" in text:
        text = _ESCAPED.sub(lambda m: chr(int(m.group(1), 16)), text)
        # Letters outside ASCII too ("li@例子.中国" as "%E4%BE%8B..."): an address is seen whatever it is made of.
        text = unquote(text, errors="replace") if "%" in text else text
    if "@" in text:
        text = _EMAIL.sub(_mask_email, text)
    return _NUMBER.sub(_mask_number, text)


def _mask_email(match: re.Match[str]) -> str:
    return "[email]" if match.group(1) else match.group()


def _mask_number(match: re.Match[str]) -> str:
    digits = re.sub(r"\D", "", match.group())
    return "*" * max(len(digits) - 4, 0) + digits[-4:] if len(digits) >= 7 else match.group()


class RedactingFilter(logging.Filter):
    """Masks personal data in a record's final message (and drops the arguments it came from), and in the
    traceback and stack it carries: an exception's message often quotes the value that upset it."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        if record.exc_info and not record.exc_text:
            # Formatters print exc_text when it is set, so the traceback is formatted here, once, masked.
            record.exc_text = _TRACEBACKS.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


_TRACEBACKS = logging.Formatter()


# Libraries whose DEBUG lines carry what they handle in full: aiosqlite logs every statement with its parameters
# (whole case documents). They speak from INFO up, whatever LOG_LEVEL says.
QUIET_LIBRARIES = ("aiosqlite",)


def install(logger: logging.Logger | None = None) -> None:
    """Put the filter on every handler of ``logger`` (the root logger by default), and keep the libraries that
    log what they handle from doing so."""
    for name in QUIET_LIBRARIES:
        logging.getLogger(name).setLevel(max(logging.INFO, logging.getLogger(name).getEffectiveLevel()))
    for handler in (logger or logging.getLogger()).handlers:
        if not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(RedactingFilter())

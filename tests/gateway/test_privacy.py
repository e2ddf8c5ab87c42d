"""Personal data never reaches a log in clear."""

from __future__ import annotations

import logging

import pytest

from gateway.privacy import RedactingFilter, conversation_ref, redact


def test_phones_emails_and_account_numbers_are_masked() -> None:
    line = redact("sms from +86 138 0013 8000 about account 6222021234567890123 by zhang.san@example.com")
    assert "138 0013" not in line and "62220212345" not in line and "zhang.san@" not in line
    assert line.endswith("by [email]") and "8000" in line
    assert redact("case C-261123-7KQ4 opened at 18:02:11 in 2026") == "case C-261123-7KQ4 opened at 18:02:11 in 2026"


def test_conversations_are_named_by_a_stable_pseudonym() -> None:
    ref = conversation_ref("sms:+8613800138000")
    assert ref.startswith("sms:") and "138" not in ref and ref == conversation_ref("sms:+8613800138000")


def test_the_filter_cleans_whatever_any_logger_writes(caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("some.library")
    caplog.handler.addFilter(RedactingFilter())
    with caplog.at_level(logging.INFO):
        logger.info("calling %s for %s", "+447700900123", "ann@example.org")
    assert caplog.records[-1].getMessage() == "calling ********0123 for [email]"

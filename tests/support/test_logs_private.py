"""The log scanner of tests/support/logs_private.py: it finds personal data in clear and leaves masked forms alone."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from gateway.privacy import RedactingFilter, redact
from tests.support.logs_private import DESK_MAIL_DOMAIN, Collector, personal_data, scan, written_since
from tests.support.mail_servers import DOMAIN

IN_CLEAR = {
    "sms from +8613800138000": ("phone", "+8613800138000"),
    "sms from +86 138 0013 8000": ("phone", "+86 138 0013 8000"),
    "customer phone 13912345678 given": ("phone", "13912345678"),
    "call 139 1234 5678 back": ("phone", "139 1234 5678"),
    "uk caller +44 7700 900123": ("phone", "+44 7700 900123"),
    "uk caller 07700 900123": ("phone", "07700 900123"),
    "us caller (555) 123-4567": ("phone", "(555) 123-4567"),
    "us caller +1 (555) 123-4567": ("phone", "+1 (555) 123-4567"),
    "us caller 555-123-4567": ("phone", "555-123-4567"),
    "mail from li.lei@example.org": ("email", "li.lei@example.org"),
    "mail from wang.fang@example.cn to the desk": ("email", "wang.fang@example.cn"),
    "account 880012345 frozen": ("account", "880012345"),
    "account number is 55667788.": ("account", "55667788"),
    "id 11010119900307777X": ("account", "11010119900307777X"),
    '"POST /channels/transcripts?caller=%2B8613800138000 HTTP/1.1" 202 233': ("phone", "+8613800138000"),
    '"GET /api/search?email=li.lei%40example.org HTTP/1.1" 200 12': ("email", "li.lei@example.org"),
}

SAFE = [
    "2026-11-29 09:23:47,910 INFO aiohttp.access: 127.0.0.1 [29/Nov/2026:09:23:47 +0000] "
    '"POST /api/cases/C-261129-297M/claim HTTP/1.1" 200 3592 "-" "Python/3.11 aiohttp/3.14.5"',
    "2026-11-29 09:04:03,231 WARNING gateway.router: bot unavailable for email:a4707498: rasa unreachable",
    "sms from *********8000 (masked by the gateway)",
    "sms from +*********8000",
    "customer phone 138****8000",
    "mail from [email]",
    "reply sent from complaints@example.test and t1a2b3c4d@example.test",
    "bounce from MAILER-DAEMON@mx.example.net",
    "texting from the desk's number +15005550006",
    "POST Request: https://api.twilio.com/2010-04-01/Accounts/AC0123456789abcdef0123456789abcdef/Messages.json",
    "stream entry 1732870000000-0 read",
    "took 0.583 seconds; pid 1234567; port 53617",
    "/work/main/bot/.venv/lib/python3.10/site-packages/jieba/__init__.py:44: DeprecationWarning",
    "case C-261123-7KQ4 opened at 18:02:11 in 2026",
    "conversation sms:5f3e0a9c",
    "object at 0x7f1a34b50710",
]


@pytest.mark.parametrize("line", list(IN_CLEAR))
def test_personal_data_in_clear_is_found(line: str) -> None:
    assert IN_CLEAR[line] in personal_data(line), personal_data(line)


@pytest.mark.parametrize("line", SAFE)
def test_masked_data_the_desks_own_addresses_and_log_noise_pass(line: str) -> None:
    assert personal_data(line) == []


def test_a_finding_says_where_it_is() -> None:
    [finding] = scan(["ok", "sms from +8613800138000"], "gateway-main.log")
    assert finding.source == "gateway-main.log" and finding.kind == "phone"
    assert "+8613800138000" in str(finding)


def test_records_are_kept_as_the_gateway_writes_them_masked_tracebacks_included() -> None:
    collector = Collector()
    logger = logging.getLogger("tests.support.logs_private.sample")
    logger.addHandler(collector)
    logger.setLevel(logging.INFO)
    try:
        logger.info("texting %s", "+8613800138000")
        try:
            raise ValueError("recipient li.lei@example.org refused, account 880012345")
        except ValueError:
            logger.exception("sending failed for %s", "13912345678")
    finally:
        logger.removeHandler(collector)
    assert any("*********8000" in line for line in collector.lines)
    assert any("ValueError: recipient [email] refused" in line for line in collector.lines)
    assert list(scan(collector.lines, "in-process log")) == []


def test_the_record_itself_is_left_alone_for_other_handlers() -> None:
    seen: list[str] = []

    class Plain(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            seen.append(record.getMessage())

    logger = logging.getLogger("tests.support.logs_private.untouched")
    logger.propagate = False
    collector = Collector()
    collector.addFilter(RedactingFilter())  # as privacy.install() would put on every root handler
    for handler in (collector, Plain()):
        logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.info("texting %s", "+8613800138000")
    assert seen == ["texting +8613800138000"]
    assert collector.lines[-1].endswith("texting *********8000")


def test_only_what_this_run_wrote_is_read(tmp_path: Path) -> None:
    old = tmp_path / "gateway-old.log"
    old.write_text("sms from +8613800138000 (an earlier run)\n")
    sizes = {old: old.stat().st_size}
    with old.open("a") as log:
        log.write("this run\n")
    (tmp_path / "rasa.log").write_text("new file\n")
    seen = dict(written_since(tmp_path, sizes))
    assert seen == {old: ["this run"], tmp_path / "rasa.log": ["new file"]}


def test_the_desks_mail_domain_is_the_test_mail_servers() -> None:
    assert DESK_MAIL_DOMAIN == DOMAIN


@pytest.mark.parametrize("line", [
    '"POST /channels/transcripts?caller=%2B8613800138000 HTTP/1.1" 202 233',
    "search?email=li.lei%40example.org&page=2",
    "us caller +1 (555) 123-4567 and (555) 123-4567",
    "uk caller +44 (0)7700 900123",
])
def test_the_gateways_filter_masks_what_the_scanner_looks_for(line: str) -> None:
    assert personal_data(line) != []
    assert personal_data(redact(line)) == [], redact(line)

"""A pytest plugin: the logs of a test run hold no phone number, email address or account number in clear.

docs/architecture.md guarantee 8, checked over whatever the run exercised. Registered from tests/conftest.py.

- For the whole session, every record that reaches the root logger (from INFO up, the level the gateway
  runs at) is kept as ``complaint-gateway serve`` would write it: formatted alike, through the gateway's
  ``RedactingFilter``. The record itself is left alone for the handlers of other tests (caplog).
- At the end, those lines and what this run added to each ``*.log`` under var/test-logs/ (the gateways,
  Rasa and action servers of the end-to-end tests) are scanned; a finding is printed with where it was,
  and the session fails.

What counts as personal: phone numbers (international with "+": +86, +44, +1 and the rest; mainland
mobiles of 11 digits; UK and US national forms), email addresses, and account or ID numbers (8 to 19 digits
in a row), also percent-encoded as in a URL. What does not: masked forms (``*********8000``,
``138****8000``, ``[email]``), the desk's own mailboxes (the test mail domain, tests/support/mail_servers.py) and
sending number, and mailer machine addresses (postmaster, mailer-daemon): none of them is a customer's.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote

import pytest

from gateway.privacy import RedactingFilter
from tests.support.twilio_double import FROM_NUMBER as DESK_NUMBER

LOG_DIR = Path(__file__).resolve().parents[2] / "var" / "test-logs"
FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"  # as gateway/cli.py configures logging
SHOWN = 40
DESK_MAIL_DOMAIN = "example.test"  # tests/support/mail_servers.py DOMAIN: the desk's mailboxes (not imported: a plugin)

SAFE_EMAIL_DOMAINS = frozenset({DESK_MAIL_DOMAIN})
MACHINE_MAILBOXES = frozenset({"postmaster", "mailer-daemon", "noreply", "no-reply", "donotreply"})
SAFE_NUMBERS = frozenset({re.sub(r"\D", "", DESK_NUMBER)})

PATTERNS: dict[str, re.Pattern[str]] = {
    "phone": re.compile(
        # international: "+" and 7 to 15 digits, spaced, dashed or with an area code in brackets
        r"(?<![\w+])\+\d{1,3}(?:[ -]?\(\d{1,4}\))?(?:[ -]?\d){6,14}(?!\d)"
        # mainland mobile: 1[3-9]x xxxx xxxx
        r"|(?<![\w+*])1[3-9]\d(?:[ -]?\d{4}){2}(?![\w*])"
        # UK national (07700 900123) and US national ((555) 123-4567, 555-123-4567)
        r"|(?<![\w*])0[1-9]\d{2,3}[ -]?\d{3}[ -]?\d{3,4}(?![\w*])"
        r"|\(\d{3}\)[ -]?\d{3}[ -]\d{4}(?!\d)|(?<![\w*-])\d{3}-\d{3}-\d{4}(?![\w-])"
    ),
    "email": re.compile(r"[\w.+'-]+@[\w-]+(?:\.[\w-]+)+"),
    "account": re.compile(r"(?<![\w.:/*+-])\d{8,19}[Xx]?(?![\w:/*-]|\.\d)"),
}


@dataclass(frozen=True)
class Finding:
    source: str
    line: str
    kind: str
    value: str

    def __str__(self) -> str:
        return f"{self.source}: {self.kind} {self.value!r} in: {self.line.strip()[:300]}"


def _is_safe(kind: str, value: str) -> bool:
    if kind == "email":
        local, _, domain = value.lower().rpartition("@")
        return domain in SAFE_EMAIL_DOMAINS or local in MACHINE_MAILBOXES
    return re.sub(r"\D", "", value) in SAFE_NUMBERS


def personal_data(line: str) -> list[tuple[str, str]]:
    """The (kind, value) pairs of personal data a log line shows in clear, percent-encoded ones too."""
    found: list[tuple[str, str]] = []
    variants = [line] if "%" not in line else [line, unquote(line)]
    for text in variants:
        for kind, pattern in PATTERNS.items():
            for match in pattern.finditer(text):
                value = match.group()
                if not _is_safe(kind, value) and (kind, value) not in found:
                    found.append((kind, value))
    # A phone number also matches the account pattern: one report is enough.
    phones = {re.sub(r"\D", "", v) for k, v in found if k == "phone"}
    return [(k, v) for k, v in found if not (k == "account" and any(v in p or p in v for p in phones))]


def scan(lines: Iterable[str], source: str) -> Iterator[Finding]:
    for line in lines:
        for kind, value in personal_data(line):
            yield Finding(source, line, kind, value)


class Collector(logging.Handler):
    """Keeps each record as the gateway's own log would show it (redacted), without touching the record."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.setFormatter(logging.Formatter(FORMAT))
        self.lines: list[str] = []
        self._redact = RedactingFilter()

    def filter(self, record: logging.LogRecord) -> bool:
        # Filters put on every root handler (privacy.install() in a CLI test) would change the record for
        # every other handler too; this one masks its own copy instead.
        return True

    def emit(self, record: logging.LogRecord) -> None:
        try:
            copy = logging.makeLogRecord(record.__dict__)
            copy.exc_text = None  # another handler may have cached the traceback unmasked
            self._redact.filter(copy)
            self.lines.extend(self.format(copy).splitlines())
        except Exception:
            self.handleError(record)


def log_sizes(directory: Path) -> dict[Path, int]:
    return {path: path.stat().st_size for path in directory.rglob("*.log")} if directory.exists() else {}


def written_since(directory: Path, sizes: dict[Path, int]) -> Iterator[tuple[Path, list[str]]]:
    """Each log file under ``directory`` with the lines added after ``sizes`` was taken (all of a new or
    truncated file)."""
    for path, size in sorted(log_sizes(directory).items()):
        start = sizes.get(path, 0)
        start = 0 if size < start else start
        if size == start:
            continue
        with path.open("rb") as log:
            log.seek(start)
            yield path, log.read().decode("utf-8", errors="replace").splitlines()


COLLECTOR = pytest.StashKey[Collector]()
SIZES = pytest.StashKey[dict[Path, int]]()
FINDINGS = pytest.StashKey[list[Finding]]()
LEVEL = pytest.StashKey[int]()


def pytest_sessionstart(session: pytest.Session) -> None:
    root = logging.getLogger()
    collector = Collector()
    session.config.stash[COLLECTOR] = collector
    session.config.stash[SIZES] = log_sizes(LOG_DIR)
    session.config.stash[LEVEL] = root.level
    root.addHandler(collector)
    if root.getEffectiveLevel() > logging.INFO:
        root.setLevel(logging.INFO)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    config = session.config
    collector = config.stash.get(COLLECTOR, None)
    if collector is None:
        return
    root = logging.getLogger()
    root.removeHandler(collector)
    root.setLevel(config.stash[LEVEL])
    findings = list(scan(collector.lines, "in-process log"))
    for path, lines in written_since(LOG_DIR, config.stash[SIZES]):
        findings.extend(scan(lines, str(path.relative_to(LOG_DIR.parent.parent))))
    config.stash[FINDINGS] = findings
    if findings and session.exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    findings = terminalreporter.config.stash.get(FINDINGS, [])
    if not findings:
        return
    terminalreporter.section("personal data in logs", sep="=", red=True, bold=True)
    for finding in findings[:SHOWN]:
        terminalreporter.line(str(finding), red=True)
    if len(findings) > SHOWN:
        terminalreporter.line(f"... and {len(findings) - SHOWN} more", red=True)
    terminalreporter.line(f"{len(findings)} log line(s) show personal data in clear (docs/architecture.md, "
                          "guarantee 8): the session fails.", red=True, bold=True)

"""Real mail servers for the email channel's tests: Debian's Dovecot for IMAP, an aiosmtpd sink for SMTP.

Fixtures (load with ``pytest_plugins = ["tests.support.mail_servers"]`` in the top-level conftest, or import them into a
test module together with the fixtures they depend on: ``mailbox`` needs ``dovecot``):

- ``dovecot`` (session): one :class:`Dovecot` for the whole run. Skipped when ``/usr/sbin/dovecot`` is missing
  or the tests do not run as root, unless ``REQUIRE_MAIL_SERVER`` is set, in which case that is a failure.
- ``fresh_dovecot`` (function): a Dovecot of the test's own, for tests that kill or restart the server.
- ``mailbox`` (function): a new user on the session Dovecot (:class:`MailUser`), with an empty INBOX.
- ``smtp_sink`` (function): a fresh :class:`SmtpSink`, plain SMTP on loopback, no AUTH.

How the Dovecot is set up (see :meth:`Dovecot.config`):

- Everything lives in a temporary folder of its own (``tempfile.mkdtemp``, mode 0755, removed by ``close()``):
  config, sockets (``base_dir``), ``state_dir``, one log file, certificate, passwd-files, maildirs. It is not under
  pytest's ``tmp_path``, because that tree is mode 0700 and Dovecot's unprivileged processes must reach it.
- TLS: a self-signed certificate for ``localhost``, ``127.0.0.1`` and ``127.0.0.2`` (``ca_file``; trust it, or
  use :meth:`Dovecot.ssl_context`). Port ``imaps_port`` speaks implicit TLS; ``imap_port`` is plain IMAP that
  offers STARTTLS. TLS 1.2 is the oldest version accepted (Dovecot's default).
- Plaintext authentication stays disabled (``disable_plaintext_auth = yes``): LOGIN and AUTHENTICATE are only
  accepted over TLS. Dovecot counts a connection whose two ends have the same address as secure, so the server
  listens on ``127.0.0.2`` while clients connect from ``127.0.0.1``: a client that logs in before STARTTLS is
  refused exactly as by a real remote server (``LOGINDISABLED``). Where ``127.0.0.2`` cannot be used the server
  falls back to ``127.0.0.1``, and ``refuses_plaintext`` tells which.
- Users come from passwd-files, one per user (``{PLAIN}`` passwords, uid/gid 65534), read at login: adding a
  user needs no reload. Usernames are canonicalised with ``%Ln``: ``alice`` and ``alice@example.test`` (any
  domain, any case) are the same account. A failed login is answered within half a second
  (``auth_failure_delay = 0``; Dovecot sends queued failures twice a second) and the per-IP auth penalty is
  off, so tests of a wrong password do not slow down the logins after them.
- Folders: one namespace, INBOX included, hierarchy separator ``/`` (configurable). No folder is created
  automatically: the client under test must create ``Processed``, ``Quarantine`` and the like itself, as it
  must on a real account (``auto_create=`` changes that for a private server). :meth:`Dovecot.deliver` creates
  a missing folder on the way, like delivery rules on a real server would.
- CAPABILITY after login includes IDLE, MOVE and UIDPLUS (Dovecot 2.3 defaults). An idling client hears of
  new mail within a second (``mailbox_idle_check_interval = 1 secs``; inotify usually makes it immediate).
- Up to 100 simultaneous IMAP sessions per user and address (``mail_max_userip_connections``).
"""

from __future__ import annotations

import asyncio
import atexit
import base64
import contextlib
import email.policy
import grp
import imaplib
import os
import pwd
import re
import secrets
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import Any, Literal, NamedTuple

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

DOVECOT_BINARY = "/usr/sbin/dovecot"
MAIL_UID = MAIL_GID = 65534  # "nobody": Dovecot refuses to run mail processes as root
DOMAIN = "example.test"
SECURE_LOOPBACK = "127.0.0.2"  # Dovecot treats local == remote address as secure; this one is not.


# --------------------------------------------------------------------------------------------- small helpers


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on right now (the usual race applies: take it soon)."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def loopback_host() -> str:
    """``127.0.0.2`` when this machine can listen there (Linux can), else ``127.0.0.1``."""
    try:
        with socket.socket() as sock:
            sock.bind((SECURE_LOOPBACK, 0))
    except OSError:
        return "127.0.0.1"
    return SECURE_LOOPBACK


@dataclass(frozen=True)
class Certificate:
    """A self-signed certificate and its key, PEM files; the certificate doubles as its own CA file."""

    cert_file: Path
    key_file: Path

    def client_context(self) -> ssl.SSLContext:
        """A client context that verifies the peer against this certificate (host names included)."""
        return ssl.create_default_context(cafile=str(self.cert_file))

    def server_context(self) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(str(self.cert_file), str(self.key_file))
        return context


def make_certificate(folder: Path, names: Sequence[str] = ("localhost", "127.0.0.1", SECURE_LOOPBACK)) -> Certificate:
    """``openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=localhost -days 2``, with the given subjectAltNames."""
    folder.mkdir(parents=True, exist_ok=True)
    cert, key = folder / "cert.pem", folder / "key.pem"
    alt_names = ",".join(("IP:" if re.fullmatch(r"[\d.]+|[0-9a-fA-F:]+:[0-9a-fA-F:]*", n) else "DNS:") + n
                         for n in names)
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost", "-days", "2",
         "-addext", f"subjectAltName={alt_names}", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True, timeout=60,
    )
    key.chmod(0o600)
    return Certificate(cert, key)


def imap_utf7_encode(name: str) -> str:
    """A folder name in IMAP's modified UTF-7 (RFC 3501 5.1.3), as it goes on the wire."""
    out: list[str] = []
    pending: list[str] = []

    def flush() -> None:
        if pending:
            encoded = base64.b64encode("".join(pending).encode("utf-16-be")).decode().rstrip("=")
            out.append("&" + encoded.replace("/", ",") + "-")
            pending.clear()

    for char in name:
        if 0x20 <= ord(char) <= 0x7E:
            flush()
            out.append("&-" if char == "&" else char)
        else:
            pending.append(char)
    flush()
    return "".join(out)


def imap_utf7_decode(name: str) -> str:
    def decode(match: re.Match[str]) -> str:
        chunk = match.group(1)
        if not chunk:
            return "&"
        chunk = chunk.replace(",", "/")
        return base64.b64decode(chunk + "=" * (-len(chunk) % 4)).decode("utf-16-be")

    return re.sub(r"&([^-]*)-", decode, name)


def imap_quote(text: str) -> str:
    """An IMAP quoted string (folder names go through :func:`imap_utf7_encode` first)."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def crlf(raw: bytes) -> bytes:
    """Every line ending (CRLF, bare LF, bare CR) as CRLF: what IMAP APPEND needs and what IMAP FETCH returns."""
    return re.sub(rb"\r\n|\r|\n", b"\r\n", raw)


def parse_message(raw: bytes) -> EmailMessage:
    """``raw`` parsed with ``email.policy.default``, line endings first made LF (so text parts read naturally),
    and 8-bit headers read as UTF-8 (RFC 6532, as SMTPUTF8 mail writes them)."""
    parsed: EmailMessage = BytesParser(policy=email.policy.default).parsebytes(re.sub(rb"\r\n?", b"\n", raw))
    for part in parsed.walk():
        _read_headers_as_utf8(part)
    return parsed


def _read_headers_as_utf8(part: Any) -> None:
    """The parser reads header bytes as ASCII, an 8-bit byte as a surrogate escape: read them as UTF-8 instead."""
    items = list(part.raw_items())
    if all(value.isascii() for _, value in items):
        return
    for name in {name for name, _ in items}:
        del part[name]
    for name, value in items:
        part.set_raw(name, value.encode("ascii", "surrogateescape").decode("utf-8", "surrogateescape"))


def _unquote(token: bytes) -> str:
    text = token.decode("utf-8", "surrogateescape")
    if len(text) >= 2 and text[0] == text[-1] == '"':
        text = re.sub(r"\\(.)", r"\1", text[1:-1])
    return text


def _check(result: tuple[str, list[Any]], what: str) -> list[Any]:
    status, data = result
    if status != "OK":
        raise imaplib.IMAP4.error(f"{what}: {status} {data!r}")
    return data


class StoredMessage(NamedTuple):
    """One message as Dovecot serves it: ``uid, flags, raw = m`` works, and so does ``m.message``."""

    uid: int
    flags: tuple[str, ...]
    raw: bytes

    @property
    def message(self) -> EmailMessage:
        return parse_message(self.raw)


# --------------------------------------------------------------------------------------------------- Dovecot


def dovecot_problem(binary: str | None = None) -> str | None:
    """Why this machine cannot run the test Dovecot, or None if it can."""
    binary = binary or DOVECOT_BINARY
    if not Path(binary).exists():
        return f"{binary} not found (apt-get install dovecot-imapd)"
    if os.geteuid() != 0:
        return "the test Dovecot must be started as root (its mail processes then run as uid 65534)"
    for user in ("dovecot", "dovenull"):
        try:
            pwd.getpwnam(user)
        except KeyError:
            return f"system user {user!r} is missing (dovecot-core creates it)"
    if shutil.which("openssl") is None:
        return "openssl not found (needed for the test certificate)"
    return None


class Dovecot:
    """A Dovecot IMAP server run as a child process (``dovecot -F -c CONF``) in a throwaway folder.

    ``start()``/``stop()``/``kill()``/``restart()`` control the process; ``close()`` stops it and removes the
    folder (also what ``with Dovecot() as server:`` does on the way out). Mail and users survive ``kill()``
    and ``restart()``; ports, certificate and folder stay the same for the object's whole life.
    """

    def __init__(self, root: Path | None = None, *, separator: str = "/", auto_create: Sequence[str] = (),
                 plaintext_auth: bool = False, binary: str | None = None, debug: bool = False) -> None:
        self._own_root = root is None
        self.root = Path(tempfile.mkdtemp(prefix="dovecot-")) if root is None else root
        self.root.mkdir(parents=True, exist_ok=True)
        self.root.chmod(0o755)
        self.binary = binary or DOVECOT_BINARY
        self.separator = separator
        self.auto_create = tuple(auto_create)
        self.plaintext_auth = plaintext_auth
        self.debug = debug
        self.host = loopback_host()
        self.imap_port = free_port(self.host)
        self.imaps_port = free_port(self.host)
        self.instance = f"dovecot-test-{secrets.token_hex(3)}"
        self.config_path = self.root / "dovecot.conf"
        self.log_path = self.root / "dovecot.log"
        self.stderr_path = self.root / "dovecot.stderr"
        self.users_dir = self.root / "users"
        self.mail_root = self.root / "mail"
        self.home_root = self.root / "home"
        self.process: subprocess.Popen[bytes] | None = None
        self.startup_seconds: float | None = None
        self._passwords: dict[str, str] = {}
        self._users_lock = threading.Lock()
        self._atexit_registered = False

    # ----- facts

    @property
    def ca_file(self) -> Path:
        """The server's self-signed certificate, to be trusted as a CA file by clients (exists after start())."""
        return self.root / "tls" / "cert.pem"

    @property
    def certificate(self) -> Certificate:
        """Certificate and key files (the key is readable by root only)."""
        return Certificate(self.ca_file, self.root / "tls" / "key.pem")

    @property
    def refuses_plaintext(self) -> bool:
        """True when LOGIN before STARTTLS on ``imap_port`` is refused (not so if loopback counts as secure)."""
        return not self.plaintext_auth and self.host != "127.0.0.1"

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def ssl_context(self) -> ssl.SSLContext:
        """A client TLS context that trusts this server's certificate and checks the host name."""
        return ssl.create_default_context(cafile=str(self.ca_file))

    def address(self, user: str) -> str:
        return f"{user}@{DOMAIN}"

    def password(self, user: str) -> str:
        return self._passwords[user]

    def __repr__(self) -> str:
        return (f"Dovecot(host={self.host!r}, imap_port={self.imap_port}, imaps_port={self.imaps_port}, "
                f"root={self.root})")

    # ----- configuration

    def _check_system(self) -> None:
        problem = dovecot_problem(self.binary)
        if problem:
            raise RuntimeError(problem)
        parent = self.root.resolve()
        while parent != parent.parent:
            parent = parent.parent
            if not parent.stat().st_mode & 0o001:
                raise PermissionError(f"{parent} is not searchable by others; Dovecot's mail processes could not "
                                      f"reach {self.root}. Leave root=None to get a folder in {tempfile.gettempdir()}")

    def config(self) -> str:
        """The complete dovecot.conf (nothing from /etc/dovecot is read)."""
        r = self.root
        log = self.log_path
        folders = "".join(f"  mailbox {imap_quote(name)} {{\n    auto = create\n  }}\n" for name in self.auto_create)
        debug = "auth_debug = yes\nmail_debug = yes\n" if self.debug else ""
        return f"""\
# Throwaway Dovecot for tests; everything lives under {r}.
instance_name = {self.instance}
base_dir = {r}/run
state_dir = {r}/state
log_path = {log}
info_log_path = {log}
debug_log_path = {log}
log_timestamp = "%Y-%m-%d %H:%M:%S "
{debug}
protocols = imap
listen = {self.host}
default_internal_user = dovecot
default_internal_group = dovecot
default_login_user = dovenull

ssl = yes
ssl_cert = <{self.certificate.cert_file}
ssl_key = <{self.certificate.key_file}

disable_plaintext_auth = {"no" if self.plaintext_auth else "yes"}
auth_mechanisms = plain login
auth_username_format = %Ln
auth_failure_delay = 0
auth_verbose = yes
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {self.users_dir}/%u
}}
userdb {{
  driver = passwd-file
  args = username_format=%u {self.users_dir}/%u
}}

mail_location = maildir:{self.mail_root}/%u
mail_plugins =
mailbox_idle_check_interval = 1 secs
mail_max_userip_connections = 100
namespace inbox {{
  inbox = yes
  separator = {self.separator}
{folders}}}

service imap-login {{
  inet_listener imap {{
    port = {self.imap_port}
  }}
  inet_listener imaps {{
    port = {self.imaps_port}
    ssl = yes
  }}
}}
# No per-IP delay after failed logins: every test logs in from 127.0.0.1.
service anvil {{
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
"""

    def _prepare(self) -> None:
        self._check_system()
        for sub in ("run", "state"):
            (self.root / sub).mkdir(exist_ok=True)
        for folder in (self.mail_root, self.home_root):
            folder.mkdir(exist_ok=True)
            os.chown(folder, MAIL_UID, MAIL_GID)
        if not self.ca_file.exists():
            make_certificate(self.ca_file.parent)
        (self.root / "run" / "master.pid").unlink(missing_ok=True)  # left by kill(); its PID may be reused
        self._users_dir()
        self.config_path.write_text(self.config())

    def _users_dir(self) -> Path:
        if not self.users_dir.exists():
            self.users_dir.mkdir()
            os.chown(self.users_dir, 0, grp.getgrnam("dovecot").gr_gid)
            self.users_dir.chmod(0o750)
        return self.users_dir

    def _write_user(self, name: str, password: str) -> None:
        """One passwd-file per user (``users/<name>``): Dovecot sees a new file at once, whereas it re-reads a
        changed file at most once a second."""
        line = f"{name}:{{PLAIN}}{password}:{MAIL_UID}:{MAIL_GID}::{self.home_root / name}::\n"
        tmp = self._users_dir() / f".{name}.tmp"
        tmp.write_text(line)
        os.chown(tmp, 0, grp.getgrnam("dovecot").gr_gid)
        tmp.chmod(0o640)
        target = self.users_dir / name
        if target.exists():  # Dovecot compares size and whole-second mtime: make sure the change shows
            old_mtime = int(target.stat().st_mtime)
            if int(tmp.stat().st_mtime) <= old_mtime:
                os.utime(tmp, (old_mtime + 1, old_mtime + 1))
        tmp.replace(target)

    # ----- process control

    def start(self, timeout: float = 15.0) -> None:
        """Start Dovecot; returns once the IMAP greeting arrives on ``imap_port`` and ``imaps_port`` accepts."""
        if self.running:
            return
        self._prepare()
        began = time.monotonic()
        with self.stderr_path.open("ab") as stderr:
            self.process = subprocess.Popen([self.binary, "-F", "-c", str(self.config_path)],
                                            stdin=subprocess.DEVNULL, stdout=stderr, stderr=stderr,
                                            start_new_session=True)
        if not self._atexit_registered:
            atexit.register(self._kill_group)
            self._atexit_registered = True
        deadline = began + timeout
        while True:
            if self.process.poll() is not None:
                code = self.process.returncode
                self.process = None
                raise RuntimeError(f"dovecot exited with {code} while starting:\n{self.log_tail()}")
            if self._greeting_ok() and self._accepts(self.imaps_port):
                break
            if time.monotonic() > deadline:
                self.stop()
                raise TimeoutError(f"dovecot did not answer on {self.host}:{self.imap_port} within {timeout:.0f}s:\n"
                                   f"{self.log_tail()}")
            time.sleep(0.02)
        self.startup_seconds = time.monotonic() - began

    def _greeting_ok(self) -> bool:
        try:
            with socket.create_connection((self.host, self.imap_port), timeout=2) as sock:
                return sock.makefile("rb").readline().startswith(b"* OK")
        except OSError:
            return False

    def _accepts(self, port: int) -> bool:
        try:
            with socket.create_connection((self.host, port), timeout=2):
                return True
        except OSError:
            return False

    def _group_members(self) -> list[int]:
        """Live (non-zombie) processes in Dovecot's process group: the master and everything it forked."""
        if self.process is None:
            return []
        members = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            fields = stat[stat.rindex(")") + 2:].split()
            if fields[0] != "Z" and int(fields[2]) == self.process.pid:
                members.append(int(entry.name))
        return members

    def _kill_group(self) -> None:
        if self.process is not None and self._group_members():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)

    def _wait_group_gone(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while self._group_members() and time.monotonic() < deadline:
            time.sleep(0.02)

    def stop(self, timeout: float = 10.0) -> None:
        """Shut Dovecot down cleanly (SIGTERM; SIGKILL to every Dovecot process if that takes over ``timeout``)."""
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self._kill_group()
                self.process.wait()
        self._wait_group_gone(timeout)
        self._kill_group()
        self._wait_group_gone(5)
        self.process = None

    def kill(self) -> None:
        """Crash: SIGKILL to every Dovecot process at once (master, logins, open IMAP sessions), as if the host died.

        Clients see their connections reset and new connections refused until ``restart()``.
        """
        if self.process is None:
            return
        self._kill_group()
        self.process.wait()
        self._wait_group_gone(5)
        self.process = None

    def restart(self, timeout: float = 15.0) -> None:
        """Stop (if running) and start again: same ports, certificate, users and mail."""
        self.stop()
        self.start(timeout)

    def close(self) -> None:
        """Stop and, unless the folder was given to the constructor, remove it."""
        self.stop()
        if self._own_root:
            shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> Dovecot:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def log_tail(self, lines: int = 40) -> str:
        """The last lines of Dovecot's log (and of anything it printed before its log was open)."""
        parts = []
        for path in (self.stderr_path, self.log_path):
            if path.exists():
                text = path.read_text(errors="replace").splitlines()[-lines:]
                if text:
                    parts.append(f"--- {path.name}\n" + "\n".join(text))
        return "\n".join(parts) or "(no log yet)"

    # ----- users

    def add_user(self, name: str, password: str, *, timeout: float = 5.0) -> None:
        """Create the account ``name`` (or change its password); it can log in as soon as this returns.

        Each user has a passwd-file of its own, which Dovecot reads at login: no reload needed. A changed password
        may only be seen from the next second on (Dovecot looks at a known file at most once a second), so this
        method logs in over IMAPS until the password works, which also creates the INBOX. Without a running server
        only the file is written.
        """
        if not re.fullmatch(r"[a-z0-9][a-z0-9._-]*", name):
            raise ValueError(f"user names here are lowercase letters, digits, '.', '_' and '-': {name!r}")
        if not password or re.search(r"[:\r\n]", password):
            raise ValueError("a password must be non-empty and free of ':' and line breaks")
        with self._users_lock:
            self._passwords[name] = password
            self.home_root.mkdir(exist_ok=True)
            home = self.home_root / name
            home.mkdir(exist_ok=True)
            os.chown(home, MAIL_UID, MAIL_GID)
            self._write_user(name, password)
        if not self.running:
            return
        deadline = time.monotonic() + timeout
        while True:
            try:
                with self.session(name):
                    return
            except imaplib.IMAP4.error as error:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"Dovecot did not accept the new password of {name!r}:\n"
                                       f"{self.log_tail()}") from error
                time.sleep(0.1)

    # ----- mail access for tests (stdlib imaplib over implicit TLS, logged in as the user)

    @contextlib.contextmanager
    def session(self, user: str, *, timeout: float = 10.0) -> Iterator[imaplib.IMAP4_SSL]:
        """An imaplib connection over implicit TLS, logged in as ``user`` (a user made by ``add_user``)."""
        conn = imaplib.IMAP4_SSL(self.host, self.imaps_port, ssl_context=self.ssl_context(), timeout=timeout)
        try:
            conn.login(user, self._passwords[user])
            yield conn
        finally:
            with contextlib.suppress(Exception):
                conn.logout()

    def deliver(self, user: str, raw_bytes: bytes, folder: str = "INBOX", flags: Iterable[str] = ()) -> int:
        """Put a message into ``user``'s ``folder`` with IMAP APPEND (so Dovecot itself stores and indexes it).

        APPEND needs CRLF line endings, so bare LF and bare CR become CRLF; all other bytes go in unchanged.
        ``flags`` are IMAP flags such as ``"\\\\Seen"``. A missing folder is created first. Returns the new UID.
        """
        wire_folder = imap_quote(imap_utf7_encode(folder))
        flag_names = tuple(flags)
        flag_list = "(" + " ".join(flag_names) + ")" if flag_names else None
        message = crlf(raw_bytes)
        with self.session(user) as conn:
            status, data = conn.append(wire_folder, flag_list, None, message)
            if status == "NO" and b"[TRYCREATE]" in b" ".join(d for d in data if isinstance(d, bytes)):
                _check(conn.create(wire_folder), f"CREATE {folder}")
                status, data = conn.append(wire_folder, flag_list, None, message)
            _check((status, data), f"APPEND to {folder}")
            match = re.search(rb"\[APPENDUID \d+ (\d+)\]", data[0] or b"")
            if match is None:
                raise imaplib.IMAP4.error(f"APPEND gave no APPENDUID: {data!r}")
            return int(match.group(1))

    def list_messages(self, user: str, folder: str = "INBOX") -> list[StoredMessage]:
        """Every message in ``folder`` as ``(uid, flags, raw)``, oldest UID first, read without setting ``\\Seen``.

        ``raw`` is what Dovecot serves (CRLF line endings); ``flags`` are sorted, without the per-session
        ``\\Recent``. Raises ``imaplib.IMAP4.error`` if the folder does not exist.
        """
        with self.session(user) as conn:
            wire_folder = imap_quote(imap_utf7_encode(folder))
            count = int(_check(conn.select(wire_folder, readonly=True), f"EXAMINE {folder}")[0])
            if count == 0:
                return []
            flags: dict[int, tuple[str, ...]] = {}
            for item in _check(conn.uid("FETCH", "1:*", "(UID FLAGS)"), "FETCH FLAGS"):
                if not isinstance(item, bytes):
                    continue
                uid_match = re.search(rb"UID (\d+)", item)
                flag_match = re.search(rb"FLAGS \(([^)]*)\)", item)
                if uid_match and flag_match:
                    names = flag_match.group(1).decode().split()
                    flags[int(uid_match.group(1))] = tuple(sorted(f for f in names if f != "\\Recent"))
            messages = []
            for uid in sorted(flags):
                data = _check(conn.uid("FETCH", str(uid), "(BODY.PEEK[])"), f"FETCH {uid}")
                raw = next(part[1] for part in data if isinstance(part, tuple))
                messages.append(StoredMessage(uid, flags[uid], raw))
            return messages

    def folders(self, user: str) -> list[str]:
        """The names of all of ``user``'s folders (decoded from modified UTF-7), sorted."""
        names = []
        with self.session(user) as conn:
            for item in _check(conn.list('""', '"*"'), "LIST"):
                if isinstance(item, tuple):  # the name came as a literal
                    names.append(item[1].decode("utf-8", "surrogateescape"))
                elif isinstance(item, bytes):
                    match = re.fullmatch(rb'\([^)]*\) (?:"(?:[^"\\]|\\.)*"|NIL) (.+)', item)
                    if match:
                        names.append(_unquote(match.group(1)))
        return sorted(imap_utf7_decode(name) for name in names)


# ---------------------------------------------------------------------------------------------------- SMTP sink


@dataclass
class SmtpMessage:
    """One message the sink accepted (or refused, in ``SmtpSink.refused``)."""

    mail_from: str
    rcpt_tos: list[str]
    raw: bytes  # as received: CRLF line endings, dot-stuffing undone
    message: EmailMessage  # parsed (see parse_message)
    login: str | None = None  # the AUTH user name, if the client authenticated
    mail_options: list[str] = field(default_factory=list)


class _SinkHandler:
    def __init__(self, sink: SmtpSink) -> None:
        self.sink = sink

    async def handle_MAIL(self, server: SMTP, session: Session, envelope: Envelope, address: str,
                          mail_options: list[str]) -> str:
        if self.sink.username is not None and not session.authenticated:
            return "530 5.7.0 Authentication required"
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(self, server: SMTP, session: Session, envelope: Envelope, address: str,
                          rcpt_options: list[str]) -> str:
        if address in self.sink.refuse_recipients:
            return "550 5.1.1 no such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_EHLO(self, server: SMTP, session: Session, envelope: Envelope, hostname: str,
                          responses: list[str]) -> list[str]:
        self.sink.greetings += 1
        session.host_name = hostname
        return responses

    async def handle_HELO(self, server: SMTP, session: Session, envelope: Envelope, hostname: str) -> str:
        self.sink.greetings += 1
        session.host_name = hostname
        return f"250 {server.hostname}"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or envelope.content or b""
        if isinstance(raw, str):
            raw = raw.encode("utf-8", "surrogateescape")
        login = session.auth_data.login if isinstance(session.auth_data, LoginPassword) else None
        record = SmtpMessage(mail_from=envelope.mail_from or "", rcpt_tos=list(envelope.rcpt_tos), raw=raw,
                             message=parse_message(raw), login=login.decode("utf-8", "replace") if login else None,
                             mail_options=list(envelope.mail_options))
        reply = self.sink._take_failure()
        if reply is not None:
            self.sink.refused.append(record)
            return reply
        self.sink.messages.append(record)
        return "250 2.0.0 OK queued"


class SmtpSink:
    """An SMTP server (aiosmtpd, in a thread) on loopback that keeps every message it accepts in ``messages``.

    - ``username``/``password``: AUTH PLAIN and LOGIN are offered, and MAIL FROM is refused with 530 until the
      client authenticated (over plain SMTP too, on loopback). Without them there is no AUTH. Every attempt is
      in ``auth_attempts``.
    - ``tls``: ``"none"``; ``"starttls"`` (STARTTLS offered, AUTH only after it); ``"implicit"`` (TLS from the
      first byte, like port 465). The certificate is ``certificate`` or a fresh self-signed one (see ``ca_file``).
    - ``down()`` closes the port (connections refused, open sessions cut); ``up()`` listens again on the same port.
    - ``fail_next(n)`` answers the next ``n`` messages' DATA with ``451 4.3.0 try again later`` (or ``reply``).
    - ``smtputf8``: whether EHLO offers SMTPUTF8 (RFC 6531, mail to addresses such as ``张伟@example.cn``); a
      server without it is the common case a client must cope with.
    - ``refuse_recipients``: RCPT TO of these addresses is answered ``550 5.1.1 no such user``.
    - ``greetings`` counts the EHLO and HELO commands heard (one per connection, two with STARTTLS): how often
      a client came to send.
    """

    def __init__(self, host: str = "127.0.0.1", port: int | None = None, *, username: str | None = None,
                 password: str | None = None, tls: Literal["none", "starttls", "implicit"] = "none",
                 certificate: Certificate | None = None, server_hostname: str = "sink.example.test",
                 smtputf8: bool = True, refuse_recipients: Iterable[str] = ()) -> None:
        if (username is None) != (password is None):
            raise ValueError("give both username and password, or neither")
        self.host = host
        self.port = port if port is not None else free_port(host)
        self.username = username
        self.password = password
        self.tls = tls
        self.server_hostname = server_hostname
        self.smtputf8 = smtputf8
        self.refuse_recipients = set(refuse_recipients)
        self.greetings = 0
        self.messages: list[SmtpMessage] = []
        self.refused: list[SmtpMessage] = []
        self.auth_attempts: list[tuple[str, str, bool]] = []  # (mechanism, login, accepted)
        self._failures: list[str] = []
        self._lock = threading.Lock()
        self._controller: Controller | None = None
        self._cert_dir: Path | None = None
        self.certificate = certificate
        if tls != "none" and certificate is None:
            self._cert_dir = Path(tempfile.mkdtemp(prefix="smtp-sink-"))
            self.certificate = make_certificate(self._cert_dir)

    @property
    def ca_file(self) -> Path | None:
        return self.certificate.cert_file if self.certificate else None

    @property
    def is_up(self) -> bool:
        return self._controller is not None

    def ssl_context(self) -> ssl.SSLContext:
        """A client context trusting the sink's certificate (only with ``tls`` other than ``"none"``)."""
        if self.certificate is None:
            raise ValueError("this sink does not use TLS")
        return self.certificate.client_context()

    def _authenticate(self, server: SMTP, session: Session, envelope: Envelope, mechanism: str,
                      auth_data: Any) -> AuthResult:
        if not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        login = auth_data.login.decode("utf-8", "replace")
        ok = login == self.username and auth_data.password.decode("utf-8", "replace") == self.password
        self.auth_attempts.append((mechanism, login, ok))
        return AuthResult(success=ok, handled=False, auth_data=auth_data if ok else None)

    def up(self) -> None:
        """Listen (again) on ``host:port``."""
        if self._controller is not None:
            return
        kwargs: dict[str, Any] = {"server_hostname": self.server_hostname, "enable_SMTPUTF8": self.smtputf8}
        if self.username is not None:  # AUTH is required before MAIL FROM by _SinkHandler.handle_MAIL
            kwargs.update(authenticator=self._authenticate, auth_require_tls=self.tls == "starttls")
        if self.tls == "starttls":
            assert self.certificate is not None
            kwargs["tls_context"] = self.certificate.server_context()
        elif self.tls == "implicit":
            assert self.certificate is not None
            kwargs["ssl_context"] = self.certificate.server_context()
        controller = Controller(_SinkHandler(self), hostname=self.host, port=self.port, ready_timeout=10, **kwargs)
        controller.start()
        self._controller = controller

    start = up

    def down(self) -> None:
        """Stop listening: new connections are refused, sessions in progress are cut."""
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def close(self) -> None:
        self.down()
        if self._cert_dir is not None:
            shutil.rmtree(self._cert_dir, ignore_errors=True)

    def __enter__(self) -> SmtpSink:
        self.up()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def fail_next(self, n: int = 1, reply: str = "451 4.3.0 try again later") -> None:
        """Answer the DATA of the next ``n`` messages with ``reply`` instead of accepting them."""
        with self._lock:
            self._failures.extend([reply] * n)

    def _take_failure(self) -> str | None:
        with self._lock:
            return self._failures.pop(0) if self._failures else None

    async def wait_for(self, count: int = 1, timeout: float = 5.0) -> list[SmtpMessage]:
        """Wait until at least ``count`` messages were accepted; returns all accepted so far."""
        deadline = asyncio.get_running_loop().time() + timeout
        while len(self.messages) < count:
            if asyncio.get_running_loop().time() > deadline:
                raise TimeoutError(f"{len(self.messages)} of {count} messages after {timeout}s "
                                   f"({len(self.refused)} refused)")
            await asyncio.sleep(0.02)
        return list(self.messages)


# ------------------------------------------------------------------------------------------------------ fixtures


@dataclass
class MailUser:
    """An account on a test Dovecot; the methods are shortcuts to the server's, for this user."""

    name: str
    password: str
    address: str
    server: Dovecot = field(repr=False)

    def deliver(self, raw_bytes: bytes, folder: str = "INBOX", flags: Iterable[str] = ()) -> int:
        return self.server.deliver(self.name, raw_bytes, folder, flags)

    def list_messages(self, folder: str = "INBOX") -> list[StoredMessage]:
        return self.server.list_messages(self.name, folder)

    def folders(self) -> list[str]:
        return self.server.folders(self.name)


def new_user(server: Dovecot) -> MailUser:
    """A fresh account (``t`` + 8 hex digits, random password) on ``server``."""
    name = f"t{uuid.uuid4().hex[:8]}"
    password = secrets.token_urlsafe(12)
    server.add_user(name, password)
    return MailUser(name=name, password=password, address=server.address(name), server=server)


def _dovecot_or_skip() -> Dovecot:
    problem = dovecot_problem()
    if problem:
        if os.environ.get("REQUIRE_MAIL_SERVER"):
            pytest.fail(f"REQUIRE_MAIL_SERVER is set, but Dovecot cannot run here: {problem}")
        pytest.skip(f"Dovecot cannot run here: {problem}")
    return Dovecot()


@pytest.fixture(scope="session")
def dovecot() -> Iterator[Dovecot]:
    """One Dovecot for the whole test session (``mailbox`` gives each test its own account on it)."""
    server = _dovecot_or_skip()
    try:
        server.start()
        yield server
    finally:
        server.close()


@pytest.fixture
def fresh_dovecot() -> Iterator[Dovecot]:
    """A Dovecot for this test alone: kill it, restart it, reconfigure it."""
    server = _dovecot_or_skip()
    try:
        server.start()
        yield server
    finally:
        server.close()


@pytest.fixture
def mailbox(dovecot: Dovecot) -> MailUser:
    """A new user on the session Dovecot, with an empty INBOX (restarts the server if a test left it down)."""
    if not dovecot.running:
        dovecot.start()
    return new_user(dovecot)


@pytest.fixture
def smtp_sink() -> Iterator[SmtpSink]:
    """A fresh SMTP sink on loopback: plain SMTP, no AUTH (make your own ``SmtpSink(...)`` for those)."""
    with SmtpSink() as sink:
        yield sink

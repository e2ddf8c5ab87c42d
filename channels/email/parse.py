"""Email parsing: the bytes of one RFC 5322 message in, a ``ParsedEmail`` out. Pure: no I/O, no clock.

Guarantees:
- ``parse`` never raises. Any bytes at all give a ``ParsedEmail`` carrying ``raw_size`` and a
  ``message_id`` (the Message-ID header, or one derived from the SHA-256 of the raw bytes when the header
  is missing, flagged by ``message_id_derived``). What cannot be made sense of is kept as best-effort
  text with a defect flag, so the caller can record the message instead of dropping it.
- Text is decoded the way mail clients do, not the way the RFCs wish senders wrote it: GB2312 and GBK
  are read as GB18030 (their superset), Big5 as Big5-HKSCS, Shift_JIS as cp932, ks_c_5601-1987 as cp949,
  US-ASCII and Latin-1 as Windows-1252; raw 8-bit header bytes are tried as the part's charset, UTF-8,
  the charsets the message declares elsewhere, GB18030 and Windows-1252, in that order, except that UTF-8
  goes first when the part's charset is a single-byte one (see ``_decode_bytes``). Adjacent RFC 2047
  words in one charset are joined as bytes before decoding, so a character (or an ISO-2022-JP escape
  sequence) split across two words survives. An unknown charset falls back; nothing raises.
- MIME is split by this module, not by ``email.feedparser``, so that a wrong or missing boundary
  parameter, a missing final boundary and a multipart nested with its parent's own boundary still give
  their parts. Nesting depth and part count are bounded.
- ``text`` is the whole body as clean text (text/plain preferred, else HTML converted with scripts and
  styles dropped). ``reply_text`` is that text without quoted history (``>`` quotes, attribution lines in
  several languages, Outlook header blocks in English and Chinese, "Original Message" separators,
  bottom-posting); ``new_text`` is ``reply_text`` without the signature.
- ``kind`` says whether a person wrote the message ("customer") or a machine did ("auto_reply",
  "bounce", "delay", "arf", "mdn"); structure (multipart/report) wins over headers, headers over
  heuristics. A forwarded message is a customer's, even when what it forwards is a bounce.
- Attachment content is kept up to ``max_attachment_bytes`` per attachment (``truncated`` says when it
  was cut); attachment names never carry a path.

Threading: ``to_inbound`` keys a conversation by the mailbox and the thread's root message id (the first
of References, else In-Reply-To, else the message's own id). Deciding whether a reply may join the
conversation it names (the sender must be its contact) needs state, and is the router's job.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from channels.email.charsets import _codec, _decode_bytes
from channels.email.html_text import _HARD_CUT, _SOFT_CUT, _html_lines
from channels.email.machine_mail import (
    _FORWARD_SUBJECT,
    DeliveryStatus,
    Kind,
    Report,
    _auto_reply,
    _bounce_or_delay,
    _classify_text_bounce,
    _dsn_recipients,
    _fields,
    _first_field,
    _list_id,
    _severest,
    _typed_address,
)
from channels.email.mime import (
    _CONTROL_RUN,
    _HEADER_LINE,
    MAX_DEPTH,
    Address,
    _addresses,
    _decode_transfer,
    _decode_words,
    _header_charset,
    _header_text,
    _Headers,
    _message_ids,
    _parse_date,
    _parse_entity,
    _parse_params,
    _Part,
    _split_head,
    _Tree,
)
from channels.email.quotes import _finish, _own_names, _split_reply, _strip_blank_edges
from channels.message import Attachment, Contact, InboundMessage

TextSource = Literal["plain", "html", "none"]

DEFAULT_MAX_ATTACHMENT_BYTES = 10 * 1024 * 1024
# The case ids the desk writes in its replies' subjects (handoff/ids.py makes them: the day, then four characters
# of an alphabet without look-alikes), spelled here since channels import nothing of the desk;
# tests/channels/email/test_parse.py holds the two alphabets together.
CASE_ID_ALPHABET = "234679ACDEFGHJKMNPQRTWXY"
CASE_TAG = re.compile(rf"\[(C-\d{{6}}-[{CASE_ID_ALPHABET}]{{4}})\]")


# --------------------------------------------------------------------------------------------- model


@dataclass(frozen=True, slots=True)
class EmailAttachment:
    name: str  # sanitized: no directories, no control characters, never empty
    content_type: str
    size: int  # decoded size, also when ``content`` was truncated
    content: bytes
    truncated: bool = False
    inline: bool = False
    content_id: str | None = None


@dataclass(frozen=True, slots=True)
class ParsedEmail:
    message_id: str  # without angle brackets
    message_id_derived: bool
    in_reply_to: str | None
    references: tuple[str, ...]
    subject: str
    normalized_subject: str  # reply and forward prefixes (Re:, FW:, 答复:, 转发: ...) removed
    case_tag: str | None  # "C-yymmdd-XXXX" from the subject (or, for reports, the returned message's)
    from_name: str
    from_address: str
    reply_to: tuple[Address, ...]
    to: tuple[Address, ...]
    cc: tuple[Address, ...]
    date: datetime | None  # the Date header, in UTC; None when missing or unreadable
    kind: Kind
    report: Report | None  # for "bounce", "delay", "arf" and "mdn"
    text: str
    reply_text: str
    new_text: str
    text_source: TextSource
    attachments: tuple[EmailAttachment, ...]
    attached_messages: tuple[ParsedEmail, ...]  # message/rfc822 parts: forwards, returned messages
    list_id: str | None  # set when a mailing list relayed the message
    defects: tuple[str, ...]
    raw_size: int

    @property
    def is_automatic(self) -> bool:
        """True for anything a machine sent: never answer it, never open an intake from it."""
        return self.kind != "customer"


# -------------------------------------------------------------------------------------- plain bodies


def _unflow(text: str, delsp: bool) -> str:
    """RFC 3676 format=flowed: soft-broken lines joined back into paragraphs, quote depth kept."""
    out: list[str] = []
    buffer: str | None = None
    depth_of_buffer = 0
    for line in text.split("\n"):
        depth = len(line) - len(line.lstrip(">"))
        content = line[depth:]
        if content.startswith(" "):
            content = content[1:]
        if buffer is not None and depth != depth_of_buffer:
            out.append(">" * depth_of_buffer + (" " if depth_of_buffer else "") + buffer)
            buffer = None
        flowed = content.endswith(" ") and content != "-- "
        if flowed and delsp:
            content = content[:-1]
        buffer = content if buffer is None else buffer + content
        depth_of_buffer = depth
        if not flowed:
            out.append(">" * depth + (" " if depth else "") + buffer)
            buffer = None
    if buffer is not None:
        out.append(">" * depth_of_buffer + (" " if depth_of_buffer else "") + buffer)
    return "\n".join(out)


# --------------------------------------------------------------------------------------- attachments

_UNSAFE_NAME_CHARS = re.compile(r'[\x00-\x1f\x7f<>:"|?*\u202a-\u202e\u2066-\u2069\u200e\u200f]')
_RESERVED_NAMES = re.compile(r"^(?:con|prn|aux|nul|com\d|lpt\d)(?:\..*)?$", re.I)
_EXTENSIONS = {
    "message/rfc822": ".eml", "text/plain": ".txt", "text/html": ".html", "application/pdf": ".pdf",
    "image/jpeg": ".jpg", "image/png": ".png", "image/gif": ".gif", "text/rfc822-headers": ".txt",
    "text/calendar": ".ics", "application/pgp-signature": ".asc", "application/pkcs7-signature": ".p7s",
}


def safe_filename(name: str, fallback: str) -> str:
    """A file name that is only a name: no directories, no control or bidi characters, not hidden."""
    name = unicodedata.normalize("NFC", name).replace("\\", "/").rsplit("/", 1)[-1]
    name = _UNSAFE_NAME_CHARS.sub("_", name).strip().lstrip(".").strip()
    if _RESERVED_NAMES.match(name):
        name = "_" + name
    if len(name) > 200:
        stem, dot, extension = name.rpartition(".")
        name = (stem[:200 - len(extension) - 1] + dot + extension) if dot and len(extension) < 20 else name[:200]
    return name or fallback


# ------------------------------------------------------------------------------------ body collection


@dataclass(slots=True)
class _Collected:
    bodies: list[tuple[str, str]] = field(default_factory=list)  # (content type, decoded text)
    attachments: list[EmailAttachment] = field(default_factory=list)
    messages: list[ParsedEmail] = field(default_factory=list)
    report_types: list[str] = field(default_factory=list)
    delivery_status: list[bytes] = field(default_factory=list)
    feedback: list[bytes] = field(default_factory=list)
    disposition: list[bytes] = field(default_factory=list)
    returned_headers: list[bytes] = field(default_factory=list)


_REPORT_PARTS = {
    "message/delivery-status": "delivery_status", "message/global-delivery-status": "delivery_status",
    "message/feedback-report": "feedback", "message/disposition-notification": "disposition",
    "message/global-disposition-notification": "disposition",
}
_SIGNATURE_TYPES = ("application/pgp-signature", "application/pkcs7-signature", "application/x-pkcs7-signature")
_META_CHARSET = re.compile(rb"""<meta[^>]{0,300}?charset\s*+=\s*+["']?([\w.:-]+)""", re.I)


class _Walker:
    """Walks the MIME tree once, sorting parts into body text, attachments, reports and messages."""

    def __init__(self, tree: _Tree, hints: Sequence[str], limit: int, depth: int) -> None:
        self.tree = tree
        self.hints = hints
        self.limit = limit
        self.depth = depth

    def walk(self, part: _Part, out: _Collected) -> None:
        ctype = part.ctype
        if ctype.startswith("multipart/"):
            self._multipart(part, out)
        elif ctype in _REPORT_PARTS:
            getattr(out, _REPORT_PARTS[ctype]).append(_decode_transfer(part, self.tree))
        elif ctype in ("message/rfc822", "message/global"):
            self._message(part, out)
        elif ctype in ("text/rfc822-headers", "message/rfc822-headers", "message/global-headers"):
            out.returned_headers.append(_decode_transfer(part, self.tree))
            self._attach(part, out)
        elif self._is_body(part, out):
            out.bodies.append((ctype, self._text(part)))
        else:
            self._attach(part, out)

    def _multipart(self, part: _Part, out: _Collected) -> None:
        subtype = part.ctype[10:]
        children = part.children
        if subtype == "alternative":
            self._alternative(children, out)
        elif subtype == "signed":
            # The first part is the message; the rest is its signature, whatever type a client gave it.
            if children:
                self.walk(children[0], out)
            for child in children[1:]:
                if child.ctype not in _SIGNATURE_TYPES and not child.ctype.startswith("text/"):
                    self._attach(child, out)
        elif subtype == "related" and children:
            start = part.params.get("start", "").strip("<> ")
            root = next((c for c in children if c.headers.text("content-id").strip("<> ") == start and start),
                        children[0])
            self.walk(root, out)
            for child in children:
                if child is root:
                    continue
                if child.ctype.startswith("multipart/"):
                    self.walk(child, out)
                else:
                    self._attach(child, out, inline=True)  # images the HTML body shows
        else:
            if subtype == "report":
                out.report_types.append(part.params.get("report-type", "").lower().strip())
            elif subtype == "encrypted":
                self.tree.defect("encrypted")
            for child in children:
                self.walk(child, out)

    def _alternative(self, children: list[_Part], out: _Collected) -> None:
        options: list[tuple[int, _Collected]] = []
        for child in children:
            sub = _Collected()
            self.walk(child, sub)
            score = 0
            for ctype, text in sub.bodies:
                if text.strip():
                    score = max(score, 2 if ctype == "text/plain" else 1)
            options.append((score, sub))
        if not options:
            return
        best = max(range(len(options)), key=lambda i: (options[i][0], -i))
        for i, (_, sub) in enumerate(options):
            if i == best:
                out.bodies.extend(sub.bodies)
                out.messages.extend(sub.messages)
                out.report_types.extend(sub.report_types)
                out.delivery_status.extend(sub.delivery_status)
                out.feedback.extend(sub.feedback)
                out.disposition.extend(sub.disposition)
                out.returned_headers.extend(sub.returned_headers)
            out.attachments.extend(sub.attachments)

    def _disposition(self, part: _Part, hints: Sequence[str] | None = None) -> tuple[str, dict[str, str]]:
        raw = part.headers.get("content-disposition")
        return _parse_params(raw.decode("latin-1"), hints) if raw is not None else ("", {})

    def _filename(self, part: _Part) -> str:
        charset = _codec(part.params.get("charset"))
        hints = [charset, *self.hints] if charset else list(self.hints)
        _, dparams = self._disposition(part, hints)
        name = dparams.get("filename") or ""
        if not name:
            raw = part.headers.get("content-type")
            name = _parse_params(raw.decode("latin-1"), hints)[1].get("name", "") if raw is not None else ""
        return _CONTROL_RUN.sub(" ", _decode_words(name, hints)).strip()

    def _is_body(self, part: _Part, out: _Collected) -> bool:
        if part.ctype not in ("text/plain", "text/html"):
            return False
        disposition, dparams = self._disposition(part)
        if disposition == "attachment":
            return False
        named = bool(dparams.get("filename") or part.params.get("name"))
        return not (named and out.bodies)

    def _text(self, part: _Part) -> str:
        data = _decode_transfer(part, self.tree)
        charset = part.params.get("charset")
        if charset is None and part.ctype == "text/html":
            meta = _META_CHARSET.search(data[:4096])
            charset = meta.group(1).decode("ascii", "replace") if meta else None
        if charset and _codec(charset) is None:
            self.tree.defect("unknown_charset")
        text = _decode_bytes(data, charset, self.hints).replace("\r\n", "\n").replace("\r", "\n")
        if part.ctype == "text/plain" and part.params.get("format", "").lower() == "flowed":
            text = _unflow(text, part.params.get("delsp", "").lower() == "yes")
        return text.replace("\x00", "")

    def _attach(self, part: _Part, out: _Collected, inline: bool = False) -> None:
        if part.ctype.startswith("multipart/"):
            for child in part.children:
                self._attach(child, out, inline)
            return
        data = _decode_transfer(part, self.tree)
        disposition, _ = self._disposition(part)
        fallback = f"attachment-{len(out.attachments) + 1}{_EXTENSIONS.get(part.ctype, '.bin')}"
        content_id = part.headers.text("content-id").strip("<> ") or None
        out.attachments.append(EmailAttachment(
            name=safe_filename(self._filename(part), fallback), content_type=part.ctype, size=len(data),
            content=data[:self.limit], truncated=len(data) > self.limit,
            inline=inline or disposition == "inline", content_id=content_id))

    def _message(self, part: _Part, out: _Collected) -> None:
        data = _decode_transfer(part, self.tree)
        if self.depth + 1 < MAX_DEPTH:
            inner = _parse_guarded(data, self.limit, self.depth + 1)
            out.messages.append(inner)
            title = inner.subject[:80].replace("/", "_").replace("\\", "_")
            fallback = safe_filename(f"{title or 'message'}.eml", "message.eml")
        else:
            self.tree.defect("too_deep")
            fallback = "message.eml"
        name = safe_filename(self._filename(part), fallback)
        out.attachments.append(EmailAttachment(
            name=name, content_type=part.ctype, size=len(data), content=data[:self.limit],
            truncated=len(data) > self.limit))


def _charset_hints(root: _Part, headers: _Headers) -> list[str]:
    """Charsets the message declares anywhere: its parts', and its headers' encoded words."""
    found: list[str] = []
    stack = [root]
    while stack:
        part = stack.pop()
        stack.extend(reversed(part.children))
        codec = _codec(part.params.get("charset"))
        if codec and codec not in found:
            found.append(codec)
    for _, value in headers.fields:
        if b"=?" in value:
            for match in re.finditer(rb"=\?([^?\s]+)\?[bBqQ]\?", value):
                codec = _codec(match.group(1).decode("latin-1"))
                if codec and codec not in found:
                    found.append(codec)
    return [c for c in found if c not in ("utf-8", "ascii")]


# ------------------------------------------------------------------------------- reports of the walk

# What the parts the walk collected say a machine-made message is (their fields: machine_mail).


def _returned_from_parts(out: _Collected) -> tuple[str | None, str | None]:
    if out.messages:
        inner = out.messages[0]
        return (None if inner.message_id_derived else inner.message_id), inner.subject or None
    for data in out.returned_headers:
        headers, _, _ = _split_head(data.replace(b"\r\n", b"\n").rstrip(b"\n") + b"\n\n")
        ids = _message_ids(headers.text("message-id"))
        return (ids[0] if ids else None), _header_text(headers.get("subject"), ()) or None
    return None, None


def _classify_report(out: _Collected) -> tuple[Kind, Report] | None:
    """Structure first: multipart/report and report parts say what a message is, whatever it claims."""
    types = set(out.report_types)
    if out.feedback or "feedback-report" in types:
        blocks = [b for data in out.feedback for b in _fields(data)]
        original_id, original_subject = _returned_from_parts(out)
        rcpt = _first_field(blocks, "original-rcpt-to")
        return "arf", Report(
            recipients=(DeliveryStatus(recipient=_typed_address(rcpt)),) if rcpt else (),
            feedback_type=(_first_field(blocks, "feedback-type") or "").lower() or None,
            source_ip=_first_field(blocks, "source-ip"), reported_domain=_first_field(blocks, "reported-domain"),
            original_message_id=original_id, original_subject=original_subject)
    if out.disposition or "disposition-notification" in types:
        blocks = [b for data in out.disposition for b in _fields(data)]
        original_id, original_subject = _returned_from_parts(out)
        mdn_id = _message_ids(_first_field(blocks, "original-message-id") or "")
        final = _first_field(blocks, "final-recipient")
        return "mdn", Report(
            recipients=(DeliveryStatus(recipient=_typed_address(final)),) if final else (),
            disposition=_first_field(blocks, "disposition"),
            original_message_id=mdn_id[0] if mdn_id else original_id, original_subject=original_subject)
    if not (out.delivery_status or "delivery-status" in types):
        return None
    recipients = _dsn_recipients(out.delivery_status)
    status = _severest(r.status for r in recipients)
    original_id, original_subject = _returned_from_parts(out)
    return _bounce_or_delay(recipients, status), Report(
        recipients=tuple(recipients), status=status,
        diagnostic=next((r.diagnostic for r in recipients if r.diagnostic), None),
        original_message_id=original_id, original_subject=original_subject)


# --------------------------------------------------------------------------------------------- parse

_REPLY_PREFIXES = re.compile(
    r"^(?:\s*+(?:(?:re|aw|sv|vs|antw|odp|ynt|fwd?|fw|wg|tr|rv|enc|答复|回复|回覆|答覆|转发|轉寄|转寄|转|轉)"
    r"\s*+(?:\[\d+\]|\(\d+\))?\s*+[:：]|\[C-\d{6}-[" + CASE_ID_ALPHABET + r"]{4}\]))++", re.I)
_UNDECODABLE = re.compile("锟斤|斤拷|\ufffd")


def normalize_subject(subject: str) -> str:
    """The subject without its reply and forward prefixes (Re:, RE:, Fwd:, FW:, 答复:, 回复:, 转发: ...).

    Prefixes are removed however often they repeat, also when a case tag sits between them.
    """
    return " ".join(_REPLY_PREFIXES.sub("", subject, count=1).split())


def _derived_id(raw: bytes) -> str:
    return f"{hashlib.sha256(raw).hexdigest()[:40]}@sha256.invalid"


def _body_text(out: _Collected) -> tuple[str, list[str], TextSource]:
    """The whole text, the lines for reply splitting (with HTML quote markers) and where they came from."""
    texts: list[str] = []
    reply_lines: list[str] = []
    source: TextSource = "none"
    for ctype, content in out.bodies:
        if ctype == "text/html":
            lines = _html_lines(content)
            source = source if source == "plain" else "html"
        else:
            lines = content.split("\n")
            source = "plain"
        lines = _strip_blank_edges(lines)
        text = "\n".join(line for line in lines if line not in (_HARD_CUT, _SOFT_CUT)).rstrip()
        if text.strip():
            texts.append(text)
            reply_lines.extend([*lines, ""] if reply_lines or len(out.bodies) > 1 else lines)
    return "\n\n".join(texts), reply_lines, source


def _normalize_newlines(raw: bytes) -> bytes:
    data = raw.replace(b"\r\n", b"\n").replace(b"\r", b"\n") if b"\r" in raw else raw
    if data.startswith(b"From ") and not _HEADER_LINE.match(data.split(b"\n", 1)[0]):
        data = data.split(b"\n", 1)[1] if b"\n" in data else b""  # an mbox "From " envelope line
    return data


def _parse(raw: bytes, limit: int, depth: int) -> ParsedEmail:
    tree = _Tree()
    root = _parse_entity(_normalize_newlines(raw), tree, depth)
    headers = root.headers
    hints = _charset_hints(root, headers)
    if any(not value.isascii() for _, value in headers.fields):
        tree.defect("raw_8bit_header")
    out = _Collected()
    _Walker(tree, hints, limit, depth).walk(root, out)

    ids = _message_ids(headers.text("message-id"))
    message_id = ids[0] if ids else _derived_id(raw)
    charset = _header_charset(headers, root.params.get("charset"))
    subject = _header_text(headers.get("subject"), hints, charset)
    senders = _addresses(headers.get_all("from") or headers.get_all("sender"), hints, charset)
    sender = senders[0] if senders else Address("", "")
    to = _addresses(headers.get_all("to"), hints, charset)
    cc = _addresses(headers.get_all("cc"), hints, charset)

    text, reply_lines, source = _body_text(out)
    if not text.strip() and out.messages:
        text, source = out.messages[0].text, out.messages[0].text_source  # a bare forward: its text is the news
        reply_lines = text.split("\n")
    if not text.strip():
        tree.defect("no_text")
    if _FORWARD_SUBJECT.match(subject):
        parts = _finish([line for line in reply_lines if line not in (_HARD_CUT, _SOFT_CUT)], [])
    else:
        parts = _finish(*_split_reply(reply_lines, _own_names(sender.name, sender.address)))

    list_id = _list_id(headers, hints)
    kind, report = _classify(headers, out, sender, subject, message_id if ids else "", text, to, list_id)
    tag = CASE_TAG.search(subject) or (CASE_TAG.search(report.original_subject or "") if report else None)
    names = " ".join(a.name for a in out.attachments)
    if any(_UNDECODABLE.search(s) for s in (subject, sender.name, text, names)):
        tree.defect("undecodable")

    references = tuple(_message_ids(" ".join(v.decode("latin-1") for v in headers.get_all("references"))))
    in_reply_to = _message_ids(headers.text("in-reply-to"))
    return ParsedEmail(
        message_id=message_id, message_id_derived=not ids, in_reply_to=in_reply_to[0] if in_reply_to else None,
        references=references, subject=subject, normalized_subject=normalize_subject(subject),
        case_tag=tag.group(1).upper() if tag else None, from_name=sender.name, from_address=sender.address,
        reply_to=_addresses(headers.get_all("reply-to"), hints, charset), to=to, cc=cc,
        date=_parse_date(headers.text("date")), kind=kind, report=report, text=text, reply_text=parts.reply,
        new_text=parts.new_text, text_source=source, attachments=tuple(out.attachments),
        attached_messages=tuple(out.messages), list_id=list_id, defects=tuple(tree.defects), raw_size=len(raw))


def _classify(headers: _Headers, out: _Collected, sender: Address, subject: str, message_id: str, text: str,
              to: Sequence[Address], list_id: str | None) -> tuple[Kind, Report | None]:
    structured = _classify_report(out)
    if structured is not None:
        return structured
    ignore = {a.address.lower() for a in (*to, sender) if a.address}
    textual = _classify_text_bounce(headers, sender, subject, text, ignore)
    if textual is not None:
        return textual
    # Precedence: bulk/list on a post a mailing list relayed says nothing about who wrote it.
    if _auto_reply(headers, subject, message_id, list_relay=list_id is not None):
        return "auto_reply", None
    return "customer", None


def _fallback(raw: bytes, error: BaseException) -> ParsedEmail:
    """What is left when parsing failed outright: the raw text, an id, and the reason."""
    try:
        text = _decode_bytes(raw.replace(b"\r\n", b"\n"), None)
    except Exception:  # the decoder itself may be what failed
        text = raw.decode("latin-1")
    found = re.search(rb"^message-id:\s*<([^>\r\n]+)>", raw, re.I | re.M)
    message_id = found.group(1).decode("latin-1").strip() if found else _derived_id(raw)
    return ParsedEmail(
        message_id=message_id, message_id_derived=found is None, in_reply_to=None, references=(), subject="",
        normalized_subject="", case_tag=None, from_name="", from_address="", reply_to=(), to=(), cc=(),
        date=None, kind="customer", report=None, text=text, reply_text=text, new_text=text, text_source="plain",
        attachments=(), attached_messages=(), list_id=None,
        defects=("parse_error", f"parse_error:{type(error).__name__}"), raw_size=len(raw))


def _parse_guarded(raw: bytes, limit: int, depth: int) -> ParsedEmail:
    try:
        return _parse(raw, limit, depth)
    except Exception as error:  # the guarantee: no message is ever dropped, whatever its bytes
        return _fallback(raw, error)


def parse(raw: bytes, *, max_attachment_bytes: int = DEFAULT_MAX_ATTACHMENT_BYTES) -> ParsedEmail:
    """Parse one message. CPU-bound and synchronous: run it in an executor from async code."""
    return _parse_guarded(bytes(raw), max(0, max_attachment_bytes), 0)


# -------------------------------------------------------------------------------------------- inbound


def thread_root(parsed: ParsedEmail) -> str:
    """The id of the message that started the thread, as far as this message knows."""
    if parsed.references:
        return parsed.references[0]
    return parsed.in_reply_to or parsed.message_id


def to_inbound(parsed: ParsedEmail, mailbox: str) -> InboundMessage:
    """The normalized message. ``conversation_key`` is ``<mailbox>:<hash of the thread root id>``.

    The root id is hashed so that ids with braces or odd characters never reach Redis key names.
    The text is the new part of the reply; when there is none (a bare forward), the whole text.
    """
    root = hashlib.sha256(thread_root(parsed).encode("utf-8", "surrogatepass")).hexdigest()[:32]
    return InboundMessage(
        channel="email",
        conversation_key=f"{mailbox.strip().lower()}:{root}",
        message_id=parsed.message_id,
        text=parsed.new_text or parsed.text,
        contact=Contact(name=parsed.from_name or None, email=parsed.from_address or None),
        attachments=tuple(Attachment(a.name, a.content_type, a.size) for a in parsed.attachments),
    )

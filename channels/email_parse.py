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

import binascii
import codecs
import functools
import hashlib
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from html import unescape
from html.parser import HTMLParser
from typing import Literal

from channels.message import Attachment, Contact, InboundMessage

Kind = Literal["customer", "auto_reply", "bounce", "delay", "arf", "mdn"]
TextSource = Literal["plain", "html", "none"]

DEFAULT_MAX_ATTACHMENT_BYTES = 10 * 1024 * 1024
MAX_DEPTH = 20  # MIME nesting, and messages attached to messages, beyond which parts are kept unparsed
MAX_PARTS = 500
# The case ids the desk writes in its replies' subjects (handoff/ids.py makes them: the day, then four characters
# of an alphabet without look-alikes), spelled here since channels import nothing of the desk;
# tests/channels/test_email_parse.py holds the two alphabets together.
CASE_ID_ALPHABET = "234679ACDEFGHJKMNPQRTWXY"
CASE_TAG = re.compile(rf"\[(C-\d{{6}}-[{CASE_ID_ALPHABET}]{{4}})\]")


# --------------------------------------------------------------------------------------------- model


@dataclass(frozen=True, slots=True)
class Address:
    name: str
    address: str  # as written; "" when the header had a name but no address (``MAILER DAEMON <>``)


@dataclass(frozen=True, slots=True)
class DeliveryStatus:
    """One recipient of a delivery report (RFC 3464), or what a text bounce says about one."""

    recipient: str
    status: str | None = None  # the enhanced status code alone, e.g. "5.1.1"
    action: str | None = None  # failed, delayed, delivered, relayed, expanded
    diagnostic: str | None = None
    original_recipient: str | None = None


@dataclass(frozen=True, slots=True)
class Report:
    """What a machine-made message reports, and which of our messages it is about."""

    recipients: tuple[DeliveryStatus, ...] = ()
    status: str | None = None  # the most severe status of all recipients
    diagnostic: str | None = None
    feedback_type: str | None = None  # ARF
    source_ip: str | None = None  # ARF
    reported_domain: str | None = None  # ARF
    disposition: str | None = None  # MDN
    original_message_id: str | None = None
    original_subject: str | None = None


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


# ------------------------------------------------------------------------------------------ charsets

_CHARSET_ALIASES = {
    "gb2312": "gb18030", "gbk": "gb18030", "x-gbk": "gb18030", "cp936": "gb18030", "ms936": "gb18030",
    "euc-cn": "gb18030", "x-euc-cn": "gb18030", "csgb2312": "gb18030", "gb_2312-80": "gb18030",
    "chinese": "gb18030", "gb2312-80": "gb18030", "936": "gb18030",
    "big5": "big5hkscs", "x-big5": "big5hkscs", "cn-big5": "big5hkscs", "csbig5": "big5hkscs", "cp950": "cp950",
    "shift_jis": "cp932", "shift-jis": "cp932", "sjis": "cp932", "x-sjis": "cp932", "ms_kanji": "cp932",
    "csshiftjis": "cp932", "windows-31j": "cp932",
    "iso-2022-jp": "iso2022_jp_2", "csiso2022jp": "iso2022_jp_2", "iso-2022-jp-1": "iso2022_jp_2",
    "ks_c_5601-1987": "cp949", "ks_c_5601": "cp949", "ks_c_5601-1989": "cp949", "ksc5601": "cp949",
    "ksc_5601": "cp949", "euc-kr": "cp949", "korean": "cp949", "csksc56011987": "cp949", "windows-949": "cp949",
    "us-ascii": "cp1252", "ascii": "cp1252", "ansi_x3.4-1968": "cp1252", "iso-8859-1": "cp1252",
    "iso8859-1": "cp1252", "latin1": "cp1252", "latin-1": "cp1252", "l1": "cp1252", "cp819": "cp1252",
    "tis-620": "cp874", "windows-874": "cp874", "x-mac-roman": "mac_roman", "macintosh": "mac_roman",
}
# Python codecs that are not text charsets a mail could honestly declare; decoding with them is refused.
_REFUSED_CODECS = {"idna", "punycode", "unicode_escape", "raw_unicode_escape", "undefined", "mbcs", "oem"}
_MULTIBYTE = ("gb18030", "big5hkscs", "cp950", "cp932", "euc_jp", "euc_jis_2004", "cp949", "iso2022", "utf",
              "hz", "shift_jis", "johab")
_SEVEN_BIT = ("iso2022", "hz", "utf-7")
# Close relatives to try before the generic guesses: mislabelled Japanese mail is far more often another
# Japanese charset than GB18030, and ISO-2022-JP senders use extensions iso2022_jp_2 lacks.
_RELATIVES = {
    "iso2022_jp_2": ("iso2022_jp_ext", "iso2022_jp_2004", "cp932", "euc_jp"), "euc_jp": ("cp932",),
    "cp932": ("euc_jp",), "big5hkscs": ("cp950",),
}
_FALLBACK_CHAIN = ("utf-8", "gb18030", "cp1252", "latin-1")


@functools.lru_cache(maxsize=512)
def _codec(name: str | None) -> str | None:
    """The Python codec to read a declared charset with, or None when it is unknown."""
    if not name:
        return None
    label = name.strip().strip("\"'").split("*", 1)[0].lower()
    label = _CHARSET_ALIASES.get(label, label)
    try:
        codec = codecs.lookup(label).name
    except (LookupError, ValueError):
        return None
    if codec in _REFUSED_CODECS or codec.startswith(("base64", "hex", "zlib", "bz2", "quopri", "uu", "rot")):
        return None
    return _CHARSET_ALIASES.get(codec, codec)


def _is_multibyte(codec: str) -> bool:
    return codec.startswith(_MULTIBYTE)


def _try_decode(data: bytes, codec: str) -> str | None:
    try:
        return data.decode(codec)
    except (UnicodeError, LookupError):
        return None


def _decode_bytes(data: bytes, declared: str | None, hints: Sequence[str] = ()) -> str:
    """Decode text the way mail clients do: the declared charset if it fits, else a chain of guesses.

    UTF-8 is tried before a declared single-byte charset because a Latin-1 text that happens to be valid
    UTF-8 is vanishingly rare, while mislabelled UTF-8 is common; a declared multi-byte charset is trusted
    first, as GB2312 text can by chance be valid UTF-8 for a few bytes.
    """
    codec = _codec(declared)
    if data.isascii():
        # 7-bit charsets (ISO-2022-*, HZ, UTF-7) still need their codec; so does undeclared ISO-2022-JP.
        if codec is None or not codec.startswith(_SEVEN_BIT):
            if b"\x1b$" not in data:
                return data.decode("ascii")
            codec = "iso2022_jp_2"
        for candidate in (codec, *_RELATIVES.get(codec, ())):
            text = _try_decode(data, candidate)
            if text is not None:
                return text
        return data.decode(codec, "replace")
    candidates: list[str] = []
    if codec and _is_multibyte(codec):
        candidates.append(codec)
        candidates.extend(_RELATIVES.get(codec, ()))
    candidates.append("utf-8")
    if codec:
        candidates.append(codec)
    candidates.extend(h for h in hints if _is_multibyte(h))
    candidates.extend(h for h in hints if not _is_multibyte(h))
    candidates.extend(_FALLBACK_CHAIN)
    seen: set[str] = set()
    for candidate in candidates:
        if candidate in seen:
            continue
        seen.add(candidate)
        text = _try_decode(data, candidate)
        if text is not None:
            return text
    return data.decode("utf-8", "replace")  # unreachable: latin-1 decodes any bytes


# ------------------------------------------------------------------------------------------- headers

_HEADER_LINE = re.compile(rb"([\x21-\x39\x3b-\x7e]+)[ \t]*:")


class _Headers:
    """Header fields in order, values as raw unfolded bytes (8-bit bytes and encoded words untouched)."""

    __slots__ = ("fields", "index")

    def __init__(self, fields: list[tuple[str, bytes]]) -> None:
        self.fields = fields
        self.index: dict[str, list[bytes]] = {}
        for name, value in fields:
            self.index.setdefault(name, []).append(value)

    def get(self, name: str) -> bytes | None:
        values = self.index.get(name)
        return values[0] if values else None

    def get_all(self, name: str) -> list[bytes]:
        return self.index.get(name, [])

    def text(self, name: str) -> str:
        """A header as ASCII-ish text, for structured fields (ids, dates, Auto-Submitted ...)."""
        value = self.get(name)
        return value.decode("latin-1").strip() if value is not None else ""


def _split_head(data: bytes) -> tuple[_Headers, bytes, bool]:
    """Headers and body of an entity (lines already end with LF); True when the header block was broken."""
    if data.startswith(b"\n"):
        return _Headers([]), data[1:], False
    end = data.find(b"\n\n")
    head, body = (data, b"") if end < 0 else (data[:end], data[end + 2:])
    fields: list[tuple[str, list[bytes]]] = []
    lines = head.split(b"\n")
    broken = False
    for i, line in enumerate(lines):
        if line[:1] in (b" ", b"\t"):
            if fields:
                fields[-1][1].append(line)
            continue
        match = _HEADER_LINE.match(line)
        if match is None:
            # Not a header: the body started without the blank line (stdlib does the same).
            body = b"\n".join(lines[i:]) + (b"\n\n" + body if end >= 0 else b"")
            broken = True
            break
        fields.append((match.group(1).decode("ascii").lower(), [line[match.end():]]))
    return _Headers([(name, b"".join(value)) for name, value in fields]), body, broken


_ENCODED_WORD = re.compile(r"=\?([^?\s]+)\?([bBqQ])\?([^?]*)\?=")
_B64_JUNK = re.compile(rb"[^A-Za-z0-9+/=]+")


def _b64decode(data: str | bytes) -> bytes:
    """Base64 as mail clients read it: junk skipped, padding forgiven, padded chunks decoded one by one.

    binascii alone stops at the first "=", which loses the rest of a body encoded chunk by chunk.
    """
    raw = data.encode("latin-1", "replace") if isinstance(data, str) else data
    out = bytearray()
    for chunk in _B64_JUNK.sub(b"", raw).split(b"="):
        if len(chunk) % 4 == 1:
            chunk = chunk[:-1]
        if chunk:
            out += binascii.a2b_base64(chunk + b"=" * (-len(chunk) % 4))
    return bytes(out)


def _encoded_word_bytes(encoding: str, payload: str) -> bytes:
    if encoding in "bB":
        return _b64decode(payload)
    return binascii.a2b_qp(payload.encode("utf-8", "surrogateescape"), header=True)


def _decode_words(text: str, hints: Sequence[str]) -> str:
    """Decode RFC 2047 words; adjacent words of one charset are joined as bytes before decoding."""
    if "=?" not in text:
        return text
    out: list[str] = []
    pending: list[bytes] = []
    pending_charset = ""
    pos = 0

    def flush() -> None:
        if pending:
            out.append(_decode_bytes(b"".join(pending), pending_charset, hints))
            pending.clear()

    for match in _ENCODED_WORD.finditer(text):
        between = text[pos:match.start()]
        if not (pending and not between.strip()):
            flush()
            out.append(between)
        charset = match.group(1).split("*", 1)[0].lower()
        if pending and charset != pending_charset:
            flush()
        pending.append(_encoded_word_bytes(match.group(2), match.group(3)))
        pending_charset = charset
        pos = match.end()
    flush()
    out.append(text[pos:])
    return "".join(out)


_CONTROL_RUN = re.compile(r"[\x00-\x1f\x7f]+")


def _header_text(raw: bytes | None, hints: Sequence[str], declared: str | None = None) -> str:
    """A header for people to read: 8-bit bytes decoded, encoded words decoded, control characters gone.

    ``declared`` is the charset of the entity the header belongs to, the first guess for raw 8-bit bytes.
    """
    if raw is None:
        return ""
    raw = raw.strip()
    text = raw.decode("ascii") if raw.isascii() else _decode_bytes(raw, declared, hints)
    text = _decode_words(text, hints).strip("\r\n\t\x00")
    return _CONTROL_RUN.sub(" ", text)


def _message_ids(value: str) -> list[str]:
    ids = re.findall(r"<([^<>]*)>", value)
    if not ids:
        ids = re.split(r"[\s,]+", value)
    return [i.strip().replace(" ", "") for i in ids if i.strip()]


def _parse_date(value: str) -> datetime | None:
    if not value:
        return None
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    try:
        return parsed.astimezone(UTC)
    except (OverflowError, ValueError):
        return None


# ----------------------------------------------------------------------------------------- addresses


def _split_outside_quotes(text: str, separator: str) -> list[str]:
    items: list[str] = []
    current: list[str] = []
    quoted = escaped = False
    angle = comment = 0
    for ch in text:
        if escaped:
            escaped = False
        elif ch == "\\":
            escaped = True
        elif quoted:
            quoted = ch != '"'
        elif ch == '"':
            quoted = True
        elif ch == "(":
            comment += 1
        elif ch == ")" and comment:
            comment -= 1
        elif ch == "<" and not comment:
            angle += 1
        elif ch == ">" and angle:
            angle -= 1
        elif ch == separator and not angle and not comment:
            items.append("".join(current))
            current = []
            continue
        current.append(ch)
    items.append("".join(current))
    return items


_COMMENT = re.compile(r"\((?:[^()\\]|\\.)*\)")


def _unquote(text: str) -> str:
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] == '"':
        text = text[1:-1]
    return text.replace('\\"', '"').replace("\\\\", "\\")


def _parse_address(item: str, hints: Sequence[str]) -> Address | None:
    item = item.strip()
    if not item:
        return None
    angle = item.rfind("<")
    close = item.find(">", angle + 1) if angle >= 0 else -1
    if angle >= 0:
        address = item[angle + 1:close if close >= 0 else None]
        name = _unquote(item[:angle])
    else:
        comments = _COMMENT.findall(item)
        address = _COMMENT.sub("", item)
        name = comments[0][1:-1] if comments else ""
    address = address.strip().removeprefix("mailto:")
    if address.startswith("@") and ":" in address:  # obsolete source route: @a,@b:user@c
        address = address.split(":", 1)[1]
    name = " ".join(_decode_words(name, hints).split())
    if not name and not address:
        return None
    return Address(name=name, address=readable_address(address.strip().strip('"')))


def readable_address(address: str) -> str:
    """The address as people read it: an internationalised domain written in IDNA (``xn--``) shown in its own
    script and in lower case (``zhang@XN--FSQU00A.xn--fiqs8s`` is ``zhang@例子.中国``); anything else exactly
    as written."""
    mailbox, at, domain = address.rpartition("@")
    if not at or "xn--" not in domain.lower():
        return address
    try:
        readable = domain.lower().encode("ascii").decode("idna")
        readable.encode("idna")  # and back: a domain that does not survive the round trip stays as written
    except UnicodeError:
        return address
    return f"{mailbox}@{readable}"


def _header_charset(headers: _Headers, declared: str | None) -> str | None:
    """The first guess for 8-bit header bytes: UTF-8 when 8-bit bytes sit in an address itself (RFC 6532, as
    SMTPUTF8 mail is written: its headers are UTF-8, whatever charset its text declares), else the text's."""
    for name in ("from", "sender", "to", "cc", "reply-to"):
        for raw in headers.get_all(name):
            if not raw.isascii() and any(b"@" in token and not token.isascii()
                                         for token in re.split(rb'[\s<>,;:"()]+', raw)):
                return "utf-8"
    return declared


def _addresses(raws: Iterable[bytes], hints: Sequence[str], declared: str | None = None) -> tuple[Address, ...]:
    result: list[Address] = []
    for raw in raws:
        text = raw.strip().decode("ascii") if raw.isascii() else _decode_bytes(raw.strip(), declared, hints)
        text = _CONTROL_RUN.sub(" ", text)
        for item in _split_outside_quotes(text, ","):
            group = _split_outside_quotes(item, ":")
            if len(group) > 1 and "<" not in group[0] and "@" not in group[0]:
                item = ":".join(group[1:])  # "Friends: a@x, b@y;" lists its members
            address = _parse_address(item.strip().rstrip(";"), hints)
            if address is not None:
                result.append(address)
    return tuple(result)


# ----------------------------------------------------------------------------------------- parameters

# A parameter, or junk up to the next ";" (so that a long junk run is skipped in one step, not rescanned).
_PARAM = re.compile(r"""\s*+([^\s=;"]++)\s*+=\s*+("(?:[^"\\]|\\.)*+"?|[^;]*+)|[^;]++""")


def _parse_params(value: str, hints: Sequence[str] | None = None) -> tuple[str, dict[str, str]]:
    """``type/subtype; a=1; b*=utf-8''%E4%B8%AD`` to (value, params), RFC 2231 sections joined.

    ``value`` is the header read as Latin-1, so raw 8-bit bytes survive; with ``hints`` such values are
    decoded as text (file names), without they are left as they are (boundaries must match the body's bytes).
    """
    main, _, rest = value.partition(";")
    plain: dict[str, str] = {}
    sections: dict[str, dict[int, tuple[bool, str]]] = {}
    for match in _PARAM.finditer(rest):
        if match.group(1) is None:
            continue
        name, raw = match.group(1).lower(), match.group(2).strip()
        quoted = raw.startswith('"')
        if quoted:
            raw = raw[1:-1] if raw.endswith('"') and len(raw) > 1 and raw[-2:] != '\\"' else raw[1:]
            raw = raw.replace('\\"', '"').replace("\\\\", "\\")
        star = re.fullmatch(r"(.+?)\*(\d+)?(\*)?", name)
        if star is None:
            if hints is not None and not raw.isascii():
                raw = _decode_bytes(raw.encode("latin-1", "replace"), None, hints)
            plain.setdefault(name, raw)
            continue
        base, number, encoded = star.group(1), star.group(2), star.group(3)
        # name*= and name*0*= carry charset'language'%XX (quoted or not: senders quote it anyway).
        sections.setdefault(base, {}).setdefault(int(number or 0), (number is None or encoded is not None, raw))
    for base, parts in sections.items():
        plain[base] = _join_rfc2231(parts, hints or ())
    return main.strip().lower(), plain


def _join_rfc2231(parts: dict[int, tuple[bool, str]], hints: Sequence[str]) -> str:
    charset = ""
    data = bytearray()
    for index in sorted(parts):
        encoded, text = parts[index]
        if encoded:
            if index == min(parts) and text.count("'") >= 2:
                charset, _, text = text.split("'", 2)
            data += _percent_decode(text)
        else:
            data += text.encode("latin-1", "replace")
    return _decode_bytes(bytes(data), charset or None, hints)


_PERCENT = re.compile(rb"%([0-9A-Fa-f]{2})")


def _percent_decode(text: str) -> bytes:
    return _PERCENT.sub(lambda m: bytes([int(m.group(1), 16)]), text.encode("latin-1", "replace"))


# ----------------------------------------------------------------------------------------------- MIME


class _Part:
    """One MIME entity. Header values that matter for structure are read as Latin-1 (byte-preserving)."""

    __slots__ = ("body", "children", "ctype", "headers", "params")

    def __init__(self, headers: _Headers, ctype: str, params: dict[str, str], body: bytes) -> None:
        self.headers = headers
        self.ctype = ctype
        self.params = params
        self.body = body
        self.children: list[_Part] = []


@dataclass(slots=True)
class _Tree:
    defects: list[str] = field(default_factory=list)
    parts: int = 0

    def defect(self, name: str) -> None:
        if name not in self.defects:
            self.defects.append(name)


def _content_type(headers: _Headers, default: str, tree: _Tree) -> tuple[str, dict[str, str]]:
    raw = headers.get("content-type")
    if raw is None:
        return default, {}
    ctype, params = _parse_params(raw.decode("latin-1"))
    ctype = ctype.replace(" ", "")
    if not re.fullmatch(r"[a-z0-9!#$&^_.+-]+/[a-z0-9!#$&^_.+-]+", ctype):
        tree.defect("bad_content_type")
        return ("text/plain", params) if not ctype.startswith("multipart") else ("multipart/mixed", params)
    return ctype, params


def _parse_entity(data: bytes, tree: _Tree, depth: int, default: str = "text/plain",
                  parent_boundary: str | None = None) -> _Part:
    headers, body, broken = _split_head(data)
    if broken:
        tree.defect("header_garbage")
    ctype, params = _content_type(headers, default, tree)
    part = _Part(headers, ctype, params, body)
    tree.parts += 1
    if not ctype.startswith("multipart/"):
        return part
    boundary = params.get("boundary")
    if boundary is not None and boundary == parent_boundary:
        return part  # the same boundary nested: the parent hands this part its children (_adopt)
    if depth >= MAX_DEPTH or tree.parts >= MAX_PARTS:
        tree.defect("too_deep" if depth >= MAX_DEPTH else "too_many_parts")
        part.ctype = "application/octet-stream"
        return part
    segments = _segments(body, boundary, tree)
    if segments is None:
        tree.defect("multipart_without_parts")
        part.ctype = "text/plain"
        return part
    subtype_default = "message/rfc822" if ctype == "multipart/digest" else "text/plain"
    part.children = _adopt(segments, tree, depth, subtype_default, boundary or "")
    return part


def _adopt(segments: list[tuple[bytes, bool]], tree: _Tree, depth: int, default: str,
           boundary: str) -> list[_Part]:
    """Parse the segments into parts; a part declaring our own boundary takes the ones up to the close."""
    children: list[_Part] = []
    i = 0
    while i < len(segments) and tree.parts < MAX_PARTS:
        child = _parse_entity(segments[i][0], tree, depth + 1, default, boundary)
        i += 1
        if child.ctype.startswith("multipart/") and child.params.get("boundary") == boundary \
                and not segments[i - 1][1]:
            tree.defect("nested_same_boundary")
            while i < len(segments) and tree.parts < MAX_PARTS:
                data, closes = segments[i]
                child.children.append(_parse_entity(data, tree, depth + 2, "text/plain", boundary))
                i += 1
                if closes:
                    break
        children.append(child)
    if tree.parts >= MAX_PARTS and i < len(segments):
        tree.defect("too_many_parts")
    return children


def _delimiter(boundary: str) -> re.Pattern[bytes]:
    return re.compile(rb"^--" + re.escape(boundary.encode("latin-1", "replace")) + rb"(--)?[ \t]*$", re.M)


def _segments(body: bytes, boundary: str | None, tree: _Tree) -> list[tuple[bytes, bool]] | None:
    """The parts' bytes, each with whether a close delimiter follows it; None when none are found."""
    found = _split_on(body, boundary) if boundary else None
    if found is None:
        guessed = _sniff_boundary(body)
        if guessed is None:
            return None
        tree.defect("boundary_missing" if not boundary else "boundary_mismatch")
        found = _split_on(body, guessed)
    return found


def _split_on(body: bytes, boundary: str) -> list[tuple[bytes, bool]] | None:
    matches = list(_delimiter(boundary).finditer(body))
    if not matches:
        return None
    segments: list[tuple[bytes, bool]] = []
    for here, after in zip(matches, [*matches[1:], None], strict=True):
        if here.group(1):  # a close delimiter: what follows up to another delimiter is epilogue
            continue
        start = here.end() + 1
        end = after.start() - 1 if after is not None else len(body)
        segments.append((body[start:max(start, end)], bool(after is not None and after.group(1))))
    return segments


_CANDIDATE_BOUNDARY = re.compile(rb"^--([^\s\-][^\n]{0,200}?|-[^\n]{1,200}?)[ \t]*$", re.M)


def _sniff_boundary(body: bytes) -> str | None:
    """The boundary a multipart body really uses, when its header names none or the wrong one."""
    counts: dict[bytes, int] = {}
    for match in _CANDIDATE_BOUNDARY.finditer(body):
        token = match.group(1)
        token = token[:-2] if token.endswith(b"--") else token
        if token:
            counts[token] = counts.get(token, 0) + 1
    # A real boundary line is followed by part headers or the blank line of a part without any; this
    # keeps "-----Original Message-----" followed by "From:" from passing for one.
    for token, _ in sorted(counts.items(), key=lambda item: -item[1])[:5]:
        follower = rb"^--" + re.escape(token) + rb"(?:--)?[ \t]*\n(?:\n|content-[\w-]+[ \t]*:|mime-version[ \t]*:)"
        if re.search(follower, body, re.M | re.I):
            return token.decode("latin-1")
    return None


# ------------------------------------------------------------------------------------ transfer codings


def _uudecode(data: bytes) -> bytes:
    out = bytearray()
    started = False
    for line in data.split(b"\n"):
        if not started:
            started = line.startswith(b"begin ")
            continue
        if line.strip() in (b"end", b"`", b""):
            if line.strip() == b"end":
                break
            continue
        try:
            out += binascii.a2b_uu(line)
        except binascii.Error:
            # Some encoders pad lines wrongly: decode what the length byte says, as uudecode does.
            length = ((line[0] - 32) & 63) * 4 // 3 + 4 if line else 0
            try:
                out += binascii.a2b_uu(line[:length])
            except binascii.Error:
                continue
    return bytes(out)


def _decode_transfer(part: _Part, tree: _Tree) -> bytes:
    cte = part.headers.text("content-transfer-encoding").lower().strip("\"' ")
    body = part.body
    if cte == "base64":
        return _b64decode(body)
    if cte in ("quoted-printable", "quotedprintable", "qp"):
        return binascii.a2b_qp(body)
    if cte in ("x-uuencode", "uuencode", "x-uue", "uue"):
        return _uudecode(body)
    if cte and cte not in ("7bit", "8bit", "binary", "7-bit", "8-bit"):
        tree.defect("bad_transfer_encoding")
    return body


# ----------------------------------------------------------------------------------------- HTML text

_HARD_CUT = "\x00cut\x00"  # an Outlook-style container: everything after it is history
_SOFT_CUT = "\x00quote\x00"  # a client's quote container: treated like an attribution line
_BLOCKS = frozenset({
    "address", "article", "aside", "caption", "center", "dd", "details", "dialog", "dir", "div", "dl", "dt",
    "fieldset", "figcaption", "figure", "footer", "form", "header", "legend", "main", "menu", "nav", "ol",
    "section", "summary", "table", "tbody", "tfoot", "thead", "ul"})
_PARAGRAPHS = frozenset({"p", "h1", "h2", "h3", "h4", "h5", "h6", "hr"})
_SKIPPED = frozenset({"script", "style", "title", "noscript", "template", "svg", "object", "iframe", "select",
                      "textarea"})
_HARD_IDS = ("divrplyfwdmsg", "stopspelling", "olk_src_body_section", "appendonsend", "zwchr",
             "mail-editor-reference-message-container")
_SOFT_CLASSES = ("gmail_quote", "moz-cite-prefix", "yahoo_quoted")
_SPACES = re.compile(r"[ \t\r\n\f\v\xa0]+")


class _HtmlText(HTMLParser):
    """A small HTML-to-text converter: block structure kept as lines, blockquotes as ``>`` prefixes."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.lines: list[str] = []
        self._buf: list[str] = []
        self._skip = 0
        self._head = False
        self._quote = 0
        self._pre = 0
        self._link: tuple[str, int, int] | None = None  # href, where its text starts in _buf, line count

    def _emit(self, text: str) -> None:
        prefix = "> " * self._quote
        line = (prefix + text).rstrip() if text else prefix.rstrip()
        if not line and (not self.lines or not self.lines[-1]):
            return
        self.lines.append(line)

    def _flush(self, force: bool = False) -> None:
        text = "".join(self._buf)
        self._buf.clear()
        text = text.rstrip() if self._pre else _SPACES.sub(" ", text).strip()
        if text or force:
            self._emit(text)

    def _paragraph(self) -> None:
        self._flush()
        if self.lines and self.lines[-1] and not self._quote:
            self.lines.append("")

    def _marker(self, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: (v or "").lower() for k, v in attrs if k in ("id", "class")}
        element_id = values.get("id", "").removeprefix("x_")
        classes = values.get("class", "").split()
        if element_id in _HARD_IDS or "outlookmessageheader" in classes:
            self._flush()
            self.lines.append(_HARD_CUT)
        elif any(c.removeprefix("x_") in _SOFT_CLASSES for c in classes):
            self._flush()
            self.lines.append(_SOFT_CUT)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIPPED:
            self._skip += 1
            return
        if tag == "head":
            self._head = True
        elif tag == "body":
            self._head = False
        if self._skip or self._head:
            return
        if attrs:
            self._marker(attrs)
        if tag == "br":
            self._flush(force=True)
        elif tag in _PARAGRAPHS:
            self._paragraph()
        elif tag in _BLOCKS:
            self._flush()
        elif tag == "blockquote":
            self._flush()
            self._quote += 1
        elif tag == "pre":
            self._flush()
            self._pre += 1
        elif tag == "li":
            self._flush()
            self._buf.append("- ")
        elif tag == "tr":
            self._flush()
        elif tag in ("td", "th"):
            self._buf.append(" ")
        elif tag == "a":
            href = next((v for k, v in attrs if k == "href" and v), "").strip()
            self._link = (href, len(self._buf), len(self.lines)) if href.startswith(("http:", "https:")) else None

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in _SKIPPED:
            self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIPPED:
            self._skip = max(0, self._skip - 1)
            return
        if tag == "head":
            self._head = False
        if self._skip or self._head:
            return
        if tag == "a" and self._link is not None:
            self._close_link(*self._link)
        elif tag == "br":  # browsers read a stray </br> as <br>
            self._flush(force=True)
        elif tag in _PARAGRAPHS:
            self._paragraph()
        elif tag in _BLOCKS or tag in ("tr", "li"):
            self._flush()
        elif tag == "blockquote":
            self._flush()
            self._quote = max(0, self._quote - 1)
        elif tag == "pre":
            self._flush()
            self._pre = max(0, self._pre - 1)

    def _close_link(self, href: str, start: int, lines: int) -> None:
        """Show where a link goes when its text does not: "click here" alone loses what the customer sent."""
        self._link = None
        if lines == len(self.lines) and start <= len(self._buf):
            label = "".join("".join(self._buf[start:]).split())
            if label and href not in label and label not in href:
                self._buf.append(f" <{href}>")

    def handle_data(self, data: str) -> None:
        if self._skip or self._head:
            return
        data = data.replace("\x00", "")
        if not self._pre:
            self._buf.append(data)
            return
        pieces = data.split("\n")
        self._buf.append(pieces[0])
        for piece in pieces[1:]:
            self._flush(force=True)
            self._buf.append(piece)

    def unknown_decl(self, data: str) -> None:
        return

    def result(self) -> list[str]:
        self._flush()
        while self.lines and not self.lines[-1]:
            self.lines.pop()
        return self.lines


_TAG = re.compile(r"<[^>]*>")


def _html_lines(html: str) -> list[str]:
    parser = _HtmlText()
    try:
        parser.feed(html)
        parser.close()
        return parser.result()
    except Exception:  # html.parser has had assertion bugs on hostile markup; strip tags instead
        return [_SPACES.sub(" ", line).strip() for line in unescape(_TAG.sub("\n", html)).split("\n")]


def html_to_text(html: str) -> str:
    """Readable text of an HTML body: scripts, styles and head dropped, blockquotes as ``>`` lines."""
    return "\n".join(line for line in _html_lines(html) if line not in (_HARD_CUT, _SOFT_CUT)).strip()


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


# ------------------------------------------------------------------------------------ reply splitting

# Possessive quantifiers (*+, ++) keep the line patterns linear on hostile input such as 20k spaces.
_ORIGINAL_MESSAGE = re.compile(
    r"^[ \t]*+[-_=*~]{2,}+[ \t]*+(?:original message|original-message|ursprüngliche nachricht|message d'origine|"
    r"mensaje original|messaggio originale|mensagem original|oorspronkelijk bericht|originalmeddelande|"
    r"opprinnelig melding|alkuperäinen viesti|исходное сообщение|原始邮件|原始郵件|原始信件|原邮件|"
    r"原始信息|回复的原邮件|元のメッセージ|reply message|original)[ \t]*+[-_=*~]{2,}+[ \t]*+$", re.I)
# A forward's separator: what follows was sent to us on purpose, so it is kept, not cut as history.
_FORWARD_MARK = re.compile(
    r"^[ \t]*+(?:[-_=*]{2,}+[ \t]*+(?:forwarded message|forwarded e-?mail|转发邮件信息|转发的邮件|轉寄的郵件|"
    r"weitergeleitete nachricht|message transféré|mensaje reenviado|messaggio inoltrato|mensagem encaminhada|"
    r"пересылаемое сообщение)[ \t]*+[-_=*]{2,}+|begin forwarded message:)[ \t]*+$", re.I)
_LABEL = re.compile(
    r"^[ \t]*+\*?[ \t]*+(from|sent|date|to|cc|subject|von|gesendet|an|betreff|de|envoyé|à|objet|da|inviato|oggetto|"
    r"para|enviado|asunto|van|verzonden|aan|onderwerp|от|отправлено|дата|кому|тема|копия|发件人|寄件者|"
    r"发送时间|發送時間|寄件日期|日期|时间|收件人|收件者|抄送|副本|主题|主旨|送信者|送信日時|宛先|件名)"
    r"[ \t]*+\*?[ \t]*+[:：]",
    re.I)
_FROM_LABELS = frozenset({"from", "von", "de", "da", "van", "от", "发件人", "寄件者", "送信者"})
_WROTE = re.compile(
    r"(?:wrote|writes|a écrit|schrieb|escribió|ha scritto|scrisse|schreef|escreveu|napisał\(a\)|napisał|"
    r"skrev|kirjoitti|написал\(а\)|написала|написал|пишет|写道|寫道|のメッセージ|a scris|írta|yazdı)"
    r"\s*[:：]\s*$", re.I)
_ATTRIBUTION_START = re.compile(
    r"^[ \t]*+(?:(?:on|le|am|el|il|op|em|w dniu|den|på|dne|在|於|于)\s|\d{1,4}[./\-年]\d{1,2}[./\-月]\d{1,4}|"
    r"(?:mon|tue|wed|thu|fri|sat|sun)[a-z]*,?\s)", re.I)
_DATEISH = re.compile(r"\d{1,2}:\d{2}|\d{4}[-/.年]\d{1,2}|\d{1,2}[-/.]\d{1,2}[-/.]\d{2,4}")
_SIGNATURE_DELIMITER = re.compile(r"^(?:-- ?|—|_{5,})\s*$")
_SEPARATOR = re.compile(r"^[ \t]*+[-_=*]{5,}+[ \t]*+$")
_MOBILE_SIGNATURE = re.compile(
    r"^[ \t]*+(?:sent from my .{1,40}|sent from (?:mail|outlook|yahoo mail|gmail|my mobile).{0,40}|"
    r"get outlook for (?:ios|android).{0,10}|sent (?:with|via) .{1,60}|发自我的.{1,20}|从我的.{1,20}发送|"
    r"来自我的.{1,20}|envoyé de mon .{1,30}|von meinem .{1,30} gesendet|enviado desde mi .{1,30})\s*$", re.I)
_MAX_SIGNATURE_LINES = 15


@dataclass(frozen=True, slots=True)
class ReplyParts:
    reply: str  # the new part of a reply, quoted history removed, signature kept
    new_text: str  # the same without the signature


def _is_quote(line: str) -> bool:
    return line.lstrip(" \t").startswith(">")


def _header_block_at(lines: list[str], i: int) -> bool:
    """An Outlook-style header block (From:/Sent:/To:/Subject:, 发件人:/发送时间:/...) starts at line i."""
    if (":" not in lines[i] and "：" not in lines[i]) or _LABEL.match(lines[i]) is None:
        return False
    window = [_LABEL.match(line) for line in lines[i:i + 7]]
    labels = [m.group(1).lower() for m in window if m is not None]
    close = any(m is not None for m in window[1:3])
    return len(labels) >= 3 and close and any(label in _FROM_LABELS for label in labels)


def _next_content(lines: list[str], i: int) -> str:
    while i < len(lines):
        if lines[i].strip():
            return lines[i]
        i += 1
    return ""


def _attribution_at(lines: list[str], i: int) -> int:
    """How many lines (1 to 3) an attribution line ("On ... wrote:") starting at line i spans, or 0."""
    for span in (1, 2, 3):
        if i + span > len(lines):
            return 0
        last = lines[i + span - 1].rstrip()
        if not last or _is_quote(last):
            return 0
        if not last.endswith((":", "：")):
            continue
        wrote = _WROTE.search(last) is not None  # the verb ends the (possibly wrapped) line
        quoted_next = _is_quote(_next_content(lines, i + span))
        if not (wrote or quoted_next):
            continue
        first = lines[i]
        joined = " ".join(line.strip() for line in lines[i:i + span])
        starts = _ATTRIBUTION_START.match(first) is not None
        if wrote:
            if span == 1 and (starts or quoted_next or "@" in joined or _DATEISH.search(joined)):
                return 1
            if span > 1 and (starts or first.rstrip().endswith("<") or "@" in first):
                return span
        elif "@" in joined or _DATEISH.search(joined):
            return span
    return 0


def _mark(lines: list[str]) -> list[str]:
    """One mark per line: q quote, h history follows, a attribution, e empty, t text."""
    marks = ["t"] * len(lines)
    i = 0
    while i < len(lines):
        line = lines[i]
        if _FORWARD_MARK.match(line):
            break
        if line == _HARD_CUT:
            marks[i] = "h"
        elif line == _SOFT_CUT:
            marks[i] = "a"
        elif _is_quote(line):
            marks[i] = "q"
        elif not line.strip():
            marks[i] = "e"
        elif _ORIGINAL_MESSAGE.match(line) or _header_block_at(lines, i):
            marks[i] = "h"
        else:
            span = _attribution_at(lines, i)
            for j in range(i, i + span):
                marks[j] = "a"
            i += max(span, 1)
            continue
        i += 1
    return marks


def _split_signature(lines: list[str]) -> tuple[list[str], list[str]]:
    for i, line in enumerate(lines):
        if _SIGNATURE_DELIMITER.match(line) and len(lines) - i - 1 <= _MAX_SIGNATURE_LINES:
            return lines[:i], lines[i:]
    return lines, []


def _last_paragraph(lines: list[str]) -> list[str]:
    while lines and not lines[-1].strip():
        lines = lines[:-1]
    for i in range(len(lines) - 1, -1, -1):
        if not lines[i].strip():
            return lines[i + 1:]
    return lines


def _strip_blank_edges(lines: list[str]) -> list[str]:
    start, end = 0, len(lines)
    while start < end and not lines[start].strip():
        start += 1
    while end > start and not lines[end - 1].strip():
        end -= 1
    return lines[start:end]


def _region(lines: list[str], marks: list[str], first: int, own_names: Sequence[str]) -> tuple[list[str], bool]:
    """The reply's lines inside the quoted region: interleaved answers and text after the last quote."""
    end = next((i for i in range(first, len(marks)) if marks[i] == "h"), len(marks))
    if marks[first] == "h":
        return [], False
    kept: list[list[str]] = []
    run: list[str] = []
    sandwiched = False
    for i in range(first, end):
        if marks[i] in "qa":
            if any(line.strip() for line in run):
                kept.append(run)
                sandwiched = True
            run = []
        else:
            run.append(lines[i])
    trailing = run if any(line.strip() for line in run) else []
    attribution = " ".join(lines[i] for i in range(first, end) if marks[i] == "a").lower()
    own_quote = any(name and name in attribution for name in own_names)
    if sandwiched:
        return [line for block in kept for line in [*block, ""]] + trailing, False
    return trailing, own_quote


def _split_reply(lines: list[str], own_names: Sequence[str] = ()) -> tuple[list[str], list[str]]:
    marks = _mark(lines)
    first = next((i for i, m in enumerate(marks) if m in "qha"), None)
    if first is None:
        return _split_signature(_strip_blank_edges(lines))
    before = _strip_blank_edges(lines[:first])
    while before and _SEPARATOR.match(before[-1]):
        before = _strip_blank_edges(before[:-1])
    after, own_quote = _region(lines, marks, first, own_names)
    after = _strip_blank_edges(after)
    if before:
        # Top-posting: what follows the quote is the sender's signature unless it answers inline.
        head = _strip_blank_edges(after)
        if head and (_SIGNATURE_DELIMITER.match(head[0]) or _SEPARATOR.match(head[0])):
            after = []
        return _split_signature([*before, "", *after] if after else before)
    body, signature = _split_signature(after)
    if own_quote:
        # The sender's own words quoted by the other side, then the other side's unquoted answer (Outlook
        # replying in plain text does this): the sender's new text is the last paragraph.
        body = _last_paragraph(body)
    return body, signature


def _own_names(from_name: str, from_address: str) -> list[str]:
    names = []
    local = from_address.split("@", 1)[0].lower()
    if len(local) >= 3:
        names.append(local)
    if len(from_name) >= 3:
        names.append(from_name.lower())
    return names


def _squeeze(lines: list[str]) -> list[str]:
    """Runs of blank lines as one blank line."""
    return [line for i, line in enumerate(lines) if line.strip() or i == 0 or lines[i - 1].strip()]


def _finish(body: list[str], signature: list[str]) -> ReplyParts:
    reply = "\n".join(_squeeze(_strip_blank_edges([*body, *signature]))).strip()
    body = _squeeze(_strip_blank_edges(body))
    while body and _MOBILE_SIGNATURE.match(body[-1]):
        body = _strip_blank_edges(body[:-1])
    return ReplyParts(reply=reply, new_text="\n".join(body).strip())


def extract_reply(body: str, *, html: bool = False, from_name: str = "", from_address: str = "") -> ReplyParts:
    """Split a reply from the history it quotes. ``body`` is plain text, or HTML when ``html`` is set.

    From name and address, when given, recognise the sender's own words quoted back at them.
    """
    lines = _html_lines(body) if html else body.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    return _finish(*_split_reply(lines, _own_names(from_name, from_address)))


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


# ------------------------------------------------------------------------------------ classification

_AUTO_LABELS = (
    r"(?:automatic reply|auto(?:matic)?[ -]?repl(?:y|ies)|autoreply|auto[ -]?response|autorespons\w*|"
    r"out of (?:the )?office(?: autoreply| reply)?|abwesenheitsnotiz|réponse automatique|respuesta automática|"
    r"risposta automatica|automatisch antwoord|自动回复|自動回覆|自动答复|自動回復|自動応答)")
_AUTO_SUBJECT = re.compile(rf"^\s*+(?:{_AUTO_LABELS}\s*+[:：]|[\[【(（]{_AUTO_LABELS}[\]】)）])", re.I)
_FORWARD_SUBJECT = re.compile(r"^\s*+(?:fwd?|fw|转发|轉寄|转寄|wg|tr|rv|enc)\s*+[:：]", re.I)
_BOUNCE_SUBJECT = re.compile(
    r"undeliver|undelivered mail|returned mail|delivery status notification|delivery (?:failure|failed|"
    r"has failed|notification)|failure notice|mail delivery failed|mail system error|non[- ]?delivery|"
    r"message not delivered|could not (?:be )?(?:send|sent|deliver)|bounce notification|nondeliverable|"
    r"退信|系统退信|邮件退回|投递失败|未送达|無法傳遞|配信エラー", re.I)
_DELAY_SUBJECT = re.compile(r"delay|warning: could not send|still being retried|will retry|延迟|延遲", re.I)
_BOUNCE_BODY = re.compile(
    r"could not be delivered|failed permanently|delivery to the following recipient|following address\(es\) "
    r"failed|wasn't able to deliver|this is the mail system at|delivery has failed|was rejected|"
    r"permanent error|unrecoverable error|user unknown|mailbox (?:is )?full|delivery failed", re.I)
_MACHINE_LOCAL_PARTS = frozenset({"mailer-daemon", "mailer_daemon", "mailerdaemon", "postmaster", "mail-daemon",
                                  "maildaemon"})
_MACHINE_NAMES = re.compile(r"mail(?:er)? delivery (?:subsystem|system)|mailer[- ]daemon|postmaster", re.I)


def _list_id(headers: _Headers, hints: Sequence[str]) -> str | None:
    for name in ("list-id", "x-mailing-list", "mailing-list", "x-beenthere", "list-post"):
        value = _header_text(headers.get(name), hints)
        if value:
            return value
    sender = headers.text("sender").lower()
    if re.search(r"(?:^|[<\s\"])owner-|-(?:bounces|owner|request)[+@]", sender):
        return sender
    return None


def _auto_reply(headers: _Headers, subject: str, message_id: str, list_relay: bool) -> bool:
    auto_submitted = headers.text("auto-submitted").lower()
    if auto_submitted and not auto_submitted.startswith("no"):
        return True
    for name in ("x-autoreply", "x-autorespond", "x-autoresponder", "x-auto-reply", "x-mail-autoreply"):
        value = headers.text(name).lower()
        if headers.get(name) is not None and value not in ("no", "false", "0"):
            return True
    if headers.text("x-autogenerated").lower() == "reply" or headers.text("x-fc-machinegenerated").lower() == "true":
        return True
    precedence = {headers.text("precedence").lower(), headers.text("x-precedence").lower()}
    if precedence & {"bulk", "junk", "list", "auto_reply", "auto-reply"} and not list_relay:
        return True
    if headers.text("x-apple-action").lower() == "vacation":
        return True
    if message_id.split("@", 1)[0].lower().endswith("-vac") and "@" in message_id:
        return True
    return _AUTO_SUBJECT.match(subject) is not None


def _machine_sender(address: Address) -> bool:
    local = address.address.split("@", 1)[0].lower()
    return local in _MACHINE_LOCAL_PARTS or _MACHINE_NAMES.search(address.name) is not None


# -------------------------------------------------------------------------------------------- reports

_STATUS = re.compile(r"(?<![\d.])([245]\.\d{1,3}\.\d{1,3})(?!\d|\.\d)")
_SMTP_REPLY = re.compile(r"(?<![\w.\[(#/:=-])[45]\d\d[ -](?=\S)[^\n]*")
_EMAIL = re.compile(r"(?<![\w.+'=-])[\w.+'=-]{1,64}@[\w-]{1,63}(?:\.[\w-]{1,63})+")
_RETURNED_MARK = re.compile(
    r"^[ \t]*+(?:-{2,}+[^\n]*?(?:original message|copy of (?:the|your) message|returned message|"
    r"undelivered message|message follows|below this line)[^\n]*+|original message follows\.?|"
    r"original message headers:?|bounced e-?mail:?|[-=]{20,}+)[ \t]*$", re.I | re.M)


def _fields(data: bytes) -> list[list[tuple[str, str]]]:
    """Blocks of ``Name: value`` fields (delivery-status, feedback-report, disposition-notification)."""
    text = data.replace(b"\r\n", b"\n").decode("utf-8", "replace")
    blocks: list[list[tuple[str, str]]] = []
    for chunk in re.split(r"\n[ \t]*\n", text):
        fields: list[tuple[str, str]] = []
        for line in chunk.split("\n"):
            if line[:1] in (" ", "\t") and fields:
                fields[-1] = (fields[-1][0], fields[-1][1] + " " + line.strip())
            elif ":" in line:
                name, _, value = line.partition(":")
                fields.append((name.strip().lower(), value.strip()))
        if fields:
            blocks.append(fields)
    return blocks


def _typed_address(value: str) -> str:
    return value.split(";", 1)[-1].strip().strip("<>").strip()


def _dsn_recipients(parts: Iterable[bytes]) -> list[DeliveryStatus]:
    recipients: list[DeliveryStatus] = []
    for data in parts:
        for block in _fields(data):
            current: dict[str, str] = {}
            for name, value in [*block, ("final-recipient", "")]:
                if name == "final-recipient" and "final-recipient" in current:
                    recipients.append(_delivery_status(current))
                    current = {}
                if name == "final-recipient" and not value:
                    continue
                current.setdefault(name, value)
    return recipients


def _delivery_status(fields: dict[str, str]) -> DeliveryStatus:
    raw_status = fields.get("status", "")
    status_match = _STATUS.search(raw_status)
    diagnostic = " ".join(fields.get("diagnostic-code", "").split()) or None
    remark = raw_status[status_match.end():].strip() if status_match else raw_status.strip()
    if not diagnostic and remark:
        diagnostic = remark.strip("() ")
    original = fields.get("original-recipient")
    return DeliveryStatus(
        recipient=_typed_address(fields["final-recipient"]),
        status=status_match.group(1) if status_match else None,
        action=fields.get("action", "").lower() or None,
        diagnostic=diagnostic,
        original_recipient=_typed_address(original) if original else None)


def _severest(statuses: Iterable[str | None]) -> str | None:
    known = [s for s in statuses if s]
    for klass in ("5", "4", "2"):
        for status in known:
            if status.startswith(klass):
                return status
    return None


_MAX_RECIPIENTS = 1000


def _text_bounce(text: str, failed: Sequence[str], ignore: set[str]) -> Report:
    """What a bounce written for people (Gmail, qmail, Exim, ...) says: recipients, status, diagnostic,
    and which message came back, when it quotes the message."""
    mark = _RETURNED_MARK.search(text)
    report, returned = (text[:mark.start()], text[mark.end():]) if mark else (text, "")
    status_match = _STATUS.search(report)
    diagnostic_match = _SMTP_REPLY.search(report)
    status = status_match.group(1) if status_match else None
    diagnostic = diagnostic_match.group(0).strip() if diagnostic_match else None
    addresses = list(failed)
    if not addresses:
        seen = set(ignore)
        for found in _EMAIL.findall(report):
            lower = found.lower()
            if lower not in seen and lower.split("@")[0] not in _MACHINE_LOCAL_PARTS:
                seen.add(lower)
                addresses.append(found)
    original_id, original_subject = _returned_from_text(returned)
    return Report(
        recipients=tuple(DeliveryStatus(recipient=a, status=status, action="failed", diagnostic=diagnostic)
                         for a in addresses[:_MAX_RECIPIENTS]),
        status=status, diagnostic=diagnostic, original_message_id=original_id, original_subject=original_subject)


def _returned_from_text(returned: str) -> tuple[str | None, str | None]:
    """Message-ID and Subject of a returned message pasted into a bounce's text."""
    if not returned:
        return None, None
    message_id = re.search(r"^message-id:\s*<([^>\n]+)>", returned, re.I | re.M)
    subject = re.search(r"^subject:[ \t]*(.*)$", returned, re.I | re.M)
    return (message_id.group(1).strip() if message_id else None,
            _decode_words(subject.group(1).strip(), ()) if subject else None)


def _returned_from_parts(out: _Collected) -> tuple[str | None, str | None]:
    if out.messages:
        inner = out.messages[0]
        return (None if inner.message_id_derived else inner.message_id), inner.subject or None
    for data in out.returned_headers:
        headers, _, _ = _split_head(data.replace(b"\r\n", b"\n").rstrip(b"\n") + b"\n\n")
        ids = _message_ids(headers.text("message-id"))
        return (ids[0] if ids else None), _header_text(headers.get("subject"), ()) or None
    return None, None


def _first_field(blocks: Iterable[list[tuple[str, str]]], name: str) -> str | None:
    for block in blocks:
        for key, value in block:
            if key == name and value:
                return value
    return None


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


def _bounce_or_delay(recipients: Sequence[DeliveryStatus], status: str | None) -> Kind:
    actions = {r.action for r in recipients}
    if status and status.startswith("5"):
        return "bounce"
    if status and status.startswith("4"):
        return "delay"
    if "failed" in actions:
        return "bounce"
    if actions & {"delayed", "delivered", "relayed", "expanded"}:
        return "delay"
    return "bounce"


def _classify_text_bounce(headers: _Headers, sender: Address, subject: str, text: str,
                          ignore: set[str]) -> tuple[Kind, Report] | None:
    if _FORWARD_SUBJECT.match(subject):
        return None
    failed = [a.strip() for raw in headers.get_all("x-failed-recipients")
              for a in raw.decode("latin-1").split(",") if a.strip()]
    empty_return_path = headers.get("return-path") is not None and headers.text("return-path") in ("<>", "")
    bounce_subject = _BOUNCE_SUBJECT.search(subject) is not None
    machine = _machine_sender(sender)
    automated = empty_return_path or headers.get("auto-submitted") is not None
    says_bounce = bounce_subject or _BOUNCE_BODY.search(text) is not None
    if not (failed or (machine and says_bounce)
            or (bounce_subject and automated and _BOUNCE_BODY.search(text))):
        return None
    report = _text_bounce(text, failed, ignore)
    status = report.status or ""
    delayed = bool(_DELAY_SUBJECT.search(subject)) and not status.startswith("5")
    return ("delay" if delayed or status.startswith("4") else "bounce"), report


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


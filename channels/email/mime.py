"""Reading a message's structure: header fields, addresses, parameters, the MIME tree, transfer codings.

Pure: no I/O. What cannot be read is flagged as a defect on the ``_Tree``; ``channels.email.parse`` is the
entry point.
"""

from __future__ import annotations

import binascii
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from channels.email.charsets import _decode_bytes

MAX_DEPTH = 20  # MIME nesting, and messages attached to messages, beyond which parts are kept unparsed
MAX_PARTS = 500


# --------------------------------------------------------------------------------------------- model


@dataclass(frozen=True, slots=True)
class Address:
    name: str
    address: str  # as written; "" when the header had a name but no address (``MAILER DAEMON <>``)


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

"""Reply splitting: the customer's new words apart from the history they quote and from their signature."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from channels.email.html_text import _HARD_CUT, _SOFT_CUT, _html_lines

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

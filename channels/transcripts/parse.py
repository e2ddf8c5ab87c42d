"""Call transcripts in, who said what out: WebVTT, SRT, Amazon Transcribe JSON and plain ``Speaker: text``.

Guarantees:
- ``parse`` returns a ``Transcript`` or raises ``TranscriptError``, nothing else, whatever it is given: status
  415 means "not a transcript format we know", 422 "that format, but broken or empty"; the message says
  what is wrong and, where it can, on which line or in which cue;
- every ``Transcript`` has at least one utterance, no utterance has empty text, and ``speakers`` lists each
  speaker once in order of first appearance;
- markup never reaches the text: WebVTT/SRT tags, inline timestamps, cue identifiers, header metadata,
  NOTE/STYLE/REGION blocks are dropped and HTML entities unescaped;
- rolling captions (a cue that repeats the previous cue's last lines, as YouTube writes them) are not
  duplicated: a cue's leading lines that equal the previous cue's last lines, same speaker, are dropped;
- input over 2 MB or over 20,000 utterances is refused (422), and parsing is linear in the input (the regular
  expressions are anchored and bounded, so hostile input cannot make them backtrack for long).

Speakers come from WebVTT ``<v Name>`` spans, Amazon Transcribe speaker or channel labels (``spk_0``,
``ch_1``), or a ``Speaker:`` label (``Agent:``, ``客户：``) at the start of a plain, SRT or WebVTT line.

No I/O and nothing outside the standard library: the caller fetches the bytes and decides what to do with
the words.
"""

from __future__ import annotations

import html
import json
import math
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from channels.transcripts.model import (
    _FORMAT_NAMES,
    FORMATS,
    MAX_UTTERANCES,
    Transcript,
    TranscriptError,
    Utterance,
    _finish,
)

MAX_BYTES = 2 * 1024 * 1024
# A JSON document is bounded by MAX_BYTES, a dict handed over directly is not; this bounds the work on it.
MAX_AWS_ITEMS = 1_000_000

_TIMESTAMP = re.compile(r"(?:(\d{1,9}):)?(\d{1,2}):(\d{1,2})(?:[.,](\d{1,3}))?")
# Loose on purpose: used only to recognise a timing line when sniffing the format.
_TIMING_LIKE = re.compile(r"[ \t]*\d[\d:.,]{0,20}[ \t]*-->")
# Only things that look like markup are tags, so "2 < 3 and 5 > 4" in plain caption text survives.
_TAG = re.compile(r"<(?:/?[A-Za-z][A-Za-z0-9]{0,20}(?:[.\s][^<>]*)?|\d{1,9}(?::\d{1,2}){1,2}(?:[.,]\d{1,3})?)>")
_VOICE = re.compile(r"<v(?:\.[^\s<>]*)?[ \t]([^<>]*)>")
_SPACES = re.compile(r"[ \t\xa0]+")
# "Agent: ...", "客户：...", "张先生:..."; an ASCII colon followed by a digit, "/" or ":" is a time, URL or
# address, not a label. The label is bounded (40 characters) so a long line costs little to try.
_LABEL = re.compile(
    r"(?:\[(?P<ts>[0-9:.,]{1,20})\][ \t]*)?"
    r"(?P<label>[^\s:：\[][^:：\n]{0,39}?)[ \t]{0,8}(?::(?![\d/:])|：)[ \t]*(?P<text>.*)"
)
_TIME_ONLY = re.compile(r"\[(?P<ts>[0-9:.,]{1,20})\][ \t]*(?P<text>.*)")
_NOT_IN_LABEL = frozenset(',;!?"“”<>{}=|\\*#@。，！？；、')
_BLOCK_KEYWORDS = ("NOTE", "STYLE", "REGION")


def parse(body: str | bytes | dict[str, Any], format: str | None = None) -> Transcript:
    """Parse a finished call's transcript; ``format`` (one of ``FORMATS``) skips detection."""
    if format is not None and format not in FORMATS:
        raise TranscriptError(415, f"unknown transcript format {format[:40]!r}; expected one of {', '.join(FORMATS)}")
    if isinstance(body, dict):
        if format not in (None, "aws_transcribe"):
            raise TranscriptError(415, f"a JSON object cannot be a {_FORMAT_NAMES[format or '']} transcript")
        return _parse_aws(body)
    if isinstance(body, bytearray | memoryview):
        body = bytes(body)
    if not isinstance(body, str | bytes):
        raise TranscriptError(415, f"a transcript is text, bytes or a JSON object, not {type(body).__name__}")
    text = _decode(body) if isinstance(body, bytes) else _check_text(body)
    if not text.strip():
        raise TranscriptError(422, "the transcript is empty")
    if "\x00" in text:
        raise TranscriptError(415, "this is binary data, not a transcript")
    chosen = format or _detect(text)
    if chosen == "aws_transcribe":
        return _parse_aws(_load_json(text))
    if chosen == "webvtt":
        return _parse_webvtt(text)
    if chosen == "srt":
        return _parse_srt(text)
    return _parse_plain(text)


# --- input -----------------------------------------------------------------------------------------------


def _decode(body: bytes) -> str:
    if len(body) > MAX_BYTES:
        raise TranscriptError(422, f"the transcript is over {MAX_BYTES // (1024 * 1024)} MB")
    if body[:2] in (b"\xff\xfe", b"\xfe\xff"):
        # Windows tools save "Unicode" text as UTF-16 with a BOM.
        try:
            return body.decode("utf-16").lstrip("\ufeff")
        except UnicodeDecodeError:
            raise TranscriptError(422, "the transcript claims UTF-16 but is not valid UTF-16") from None
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return body.decode(encoding)
        except UnicodeDecodeError:
            continue
    return body.decode("latin-1")


def _check_text(body: str) -> str:
    if len(body) > MAX_BYTES or len(body.encode("utf-8", "surrogatepass")) > MAX_BYTES:
        raise TranscriptError(422, f"the transcript is over {MAX_BYTES // (1024 * 1024)} MB")
    return body.removeprefix("\ufeff")


def _lines(text: str) -> list[str]:
    # WebVTT and SRT end lines with CRLF, LF or a bare CR; str.splitlines would also split on form feeds
    # and Unicode separators that may sit inside caption text.
    return text.replace("\r\n", "\n").replace("\r", "\n").split("\n")


def _detect(text: str) -> str:
    head = text.lstrip()
    if head.startswith("{"):
        return "aws_transcribe"
    if head.startswith("[") and _is_json(head):
        raise TranscriptError(415, "a JSON array is not a transcript format we know")
    if head.startswith("WEBVTT"):
        return "webvtt"
    lines = [line.strip() for line in _lines(head)[:200]]
    filled = [line for line in lines if line]
    if len(filled) >= 2 and _is_cue_number(filled[0]) and _TIMING_LIKE.match(filled[1]):
        return "srt"
    timing = next((line for line in filled if _TIMING_LIKE.match(line)), None)
    if timing is not None:
        # Caption timing without the numbered cues of SRT: WebVTT, perhaps without its header (then refused
        # as broken WebVTT rather than as an unknown format).
        return "srt" if "," in timing.split("-->", 1)[0] else "webvtt"
    if _label(filled[0]) is not None:
        return "plain"
    raise TranscriptError(
        415, "not a transcript format we know (expected WebVTT, SRT, Amazon Transcribe JSON or 'Speaker: text' lines)"
    )


def _is_json(text: str) -> bool:
    try:
        json.loads(text)
    except (ValueError, RecursionError):
        return False
    return True


def _load_json(text: str) -> dict[str, Any]:
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as exc:
        if '"results"' in text:
            raise TranscriptError(422, f"Amazon Transcribe JSON is not valid JSON: {str(exc)[:120]}") from None
        raise TranscriptError(415, "this looks like JSON but is not valid JSON") from None
    if not isinstance(data, dict):
        raise TranscriptError(415, "this JSON is not an object, so not Amazon Transcribe output")
    return data


def _is_cue_number(line: str) -> bool:
    return 0 < len(line) <= 9 and line.isascii() and line.isdigit()


def _timestamp(token: str) -> float | None:
    match = _TIMESTAMP.fullmatch(token)
    if match is None:
        return None
    hours, minutes, seconds, fraction = match.groups()
    if int(minutes) > 59 or int(seconds) > 59:
        return None
    whole = int(hours or 0) * 3600 + int(minutes) * 60 + int(seconds)
    # Teams writes "0:0:0.21"; the fraction is a decimal one whatever its number of digits.
    return whole + (int(fraction) / 10 ** len(fraction) if fraction else 0.0)


def _timing(line: str, number: int, kind: str) -> tuple[float, float]:
    """The start and end of a ``start --> end [settings]`` line; what follows the end time is ignored."""
    left, _, right = line.partition("-->")
    parts = right.split(maxsplit=1)
    tokens = (left.strip(), parts[0] if parts else "")
    start, end = (_timestamp(token) for token in tokens)
    if start is None or end is None:
        bad = tokens[0] if start is None else tokens[1]
        raise TranscriptError(422, f"{kind}: line {number}: bad timestamp {bad[:40]!r}")
    return start, end


# --- cue text --------------------------------------------------------------------------------------------


def _clean(fragment: str) -> str:
    # Tags first, entities second: "&lt;i&gt;" is the text "<i>", not a tag to strip.
    return _SPACES.sub(" ", html.unescape(_TAG.sub("", fragment))).strip()


def _voiced_lines(lines: Iterable[str]) -> list[tuple[str | None, str]]:
    """A cue's lines as (speaker, text); a ``<v Name>`` span gives the speaker until the next one.

    A cue with no voice span is read like SRT: ``Speaker: text`` lines give the speaker.
    """
    lines = list(lines)
    if not any(_VOICE.search(line) for line in lines):
        return _labelled_lines(lines)
    out: list[tuple[str | None, str]] = []
    speaker: str | None = None
    for line in lines:
        position = 0
        for match in _VOICE.finditer(line):
            _append(out, speaker, _clean(line[position:match.start()]))
            speaker = _clean(match.group(1)) or None
            position = match.end()
        _append(out, speaker, _clean(line[position:]))
    return out


def _labelled_lines(lines: Iterable[str]) -> list[tuple[str | None, str]]:
    """A cue's lines as (speaker, text); a ``Speaker: text`` line gives the speaker until the next one."""
    out: list[tuple[str | None, str]] = []
    speaker: str | None = None
    for line in lines:
        text = _clean(line)
        labelled = _label(text)
        if labelled is not None:
            speaker, text = labelled[1], labelled[2]
        _append(out, speaker, text)
    return out


def _append(out: list[tuple[str | None, str]], speaker: str | None, text: str) -> None:
    if text:
        out.append((speaker, text))


def _utterances_of_cue(pieces: list[tuple[str | None, str]], start: float, end: float) -> Iterator[Utterance]:
    """One utterance per run of the same speaker in a cue; a cue's lines are joined with a space."""
    run: list[str] = []
    for index, (speaker, text) in enumerate(pieces):
        run.append(text)
        if index + 1 == len(pieces) or pieces[index + 1][0] != speaker:
            yield Utterance(speaker, " ".join(run), start, end)
            run = []


def _without_repeat(pieces: list[tuple[str | None, str]],
                    previous: list[tuple[str | None, str]]) -> list[tuple[str | None, str]]:
    """Drop the leading lines that repeat the previous cue's last lines (rolling captions)."""
    # Rolling captions carry one or two lines over; looking further back only costs time on hostile input.
    for size in range(min(len(pieces), len(previous), 3), 0, -1):
        if pieces[:size] == previous[-size:]:
            return pieces[size:]
    return pieces


# --- WebVTT ----------------------------------------------------------------------------------------------


def _parse_webvtt(text: str) -> Transcript:
    lines = _lines(text)
    # Blank lines before the header are tolerated (some exporters write them); anything else is not.
    top = next((index for index, line in enumerate(lines) if line.strip()), 0)
    first = lines[top]
    if not first.startswith("WEBVTT"):
        raise TranscriptError(422, "WebVTT: no WEBVTT header line")
    if first[6:7] not in ("", " ", "\t"):
        raise TranscriptError(422, f"WebVTT: line {top + 1}: bad header {first[:40]!r}")
    index = _skip_header(lines, top + 1)
    utterances: list[Utterance] = []
    previous: list[tuple[str | None, str]] = []
    while index < len(lines):
        line = lines[index].strip()
        if not line:
            index += 1
        elif "-->" in line:
            index, pieces, start, end = _read_vtt_cue(lines, index)
            kept = _without_repeat(pieces, previous)
            previous = pieces
            utterances.extend(_utterances_of_cue(kept, start, end))
        elif _is_keyword_block(line) or "-->" not in _line_at(lines, index + 1):
            # NOTE/STYLE/REGION blocks, and blocks with no timing line, which WebVTT ignores.
            index = _skip_block(lines, index)
        else:
            index += 1  # a cue identifier: the timing line follows
    utterances.sort(key=lambda u: u.start or 0.0)
    return _finish("webvtt", utterances)


def _skip_header(lines: list[str], index: int) -> int:
    """The index just past the header's metadata lines (such as ``Kind:`` or ``X-TIMESTAMP-MAP=``)."""
    while index < len(lines) and lines[index].strip() and "-->" not in lines[index]:
        index += 1
    return index


def _is_keyword_block(line: str) -> bool:
    return any(line == word or line.startswith((word + " ", word + "\t")) for word in _BLOCK_KEYWORDS)


def _skip_block(lines: list[str], index: int) -> int:
    while index < len(lines) and lines[index].strip():
        index += 1
    return index


def _read_vtt_cue(lines: list[str], index: int) -> tuple[int, list[tuple[str | None, str]], float, float]:
    start, end = _timing(lines[index].strip(), index + 1, "WebVTT")
    index += 1
    body: list[str] = []
    # Cue text ends at a blank line, or at a line with "-->", which starts the next cue (YouTube omits the
    # blank line between some cues).
    while index < len(lines) and lines[index].strip() and "-->" not in lines[index]:
        body.append(lines[index])
        index += 1
    return index, _voiced_lines(body), start, end


# --- SRT -------------------------------------------------------------------------------------------------


def _parse_srt(text: str) -> Transcript:
    lines = _lines(text)
    utterances: list[Utterance] = []
    index = 0
    while index < len(lines):
        line = lines[index].strip()
        if not line:
            index += 1
            continue
        if _is_cue_number(line):
            if index + 1 >= len(lines) or "-->" not in lines[index + 1]:
                raise TranscriptError(422, f"SRT cue {int(line)} has no timing line")
            index += 1
        elif "-->" not in line:
            raise TranscriptError(422, f"SRT: line {index + 1}: expected a cue number, got {line[:40]!r}")
        start, end = _timing(lines[index].strip(), index + 1, "SRT")
        index, body = _read_srt_text(lines, index + 1)
        utterances.extend(_utterances_of_cue(_labelled_lines(body), start, end))
    utterances.sort(key=lambda u: u.start or 0.0)
    return _finish("srt", utterances)


def _read_srt_text(lines: list[str], index: int) -> tuple[int, list[str]]:
    """A cue's text lines, and the index where the next cue starts."""
    body: list[str] = []
    after_blank = False
    while index < len(lines):
        line = lines[index].strip()
        if not line:
            after_blank = True
        elif "-->" in line or (_is_cue_number(line) and (after_blank or "-->" in _line_at(lines, index + 1))):
            # A timing line, or a cue number: after a blank line, or right before a timing line (some files
            # leave out the blank line between cues).
            break
        else:
            # Text after a blank line that is not a new cue belongs to this one: keep it rather than lose it.
            body.append(line)
        index += 1
    return index, body


def _line_at(lines: list[str], index: int) -> str:
    return lines[index] if index < len(lines) else ""


# --- plain "Speaker: text" -------------------------------------------------------------------------------


def _label(line: str) -> tuple[float | None, str, str] | None:
    """(time, speaker, text) of a ``[mm:ss] Speaker: text`` line (time optional), None when not labelled."""
    match = _LABEL.match(line)
    if match is None:
        return None
    label = match.group("label").strip()
    if len(label.split()) > 4 or any(char in _NOT_IN_LABEL for char in label) or label.startswith("-"):
        return None
    stamp = match.group("ts")
    time = _timestamp(stamp) if stamp else None
    if stamp and time is None:
        return None
    return time, label, match.group("text").strip()


def _parse_plain(text: str) -> Transcript:
    utterances: list[Utterance] = []
    speaker: str | None = None
    start: float | None = None
    words: list[str] = []
    for raw in _lines(text):
        line = _SPACES.sub(" ", raw).strip()
        if not line:
            continue
        labelled = _label(line)
        timed = _TIME_ONLY.fullmatch(line) if labelled is None else None
        if labelled is None and (timed is None or _timestamp(timed.group("ts")) is None):
            words.append(line)  # no label: the previous speaker goes on
            continue
        _append_utterance(utterances, speaker, words, start)
        if labelled is not None:
            start, speaker, first = labelled
        else:
            assert timed is not None
            start, speaker, first = _timestamp(timed.group("ts")), None, timed.group("text")
        words = [first] if first else []
        if len(utterances) > MAX_UTTERANCES:
            break
    _append_utterance(utterances, speaker, words, start)
    return _finish("plain", utterances)


def _append_utterance(utterances: list[Utterance], speaker: str | None, words: list[str], start: float | None) -> None:
    if words:
        utterances.append(Utterance(speaker, " ".join(words), start, None))


# --- Amazon Transcribe -----------------------------------------------------------------------------------


@dataclass(slots=True)
class _Word:
    """A spoken word and the punctuation that follows it (kept as parts, joined once)."""

    speaker: str | None
    parts: list[str]
    start: float | None
    end: float | None

    @property
    def text(self) -> str:
        return "".join(self.parts)


def _parse_aws(data: dict[str, Any]) -> Transcript:
    results = data.get("results")
    if not isinstance(results, dict):
        if "results" in data:
            raise TranscriptError(422, "Amazon Transcribe JSON: results is not an object")
        raise TranscriptError(415, "this JSON object is not Amazon Transcribe output (it has no 'results')")
    transcripts = results.get("transcripts")
    if not (isinstance(transcripts, list) and transcripts and isinstance(transcripts[0], dict)
            and isinstance(transcripts[0].get("transcript"), str)):
        raise TranscriptError(422, "Amazon Transcribe JSON has no results.transcripts")
    whole: str = transcripts[0]["transcript"]
    channels = _dig(results, "channel_labels", "channels")
    # Channel identification (agent and caller on separate channels) wins over diarization when both exist.
    words = _channel_words(channels) if isinstance(channels, list) and channels else _speaker_words(results)
    if any(w.speaker is not None for w in words):
        return _finish("aws_transcribe", list(_turns(words)))
    return _finish("aws_transcribe", _whole_transcript(whole, words))


def _dig(data: Any, *keys: str) -> Any:
    for key in keys:
        if not isinstance(data, dict):
            return None
        data = data.get(key)
    return data


def _aws_list(value: Any, where: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise TranscriptError(422, f"Amazon Transcribe JSON: {where} is not a list")
    if len(value) > MAX_AWS_ITEMS:
        raise TranscriptError(422, f"Amazon Transcribe JSON: {where} has more than {MAX_AWS_ITEMS} entries")
    return value


def _aws_time(item: dict[str, Any], key: str, where: str) -> float | None:
    value = item.get(key)
    if value is None:
        return None
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        raise TranscriptError(422, f"Amazon Transcribe JSON: {where}.{key} is not a number") from None
    if not math.isfinite(seconds) or seconds < 0:
        raise TranscriptError(422, f"Amazon Transcribe JSON: {where}.{key} is out of range")
    return seconds


def _words(items: list[Any], where: str, speaker_of: dict[str, str], label_key: str) -> list[_Word]:
    """Items to words; punctuation has no times and joins the word before it without a space."""
    words: list[_Word] = []
    for number, item in enumerate(items):
        place = f"{where}[{number}]"
        if not isinstance(item, dict):
            raise TranscriptError(422, f"Amazon Transcribe JSON: {place} is not an object")
        alternatives = item.get("alternatives")
        first = alternatives[0] if isinstance(alternatives, list) and alternatives else None
        content = first.get("content") if isinstance(first, dict) else None
        if not isinstance(content, str):
            raise TranscriptError(422, f"Amazon Transcribe JSON: {place} has no alternatives[0].content")
        start, end = _aws_time(item, "start_time", place), _aws_time(item, "end_time", place)
        label = item.get(label_key)
        speaker = label if isinstance(label, str) else speaker_of.get(str(item.get("start_time")))
        if item.get("type") == "punctuation" and words:
            words[-1].parts.append(content)
        else:
            words.append(_Word(speaker, [content], start, end))
    return words


def _speaker_words(results: dict[str, Any]) -> list[_Word]:
    # Older outputs put the speaker only in speaker_labels.segments[].items, keyed by start time.
    speaker_of: dict[str, str] = {}
    for segment in _aws_list(_dig(results, "speaker_labels", "segments"), "results.speaker_labels.segments"):
        for item in _aws_list(_dig(segment, "items"), "results.speaker_labels.segments[].items"):
            if isinstance(item, dict) and isinstance(item.get("speaker_label"), str):
                speaker_of[str(item.get("start_time"))] = item["speaker_label"]
    return _words(_aws_list(results.get("items"), "results.items"), "results.items", speaker_of, "speaker_label")


def _channel_words(channels: list[Any]) -> list[_Word]:
    words: list[_Word] = []
    for number, channel in enumerate(_aws_list(channels, "results.channel_labels.channels")):
        where = f"results.channel_labels.channels[{number}].items"
        label = _dig(channel, "channel_label")
        items = _aws_list(_dig(channel, "items"), where)
        for word in _words(items, where, {}, "channel_label"):
            word.speaker = word.speaker or (label if isinstance(label, str) else f"ch_{number}")
            words.append(word)
    # Each channel is in time order on its own; the conversation is both interleaved by time.
    words.sort(key=lambda w: math.inf if w.start is None else w.start)
    return words


def _turns(words: list[_Word]) -> Iterator[Utterance]:
    """Consecutive words of one speaker make one utterance (a speaker turn)."""
    turn: list[_Word] = []
    for word in words:
        if turn and word.speaker != turn[-1].speaker:
            yield _utterance_of(turn)
            turn = []
        turn.append(word)
    if turn:
        yield _utterance_of(turn)


def _utterance_of(turn: list[_Word]) -> Utterance:
    starts = [w.start for w in turn if w.start is not None]
    ends = [w.end for w in turn if w.end is not None]
    return Utterance(turn[0].speaker, " ".join(w.text for w in turn),
                     starts[0] if starts else None, ends[-1] if ends else None)


def _whole_transcript(whole: str, words: list[_Word]) -> list[Utterance]:
    text = whole.strip() or " ".join(w.text for w in words)
    if not text:
        return []
    starts = [w.start for w in words if w.start is not None]
    ends = [w.end for w in words if w.end is not None]
    return [Utterance(None, text, starts[0] if starts else None, ends[-1] if ends else None)]

"""What a parsed call is: its utterances and speakers, the error a refused transcript raises, and the checks
every parsed transcript passes (``_finish``); ``parse`` reads the formats into it."""

from __future__ import annotations

from dataclasses import dataclass

FORMATS = ("webvtt", "srt", "aws_transcribe", "plain")
MAX_UTTERANCES = 20_000
_FORMAT_NAMES = {"webvtt": "WebVTT", "srt": "SRT", "aws_transcribe": "Amazon Transcribe JSON", "plain": "plain text"}


class TranscriptError(ValueError):
    """Why a transcript was refused; ``status`` is the HTTP status to answer with (415 or 422)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True, slots=True)
class Utterance:
    """One stretch of speech; times in seconds from the start of the recording, None when not known."""

    speaker: str | None
    text: str
    start: float | None
    end: float | None


@dataclass(frozen=True, slots=True)
class Transcript:
    """A parsed call: ``format`` is one of ``FORMATS``, utterances are in time order where times are known."""

    format: str
    utterances: tuple[Utterance, ...]
    speakers: tuple[str, ...]

    def words_of(self, speaker: str | None) -> str:
        """What ``speaker`` said, one utterance a line; ``None`` gives everything said by anyone."""
        return "\n".join(u.text for u in self.utterances if speaker is None or u.speaker == speaker)

    def as_text(self) -> str:
        """A readable transcript, one ``[mm:ss] Speaker: text`` line per utterance (``parse`` reads it back)."""
        return "\n".join(_labelled_line(u) for u in self.utterances)


# --- output ----------------------------------------------------------------------------------------------


def _finish(format: str, utterances: list[Utterance]) -> Transcript:
    name = _FORMAT_NAMES[format]
    if not utterances:
        raise TranscriptError(422, f"{name}: the transcript has no text")
    if len(utterances) > MAX_UTTERANCES:
        raise TranscriptError(422, f"{name}: more than {MAX_UTTERANCES} utterances")
    speakers = tuple(dict.fromkeys(u.speaker for u in utterances if u.speaker is not None))
    return Transcript(format, tuple(utterances), speakers)


def _labelled_line(u: Utterance) -> str:
    time = f"[{_clock(u.start)}] " if u.start is not None else ""
    speaker = f"{u.speaker}: " if u.speaker else ""
    return f"{time}{speaker}{u.text}"


def _clock(seconds: float) -> str:
    whole = int(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes:02d}:{secs:02d}"

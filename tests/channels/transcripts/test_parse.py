"""Call transcript parsing against the shared voice corpus, plain "Speaker: text" calls and hostile input."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from channels.transcripts.model import MAX_UTTERANCES, Transcript, TranscriptError, Utterance
from channels.transcripts.parse import parse

VOICE = Path(__file__).resolve().parents[4] / "shared" / "corpus" / "voice"
needs_corpus = pytest.mark.skipif(not VOICE.is_dir(), reason=f"voice corpus not found at {VOICE}")

# What the corpus README says must be refused, and the reason the message must give.
REJECTED = {
    "webvttpy__invalid.vtt": "no WEBVTT header",
    "webvttpy__invalid_timeframe.vtt": "bad timestamp '00:00:1d.890'",
    "webvttpy__missing_timeframe.srt": "SRT cue 2 has no timing line",
}


def corpus(name: str) -> bytes:
    return (VOICE / name).read_bytes()


def texts(t: Transcript) -> list[str]:
    return [u.text for u in t.utterances]


def corpus_files() -> list[str]:
    # Without the corpus, one placeholder keeps the test listed, so that it is skipped with needs_corpus's reason.
    return sorted(p.name for p in VOICE.iterdir()) if VOICE.is_dir() else ["(voice corpus missing)"]


# --- every corpus file -----------------------------------------------------------------------------------


@needs_corpus
def test_corpus_has_the_voice_files_the_readme_lists() -> None:
    names = corpus_files()
    assert sum(n.endswith((".vtt", ".srt")) for n in names) == 18
    assert sum(n.endswith(".json") for n in names) == 2


@needs_corpus
@pytest.mark.parametrize("name", corpus_files())
def test_every_corpus_file_parses_or_is_refused_with_a_reason(name: str) -> None:
    try:
        transcript = parse(corpus(name))
    except TranscriptError as exc:
        assert exc.status in (415, 422)
        assert str(exc).strip()
        assert name in REJECTED, f"{name} was refused: {exc}"
        return
    assert name not in REJECTED, f"{name} should have been refused"
    assert transcript.utterances
    assert all(u.text and u.text == u.text.strip() for u in transcript.utterances)
    assert all("<" not in u.text or "2 < 3" in u.text for u in transcript.utterances)
    assert transcript.speakers == tuple(dict.fromkeys(u.speaker for u in transcript.utterances if u.speaker))


@needs_corpus
@pytest.mark.parametrize(("name", "reason"), sorted(REJECTED.items()))
def test_invalid_corpus_files_are_refused_as_broken(name: str, reason: str) -> None:
    with pytest.raises(TranscriptError) as caught:
        parse(corpus(name))
    assert caught.value.status == 422
    assert reason in str(caught.value)


@needs_corpus
def test_bad_timestamp_message_names_the_line() -> None:
    with pytest.raises(TranscriptError, match=r"^WebVTT: line 6: bad timestamp '00:00:1d\.890'$"):
        parse(corpus("webvttpy__invalid_timeframe.vtt"))


# --- WebVTT and SRT expectations from the corpus README --------------------------------------------------


@needs_corpus
@pytest.mark.parametrize(("name", "fmt", "count"), [("webvttpy__sample.vtt", "webvtt", 16),
                                                    ("webvttpy__sample.srt", "srt", 5)])
def test_samples_have_their_cue_count_and_first_times(name: str, fmt: str, count: int) -> None:
    t = parse(corpus(name))
    assert t.format == fmt
    assert len(t.utterances) == count
    assert t.utterances[0] == Utterance(None, "Caption text #1", 0.5, 7.0)
    assert texts(t) == [f"Caption text #{i}" for i in range(1, count + 1)]
    assert t.speakers == ()


@needs_corpus
def test_teams_voice_spans_give_speakers_and_overlaps_stay_in_start_order() -> None:
    t = parse(corpus("webvttpy__teams_timeframe.vtt"))
    assert t.speakers == ("Yuri Bakulin", "Adrian Petrescu")
    assert t.utterances == (Utterance("Yuri Bakulin", "There you go.", 0.0, 0.57),
                            Utterance("Adrian Petrescu", "Why hello there, Yuri.", 0.21, 1.13))
    assert t.words_of("Adrian Petrescu") == "Why hello there, Yuri."
    assert t.as_text() == "[00:00] Yuri Bakulin: There you go.\n[00:00] Adrian Petrescu: Why hello there, Yuri."


@needs_corpus
def test_cue_tags_and_inline_timestamps_are_stripped() -> None:
    t = parse(corpus("webvttpy__cue_tags.vtt"))
    assert t.utterances[0] == Utterance(None, "When the moon hits your eye", 16.5, 18.5)
    assert texts(t) == ["When the moon hits your eye", "Like a big-a pizza pie", "That's amore"]


@needs_corpus
@pytest.mark.parametrize("name", ["webvttpy__styles2.vtt", "webvttpy__styles2.srt"])
def test_styles_entities_and_settings(name: str) -> None:
    t = parse(corpus(name))
    assert texts(t)[2] == "Some italic and normal coloured text. By the way, 2 < 3 !"
    assert texts(t)[0] == "Musique douce"
    assert texts(t)[-1] == "-Euh, là-bas, au chêne."
    assert not any("cue" in x or "font" in x or "line:" in x for x in texts(t))


@needs_corpus
def test_bom_file_parses() -> None:
    t = parse(corpus("webvttpy__captions_with_bom.vtt"))
    assert texts(t) == [f"Caption text #{i}" for i in range(1, 5)]
    assert parse(corpus("webvttpy__captions_with_bom.vtt").decode("utf-8")) == t


@needs_corpus
def test_header_metadata_is_not_text() -> None:
    t = parse(corpus("webvttpy__metadata_headers.vtt"))
    assert texts(t) == ["Caption text #1", "Caption text #2"]


@needs_corpus
def test_cue_identifiers_are_not_text() -> None:
    t = parse(corpus("webvttpy__using_identifiers.vtt"))
    assert texts(t) == [f"Caption text #{i}" for i in range(1, 7)]


@needs_corpus
def test_notes_are_skipped_and_multi_line_cues_joined() -> None:
    t = parse(corpus("webvttpy__comments.vtt"))
    assert texts(t)[:2] == ["- Ta en kopp varmt te. - Det är inte varmt.", "- Har en kopp te. - Det smakar som te."]
    assert not any("NOTE" in x or "Kyle" in x for x in texts(t))
    assert t.utterances[0].start == 135.0


@needs_corpus
def test_hls_sample_has_hours_over_999() -> None:
    t = parse(corpus("webvttpy__sample_hls.vtt"))
    assert len(t.utterances) == 16
    assert t.utterances[0].start == 1088 * 3600 + 42 * 60 + 0.5
    assert t.utterances[-1].end == 1088 * 3600 + 43 * 60 + 4.3
    assert not any("TIMESTAMP" in x for x in texts(t))


@needs_corpus
def test_youtube_rolling_captions_are_not_duplicated() -> None:
    t = parse(corpus("webvttpy__youtube_dl.vtt"))
    assert texts(t) == ["yeah", "what", "this will happen is I'm telling"]
    assert t.utterances[0].start == 4 * 60 + 46.07
    assert not any("::cue" in x or "Kind" in x for x in texts(t))


@needs_corpus
@pytest.mark.parametrize(("name", "fmt"), [("webvttpy__missing_caption_text.vtt", "webvtt"),
                                           ("webvttpy__empty_caption_text.srt", "srt")])
def test_a_cue_with_timing_but_no_text_is_skipped(name: str, fmt: str) -> None:
    t = parse(corpus(name))
    assert t.format == fmt
    assert texts(t) == ["Caption text #1", "Caption text #3", "Caption text #4", "Caption text #5"]


@needs_corpus
def test_one_caption_srt() -> None:
    assert parse(corpus("webvttpy__one_caption.srt")).utterances == (Utterance(None, "Caption text #1", 0.5, 7.0),)


# --- Amazon Transcribe -----------------------------------------------------------------------------------


@needs_corpus
def test_aws_diarization_groups_speaker_turns() -> None:
    t = parse(corpus("awsdocs__transcribe_diarization_output_batch.json"))
    assert t.format == "aws_transcribe"
    assert t.speakers == ("spk_0", "spk_1")
    assert t.utterances == (Utterance("spk_0", "I've been on hold for an hour.", 4.87, 6.88),
                            Utterance("spk_1", "Sorry about that.", 8.49, 9.24))
    assert t.words_of("spk_1") == "Sorry about that."
    assert t.words_of(None) == "I've been on hold for an hour.\nSorry about that."


@needs_corpus
def test_aws_channel_identification_splits_by_channel() -> None:
    t = parse(corpus("awsdocs__transcribe_channel_id_output_batch.json"))
    assert t.speakers == ("ch_0", "ch_1")
    assert t.utterances == (Utterance("ch_0", "I've been on hold for an hour.", 4.86, 6.87),
                            Utterance("ch_1", "Sorry about that.", 8.5, 9.25))


@needs_corpus
def test_aws_accepts_a_dict_and_json_text_alike() -> None:
    raw = corpus("awsdocs__transcribe_diarization_output_batch.json")
    data: dict[str, Any] = json.loads(raw)
    assert parse(data) == parse(raw.decode()) == parse(raw, "aws_transcribe")


@needs_corpus
def test_aws_older_output_without_item_labels_uses_segments() -> None:
    data: dict[str, Any] = json.loads(corpus("awsdocs__transcribe_diarization_output_batch.json"))
    for item in data["results"]["items"]:
        item.pop("speaker_label", None)
    assert [u.speaker for u in parse(data).utterances] == ["spk_0", "spk_1"]


def test_aws_without_labels_is_one_utterance() -> None:
    data = {"results": {"transcripts": [{"transcript": "I want my money back."}], "items": [
        {"start_time": "1.0", "end_time": "1.5", "alternatives": [{"content": "I"}], "type": "pronunciation"}]}}
    t = parse(data)
    assert t.utterances == (Utterance(None, "I want my money back.", 1.0, 1.5),)
    assert t.speakers == ()


@pytest.mark.parametrize(("data", "status", "message"), [
    ({"jobName": "x"}, 415, "not Amazon Transcribe output"),
    ({"results": {}}, 422, "Amazon Transcribe JSON has no results.transcripts"),
    ({"results": {"transcripts": []}}, 422, "no results.transcripts"),
    ({"results": {"transcripts": [{"transcript": ""}]}}, 422, "no text"),
    ({"results": {"transcripts": [{"transcript": "x"}], "items": "nope"}}, 422, "results.items is not a list"),
    ({"results": {"transcripts": [{"transcript": "x"}], "items": [{"type": "pronunciation"}]}}, 422,
     "results.items[0] has no alternatives[0].content"),
    ({"results": {"transcripts": [{"transcript": "x"}], "items": [
        {"start_time": "soon", "alternatives": [{"content": "x"}]}]}}, 422, "start_time is not a number"),
])
def test_broken_aws_output_is_refused(data: dict[str, Any], status: int, message: str) -> None:
    with pytest.raises(TranscriptError) as caught:
        parse(data)
    assert caught.value.status == status
    assert message in str(caught.value)


def test_truncated_aws_json_is_broken_not_unknown() -> None:
    with pytest.raises(TranscriptError) as caught:
        parse('{"results": {"transcripts": [{"transcript": "I have')
    assert caught.value.status == 422


# --- plain "Speaker: text" -------------------------------------------------------------------------------


def test_plain_chinese_with_full_width_and_ascii_colons() -> None:
    t = parse("客户：我要投诉你们的理财产品\n亏了二十万\n\n坐席：您好，请问您贵姓？\n张先生:我姓张。\n".encode())
    assert t.format == "plain"
    assert t.speakers == ("客户", "坐席", "张先生")
    assert t.words_of("客户") == "我要投诉你们的理财产品 亏了二十万"
    assert t.utterances[2] == Utterance("张先生", "我姓张。", None, None)
    assert t.as_text().splitlines()[1] == "坐席: 您好，请问您贵姓？"


def test_plain_english_and_times_and_urls_are_not_labels() -> None:
    t = parse("Agent: Thank you for calling.\nCustomer: I was charged twice at 10:30 on my card.\n"
              "See https://bank.example/fees for the fee.\nAgent: I am sorry about that.")
    assert t.speakers == ("Agent", "Customer")
    assert t.words_of("Customer") == ("I was charged twice at 10:30 on my card. "
                                      "See https://bank.example/fees for the fee.")
    assert t.words_of("Agent") == "Thank you for calling.\nI am sorry about that."
    assert t.utterances[0].start is None


def test_plain_gb18030_bytes_are_decoded() -> None:
    t = parse("客户：我的基金被乱扣费了".encode("gb18030"))
    assert t.utterances == (Utterance("客户", "我的基金被乱扣费了", None, None),)


def test_other_encodings_and_byte_types() -> None:
    assert parse("Agent: 您好".encode("utf-16")).words_of("Agent") == "您好"
    assert parse(b"Agent: caf\xe9 ok\xff").words_of("Agent") == "café okÿ"  # neither UTF-8 nor GB18030: Latin-1
    assert parse(bytearray(b"Agent: hi")).speakers == ("Agent",)  # type: ignore[arg-type]
    with pytest.raises(TranscriptError) as caught:
        parse(42)  # type: ignore[arg-type]
    assert caught.value.status == 415


def test_as_text_reads_back() -> None:
    t = Transcript("plain", (Utterance("Agent", "Hello.", 5.0, None), Utterance("客户", "我要投诉", 3725.0, None)),
                   ("Agent", "客户"))
    assert t.as_text() == "[00:05] Agent: Hello.\n[1:02:05] 客户: 我要投诉"
    assert parse(t.as_text()) == t


def test_srt_speaker_labels() -> None:
    t = parse("1\n00:00:01,000 --> 00:00:02,000\n<b>Agent:</b> How can I help?\n\n"
              "2\n00:00:03,000 --> 00:00:05,000\nCustomer: My transfer &amp; my card\nboth failed.\n")
    assert t.utterances == (Utterance("Agent", "How can I help?", 1.0, 2.0),
                            Utterance("Customer", "My transfer & my card both failed.", 3.0, 5.0))


def test_webvtt_mixed_voices_in_one_cue_and_short_times() -> None:
    t = parse("WEBVTT\n\nNOTE a comment\n\nid-1\n01:02.500 --> 01:04.000 align:start\n"
              "<v.loud Agent>Hello</v> <v Caller>Hi &lt;there&gt;</v>\n")
    assert t.utterances == (Utterance("Agent", "Hello", 62.5, 64.0), Utterance("Caller", "Hi <there>", 62.5, 64.0))


def test_explicit_format_is_honoured() -> None:
    with pytest.raises(TranscriptError, match="no WEBVTT header") as caught:
        parse("Agent: hi", "webvtt")
    assert caught.value.status == 422
    with pytest.raises(TranscriptError) as unknown:
        parse("Agent: hi", "docx")
    assert unknown.value.status == 415
    assert parse("Agent: hi", "plain").speakers == ("Agent",)


# --- hostile input ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("body", [
    "", b"", "   \n\n\t", "\ufeff",
    bytes(range(256)) * 40,
    b"\x89PNG\r\n\x1a\n" + bytes(200),
    "-->\n" * 10_000,
    "1\n-->\n" * 5_000,
    json.dumps({"hello": "world"}),
    json.dumps([1, 2, 3]),
    "{" * 100_000,
    '{"results":' * 100_000,
    "[" * 100_000,
    "WEBVTT\n\n" + "<v " * 200_000,
    "Dear Sir, I write to complain.",
    "WEBVTTX\n\n00:00.000 --> 00:01.000\nx",
    "WEBVTT\n\n00:00.000 --> 00:01.000\n   \n",
])
def test_hostile_or_empty_input_is_refused_cleanly(body: str | bytes) -> None:
    with pytest.raises(TranscriptError) as caught:
        parse(body)
    assert caught.value.status in (415, 422)
    assert str(caught.value)


def test_json_object_that_is_not_aws_is_unsupported() -> None:
    with pytest.raises(TranscriptError) as caught:
        parse({"messages": [{"from": "customer", "text": "hi"}]})
    assert caught.value.status == 415


def test_size_and_utterance_limits() -> None:
    with pytest.raises(TranscriptError, match="over 2 MB") as too_big:
        parse(b"Agent: " + b"x" * (2 * 1024 * 1024))
    assert too_big.value.status == 422
    many = "".join(f"A: line {i}\n" for i in range(MAX_UTTERANCES + 1))
    with pytest.raises(TranscriptError, match="more than 20000 utterances") as too_many:
        parse(many)
    assert too_many.value.status == 422
    cues = "WEBVTT\n\n" + "".join(f"00:00.000 --> 00:01.000\ncue {i}\n\n" for i in range(MAX_UTTERANCES + 1))
    with pytest.raises(TranscriptError, match="more than 20000"):
        parse(cues)


@pytest.mark.parametrize("body", [
    "a" + " " * 1_500_000,
    "Agent" + " " * 1_500_000 + ":",
    "WEBVTT\n\n00:00.000 --> 00:01.000\n<v" + " " * 1_500_000,
    "WEBVTT\n\n00:00.000 --> 00:01.000\n" + "<a " * 500_000,
    "WEBVTT\n\n00:00.000 --> 00:01.000\n" + "<0:" * 500_000,
    "1\n00:00:00,000 --> 00:00:01,000\nx\n\n" + "y\n\n" * 500_000,
    ("x" * 39 + " " * 8 + "\n") * 40_000,
])
@pytest.mark.timeout(60)  # catastrophic backtracking would hang here; linear work finishes at once
def test_hostile_input_built_to_backtrack_is_handled(body: str) -> None:
    with contextlib.suppress(TranscriptError):
        parse(body)


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(), st.binary(), st.lists(st.sampled_from(
    ["WEBVTT", "\n", "\r", " ", "-->", "00:00:01.000", "0:0:1,5", "1", ":", "：", "Agent", "<v A>", "</v>", "<c.x>",
     "&lt;", "&", "NOTE", "{", "}", "[", "]", "\ufeff", "\x00", "客户"])).map("".join)))
def test_arbitrary_input_only_ever_raises_transcript_error(body: str | bytes) -> None:
    try:
        t = parse(body)
    except TranscriptError as exc:
        assert exc.status in (415, 422) and str(exc)
        return
    assert t.format in ("webvtt", "srt", "aws_transcribe", "plain")
    assert t.utterances and all(u.text for u in t.utterances)

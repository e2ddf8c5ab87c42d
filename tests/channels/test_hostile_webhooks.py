"""Hostile input on the channel endpoints: Twilio webhooks, call transcripts and email attachments.

- A webhook signed with the right token but carrying any form fields at all gets a sane TwiML 200 or a 4xx
  with the reason; never a 500, and never a 403 (the signature was right).
- An unsigned or forged webhook gets 403 and changes nothing.
- The transcripts endpoint, given any body under any content type, answers 202, or a 4xx with the reason.
- An attachment's name (path traversal, absolute paths, NUL bytes, bidi tricks) is kept as metadata in a
  safe form, and its content by digest: it is never a path on disk.

Rasa is unreachable here: customers get the holding reply and a case, which is all these checks need.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import replace
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from redis.asyncio import Redis

from channels.email.parse import parse, safe_filename, to_inbound
from gateway import keys
from gateway.app import create_app
from gateway.settings import Settings
from tests.channels.email.test_channel import email_settings, eventually
from tests.support.mail_servers import Dovecot, MailUser, SmtpSink
from tests.support.twilio_double import ACCOUNT_SID, AUTH_TOKEN, FROM_NUMBER, checked_twiml, signature

PUBLIC = "https://complaints.example.com"
TOKEN = "transcripts-token-for-hostile-tests"
SMS, VOICE, GATHER, STATUS = ("/channels/twilio/sms", "/channels/twilio/voice", "/channels/twilio/voice/gather",
                              "/channels/twilio/sms/status")
EXAMPLES = settings(max_examples=60, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


@pytest.fixture
async def client(aiohttp_client: Any, settings: Settings) -> Any:
    return await aiohttp_client(create_app(replace(
        settings, twilio_account_sid=ACCOUNT_SID, twilio_auth_token=AUTH_TOKEN, twilio_from_number=FROM_NUMBER,
        twilio_api_base_url="http://127.0.0.1:9", public_base_url=PUBLIC, transcripts_token=TOKEN,
        sms_reply_wait=2.0)))


async def post_form(client: Any, path: str, fields: dict[str, str], sig: str | None) -> Any:
    """POST the fields form-encoded, as Twilio does (any names and values, control characters too)."""
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    if sig is not None:
        headers["X-Twilio-Signature"] = sig
    return await client.post(path, data=urlencode(fields).encode(), headers=headers)


async def check_answer(response: Any) -> None:
    """A sane answer: TwiML with documented verbs, an empty 204, or a 4xx that says why."""
    text = await response.text()
    event(f"status {response.status}")
    assert response.status < 500, (response.status, text)
    if response.status == 200:
        assert response.content_type == "application/xml", text
        checked_twiml(text)
    elif response.status >= 400:
        assert text.strip(), response.status


# --------------------------------------------------------------------------------- Twilio, signed junk

values = st.text(st.characters(exclude_categories=("Cs",)), max_size=80)
numbers = st.one_of(values, st.from_regex(r"\+?[0-9]{1,16}", fullmatch=True),
                    st.sampled_from(["+8613800138000", "+447700900123", "", " ", "²", "٣", "1e9", "-1", "NaN"]))
TWILIO_FIELDS = ["MessageSid", "SmsSid", "AccountSid", "From", "To", "Body", "NumMedia", "MediaUrl0",
                 "MediaContentType0", "CallSid", "SpeechResult", "Confidence", "Digits", "MessageStatus", "ErrorCode"]
forms = st.dictionaries(st.one_of(st.sampled_from(TWILIO_FIELDS), values), st.one_of(values, numbers), max_size=12)


@EXAMPLES
@given(path=st.sampled_from([SMS, VOICE, GATHER, STATUS]), fields=forms)
async def test_signed_webhooks_with_any_fields_get_twiml_or_a_reason(
    client: Any, server_errors: list[logging.LogRecord], path: str, fields: dict[str, str]
) -> None:
    response = await post_form(client, path, fields, signature(PUBLIC + path, fields))
    assert response.status != 403, await response.text()
    await check_answer(response)
    assert not server_errors, [r.getMessage() for r in server_errors]


complete_sms = st.fixed_dictionaries({
    "MessageSid": st.from_regex(r"SM[0-9a-f]{32}", fullmatch=True), "From": numbers.filter(str.strip),
    "Body": values, "NumMedia": numbers,
}, optional={"MediaUrl0": values, "MediaContentType0": values, "To": numbers})


@EXAMPLES
@given(fields=complete_sms)
async def test_a_signed_sms_with_the_required_fields_and_any_values_gets_twiml_or_a_reason(
    client: Any, server_errors: list[logging.LogRecord], fields: dict[str, str]
) -> None:
    response = await post_form(client, SMS, fields, signature(PUBLIC + SMS, fields))
    await check_answer(response)
    assert response.status in (200, 400), await response.text()
    assert not server_errors, [r.getMessage() for r in server_errors]


calls = st.fixed_dictionaries({"CallSid": st.from_regex(r"CA[0-9a-f]{8}", fullmatch=True)}, optional={
    "From": numbers, "SpeechResult": values, "Confidence": numbers, "Digits": numbers})


@EXAMPLES
@given(start=calls, turns=st.lists(calls, max_size=3))
async def test_a_signed_call_with_any_turns_gets_twiml(
    client: Any, server_errors: list[logging.LogRecord], start: dict[str, str], turns: list[dict[str, str]]
) -> None:
    response = await post_form(client, VOICE, start, signature(PUBLIC + VOICE, start))
    await check_answer(response)
    assert response.status == 200
    for turn in turns:
        turn = {**turn, "CallSid": start["CallSid"]}
        answer = await post_form(client, GATHER, turn, signature(PUBLIC + GATHER, turn))
        await check_answer(answer)
        assert answer.status == 200
    assert not server_errors, [r.getMessage() for r in server_errors]


# ------------------------------------------------------------------------------- Twilio, forged or not

forgeries = st.one_of(
    st.none(), st.just(""), st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=60),
    st.builds(lambda f: signature(PUBLIC + SMS, f, token="not-the-token"), forms),
    st.builds(lambda f: signature("https://evil.example.net" + SMS, f), forms),
)


@EXAMPLES
@given(path=st.sampled_from([SMS, VOICE, GATHER, STATUS]), fields=forms, forged=forgeries)
async def test_unsigned_or_forged_webhooks_get_403_and_change_nothing(
    client: Any, redis: Redis, path: str, fields: dict[str, str], forged: str | None
) -> None:
    if forged == signature(PUBLIC + path, fields):
        return  # hypothesis found the real signature: not a forgery
    before = sorted(await redis.keys("cg:*"))
    response = await post_form(client, path, fields, forged)
    assert response.status == 403 and (await response.text()).strip()
    assert sorted(await redis.keys("cg:*")) == before


async def test_a_signed_body_in_another_encoding_is_refused_with_a_reason(client: Any) -> None:
    fields = {"MessageSid": "SM" + "0" * 32, "From": "+8613800138000", "Body": "你好"}
    for content_type in ("application/x-www-form-urlencoded; charset=utf-16",
                         "application/x-www-form-urlencoded; charset=no-such-charset"):
        response = await client.post(SMS, data=b"MessageSid=SM1&From=%2B1&Body=\xff\xfe\xfd",
                                     headers={"Content-Type": content_type,
                                              "X-Twilio-Signature": signature(PUBLIC + SMS, fields)})
        assert 400 <= response.status < 500 and (await response.text()).strip(), response.status
    for content_type in ("application/json", "text/plain", "multipart/form-data; boundary=x"):
        response = await client.post(SMS, data=json.dumps(fields), headers={
            "Content-Type": content_type, "X-Twilio-Signature": signature(PUBLIC + SMS, fields)})
        assert response.status == 415, (content_type, response.status)


# ---------------------------------------------------------------------------------------- transcripts

vtt_lines = st.lists(st.one_of(
    st.just("WEBVTT"), st.just(""), st.just("00:00:01.000 --> 00:00:02.000"),
    st.just("00:00:01,000 --> 00:00:02,000"), st.just("1"), st.builds("{}: {}".format, values, values),
    st.builds("<v {}>{}".format, values, values), values), max_size=12).map("\n".join)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | values,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(values, inner, max_size=4), max_leaves=15)
envelopes = st.fixed_dictionaries({}, optional={
    "caller": numbers, "customer_speaker": st.one_of(values, json_values), "language": json_values,
    "format": st.one_of(st.sampled_from(["vtt", "srt", "plain", "aws", "webvtt", "json"]), json_values),
    "transcript": st.one_of(vtt_lines, json_values,
                            st.fixed_dictionaries({"results": json_values}, optional={"jobName": values})),
})
bodies = st.one_of(
    st.binary(max_size=400).map(lambda b: ("application/octet-stream", b)),
    st.tuples(st.sampled_from(["text/vtt", "application/x-subrip", "text/srt", "text/plain", "text/html",
                               "application/json", "application/xml", "text/plain; charset=gb2312",
                               "text/vtt; charset=utf-16", "application/json; charset=latin-1"]),
              st.one_of(st.binary(max_size=300), vtt_lines.map(str.encode),
                        json_values.map(lambda v: json.dumps(v).encode()),
                        envelopes.map(lambda v: json.dumps(v).encode()))),
    st.tuples(st.from_regex(r"[a-z]{1,8}/[a-z0-9.+-]{1,12}", fullmatch=True), st.binary(max_size=100)),
)
# Near misses of a good transcript: one speaker's lines of any text, from a caller with a number.
one_speaker = st.tuples(st.sampled_from(["text/plain", "text/plain; charset=utf-8"]), st.lists(
    values.filter(str.strip), min_size=1, max_size=4).map(lambda lines: "\n".join(
        f"Customer: {line}" for line in lines).encode()))
transcript_queries = st.fixed_dictionaries({}, optional={
    "caller": st.one_of(st.just("+8613800138000"), numbers), "customer_speaker": st.one_of(values, numbers),
    "language": st.sampled_from(["zh", "en", "fr", ""]),
    "format": st.one_of(st.sampled_from(["vtt", "srt", "plain", "aws"]), values)})


@EXAMPLES
@given(request=st.one_of(st.tuples(bodies, transcript_queries),
                         st.tuples(one_speaker, st.just({"caller": "+8613800138000"}))))
async def test_any_transcript_body_gets_202_or_a_reason(
    client: Any, server_errors: list[logging.LogRecord], request: tuple[tuple[str, bytes], dict[str, str]]
) -> None:
    (content_type, data), query = request
    response = await client.post("/channels/transcripts", params=query, data=data, headers={
        "Authorization": f"Bearer {TOKEN}", "Content-Type": content_type})
    answer = await response.json()
    event(f"status {response.status}")
    assert response.status in (202, 400, 413, 415, 422), (response.status, answer)
    assert answer.get("case_id") if response.status == 202 else answer["error"], answer
    assert not server_errors, [r.getMessage() for r in server_errors]


@EXAMPLES
@given(token=st.one_of(st.none(), values.filter(lambda t: t.isascii() and t.isprintable() and t != TOKEN)),
       body=bodies)
async def test_a_transcript_without_the_token_gets_401_and_changes_nothing(
    client: Any, redis: Redis, token: str | None, body: tuple[str, bytes]
) -> None:
    headers = {"Content-Type": body[0]}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    before = sorted(await redis.keys("cg:*"))
    response = await client.post("/channels/transcripts", params={"caller": "+8613800138000"}, data=body[1],
                                 headers=headers)
    assert response.status == 401 and (await response.json())["error"]
    assert sorted(await redis.keys("cg:*")) == before


# ---------------------------------------------------------------------------------- attachment names

HOSTILE_NAMES = [
    "../../etc/passwd", "..\\..\\boot.ini", "/etc/shadow", "C:\\Windows\\System32\\cmd.exe",
    "\\\\server\\share\\x.txt", "evil\x00.txt", "....//....//etc/hosts", ".htaccess", "..", ".", "CON",
    "aux.txt", "invoice\u202egpj.exe", "a/../../b.pdf", "~/.ssh/authorized_keys", "%2e%2e%2fetc%2fpasswd",
    "x" * 400 + ".pdf", "file:///etc/passwd", "<script>alert(1)</script>.txt",
]


def is_safe_name(name: str) -> bool:
    return (bool(name) and "/" not in name and "\\" not in name and "\x00" not in name
            and not name.startswith(".") and ":" not in name and len(name) <= 200
            and not any(ch in name for ch in "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"))


def with_attachments(names: list[str], sender: str = "li.lei@example.org") -> bytes:
    message = EmailMessage()
    message["From"] = f"Li Lei <{sender}>"
    message["To"] = "complaints@example.test"
    message["Subject"] = "Statement attached"
    message["Message-ID"] = make_msgid(domain="example.org")
    message.set_content("My statement shows a fee I never agreed to; see the attachments.")
    for i, name in enumerate(names):
        message.add_attachment(f"attachment {i}".encode(), maintype="application", subtype="octet-stream",
                               filename=name)
    return message.as_bytes()


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_a_hostile_attachment_name_becomes_a_plain_file_name(name: str) -> None:
    parsed = parse(with_attachments([name]))
    [attachment] = parsed.attachments
    assert is_safe_name(attachment.name), attachment.name
    assert attachment.content == b"attachment 0"
    [kept] = to_inbound(parsed, "complaints@example.test").attachments
    assert kept.name == attachment.name


@given(st.text(max_size=300))
def test_safe_filename_never_returns_a_path(name: str) -> None:
    assert is_safe_name(safe_filename(name, "attachment.bin"))


def files_under(root: Path) -> set[Path]:
    return {Path(dirpath, f) for dirpath, _, names in os.walk(root) for f in names}


async def test_attachments_with_hostile_names_are_metadata_on_the_case_and_never_files(
    aiohttp_client: Any, settings: Settings, dovecot: Dovecot, mailbox: MailUser, smtp_sink: SmtpSink,
    redis: Redis, tmp_path: Path,
) -> None:
    desk = await aiohttp_client(create_app(email_settings(settings, dovecot, mailbox, smtp_sink)))
    before = files_under(tmp_path)
    mailbox.deliver(with_attachments(HOSTILE_NAMES[:8]))
    await smtp_sink.wait_for(1, timeout=30)

    async def has_case() -> bool:
        return bool(await desk.app[keys.CASES].list())

    await eventually(has_case)
    [summary] = await desk.app[keys.CASES].list()
    case = await desk.app[keys.CASES].get(summary["id"])
    kept = [a for m in case["messages"] for a in m.get("attachments", ())] or case["attachments"]
    assert len(kept) == 8
    for attachment in kept:
        assert is_safe_name(attachment["name"]), attachment["name"]
        assert attachment["url"].startswith("attachment:")  # content by digest, kept with the record
        digest = attachment["url"].split(":", 1)[1]
        assert await desk.app[keys.RECORD].case_file(case["id"], digest) is not None
    # Nothing was written to disk under any of those names (or at all, by the message's handling).
    new_files = files_under(tmp_path) - before
    assert not {p.name for p in new_files} & {"passwd", "boot.ini", "shadow", "cmd.exe", "x.txt"}, new_files

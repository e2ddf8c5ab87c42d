"""Call transcripts in, cases out: every corpus transcript is taken or refused with a reason, never a 500."""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from redis.asyncio import Redis

from channels.transcripts.channel import HANDLING_WAIT
from gateway import keys
from gateway.app import create_app
from gateway.settings import Settings

VOICE = Path(__file__).resolve().parents[4] / "shared" / "corpus" / "voice"
TOKEN = "transcripts-token-for-tests"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
CALLER = "+8613812345678"
CONTENT_TYPES = {".vtt": "text/vtt", ".srt": "application/x-subrip", ".json": "application/json"}


@pytest.fixture
async def client(aiohttp_client: Any, settings: Settings) -> Any:
    return await aiohttp_client(create_app(replace(settings, transcripts_token=TOKEN)))


# Read once, up front: the corpus files are small and the tests are async.
CORPUS = {p.name: p.read_bytes() for p in sorted(VOICE.glob("*.*"))} if VOICE.exists() else {}


@pytest.mark.skipif(not VOICE.exists(), reason=f"corpus not found at {VOICE}")
@pytest.mark.parametrize("name", list(CORPUS))
async def test_every_corpus_transcript_is_taken_or_refused_with_a_reason(client: Any, name: str) -> None:
    query = {"caller": CALLER}
    speakers = {"awsdocs__transcribe_diarization_output_batch.json": "spk_0",
                "awsdocs__transcribe_channel_id_output_batch.json": "ch_0",
                "webvttpy__teams_timeframe.vtt": "Yuri Bakulin"}
    if name in speakers:
        query["customer_speaker"] = speakers[name]
    response = await client.post("/channels/transcripts", params=query, data=CORPUS[name],
                                 headers={**AUTH, "Content-Type": CONTENT_TYPES[Path(name).suffix]})
    body = await response.json()
    assert response.status in (202, 415, 422), body
    if response.status == 202:
        assert body["case_id"], body
    else:
        assert body["error"]


@pytest.mark.skipif(not VOICE.exists(), reason=f"corpus not found at {VOICE}")
@pytest.mark.parametrize(("name", "speaker"), [("awsdocs__transcribe_diarization_output_batch.json", "spk_0"),
                                               ("awsdocs__transcribe_channel_id_output_batch.json", "ch_0")])
async def test_amazon_transcribe_calls_become_cases_with_the_customers_words(
    client: Any, name: str, speaker: str
) -> None:
    envelope = {"caller": CALLER, "customer_speaker": speaker, "transcript": json.loads(CORPUS[name])}
    response = await client.post("/channels/transcripts", json=envelope, headers=AUTH)
    assert response.status == 202
    case = await client.app[keys.CASES].get((await response.json())["case_id"])
    said = [m["text"] for m in case["messages"] if m["from"] == "customer"]
    assert said == ["I've been on hold for an hour."]
    assert case["customer"]["phone"] == CALLER and case["channel"] == "transcript"
    assert "Sorry about that." in case["attachments"][0]["text"], "the whole call is attached"


async def test_the_same_transcript_twice_makes_one_case(client: Any) -> None:
    envelope = {"caller": CALLER, "customer_speaker": "客户",
                "transcript": "客服：您好，请问有什么可以帮您？\n客户：我的账户昨天被冻结了，没有任何通知。"}
    first = await (await client.post("/channels/transcripts", json=envelope, headers=AUTH)).json()
    second = await (await client.post("/channels/transcripts", json=envelope, headers=AUTH)).json()
    assert first["case_id"] and second == {**first, "duplicate": True}
    assert len(await client.app[keys.CASES].list()) == 1


async def test_the_same_transcript_twice_at_once_gets_one_case_named_in_both_answers(client: Any) -> None:
    envelope = {"caller": CALLER, "customer_speaker": "Customer",
                "transcript": "Agent: Good morning.\nCustomer: My stop-loss order never executed yesterday."}

    async def send() -> tuple[int, dict[str, Any]]:
        response = await client.post("/channels/transcripts", json=envelope, headers=AUTH)
        return response.status, await response.json()

    # Neither answer may sit out the whole wait for the case: the batch pass takes no time here.
    async with asyncio.timeout(HANDLING_WAIT / 2):
        (first_status, first), (second_status, second) = await asyncio.gather(send(), send())
    assert (first_status, second_status) == (202, 202)
    assert first["case_id"] and second["case_id"] == first["case_id"], (first, second)
    assert sorted([first["duplicate"], second["duplicate"]]) == [False, True]
    assert len(await client.app[keys.CASES].list()) == 1


async def test_the_same_transcript_at_two_gateways_at_once_gets_one_case_named_in_both_answers(
    client: Any, aiohttp_client: Any, settings: Settings
) -> None:
    other_gateway = await aiohttp_client(create_app(replace(settings, transcripts_token=TOKEN)))
    envelope = {"caller": CALLER, "customer_speaker": "Customer",
                "transcript": "Agent: Hello.\nCustomer: I was sold a fund I did not understand."}
    async with asyncio.timeout(HANDLING_WAIT / 2):
        first, second = await asyncio.gather(
            client.post("/channels/transcripts", json=envelope, headers=AUTH),
            other_gateway.post("/channels/transcripts", json=envelope, headers=AUTH))
        bodies = [await first.json(), await second.json()]
    assert (first.status, second.status) == (202, 202)
    assert bodies[0]["case_id"] and bodies[1]["case_id"] == bodies[0]["case_id"], bodies
    assert len(await client.app[keys.CASES].list()) == 1


async def test_bad_requests_get_a_reason_and_change_nothing(client: Any, redis: Redis) -> None:
    before = await redis.dbsize()
    plain = "Agent: hello\nCustomer: my card was charged twice"
    cases = [
        ({}, {"caller": CALLER, "transcript": plain}, 401),
        (AUTH, {"transcript": plain}, 422),
        (AUTH, {"caller": CALLER, "transcript": plain}, 422),
        (AUTH, {"caller": CALLER, "customer_speaker": "Boss", "transcript": plain}, 422),
        (AUTH, {"caller": CALLER, "transcript": "\x00\x01binary"}, 415),
        (AUTH, {"caller": CALLER, "transcript": 42}, 422),
    ]
    for headers, envelope, status in cases:
        response = await client.post("/channels/transcripts", json=envelope, headers=headers)
        assert response.status == status, (envelope, await response.text())
        assert (await response.json())["error"]
    odd_type = await client.post("/channels/transcripts", data=b"<xml/>",
                                 headers={**AUTH, "Content-Type": "application/xml"})
    assert odd_type.status == 415
    assert await redis.dbsize() == before

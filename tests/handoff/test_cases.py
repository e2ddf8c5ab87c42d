"""Cases: readable ids, deadlines, risk, and an audit event for every change."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from redis.asyncio import Redis

from handoff.cases import Case, CaseConflict, CaseStore
from handoff.ids import is_case_id, new_case_id
from handoff.lifecycle import Role
from handoff.risk import grade, load_rules
from handoff.sla import SlaPolicy
from store import keys as redis_keys

SHANGHAI = ZoneInfo("Asia/Shanghai")


async def test_a_new_case_is_queued_with_a_readable_id_deadlines_and_a_creation_event(redis: Redis) -> None:
    cases = CaseStore(redis)
    case = await cases.create(channel="webchat", conversation_id="webchat:s", language="zh",
                              customer={"name": "张三", "phone": "13800138000"},
                              complaint={"description": "我昨天的买单没有成交"}, handoff_reason="complete",
                              messages=[{"at": "t", "from": "customer", "channel": "webchat", "text": "我要投诉"}])
    assert is_case_id(case["id"]) and case["status"] == "queued"
    assert case["customer"]["name"] == "张三" and case["complaint"]["description"] == "我昨天的买单没有成交"
    assert case["messages"][0]["text"] == "我要投诉"
    assert [e["action"] for e in case["events"]] == ["created"]
    assert set(case["deadlines"]) == {"acknowledge_by", "investigate_by", "respond_by", "policy"}
    assert case["deadlines"]["policy"] == "cn-securities"


async def test_every_change_is_an_audit_event_and_a_refused_one_changes_nothing(redis: Redis) -> None:
    cases = CaseStore(redis)
    case = await cases.create(channel="webchat", conversation_id="webchat:s", language="en", customer={},
                              complaint={}, handoff_reason="complete")

    def close(c: Case) -> str:
        c["status"] = "closed"
        return "done"

    await cases.change(case["id"], actor="sue", action="close", mutate=close, role=Role.SUPERVISOR)
    with pytest.raises(CaseConflict):
        await cases.change(case["id"], actor="bob", action="close", mutate=close, role=Role.SUPERVISOR)
    after = await cases.get(case["id"])
    assert [(e["actor"], e["action"], e["before"], e["after"]) for e in after["events"]] == [
        ("bot", "created", None, "queued"), ("sue", "close", "queued", "closed")]


def test_case_ids_avoid_look_alike_characters() -> None:
    from handoff.ids import new_case_id

    ids = {new_case_id(datetime(2026, 11, 23)) for _ in range(200)}
    assert all(i.startswith("C-261123-") and is_case_id(i) for i in ids)
    assert not any(ch in i[9:] for i in ids for ch in "01OILSBUV58")


def test_deadlines_count_the_day_of_receipt_in_working_days() -> None:
    policy = SlaPolicy()
    # Thursday morning: investigate by Monday (Thu, Fri, Mon), answer by Tuesday.
    deadlines = policy.deadlines(datetime(2026, 11, 19, 10, 0, tzinfo=SHANGHAI))
    assert deadlines.acknowledge_by.date().isoformat() == "2026-11-19"
    assert deadlines.investigate_by.date().isoformat() == "2026-11-23"
    assert deadlines.respond_by.date().isoformat() == "2026-11-24"
    # Received on a Saturday: the clock starts on Monday.
    weekend = policy.deadlines(datetime(2026, 11, 21, 10, 0, tzinfo=SHANGHAI))
    assert weekend.respond_by.date().isoformat() == "2026-11-26"


def test_risk_reads_threats_in_both_languages() -> None:
    assert grade("我要去证监会投诉你们").grade == "high"
    assert grade("I will talk to my lawyer about this").reasons == ("legal action: lawyer",)
    assert grade("the app was slow").grade == "low"


async def test_a_contact_who_complained_within_90_days_is_a_repeat_complainant(redis: Redis) -> None:
    cases = CaseStore(redis)

    async def complain(phone: str, email: str | None = None) -> dict[str, Any]:
        return await cases.create(channel="sms", conversation_id=f"sms:{phone}", language="en",
                                  customer={"name": "Ann", "phone": phone, "email": email},
                                  complaint={"description": "The app was slow this morning"},
                                  handoff_reason="complete")

    first = await complain("+44 7700 900123")
    assert "repeat_complainant" not in first["risk"]["rules"]
    again = await complain("+447700900123")  # the same number, written another way
    assert "repeat_complainant" in again["risk"]["rules"]
    assert any("repeat" in reason for reason in again["risk"]["reasons"])
    stranger = await complain("+447700900999", "someone@example.org")
    assert "repeat_complainant" not in stranger["risk"]["rules"]
    # The index keeps no phone number or address in clear.
    keys = [k.decode() for k in await redis.keys("cg:contact:*")]
    assert keys and not any("7700" in k or "example.org" in k for k in keys)


async def test_a_message_handled_again_after_a_crash_finds_the_case_it_opened(redis: Redis) -> None:
    cases = CaseStore(redis)

    async def open_from(message_id: str) -> dict[str, Any]:
        return await cases.create(channel="email", conversation_id="email:t1", language="en",
                                  customer={"name": "Ann", "email": "ann@example.org"},
                                  complaint={"description": "My transfer never arrived"},
                                  handoff_reason="bot_unavailable", once=f"email:t1\n{message_id}")

    first = await open_from("<m1@example.org>")
    again = await open_from("<m1@example.org>")
    assert again["id"] == first["id"] and len(await cases.list()) == 1
    other = await open_from("<m2@example.org>")
    assert other["id"] != first["id"] and len(await cases.list()) == 2


async def open_from_email(cases: CaseStore, message_id: str) -> dict[str, Any]:
    return await cases.create(channel="email", conversation_id="email:t1", language="en",
                              customer={"name": "Ann", "email": "ann@example.org"},
                              complaint={"description": "My transfer never arrived"},
                              handoff_reason="complete", once=f"email:t1\n{message_id}")


async def test_an_opening_cut_short_before_the_case_was_written_is_finished_under_the_same_id(redis: Redis) -> None:
    cases = CaseStore(redis)
    # What a gateway that died mid-way leaves (the case lives in its own slot, so it is written last): the id
    # reserved, taken for the message, and already in the index and the complainant's contacts.
    case_id = new_case_id(datetime.now(UTC))
    await redis.set(redis_keys.case_key(case_id), "{}")
    await redis.set(redis_keys.case_once_key("email:t1\n<m1@example.org>"), case_id)
    await redis.zadd(redis_keys.ALL_CASES_KEY, {case_id: 1.0})
    await redis.zadd(redis_keys.contact_key("email:ann@example.org"), {case_id: datetime.now(UTC).timestamp()})
    assert await cases.list() == [], "no reader takes the half-opened case for a case"
    assert await cases.discard(case_id) is False and await redis.zscore(redis_keys.ALL_CASES_KEY, case_id) == 1.0

    case = await open_from_email(cases, "<m1@example.org>")  # the message handled again
    assert case["id"] == case_id and [c["id"] for c in await cases.list()] == [case_id]
    assert [e["action"] for e in case["events"]] == ["created"]
    assert "repeat_complainant" not in case["risk"]["rules"], "its own contact entry is no earlier complaint"
    created = datetime.fromisoformat(case["created_at"]).timestamp()
    assert await redis.zscore(redis_keys.ALL_CASES_KEY, case_id) == created, "indexed as it was written"


async def test_a_restore_cut_short_before_the_index_puts_the_case_there_when_run_again(redis: Redis) -> None:
    cases = CaseStore(redis)
    case = await open_from_email(cases, "<m1@example.org>")
    await redis.zrem(redis_keys.ALL_CASES_KEY, case["id"])  # written back from the record, not yet indexed
    assert await cases.list() == []
    assert await cases.restore(case) is False, "Redis holds the case: nothing of it is written again"
    assert [c["id"] for c in await cases.list()] == [case["id"]]
    assert await cases.get(case["id"]) == case


async def test_a_discard_cut_short_after_the_case_went_leaves_an_entry_readers_skip_and_a_retry_removes(
    redis: Redis,
) -> None:
    cases = CaseStore(redis)
    case = await open_from_email(cases, "<m1@example.org>")
    await cases.change(case["id"], actor="sue", action="close", mutate=close_it, role=Role.SUPERVISOR)
    await redis.delete(redis_keys.case_key(case["id"]), redis_keys.case_messages_key(case["id"]),
                       redis_keys.case_events_key(case["id"]))  # the case went; its index entries not yet
    assert await cases.list(status="closed") == []
    assert await cases.discard(case["id"]) is False
    assert await redis.zscore(redis_keys.ALL_CASES_KEY, case["id"]) is None


def close_it(case: Case) -> str:
    case["status"] = "closed"
    return "done"


def rules_with(tmp_path: Path, extra: str) -> Any:
    """The shipped risk rules with ``extra`` TOML added."""
    text = (Path(__file__).resolve().parents[2] / "handoff" / "risk_rules.toml").read_text(encoding="utf-8")
    path = tmp_path / "rules.toml"
    path.write_text(text + extra, encoding="utf-8")
    return load_rules(path)


async def test_the_rules_file_gives_some_cases_other_deadlines(redis: Redis, tmp_path: Path) -> None:
    rules = rules_with(tmp_path, '\n[[deadlines]]\nnatures = ["service_environment"]\nrespond = "24 hours"\n')
    cases = CaseStore(redis, SlaPolicy(), rules)
    quick = await cases.create(channel="webchat", conversation_id="webchat:a", language="zh", customer={},
                               complaint={"description": "营业部大厅排队太久，空调也坏了"}, handoff_reason="complete")
    usual = await cases.create(channel="webchat", conversation_id="webchat:b", language="zh", customer={},
                               complaint={"description": "基金赎回款一直没有到账"}, handoff_reason="complete")
    received = datetime.fromisoformat(quick["received_at"])
    assert quick["nature"] == "service_environment"
    assert datetime.fromisoformat(quick["deadlines"]["respond_by"]) == received + timedelta(hours=24)
    assert usual["deadlines"]["respond_by"] == SlaPolicy().deadlines(
        datetime.fromisoformat(usual["received_at"])).to_dict()["respond_by"]

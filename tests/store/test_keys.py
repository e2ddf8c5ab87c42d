"""Every Redis key keeps the name it has always had (data already in Redis must still be found), or is moved from
its old name when the gateway starts (``store.renames``); and no module writes a key's name itself."""

from __future__ import annotations

import ast
import hashlib
import time
from collections.abc import Iterator, Mapping
from datetime import date
from email.message import EmailMessage
from pathlib import Path

from redis.asyncio import Redis

from channels.email.outbox import Outbox, SmtpConfig
from handoff.cases import Case, CaseStore
from handoff.lifecycle import Role
from handoff.queue import AgentQueue
from store import keys
from store.renames import rename_legacy_keys
from tests.support.mail_servers import SmtpSink

ROOT = Path(__file__).resolve().parent.parent.parent
PACKAGES = ("channels", "gateway", "handoff", "records", "store")


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


# (the name store.keys gives, the name Redis holds), written out as the modules wrote them before; a family
# given a hash tag since holds its new name here, and its old one in RENAMED (store/renames.py moves the data).
NAMES = {
    "ACTIVE_CONVERSATIONS_KEY": (keys.ACTIVE_CONVERSATIONS_KEY, "cg:conversations:active"),
    "IDLE_INTAKES_KEY": (keys.IDLE_INTAKES_KEY, "cg:intakes:idle"),
    "conversation_key": (keys.conversation_key("webchat:k1", "seen:m1"), "cg:conv:{webchat:k1}:seen:m1"),
    "QUARANTINE_KEY": (keys.QUARANTINE_KEY, "cg:quarantine"),
    "case_key": (keys.case_key("C-1"), "cg:case:{C-1}"),
    "case_messages_key": (keys.case_messages_key("C-1"), "cg:case:{C-1}:messages"),
    "case_events_key": (keys.case_events_key("C-1"), "cg:case:{C-1}:events"),
    "case_entry_once_key": (keys.case_entry_once_key("C-1", "a\nb"), "cg:case:{C-1}:once:" + sha("a\nb")),
    "case_once_key": (keys.case_once_key("a\nb"), "cg:case-once:" + sha("a\nb")),
    "ALL_CASES_KEY": (keys.ALL_CASES_KEY, "cg:cases"),
    "RECORD_PENDING_KEY": (keys.RECORD_PENDING_KEY, "cg:record:pending"),
    "contact_key": (keys.contact_key("phone:13800138000"), "cg:contact:" + sha("phone:13800138000")),
    "attachment_key": (keys.attachment_key("ab" * 32), "cg:attachment:" + "ab" * 32),
    "QUEUE_ENTRIES_KEY": (keys.QUEUE_ENTRIES_KEY, "cg:{queue}:entries"),
    "CLAIMS_KEY": (keys.CLAIMS_KEY, "cg:{claims}"),  # renamed from LEGACY_CLAIMS_KEY (store.renames)
    "LEGACY_CLAIMS_KEY": (keys.LEGACY_CLAIMS_KEY, "cg:claims"),
    "LEGACY_QUEUE_KEY": (keys.LEGACY_QUEUE_KEY, "cg:queue"),
    "queue_stream_key": (keys.queue_stream_key("urgent", "zh"), "cg:{queue}:urgent:zh"),
    "agent_claims_key": (keys.agent_claims_key("ann"), "cg:{claims}:agent:ann"),  # renamed (store.renames)
    "legacy_agent_claims_key": (keys.legacy_agent_claims_key("ann"), "cg:agent-claims:ann"),
    "DESK_EVENTS_CHANNEL": (keys.DESK_EVENTS_CHANNEL, "cg:desk-events"),
    "case_alerted_key": (keys.case_alerted_key("C-1", "overdue"), "cg:alerted:{C-1}:overdue"),
    "unit_alerted_key": (keys.unit_alerted_key("hotspot:sh"), "cg:alerted:unit:hotspot:sh"),
    "LEGACY_AGENTS_KEY": (keys.LEGACY_AGENTS_KEY, "cg:agents"),
    "legacy_agent_key": (keys.legacy_agent_key("ann"), "cg:agent:ann"),
    "account_key": (keys.account_key("ann"), "cg:account:{ann}"),
    "account_sessions_key": (keys.account_sessions_key("ann"), "cg:account:{ann}:sessions"),
    "session_key": (keys.session_key("tok"), "cg:token:" + sha("tok")),
    "login_from_key": (keys.login_from_key("ann", "10.0.0.1"), "cg:login:{ann}:from:" + sha("10.0.0.1")[:16]),
    "login_all_key": (keys.login_all_key("ann"), "cg:login:{ann}:all"),
    "held_index_key": (keys.held_index_key("sms"), "cg:held:sms"),
    "held_flag_key": (keys.held_flag_key("sms", "SM1"), "cg:held:{sms:SM1}:flag"),
    "held_answers_key": (keys.held_answers_key("sms", "SM1"), "cg:held:{sms:SM1}:answers"),
    "email_lease_key": (keys.email_lease_key("0123456789abcdef"), "cg:email:lease:0123456789abcdef"),
    "email_mailbox_key": (keys.email_mailbox_key("0123456789abcdef"), "cg:email:mailbox:0123456789abcdef"),
    "email_auto_replies_key": (keys.email_auto_replies_key("Ann@Example.com", date(2026, 3, 4)),
                               f"cg:email:auto:{sha('ann@example.com')[:16]}:20260304"),
    "EMAIL_MACHINE_KEY": (keys.EMAIL_MACHINE_KEY, "cg:email:machine"),
    "email_quarantine_key": (keys.email_quarantine_key("<m1@x>"), "cg:email:{quarantine}:message:<m1@x>"),
    "EMAIL_QUARANTINED_KEY": (keys.EMAIL_QUARANTINED_KEY, "cg:email:{quarantine}:ids"),
    "EMAIL_OUTBOX_DUE_KEY": (keys.EMAIL_OUTBOX_DUE_KEY, "cg:email:{outbox}:due"),
    "EMAIL_OUTBOX_FAILED_KEY": (keys.EMAIL_OUTBOX_FAILED_KEY, "cg:email:{outbox}:failed"),
    "email_outbox_key": (keys.email_outbox_key("o1"), "cg:email:{outbox}:message:o1"),
    "email_sent_key": (keys.email_sent_key("o1"), "cg:email:sent:{o1}"),
    "email_message_key": (keys.email_message_key("<M1@X>"), "cg:email:message:<m1@x>"),
    "email_thread_key": (keys.email_thread_key("t1"), "cg:email:thread:{t1}"),
    "email_latest_key": (keys.email_latest_key("Ann@Example.com"), "cg:email:latest:ann@example.com"),
    "email_case_key": (keys.email_case_key("C-1"), "cg:email:case:C-1"),
    "sms_optout_key": (keys.sms_optout_key("+447700900001"), "cg:sms:optout:{+447700900001}"),
    "sms_optout_history_key": (keys.sms_optout_history_key("+447700900001"),
                               "cg:sms:optout:{+447700900001}:history"),
    "sms_status_key": (keys.sms_status_key("SM1"), "cg:sms:status:{SM1}"),
    "sms_status_history_key": (keys.sms_status_history_key("SM1"), "cg:sms:status:{SM1}:history"),
    "sms_status_reported_key": (keys.sms_status_reported_key("SM1", "delivered"),
                                "cg:sms:status:{SM1}:reported:delivered"),
    "sms_answer_key": (keys.sms_answer_key("SM1"), "cg:sms:answer:SM1"),
    "voice_call_key": (keys.voice_call_key("CA1"), "cg:voice:{CA1}"),
    "voice_answer_key": (keys.voice_answer_key("CA1", "gather:2"), "cg:voice:{CA1}:answer:gather:2"),
    "channel_key": (keys.channel_key("pigeon", "answer", "o1", "m1"), "cg:pigeon:answer:o1:m1"),
    "WEBCHAT_NUDGE_CHANNEL": (keys.WEBCHAT_NUDGE_CHANNEL, "cg:webchat:nudge"),
    "webchat_session_key": (keys.webchat_session_key("k1"), "cg:webchat:{k1}"),
    "webchat_frames_key": (keys.webchat_frames_key("k1"), "cg:webchat:{k1}:frames"),
    "webchat_rate_key": (keys.webchat_rate_key("k1"), "cg:webchat:{k1}:rate"),
    "webchat_echo_key": (keys.webchat_echo_key("k1", "m1"), "cg:webchat:{k1}:echoed:m1"),
    "webchat_sent_key": (keys.webchat_sent_key("k1", "o1"),
                         "cg:webchat:{k1}:sent:" + hashlib.sha256(b"o1").hexdigest()),
    "webchat_sockets_key": (keys.webchat_sockets_key("c1"), "cg:webchat:client:{c1}:sockets"),
    "webchat_new_sessions_key": (keys.webchat_new_sessions_key("c1"), "cg:webchat:client:{c1}:new"),
}


def test_every_key_keeps_the_name_redis_holds() -> None:
    assert {family: given for family, (given, _) in NAMES.items()} == {
        family: held for family, (_, held) in NAMES.items()}


def test_a_unit_queue_and_the_head_office_queue() -> None:
    assert keys.queue_stream_key("low", "en", "sh") == "cg:{queue}:low:en:sh"
    assert keys.queue_stream_key("low", "en", None) == "cg:{queue}:low:en"


def test_every_family_is_compared() -> None:
    families = {name for name in vars(keys) if name.endswith(("_key", "_KEY", "_CHANNEL"))}
    assert families == set(NAMES)


def test_every_family_says_what_it_holds() -> None:
    source = ast.parse((ROOT / "store" / "keys.py").read_text(encoding="utf-8"))
    described = set()
    for node, after in zip(source.body, [*source.body[1:], None], strict=True):
        if isinstance(node, ast.FunctionDef) and ast.get_docstring(node):
            described.add(node.name)
        elif (isinstance(node, ast.Assign) and isinstance(after, ast.Expr)
              and isinstance(after.value, ast.Constant) and isinstance(after.value.value, str)):
            described.update(target.id for target in node.targets if isinstance(target, ast.Name))
    assert set(NAMES) <= described


def key_literals(path: Path) -> Iterator[str]:
    """The string literals (plain or f-strings) in the module that start a key's name, docstrings left out."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                  if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
                  and node.body and isinstance(node.body[0], ast.Expr)}
    # An f-string's pieces are seen as the f-string.
    pieces = {id(part) for node in ast.walk(tree) if isinstance(node, ast.JoinedStr) for part in node.values}
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr):
            first = node.values[0] if node.values else None
            if isinstance(first, ast.Constant) and str(first.value).startswith("cg:"):
                yield ast.unparse(node)
        elif (isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value.startswith("cg:")
              and id(node) not in docstrings | pieces):
            yield node.value


def test_no_module_but_store_keys_names_a_key() -> None:
    # store/renames.py writes the names keys had before, to find them.
    own = {ROOT / "store" / "keys.py", ROOT / "store" / "renames.py"}
    found = {str(path.relative_to(ROOT)): literals for package in PACKAGES
             for path in sorted((ROOT / package).rglob("*.py"))
             if path not in own and (literals := list(key_literals(path)))}
    assert found == {}


async def claimed(cases: CaseStore, agent: str, number: int) -> Case:
    case = await cases.create(channel="webchat", conversation_id=f"webchat:r{number}", language="en",
                              customer={"name": "Ann", "phone": f"+44770090{number:04d}"},
                              complaint={"description": "fee charged twice"}, handoff_reason="complete")

    def take(record: Case) -> str:
        record["status"], record["assignee"] = "claimed", agent
        return f"claimed by {agent}"

    return await cases.change(case["id"], actor=agent, action="claim", mutate=take, role=Role.AGENT)


async def test_claims_held_under_the_old_names_are_moved_and_found(redis: Redis) -> None:
    cases = CaseStore(redis)
    queue = AgentQueue(redis, cases, claim_timeout=60)
    quiet, busy = await claimed(cases, "ann", 1), await claimed(cases, "bob", 2)
    # Written before the claims had their hash tag: ann has been silent past the timeout, bob was just seen.
    await redis.zadd(keys.LEGACY_CLAIMS_KEY, {quiet["id"]: time.time() - 61, busy["id"]: time.time()})
    await redis.sadd(keys.legacy_agent_claims_key("ann"), quiet["id"])
    await redis.sadd(keys.legacy_agent_claims_key("bob"), busy["id"])

    assert await rename_legacy_keys(redis) == 3
    assert await rename_legacy_keys(redis) == 0, "a second start finds nothing left to move"
    assert not await redis.keys("cg:claims") and not await redis.keys("cg:agent-claims:*")
    assert await queue.is_watched(quiet["id"]) and await queue.is_watched(busy["id"])
    assert await queue.reclaim_abandoned() == [quiet["id"]], "ann's silence is still seen"
    assert (await cases.summary(quiet["id"]))["status"] == "queued"
    await queue.release(busy["id"], "bob")  # bob's claim is found under its new name and let go
    assert not await queue.is_watched(busy["id"]) and not await redis.exists(keys.agent_claims_key("bob"))


async def test_a_claim_set_under_both_names_is_merged(redis: Redis) -> None:
    await redis.sadd(keys.legacy_agent_claims_key("ann"), "C-old")
    await redis.sadd(keys.agent_claims_key("ann"), "C-new")
    await redis.zadd(keys.LEGACY_CLAIMS_KEY, {"C-old": 5.0, "C-new": 1.0})
    await redis.zadd(keys.CLAIMS_KEY, {"C-new": 7.0})
    assert await rename_legacy_keys(redis) == 2
    assert await redis.smembers(keys.agent_claims_key("ann")) == {b"C-old", b"C-new"}
    assert await redis.zrange(keys.CLAIMS_KEY, 0, -1, withscores=True) == [(b"C-old", 5.0), (b"C-new", 7.0)]
    assert not await redis.exists(keys.LEGACY_CLAIMS_KEY, keys.legacy_agent_claims_key("ann"))


# ------------------------------------------------------------------------------- names that changed

# A name Redis may still hold from before a hash tag was added → the name it has now.
RENAMED = {
    "cg:email:outbox:due": keys.EMAIL_OUTBOX_DUE_KEY,
    "cg:email:outbox:failed": keys.EMAIL_OUTBOX_FAILED_KEY,
    "cg:email:outbox:{o1@example.test}": keys.email_outbox_key("o1@example.test"),
    "cg:email:quarantined": keys.EMAIL_QUARANTINED_KEY,
    "cg:email:quarantine:<m1@x>": keys.email_quarantine_key("<m1@x>"),
    "cg:sms:optout:+447700900001": keys.sms_optout_key("+447700900001"),
    "cg:sms:optout:+447700900001:history": keys.sms_optout_history_key("+447700900001"),
    "cg:sms:optout:whatsapp:+447700900002": keys.sms_optout_key("whatsapp:+447700900002"),
    "cg:sms:status:SM1": keys.sms_status_key("SM1"),
    "cg:sms:status:SM1:history": keys.sms_status_history_key("SM1"),
    "cg:sms:status:SM1:reported:delivered": keys.sms_status_reported_key("SM1", "delivered"),
}


LISTS = {keys.EMAIL_OUTBOX_FAILED_KEY, keys.EMAIL_QUARANTINED_KEY, keys.sms_optout_history_key("+447700900001"),
         keys.sms_status_history_key("SM1")}
HASHES = {keys.email_quarantine_key("<m1@x>"), keys.sms_status_key("SM1")}


async def write_each_type(redis: Redis, names: Mapping[str, str]) -> dict[str, object]:
    """Under each name, something of the type its family (named by the new name) has; what each holds."""
    held: dict[str, object] = {}
    for name, new in names.items():
        if new == keys.EMAIL_OUTBOX_DUE_KEY:
            await redis.zadd(name, {"o1@example.test": 1.5})
        elif new in LISTS:
            await redis.rpush(name, "first", "second")
        elif new in HASHES:
            await redis.hset(name, mapping={"reason": "x", "status": "sent"})
        else:
            await redis.set(name, "2026-03-04T00:00:00")
        held[name] = await dump_value(redis, name)
    return held


async def dump_value(redis: Redis, name: str) -> object:
    kind = (await redis.type(name)).decode()
    reads = {"zset": lambda: redis.zrange(name, 0, -1, withscores=True), "list": lambda: redis.lrange(name, 0, -1),
             "hash": lambda: redis.hgetall(name), "string": lambda: redis.get(name)}
    return kind, await reads[kind]()


async def test_old_names_are_moved_to_the_new_ones_once_with_their_time_to_live(redis: Redis) -> None:
    held = await write_each_type(redis, RENAMED)
    await redis.expire("cg:sms:status:SM1:reported:delivered", 1000)
    assert await rename_legacy_keys(redis) == len(RENAMED)
    assert {old: await dump_value(redis, new) for old, new in RENAMED.items()} == held
    assert not await redis.exists(*RENAMED)
    assert 990 < await redis.ttl(keys.sms_status_reported_key("SM1", "delivered")) <= 1000
    assert await redis.ttl(keys.sms_status_key("SM1")) == -1, "a key that never expired still does not"
    assert await rename_legacy_keys(redis) == 0, "a second start finds nothing to move"
    assert {old: await dump_value(redis, new) for old, new in RENAMED.items()} == held


async def test_a_new_name_that_holds_data_already_keeps_it_and_gains_the_old(redis: Redis) -> None:
    await redis.zadd("cg:email:outbox:due", {"old@x": 1.0, "both@x": 1.0})
    await redis.zadd(keys.EMAIL_OUTBOX_DUE_KEY, {"new@x": 2.0, "both@x": 2.0})
    await redis.rpush("cg:email:outbox:failed", "old 1", "old 2")
    await redis.rpush(keys.EMAIL_OUTBOX_FAILED_KEY, "new")
    await redis.set("cg:sms:optout:+447700900001", "old")
    await redis.set(keys.sms_optout_key("+447700900001"), "new")
    assert await rename_legacy_keys(redis) == 3
    assert await redis.zrange(keys.EMAIL_OUTBOX_DUE_KEY, 0, -1, withscores=True) == [
        (b"old@x", 1.0), (b"both@x", 2.0), (b"new@x", 2.0)]
    assert await redis.lrange(keys.EMAIL_OUTBOX_FAILED_KEY, 0, -1) == [b"old 1", b"old 2", b"new"]
    assert await redis.get(keys.sms_optout_key("+447700900001")) == b"new"
    assert await redis.dbsize() == 3


async def test_keys_under_their_new_names_are_left_alone(redis: Redis) -> None:
    await write_each_type(redis, {new: new for new in RENAMED.values()})
    await redis.set("cg:sms:status:SM1:unknown", "no family of ours")
    before = sorted(await redis.keys("*"))
    assert await rename_legacy_keys(redis) == 0
    assert sorted(await redis.keys("*")) == before


async def test_an_email_left_in_the_old_outbox_is_sent_after_the_start(redis: Redis, smtp_sink: SmtpSink) -> None:
    outbox = Outbox(redis, SmtpConfig("127.0.0.1", smtp_sink.port, tls="none", timeout=5.0))
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = "desk@example.test", "ann@example.org", "Re: 投诉"
    message["Message-ID"] = "<o1@example.test>"
    message.set_content("您好")
    await outbox.enqueue(message)
    # As the release before wrote it:
    await redis.rename(keys.email_outbox_key("o1@example.test"), "cg:email:outbox:{o1@example.test}")
    await redis.rename(keys.EMAIL_OUTBOX_DUE_KEY, "cg:email:outbox:due")
    assert await outbox.pending() == 0
    await rename_legacy_keys(redis)
    assert await outbox.pending() == 1
    assert await outbox.send_due() == 1
    [sent] = smtp_sink.messages
    assert sent.message["Message-ID"] == "<o1@example.test>"

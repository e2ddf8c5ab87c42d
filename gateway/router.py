"""The router: every customer message, from any channel, to the bot or to the case's handler.

Guarantees:
- nothing lost: ``receive`` returns only after the message is in the conversation's inbox in Redis, and an
  inbox is drained until empty, also after a gateway dies (its lease expires and the sweeper resumes it);
- exactly-once effect per provider message id: a retry with the same id is recorded once (SET NX and the
  inbox push are one script); a message handled again because Redis went away or a gateway died mid-way
  repeats none of what was done the first time (its transcript line, the bot's turn, each answer, the case);
  a retry that waits (``receive_and_wait``) returns once the first try is handled, on any gateway, so the
  channel can answer it as it answered the first;
- one conversation, one order: a conversation's inbox is a Redis list drained by whoever holds its lease,
  one message at a time, so two gateway processes never handle one conversation at once;
- a conversation is ``bot`` while the intake runs, then belongs to its case: later messages go to the case's
  handler, not the bot, until the case is closed and a new intake (a new, short Rasa conversation) starts;
- if Rasa fails or is slow, the customer gets a holding reply and the conversation is queued for a human;
- every complaint reaches the record: an intake left silent for ``INTAKE_IDLE_MINUTES`` becomes an
  ``incomplete`` case with what was said (the sweeper finds it in ``cg:intakes:idle``), and a customer who comes
  back to it goes on with the bot until the record is complete, on the same case, unless a handler has taken it;
- a case's ``received_at`` is the first message of its intake: every deadline counts from it.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import json
import logging
import re
import secrets
import time
import unicodedata
import uuid
from collections.abc import Awaitable, Callable, Iterable, Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

from redis.asyncio import Redis
from redis.exceptions import RedisError

from channels.base import CannotDeliver, Capabilities, Channel, ChannelInfo
from channels.language import detect, script
from channels.message import InboundMessage, OutboundMessage
from gateway import texts
from gateway.events import DeskEvents
from gateway.privacy import conversation_ref
from gateway.rasa_client import BotReply, BotUnavailable, RasaClient, parse_reply
from handoff.cases import Case, CaseNotFound, CaseStore
from handoff.queue import AgentQueue
from store.keys import ACTIVE_CONVERSATIONS_KEY as ACTIVE_KEY
from store.keys import IDLE_INTAKES_KEY as IDLE_KEY
from store.keys import QUARANTINE_KEY
from store.keys import conversation_key as _key
from store.lease import Lease
from store.once import AppendOnce
from store.scripts import register_script

if TYPE_CHECKING:
    from gateway.alerts import SupervisorAlerts
    from gateway.metrics import GatewayMetrics

log = logging.getLogger(__name__)
NO_CAPABILITIES = Capabilities(answer_later=False)

# Commands that end an intake as it stands, with the case's handoff reason: the channel hands the customer to a
# person, a call ended, the customer fell silent.
ENDINGS = {"handoff": "channel_handoff", "hangup": "call_ended", "idle": "idle"}
LEASE_MS = 60_000
# A satisfaction answer: one digit 1-5 (full-width too), or a Chinese numeral, maybe with 分 or "/5".
_SCORE = re.compile(r"^\s*([1-5１-５一二三四五])\s*(分|星|/\s*5|out of 5)?\s*[。.!！]?\s*$", re.IGNORECASE)
_CHINESE_DIGITS = {"一": 1, "二": 2, "三": 3, "四": 4, "五": 5}
DEDUP_SECONDS = 7 * 24 * 3600
HANDLED = b"handled"
HANDLED_POLL = 0.05  # how often a retry looks whether another gateway has handled its first try

# Take a conversation off the idle watch unless the customer spoke again since it was read (its time moved on).
_UNWATCH_IF_SAME = """
if redis.call('ZSCORE', KEYS[1], ARGV[1]) == ARGV[2] then return redis.call('ZREM', KEYS[1], ARGV[1]) end
return 0
"""

# The drain's steps, each one round trip, on the keys of one conversation (one slot); the lease is store.lease's
# (a string holding its holder's token), and the next message is the one left in 'working' by a gateway that died,
# else the inbox's first, moved to 'working'.
_NEXT = """
local function next_message(working, inbox)
  local raw = redis.call('LINDEX', working, 0)
  if not raw then raw = redis.call('LMOVE', inbox, working, 'LEFT', 'RIGHT') end
  return raw
end
"""
# KEYS: lease, working, inbox. ARGV: token, lease ms. Take the lease if it is free (else false, nothing moved),
# then the next message: {1, message or false}. Sent again by the client after a lost reply, it finds the lease
# already its own and goes on.
_TAKE_AND_NEXT = _NEXT + """
local holder = redis.call('GET', KEYS[1])
if holder and holder ~= ARGV[1] then return false end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return {1, next_message(KEYS[2], KEYS[3])}
"""
# KEYS: working, inbox, lease, the handled message's seen mark. ARGV: the handled message, token, lease ms,
# HANDLED. The message handled is marked so and leaves 'working'; then the next message, and the lease renewed
# for it (taken again if it lapsed and is free): {1, message}; {0, message} if another holds the lease now, which
# goes on from that message; {1, false} when none waits.
_DONE_AND_NEXT = _NEXT + """
redis.call('SET', KEYS[4], ARGV[4], 'XX', 'KEEPTTL')
redis.call('LREM', KEYS[1], 1, ARGV[1])
local raw = next_message(KEYS[1], KEYS[2])
if not raw then return {1, false} end
local holder = redis.call('GET', KEYS[3])
if holder == ARGV[2] then
  redis.call('PEXPIRE', KEYS[3], ARGV[3])
elseif holder then
  return {0, raw}
else
  redis.call('SET', KEYS[3], ARGV[2], 'PX', ARGV[3])
end
return {1, raw}
"""
# KEYS: lease, inbox, working. ARGV: token. Release the lease if it is ours; how many messages wait and are in hand.
_RELEASE_AND_COUNT = """
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
return {redis.call('LLEN', KEYS[2]), redis.call('LLEN', KEYS[3])}
"""
# KEYS: state, a message's reply mark, its recorded mark. Returns {the state's fields and values, the reply or
# false, 1 if recorded else 0}.
_READ_STATE = """
return {redis.call('HGETALL', KEYS[1]), redis.call('GET', KEYS[2]) or false, redis.call('EXISTS', KEYS[3])}
"""
# KEYS: state, transcript, the message's recorded mark. ARGV: '1' to start a new intake (the closed case's
# fields and the old transcript go), the customer's line, the mark's life (s), then the state's fields and values.
# The line joins the transcript once.
_REMEMBER = """
if ARGV[1] == '1' then
  redis.call('HDEL', KEYS[1], 'case_id', 'completing', 'completing_from')
  redis.call('DEL', KEYS[2])
end
redis.call('HSET', KEYS[1], unpack(ARGV, 4))
if redis.call('SET', KEYS[3], '1', 'NX', 'EX', ARGV[3]) then redis.call('RPUSH', KEYS[2], ARGV[2]) end
return 1
"""
# KEYS: an answer's mark, the intake's transcript, the mark of its line there. ARGV: what the answer did, the
# marks' life (s), its transcript line. Keeps what it did, then adds the line once (Router._say).
_KEEP_SAID = """
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
if redis.call('SET', KEYS[3], '1', 'NX', 'EX', ARGV[2]) then redis.call('RPUSH', KEYS[2], ARGV[3]) end
return 1
"""


def _seen_key(message: InboundMessage) -> str:
    """Set when the message is recorded; ``HANDLED`` once it is handled, which is what a retry of it waits for."""
    return _key(message.conversation_id, f"seen:{message.message_id}")


def _reply_key(message: InboundMessage) -> str:
    """The bot's answer to the message, kept once it answered (``Router._bot_reply``)."""
    return _key(message.conversation_id, f"reply:{message.message_id}")


class _Unread:
    """A mark not read yet (``Router._once``)."""


UNREAD = _Unread()


def _recorded_key(message: InboundMessage) -> str:
    """Set once the message's line is in the intake's transcript (``Router._remember``)."""
    return _key(message.conversation_id, f"recorded:{message.message_id}")


async def link_open_case(redis: Redis, conversation_id: str, case_id: str) -> bool:
    """Make the case its conversation's open case unless the conversation names one already (Redis rebuilt from
    the record, ``records.recovery``); whether it did."""
    return bool(await redis.hsetnx(_key(conversation_id, "state"), "case_id", case_id))


class Router:
    def __init__(
        self,
        redis: Redis,
        rasa: RasaClient,
        cases: CaseStore,
        queue: AgentQueue,
        channels: Mapping[str, Channel],
        known: Iterable[ChannelInfo],
        events: DeskEvents,
        alerts: SupervisorAlerts | None = None,
        metrics: GatewayMetrics | None = None,
        intake_idle: timedelta = timedelta(minutes=30),
    ) -> None:
        self._redis = redis
        self._rasa = rasa
        self._cases = cases
        self._queue = queue
        self._channels = channels
        self._capabilities = {info.name: info.capabilities for info in known}
        self._events = events
        self._alerts = alerts
        self._metrics = metrics
        self._tasks: set[asyncio.Task[None]] = set()
        # One future per message waited for, shared by its first try and any retry waiting here at the same time.
        self._handled: dict[tuple[str, str], asyncio.Future[None]] = {}
        self._waiters: collections.Counter[tuple[str, str]] = collections.Counter()
        # What was done while Redis was away, by the key that will record it: kept here until Redis has it.
        self._unsaved: dict[str, str] = {}
        self._intake_idle = intake_idle
        self.ratings: Ratings | None = None  # the desk, which judges a customer's rating (set by the app)
        self._append_once = AppendOnce(redis)
        self._unwatch_if_same = register_script(redis, _UNWATCH_IF_SAME)
        self._take_and_next = register_script(redis, _TAKE_AND_NEXT)
        self._done_and_next = register_script(redis, _DONE_AND_NEXT)
        self._release_and_count = register_script(redis, _RELEASE_AND_COUNT)
        self._remember_script = register_script(redis, _REMEMBER)
        self._keep_said = register_script(redis, _KEEP_SAID)
        self._read_state = register_script(redis, _READ_STATE)

    async def receive(self, message: InboundMessage) -> bool:
        """Record the message durably; False if this provider message id was seen before."""
        conversation_id = message.conversation_id
        mark, inbox = _seen_key(message), _key(conversation_id, "inbox")
        payload = json.dumps(message.to_dict(), ensure_ascii=False)
        # Marked active first: a gateway that dies right after recording leaves the sweeper a trail.
        await self._redis.sadd(ACTIVE_KEY, conversation_id)
        fresh = await self._append_once.to_list(mark, inbox, payload, DEDUP_SECONDS)
        if self._metrics is not None and message.command is None:
            (self._metrics.messages if fresh else self._metrics.duplicates).labels(message.channel).inc()
        self._spawn(self.drain(conversation_id))
        return fresh

    async def receive_and_wait(self, message: InboundMessage, within: float) -> bool | None:
        """Record the message, then wait (up to ``within`` seconds) until this gateway has handled it.

        True: handled here, every answer has gone to the channel's ``send`` with ``in_reply_to`` set.
        False: recorded but not handled here in time (another replica holds the conversation, or the bot is
        slow); its answers will reach the channel's ``send`` later. None: a duplicate, already recorded; it
        returns once the first try has been handled (here or by another gateway), or after ``within`` seconds.
        """
        key = (message.conversation_id, message.message_id)
        waiter = self._wait_for(key)
        try:
            if not await self.receive(message):
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._until_handled(message, waiter), within)
                return None
            await asyncio.wait_for(asyncio.shield(waiter), within)
            return True
        except TimeoutError:
            return False
        finally:
            self._stop_waiting(key)

    def _wait_for(self, key: tuple[str, str]) -> asyncio.Future[None]:
        """The future woken when the message is handled here: one for every request waiting for it at once."""
        if key not in self._handled:
            self._handled[key] = asyncio.get_running_loop().create_future()
        self._waiters[key] += 1
        return self._handled[key]

    def _stop_waiting(self, key: tuple[str, str]) -> None:
        self._waiters[key] -= 1
        if self._waiters[key] <= 0:
            del self._waiters[key]
            self._handled.pop(key, None)

    async def _until_handled(self, message: InboundMessage, waiter: asyncio.Future[None]) -> None:
        """Until the message is handled: here (its waiter is woken) or by another gateway (its mark is set)."""
        while not waiter.done() and await self._redis.get(_seen_key(message)) != HANDLED:
            await asyncio.wait([waiter], timeout=HANDLED_POLL)

    async def case_of(self, conversation_id: str) -> str | None:
        """The id of the conversation's open case, if it has one."""
        case = await self._open_case_of(await self._conversation(conversation_id))
        return None if case is None else str(case["id"])

    def _spawn(self, coroutine: Any) -> None:
        task = asyncio.create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def sweep(self) -> None:
        """Resume conversations whose messages wait with no one draining them (a gateway died)."""
        for raw in await self._redis.smembers(ACTIVE_KEY):
            self._spawn(self.drain(raw.decode()))

    async def close_idle_intakes(self, now: float | None = None) -> int:
        """Hand every intake silent for ``intake_idle`` its "idle" turn, in its conversation's order: it becomes
        an incomplete case there. How many were due."""
        due = await self._redis.zrangebyscore(IDLE_KEY, "-inf", now or time.time(), withscores=True)
        for raw, score in due:
            conversation_id = raw.decode()
            channel, _, key = conversation_id.partition(":")
            await self.receive(InboundMessage(channel=channel, conversation_key=key, message_id=f"idle:{score:.3f}",
                                              text="", command="idle"))
            await self._unwatch_if_same(keys=[IDLE_KEY], args=[conversation_id, repr(score)])
        return len(due)

    async def drain(self, conversation_id: str) -> None:
        """Handle the conversation's waiting messages in order, if no one else is doing so."""
        lease = Lease(self._redis, _key(conversation_id, "lease"), uuid.uuid4().hex, LEASE_MS)
        try:
            await self._drain_with_lease(conversation_id, lease)
        except RedisError:
            # The message in hand stays in 'working': the sweeper hands it again once Redis is back.
            log.warning("lost Redis while handling %s; it resumes when Redis is back",
                        conversation_ref(conversation_id))
            if self._holds_unsaved(conversation_id):
                await self._resume(conversation_id, lease)
            else:
                await self._give_back(lease)

    def _holds_unsaved(self, conversation_id: str) -> bool:
        """Does this process alone hold what was done for the conversation (the bot's answer, a message said)?"""
        prefix = _key(conversation_id, "")
        return any(mark.startswith(prefix) for mark in self._unsaved)

    async def _resume(self, conversation_id: str, lease: Lease) -> None:
        """Go on with the conversation under the same lease once Redis answers again. Given back, another gateway
        would ask the bot again what only this one knows it answered (after a failover with two replicas running),
        and the bot would hear the message twice. If Redis stays away past the lease, another gateway goes on."""
        for _ in range(LEASE_MS // 1000):
            await asyncio.sleep(1)
            try:
                await self._drain_with_lease(conversation_id, lease)
                return
            except RedisError:
                continue

    async def _give_back(self, lease: Lease, attempts: int = 10) -> None:
        """Release the lease as soon as Redis answers again, so the conversation need not wait for it to expire."""
        for _ in range(attempts):
            with contextlib.suppress(RedisError):
                await lease.release()
                return
            await asyncio.sleep(1)

    async def _drain_with_lease(self, conversation_id: str, lease: Lease) -> None:
        """Take the lease, then each message in turn (a message left in 'working' by a gateway that died goes
        first), renewing the lease before each; release it when none is left. Each step is one script on the
        conversation's keys: taking the lease and the first message; marking a message handled, dropping it from
        'working', taking the next and renewing the lease; releasing it and counting what is left."""
        inbox, working = _key(conversation_id, "inbox"), _key(conversation_id, "working")
        while taken := await self._take_and_next(keys=[lease.key, working, inbox], args=[lease.token, LEASE_MS]):
            raw: bytes | None = taken[1]
            keep_lease = False
            try:
                while raw is not None:
                    message = await self._handle_safely(raw)
                    renewed, raw = await self._done_and_next(keys=[working, inbox, lease.key, _seen_key(message)],
                                                             args=[raw, lease.token, LEASE_MS, HANDLED])
                    self._wake(message)
                    if not renewed:
                        return  # it lapsed and another gateway holds it: that one goes on from this message
            except RedisError:
                keep_lease = self._holds_unsaved(conversation_id)  # this process goes on with it (drain)
                raise
            finally:
                if not keep_lease:
                    waiting, in_hand = await self._release_and_count(keys=[lease.key, inbox, working],
                                                                     args=[lease.token])
            # A message may have arrived between our last look and the release: look again.
            if not waiting:
                if not in_hand:
                    await self._redis.srem(ACTIVE_KEY, conversation_id)
                return

    async def _handle_safely(self, raw: bytes) -> InboundMessage:
        """Handle the message; one that fails with a bug is quarantined. The message, to be marked handled."""
        message = InboundMessage.from_dict(json.loads(raw))
        try:
            await self._handle(message)
        except RedisError:
            raise  # not the message's fault: it stays where it is and is handled again
        except Exception:
            # The message itself is safe in Redis; a bug must not stall the conversation behind it.
            log.exception("failed to handle a message in %s", conversation_ref(message.conversation_id))
            await self._redis.rpush(QUARANTINE_KEY, raw)
            if self._metrics is not None:
                self._metrics.failures.inc()
        return message

    def _wake(self, message: InboundMessage) -> None:
        """The message is marked handled (its seen mark ``HANDLED``): wake whoever waits for it here."""
        waiter = self._handled.get((message.conversation_id, message.message_id))
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def _handle(self, message: InboundMessage) -> None:
        state, asked_before, recorded = await self._state_of(message)
        language = message.language or detect(message.text) or state.get("language") or "en"
        entry: dict[str, Any] = {"at": message.received_at.isoformat(), "from": "customer",
                                 "channel": message.channel, "text": message.text}
        if message.attachments:
            entry["attachments"] = [a.to_dict() for a in message.attachments]
        case = await self._open_case_of(state)
        once = f"{message.conversation_id}\n{message.message_id}"
        if message.command == "note":
            # A machine's word about the conversation (a bounce, a read receipt): on the record, not to the bot.
            note = {**entry, "from": "system"}
            if case is not None:
                await self._cases.add_message(case["id"], note, once=once)
                await self._events.publish(case["id"], case["status"], "note")
            else:
                await self._push_to_transcript(message, _recorded_key(message), note)
            return
        if message.command in ENDINGS:
            if case is None and self._ends_intake(message.command, state):
                record = await self._partial_record(message, state, language)
                await self._open_case(message, language, record, ENDINGS[message.command])
            return
        # Handled again after a fault, a message that opened a case goes the intake's way again (each step
        # done once) instead of landing on that case as a new message.
        if case is not None and not recorded:
            await self._cases.add_message(case["id"], entry, once=once)
            score = satisfaction_score(message.text) if case.get("survey") == "asked" else None
            if case["status"] == "answered" and score is not None:
                await self._record_satisfaction(message, case, score)
                return
            await self._events.publish(case["id"], case["status"], "customer_message")
            if _completing(state, case) and message.text.strip():
                await self._complete_intake(message, state, case, language)
            return
        if case is None:
            state = await self._remember(message, state, entry, language)
        if not message.text.strip():
            return  # a picture without words: on the intake's record, nothing for the bot to read
        try:
            reply = await self._bot_reply(message, state, language, stored=asked_before)
        except BotUnavailable as exc:
            log.warning("bot unavailable for %s: %s", conversation_ref(message.conversation_id), exc)
            if self._metrics is not None:
                self._metrics.bot_unavailable.inc()
            await self._say(message, "holding", texts.holding_reply(language), language)
            await self._open_case(message, language, {}, "bot_unavailable")
            return
        for i, (text, buttons) in enumerate(reply.texts):
            await self._say(message, f"bot{i}", text, language, buttons)
        for event in reply.events:
            if event.get("event") in ("case_ready", "human_requested"):
                reason = "complete" if event["event"] == "case_ready" else str(event.get("reason", "customer_request"))
                await self._open_case(message, language, event.get("record") or {}, reason)
                return
        if self._can(message.channel).batch:
            # A finished call's transcript cannot answer questions: what the bot could not fill, a handler will.
            await self._open_case(message, language, await self._partial_record(message, state, language), "batch")

    def _ends_intake(self, command: str, state: dict[str, str]) -> bool:
        """A hand-over always opens a case; a call's end one if anything was said; silence one if the intake's
        last customer message is ``intake_idle`` old (not merely its idle turn's time)."""
        if command == "handoff":
            return True
        if "intake" not in state:
            return False
        return command == "hangup" or float(state.get("last_at", "0")) + self._intake_idle.total_seconds() <= (
            time.time() + 1)

    async def _complete_intake(self, message: InboundMessage, state: dict[str, str], case: Case,
                               language: str) -> None:
        """The customer came back to an incomplete case nobody has taken yet: the bot goes on asking for what is
        missing, and what it gathers completes the same case.

        The intake's bot conversation ended when the case opened; the first message back starts a new one that
        reads everything the customer said before with it, so the bot asks only for what is still missing."""
        said = None
        if state.get("completing_from") is None:
            earlier = [m["text"] for m in (await self._cases.get(case["id"]))["messages"]
                       if m.get("from") == "customer" and m.get("text") and m["text"] != message.text]
            said = "\n".join([*earlier, message.text])
            await self._redis.hset(_key(message.conversation_id, "state"), "completing_from", message.message_id)
        elif state["completing_from"] == message.message_id:
            said = None  # handled again after a fault: the bot's answer is kept under this message's id
        try:
            reply = await self._bot_reply(message, state, language, text=said)
        except BotUnavailable:
            return  # the message is on the case: a handler reads it
        for i, (text, buttons) in enumerate(reply.texts):
            await self._say(message, f"bot{i}", text, language, buttons, log_to=case["id"])
        for event in reply.events:
            if event.get("event") not in ("case_ready", "human_requested"):
                continue
            if isinstance(event.get("record"), dict):
                case = await self._cases.complete(case["id"], dict(event["record"]))
            await self._redis.hdel(_key(message.conversation_id, "state"), "completing", "completing_from")
            thanks = texts.in_script(texts.case_completed(case["language"], case["id"]), case.get("script"))
            out = OutboundMessage(message.channel, message.conversation_key, thanks, "system", case_id=case["id"],
                                  case_status=case["status"], in_reply_to=message.message_id)
            await self._deliver(out)
            await self._cases.add_message(case["id"], {"at": out.sent_at.isoformat(), "from": "system",
                                                       "channel": message.channel, "text": thanks},
                                          once=f"completed\n{message.conversation_id}\n{message.message_id}")
            await self._events.publish(case["id"], case["status"], "completed")
            return

    async def _once(self, mark: str, act: Callable[[], Awaitable[str]], *, stored: bytes | _Unread | None = UNREAD,
                    keep: Callable[[str], Awaitable[None]] | None = None) -> str:
        """What ``act`` gave the first time: handled again after a fault, a message does not do it twice.

        The result is kept in Redis under ``mark`` (by ``keep`` if given, which must set it); if Redis fails right
        after ``act``, in this process until Redis is back. Only a gateway that dies between ``act`` and that
        write leaves it to be done again. ``stored`` is what ``mark`` held, if the caller read it already (under
        the conversation's lease, nobody else writes it meanwhile).
        """
        if (kept := self._unsaved.get(mark)) is None:
            found: bytes | None = await self._redis.get(mark) if isinstance(stored, _Unread) else stored
            if found is not None:
                return str(found.decode())
            kept = self._unsaved[mark] = await act()
        if keep is None:
            await self._redis.set(mark, kept, ex=DEDUP_SECONDS)
        else:
            await keep(kept)
        del self._unsaved[mark]
        return kept

    async def _bot_reply(self, message: InboundMessage, state: dict[str, str], language: str,
                         text: str | None = None, stored: bytes | _Unread | None = UNREAD) -> BotReply:
        """The bot's turn for this message (Rasa hears each message once, so its dialogue stays on course);
        ``text`` is what the bot reads instead of the message's own words."""

        async def ask() -> str:
            metadata = {"language": language, "channel": message.channel, "contact": message.contact.to_dict()}
            said = message.text if text is None else text
            reply = await self._timed_turn(_bot_sender(message, state), said, metadata)
            return json.dumps(reply.to_body(), ensure_ascii=False)

        return parse_reply(json.loads(await self._once(_reply_key(message), ask, stored=stored)))

    async def _timed_turn(self, sender: str, text: str, metadata: dict[str, Any]) -> BotReply:
        if self._metrics is None:
            return await self._rasa.turn(sender, text, metadata)
        with self._metrics.bot_turns.time():
            return await self._rasa.turn(sender, text, metadata)

    async def _partial_record(self, message: InboundMessage, state: dict[str, str], language: str) -> dict[str, Any]:
        """What the bot has collected so far, asked for with its own "to a person" button payload."""
        if "intake" not in state:
            return {}  # the bot has not heard from this customer
        metadata = {"language": language, "channel": message.channel, "contact": message.contact.to_dict()}
        try:
            reply = await self._rasa.turn(_bot_sender(message, state), "/request_human", metadata)
        except BotUnavailable:
            return {}
        for event in reply.events:
            if isinstance(event.get("record"), dict):
                return dict(event["record"])
        return {}

    async def _conversation(self, conversation_id: str) -> dict[str, str]:
        raw = await self._redis.hgetall(_key(conversation_id, "state"))
        return {k.decode(): v.decode() for k, v in raw.items()}

    async def _state_of(self, message: InboundMessage) -> tuple[dict[str, str], bytes | None, bool]:
        """In one read (the conversation's slot): its state, the bot's answer to this message if it was asked
        before (``_bot_reply``), and whether the message's line is in the intake's transcript (``_remember``)."""
        # A script rather than MULTI: redis-py's Cluster transaction cannot run HGETALL (its reply callback).
        raw, asked_before, recorded = await self._read_state(
            keys=[_key(message.conversation_id, "state"), _reply_key(message), _recorded_key(message)])
        pairs = iter(raw)
        return {k.decode(): v.decode() for k, v in zip(pairs, pairs, strict=True)}, asked_before, bool(recorded)

    async def _open_case_of(self, state: dict[str, str]) -> Case | None:
        if not state.get("case_id"):
            return None
        try:
            case = await self._cases.summary(state["case_id"])
        except CaseNotFound:
            return None
        return None if case["status"] == "closed" else case

    async def _remember(
        self, message: InboundMessage, state: dict[str, str], entry: dict[str, Any], language: str
    ) -> dict[str, str]:
        """Keep the intake's transcript and language; a closed case's conversation starts a new intake (a new
        Rasa conversation). The conversation's state afterwards."""
        conversation_id = message.conversation_id
        state_key = _key(conversation_id, "state")
        now = {**state, "language": language}
        now["last_at"] = repr(time.time())
        new_intake = bool(state.get("case_id"))
        if new_intake:
            del now["case_id"]
            now["intake"] = str(int(state.get("intake", "1")) + 1)
            now["bot_id"] = secrets.token_hex(12)
            now["started_at"] = message.received_at.isoformat()
        elif "intake" not in state:
            now["intake"], now["bot_id"] = "1", secrets.token_hex(12)
            now["started_at"] = message.received_at.isoformat()
        fields = [part for k in ("intake", "language", "bot_id", "started_at", "last_at") if k in now
                  for part in (k, now[k])]
        # The state and the message's line in the transcript (once), in one script: the conversation's slot.
        await self._remember_script(
            keys=[state_key, _key(conversation_id, "transcript"), _recorded_key(message)],
            args=["1" if new_intake else "0", json.dumps(entry, ensure_ascii=False), DEDUP_SECONDS, *fields])
        # The idle watch is one key for every conversation, so in no conversation's slot: set after the state,
        # which it reads when due. Interrupted before, the message is handled again and this runs again.
        if not self._can(message.channel).batch:
            idle_at = float(now["last_at"]) + self._intake_idle.total_seconds()
            await self._redis.zadd(IDLE_KEY, {conversation_id: idle_at})
        return now

    async def _push_to_transcript(self, message: InboundMessage, mark: str, entry: dict[str, Any]) -> None:
        """Add a line to the intake's transcript, once: the key ``mark`` records that it is there."""
        transcript = _key(message.conversation_id, "transcript")
        await self._append_once.to_list(mark, transcript, json.dumps(entry, ensure_ascii=False), DEDUP_SECONDS)

    async def _say(
        self, to: InboundMessage, step: str, text: str, language: str, buttons: tuple[Any, ...] = (),
        log_to: str | None = None,
    ) -> None:
        """Answer the message (``step`` tells its answers apart), once: handled again, it is not said twice. The
        answer joins the intake's transcript, or the case ``log_to``."""

        mark = _key(to.conversation_id, f"say-{step}:{to.message_id}")

        async def say() -> str:
            # Done again if Redis failed after the channel kept it (a Cluster primary lost mid-write): ``once``
            # lets the channel tell (tests/e2e/test_redis_topologies.py).
            out = OutboundMessage(to.channel, to.conversation_key, text, "bot", buttons=buttons,
                                  in_reply_to=to.message_id, once=mark)
            await self._deliver(out)
            return json.dumps({"at": out.sent_at.isoformat(), "from": "bot", "channel": to.channel, "text": text},
                              ensure_ascii=False)

        said_mark = _key(to.conversation_id, f"said-{step}:{to.message_id}")
        logged = False

        async def keep_and_log(entry: str) -> None:
            # What was said, and its line in the transcript (once), in one script: the conversation's slot.
            nonlocal logged
            await self._keep_said(keys=[mark, _key(to.conversation_id, "transcript"), said_mark],
                                  args=[entry, DEDUP_SECONDS, entry])
            logged = True

        entry = await self._once(mark, say, keep=None if log_to is not None else keep_and_log)
        if log_to is not None:
            await self._cases.add_message(log_to, json.loads(entry), once=f"said-{step}\n{to.message_id}")
            return
        if not logged:  # said before this try: its line may still be missing
            await self._push_to_transcript(to, said_mark, json.loads(entry))

    async def _open_case(
        self, message: InboundMessage, language: str, record: dict[str, Any], reason: str
    ) -> Case:
        conversation_id = message.conversation_id
        state = await self._conversation(conversation_id)
        transcript = [json.loads(m) for m in await self._redis.lrange(_key(conversation_id, "transcript"), 0, -1)]
        contact = message.contact
        customer_words = [m["text"] for m in transcript if m["from"] == "customer"]
        said = "\n".join(customer_words)
        case = await self._cases.create(
            channel=message.channel,
            conversation_id=conversation_id,
            language=record.get("language") or language,
            customer={
                "name": record.get("customer_name") or contact.name,
                "phone": record.get("phone") or contact.phone,
                "email": record.get("email") or contact.email,
                "account_id": record.get("account_id"),
                "contact_declined": bool(record.get("contact_declined")),
            },
            complaint={**record, "description": record.get("description") or said},
            received_at=_moment(state.get("started_at")),
            script=record.get("script") or script(customer_words) or "Hans",
            handoff_reason=reason,
            messages=transcript,
            attachments=[a for m in transcript for a in m.get("attachments", ())],
            risk_flags=_strings(record.get("risk_flags")),
            unverified=[*_strings(record.get("unverified")), *(["phone"] if record.get("phone_unverified") else [])],
            # Handled again after a gateway died mid-way, the same message finds the case it opened.
            once=f"{conversation_id}\n{message.message_id}",
        )

        async def queue_and_announce() -> str:
            await self._queue.enqueue(case["id"])
            # Left silent, the intake goes on when the customer comes back (not when they asked for a person).
            completing = reason == "idle" and case["incomplete"]
            opened = {"case_id": case["id"], **({"completing": case["id"]} if completing else {})}
            await self._redis.hset(_key(conversation_id, "state"), mapping=opened)
            await self._redis.zrem(IDLE_KEY, conversation_id)
            if self._metrics is not None:
                self._metrics.cases.labels(message.channel, case["priority"]).inc()
            respond_by = datetime.fromisoformat(case["deadlines"]["respond_by"])
            opened_text = texts.case_opened_incomplete if case["incomplete"] else texts.case_opened
            notice = texts.in_script(opened_text(case["language"], case["id"], respond_by), case.get("script"))
            out = OutboundMessage(message.channel, message.conversation_key, notice, "system",
                                  case_id=case["id"], case_status=case["status"], in_reply_to=message.message_id)
            await self._deliver(out)
            return json.dumps({"at": out.sent_at.isoformat(), "from": "system", "channel": message.channel,
                               "text": notice}, ensure_ascii=False)

        notice = await self._once(_key(conversation_id, f"case-notice:{message.message_id}"), queue_and_announce)
        await self._cases.add_message(case["id"], json.loads(notice),
                                      once=f"notice\n{conversation_id}\n{message.message_id}")
        await self._events.publish(case["id"], case["status"], "created")
        log.info("case %s opened from %s (%s)", case["id"], message.channel, reason)
        if self._alerts is not None:
            await self._alerts.high_risk(case)
        return case

    async def reply_from_agent(self, case: Case, agent: str, text: str) -> None:
        """Send a handler's reply through the customer's own channel and put it on the case; a complaint staff
        registered (a walk-in, a letter) is answered by SMS where the customer gave a phone."""
        channel, key = self._reply_route(case)
        out = OutboundMessage(channel, key, text, "agent", automatic=False)
        await self._deliver(out)
        await self._cases.add_message(case["id"], {"at": out.sent_at.isoformat(), "from": "agent",
                                                   "agent": agent, "channel": channel, "text": text})

    async def ask_satisfaction(self, case: Case) -> None:
        """After the answer, ask the customer on their own channel, in their language, to rate it 1-5."""
        channel, key = _address(case)
        if not self._can(channel).survey:
            return
        text = texts.satisfaction_question(case["language"], case["id"])
        # Marked before it is sent: a customer who answers at once must find the question open.
        await self._mark_survey(case["id"], "asked", "satisfaction survey sent")
        out = OutboundMessage(channel, key, text, "system", case_id=case["id"], case_status=case["status"])
        try:
            await self._deliver(out)
        except CannotDeliver as exc:
            # The customer said STOP, or the channel is gone: the case keeps its answer without a survey.
            await self._mark_survey(case["id"], "undeliverable", f"satisfaction survey not sent: {exc}")
            return
        await self._cases.add_message(case["id"], {"at": out.sent_at.isoformat(), "from": "system",
                                                   "channel": channel, "text": text})

    async def _mark_survey(self, case_id: str, state: str, detail: str) -> None:
        def mark(record: Case) -> str:
            record["survey"] = state
            return detail

        await self._cases.change(case_id, actor="system", action="survey", mutate=mark)

    async def _record_satisfaction(self, message: InboundMessage, case: Case, score: int) -> None:
        """The customer's 1-5, judged as a return visit (handoff.desk): satisfied closes the case; dissatisfied
        reopens it to its handler; dissatisfied again after a second answer, they hear about mediation."""
        if self.ratings is None:
            raise RuntimeError("no desk to judge the customer's rating")
        updated, outcome = await self.ratings.customer_rated(case, score, message.channel)
        thanks = texts.in_script(texts.satisfaction_thanks(case["language"], outcome in ("reopened", "referred")),
                                 case.get("script"))
        out = OutboundMessage(message.channel, message.conversation_key, thanks, "system", case_id=case["id"],
                              case_status=updated["status"], in_reply_to=message.message_id)
        await self._deliver(out)
        await self._cases.add_message(case["id"], {"at": out.sent_at.isoformat(), "from": "system",
                                                   "channel": message.channel, "text": thanks})

    async def tell(self, case: Case, text: str) -> None:
        """A word from the firm to the customer on their channel (mediation and arbitration), on the case."""
        channel, key = self._reply_route(case)
        out = OutboundMessage(channel, key, text, "system", case_id=case["id"], case_status=case["status"])
        await self._deliver(out)
        await self._cases.add_message(case["id"], {"at": out.sent_at.isoformat(), "from": "system",
                                                   "channel": channel, "text": text})

    def can_survey(self, case: Case) -> bool:
        return self._can(_address(case)[0]).survey and _address(case)[0] in self._channels

    async def notify_status(self, case: Case) -> None:
        """Tell the customer their case changed status (the web chat shows it on the banner)."""
        channel, key = _address(case)
        if channel in self._channels:
            await self._deliver(OutboundMessage(channel, key, "", "system", case_id=case["id"],
                                                case_status=case["status"]))

    def _reply_route(self, case: Case) -> tuple[str, str]:
        channel, key = _address(case)
        if channel in self._channels:
            return channel, key
        phone = (case.get("customer") or {}).get("phone")
        texting = next((name for name in self._channels if self._can(name).writes_to_phone), None)
        if phone and texting:
            return texting, str(phone)
        raise CannotDeliver("the customer has no channel here to be answered on: call or write to them, and "
                            "put what was said on the case as a note")

    def _can(self, channel: str) -> Capabilities:
        """What a channel can do; a name no adapter declares (a case registered by staff) can do nothing."""
        return self._capabilities.get(channel, NO_CAPABILITIES)

    async def _deliver(self, out: OutboundMessage) -> None:
        adapter = self._channels.get(out.channel)
        if adapter is None:
            raise CannotDeliver(f"the {out.channel} channel is off on this gateway")
        await adapter.send(out)


class Ratings(Protocol):
    async def customer_rated(self, case: Case, score: int, channel: str) -> tuple[Case, str]: ...


def _bot_sender(message: InboundMessage, state: dict[str, str]) -> str:
    """Who Rasa thinks it talks to: a random name per intake, so Rasa's logs and tracker keys hold no phone
    number or email address (a conversation begun before there were such names keeps its old one)."""
    return f"{state.get('bot_id', message.conversation_id)}#{state.get('intake', '1')}"


def _completing(state: dict[str, str], case: Case) -> bool:
    """Whether the bot still gathers this incomplete case's record: its intake was left silent, and no handler
    has taken the case since."""
    return (state.get("completing") == case["id"] and bool(case.get("incomplete"))
            and case["status"] == "queued" and not case.get("assignee"))


def _moment(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def _address(case: Case) -> tuple[str, str]:
    """The case customer's channel, and their conversation's key on it (a session, a number, a thread)."""
    channel, _, key = str(case["conversation_id"]).partition(":")
    return channel, key


def satisfaction_score(text: str) -> int | None:
    """The 1-5 score in a reply to the satisfaction question, or None if the reply is something else."""
    match = _SCORE.match(text)
    if match is None:
        return None
    digit = match.group(1)
    return _CHINESE_DIGITS.get(digit) or unicodedata.digit(digit)


def _strings(value: Any) -> list[str]:
    """A list of strings from a bot payload field, whatever the bot sent."""
    return [str(v) for v in value] if isinstance(value, list) else []

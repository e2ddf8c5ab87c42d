"""Answers a channel gives in its own response to a message (an SMS webhook's TwiML, an email's one reply).

The channel asks the router to handle a message and waits a little, to answer everything in one response.
What the bot says meanwhile is held in Redis, not in the process: if the gateway dies before it responds, the
answers are not lost. Once a message's grace period has passed without its response, ``orphans`` hands its
answers to be sent the ordinary way (the REST API, a new reply email), by exactly one replica. The answers
stay a while after they were taken: the provider's retry of a message whose response it never got (Twilio's
retry of a webhook, an email read again because it was not yet marked done) is answered with them again.

A signed webhook can also come twice at once (a provider's retry, a replay): ``answer_once`` works each
request's answer out once, on whichever gateway gets it first, and gives every repeat the same answer.

Keys: a flag and a list per message (one hash tag, so each script touches one Redis Cluster slot), and one
sorted set of the messages held, by when they are overdue.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable

from redis.asyncio import Redis
from redis.exceptions import RedisError

from channels.base import Inbox
from channels.message import InboundMessage, OutboundMessage
from store.keys import held_answers_key, held_flag_key, held_index_key
from store.scripts import register_script

# The answer joins the held list only while the message is held; otherwise the caller sends it itself.
_ADD = """
if redis.call('EXISTS', KEYS[1]) == 1 then
  redis.call('RPUSH', KEYS[2], ARGV[1])
  redis.call('EXPIRE', KEYS[2], ARGV[2])
  return 1
end
return 0
"""
# Whoever deletes the flag takes the answers: the channel's response, or one replica's orphan sweep.
_TAKE = """
if redis.call('DEL', KEYS[1]) == 0 then return false end
return redis.call('LRANGE', KEYS[2], 0, -1)
"""
log = logging.getLogger(__name__)

# Past the channel's reply wait, how long before a message's response counts as never coming (its gateway died).
GRACE_AFTER_WAIT = 30.0
KEEP_SECONDS = 24 * 3600  # how long answers are kept for a provider's retry (and a lost hold is not for ever)


class HeldAnswers:
    def __init__(self, redis: Redis, channel: str, reply_wait: float, grace: float = GRACE_AFTER_WAIT) -> None:
        self._redis = redis
        self._channel = channel
        self._reply_wait = reply_wait
        self._overdue_after = reply_wait + grace
        self._index = held_index_key(channel)
        self._add = register_script(redis, _ADD)
        self._take = register_script(redis, _TAKE)

    def _keys(self, message_id: str) -> list[str]:
        return [held_flag_key(self._channel, message_id), held_answers_key(self._channel, message_id)]

    async def hold(self, message_id: str) -> None:
        """From now until ``take``, answers to ``message_id`` are held for the channel's response."""
        flag, _ = self._keys(message_id)
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.zadd(self._index, {message_id: time.time() + self._overdue_after})
            pipe.set(flag, "1", ex=KEEP_SECONDS)
            await pipe.execute()

    async def answers_to(self, inbox: Inbox, message: InboundMessage) -> list[OutboundMessage]:
        """Hand the message to the router and wait, up to the reply wait, until it is handled: the answers given
        to it meanwhile, for the channel's own response (a provider's repeat of it gets the first try's)."""
        await self.hold(message.message_id)
        try:
            await inbox.receive_and_wait(message, self._reply_wait)
        finally:
            answers = await self.take(message.message_id)
        return answers

    async def add(self, answer: OutboundMessage) -> bool:
        """Hold the answer if its message is held; False if the caller must send it itself."""
        if not answer.in_reply_to:
            return False
        body = json.dumps(answer.to_dict(), ensure_ascii=False)
        return bool(await self._add(keys=self._keys(answer.in_reply_to), args=[body, KEEP_SECONDS]))

    async def take(self, message_id: str) -> list[OutboundMessage]:
        """Every answer held for the message (also those a response before this one gave), in order, and no
        more holding; [] if someone else took them since it was held."""
        taken = await self._take(keys=self._keys(message_id))
        await self._redis.zrem(self._index, message_id)
        return [OutboundMessage.from_dict(json.loads(raw)) for raw in taken or ()]

    async def orphans(self) -> AsyncIterator[list[OutboundMessage]]:
        """The answers of each message whose response is overdue (its gateway died), taken for sending."""
        for raw in await self._redis.zrangebyscore(self._index, "-inf", time.time()):
            if answers := await self.take(raw.decode()):
                yield answers


async def send_orphans_forever(
    held: HeldAnswers, send: Callable[[list[OutboundMessage]], Awaitable[None]], every: float = 5.0
) -> None:
    """The channel's background task: send the answers a stopped gateway held, one message's at a time."""
    while True:
        try:
            async for answers in held.orphans():
                try:
                    await send(answers)
                except Exception:  # one conversation's failure must not stop the others' answers
                    log.exception("could not send the answers a stopped gateway held")
        except RedisError:
            log.warning("held answers not checked: Redis unavailable")
        await asyncio.sleep(every)


_WORKING = "\x00"  # an answer being worked out (no response document or status is ever this)
_REPEAT_POLL = 0.05  # how often a repeat looks whether the first try's answer is ready


async def answer_once(redis: Redis, key: str, work_out: Callable[[], Awaitable[str]], *, lease: float,
                      keep: int) -> str:
    """The answer to the request known by ``key``, worked out once however often the request comes.

    The first try claims ``key`` for ``lease`` seconds (longer than ``work_out`` can take) and keeps its
    answer ``keep`` seconds; a repeat waits for that answer and gives it too. If the first try's gateway stops
    first, its claim lapses and a repeat works the answer out itself, so ``work_out`` must be safe to do
    again (the router records each message once). A first try that fails leaves nothing: a repeat tries anew.
    """
    while True:
        if await redis.set(key, _WORKING, nx=True, px=int(lease * 1000)):
            try:
                answer = await work_out()
            except BaseException:
                with contextlib.suppress(RedisError):
                    await redis.delete(key)
                raise
            await redis.set(key, answer, ex=keep)
            return answer
        if (kept := await _first_answer(redis, key)) is not None:
            return kept


async def _first_answer(redis: Redis, key: str) -> str | None:
    """The answer the first try gives, once it is ready; None if its claim lapsed without one."""
    while True:
        kept = await redis.get(key)
        if kept != _WORKING.encode():
            return None if kept is None else bytes(kept).decode()
        await asyncio.sleep(_REPEAT_POLL)

"""Faults, with every process real: Redis restarted, Rasa killed, a gateway killed mid-webhook, and two
gateways with two Rasa servers on one Redis.

Customers are driven the way real clients behave: the chat page keeps an unacknowledged message and sends it
again with the same id (3 s after an ``unavailable`` error, 15 s after no answer) and reopens a closed socket
with its session and the last ``seq`` it saw; Twilio retries a webhook with the same MessageSid and signature
until a gateway answers 200. Then the record is checked as a customer and a handler would see it: every
message a customer sent is on their case once and in the order sent, every customer ends with a case, and
the answers a customer got are the answers on the record, each once.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import aiohttp
import pytest
from aiohttp import web
from redis.asyncio import Redis

from channels.webchat.channel import conversation_key
from gateway import supervisor, texts
from gateway.embedded_redis import EmbeddedRedis, free_port
from handoff.cases import Case, CaseStore
from tests.e2e.conftest import LOGS, AgentApi, Gateway, add_agent, start_gateway
from tests.support.chat_client import ChatClient, Frame, Refused
from tests.support.twilio_double import (
    ACCOUNT_SID,
    AUTH_TOKEN,
    FROM_NUMBER,
    FakeMessagesApi,
    checked_twiml,
    fake_twilio,
    signed_post,
)

pytestmark = pytest.mark.e2e
T = TypeVar("T")

# The intake that ends in a case in five turns (tests/e2e/test_intake.py); by SMS the bot knows the number.
WEB_INTAKE = ("I want to file a complaint", "The app charged me a commission twice for one trade last Friday",
              "John Smith", "+44 7700 900123", "Please refund the extra commission", "online", "no", "yes")
SMS_INTAKE = ("I want to make a complaint", "My withdrawal to my bank has been stuck for 5 days", "Olivia Brown",
              "It started last Monday. Please release it today", "online", "no", "yes")
FOLLOW_UPS = ("My order number is A123", "Please call me after 5 pm")
PUBLIC_URL = "https://complaints.example.test"  # the load balancer's address: what Twilio signs
HOLDING = texts.holding_reply("en")
BOT_WAIT = 150.0  # a conversation whose gateway died waits out its lease (60 s) before another resumes it
QUARANTINE = "cg:quarantine"


async def together(*coroutines: Awaitable[T]) -> list[T]:
    """Run side by side; the first failure cancels the rest, so no customer keeps talking into later tests."""
    tasks = [asyncio.ensure_future(c) for c in coroutines]
    try:
        return list(await asyncio.gather(*tasks))
    finally:
        await cancelled(tasks)


async def cancelled(tasks: Sequence[asyncio.Future[Any]]) -> None:
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


def twilio_env(api_url: str) -> dict[str, str]:
    return {"TWILIO_ACCOUNT_SID": ACCOUNT_SID, "TWILIO_AUTH_TOKEN": AUTH_TOKEN, "TWILIO_FROM_NUMBER": FROM_NUMBER,
            "TWILIO_API_BASE_URL": api_url, "PUBLIC_BASE_URL": PUBLIC_URL}


def is_answer(frame: Frame) -> bool:
    return frame["type"] == "message" and frame["from"] in ("bot", "system")


def is_case_notice(text: str) -> bool:
    return "case number C-" in text


class ChatPage:
    """A web chat client that behaves like the chat page (channels/webchat/static/chat.js), one ChatClient
    (tests/support/chat_client.py) per socket.

    A message stays in the outbox until acknowledged: it goes again with the same id 3 s after an
    ``unavailable`` error (5 s after ``rate_limited``), 15 s after it was sent without an answer, and at once
    on a new socket. A socket that closes is reopened with the session id and the last ``seq`` seen. A page
    shows each frame of the session's stream once (by ``seq``); it never reconnects just because it is quiet.
    """

    RESEND_AFTER = 15.0

    def __init__(self, http: aiohttp.ClientSession, url: str, language: str = "en") -> None:
        self.http, self.url, self.language = http, url, language
        self.session: str | None = None
        self.after: str | None = None
        self.ws: ChatClient | None = None
        self.shown: list[Frame] = []
        self.sent: list[str] = []
        self.errors: list[str] = []
        self._seqs: set[str] = set()
        self._unread: list[Frame] = []
        self._sockets = 0

    @classmethod
    async def open(cls, http: aiohttp.ClientSession, url: str, language: str = "en") -> ChatPage:
        page = cls(http, url, language)
        await page._connect()
        return page

    async def _connect(self) -> None:
        while True:
            with contextlib.suppress(aiohttp.ClientError, ConnectionError, TimeoutError):
                try:
                    ws = await ChatClient.connect(self.http, self.url, self.session, self.language, self.after, 60)
                except (Refused, ConnectionError) as refused:
                    self.errors.append(refused.code if isinstance(refused, Refused) else str(refused))
                    raise ConnectionError from None
                assert self.session in (None, ws.session), "the server forgot the session"
                self.session, self.ws = ws.session, ws
                self._sockets += 1
                return
            await asyncio.sleep(2)

    async def _receive(self, timeout: float) -> Frame | None:
        """The next frame not shown before, or None (silence, a repeat, or a socket that closed)."""
        if self.ws is None:
            await self._connect()
        assert self.ws is not None
        try:
            frame = await self.ws.next_frame(timeout)
        except ConnectionError:
            self.ws = None
            await asyncio.sleep(1)
            return None
        if frame is None:
            return None
        seq = frame.get("seq")
        if seq is not None:
            if seq in self._seqs:
                return None
            self._seqs.add(seq)
            self.after = seq
            self.shown.append(frame)
        return frame

    async def send(self, text: str) -> Frame:
        """Send until acknowledged; the ack."""
        message_id = uuid.uuid4().hex
        loop = asyncio.get_running_loop()
        sent_on, sent_at = -1, 0.0
        while True:
            if self.ws is None:
                await self._connect()
            assert self.ws is not None
            if sent_on != self._sockets or loop.time() - sent_at >= self.RESEND_AFTER:
                try:
                    await self.ws.post(text, message_id)
                except (ConnectionError, RuntimeError, aiohttp.ClientError):
                    self.ws = None
                    continue
                sent_on, sent_at = self._sockets, loop.time()
            frame = await self._receive(max(0.1, sent_at + self.RESEND_AFTER - loop.time()))
            if frame is None:
                continue
            if frame["type"] == "ack" and frame["id"] == message_id:
                self.sent.append(text)
                return frame
            if frame["type"] == "error":
                assert frame["code"] in ("unavailable", "rate_limited"), frame
                self.errors.append(frame["code"])
                await asyncio.sleep(3 if frame["code"] == "unavailable" else 5)
                sent_at = 0.0
                continue
            self._unread.append(frame)

    async def wait_for(self, match: Callable[[Frame], bool], what: str, timeout: float = BOT_WAIT) -> Frame:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            for i, frame in enumerate(self._unread):
                if match(frame):
                    return self._unread.pop(i)
            remaining = deadline - loop.time()
            if remaining <= 0:
                stream = await history(self.http, self.url, self.session or "")
                raise AssertionError(f"session {self.session}: {what} not shown within {timeout:.0f} s; "
                                     f"the page shows {[(f['type'], f.get('text')) for f in self.shown]}; "
                                     f"a page opened afresh shows {[(f['type'], f.get('text')) for f in stream]}")
            frame = await self._receive(min(remaining, 5.0))
            if frame is not None:
                self._unread.append(frame)

    async def talk(self, text: str, timeout: float = BOT_WAIT) -> list[str]:
        """Send, then read the answer until the bot has been quiet for a second (a turn may be several texts)."""
        await self.send(text)
        answers = [(await self.wait_for(is_answer, f"an answer to {text!r}", timeout))["text"]]
        while (frame := await self._receive(1.0)) is not None or self.ws is None:
            if frame is not None:
                self._unread.append(frame)
        answers += [f["text"] for f in self._unread if is_answer(f)]
        self._unread = [f for f in self._unread if not is_answer(f)]
        return answers

    @property
    def has_case(self) -> bool:
        return any(f["type"] == "case" for f in self.shown)

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()


@dataclass
class Phone:
    """A customer's phone, through Twilio: each text is a signed webhook, retried with the same MessageSid and
    signature until a gateway answers 200; answers come back in the TwiML or later through the REST API."""

    http: aiohttp.ClientSession
    number: str
    twilio: FakeMessagesApi
    sent: list[str] = field(default_factory=list)
    in_twiml: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    @property
    def by_rest(self) -> list[str]:
        return [call["Body"] for call in self.twilio.calls if call["To"] == self.number]

    @property
    def answers(self) -> list[str]:
        return [*self.in_twiml, *self.by_rest]

    def params(self, body: str, sid: str | None = None) -> dict[str, str]:
        return {"MessageSid": sid or f"SM{uuid.uuid4().hex}", "AccountSid": ACCOUNT_SID, "From": self.number,
                "To": FROM_NUMBER, "Body": body, "NumMedia": "0"}

    async def post(self, gateway: Gateway, params: dict[str, str]) -> list[str] | None:
        """One delivery attempt: the TwiML's messages, or None if the gateway did not answer 200."""
        try:
            async with await signed_post(self.http, gateway.url, "/channels/twilio/sms", params,
                                         public_base=PUBLIC_URL) as response:
                if response.status == 200:
                    return [m.text or "" for m in checked_twiml(await response.text()).iter("Message")]
                assert response.status >= 500, f"{response.status}: {await response.text()}"
                self.failures.append(str(response.status))
        except (aiohttp.ClientError, TimeoutError) as exc:
            self.failures.append(type(exc).__name__)
        return None

    async def text(self, body: str, gateway: Gateway) -> list[str]:
        params = self.params(body)
        while (answers := await self.post(gateway, params)) is None:
            await asyncio.sleep(2)
        self.sent.append(body)
        self.in_twiml.extend(answers)
        return answers

    @property
    def has_case(self) -> bool:
        return any(is_case_notice(a) for a in self.answers)

    async def wait_until(self, done: Callable[[], bool], what: str, timeout: float = BOT_WAIT) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not done():
            if loop.time() > deadline:
                raise AssertionError(f"{self.number}: {what} did not come within {timeout:.0f} s; "
                                     f"it got {self.answers}")
            await asyncio.sleep(0.2)

    async def wait_for_answer(self, seen: int, what: str, timeout: float = BOT_WAIT) -> None:
        """Until more than ``seen`` answers have reached the phone."""
        await self.wait_until(lambda: len(self.answers) > seen, f"an answer to {what!r}", timeout)


async def text_until_case(phone: Phone, gateways: Sequence[Gateway], script: Sequence[str] = SMS_INTAKE,
                          first: int = 0, pause: asyncio.Event | None = None) -> None:
    """Text the intake, each message to the next gateway in turn, until the case number comes; with ``pause``,
    the second message waits for it."""
    for i, body in enumerate(script):
        if i == 1 and pause is not None:
            await pause.wait()
        seen = len(phone.answers)
        await phone.text(body, gateways[(first + i) % len(gateways)])
        await phone.wait_for_answer(seen, body)
        if phone.has_case:
            return
    await phone.wait_until(lambda: phone.has_case, "a case number")


async def history(http: aiohttp.ClientSession, gateway: Gateway | str, session: str) -> list[Frame]:
    """The whole conversation as a page opened afresh with the session id shows it (the session's stream)."""
    page = ChatClient(await http.ws_connect(gateway if isinstance(gateway, str) else gateway.ws_url))
    welcome = await page.hello(session, "en", None)
    frames = await page.drain(3)
    await page.close()
    assert welcome == {"type": "welcome", "session": session, "language": "en"}, welcome
    return frames


async def histories(http: aiohttp.ClientSession, gateway: Gateway, sessions: list[str | None]) -> list[list[Frame]]:
    """Each session's whole conversation (read side by side: each read ends after a quiet spell)."""
    return await together(*(history(http, gateway, session or "") for session in sessions))


def said_by(frames: list[Frame], *senders: str) -> list[str]:
    return [f["text"] for f in frames if f["type"] == "message" and f["from"] in senders]


def entries(case: Case, *senders: str) -> list[str]:
    return [m["text"] for m in case["messages"] if m["from"] in senders]


async def case_of(redis: Redis, conversation_id: str) -> Case:
    """The case a conversation ended in, as the case store (and so the agent API) holds it."""
    case_id = await redis.hget(f"cg:conv:{{{conversation_id}}}:state", "case_id")
    assert case_id, f"{conversation_id} has no case"
    return await CaseStore(redis).get(case_id.decode())


async def case_count(redis: Redis) -> int:
    return int(await redis.zcard("cg:cases"))


@contextlib.asynccontextmanager
async def open_redis(url: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(url)
    try:
        yield client
    finally:
        await client.aclose()


@contextlib.contextmanager
def running(*gateways: Gateway) -> Iterator[None]:
    try:
        yield
    finally:
        for gateway in gateways:
            gateway.stop()


async def wait_http(url: str, process: subprocess.Popen[bytes], timeout: float = 300) -> None:
    await asyncio.to_thread(supervisor.wait_http, url, timeout, process)


# --------------------------------------------------------------------------------------------------------------
# 1. Redis restarted in the middle of conversations


class Milestone:
    """Set once the customers, together, have had ``target`` answers."""

    def __init__(self, target: int) -> None:
        self.count, self.target, self.reached = 0, target, asyncio.Event()

    def tick(self) -> None:
        self.count += 1
        if self.count >= self.target:
            self.reached.set()


async def web_complainant(http: aiohttp.ClientSession, gateway: Gateway, milestone: Milestone) -> ChatPage:
    return await converse(await ChatPage.open(http, gateway.ws_url), milestone)


async def converse(page: ChatPage, milestone: Milestone) -> ChatPage:
    """The intake turn by turn until the case number, then the follow-ups, on a page already open."""
    for text in WEB_INTAKE:
        await page.talk(text)
        milestone.tick()
    await page.wait_for(lambda f: f["type"] == "case", "the case number")
    for text in FOLLOW_UPS:
        await page.send(text)
    return page


async def sms_complainant(phone: Phone, gateway: Gateway, outage: asyncio.Event) -> Phone:
    """Texts the first message, and the rest once Redis is down (Twilio retries until it is back)."""
    await text_until_case(phone, [gateway], pause=outage)
    for body in FOLLOW_UPS:
        await phone.text(body, gateway)
    return phone


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGKILL], ids=["sigterm", "sigkill"])
async def test_redis_restarted_mid_conversations_loses_nothing_and_repeats_nothing(
    stop: signal.Signals, own_redis: EmbeddedRedis, rasa: tuple[str, Any], http: aiohttp.ClientSession,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    customers, outage = 6, 15.0
    async with fake_twilio() as (twilio_url, twilio):
        gateway = start_gateway(f"redis-{stop.name.lower()}", own_redis.url, rasa[0],
                                tmp_path_factory.mktemp("gw-redis-restart"), CHAT_RATE_LIMIT="100",
                                RASA_TIMEOUT="60", **twilio_env(twilio_url))
        with running(gateway):
            # What an undisturbed customer is told, turn by turn: the bot answers this script the same way.
            control = await web_complainant(http, gateway, Milestone(0))
            expected_bot = said_by(control.shown, "bot")

            milestone, outage_began = Milestone(2 * customers), asyncio.Event()
            phone = Phone(http, "+447700900555", twilio)
            web = [asyncio.create_task(web_complainant(http, gateway, milestone)) for _ in range(customers)]
            sms = asyncio.create_task(sms_complainant(phone, gateway, outage_began))
            reached = asyncio.create_task(milestone.reached.wait())
            try:
                await asyncio.wait([reached, sms, *web], return_when=asyncio.FIRST_COMPLETED)
                for talk in (sms, *web):
                    if talk.done():
                        talk.result()  # its failure, if it failed
                        raise AssertionError("a customer finished before the outage")
                assert own_redis.process is not None
                own_redis.process.send_signal(stop)
                outage_began.set()
                await asyncio.to_thread(own_redis.process.wait)
                await asyncio.sleep(outage)
                await asyncio.to_thread(own_redis.start)
                async with asyncio.timeout(3 * BOT_WAIT):
                    pages = await together(*web)
                    await sms
            finally:
                await cancelled([reached, sms, *web])

            async with open_redis(own_redis.url) as redis:
                shown = await histories(http, gateway, [p.session for p in pages])
                for page, frames in zip(pages, shown, strict=True):
                    case = await case_of(redis, f"webchat:{conversation_key(page.session)}")
                    assert entries(case, "customer") == [*WEB_INTAKE, *FOLLOW_UPS], case["messages"]
                    assert entries(case, "bot") == expected_bot, case["messages"]
                    assert case["status"] == "queued" and case["handoff_reason"] == "complete"
                    assert said_by(frames, "customer") == [*WEB_INTAKE, *FOLLOW_UPS], said_by(frames, "customer")
                    assert said_by(frames, "bot") == expected_bot, said_by(frames, "bot")
                    assert [f["case_id"] for f in frames if f["type"] == "case"] == [case["id"]]
                    assert said_by(page.shown, "bot", "system") == said_by(frames, "bot", "system")

                case = await case_of(redis, f"sms:{phone.number}")
                assert entries(case, "customer") == phone.sent == [*SMS_INTAKE[:len(phone.sent) - 2], *FOLLOW_UPS]
                assert sorted(phone.answers) == sorted(entries(case, "bot", "system")), (phone.answers, case)
                assert HOLDING not in phone.answers
                assert await case_count(redis) == customers + 2, "a case per customer, none twice"
                assert await redis.llen(QUARANTINE) == 0, await redis.lrange(QUARANTINE, 0, -1)
            # The outage was felt: Twilio's first attempt at the second text failed, and a retry got in.
            assert phone.failures, "the text sent during the outage was accepted at once"


# --------------------------------------------------------------------------------------------------------------
# 2. The Rasa server killed and restarted during twenty conversations


async def complain_until_case(page: ChatPage, script: tuple[str, ...] = WEB_INTAKE) -> None:
    """Follow the intake until a case number comes (after the last answer, or after a holding reply)."""
    for text in script:
        if HOLDING in await page.talk(text) or page.has_case:
            break
    await page.wait_for(lambda f: f["type"] == "case", "the case number")


async def test_rasa_killed_during_twenty_conversations_gives_holding_replies_and_queued_cases(
    own_redis: EmbeddedRedis, http: aiohttp.ClientSession, tmp_path_factory: pytest.TempPathFactory,
) -> None:
    web_customers, sms_customers = 16, 4
    supervisor.ensure_model(progress=lambda _: None)
    rasa_port, actions_port = free_port(), free_port()
    rasa_url = f"http://127.0.0.1:{rasa_port}"
    bot = supervisor.Processes()
    bot.add("actions", supervisor.start_actions(actions_port, LOGS / "actions-rasa-killed.log"))
    rasa_process = bot.add("rasa", supervisor.start_rasa(rasa_port, actions_port, LOGS / "rasa-killed.log"))
    try:
        await wait_http(f"http://127.0.0.1:{actions_port}/health", bot.started[0][1])
        await wait_http(rasa_url + "/", rasa_process)
        async with fake_twilio() as (twilio_url, twilio):
            gateway = start_gateway("rasa-killed", own_redis.url, rasa_url, tmp_path_factory.mktemp("gw-rasa-killed"),
                                    CHAT_RATE_LIMIT="100", RASA_TIMEOUT="30", SMS_REPLY_WAIT="30",
                                    **twilio_env(twilio_url))
            with running(gateway):
                pages = await together(*(ChatPage.open(http, gateway.ws_url) for _ in range(web_customers)))
                phones = [Phone(http, f"+4477009006{n:02d}", twilio) for n in range(sms_customers)]

                # Every conversation is under way with the bot answering...
                async def first_turn_on_the_web(page: ChatPage) -> None:
                    await page.talk(WEB_INTAKE[0])

                async def first_turn_by_sms(phone: Phone) -> None:
                    await phone.text(SMS_INTAKE[0], gateway)
                    await phone.wait_for_answer(0, SMS_INTAKE[0])

                await together(*map(first_turn_on_the_web, pages), *map(first_turn_by_sms, phones))
                assert all(HOLDING not in said_by(p.shown, "bot") for p in pages)

                # ... when Rasa dies while the second turns are on their way to it.
                async def rest_on_the_web(page: ChatPage) -> None:
                    await complain_until_case(page, WEB_INTAKE[1:])
                    await page.send(FOLLOW_UPS[0])

                async def rest_by_sms(phone: Phone) -> None:
                    await text_until_case(phone, [gateway], SMS_INTAKE[1:])
                    await phone.text(FOLLOW_UPS[0], gateway)

                talks = [asyncio.ensure_future(rest_on_the_web(p)) for p in pages]
                talks += [asyncio.ensure_future(rest_by_sms(p)) for p in phones]
                try:
                    async with asyncio.timeout(60):
                        while sum(len(p.sent) for p in pages) < web_customers + 4:
                            await asyncio.sleep(0.01)
                    rasa_process.send_signal(signal.SIGKILL)
                    await asyncio.to_thread(rasa_process.wait)
                    async with asyncio.timeout(BOT_WAIT):
                        await together(*talks)
                finally:
                    await cancelled(talks)

                async with open_redis(own_redis.url) as redis:
                    cases = []
                    shown = await histories(http, gateway, [p.session for p in pages])
                    for page, frames in zip(pages, shown, strict=True):
                        case = await case_of(redis, f"webchat:{conversation_key(page.session)}")
                        assert entries(case, "customer") == page.sent, case["messages"]
                        assert said_by(frames, "customer") == page.sent
                        bot_said = said_by(frames, "bot")
                        assert bot_said.count(HOLDING) == 1 and bot_said[-1] == HOLDING, bot_said
                        assert entries(case, "bot") == bot_said
                        cases.append(case)
                    for phone in phones:
                        case = await case_of(redis, f"sms:{phone.number}")
                        assert entries(case, "customer") == phone.sent, case["messages"]
                        assert phone.answers.count(HOLDING) == 1, phone.answers
                        assert sorted(phone.answers) == sorted(entries(case, "bot", "system"))
                        cases.append(case)
                    assert await redis.llen(QUARANTINE) == 0
                assert {(c["status"], c["handoff_reason"]) for c in cases} == {("queued", "bot_unavailable")}
                # Rasa died with second turns on their way: some of those got the holding reply.
                assert any(p.sent[1:2] == [WEB_INTAKE[1]] and len(p.sent) == 3 for p in pages)

                # Handlers find all twenty waiting for them, and claim them one after the other.
                api = AgentApi(http, gateway.url)
                # Accounts live in the shared record: this handler has a name of its own.
                await api.login(*add_agent(own_redis.url, tmp_path_factory.mktemp("cli-rasa-killed"),
                                           "e2e-rasa-killed", "the night shift's long password"))
                queued = await api.call("GET", "/api/cases?status=queued")
                assert {c["id"] for c in queued["cases"]} == {c["id"] for c in cases}
                claimed = []
                while (case := await api.call("POST", "/api/cases/next")) is not None:
                    claimed.append(case["id"])
                assert sorted(claimed) == sorted(c["id"] for c in cases)

                # Rasa is back: new customers complain as usual.
                rasa_process = bot.add("rasa", supervisor.start_rasa(rasa_port, actions_port,
                                                                     LOGS / "rasa-killed.log"))
                await wait_http(rasa_url + "/", rasa_process)
                newcomers = await together(*(ChatPage.open(http, gateway.ws_url) for _ in range(3)))
                late_phone = Phone(http, "+447700900699", twilio)
                await together(*map(complain_until_case, newcomers), text_until_case(late_phone, [gateway]))
                async with open_redis(own_redis.url) as redis:
                    for page in newcomers:
                        case = await case_of(redis, f"webchat:{conversation_key(page.session)}")
                        assert case["handoff_reason"] == "complete", case
                        assert entries(case, "customer") == list(WEB_INTAKE)
                        assert HOLDING not in entries(case, "bot")
                    case = await case_of(redis, f"sms:{late_phone.number}")
                    assert case["handoff_reason"] == "complete" and HOLDING not in late_phone.answers
    finally:
        bot.stop()


# --------------------------------------------------------------------------------------------------------------
# 3. A gateway killed with SIGKILL while it handles an SMS webhook


@dataclass
class BotStub:
    """Stands in for Rasa's REST webhook. ``slow`` never answers (until released); otherwise it answers at
    once: a question, or, when the customer asks for a person, the hand-over the real bot gives."""

    slow: bool
    calls: list[dict[str, Any]] = field(default_factory=list)
    asked: asyncio.Event = field(default_factory=asyncio.Event)
    release: asyncio.Event = field(default_factory=asyncio.Event)

    QUESTION = "Thank you. May I have your name, please?"
    HANDOVER = "Of course. A complaint handler will take over this conversation shortly."

    async def webhook(self, request: web.Request) -> web.Response:
        call = await request.json()
        self.calls.append(call)
        self.asked.set()
        if self.slow:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.release.wait(), 120)
        if "person" in call["message"]:
            return web.json_response([
                {"recipient_id": call["sender"], "text": self.HANDOVER},
                {"recipient_id": call["sender"], "custom": {"event": "human_requested", "reason": "customer_request",
                                                            "record": {"customer_name": "Ann Lee"}}},
            ])
        return web.json_response([{"recipient_id": call["sender"], "text": self.QUESTION}])

    async def root(self, request: web.Request) -> web.Response:
        return web.Response(text="stub")


@contextlib.asynccontextmanager
async def serve_bot(stub: BotStub) -> AsyncIterator[str]:
    app = web.Application()
    app.router.add_post("/webhooks/rest/webhook", stub.webhook)
    app.router.add_get("/", stub.root)
    runner = web.AppRunner(app, shutdown_timeout=1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        stub.release.set()
        await runner.cleanup()


async def test_gateway_killed_mid_sms_webhook_the_retry_is_processed_once(
    own_redis: EmbeddedRedis, http: aiohttp.ClientSession, tmp_path_factory: pytest.TempPathFactory,
) -> None:
    slow, quick = BotStub(slow=True), BotStub(slow=False)
    async with fake_twilio() as (twilio_url, twilio), serve_bot(slow) as slow_url, serve_bot(quick) as quick_url:
        env = twilio_env(twilio_url)
        doomed = start_gateway("sms-doomed", own_redis.url, slow_url,
                               tmp_path_factory.mktemp("gw-doomed"), RASA_TIMEOUT="120", **env)
        survivor = start_gateway("sms-survivor", own_redis.url, quick_url,
                                 tmp_path_factory.mktemp("gw-survivor"), **env)
        with running(doomed, survivor):
            phone = Phone(http, "+447700900321", twilio)
            params = phone.params("I want to complain about a late withdrawal")
            # Killed while its bot turn is under way: the message is recorded, its conversation leased.
            first = asyncio.ensure_future(phone.post(doomed, params))
            async with asyncio.timeout(60):
                await slow.asked.wait()
            doomed.process.send_signal(signal.SIGKILL)
            await asyncio.to_thread(doomed.process.wait)
            assert await first is None, "the killed gateway answered"

            # Twilio's retry: the same MessageSid, the same body, the same signature, to the other gateway.
            retry = await phone.post(survivor, params)
            assert retry is not None, f"the retry was refused: {phone.failures}"
            phone.sent.append(params["Body"])
            phone.in_twiml.extend(retry)
            await phone.wait_for_answer(0, params["Body"], timeout=BOT_WAIT)
            # Long enough for the sweeper (every 5 s) to act on anything left behind, twice.
            await asyncio.sleep(12)
            assert phone.answers == [BotStub.QUESTION], phone.answers
            conversation = f"sms:{phone.number}"
            async with open_redis(own_redis.url) as redis:
                name = await bot_name(redis, conversation)
            asked = [c["message"] for c in quick.calls if c["sender"] == name]
            assert asked == [params["Body"]], "the surviving gateway asked the bot once"

            # The customer asks for a person: the handler's case shows the conversation as it happened.
            await text_until_case(phone, [survivor], ("Can I speak to a person",))

        async with open_redis(own_redis.url) as redis:
            case = await case_of(redis, conversation)
            assert entries(case, "customer") == [params["Body"], "Can I speak to a person"], case["messages"]
            assert entries(case, "bot") == [BotStub.QUESTION, BotStub.HANDOVER], case["messages"]
            assert sorted(phone.answers) == sorted(entries(case, "bot", "system"))
            for part in ("inbox", "working"):
                assert await redis.llen(f"cg:conv:{{{conversation}}}:{part}") == 0
            assert await redis.llen(QUARANTINE) == 0
            assert await case_count(redis) == 1


# --------------------------------------------------------------------------------------------------------------
# 4. Two gateways, two Rasa servers on Rasa's Redis tracker and lock stores, fifty customers


RASA_DB = 5  # Rasa's own stores, apart from the gateway's database 0
FARTHER = 0.01  # one gateway's extra latency to Redis, as for a replica in another zone


@contextlib.asynccontextmanager
async def farther_away(port: int, delay: float) -> AsyncIterator[int]:
    """A TCP relay to 127.0.0.1:``port`` that delivers what it is sent ``delay`` seconds late, in order:
    the port of a Redis that is farther from its client than from the others."""
    links: set[asyncio.StreamWriter] = set()

    async def forward(source: asyncio.StreamReader, sink: asyncio.StreamWriter, late: float) -> None:
        loop = asyncio.get_running_loop()
        chunks: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()

        async def deliver() -> None:
            while True:
                due, chunk = await chunks.get()
                if not chunk:
                    break
                await asyncio.sleep(max(0.0, due - loop.time()))
                sink.write(chunk)
                await sink.drain()

        delivery = asyncio.ensure_future(deliver())
        try:
            while chunk := await source.read(65536):
                chunks.put_nowait((loop.time() + late, chunk))
            chunks.put_nowait((0.0, b""))
            await delivery
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            delivery.cancel()
            sink.close()

    async def relay(client_in: asyncio.StreamReader, client_out: asyncio.StreamWriter) -> None:
        server_in, server_out = await asyncio.open_connection("127.0.0.1", port)
        links.update((client_out, server_out))
        await asyncio.gather(forward(client_in, server_out, delay), forward(server_in, client_out, 0.0))

    server = await asyncio.start_server(relay, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()
        for link in links:
            link.close()


def start_rasa_on_redis(port: int, actions_port: int, redis_port: int) -> subprocess.Popen[bytes]:
    """A Rasa server on Rasa's stock RedisTrackerStore and RedisLockStore: any server can take any turn."""
    endpoints = LOGS / f"endpoints-redis-{port}.yml"
    store = f"  url: 127.0.0.1\n  port: {redis_port}\n  db: {RASA_DB}\n"
    endpoints.write_text(f"action_endpoint:\n  url: http://127.0.0.1:{actions_port}/webhook\n"
                         f"tracker_store:\n  type: redis\n{store}lock_store:\n  type: redis\n{store}")
    with (LOGS / f"rasa-redis-{port}.log").open("ab") as log:
        return subprocess.Popen(
            [str(supervisor.RASA), "run", "--interface", "127.0.0.1", "--port", str(port), "--model",
             str(supervisor.MODEL), "--endpoints", str(endpoints), "--credentials", "credentials.yml"],
            cwd=supervisor.BOT_DIR, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            env={**os.environ, "RASA_TELEMETRY_ENABLED": "false"})


async def bot_name(redis: Redis, conversation_id: str) -> str:
    """The name Rasa knows the conversation's first intake by (not the customer's number or address)."""
    bot_id = await redis.hget(f"cg:conv:{{{conversation_id}}}:state", "bot_id")
    assert bot_id, f"no bot name for {conversation_id}"
    assert conversation_id.partition(":")[2] not in bot_id.decode()
    return f"{bot_id.decode()}#1"


async def bot_turns(redis: Redis, rasa_store: Redis, conversation_id: str) -> list[tuple[str, str]]:
    """What Rasa's tracker holds for the conversation's intake: each user message and bot utterance, in order."""
    raw = await rasa_store.get(f"tracker:{await bot_name(redis, conversation_id)}")
    assert raw, f"Rasa has no tracker for {conversation_id}"
    events = json.loads(raw)["events"]
    return [({"user": "customer", "bot": "bot"}[e["event"]], e["text"])
            for e in events if e["event"] in ("user", "bot") and e.get("text")]


async def test_two_gateways_two_rasa_servers_fifty_customers_every_message_answered_once_in_order(
    own_redis: EmbeddedRedis, http: aiohttp.ClientSession, tmp_path_factory: pytest.TempPathFactory,
) -> None:
    web_customers, sms_customers = 40, 10
    supervisor.ensure_model(progress=lambda _: None)
    actions_port, rasa_ports = free_port(), (free_port(), free_port())
    bot = supervisor.Processes()
    actions = bot.add("actions", supervisor.start_actions(actions_port, LOGS / "actions-two-rasa.log"))
    servers = [bot.add("rasa", start_rasa_on_redis(port, actions_port, own_redis.port)) for port in rasa_ports]
    try:
        await wait_http(f"http://127.0.0.1:{actions_port}/health", actions)
        for port, server in zip(rasa_ports, servers, strict=True):
            await wait_http(f"http://127.0.0.1:{port}/", server)
        async with fake_twilio() as (twilio_url, twilio), farther_away(own_redis.port, FARTHER) as far_port:
            # The replicas sit at different distances from Redis, as they do across zones.
            redis_urls = (f"redis://127.0.0.1:{far_port}/0", own_redis.url)
            # Started off the event loop, which carries the relay the first one reaches Redis through.
            gateways = [await asyncio.to_thread(
                start_gateway, f"pair-{i}", redis_urls[i], f"http://127.0.0.1:{port}",
                tmp_path_factory.mktemp(f"gw-pair-{i}"), CHAT_RATE_LIMIT="100", RASA_TIMEOUT="120",
                **twilio_env(twilio_url)) for i, port in enumerate(rasa_ports)]
            with running(*gateways):

                async def chat(n: int) -> ChatClient:
                    # One session, a socket on each gateway; messages alternate between them. Half the
                    # customers wait for each answer, the others type ahead.
                    first = await ChatClient.connect(http, gateways[n % 2].ws_url, language="en")
                    second = await ChatClient.connect(http, gateways[(n + 1) % 2].ws_url, session=first.session,
                                                      language="en")
                    sockets = (first, second)
                    for i, text in enumerate(WEB_INTAKE):
                        ack = await sockets[i % 2].send(text)
                        assert ack["type"] == "ack" and ack["duplicate"] is False, ack
                        if n % 2:
                            await first.bot_says(timeout=BOT_WAIT)
                    await first.expect(lambda f: f["type"] == "case", timeout=BOT_WAIT)
                    await first.close()
                    await second.close()
                    return first

                async def text(n: int) -> Phone:
                    phone = Phone(http, f"+1555010{n:04d}", twilio)
                    await text_until_case(phone, gateways, first=n)
                    return phone

                async with asyncio.timeout(3 * BOT_WAIT):
                    everyone = await together(*map(chat, range(web_customers)), *map(text, range(sms_customers)))
                chats: list[ChatClient] = everyone[:web_customers]
                phones: list[Phone] = everyone[web_customers:]
                await asyncio.sleep(3)  # answers still on their way through the REST API

                async with open_redis(own_redis.url) as redis, \
                        open_redis(own_redis.url.rsplit("/", 1)[0] + f"/{RASA_DB}") as rasa_store:
                    shown = await histories(http, gateways[1], [c.session for c in chats])
                    for client, frames in zip(chats, shown, strict=True):
                        conversation = f"webchat:{conversation_key(client.session)}"
                        case = await case_of(redis, conversation)
                        turns = await bot_turns(redis, rasa_store, conversation)
                        assert [t for who, t in turns if who == "customer"] == list(WEB_INTAKE), turns
                        recorded = [(m["from"], m["text"]) for m in case["messages"]
                                    if m["from"] in ("customer", "bot")]
                        assert recorded == turns, (recorded, turns)
                        assert said_by(frames, "customer") == list(WEB_INTAKE), \
                            f"the page shows the customer's own messages as {said_by(frames, 'customer')}"
                        assert said_by(frames, "bot") == entries(case, "bot")
                        assert [f["case_id"] for f in frames if f["type"] == "case"] == [case["id"]]
                    for phone in phones:
                        conversation = f"sms:{phone.number}"
                        case = await case_of(redis, conversation)
                        turns = await bot_turns(redis, rasa_store, conversation)
                        assert [t for who, t in turns if who == "customer"] == phone.sent, turns
                        recorded = [(m["from"], m["text"]) for m in case["messages"]
                                    if m["from"] in ("customer", "bot")]
                        assert recorded == turns, (recorded, turns)
                        assert sorted(phone.answers) == sorted(entries(case, "bot", "system")), phone.answers
                    assert await case_count(redis) == web_customers + sms_customers
                    assert await redis.llen(QUARANTINE) == 0
                    assert all(c["handoff_reason"] == "complete"
                               for c in [await case_of(redis, f"webchat:{conversation_key(x.session)}") for x in chats])
    finally:
        bot.stop()


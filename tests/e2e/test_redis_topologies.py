"""The whole system on a real Redis Cluster and on a real Sentinel set: a gateway started with REDIS_MODE as an
operator would, the real bot, a handler whose account the CLI made on that topology; then a primary lost in the
middle of conversations (a Cluster primary killed, the Sentinels' primary killed and its replica promoted), after
which every customer's messages are on their case once, no bot answer comes twice and every page catches up (as
tests/e2e/test_faults.py checks after a Redis restart).

On Sentinel also a planned switchover, as an operator makes one (RedisSentinels.switch_over): the primary's
writes paused, ``SENTINEL FAILOVER``, the pause let go once the gateway can have followed the new primary; the
same checks hold after it. A forced ``SENTINEL FAILOVER`` without the pause is not among them: what the old
primary takes before the gateway follows the switch is thrown away when it is made a replica
(docs/operations.md, "Failover").
Rasa keeps its in-memory tracker and lock stores here (supervisor.start_rasa): it needs no Redis of its own.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from redis.asyncio import Redis
from redis.crc import key_slot

from channels.webchat.channel import conversation_key
from gateway.settings import Settings
from gateway.store import open_redis
from store.keys import conversation_key as conversation_part
from tests.e2e.conftest import AgentApi, Gateway, add_agent, start_gateway
from tests.e2e.test_email import CUSTOMERS, email_intake, mail_settings, reply_to
from tests.e2e.test_faults import (
    BOT_WAIT,
    FOLLOW_UPS,
    QUARANTINE,
    WEB_INTAKE,
    ChatPage,
    Milestone,
    cancelled,
    case_count,
    case_of,
    converse,
    entries,
    histories,
    said_by,
    together,
)
from tests.e2e.test_intake import CONVERSATIONS, complain, wait_for_message_in_case
from tests.support.chat_client import ChatClient
from tests.support.mail_servers import Dovecot, MailUser, SmtpSink, new_user
from tests.support.redis_topologies import (
    Node,
    RedisCluster,
    RedisSentinels,
    crash_in_sync,
    wait_until,
)

# An intake and a failover take minutes on a small machine, past the suite's default of 300 s.
pytestmark = [pytest.mark.e2e, pytest.mark.redis_topology, pytest.mark.timeout(900)]


@dataclass
class Topology:
    """A real topology as the gateway is pointed at it, and how to make it fail over."""

    name: str
    settings: dict[str, str]  # REDIS_MODE and its companions, as the environment gives them
    url: str
    # Given the conversations under way: fail over where some of them are kept. (the old primary, the new)
    fail_over: Callable[[list[str]], tuple[Node, Node]]
    # A planned switchover to another primary with the old one up throughout, where the topology has one.
    switch_over: Callable[[], tuple[Node, Node]] | None = None

    def client_settings(self, data_dir: Path) -> Settings:
        return Settings.from_env({**self.settings, "REDIS_URL": self.url}, data_dir=data_dir)


def cluster_topology(cluster: RedisCluster) -> Topology:
    def kill_busiest_primary(conversations: list[str]) -> tuple[Node, Node]:
        # The primary holding the most of the conversations' keys (their hash tag is the conversation id).
        slots = [key_slot(conversation_part(c, "state").encode()) for c in conversations]
        owners = Counter(cluster.owner(slot).port for slot in slots)
        busiest = owners.most_common(1)[0][0]
        return cluster.kill_primary(next(s for s in slots if cluster.owner(s).port == busiest))
    return Topology("cluster", {"REDIS_MODE": "cluster"}, cluster.url, kill_busiest_primary)


def sentinel_topology(sentinels: RedisSentinels) -> Topology:
    def crash_primary(_conversations: list[str]) -> tuple[Node, Node]:
        # The primary lost outright with its replica holding all it acknowledged (as RedisCluster.kill_primary
        # does); the Sentinels see it down and promote the replica.
        old: Node = wait_until(sentinels.primary, 60, "the Sentinels agreeing on the primary")
        crash_in_sync(old, 60)

        def promoted() -> Node | None:
            new = sentinels.primary()
            return new if new not in (None, old) and new.ask("ROLE")[0] == "master" else None
        return old, wait_until(promoted, 60, "the Sentinels naming the replica")
    return Topology("sentinel", {"REDIS_MODE": "sentinel", "REDIS_SENTINEL_MASTER": sentinels.master_name},
                    sentinels.url, crash_primary, sentinels.switch_over)


@pytest.fixture(scope="module", params=["cluster", "sentinel"])
def topology(request: pytest.FixtureRequest) -> Topology:
    if request.param == "cluster":
        return cluster_topology(request.getfixturevalue("redis_cluster"))
    return sentinel_topology(request.getfixturevalue("redis_sentinels"))


@pytest.fixture(scope="module")
def topology_gateway(topology: Topology, rasa: tuple[str, Any],
                     tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    gateway = start_gateway(f"topology-{topology.name}", topology.url, rasa[0],
                            tmp_path_factory.mktemp(f"gw-{topology.name}"), CHAT_RATE_LIMIT="100",
                            RASA_TIMEOUT="60", **topology.settings)
    try:
        yield gateway
    finally:
        gateway.stop()


@pytest.fixture(scope="module")
def handler(topology: Topology, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    """A handler's account made with the CLI on the topology (accounts live in the shared record: a name of its
    own per topology)."""
    return add_agent(topology.url, tmp_path_factory.mktemp(f"cli-{topology.name}"), f"e2e-{topology.name}-handler",
                     f"the {topology.name} shift's long password", **topology.settings)


@pytest.fixture
async def topology_redis(topology: Topology, tmp_path: Path) -> AsyncIterator[Redis]:
    """The topology as the gateway reads it (redis-py's Cluster or Sentinel client)."""
    async with open_redis(topology.client_settings(tmp_path)) as redis:
        yield redis


async def test_a_web_chat_complaint_becomes_a_case_a_handler_claims_and_answers(
    topology: Topology, topology_gateway: Gateway, handler: tuple[str, str], http: aiohttp.ClientSession,
) -> None:
    gateway = topology_gateway
    chat = await ChatClient.connect(http, gateway.ws_url, language="zh")
    case_frame = await complain(chat, "zh")
    assert case_frame["status"] == "queued"

    api = AgentApi(http, gateway.url)
    await api.login(*handler)
    queued = await api.call("GET", "/api/cases?status=queued")
    assert case_frame["case_id"] in [c["id"] for c in queued["cases"]]
    case = await api.call("POST", f"/api/cases/{case_frame['case_id']}/claim")
    _, description, name, _phone = CONVERSATIONS["zh"][:4]
    assert case["customer"]["name"] == name and case["complaint"]["description"] == description
    assert case["assignee"] == handler[0]

    reply = "您好，我们正在核查您的委托记录。"
    await api.call("POST", f"/api/cases/{case['id']}/reply", json={"text": reply})
    heard = await chat.expect(lambda f: f["type"] == "message" and f["from"] == "agent")
    assert heard["text"] == reply

    await chat.drain()
    follow_up = "谢谢，订单号是 A123"
    await chat.send(follow_up)
    case = await wait_for_message_in_case(api, case["id"], follow_up)
    after = await chat.drain()
    assert not [f for f in after if f["type"] == "message" and f["from"] == "bot"], "the bot answered"
    assert [m["from"] for m in case["messages"]].count("agent") == 1
    await chat.close()


@pytest.fixture(scope="module")
def topology_sink(topology: Topology) -> Iterator[SmtpSink]:
    """An SMTP server per topology: its gateway's emails only, counted from the first."""
    server = SmtpSink()
    server.up()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture(scope="module")
def topology_mail(topology: Topology, dovecot: Dovecot, topology_sink: SmtpSink, rasa: tuple[str, Any],
                  tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Gateway, MailUser]]:
    """A gateway on the topology that reads a desk mailbox and sends through the sink (tests/e2e/test_email.py)."""
    mailbox = new_user(dovecot)
    gateway = start_gateway(
        f"topology-{topology.name}-email", topology.url, rasa[0], tmp_path_factory.mktemp(f"gw-{topology.name}-mail"),
        **mail_settings(dovecot, mailbox, topology_sink), **topology.settings)
    try:
        yield gateway, mailbox
    finally:
        gateway.stop()


async def test_an_email_complaint_becomes_a_case_and_the_handlers_answer_goes_out_by_email(
    topology_mail: tuple[Gateway, MailUser], topology_sink: SmtpSink, handler: tuple[str, str],
    http: aiohttp.ClientSession,
) -> None:
    gateway, mailbox = topology_mail
    c = CUSTOMERS["zh"]
    case_id, sent = await email_intake(mailbox, topology_sink, c)  # the bot asks by email until it has enough
    assert case_id, "the intake ended with a case number in the subject"

    api = AgentApi(http, gateway.url)
    await api.login(*handler)
    case = await api.call("POST", f"/api/cases/{case_id}/claim")
    assert case["channel"] == "email" and case["customer"]["email"] == c["sender"]
    assert c["body"][:12] in case["complaint"]["description"]
    reply_text = "王女士您好，多扣的佣金将在三个工作日内退回。"
    await api.call("POST", f"/api/cases/{case_id}/reply", json={"text": reply_text})
    # The outbox sends it in the customer's thread.
    heard = await reply_to(topology_sink, c["sender"], sent)
    assert reply_text in heard.message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert heard.message["In-Reply-To"]


def conversation_of(page: ChatPage) -> str:
    assert page.session
    return f"webchat:{conversation_key(page.session)}"


async def test_a_switchover_mid_conversations_loses_nothing_and_repeats_nothing(
    topology: Topology, topology_gateway: Gateway, topology_redis: Redis, http: aiohttp.ClientSession,
) -> None:
    """A planned SENTINEL FAILOVER with the old primary up throughout (RedisSentinels.switch_over): the gateway
    follows the new primary, its commands held or refused (READONLY) on the old one go there, and its
    subscriptions are made again."""
    # Run before the primary is killed (the next test): the switchover needs the replica.
    if topology.switch_over is None:
        pytest.skip(f"no planned switchover through Sentinels on a {topology.name}")
    switch_over = topology.switch_over
    await fail_over_mid_conversations(lambda _conversations: switch_over(), topology_gateway, topology_redis, http)


async def test_a_failover_mid_conversations_loses_nothing_and_repeats_nothing(
    topology: Topology, topology_gateway: Gateway, topology_redis: Redis, http: aiohttp.ClientSession,
) -> None:
    await fail_over_mid_conversations(topology.fail_over, topology_gateway, topology_redis, http)


async def fail_over_mid_conversations(fail_over: Callable[[list[str]], tuple[Node, Node]], gateway: Gateway,
                                      redis: Redis, http: aiohttp.ClientSession) -> None:
    """Six web chats under way when ``fail_over`` runs: every message on its case once, every customer a case,
    no answer twice, every page caught up, nothing quarantined."""
    customers = 6
    # What an undisturbed customer is told, turn by turn: the bot answers this script the same way.
    control = await converse(await ChatPage.open(http, gateway.ws_url), Milestone(0))
    expected_bot = said_by(control.shown, "bot")
    cases_before = await case_count(redis)

    pages = await together(*(ChatPage.open(http, gateway.ws_url) for _ in range(customers)))
    milestone = Milestone(2 * customers)
    talks = [asyncio.ensure_future(converse(page, milestone)) for page in pages]
    reached = asyncio.ensure_future(milestone.reached.wait())
    try:
        await asyncio.wait([reached, *talks], return_when=asyncio.FIRST_COMPLETED)
        for talk in talks:
            if talk.done():
                talk.result()  # its failure, if it failed
                raise AssertionError("a customer finished before the failover")
        old, new = await asyncio.to_thread(fail_over, [conversation_of(p) for p in pages])
        async with asyncio.timeout(3 * BOT_WAIT):
            await together(*talks)
    finally:
        await cancelled([reached, *talks])
    assert new.ask("ROLE")[0] == "master" and new is not old

    shown = await histories(http, gateway, [p.session for p in pages])
    for page, frames in zip(pages, shown, strict=True):
        case = await case_of(redis, conversation_of(page))
        assert entries(case, "customer") == [*WEB_INTAKE, *FOLLOW_UPS], case["messages"]
        assert entries(case, "bot") == expected_bot, case["messages"]
        assert case["status"] == "queued" and case["handoff_reason"] == "complete"
        assert said_by(frames, "customer") == [*WEB_INTAKE, *FOLLOW_UPS], said_by(frames, "customer")
        assert said_by(frames, "bot") == expected_bot, said_by(frames, "bot")
        assert [f["case_id"] for f in frames if f["type"] == "case"] == [case["id"]]
        assert said_by(page.shown, "bot", "system") == said_by(frames, "bot", "system"), "the page caught up"
    assert await case_count(redis) == cases_before + customers, "a case per customer, none twice"
    assert await redis.llen(QUARANTINE) == 0, await redis.lrange(QUARANTINE, 0, -1)

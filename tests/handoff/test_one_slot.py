"""On a real Redis Cluster (3 primaries, 3 replicas), every transaction and script of the case store, the queue and
the router keeps its keys in one slot: each operation runs without CROSSSLOT and reads back right. Where each
transaction and script was made is noted (tests/support/one_slot.py), so a new one added anywhere in handoff/,
store/ or the router without a walk here fails ``test_every_transaction_and_script_is_walked_on_the_cluster``."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster as ClusterClient
from redis.crc import key_slot

from channels.message import InboundMessage, OutboundMessage
from gateway.events import DeskEvents
from gateway.rasa_client import RasaClient
from gateway.router import Router
from gateway.settings import Settings
from gateway.store import open_redis
from handoff.cases import Case, CaseNotFound, CaseStore
from handoff.lifecycle import Role
from handoff.queue import AgentQueue
from store import keys
from store.lease import Lease
from store.renames import rename_legacy_keys
from tests.support.one_slot import Sites, sites_in_the_source
from tests.support.rasa_double import QUESTION, stand_in_rasa
from tests.support.redis_topologies import RedisCluster

pytestmark = pytest.mark.redis_topology

ROOT = Path(__file__).resolve().parent.parent.parent
# Where the transactions and scripts live that the walks below must reach.
WALKED = (*sorted((ROOT / "handoff").glob("*.py")), *sorted((ROOT / "store").glob("*.py")),
          ROOT / "gateway" / "router.py")


@pytest.fixture
async def cluster(redis_cluster: RedisCluster, tmp_path: Path) -> AsyncIterator[Redis]:
    settings = Settings.from_env({}, redis_mode="cluster", redis_url=redis_cluster.url, data_dir=tmp_path)
    async with open_redis(settings) as redis:
        assert isinstance(redis, ClusterClient)
        await redis.flushall(target_nodes=ClusterClient.PRIMARIES)
        yield redis


async def open_case(cases: CaseStore, number: int, *, phone: str | None = None, once: str | None = None,
                    messages: Sequence[dict[str, Any]] = ()) -> Case:
    return await cases.create(channel="webchat", conversation_id=f"webchat:s{number}", language="en",
                              customer={"name": "Ann", "phone": phone or f"+44770091{number:04d}"},
                              complaint={"description": "fee charged twice"}, handoff_reason="complete",
                              messages=messages, once=once)


def closing(c: Case) -> str:
    c["status"] = "closed"
    return "done"


async def walk_cases(redis: Any) -> None:
    cases = CaseStore(redis)
    said = [{"at": "2026-03-01T09:00:00+00:00", "from": "customer", "channel": "webchat", "text": "charged twice"}]
    first = await open_case(cases, 1, phone="13800138000", once="webchat:s1\nm1", messages=said)
    assert first["messages"] == said and [e["action"] for e in first["events"]] == ["created"]
    again = await open_case(cases, 1, phone="13800138000", once="webchat:s1\nm1", messages=said)
    assert again["id"] == first["id"] and again["messages"] == said, "asked again, the same case, written once"
    second = await open_case(cases, 2, phone="13800138000")
    assert "repeat_complainant" not in first["risk"]["rules"], "not its own repeat, though indexed first"
    assert "repeat_complainant" in second["risk"]["rules"]
    assert [c["id"] for c in await cases.earlier_cases(second)] == [first["id"]]
    assert [c["id"] for c in await cases.list()] == [first["id"], second["id"]]

    note = {"at": "2026-03-01T09:05:00+00:00", "from": "system", "channel": "webchat", "text": "bounced"}
    await cases.add_message(first["id"], note, once="note-1")
    await cases.add_message(first["id"], note, once="note-1")
    assert (await cases.get(first["id"]))["messages"] == [*said, note]

    closed = await cases.change(first["id"], actor="sue", action="close", mutate=closing, role=Role.SUPERVISOR)
    assert closed["status"] == "closed"
    kept = await cases.get(first["id"])
    assert await cases.discard(first["id"]) and not await cases.discard(first["id"])
    with pytest.raises(CaseNotFound):
        await cases.get(first["id"])
    assert [c["id"] for c in await cases.list(status="closed")] == []
    assert [c["id"] for c in await cases.earlier_cases(second)] == []

    assert await cases.restore(kept) and not await cases.restore(kept)
    assert await cases.get(first["id"]) == kept
    assert [c["id"] for c in await cases.list(status="closed")] == [first["id"]]
    assert [c["id"] for c in await cases.earlier_cases(second)] == [first["id"]]


async def walk_queue(redis: Any) -> None:
    cases = CaseStore(redis)
    queue = AgentQueue(redis, cases, claim_timeout=60, delivery_timeout=0.2)
    old = await open_case(cases, 11)
    await redis.xadd(keys.LEGACY_QUEUE_KEY, {"case_id": old["id"]})  # waiting in the single stream of before
    await queue.ensure_group()
    new = await open_case(cases, 12)
    await queue.enqueue(new["id"])
    await queue.enqueue(new["id"])  # again: it moves, and waits in one place
    assert [c["id"] for c in await queue.waiting()] == [old["id"], new["id"]]

    taken = await queue.next("ann")
    assert taken is not None and taken["id"] == old["id"] and taken["assignee"] == "ann"
    assert await queue.is_watched(old["id"]) and not await queue.is_waiting(old["id"])
    assert (await queue.claim(new["id"], "bob"))["assignee"] == "bob"
    assert await queue.waiting() == [] and await queue.next("cid") is None

    await queue.reassign(new["id"], "cid", "sue")
    assert await redis.smembers(keys.agent_claims_key("cid")) == {new["id"].encode()}
    assert not await redis.smembers(keys.agent_claims_key("bob"))
    released = await queue.release(new["id"], "cid")
    assert released["status"] == "queued" and not await queue.is_watched(new["id"])
    assert [c["id"] for c in await queue.waiting()] == [new["id"]]

    await redis.zadd(keys.CLAIMS_KEY, {old["id"]: time.time() - 61})  # ann has gone quiet past the timeout
    assert await queue.reclaim_abandoned() == [old["id"]]
    assert (await cases.summary(old["id"]))["status"] == "queued"

    back = await queue.next("ann")
    assert back is not None and back["id"] == new["id"]
    await queue.heartbeat("ann")
    assert await redis.zscore(keys.CLAIMS_KEY, new["id"]) is not None
    await queue.finished(new["id"], "ann")  # answered: its claim is watched no more
    assert not await queue.is_watched(new["id"])
    await queue.watch_claim(new["id"], "ann")  # returned to ann for rework
    assert await queue.is_watched(new["id"])


class Outbox:
    """A channel that keeps what the router gives it."""

    def __init__(self) -> None:
        self.sent: list[OutboundMessage] = []

    async def send(self, message: OutboundMessage) -> None:
        self.sent.append(message)


async def until(check: Callable[[], Awaitable[bool]], within: float = 15.0) -> None:
    deadline = time.monotonic() + within
    while not await check():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.05)


async def walk_router(redis: Any) -> None:
    outbox = Outbox()
    async with stand_in_rasa() as rasa, aiohttp.ClientSession() as session:
        cases = CaseStore(redis)
        router = Router(redis, RasaClient(session, rasa.url, 10.0), cases, AgentQueue(redis, cases),
                        {"webchat": outbox}, [], DeskEvents(redis))  # type: ignore[dict-item]
        message = InboundMessage(channel="webchat", conversation_key="k1", message_id="m1", text="charged twice")
        conversation = message.conversation_id
        try:
            assert await router.receive_and_wait(message, within=15) is True
            assert await router.receive_and_wait(message, within=15) is None, "a retry is recorded once"
            assert [m.text for m in outbox.sent] == [QUESTION]
            state = await redis.hgetall(keys.conversation_key(conversation, "state"))
            assert state[b"intake"] == b"1" and state[b"language"] == b"en"
            lines = await redis.lrange(keys.conversation_key(conversation, "transcript"), 0, -1)
            assert [line.count(b'"from"') for line in lines] == [1, 1]
            assert await redis.zscore(keys.IDLE_INTAKES_KEY, conversation) is not None, "watched for silence"

            assert await router.close_idle_intakes(now=time.time() + 3600) == 1

            async def drained() -> bool:
                inbox, working = (keys.conversation_key(conversation, part) for part in ("inbox", "working"))
                return not await redis.llen(inbox) and not await redis.llen(working)

            await until(drained)  # the idle turn is handled in the conversation's order, after the sweep

            # The drain's own scripts hold the conversation's lease; a drain that lost Redis gives it back with
            # store.lease's release, which also renews for the email channel.
            lease = Lease(redis, keys.conversation_key(conversation, "lease"), "replica-a", 5000)
            await until(lease.take)  # the drain lets go of the lease just after its lists are empty
            assert await lease.renew() and await lease.release()
            assert await redis.get(lease.key) is None
        finally:
            await router.close()


WALKS = {"cases": walk_cases, "queue": walk_queue, "router": walk_router}


@pytest.mark.parametrize("walk", WALKS.values(), ids=WALKS.keys())
async def test_each_operation_runs_on_the_cluster_and_reads_back(
    cluster: Redis, walk: Callable[[Any], Awaitable[None]]
) -> None:
    await walk(cluster)


async def test_every_transaction_and_script_is_walked_on_the_cluster(cluster: Redis) -> None:
    sites = Sites()
    with sites.recording():
        for walk in WALKS.values():
            await walk(cluster)
    in_the_source = sites_in_the_source(WALKED)
    assert in_the_source - sites.used == set(), "walk these on the cluster too"
    assert sites.used - in_the_source == set(), "the source walk missed some"
    made_by = {(ROOT / path).read_text(encoding="utf-8").splitlines()[line - 1].strip() for path, line in sites.used}
    assert any("register_script(" in source for source in made_by), "scripts are seen, not only transactions"


async def test_claims_under_their_old_names_move_across_slots(cluster: Redis) -> None:
    old_names = (keys.LEGACY_CLAIMS_KEY, keys.legacy_agent_claims_key("ann"))
    assert key_slot(old_names[0].encode()) != key_slot(keys.CLAIMS_KEY.encode()), "RENAME would be refused"
    await cluster.zadd(keys.LEGACY_CLAIMS_KEY, {"C-1": 5.0})
    await cluster.sadd(keys.legacy_agent_claims_key("ann"), "C-1")
    await cluster.expire(keys.legacy_agent_claims_key("ann"), 3600)
    assert await rename_legacy_keys(cluster) == 2
    assert await rename_legacy_keys(cluster) == 0
    assert await cluster.zrange(keys.CLAIMS_KEY, 0, -1, withscores=True) == [(b"C-1", 5.0)]
    assert await cluster.smembers(keys.agent_claims_key("ann")) == {b"C-1"}
    assert 0 < await cluster.ttl(keys.agent_claims_key("ann")) <= 3600, "its expiry comes along"
    assert [await cluster.exists(name) for name in old_names] == [0, 0]


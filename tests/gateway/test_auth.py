"""Accounts and sessions on the real app, Redis and record: guessing, sessions that follow their account,
accounts that outlive Redis, and changes that are audited and never silent."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from redis.asyncio import Redis

from gateway import keys
from gateway.app import create_app
from gateway.settings import Settings
from tests.conftest import PASSWORD, login
from tests.support.chat_client import ChatClient


@pytest.fixture
async def client(aiohttp_client: Any, settings: Settings) -> Any:
    app = create_app(settings)
    client = await aiohttp_client(app)
    agents = app[keys.AGENTS]
    accounts = (("ann", "agent", ("zh", "en")), ("li", "agent", ("zh",)), ("sue", "supervisor", ("zh", "en")),
                ("root", "admin", ("zh", "en")))
    for name, role, desks in accounts:
        await agents.add(name, PASSWORD, role, desks)
    return client


@pytest.fixture
async def elsewhere(client: Any) -> AsyncIterator[aiohttp.ClientSession]:
    """A second client machine: the same gateway, reached from another address (127.0.0.2)."""
    connector = aiohttp.TCPConnector(local_addr=("127.0.0.2", 0))
    async with aiohttp.ClientSession(str(client.make_url("/")), connector=connector) as session:
        yield session


def attempt(client: Any, name: str, password: str) -> Any:
    return client.post("/api/login", json={"name": name, "password": password})


async def test_forty_guesses_at_once_are_counted_before_any_is_checked(client: Any) -> None:
    answers = await asyncio.gather(*(attempt(client, "ann", f"guess number {n}") for n in range(40)))
    statuses = sorted(response.status for response in answers)
    lockout = client.app[keys.SETTINGS].login_lockout
    assert statuses == [401] * lockout + [429] * (40 - lockout), "only the free tries reach the password check"
    slowed = next(response for response in answers if response.status == 429)
    assert int(slowed.headers["Retry-After"]) >= 1 and "try again" in (await slowed.json())["error"]


async def test_guesses_slow_down_the_guesser_but_do_not_lock_out_the_owner(client: Any,
                                                                            elsewhere: aiohttp.ClientSession) -> None:
    for n in range(5):
        assert (await attempt(client, "root", f"wrong {n}")).status == 401
    # The guesser's address waits, even with the right password ...
    slowed = await attempt(client, "root", PASSWORD)
    assert slowed.status == 429
    # ... while the owner at another address logs in at once.
    async with elsewhere.post("/api/login", json={"name": "root", "password": PASSWORD}) as owner:
        assert owner.status == 200
    # The wait is short, and over once it has passed.
    await asyncio.sleep(int(slowed.headers["Retry-After"]))
    assert (await attempt(client, "root", PASSWORD)).status == 200


async def test_a_burst_of_guesses_from_many_addresses_alerts_the_admins_once(aiohttp_client: Any,
                                                                             settings: Settings) -> None:
    app = create_app(Settings.from_env({}, **{**_fields(settings), "login_lockout": 2}))
    client = await aiohttp_client(app)
    await app[keys.AGENTS].add("root", PASSWORD, "admin")
    await app[keys.AGENTS].add("sue", PASSWORD, "supervisor")
    root, sue = await login(client, "root"), await login(client, "sue")
    admin_stream, supervisor_stream = [await client.get("/api/events", headers=h) for h in (root, sue)]
    for address in range(2, 8):  # 2 tries each from six addresses: past the account's 8 free tries
        connector = aiohttp.TCPConnector(local_addr=(f"127.0.0.{address}", 0))
        async with aiohttp.ClientSession(str(client.make_url("/")), connector=connector) as session:
            for n in range(2):
                async with session.post("/api/login", json={"name": "sue", "password": f"x{n}yzabcd"}) as r:
                    assert r.status in (401, 429)
    alert = await _next_event(admin_stream, lambda e: e["type"] == "alert")
    assert alert["kind"] == "login_burst" and alert["account"] == "sue" and alert["case_id"] is None
    assert await _no_event(admin_stream, lambda e: e["type"] == "alert"), "alerted once"
    assert await _no_event(supervisor_stream, lambda e: e["type"] == "alert"), "account alerts are for admins"


async def test_an_unknown_name_costs_what_a_known_one_does(aiohttp_client: Any, settings: Settings) -> None:
    app = create_app(Settings.from_env({}, **{**_fields(settings), "login_lockout": 1000}))
    client = await aiohttp_client(app)
    await app[keys.AGENTS].add("ann", PASSWORD, "agent")
    known, unknown = [], []
    await attempt(client, "nobody", "warming up")
    for n in range(8):
        for name, times in (("ann", known), (f"nobody{n}", unknown)):
            started = time.perf_counter()
            response = await attempt(client, name, "not the password")
            times.append(time.perf_counter() - started)
            assert response.status == 401 and (await response.json())["error"] == "wrong name or password"
    ratio = sorted(unknown)[4] / sorted(known)[4]
    assert 0.5 < ratio < 2, f"median time of an unknown name / a known one: {ratio:.2f}"


async def test_login_takes_json_only(client: Any) -> None:
    form = await client.post("/api/login", data="name=ann&password=" + PASSWORD,
                             headers={"Content-Type": "text/plain"})
    assert form.status == 415 and "JSON" in (await form.json())["error"]
    urlencoded = await client.post("/api/login", data={"name": "ann", "password": PASSWORD})
    assert urlencoded.status == 415 and "cg_session" not in urlencoded.cookies


async def test_a_demoted_supervisor_loses_the_rights_at_once_in_open_sessions(client: Any) -> None:
    sue, root = await login(client, "sue"), await login(client, "root")
    stream = await client.get("/api/events", headers=sue)
    assert (await client.get("/api/agents", headers=sue)).status == 200
    assert (await client.get("/api/records/search", headers=sue)).status == 200

    demoted = await client.patch("/api/agents/sue", json={"role": "agent", "languages": ["zh"]}, headers=root)
    assert demoted.status == 200 and (await demoted.json())["role"] == "agent"
    assert (await client.get("/api/agents", headers=sue)).status == 403
    assert (await client.get("/api/records/search", headers=sue)).status == 403

    # Her open event stream now carries only what an agent of the Chinese desk may see.
    chat = await ChatClient.connect(client, "/chat/ws", language="en")
    await chat.send("Someone traded on my account without my permission")  # high risk: an alert too
    english = (await chat.expect(lambda f: f["type"] == "case"))["case_id"]
    chat = await ChatClient.connect(client, "/chat/ws", language="zh")
    await chat.send("我的账户被盗了，有人未经授权买了股票")
    chinese = (await chat.expect(lambda f: f["type"] == "case"))["case_id"]
    seen = await _events_until(stream, lambda e: e.get("case_id") == chinese and e["type"] == "case")
    assert all(e.get("case_id") != english for e in seen), seen


async def test_a_password_reset_or_disabling_ends_every_session_at_once(client: Any) -> None:
    root = await login(client, "root")
    first, second = await login(client, "ann"), await login(client, "ann")
    stream = await client.get("/api/events", headers=second)
    reset = await client.post("/api/agents/ann/reset", json={"password": "a brand new password"}, headers=root)
    assert reset.status == 200
    for session in (first, second):
        assert (await client.get("/api/cases", headers=session)).status == 401
    async with asyncio.timeout(10):
        assert await stream.content.read() is not None  # the open stream ended
        assert stream.content.at_eof()
    assert (await attempt(client, "ann", PASSWORD)).status == 401
    fresh = await login_with(client, "ann", "a brand new password")

    assert (await client.post("/api/agents/ann/disable", headers=root)).status == 200
    assert (await client.get("/api/cases", headers=fresh)).status == 401
    assert (await attempt(client, "ann", "a brand new password")).status == 401
    assert (await client.post("/api/agents/ann/enable", headers=root)).status == 200
    assert (await client.get("/api/cases", headers=fresh)).status == 401, "enabling brings no old session back"
    assert (await attempt(client, "ann", "a brand new password")).status == 200


async def test_a_desk_change_applies_to_open_sessions(client: Any) -> None:
    root, li = await login(client, "root"), await login(client, "li")
    chat = await ChatClient.connect(client, "/chat/ws", language="en")
    await chat.send("My withdrawal has been pending for a week")
    case_id = (await chat.expect(lambda f: f["type"] == "case"))["case_id"]
    assert (await client.get(f"/api/cases/{case_id}", headers=li)).status == 403
    await client.patch("/api/agents/li", json={"languages": ["zh", "en"]}, headers=root)
    assert (await client.get(f"/api/cases/{case_id}", headers=li)).status == 200


async def test_accounts_are_created_never_overwritten_and_every_change_is_audited(client: Any) -> None:
    root = await login(client, "root")
    await client.app[keys.AGENTS].add("rex", PASSWORD, "admin")
    taken = await client.post("/api/agents", json={"name": "rex", "password": "the attacker's own", "role": "agent"},
                              headers=root)
    assert taken.status == 409
    assert (await attempt(client, "rex", PASSWORD)).status == 200, "the existing admin is unchanged"

    await client.patch("/api/agents/ann", json={"role": "supervisor"}, headers=root)
    await client.post("/api/agents/ann/reset", json={"password": "another long one"}, headers=root)
    events = (await (await client.get("/api/account-events?name=ann", headers=root)).json())["events"]
    assert [(e["actor"], e["action"], e["target"]) for e in events] == [
        ("root", "reset", "ann"), ("root", "change", "ann"), ("operator", "create", "ann")]
    assert events[1]["detail"]["before"]["role"] == "agent" and events[1]["detail"]["after"]["role"] == "supervisor"
    assert "argon2" not in json.dumps(events) and "another long one" not in json.dumps(events)
    assert (await client.get("/api/account-events", headers=await login(client, "sue"))).status == 403


async def test_an_admins_account_changed_by_another_admin_alerts_the_admins(client: Any) -> None:
    root = await login(client, "root")
    await client.app[keys.AGENTS].add("rex", PASSWORD, "admin")
    rex = await login(client, "rex")
    stream = await client.get("/api/events", headers=rex)
    await client.post("/api/agents/rex/reset", json={"password": "taken over now"}, headers=root)
    # Rex's own stream ended with his session; the other admins hear of it.
    async with asyncio.timeout(10):
        await stream.content.read()
    root_stream = await client.get("/api/events", headers=root)
    await client.patch("/api/agents/rex", json={"role": "supervisor"}, headers=root)
    alert = await _next_event(root_stream, lambda e: e["type"] == "alert")
    assert alert["kind"] == "account_changed" and alert["account"] == "rex" and "root" in alert["detail"]


async def test_the_last_enabled_admin_can_be_neither_disabled_nor_demoted(client: Any) -> None:
    root = await login(client, "root")
    assert (await client.post("/api/agents/root/disable", headers=root)).status == 409
    assert (await client.patch("/api/agents/root", json={"role": "agent"}, headers=root)).status == 409
    assert (await client.get("/api/agents", headers=root)).status == 200, "nothing changed"
    assert (await client.post("/api/agents/nobody/disable", headers=root)).status == 404
    assert (await client.patch("/api/agents/ann", json={"role": "boss"}, headers=root)).status == 422
    assert (await client.patch("/api/agents/ann", json={}, headers=root)).status == 422


async def test_two_admins_demoting_each_other_at_once_leave_one_admin(client: Any) -> None:
    await client.app[keys.AGENTS].add("rex", PASSWORD, "admin")
    root, rex = await login(client, "root"), await login(client, "rex")
    answers = await asyncio.gather(client.patch("/api/agents/rex", json={"role": "agent"}, headers=root),
                                   client.patch("/api/agents/root", json={"role": "agent"}, headers=rex))
    assert sorted(a.status for a in answers) in ([200, 403], [200, 409])
    admins = [a for a in await client.app[keys.AGENTS].list() if a.role == "admin"]
    assert len(admins) == 1


async def test_accounts_survive_a_redis_loss_and_sessions_do_not(client: Any, redis: Redis) -> None:
    root = await login(client, "root")
    ann = await login(client, "ann")
    await client.post("/api/agents/li/disable", headers=root)
    await client.post("/api/agents/sue/reset", json={"password": "sue's new password"}, headers=root)
    await redis.flushdb()  # Redis lost everything

    assert (await client.get("/api/cases", headers=ann)).status == 401, "sessions are not kept past Redis"
    assert (await attempt(client, "ann", PASSWORD)).status == 200, "logins still work"
    assert (await attempt(client, "li", PASSWORD)).status == 401, "a disabled account stays disabled"
    assert (await attempt(client, "sue", PASSWORD)).status == 401, "an old password stays old"
    assert (await attempt(client, "sue", "sue's new password")).status == 200

    await redis.flushdb()
    restored = await client.app[keys.AGENTS].restore_working_copies()
    assert restored["accounts"] == 4
    assert (await attempt(client, "li", PASSWORD)).status == 401
    assert (await attempt(client, "root", PASSWORD)).status == 200


async def test_accounts_kept_only_in_redis_by_an_earlier_version_move_to_the_record(client: Any,
                                                                                    redis: Redis) -> None:
    from argon2 import PasswordHasher

    hashed = PasswordHasher().hash("an old account's password")
    await redis.set("cg:agent:olga", json.dumps({"name": "olga", "role": "supervisor", "languages": ["zh"],
                                                 "hash": hashed}))
    await redis.sadd("cg:agents", "olga")
    counts = await client.app[keys.AGENTS].restore_working_copies()
    assert counts["imported"] == 1
    assert (await attempt(client, "olga", "an old account's password")).status == 200
    assert "olga" in [a.name for a in await client.app[keys.AGENTS].list()]


async def test_event_streams_carry_only_what_the_reader_may_see(client: Any) -> None:
    li, sue = await login(client, "li"), await login(client, "sue")
    li_stream, sue_stream = await client.get("/api/events", headers=li), await client.get("/api/events", headers=sue)
    chat = await ChatClient.connect(client, "/chat/ws", language="en")
    await chat.send("Someone traded on my account without my permission, I will go to the SEC")
    english = (await chat.expect(lambda f: f["type"] == "case"))["case_id"]
    chat = await ChatClient.connect(client, "/chat/ws", language="zh")
    await chat.send("我的提现一周了还没到账")
    chinese = (await chat.expect(lambda f: f["type"] == "case"))["case_id"]

    sue_saw = await _events_until(sue_stream, lambda e: e.get("case_id") == chinese)
    assert any(e["type"] == "alert" and e["case_id"] == english for e in sue_saw), "the high-risk alert"
    li_saw = await _events_until(li_stream, lambda e: e.get("case_id") == chinese)
    assert all(e.get("case_id") != english for e in li_saw), li_saw


async def test_event_streams_per_handler_are_bounded_and_share_one_redis_connection(client: Any,
                                                                                    redis: Redis) -> None:
    ann = await login(client, "ann")
    first = await client.get("/api/events", headers=ann)
    clients_with_one = int((await redis.info("clients"))["connected_clients"])
    streams = [first] + [await client.get("/api/events", headers=ann) for _ in range(4)]
    assert all(s.status == 200 for s in streams)
    refused = await client.get("/api/events", headers=ann)
    assert refused.status == 429
    other = await client.get("/api/events", headers=await login(client, "sue"))
    assert other.status == 200, "another handler is not held back"
    assert int((await redis.info("clients"))["connected_clients"]) <= clients_with_one + 1
    for stream in streams:
        stream.close()
    await asyncio.sleep(0.2)
    assert (await client.get("/api/events", headers=ann)).status == 200, "a closed stream frees its place"


# -- helpers -----------------------------------------------------------------------------------------------


def _fields(settings: Settings) -> dict[str, Any]:
    return {name: getattr(settings, name) for name in ("redis_url", "rasa_url", "rasa_timeout", "data_dir")}


async def login_with(client: Any, name: str, password: str) -> dict[str, str]:
    response = await attempt(client, name, password)
    assert response.status == 200
    return {"Authorization": f"Bearer {(await response.json())['token']}"}


async def _events_until(stream: Any, last: Any, seconds: float = 10) -> list[dict[str, Any]]:
    seen: list[dict[str, Any]] = []
    async with asyncio.timeout(seconds):
        async for line in stream.content:
            if line.startswith(b"data: "):
                seen.append(json.loads(line[6:]))
                if last(seen[-1]):
                    return seen
    return seen


async def _next_event(stream: Any, wanted: Any) -> dict[str, Any]:
    return (await _events_until(stream, wanted))[-1]


async def _no_event(stream: Any, wanted: Any, seconds: float = 1.5) -> bool:
    try:
        await _events_until(stream, wanted, seconds)
    except TimeoutError:
        return True
    return False


async def test_behind_a_trusted_proxy_each_client_is_counted_and_a_forged_header_is_not(
    aiohttp_client: Any, settings: Settings
) -> None:
    app = create_app(Settings.from_env({}, **_fields(settings), trusted_proxies=("127.0.0.1",)))
    client = await aiohttp_client(app)
    await app[keys.AGENTS].add("ann", PASSWORD, "agent")

    def through_proxy(address: str, password: str) -> Any:
        return client.post("/api/login", json={"name": "ann", "password": password},
                           headers={"X-Forwarded-For": f"203.0.113.9, {address}"})

    for n in range(5):  # the guesser, behind the proxy
        assert (await through_proxy("198.51.100.7", f"wrong {n}")).status == 401
    assert (await through_proxy("198.51.100.7", PASSWORD)).status == 429
    assert (await through_proxy("198.51.100.8", PASSWORD)).status == 200, "another client behind the same proxy"

    # A client that is not the proxy cannot choose its address by writing the header itself.
    connector = aiohttp.TCPConnector(local_addr=("127.0.0.2", 0))
    async with aiohttp.ClientSession(str(client.make_url("/")), connector=connector) as direct:
        for n in range(5):
            async with direct.post("/api/login", json={"name": "ann", "password": f"nope {n}"},
                                   headers={"X-Forwarded-For": f"192.0.2.{n}"}) as answer:
                assert answer.status == 401
        async with direct.post("/api/login", json={"name": "ann", "password": PASSWORD},
                               headers={"X-Forwarded-For": "192.0.2.99"}) as answer:
            assert answer.status == 429


async def test_a_handler_who_logs_in_often_is_never_slowed(client: Any) -> None:
    for _ in range(30):  # more than the account's free tries in the window, every one of them right
        assert (await attempt(client, "ann", PASSWORD)).status == 200

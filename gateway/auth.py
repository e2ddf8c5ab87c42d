"""Complaint handlers' accounts and their sessions.

Accounts live in the system of record (the ``accounts`` table, with ``account_events`` saying who changed whose
account, when and what); Redis keeps a working copy that every request checks, and the sessions. Losing Redis
loses sessions (handlers log in again) and login counts, never an account: a missing working copy is read from
the record, and ``restore_working_copies`` (at start and in ``rebuild-queue``) puts every account back.

Guarantees:
- passwords are stored only as argon2 hashes, and a hash never leaves this module (not in lists, events, logs);
- a session follows its account: every request re-reads the account, so a role or desk change applies at once,
  and a password reset or disabling the account ends every session it has (the session's epoch is gone);
- the working copy only takes a newer revision of an account: two changes racing cannot leave the older one;
- every attempt is counted before its password is checked (gateway/login_throttle.py); an unknown name, a
  disabled account and a wrong password cost the same work and get the same answer;
- accounts are created, never overwritten: each change is explicit (role, desks, password, disable, enable) and
  is an account event; the last enabled admin can be neither disabled nor demoted.

A cookie session also needs a CSRF token on every change it asks for: derived from the session token, so it
costs no storage, and only a page that could read the login answer (or ``/api/me``) knows it.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import re
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from redis.asyncio import Redis
from sqlalchemy import func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from gateway.login_throttle import LoginThrottle
from records.tables import Base
from store.keys import LEGACY_AGENTS_KEY as LEGACY_NAMES_KEY
from store.keys import account_key as _working_key
from store.keys import account_sessions_key as _sessions_key
from store.keys import legacy_agent_key
from store.keys import session_key as _token_key
from store.scripts import register_script

ROLES = ("agent", "supervisor", "admin")
LANGUAGES = ("zh", "en")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
MAX_PASSWORD = 1024  # argon2 takes any length; a megabyte "password" only costs the server time
UNKNOWN_TTL = 60  # seconds an unknown name is remembered as unknown (it costs what a known one does)
ACCOUNTS = Base.metadata.tables["accounts"]
ACCOUNT_EVENTS = Base.metadata.tables["account_events"]

# Notified of what admins should hear about: (kind, account name, detail).
Notify = Callable[[str, str, str], Awaitable[None]]

# KEYS[1]: an account's working copy. ARGV: revision, document, ttl (0: keep). Only a newer revision is taken.
_TAKE_NEWER = """
local current = tonumber(redis.call('HGET', KEYS[1], 'revision') or '-1')
if tonumber(ARGV[1]) < current then return 0 end
redis.call('HSET', KEYS[1], 'revision', ARGV[1], 'doc', ARGV[2])
if tonumber(ARGV[3]) > 0 then redis.call('EXPIRE', KEYS[1], ARGV[3]) else redis.call('PERSIST', KEYS[1]) end
return 1
"""


class AuthError(Exception):
    """A login or session refused; the message is safe to show (it never says which part was wrong)."""


class Throttled(AuthError):
    def __init__(self, retry_after: float) -> None:
        self.retry_after = max(1, round(retry_after + 0.5))
        super().__init__(f"too many attempts; try again in {self.retry_after} seconds")


class AccountError(Exception):
    """An account change that cannot be made as asked (the message says why)."""


class AccountExists(AccountError):
    pass


class AccountNotFound(AccountError):
    pass


class LastAdmin(AccountError):
    pass


@dataclass(frozen=True, slots=True)
class Agent:
    name: str
    role: str
    languages: tuple[str, ...] = LANGUAGES
    disabled: bool = False
    unit: str = "hq"

    @property
    def supervises(self) -> bool:
        return self.role in ("supervisor", "admin")

    def reads(self, language: str) -> bool:
        """Whether this agent's desks include cases in ``language`` (supervisors see every desk)."""
        return self.supervises or language in self.languages

    def to_dict(self) -> dict[str, object]:
        return {"name": self.name, "role": self.role, "languages": list(self.languages), "disabled": self.disabled,
                "unit": self.unit}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Agent:
        languages = data.get("languages")
        known = tuple(str(x) for x in languages) if isinstance(languages, list) else LANGUAGES
        return cls(str(data["name"]), str(data["role"]), known, bool(data.get("disabled", False)),
                   str(data.get("unit") or "hq"))


@dataclass(frozen=True, slots=True)
class _Account:
    agent: Agent
    password_hash: str
    revision: int
    epoch: int

    def document(self) -> str:
        return json.dumps({**self.agent.to_dict(), "hash": self.password_hash, "revision": self.revision,
                           "epoch": self.epoch})

    @classmethod
    def from_document(cls, raw: str | bytes) -> _Account:
        data = json.loads(raw)
        return cls(Agent.from_dict(data), data["hash"], int(data["revision"]), int(data["epoch"]))

    @classmethod
    def from_row(cls, row: Any) -> _Account:
        languages = tuple(row.languages.get("desks", LANGUAGES))
        agent = Agent(row.name, row.role, languages, row.disabled, row.unit or "hq")
        return cls(agent, row.password_hash, row.revision, row.epoch)


def csrf_token(session_token: str) -> str:
    return hashlib.sha256(b"csrf:" + session_token.encode()).hexdigest()


def csrf_matches(session_token: str, offered: str) -> bool:
    return hmac.compare_digest(csrf_token(session_token), offered)


def check_name(name: str) -> str:
    if not _NAME.match(name):
        raise AccountError("a name is 1-64 letters, digits, '.', '_' or '-'")
    return name


def check_role(role: str) -> str:
    if role not in ROLES:
        raise AccountError(f"role must be one of {', '.join(ROLES)}")
    return role


def check_languages(languages: tuple[str, ...] | list[str]) -> tuple[str, ...]:
    if not languages or any(language not in LANGUAGES for language in languages):
        raise AccountError(f"languages must be some of {', '.join(LANGUAGES)}")
    return tuple(dict.fromkeys(languages))


def check_password(password: str) -> str:
    if len(password) < 8:
        raise AccountError("a password needs at least 8 characters")
    if len(password) > MAX_PASSWORD:
        raise AccountError(f"a password has at most {MAX_PASSWORD} characters")
    return password


def _facts(agent: Agent) -> dict[str, Any]:
    """What an account event says of an account: never its password."""
    return {"role": agent.role, "languages": list(agent.languages), "disabled": agent.disabled, "unit": agent.unit}


class Agents:
    def __init__(self, redis: Redis, engine: AsyncEngine, token_ttl: int, lockout_after: int,
                 notify: Notify | None = None, units: tuple[str, ...] = ("hq",)) -> None:
        self._units = units
        self._redis = redis
        self._engine = engine
        self._token_ttl = token_ttl
        self._throttle = LoginThrottle(redis, free_tries=lockout_after, account_free_tries=4 * lockout_after)
        self._notify = notify
        self._hasher = PasswordHasher()
        self._take_newer = register_script(redis, _TAKE_NEWER)
        self._stand_in_hash: str | None = None

    # -- accounts ---------------------------------------------------------------------------------------------

    async def add(self, name: str, password: str, role: str = "agent", languages: tuple[str, ...] = LANGUAGES,
                  by: str = "operator", unit: str = "hq") -> Agent:
        """Create an account; AccountExists if the name is taken (an account is never silently overwritten)."""
        agent = Agent(check_name(name), check_role(role), check_languages(languages), unit=self._check_unit(unit))
        hashed = await asyncio.to_thread(self._hasher.hash, check_password(password))
        now = datetime.now(UTC)
        account = _Account(agent, hashed, revision=1, epoch=1)
        try:
            async with self._engine.begin() as connection:
                await connection.execute(insert(ACCOUNTS).values(
                    name=agent.name, role=agent.role, languages={"desks": list(agent.languages)}, unit=agent.unit,
                    password_hash=hashed, disabled=False, revision=1, epoch=1, created_at=now, updated_at=now))
                await _audit(connection, now, by, "create", agent.name, {"after": _facts(agent)})
        except IntegrityError:
            raise AccountExists(f"an account named {name!r} exists; change it instead") from None
        await self._keep(account)
        return agent

    async def change(self, name: str, by: str, *, role: str | None = None, languages: tuple[str, ...] | None = None,
                     disabled: bool | None = None, password: str | None = None, unit: str | None = None) -> Agent:
        """Change one account as asked, audited; a new password or disabling ends its sessions at once."""
        changes: dict[str, Any] = {}
        if role is not None:
            changes["role"] = check_role(role)
        if languages is not None:
            changes["languages"] = {"desks": list(check_languages(languages))}
        if disabled is not None:
            changes["disabled"] = disabled
        if unit is not None:
            changes["unit"] = self._check_unit(unit)
        if password is not None:
            changes["password_hash"] = await asyncio.to_thread(self._hasher.hash, check_password(password))
        if not changes:
            raise AccountError("nothing to change: give a role, languages, a unit, a password, or disable or enable")
        ends_sessions = "password_hash" in changes or disabled is True
        now = datetime.now(UTC)
        async with self._engine.begin() as connection:
            before = await self._locked(connection, name)
            bump = ACCOUNTS.c.epoch + (1 if ends_sessions else 0)
            await connection.execute(update(ACCOUNTS).where(ACCOUNTS.c.name == before.agent.name).values(
                **changes, revision=ACCOUNTS.c.revision + 1, epoch=bump, updated_at=now))
            after = await self._read(connection, before.agent.name)
            assert after is not None
            if _an_admin(before.agent) and not _an_admin(after.agent) and not await _enabled_admins(connection):
                raise LastAdmin("the last enabled admin can be neither disabled nor demoted")
            detail: dict[str, Any] = {"before": _facts(before.agent), "after": _facts(after.agent)}
            if password is not None:
                detail["password"] = "reset"
            await _audit(connection, now, by, _action(before.agent, after.agent, password), name, detail)
        await self._keep(after)
        if ends_sessions:
            await self._end_sessions_seen(after)
        if self._notify and before.agent.role == "admin" and by != name:
            await self._notify("account_changed", name, f"{by}: {_action(before.agent, after.agent, password)}")
        return after.agent

    async def get(self, name: str) -> Agent | None:
        account = await self._account(name) if _NAME.match(name) else None
        return account.agent if account else None

    async def changes(self, target: str | None = None, limit: int = 200) -> list[dict[str, Any]]:
        """The account events, newest first: who changed whose account, when, and what."""
        query = select(ACCOUNT_EVENTS).order_by(ACCOUNT_EVENTS.c.id.desc()).limit(limit)
        if target:
            query = query.where(ACCOUNT_EVENTS.c.target == target)
        async with self._engine.connect() as connection:
            rows = await connection.execute(query)
            return [{"at": _utc(row.at).isoformat(), "actor": row.actor, "action": row.action,
                     "target": row.target, "detail": row.detail} for row in rows]

    async def restore_working_copies(self) -> dict[str, int]:
        """After Redis was lost (or at start): every account's working copy from the record; and accounts that
        lived only in Redis (before the record kept them) into the record. Sessions are not brought back."""
        imported = await self._import_legacy()
        async with self._engine.connect() as connection:
            accounts = [_Account.from_row(row) for row in await connection.execute(select(ACCOUNTS))]
        for account in accounts:
            await self._keep(account)
        return {"accounts": len(accounts), "imported": imported}

    # After every method annotated with list[...]: in the class body, `list` then names this method.
    async def list(self) -> list[Agent]:
        async with self._engine.connect() as connection:
            rows = await connection.execute(select(ACCOUNTS).order_by(ACCOUNTS.c.name))
            return [_Account.from_row(row).agent for row in rows]

    # -- sessions ---------------------------------------------------------------------------------------------

    async def login(self, name: str, password: str, address: str = "") -> tuple[str, Agent]:
        """A fresh session token for a right password; Throttled if tried too fast; AuthError (the same one for
        every other failure) otherwise."""
        refused = AuthError("wrong name or password")
        if not _NAME.match(name) or len(password) > MAX_PASSWORD:
            raise refused
        admission = await self._throttle.admit(name, address)
        if admission.burst and self._notify:
            await self._notify("login_burst", name, "many failed logins from several addresses")
        if not admission.admitted:
            raise Throttled(admission.retry_after)
        account = await self._account(name)
        usable = account is not None and not account.agent.disabled
        hashed = account.password_hash if account is not None and usable else await self._stand_in()
        if not await self._verify(hashed, password) or account is None or not usable:
            raise refused
        await self._throttle.succeeded(name, address)
        token = secrets.token_urlsafe(32)
        session = {"name": account.agent.name, "epoch": account.epoch}
        await self._redis.set(_token_key(token), json.dumps(session), ex=self._token_ttl)
        await self._redis.sadd(_sessions_key(name), _token_key(token))
        await self._redis.expire(_sessions_key(name), self._token_ttl)
        return token, account.agent

    async def agent_for(self, token: str) -> Agent | None:
        """The session's account as it is now; None if the session ended or its account no longer allows it."""
        raw = await self._redis.get(_token_key(token))
        session = json.loads(raw) if raw else None
        if not isinstance(session, dict) or "epoch" not in session:
            return None
        account = await self._account(str(session["name"]))
        if account is None or account.agent.disabled or account.epoch != session["epoch"]:
            await self._redis.delete(_token_key(token))
            return None
        return account.agent

    async def logout(self, token: str) -> None:
        await self._redis.delete(_token_key(token))

    # -- inside -----------------------------------------------------------------------------------------------

    async def _account(self, name: str) -> _Account | None:
        """The working copy, or the record's (kept as the working copy); an unknown name is remembered too."""
        working = await self._redis.hgetall(_working_key(name))
        if working:
            return _Account.from_document(working[b"doc"]) if working.get(b"doc") else None
        async with self._engine.connect() as connection:
            account = await self._read(connection, name)
        if account is None:
            await self._take_newer(keys=[_working_key(name)], args=[0, "", UNKNOWN_TTL])
            return None
        await self._keep(account)
        return account

    async def _keep(self, account: _Account) -> None:
        await self._take_newer(keys=[_working_key(account.agent.name)],
                               args=[account.revision, account.document(), 0])

    async def _end_sessions_seen(self, account: _Account) -> None:
        """Drop the sessions this account opened (they would be refused anyway: their epoch is gone)."""
        key = _sessions_key(account.agent.name)
        tokens = [t.decode() for t in await self._redis.smembers(key)]
        if tokens:
            await self._redis.delete(*tokens, key)

    @staticmethod
    async def _read(connection: AsyncConnection, name: str) -> _Account | None:
        row = (await connection.execute(select(ACCOUNTS).where(ACCOUNTS.c.name == name))).first()
        return _Account.from_row(row) if row else None

    async def _locked(self, connection: AsyncConnection, name: str) -> _Account:
        """The account, with the admins' rows locked on PostgreSQL so two demotions cannot pass each other
        (SQLite lets one writer at a time anyway)."""
        if connection.dialect.name == "postgresql":
            admins = select(ACCOUNTS.c.name).where(ACCOUNTS.c.role == "admin").with_for_update()
            await connection.execute(admins)
        row = (await connection.execute(
            select(ACCOUNTS).where(ACCOUNTS.c.name == name).with_for_update())).first()
        if row is None:
            raise AccountNotFound(f"no account named {name!r}")
        return _Account.from_row(row)

    async def _import_legacy(self) -> int:
        imported = 0
        for raw_name in await self._redis.smembers(LEGACY_NAMES_KEY):
            name = raw_name.decode()
            raw = await self._redis.get(legacy_agent_key(name)) if _NAME.match(name) else None
            if raw is None:
                continue
            data = json.loads(raw)
            agent, now = Agent.from_dict(data), datetime.now(UTC)
            try:
                async with self._engine.begin() as connection:
                    await connection.execute(insert(ACCOUNTS).values(
                        name=agent.name, role=agent.role, languages={"desks": list(agent.languages)},
                        password_hash=data["hash"], disabled=False, revision=1, epoch=1, created_at=now,
                        updated_at=now))
                    await _audit(connection, now, "system", "import", agent.name, {"after": _facts(agent)})
                imported += 1
            except IntegrityError:
                pass  # already in the record: the record's copy wins
        return imported

    def _check_unit(self, unit: str) -> str:
        if unit not in self._units:
            raise AccountError(f"no unit {unit!r}; units are {', '.join(self._units)}")
        return unit

    async def _stand_in(self) -> str:
        """A hash to check when there is no usable account, so that costs what a real check costs."""
        if self._stand_in_hash is None:
            self._stand_in_hash = await asyncio.to_thread(self._hasher.hash, secrets.token_urlsafe(16))
        return self._stand_in_hash

    async def _verify(self, hashed: str, password: str) -> bool:
        try:
            return await asyncio.to_thread(self._hasher.verify, hashed, password)
        except (VerificationError, InvalidHashError):
            return False


def _an_admin(agent: Agent) -> bool:
    return agent.role == "admin" and not agent.disabled


def _action(before: Agent, after: Agent, password: str | None) -> str:
    if before.disabled != after.disabled:
        return "disable" if after.disabled else "enable"
    if password is not None and replace(before, disabled=after.disabled) == after:
        return "reset"
    return "change"


async def _enabled_admins(connection: AsyncConnection) -> int:
    query = select(func.count()).select_from(ACCOUNTS).where(ACCOUNTS.c.role == "admin", ACCOUNTS.c.disabled.is_(False))
    return int((await connection.execute(query)).scalar_one())


async def _audit(connection: AsyncConnection, at: datetime, actor: str, action: str, target: str,
                 detail: dict[str, Any]) -> None:
    await connection.execute(insert(ACCOUNT_EVENTS).values(at=at, actor=actor, action=action, target=target,
                                                           detail=detail))


def _utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)

"""Agent accounts and their tokens.

Passwords are stored only as argon2 hashes. A login gives a random bearer token (also used as the
console's session cookie); Redis keeps only its SHA-256, with an expiry. Repeated failures lock the
account for a while, so a password cannot be guessed at speed.

A cookie session also needs a CSRF token on every change it asks for: derived from the session token, so
it costs no storage, and only a page that could read the login answer (or ``/api/me``) knows it.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import re
import secrets
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from redis.asyncio import Redis

ROLES = ("agent", "supervisor", "admin")
LANGUAGES = ("zh", "en")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
LOCKOUT_SECONDS = 300


class AuthError(Exception):
    pass


@dataclass(frozen=True, slots=True)
class Agent:
    name: str
    role: str
    languages: tuple[str, ...] = LANGUAGES

    @property
    def supervises(self) -> bool:
        return self.role in ("supervisor", "admin")

    def reads(self, language: str) -> bool:
        """Whether this agent's desks include cases in ``language`` (supervisors see every desk)."""
        return self.supervises or language in self.languages

    def to_dict(self) -> dict[str, object]:
        return {"name": self.name, "role": self.role, "languages": list(self.languages)}

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> Agent:
        languages = data.get("languages")
        known = tuple(str(x) for x in languages) if isinstance(languages, list) else LANGUAGES
        return cls(str(data["name"]), str(data["role"]), known)


def csrf_token(session_token: str) -> str:
    return hashlib.sha256(b"csrf:" + session_token.encode()).hexdigest()


def csrf_matches(session_token: str, offered: str) -> bool:
    return hmac.compare_digest(csrf_token(session_token), offered)


AGENT_NAMES_KEY = "cg:agents"


def _agent_key(name: str) -> str:
    return f"cg:agent:{name}"


def _token_key(token: str) -> str:
    return "cg:token:" + hashlib.sha256(token.encode()).hexdigest()


def _failures_key(name: str) -> str:
    return f"cg:login-failures:{name}"


class Agents:
    def __init__(self, redis: Redis, token_ttl: int, lockout_after: int) -> None:
        self._redis = redis
        self._token_ttl = token_ttl
        self._lockout_after = lockout_after
        self._hasher = PasswordHasher()

    async def add(self, name: str, password: str, role: str = "agent", languages: tuple[str, ...] = LANGUAGES) -> Agent:
        if not _NAME.match(name):
            raise AuthError("a name is 1-64 letters, digits, '.', '_' or '-'")
        if role not in ROLES:
            raise AuthError(f"role must be one of {', '.join(ROLES)}")
        if len(password) < 8:
            raise AuthError("a password needs at least 8 characters")
        if not languages or any(language not in LANGUAGES for language in languages):
            raise AuthError(f"languages must be some of {', '.join(LANGUAGES)}")
        agent = Agent(name, role, tuple(dict.fromkeys(languages)))
        hashed = await asyncio.to_thread(self._hasher.hash, password)
        await self._redis.set(_agent_key(name), json.dumps({**agent.to_dict(), "hash": hashed}))
        await self._redis.sadd(AGENT_NAMES_KEY, name)
        return agent

    async def list(self) -> list[Agent]:
        names = sorted(n.decode() for n in await self._redis.smembers(AGENT_NAMES_KEY))
        found = [await self.get(name) for name in names]
        return [agent for agent in found if agent is not None]

    async def get(self, name: str) -> Agent | None:
        raw = await self._redis.get(_agent_key(name)) if _NAME.match(name) else None
        return Agent.from_dict(json.loads(raw)) if raw else None

    async def login(self, name: str, password: str) -> tuple[str, Agent]:
        """A fresh token for a right password; AuthError (the same one for every failure) otherwise."""
        refused = AuthError("wrong name or password")
        if not _NAME.match(name):
            raise refused
        failures = int(await self._redis.get(_failures_key(name)) or 0)
        if failures >= self._lockout_after:
            raise AuthError("too many failed logins; try again in a few minutes")
        raw = await self._redis.get(_agent_key(name))
        record = json.loads(raw) if raw else None
        if record is None or not await self._verify(record["hash"], password):
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.incr(_failures_key(name))
                pipe.expire(_failures_key(name), LOCKOUT_SECONDS)
                await pipe.execute()
            raise refused
        await self._redis.delete(_failures_key(name))
        agent = Agent.from_dict(record)
        token = secrets.token_urlsafe(32)
        await self._redis.set(_token_key(token), json.dumps(agent.to_dict()), ex=self._token_ttl)
        return token, agent

    async def _verify(self, hashed: str, password: str) -> bool:
        try:
            return await asyncio.to_thread(self._hasher.verify, hashed, password)
        except (VerificationError, InvalidHashError):
            return False

    async def agent_for(self, token: str) -> Agent | None:
        raw = await self._redis.get(_token_key(token))
        if not raw:
            return None
        return Agent.from_dict(json.loads(raw))

    async def logout(self, token: str) -> None:
        await self._redis.delete(_token_key(token))

"""Agent accounts and their tokens.

Passwords are stored only as argon2 hashes. A login gives a random bearer token (also used as the
console's session cookie); Redis keeps only its SHA-256, with an expiry. Repeated failures lock the
account for a while, so a password cannot be guessed at speed.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
import secrets
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from redis.asyncio import Redis

ROLES = ("agent", "supervisor", "admin")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
LOCKOUT_SECONDS = 300


class AuthError(Exception):
    pass


@dataclass(frozen=True, slots=True)
class Agent:
    name: str
    role: str

    def to_dict(self) -> dict[str, str]:
        return {"name": self.name, "role": self.role}


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

    async def add(self, name: str, password: str, role: str = "agent") -> Agent:
        if not _NAME.match(name):
            raise AuthError("a name is 1-64 letters, digits, '.', '_' or '-'")
        if role not in ROLES:
            raise AuthError(f"role must be one of {', '.join(ROLES)}")
        if len(password) < 8:
            raise AuthError("a password needs at least 8 characters")
        hashed = await asyncio.to_thread(self._hasher.hash, password)
        await self._redis.set(_agent_key(name), json.dumps({"name": name, "role": role, "hash": hashed}))
        return Agent(name, role)

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
        agent = Agent(record["name"], record["role"])
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
        data = json.loads(raw)
        return Agent(data["name"], data["role"])

    async def logout(self, token: str) -> None:
        await self._redis.delete(_token_key(token))

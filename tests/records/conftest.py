"""The record open on each database the tests run on, and a desk (cases and queue on the test Redis) writing
through to it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from handoff.cases import CaseStore
from handoff.queue import AgentQueue
from records.record import CaseRecord


@pytest.fixture
async def record(record_url: str) -> AsyncIterator[CaseRecord]:
    async with CaseRecord(record_url) as opened:
        yield opened


@pytest.fixture
async def desk(redis: Redis, record: CaseRecord) -> tuple[CaseStore, AgentQueue]:
    cases = CaseStore(redis, record=record)
    queue = AgentQueue(redis, cases, claim_timeout=60)
    await queue.ensure_group()
    return cases, queue

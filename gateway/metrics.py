"""Prometheus metrics at GET /metrics: what an operator watches to know the desk is healthy.

Counters live in a registry of the app's own (no process-wide state); the queue's depth per lane and desk
and the quarantine's size are read from Redis when scraped, so every replica reports the same backlog.
Labels carry channels, lanes and desks only, never anything about a customer.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from redis.asyncio import Redis
from redis.exceptions import RedisError

from handoff.queue import DESKS, LANES, stream_key
from store.keys import QUARANTINE_KEY


class GatewayMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.messages = Counter("cg_messages_received", "Customer messages recorded, by channel",
                                ["channel"], registry=self.registry)
        self.duplicates = Counter("cg_messages_duplicate", "Provider retries recognised and not handled again",
                                  ["channel"], registry=self.registry)
        self.bot_turns = Histogram("cg_bot_turn_seconds", "Time Rasa took to answer one customer message",
                                   buckets=(0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1, 2, 5, 10), registry=self.registry)
        self.bot_unavailable = Counter("cg_bot_unavailable", "Turns answered with a holding reply because "
                                       "Rasa was down or slow", registry=self.registry)
        self.cases = Counter("cg_cases_opened", "Cases opened, by channel and lane", ["channel", "lane"],
                             registry=self.registry)
        self.failures = Counter("cg_message_failures", "Messages that failed and went to quarantine",
                                registry=self.registry)
        self.queue_depth = Gauge("cg_queue_waiting", "Cases waiting for a handler, by lane and desk",
                                 ["lane", "desk"], registry=self.registry)
        self.quarantined = Gauge("cg_quarantine_size", "Messages held in quarantine for a person to look at",
                                 registry=self.registry)
        self.redis_up = Gauge("cg_redis_up", "1 if Redis answered the last scrape", registry=self.registry)

    async def refresh(self, redis: Redis) -> None:
        """Read the backlog from Redis; if Redis is down, say so rather than fail the scrape."""
        try:
            async with redis.pipeline(transaction=False) as pipe:
                for lane in LANES:
                    for desk in DESKS:
                        pipe.xlen(stream_key(lane, desk))
                pipe.llen(QUARANTINE_KEY)
                *depths, quarantined = await pipe.execute()
        except RedisError:
            self.redis_up.set(0)
            return
        self.redis_up.set(1)
        for (lane, desk), depth in zip(((lane, desk) for lane in LANES for desk in DESKS), depths, strict=True):
            self.queue_depth.labels(lane, desk).set(depth)
        self.quarantined.set(quarantined)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


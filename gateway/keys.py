"""Typed keys for what the application holds; handlers take their dependencies from here, never globals."""

from __future__ import annotations

import aiohttp
from aiohttp import web
from redis.asyncio import Redis

from gateway.alerts import SupervisorAlerts
from gateway.auth import Agents
from gateway.events import DeskEvents
from gateway.metrics import GatewayMetrics
from gateway.router import Router
from gateway.settings import Settings
from handoff.cases import CaseStore
from handoff.org import Org
from handoff.queue import AgentQueue
from records.record import CaseRecord

SETTINGS = web.AppKey("settings", Settings)
REDIS = web.AppKey("redis", Redis)
HTTP = web.AppKey("http", aiohttp.ClientSession)
CASES = web.AppKey("cases", CaseStore)
QUEUE = web.AppKey("queue", AgentQueue)
AGENTS = web.AppKey("agents", Agents)
EVENTS = web.AppKey("events", DeskEvents)
ROUTER = web.AppKey("router", Router)
METRICS = web.AppKey("metrics", GatewayMetrics)
RECORD = web.AppKey("record", CaseRecord)
ALERTS = web.AppKey("alerts", SupervisorAlerts)
ORG = web.AppKey("org", Org)

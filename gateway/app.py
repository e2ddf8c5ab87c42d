"""The aiohttp application factory: channels, the router, the agent API and operations endpoints.

No work happens at import or in the factory; connections and background tasks open in cleanup contexts
(Redis first, then the HTTP client, then the services that use both) and close in reverse order.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from collections.abc import AsyncIterator, Mapping, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from redis.exceptions import RedisError
from sqlalchemy.exc import SQLAlchemyError

from channels import ADAPTERS, ChannelSettings
from channels.base import Adapter, CannotDeliver, Channel, ChannelInfo
from gateway import api, bot_api, channel_list, handling_api, hardening, keys, records_api
from gateway.alerts import SupervisorAlerts
from gateway.auth import Agents
from gateway.channel_list import CHANNELS, KNOWN
from gateway.events import DeskEvents
from gateway.metrics import GatewayMetrics
from gateway.rasa_client import RasaClient
from gateway.router import Router
from gateway.settings import Settings
from gateway.store import open_redis
from handoff.cases import CaseStore
from handoff.desk import AfterAnswer, CannotReach, Desk
from handoff.org import Org, load_org
from handoff.queue import AgentQueue
from handoff.risk import Hotspots, default_rules, load_rules
from handoff.sla import SlaPolicy
from records.record import CaseRecord
from records.reports.hotspots import check_hotspots
from records.reports.register import check_registers
from store.renames import rename_legacy_keys

log = logging.getLogger(__name__)
SWEEP_SECONDS = 5.0
OFF_CHANNELS = web.AppKey("off_channels", Mapping[str, str])  # an off channel's name -> what turns it on


def create_app(settings: Settings, adapters: Sequence[Adapter[ChannelSettings]] = ADAPTERS) -> web.Application:
    app = web.Application(client_max_size=1024 * 1024, middlewares=[api.json_errors])
    hardening.install(app, body_timeout=settings.request_body_timeout)
    if settings.trusted_proxies:
        app.middlewares.insert(0, hardening.forwarded_for(settings.trusted_proxies))  # before the body is read
    app[keys.SETTINGS] = settings
    app[keys.METRICS] = GatewayMetrics()
    app[keys.ORG] = load_org(settings.org_file)
    app[api.OPEN_STREAMS] = Counter()
    app[KNOWN] = tuple(adapter.info for adapter in adapters)
    app[CHANNELS], app[OFF_CHANNELS] = build_channels(settings, adapters)
    for channel in app[CHANNELS].values():
        app.router.add_routes(channel.routes())
    app.router.add_routes(api.routes())
    app.router.add_routes(handling_api.routes())
    app.router.add_routes(bot_api.routes())
    app.router.add_routes(records_api.routes())
    app.router.add_routes(channel_list.routes())
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics)
    app.cleanup_ctx.extend([redis_ctx, http_ctx, services_ctx])
    return app


def build_channels(settings: ChannelSettings, adapters: Sequence[Adapter[ChannelSettings]],
                   ) -> tuple[dict[str, Channel], dict[str, str]]:
    """The channels whose settings are present, and why each of the others is off (``services_ctx`` says)."""
    on: dict[str, Channel] = {}
    off: dict[str, str] = {}
    for adapter in adapters:
        built = adapter.from_settings(settings)
        if isinstance(built, str):
            off[adapter.info.name] = built
        else:
            on[adapter.info.name] = built
    return on, off


def _announce_channels(active: Mapping[str, Channel], off: Mapping[str, str]) -> None:
    log.info("channels on: %s", ", ".join(sorted(active)))
    for name, why in off.items():
        log.info("channel %s is off: %s", name, why)


async def redis_ctx(app: web.Application) -> AsyncIterator[None]:
    async with open_redis(app[keys.SETTINGS]) as redis:
        app[keys.REDIS] = redis
        yield


async def http_ctx(app: web.Application) -> AsyncIterator[None]:
    async with aiohttp.ClientSession() as session:
        app[keys.HTTP] = session
        yield


async def services_ctx(app: web.Application) -> AsyncIterator[None]:
    settings, redis = app[keys.SETTINGS], app[keys.REDIS]
    await rename_legacy_keys(redis)  # before any store reads a key whose name changed
    risk = load_rules(Path(settings.risk_rules_file)) if settings.risk_rules_file else None
    record = CaseRecord(settings.record_url)
    await record.open()  # migrates first: a fresh machine, or a new release, just works
    app[keys.RECORD], app[records_api.RECORD_ENGINE] = record, record.engine
    cases = CaseStore(redis, SlaPolicy.preset(settings.sla_policy), risk, record=record,
                      route=app[keys.ORG].department_for)
    units = tuple(app[keys.ORG].units)
    queue = AgentQueue(redis, cases, claim_timeout=settings.claim_timeout, units=units)
    await queue.ensure_group()
    events = DeskEvents(redis)
    alerts = SupervisorAlerts(redis, app[keys.HTTP], events, settings.alert_webhook_url,
                              timedelta(hours=settings.due_soon_hours))
    rasa = RasaClient(app[keys.HTTP], settings.rasa_url, settings.rasa_timeout)
    known: tuple[ChannelInfo, ...] = app[KNOWN]
    router = Router(redis, rasa, cases, queue, app[CHANNELS], known, events, alerts, app[keys.METRICS],
                    intake_idle=timedelta(minutes=settings.intake_idle_minutes))
    app[keys.CASES], app[keys.QUEUE], app[keys.EVENTS], app[keys.ROUTER] = cases, queue, events, router
    app[keys.ALERTS] = alerts
    app[keys.AGENTS] = Agents(redis, record.engine, settings.token_ttl, settings.login_lockout,
                              notify=alerts.about_account, units=units)
    after = AfterAnswer(settings.return_visit_days, settings.return_visit_attempts,
                        {"zh": settings.mediation_text_zh, "en": settings.mediation_text_en},
                        SlaPolicy.preset(settings.sla_policy), risk or default_rules())
    app[api.DESK] = router.ratings = Desk(cases, queue, RouterOutbox(router), events, alerts, app[keys.ORG],
                                          settings.approval_policy, after)
    await app[keys.AGENTS].restore_working_copies()
    _announce_channels(app[CHANNELS], app[OFF_CHANNELS])
    async with contextlib.AsyncExitStack() as stack:
        for channel in app[CHANNELS].values():
            await stack.enter_async_context(channel.running(redis, router))
        background = [asyncio.create_task(_sweep_forever(router, queue, cases)),
                      asyncio.create_task(_watch_deadlines(alerts, cases, app[api.DESK],
                                                           settings.deadline_check_seconds)),
                      asyncio.create_task(_watch_the_record(alerts, record, app[keys.ORG],
                                                            SlaPolicy.preset(settings.sla_policy),
                                                            (risk or default_rules()).hotspots,
                                                            settings.deadline_check_seconds))]
        try:
            yield
        finally:
            for task in background:
                task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.gather(*background)
            await router.close()
            await events.close()
            await record.close()


class RouterOutbox:
    """The desk's way to the customer: the router, whose "cannot deliver" is the desk's "cannot reach"."""

    def __init__(self, router: Router) -> None:
        self._router = router

    async def reply_from_agent(self, case: dict[str, Any], agent: str, text: str) -> None:
        try:
            await self._router.reply_from_agent(case, agent, text)
        except CannotDeliver as exc:
            raise CannotReach(str(exc)) from exc

    async def notify_status(self, case: dict[str, Any]) -> None:
        await self._router.notify_status(case)

    async def ask_satisfaction(self, case: dict[str, Any]) -> None:
        await self._router.ask_satisfaction(case)

    async def tell(self, case: dict[str, Any], text: str) -> None:
        try:
            await self._router.tell(case, text)
        except CannotDeliver as exc:
            raise CannotReach(str(exc)) from exc

    def can_survey(self, case: dict[str, Any]) -> bool:
        return self._router.can_survey(case)


async def _sweep_forever(router: Router, queue: AgentQueue, cases: CaseStore) -> None:
    """Resume conversations a dead gateway left mid-way, put intakes left silent on the record as incomplete
    cases, return abandoned claims to the queue, and write to the record the case changes it could not take at
    the time."""
    while True:
        try:
            await router.sweep()
            await router.close_idle_intakes()
            await queue.reclaim_abandoned()
            await cases.flush_pending()
        except RedisError:
            log.warning("sweep skipped: Redis unavailable")
        await asyncio.sleep(SWEEP_SECONDS)


async def _watch_deadlines(alerts: SupervisorAlerts, cases: CaseStore, desk: Desk, every: float) -> None:
    """Alert supervisors when an unanswered case comes close to a deadline, and when it passes it; ask again, or
    alert, when an answered case's return visit is due."""
    while True:
        try:
            await alerts.check_deadlines(cases)
            await desk.sweep_return_visits()
        except RedisError:
            log.warning("deadline check skipped: Redis unavailable")
        await asyncio.sleep(every)


async def _watch_the_record(alerts: SupervisorAlerts, record: CaseRecord, org: Org, policy: SlaPolicy,
                            hotspots: Hotspots | None, every: float) -> None:
    """Alert head office when a unit's register of last month is not produced by the third trading day, and the
    supervisors when complaints about one product, unit or member of staff make a hot spot. (The first look
    comes ``every`` seconds after the start: nothing is due at the very moment a gateway starts.)"""
    while True:
        await asyncio.sleep(every)
        try:
            await check_registers(record.engine, org, policy, alerts)
            await check_hotspots(record.engine, hotspots, org, alerts)
        except (SQLAlchemyError, OSError, RedisError) as exc:
            log.warning("register and hot-spot check skipped: %s", type(exc).__name__)


async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def metrics(request: web.Request) -> web.Response:
    """Prometheus text: message and case counters, bot turn times, the queue's backlog by lane and desk."""
    collected = request.app[keys.METRICS]
    await collected.refresh(request.app[keys.REDIS])
    return web.Response(body=collected.exposition(), headers={"Content-Type": CONTENT_TYPE_LATEST})


async def readyz(request: web.Request) -> web.Response:
    """Ready when Redis answers; Rasa being down only degrades (customers get holding replies)."""
    checks = {"redis": "ok", "rasa": "ok"}
    try:
        await request.app[keys.REDIS].ping()
    except RedisError:
        checks["redis"] = "down"
    try:
        url = request.app[keys.SETTINGS].rasa_url
        async with request.app[keys.HTTP].get(url, timeout=aiohttp.ClientTimeout(total=2)) as response:
            checks["rasa"] = "ok" if response.status == 200 else f"status {response.status}"
    except (aiohttp.ClientError, TimeoutError):
        checks["rasa"] = "down"
    status = 200 if checks["redis"] == "ok" else 503
    return web.json_response(checks, status=status)

"""Limits that keep a hostile or broken client from holding the server or reaching a handler half-read, and
the security headers every answer carries.

Two parts, both needed:

- ``server_options()``, given to ``web.run_app`` (or ``web.AppRunner``): what aiohttp enforces on each
  connection before any request exists. ``keepalive_timeout`` closes a connection that has not sent a
  complete request head (request line and headers) within that many seconds of opening, or of its previous
  answer: a client that sends half its headers and stalls, or trickles them a byte at a time, is cut off
  then. (The aiohttp this project runs, 3.14, starts that timer when the connection opens; releases
  before aio-libs/aiohttp#13681 started it only after a first answer, so a client that never finished its
  first request kept its connection forever. tests/gateway/test_hostile_input.py checks it.)
  ``max_line_size``, ``max_field_size`` and ``max_headers`` bound the head itself (400 beyond them).
  The access log names the path without its query string, and only the start of a long path or User-Agent
  (see ``AccessLogger``).
- ``install(app)``: a middleware in front of every handler that reads the body itself, under a deadline,
  once the head has arrived (where the server's own timers no longer look):
  - a body larger than the app's ``client_max_size`` gets 413: at once when Content-Length says so, else
    as soon as what arrived passes the limit;
  - a body that has not fully arrived ``body_timeout`` seconds after its head gets 408 and the connection
    is closed;
  - a body in a charset Python does not know gets 415, a body that cannot be decoded (broken gzip) 400;
  - a static file name longer than the file system takes gets 414 (the static routes would answer 500).
  Handlers then find the body already read (``request.read()``, ``text()``, ``json()`` and a urlencoded
  ``post()`` answer from it). Multipart bodies are left to their handler, which streams them; no route
  takes one today.

``forwarded_for(proxies)``: behind a load balancer or reverse proxy listed in ``TRUSTED_PROXIES``, the
client's address is the last one in ``X-Forwarded-For`` that is not itself a trusted proxy (what a client
writes there itself comes first, so it cannot pick its own address); every other request keeps its peer. The
per-address limits (logins, chat sessions and sockets) then count clients, not the proxy.

Every refusal is JSON ``{"error": ...}``, like the API's, and comes before any handler ran: it changes
nothing (docs/architecture.md, guarantee 9).

``install(app)`` also sets, on every answer a route or the router made (``security_headers``): a
Content-Security-Policy (pages run only their own files; the API's answers run nothing; only the chat page may
be framed, by the sites in CHAT_EMBED_ORIGINS), ``X-Content-Type-Options: nosniff``, ``Referrer-Policy:
no-referrer``, and no ``Server`` version. (aiohttp's own answers to a request it could not parse, such as a
400 for a head over the limits, come before any route and keep its ``Server`` header.)
"""

from __future__ import annotations

import asyncio
import errno
import ipaddress
import logging
from collections.abc import Iterable
from typing import Any

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger
from aiohttp.typedefs import Handler, Middleware
from aiohttp.web_protocol import RequestPayloadError

from gateway import keys

IDLE_TIMEOUT = 15.0
BODY_TIMEOUT = 30.0
LINGERING_TIME = 5.0
MAX_LINE_SIZE = 8190
MAX_FIELD_SIZE = 8190
MAX_HEADERS = 128
LOGGED_PATH = 200  # characters of a request's path in the access log
LOGGED_USER_AGENT = 160

_INSTALLED = web.AppKey("hardening_installed", bool)


def server_options(idle_timeout: float = IDLE_TIMEOUT, lingering_time: float = LINGERING_TIME) -> dict[str, Any]:
    """Keyword arguments for ``web.run_app`` / ``web.AppRunner``: the per-connection limits.

    ``lingering_time`` is how long the server goes on reading (and discarding) a body it refused before it
    closes the connection, so the client gets to read the refusal.
    """
    return {
        "keepalive_timeout": idle_timeout,
        "lingering_time": lingering_time,
        "max_line_size": MAX_LINE_SIZE,
        "max_field_size": MAX_FIELD_SIZE,
        "max_headers": MAX_HEADERS,
        "access_log_class": AccessLogger,
    }


class AccessLogger(AbstractAccessLogger):
    """One line per request, like aiohttp's own, without the query string and the Referer.

    A query string holds what a client sent (``/channels/transcripts?caller=+86...``, a search for a name):
    the customer's data, which the privacy filter only masks when it looks like a number or an address.
    The line says that there was one; the path, status, size and time are what operations need.
    """

    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        query = "?..." if request.query_string else ""
        version = f"{request.version.major}.{request.version.minor}"
        self.logger.info('%s "%s %s%s HTTP/%s" %s %s %.3fs "%s"', request.remote or "-", request.method,
                         _shortened(request.path, LOGGED_PATH), query, version, response.status,
                         response.body_length, time,
                         _shortened(request.headers.get("User-Agent", "-"), LOGGED_USER_AGENT))

    @property
    def enabled(self) -> bool:
        return self.logger.isEnabledFor(logging.INFO)


def _shortened(text: str, limit: int) -> str:
    """The start of ``text``: a client's 8 KB path or User-Agent is not 8 KB of log for every request."""
    return text if len(text) <= limit else text[:limit] + "..."


def install(app: web.Application, body_timeout: float = BODY_TIMEOUT) -> None:
    """Put the body limits in front of every other middleware of ``app``, and the security headers on every
    answer (once; a second call does nothing)."""
    if app.get(_INSTALLED):
        return
    app[_INSTALLED] = True
    app.middlewares.insert(0, body_limits(body_timeout))
    app.on_response_prepare.append(security_headers)


Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def proxy_networks(proxies: Iterable[str]) -> tuple[Network, ...]:
    """TRUSTED_PROXIES as networks (an address is a network of one); ValueError names a bad entry."""
    return tuple(ipaddress.ip_network(proxy, strict=False) for proxy in proxies)


def _trusted(address: str, networks: tuple[Network, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address.strip())
    except ValueError:
        return False
    return any(ip in network for network in networks)


def client_address(peer: str | None, forwarded: str, networks: tuple[Network, ...]) -> str | None:
    """The client's address: the peer, or past trusted proxies, the nearest untrusted X-Forwarded-For hop."""
    if peer is None or not _trusted(peer, networks):
        return peer
    for hop in reversed([part.strip() for part in forwarded.split(",") if part.strip()]):
        if not _trusted(hop, networks):
            return hop
    return peer


def forwarded_for(proxies: Iterable[str]) -> Middleware:
    networks = proxy_networks(proxies)

    @web.middleware
    async def behind_proxies(request: web.Request, handler: Handler) -> web.StreamResponse:
        client = client_address(request.remote, request.headers.get("X-Forwarded-For", ""), networks)
        if client is not None and client != request.remote:
            request = request.clone(remote=client)
        return await handler(request)

    return behind_proxies


# The pages (chat, console, records) load their own scripts, styles and images, and talk to their own origin
# (the chat's WebSocket, the console's event stream); charts and the favicon are data: images. No page has
# inline script or style, so none is allowed: an injected <script> or onerror= runs nowhere.
PAGE_POLICY = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
               "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors {ancestors}")
# What the API answers: JSON, and documents it makes (reports, case exports) that carry their own inline style
# and data: charts. Nothing in them runs.
API_POLICY = ("default-src 'none'; style-src 'unsafe-inline'; img-src data:; object-src 'none'; base-uri 'none'; "
              "form-action 'none'; frame-ancestors 'none'")
# The chat page is what channels/webchat/static/widget.js frames on the firm's own sites (CHAT_EMBED_ORIGINS);
# everything else, the handlers' console and records above all, is framed by no one (no clickjacking).
CHAT_PAGES = frozenset({"/", "/static/index.html"})


async def security_headers(request: web.Request, response: web.StreamResponse) -> None:
    """Headers every answer carries, set as it is sent (``on_response_prepare``), whichever handler made it."""
    headers = response.headers
    headers["X-Content-Type-Options"] = "nosniff"
    headers["Referrer-Policy"] = "no-referrer"  # links out of a case must not tell other sites its address
    headers.pop("Server", None)  # aiohttp's names its and Python's versions
    if request.path.startswith("/api/"):
        headers["Content-Security-Policy"] = API_POLICY
    elif request.path in CHAT_PAGES:
        settings = request.app.get(keys.SETTINGS)
        origins = settings.chat_embed_origins if settings is not None else ()
        headers["Content-Security-Policy"] = PAGE_POLICY.format(ancestors=" ".join(("'self'", *origins)))
    else:
        headers["Content-Security-Policy"] = PAGE_POLICY.format(ancestors="'none'")
    if request.path not in CHAT_PAGES:
        headers["X-Frame-Options"] = "DENY"  # for browsers older than frame-ancestors


def body_limits(body_timeout: float = BODY_TIMEOUT) -> Middleware:
    """The middleware ``install`` adds: the body read in full, within ``body_timeout`` seconds, or a refusal."""

    @web.middleware
    async def limits(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.body_exists and not request.content_type.startswith("multipart/"):
            refusal = await _read_body(request, body_timeout)
            if refusal is not None:
                return refusal
        try:
            return await handler(request)
        except OSError as exc:
            # A static file's name longer than the file system takes (aiohttp's static route asks it as is).
            if exc.errno != errno.ENAMETOOLONG:
                raise
            return _refuse(414, "the path names a file longer than any this server has")

    return limits


async def _read_body(request: web.Request, body_timeout: float) -> web.Response | None:
    limit = request.client_max_size
    if limit and request.content_length is not None and request.content_length > limit:
        return _refuse(413, f"the body is {request.content_length} bytes; the limit is {limit}", close=True)
    if request.charset and not _known_charset(request.charset):
        return _refuse(415, f"unknown charset {request.charset[:40]!r}")
    try:
        async with asyncio.timeout(body_timeout):
            await request.read()
    except TimeoutError:
        return _refuse(408, f"the body did not arrive within {body_timeout:g} seconds", close=True)
    except web.HTTPRequestEntityTooLarge:
        return _refuse(413, f"the body is over the limit of {limit} bytes", close=True)
    except RequestPayloadError as exc:
        return _refuse(400, f"the body could not be read: {exc}", close=True)
    return None


def _known_charset(name: str) -> bool:
    """A text encoding Python can decode with (``codecs.lookup`` also knows bytes-to-bytes ones like base64)."""
    try:
        b"a".decode(name, errors="replace")
    except LookupError:
        return False
    return True


def _refuse(status: int, reason: str, *, close: bool = False) -> web.Response:
    response = web.json_response({"error": reason}, status=status)
    if close:
        # The rest of the body (if it ever comes) is not worth reading on this connection.
        response.force_close()
    return response

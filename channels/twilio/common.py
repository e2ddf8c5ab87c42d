"""What the Twilio SMS and voice adapters share: request signing and reading a signed webhook.

Every Twilio webhook is checked against ``X-Twilio-Signature`` with twilio's own ``RequestValidator``,
over the URL the outside world used (``PUBLIC_BASE_URL`` plus the path and query string as received), so
it stays right behind a reverse proxy. A request that fails the check is refused before anything is read
into the system.

A signed request can come more than once: Twilio repeats a webhook whose response it did not get, and a
recorded one can be replayed, even several times at once. ``channels.held_answers.answer_once`` works out each
request's answer once, on whichever gateway gets it first; every repeat is answered with the same document.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aiohttp import web
from multidict import MultiDict
from twilio.request_validator import RequestValidator

from channels.settings import WEB, PublicAddress, setting

TWIML = "application/xml"


@dataclass(frozen=True, slots=True)
class TwilioConfig:
    account_sid: str
    auth_token: str
    from_number: str = ""
    api_base_url: str = ""
    public_base_url: str = ""


NEEDS = ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN")  # what turns the SMS and voice channels on


@dataclass(frozen=True)
class TwilioSettings(PublicAddress):
    """The Twilio account, shared by the SMS and voice channels (the public address is what Twilio signs)."""

    twilio_account_sid: str = setting("TWILIO_ACCOUNT_SID", "")
    twilio_auth_token: str = setting("TWILIO_AUTH_TOKEN", "", secret=True)
    twilio_from_number: str = setting("TWILIO_FROM_NUMBER", "")
    twilio_api_base_url: str = setting("TWILIO_API_BASE_URL", "", schemes=WEB)


def twilio_config(settings: TwilioSettings) -> TwilioConfig | None:
    """The account's configuration, or None while the account is not set."""
    if not (settings.twilio_account_sid and settings.twilio_auth_token):
        return None
    return TwilioConfig(settings.twilio_account_sid, settings.twilio_auth_token, settings.twilio_from_number,
                        settings.twilio_api_base_url, settings.public_base_url)


def public_url(request: web.Request, public_base_url: str) -> str:
    """The URL Twilio signed: the public base address with the path and query string as received."""
    if public_base_url:
        return public_base_url.rstrip("/") + request.raw_path
    return str(request.url)


def is_signed(auth_token: str, url: str, params: Any, signature: str | None) -> bool:
    """True when ``signature`` is Twilio's signature of ``url`` and ``params`` (form fields or a raw body).

    A single quote in the query may have been signed escaped or not, whatever the request shows (proxies
    differ); like Twilio's Node helper, both spellings are tried.
    """
    if not signature:
        return False
    validator = RequestValidator(auth_token)
    spellings = dict.fromkeys([url, url.replace("%27", "'"), url.replace("'", "%27")])
    return any(validator.validate(candidate, params, signature) for candidate in spellings)


async def signed_form(request: web.Request, config: TwilioConfig) -> MultiDict[str]:
    """The webhook's form fields, once the signature is verified; 415 or 403 otherwise."""
    if request.content_type != "application/x-www-form-urlencoded":
        raise web.HTTPUnsupportedMediaType(text="Twilio webhooks are application/x-www-form-urlencoded")
    try:
        form = await request.post()
    except (UnicodeDecodeError, LookupError):
        raise web.HTTPBadRequest(text="the form is not text in its declared charset") from None
    fields = MultiDict((k, v) for k, v in form.items() if isinstance(v, str))
    url = public_url(request, config.public_base_url)
    if not is_signed(config.auth_token, url, fields, request.headers.get("X-Twilio-Signature")):
        raise web.HTTPForbidden(text="missing or wrong X-Twilio-Signature")
    return fields


def twiml_response(twiml: object) -> web.Response:
    return web.Response(text=str(twiml), content_type=TWIML, charset="utf-8")

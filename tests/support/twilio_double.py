"""A stand-in for Twilio's cloud, speaking its real protocol, for tests that cannot reach the real one.

- ``signed_post``: a webhook request signed the way Twilio signs it (twilio's own RequestValidator).
- ``FakeMessagesApi``: a local HTTP server answering the REST client's own Messages API calls, checking
  the account in the path and the HTTP Basic credentials, and keeping every accepted call.
"""

from __future__ import annotations

import base64
import itertools
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web
from twilio.request_validator import RequestValidator

ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
AUTH_TOKEN = "test-auth-token-0123456789abcdef"
FROM_NUMBER = "+15005550006"


def signature(url: str, params: Mapping[str, str], token: str = AUTH_TOKEN) -> str:
    return str(RequestValidator(token).compute_signature(url, dict(params)))


async def signed_post(http: aiohttp.ClientSession, base: str, path: str, params: Mapping[str, str],
                      *, public_base: str | None = None, token: str = AUTH_TOKEN) -> aiohttp.ClientResponse:
    """POST a form to ``base + path`` signed for the URL Twilio would have used (``public_base + path``)."""
    headers = {"X-Twilio-Signature": signature((public_base or base) + path, params, token)}
    return await http.post(base + path, data=dict(params), headers=headers)


@dataclass
class FakeMessagesApi:
    calls: list[dict[str, str]] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    _ids: Any = field(default_factory=lambda: itertools.count(1))

    async def create_message(self, request: web.Request) -> web.Response:
        expected = "Basic " + base64.b64encode(f"{ACCOUNT_SID}:{AUTH_TOKEN}".encode()).decode()
        if request.headers.get("Authorization") != expected:
            self.refused.append("bad credentials")
            return web.json_response({"code": 20003, "message": "Authenticate"}, status=401)
        if request.match_info["account"] != ACCOUNT_SID:
            self.refused.append("wrong account")
            return web.json_response({"code": 20404, "message": "Not found"}, status=404)
        form = {k: str(v) for k, v in (await request.post()).items()}
        if not form.get("To") or not form.get("From") or not form.get("Body"):
            self.refused.append(f"incomplete: {sorted(form)}")
            return web.json_response({"code": 21604, "message": "To, From and Body are required"}, status=400)
        self.calls.append(form)
        sid = f"SM{next(self._ids):032x}"
        return web.json_response({"sid": sid, "account_sid": ACCOUNT_SID, "to": form["To"], "from": form["From"],
                                  "body": form["Body"], "status": "queued", "num_segments": "1"}, status=201)


@asynccontextmanager
async def fake_twilio(port: int = 0) -> AsyncIterator[tuple[str, FakeMessagesApi]]:
    api = FakeMessagesApi()
    app = web.Application()
    app.router.add_post("/2010-04-01/Accounts/{account}/Messages.json", api.create_message)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    bound = runner.addresses[0][1]
    try:
        yield f"http://127.0.0.1:{bound}", api
    finally:
        await runner.cleanup()


# Verbs and attributes as Twilio's TwiML reference documents them (voice and messaging).
TWIML_ATTRIBUTES: dict[str, set[str]] = {
    "Response": set(),
    "Say": {"voice", "language", "loop"},
    "Gather": {"action", "actionOnEmptyResult", "enhanced", "finishOnKey", "hints", "input", "language", "method",
               "numDigits", "partialResultCallback", "partialResultCallbackMethod", "profanityFilter",
               "speechModel", "speechTimeout", "timeout", "debug", "dtmfDetection"},
    "Dial": {"action", "answerOnBridge", "callerId", "hangupOnStar", "method", "record", "recordingStatusCallback",
             "recordingStatusCallbackMethod", "recordingStatusCallbackEvent", "recordingTrack", "ringTone",
             "timeLimit", "timeout", "trim", "referUrl", "referMethod", "sequential", "events"},
    "Number": {"sendDigits", "url", "method", "statusCallback", "statusCallbackEvent", "statusCallbackMethod",
               "byoc"},
    "Hangup": set(),
    "Pause": {"length"},
    "Redirect": {"method"},
    "Message": {"to", "from", "action", "method", "statusCallback"},
}
TWIML_CHILDREN = {"Response": {"Say", "Gather", "Dial", "Hangup", "Pause", "Redirect", "Message"},
                  "Gather": {"Say", "Pause", "Play"}, "Dial": {"Number"}}


def checked_twiml(text: str) -> ET.Element:
    """Parse a TwiML document; fail on a verb, attribute or nesting that Twilio does not document."""
    root = ET.fromstring(text)
    assert root.tag == "Response", root.tag
    for parent in root.iter():
        assert parent.tag in TWIML_ATTRIBUTES, f"undocumented verb <{parent.tag}>"
        unknown = set(parent.attrib) - TWIML_ATTRIBUTES[parent.tag]
        assert not unknown, f"<{parent.tag}> has undocumented attributes {unknown}"
        for child in parent:
            assert child.tag in TWIML_CHILDREN.get(parent.tag, set()), f"<{child.tag}> inside <{parent.tag}>"
    return root

"""WeChat's server API for what the gateway says outside a webhook's reply: the customer-service message.

``POST {base}/cgi-bin/message/custom/send?access_token=...`` with ``{"touser", "msgtype": "text", "text":
{"content"}}``; the access token from ``GET {base}/cgi-bin/token`` (grant_type=client_credential).

Guarantees:
- one access token for every gateway replica, kept in Redis until shortly before its ``expires_in``: WeChat
  invalidates a token a few minutes after a newer one is issued, so replicas fetching their own would keep
  invalidating each other (and spend the account's daily allowance of token requests);
- a token WeChat calls invalid or expired (errcode 40001, 40014, 42001) is dropped and fetched anew, and the
  message sent once more with it;
- a customer WeChat will not let the firm reach now (no message from them in 48 hours, the allowance of
  replies used up, the account unfollowed) raises ``CannotDeliver`` saying so; any other refusal raises
  ``WeChatApiError`` with WeChat's errcode, so the caller records it;
- the AppSecret and tokens never appear in an exception or a log (they travel in query strings).
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp
from redis.asyncio import Redis

from channels.base import CannotDeliver
from channels.wechat.keys import access_token_key

DEFAULT_BASE_URL = "https://api.weixin.qq.com"
TOKEN_MARGIN = 300  # seconds before its expiry that a token is no longer used
STALE_TOKEN = frozenset({40001, 40014, 42001})
UNREACHABLE = {
    45015: "WeChat lets the firm write to a customer only within 48 hours of the customer's last message, and "
           "this customer has not written since: call or write to them another way, and note it on the case",
    45047: "WeChat's allowance of replies to this customer's last message is used up: wait for the customer to "
           "write again, or reach them another way, and note it on the case",
    43004: "the customer no longer follows the WeChat account, so WeChat will not deliver to them: reach them "
           "another way, and note it on the case",
}
TIMEOUT = aiohttp.ClientTimeout(total=10)


class WeChatApiError(Exception):
    """WeChat refused a call, or could not be reached."""

    def __init__(self, what: str, errcode: int | None = None) -> None:
        super().__init__(what if errcode is None else f"{what} (errcode {errcode})")
        self.errcode = errcode


class CustomerServiceApi:
    def __init__(self, http: aiohttp.ClientSession, redis: Redis, base_url: str, app_id: str, secret: str) -> None:
        self._http = http
        self._redis = redis
        self._base = (base_url or DEFAULT_BASE_URL).rstrip("/")
        self._app_id = app_id
        self._secret = secret
        self._token_key = access_token_key(app_id)
        self._fetching = asyncio.Lock()

    async def send_text(self, openid: str, content: str) -> None:
        body = {"touser": openid, "msgtype": "text", "text": {"content": content}}
        token = await self._token()
        answer = await self._send(token, body)
        if _errcode(answer) in STALE_TOKEN:
            await self._forget(token)
            answer = await self._send(await self._token(), body)
        errcode = _errcode(answer)
        if errcode in UNREACHABLE:
            raise CannotDeliver(UNREACHABLE[errcode])
        if errcode:
            raise WeChatApiError("WeChat refused the customer-service message", errcode)

    async def _send(self, token: str, body: dict[str, Any]) -> dict[str, Any]:
        data = json.dumps(body, ensure_ascii=False).encode()
        return await self._call("POST", "/cgi-bin/message/custom/send", {"access_token": token}, data)

    async def _token(self) -> str:
        if (kept := await self._redis.get(self._token_key)) is not None:
            return bytes(kept).decode()
        async with self._fetching:  # one request for a token at a time from this process
            if (kept := await self._redis.get(self._token_key)) is not None:
                return bytes(kept).decode()
            params = {"grant_type": "client_credential", "appid": self._app_id, "secret": self._secret}
            answer = await self._call("GET", "/cgi-bin/token", params)
            token, lifetime = answer.get("access_token"), answer.get("expires_in")
            if not isinstance(token, str) or not token or not isinstance(lifetime, int):
                raise WeChatApiError("WeChat gave no access token", _errcode(answer))
            await self._redis.set(self._token_key, token, ex=max(lifetime - TOKEN_MARGIN, lifetime // 2, 1))
            return token

    async def _forget(self, token: str) -> None:
        """Drop the kept token if it is still the one WeChat refused (another replica may have renewed it)."""
        kept = await self._redis.get(self._token_key)
        if kept is not None and bytes(kept).decode() == token:
            await self._redis.delete(self._token_key)

    async def _call(self, method: str, path: str, params: dict[str, str], data: bytes | None = None
                    ) -> dict[str, Any]:
        headers = {"Content-Type": "application/json; charset=utf-8"} if data is not None else None
        try:
            async with self._http.request(method, self._base + path, params=params, data=data, headers=headers,
                                          timeout=TIMEOUT) as response:
                if response.status != 200:
                    raise WeChatApiError(f"WeChat answered {path} with HTTP {response.status}")
                answer = await response.json(content_type=None)
        except (aiohttp.ClientError, TimeoutError, json.JSONDecodeError, UnicodeDecodeError) as exc:
            # The exception's own text may quote the URL, and with it the secret or the token: not passed on.
            raise WeChatApiError(f"WeChat could not be reached for {path}: {type(exc).__name__}") from None
        if not isinstance(answer, dict):
            raise WeChatApiError(f"WeChat answered {path} with something other than a JSON object")
        return answer


def _errcode(answer: dict[str, Any]) -> int:
    errcode = answer.get("errcode") or 0
    return errcode if isinstance(errcode, int) else -1

"""WeChat's own Redis keys, in its namespace (``store.keys.channel_key``)."""

from __future__ import annotations

from store.keys import channel_key

NAMESPACE = "wechat"


def answer_key(openid: str, message_id: str) -> str:
    """String (expiring): the answer to one WeChat message, worked out once for WeChat's retries."""
    return channel_key(NAMESPACE, "answer", openid, message_id)


def language_key(openid: str) -> str:
    """String (expiring): a WeChat user's last known language."""
    return channel_key(NAMESPACE, "language", openid)


def access_token_key(app_id: str) -> str:
    """String (expiring): the official account's access token, shared by every replica."""
    return channel_key(NAMESPACE, "access-token", app_id)

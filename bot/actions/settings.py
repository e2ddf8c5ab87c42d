"""The action server's settings, read once from its environment; a value it cannot use stops it at start.

- ``BOT_TIME_ZONE`` (default ``Asia/Shanghai``): the customers' time zone. "Yesterday" and "3pm" are read in it,
  against the time of the message; a message's ``metadata.timezone`` overrides it.
- ``SERVICE_HOTLINE`` (unset): the customer service number the bot gives for questions that are not complaints;
  unset, the bot names the hotline without a number.
- ``RISK_RULES_FILE`` (``../handoff/risk_rules.toml``): the compliance team's risk rules, as for the gateway; the
  bot's threat and anger flags come from them (risk_words.py).
- ``GATEWAY_URL``, ``GATEWAY_BOT_TOKEN`` (unset): where the status look-ups go (README).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DEFAULT_TIME_ZONE = "Asia/Shanghai"


class SettingsError(RuntimeError):
    pass


def time_zone(name: str | None) -> ZoneInfo | None:
    """The zone of that IANA name, or None for an empty or unknown name."""
    if not name or not name.strip():
        return None
    try:
        return ZoneInfo(name.strip())
    except (ZoneInfoNotFoundError, ValueError):
        return None


@dataclass(frozen=True)
class Settings:
    time_zone: ZoneInfo
    hotline: str

    @classmethod
    def from_environment(cls) -> Settings:
        name = os.environ.get("BOT_TIME_ZONE", "").strip() or DEFAULT_TIME_ZONE
        zone = time_zone(name)
        if zone is None:
            raise SettingsError(f"BOT_TIME_ZONE: {name!r} is not a time zone name such as Asia/Shanghai")
        hotline = " ".join(os.environ.get("SERVICE_HOTLINE", "").split())
        if len(hotline) > 40:
            raise SettingsError("SERVICE_HOTLINE: a phone number of at most 40 characters")
        return cls(zone, hotline)


SETTINGS = Settings.from_environment()

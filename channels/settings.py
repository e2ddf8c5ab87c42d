"""How a setting is declared: its environment variable, its default and what its value must be.

Each adapter declares the settings it reads as a frozen dataclass of fields made here (``setting`` and the
shorthands), next to its code; ``channels.ChannelSettings`` combines them and the gateway's ``Settings`` inherits
that, so a channel's settings live in its folder. The gateway reads the environment into these fields and checks
every value against its rules (gateway/settings.py); a channel's settings class may add ``check(self)`` for what
the rules cannot say (a value's own format, a field that needs another), raising ``SettingsError``.

Channel settings classes are frozen dataclasses without ``slots``: ``ChannelSettings`` has several of them as bases,
and slotted bases cannot be combined.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

WEB = ("http", "https")


class SettingsError(ValueError):
    """An environment variable holds a value the gateway cannot use."""


def setting_rules(name: str, *, choices: tuple[str, ...] = (), schemes: tuple[str, ...] = (), secret: bool = False,
                  file: bool = False, above: float | None = None, at_least: float | None = None,
                  at_most: float | None = None) -> dict[str, Any]:
    """What the value of environment variable ``name`` must be (a field's metadata)."""
    bounds = {"above": above, "at_least": at_least, "at_most": at_most}
    return {"env": name, "choices": choices, "schemes": schemes, "secret": secret, "file": file,
            **{key: bound for key, bound in bounds.items() if bound is not None}}


def setting(name: str, default: Any, **rules: Any) -> Any:
    """A setting read from the environment variable ``name``, with what its value must be (``setting_rules``)."""
    return field(default=default, metadata=setting_rules(name, **rules))


def port_setting(name: str, default: int) -> Any:
    return setting(name, default, at_least=1, at_most=65535)


def positive(name: str, default: float) -> Any:
    return setting(name, default, above=0)


def not_negative(name: str, default: float) -> Any:
    return setting(name, default, at_least=0)


@dataclass(frozen=True)
class PublicAddress:
    """The gateway's address as the outside world uses it: the gateway prints links with it, and a provider that
    signs the URL it called (Twilio) signed this one, not the address the gateway listens on."""

    public_base_url: str = setting("PUBLIC_BASE_URL", "", schemes=WEB)

"""Typed settings, read once from the environment.

The gateway's own knobs are declared here, each with its environment variable and default; each channel's are
declared in its folder (``channels.settings`` says how) and inherited through ``channels.ChannelSettings``. This
module reads them all from the environment and checks them; nothing else reads ``os.environ``. The README's
configuration table mirrors the declarations.

Guarantees:
- a value the gateway cannot use (a word outside a setting's fixed set, a URL of the wrong kind, a port
  outside 1-65535, a negative time, a file that is not there) raises ``SettingsError`` naming the variable,
  at start, whether it came from the environment or from code (``from_env`` overrides, ``dataclasses.replace``):
  never a silent fallback, least of all to plaintext;
- secrets (passwords, tokens, the password in a database or Redis URL, the alert webhook's secret path)
  never show in the settings' ``repr`` nor in a ``SettingsError``.
"""

from __future__ import annotations

import ipaddress
import math
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import Field, dataclass, field, fields
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from channels import ChannelSettings
from channels.settings import WEB, SettingsError, not_negative, port_setting, positive, setting, setting_rules
from handoff.sla import PRESETS

__all__ = ["Settings", "SettingsError"]  # SettingsError is declared with the fields, in channels.settings


def _project_root() -> Path:
    return Path(__file__).resolve().parent.parent


REDIS = ("redis", "rediss")


# Not slotted: the channels' settings classes it inherits are not (several slotted bases cannot be combined).
@dataclass(frozen=True, repr=False)
class Settings(ChannelSettings):
    host: str = setting("HOST", "127.0.0.1")
    port: int = port_setting("PORT", 8080)
    redis_url: str = setting("REDIS_URL", "", schemes=REDIS)
    redis_mode: str = setting("REDIS_MODE", "standalone", choices=("standalone", "cluster", "sentinel"))
    redis_sentinel_master: str = setting("REDIS_SENTINEL_MASTER", "")
    rasa_url: str = setting("RASA_URL", "http://127.0.0.1:5005", schemes=WEB)
    rasa_timeout: float = positive("RASA_TIMEOUT", 10.0)
    actions_port: int = port_setting("ACTIONS_PORT", 5055)
    bot_token: str = setting("GATEWAY_BOT_TOKEN", "", secret=True)
    data_dir: Path = field(default_factory=lambda: _project_root() / "var", metadata=setting_rules("DATA_DIR"))
    chat_embed_origins: tuple[str, ...] = setting("CHAT_EMBED_ORIGINS", ())
    trusted_proxies: tuple[str, ...] = setting("TRUSTED_PROXIES", ())
    claim_timeout: float = positive("CLAIM_TIMEOUT", 900.0)
    token_ttl: int = positive("AGENT_TOKEN_TTL", 12 * 3600)
    login_lockout: int = positive("LOGIN_LOCKOUT", 5)
    log_level: str = setting("LOG_LEVEL", "INFO", choices=("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"))
    sla_policy: str = setting("SLA_POLICY", "cn-securities", choices=tuple(PRESETS))
    due_soon_hours: float = not_negative("DUE_SOON_HOURS", 4.0)
    alert_webhook_url: str = setting("ALERT_WEBHOOK_URL", "", schemes=WEB, secret=True)
    deadline_check_seconds: float = positive("DEADLINE_CHECK_SECONDS", 60.0)
    risk_rules_file: str = setting("RISK_RULES_FILE", "", file=True)
    request_body_timeout: float = positive("REQUEST_BODY_TIMEOUT", 30.0)
    database_url: str = setting("DATABASE_URL", "")
    retention_years: int = setting("RETENTION_YEARS", 5, at_least=1)
    intake_idle_minutes: float = positive("INTAKE_IDLE_MINUTES", 30.0)
    # Settings the design names for the handling steps to come: read and checked now, used by those steps.
    return_visit_days: int = positive("RETURN_VISIT_DAYS", 3)
    return_visit_attempts: int = positive("RETURN_VISIT_ATTEMPTS", 3)
    mediation_text_zh: str = setting("MEDIATION_TEXT_ZH",
                                     "如您对处理结果仍不满意，可以向中国证券业协会证券纠纷调解中心申请调解，"
                                     "或依照合同约定申请仲裁，也可以依法向人民法院提起诉讼。")
    mediation_text_en: str = setting("MEDIATION_TEXT_EN", "If you are still not satisfied, you may ask the "
                                                          "Securities Association of China's dispute mediation "
                                                          "centre to mediate, go to arbitration as your agreement "
                                                          "provides, or go to court.")
    approval_policy: str = setting("APPROVAL_POLICY", "medium-and-up",
                                   choices=("none", "high-risk", "medium-and-up", "all"))
    org_file: str = setting("ORG_FILE", "", file=True)
    satisfaction_target: float = setting("SATISFACTION_TARGET", 0.85, above=0, at_most=1)

    def __post_init__(self) -> None:
        for f in fields(self):
            _check(f, getattr(self, f.name))
        _check_database_url(self.database_url)
        _check_redis_mode(self)
        _check_proxies(self.trusted_proxies)
        for base in type(self).__mro__:  # each channel's own check of its settings (channels.settings)
            check = vars(base).get("check")
            if check is not None:
                check(self)

    def __repr__(self) -> str:
        shown = ", ".join(f"{f.name}={_shown(f, getattr(self, f.name))!r}" for f in fields(self))
        return f"Settings({shown})"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Build settings from ``environ`` (default: the process environment); ``overrides`` win."""
        environ = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for f in fields(cls):
            raw = environ.get(f.metadata["env"])
            if raw is None or raw == "":
                continue
            values[f.name] = _convert(f, raw)
        values.update(overrides)
        return cls(**values)

    @property
    def record_url(self) -> str:
        """The system of record: DATABASE_URL, or an SQLite file under DATA_DIR (async drivers either way)."""
        return self.database_url or f"sqlite+aiosqlite:///{self.data_dir / 'record.db'}"

    @property
    def base_url(self) -> str:
        """Where people open the gateway: the public address if one is set, else the listening one."""
        return (self.public_base_url or f"http://{self.host}:{self.port}").rstrip("/")


_BOOLEANS = {"1": True, "true": True, "yes": True, "on": True, "0": False, "false": False, "no": False, "off": False}
_KINDS = {"int": "a whole number", "float": "a number", "bool": "true or false"}
Refuse = Callable[[str], SettingsError]


def _convert(f: Field[Any], raw: str) -> Any:
    kind = str(f.type)  # annotations are strings here (``from __future__ import annotations``)
    try:
        if kind == "int":
            return int(raw)
        if kind == "float":
            return float(raw)
        if kind == "bool":
            return _BOOLEANS[raw.strip().lower()]
    except (ValueError, KeyError):
        raise SettingsError(f"{f.metadata['env']}={_shown(f, raw)!r} is not {_KINDS[kind]}") from None
    if kind == "Path":
        return Path(raw)
    if kind == "tuple[str, ...]":
        return tuple(part.rstrip("/") for part in re.split(r"[,\s]+", raw) if part)
    for choice in f.metadata["choices"]:  # words are taken in any case: LOG_LEVEL=debug, REDIS_MODE=Sentinel
        if raw.strip().lower() == choice.lower():
            return choice
    return raw.strip() if f.metadata["schemes"] else raw


def _check(f: Field[Any], value: Any) -> None:
    rules, name = f.metadata, f.metadata["env"]

    def refuse(why: str) -> SettingsError:
        return SettingsError(f"{name}={_shown(f, value)!r} {why}")

    if rules["choices"] and value not in rules["choices"]:
        raise refuse(f"is not one of {', '.join(rules['choices'])}")
    if isinstance(value, int | float) and not isinstance(value, bool):
        _check_number(value, rules, refuse)
    if rules["schemes"] and value:
        _check_url(value, rules["schemes"], refuse)
    if rules["file"] and value and not Path(value).is_file():
        raise refuse("names no file")
    if name == "CHAT_EMBED_ORIGINS":
        for origin in value:
            _check_origin(origin, refuse)


def _check_number(value: float, rules: Mapping[str, Any], refuse: Refuse) -> None:
    if not math.isfinite(value):
        raise refuse("is not a finite number")
    if "above" in rules and not value > rules["above"]:
        raise refuse(f"must be more than {rules['above']}")
    if "at_least" in rules and not value >= rules["at_least"]:
        raise refuse(f"must be at least {rules['at_least']}")
    if "at_most" in rules and not value <= rules["at_most"]:
        raise refuse(f"must be at most {rules['at_most']}")


def _check_url(url: str, schemes: tuple[str, ...], refuse: Refuse) -> None:
    parts = urlsplit(url)
    if parts.scheme not in schemes:
        raise refuse(f"must be a {' or '.join(s + '://' for s in schemes)} URL")
    hosts = parts.netloc.rpartition("@")[2]
    if not hosts:
        raise refuse("names no host")
    if parts.scheme in REDIS:  # Sentinels are listed in one URL: redis://sentinel-a:26379,sentinel-b:26379
        try:
            redis_hosts(url)
        except ValueError as exc:
            raise refuse(str(exc)) from None
        return
    try:
        parts.port  # noqa: B018 (raises ValueError for a port that is not one)
    except ValueError:
        raise refuse("has a port outside 1-65535") from None


def _check_origin(origin: str, refuse: Refuse) -> None:
    parts = urlsplit(origin)
    if parts.scheme not in WEB or not parts.hostname or parts.path not in ("", "/") or parts.query or "@" in origin:
        raise refuse(f"holds {origin[:80]!r}, which is not an origin such as https://www.example.com")


def _check_database_url(url: str) -> None:
    if not url:
        return
    try:
        backend = make_url(url).get_backend_name()
    except ArgumentError:
        raise SettingsError(f"DATABASE_URL={_without_password(url)!r} is not a database URL") from None
    if backend not in ("sqlite", "postgresql", "postgres"):
        raise SettingsError(f"DATABASE_URL={_without_password(url)!r}: the record runs on SQLite or PostgreSQL, "
                            f"not {backend}")


def _check_proxies(proxies: tuple[str, ...]) -> None:
    for proxy in proxies:
        try:
            ipaddress.ip_network(proxy, strict=False)
        except ValueError:
            shown = ",".join(proxies)
            raise SettingsError(f"TRUSTED_PROXIES={shown!r}: {proxy!r} is not an address or network") from None


def _check_redis_mode(settings: Settings) -> None:
    mode, url = settings.redis_mode, settings.redis_url
    if mode != "standalone" and not url:
        raise SettingsError(f"REDIS_MODE={mode} needs REDIS_URL (the embedded Redis is one server)")
    if mode == "sentinel" and not settings.redis_sentinel_master:
        raise SettingsError("REDIS_MODE=sentinel needs REDIS_SENTINEL_MASTER, the name of the monitored primary")
    servers = len(redis_hosts(url)) if url else 0
    if servers > 1 and mode != "sentinel":
        raise SettingsError(f"REDIS_URL lists {servers} servers but REDIS_MODE={mode}: only Sentinels come as a "
                            "list (REDIS_MODE=sentinel); a Cluster needs one of its nodes, the rest are found")
    if mode == "cluster" and urlsplit(url).path.strip("/") not in ("", "0"):
        raise SettingsError(f"REDIS_URL names database {urlsplit(url).path.strip('/')!r} but REDIS_MODE=cluster: "
                            "a Redis Cluster has database 0 only")


def redis_hosts(url: str, default_port: int = 6379) -> list[tuple[str, int]]:
    """The servers a Redis URL names, as (host, port): one, or the Sentinels it lists, comma-separated.

    Raises ValueError for an entry that is not ``host`` or ``host:port``.
    """
    found = []
    for entry in urlsplit(url).netloc.rpartition("@")[2].split(","):
        parts = urlsplit(f"//{entry.strip()}")
        try:
            port = parts.port
        except ValueError:
            port = 0
        if not parts.hostname or port == 0:
            raise ValueError(f"lists {entry.strip()!r}, which is not a host or host:port (port 1-65535)")
        found.append((parts.hostname, port or default_port))
    return found


def _shown(f: Field[Any], value: Any) -> Any:
    """``value`` as it may be printed: secrets hidden, a URL's password too."""
    if not value or not isinstance(value, str):
        return value
    if f.metadata["secret"]:
        if f.metadata["schemes"]:  # a webhook's path is its secret; where it goes may show
            parts = urlsplit(value)
            return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}/***"
        return "***"
    if "://" in value:
        return _without_password(value)
    return value


def _without_password(url: str) -> str:
    scheme, sep, rest = url.partition("://")
    userinfo, at, hosts = rest.rpartition("@")
    if not at or "/" in userinfo:
        return url
    user, colon, _password = userinfo.partition(":")
    return f"{scheme}{sep}{user}{':***' if colon else ''}@{hosts}"

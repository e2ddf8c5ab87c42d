"""Typed settings, read once from the environment.

Every knob the gateway has lives here, with its environment variable and default; nothing else reads
``os.environ``. The README's configuration table mirrors this file.

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

from handoff.sla import PRESETS


class SettingsError(ValueError):
    """An environment variable holds a value the gateway cannot use."""


def _project_root() -> Path:
    return Path(__file__).resolve().parent.parent


WEB = ("http", "https")
REDIS = ("redis", "rediss")


def _rules(name: str, *, choices: tuple[str, ...] = (), schemes: tuple[str, ...] = (), secret: bool = False,
           file: bool = False, above: float | None = None, at_least: float | None = None,
           at_most: float | None = None) -> dict[str, Any]:
    """What the value of environment variable ``name`` must be (a field's metadata)."""
    bounds = {"above": above, "at_least": at_least, "at_most": at_most}
    return {"env": name, "choices": choices, "schemes": schemes, "secret": secret, "file": file,
            **{key: bound for key, bound in bounds.items() if bound is not None}}


def _env(name: str, default: Any, **rules: Any) -> Any:
    """A setting read from the environment variable ``name``, with what its value must be (``_rules``)."""
    return field(default=default, metadata=_rules(name, **rules))


def _port(name: str, default: int) -> Any:
    return _env(name, default, at_least=1, at_most=65535)


def _positive(name: str, default: float) -> Any:
    return _env(name, default, above=0)


def _not_negative(name: str, default: float) -> Any:
    return _env(name, default, at_least=0)


@dataclass(frozen=True, slots=True, repr=False)
class Settings:
    host: str = _env("HOST", "127.0.0.1")
    port: int = _port("PORT", 8080)
    public_base_url: str = _env("PUBLIC_BASE_URL", "", schemes=WEB)
    redis_url: str = _env("REDIS_URL", "", schemes=REDIS)
    redis_mode: str = _env("REDIS_MODE", "standalone", choices=("standalone", "cluster", "sentinel"))
    redis_sentinel_master: str = _env("REDIS_SENTINEL_MASTER", "")
    rasa_url: str = _env("RASA_URL", "http://127.0.0.1:5005", schemes=WEB)
    rasa_timeout: float = _positive("RASA_TIMEOUT", 10.0)
    actions_port: int = _port("ACTIONS_PORT", 5055)
    bot_token: str = _env("GATEWAY_BOT_TOKEN", "", secret=True)
    data_dir: Path = field(default_factory=lambda: _project_root() / "var", metadata=_rules("DATA_DIR"))
    chat_max_text: int = _positive("CHAT_MAX_TEXT", 2000)
    chat_rate_limit: int = _positive("CHAT_RATE_LIMIT", 10)
    chat_rate_window: float = _positive("CHAT_RATE_WINDOW", 10.0)
    chat_embed_origins: tuple[str, ...] = _env("CHAT_EMBED_ORIGINS", ())
    chat_sessions_per_address: int = _positive("CHAT_SESSIONS_PER_ADDRESS", 20)
    chat_session_window: float = _positive("CHAT_SESSION_WINDOW", 600.0)
    chat_sockets_per_address: int = _positive("CHAT_SOCKETS_PER_ADDRESS", 10)
    chat_idle_session_ttl: int = _positive("CHAT_IDLE_SESSION_TTL", 3600)
    trusted_proxies: tuple[str, ...] = _env("TRUSTED_PROXIES", ())
    claim_timeout: float = _positive("CLAIM_TIMEOUT", 900.0)
    token_ttl: int = _positive("AGENT_TOKEN_TTL", 12 * 3600)
    login_lockout: int = _positive("LOGIN_LOCKOUT", 5)
    log_level: str = _env("LOG_LEVEL", "INFO", choices=("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"))
    twilio_account_sid: str = _env("TWILIO_ACCOUNT_SID", "")
    twilio_auth_token: str = _env("TWILIO_AUTH_TOKEN", "", secret=True)
    twilio_from_number: str = _env("TWILIO_FROM_NUMBER", "")
    twilio_api_base_url: str = _env("TWILIO_API_BASE_URL", "", schemes=WEB)
    sms_reply_wait: float = _not_negative("SMS_REPLY_WAIT", 10.0)
    voice_language: str = _env("VOICE_LANGUAGE", "auto", choices=("auto", "zh", "en"))
    voice_handoff_number: str = _env("VOICE_HANDOFF_NUMBER", "")
    voice_min_confidence: float = _env("VOICE_MIN_CONFIDENCE", 0.4, at_least=0, at_most=1)
    transcripts_token: str = _env("TRANSCRIPTS_TOKEN", "", secret=True)
    wechat_token: str = _env("WECHAT_TOKEN", "", secret=True)
    wechat_app_id: str = _env("WECHAT_APP_ID", "")
    wechat_app_secret: str = _env("WECHAT_APP_SECRET", "", secret=True)
    wechat_aes_key: str = _env("WECHAT_AES_KEY", "", secret=True)
    wechat_api_base_url: str = _env("WECHAT_API_BASE_URL", "https://api.weixin.qq.com", schemes=WEB)
    imap_host: str = _env("IMAP_HOST", "")
    imap_port: int = _port("IMAP_PORT", 993)
    imap_user: str = _env("IMAP_USER", "")
    imap_password: str = _env("IMAP_PASSWORD", "", secret=True)
    imap_tls: str = _env("IMAP_TLS", "implicit", choices=("implicit", "starttls"))
    imap_poll_seconds: float = _positive("IMAP_POLL_SECONDS", 30.0)
    smtp_host: str = _env("SMTP_HOST", "")
    smtp_port: int = _port("SMTP_PORT", 587)
    smtp_user: str = _env("SMTP_USER", "")
    smtp_password: str = _env("SMTP_PASSWORD", "", secret=True)
    # "none" is for a relay on the same machine or network segment (and the tests' loopback sink).
    smtp_tls: str = _env("SMTP_TLS", "starttls", choices=("starttls", "implicit", "none"))
    mail_from: str = _env("MAIL_FROM", "")
    mail_ca_file: str = _env("MAIL_CA_FILE", "", file=True)
    mail_verify_tls: bool = _env("MAIL_VERIFY_TLS", True)
    email_auto_replies_per_day: int = _not_negative("EMAIL_AUTO_REPLIES_PER_DAY", 5)
    email_max_attachment_bytes: int = _not_negative("EMAIL_MAX_ATTACHMENT_BYTES", 10 * 1024 * 1024)
    sla_policy: str = _env("SLA_POLICY", "cn-securities", choices=tuple(PRESETS))
    due_soon_hours: float = _not_negative("DUE_SOON_HOURS", 4.0)
    alert_webhook_url: str = _env("ALERT_WEBHOOK_URL", "", schemes=WEB, secret=True)
    deadline_check_seconds: float = _positive("DEADLINE_CHECK_SECONDS", 60.0)
    risk_rules_file: str = _env("RISK_RULES_FILE", "", file=True)
    request_body_timeout: float = _positive("REQUEST_BODY_TIMEOUT", 30.0)
    database_url: str = _env("DATABASE_URL", "")
    retention_years: int = _env("RETENTION_YEARS", 5, at_least=1)
    intake_idle_minutes: float = _positive("INTAKE_IDLE_MINUTES", 30.0)
    # Settings the design names for the handling steps to come: read and checked now, used by those steps.
    return_visit_days: int = _positive("RETURN_VISIT_DAYS", 3)
    return_visit_attempts: int = _positive("RETURN_VISIT_ATTEMPTS", 3)
    mediation_text_zh: str = _env("MEDIATION_TEXT_ZH",
                                  "如您对处理结果仍不满意，可以向中国证券业协会证券纠纷调解中心申请调解，"
                                  "或依照合同约定申请仲裁，也可以依法向人民法院提起诉讼。")
    mediation_text_en: str = _env("MEDIATION_TEXT_EN", "If you are still not satisfied, you may ask the Securities "
                                                       "Association of China's dispute mediation centre to mediate, "
                                                       "go to arbitration as your agreement provides, or go to court.")
    approval_policy: str = _env("APPROVAL_POLICY", "medium-and-up",
                                choices=("none", "high-risk", "medium-and-up", "all"))
    org_file: str = _env("ORG_FILE", "", file=True)
    satisfaction_target: float = _env("SATISFACTION_TARGET", 0.85, above=0, at_most=1)

    def __post_init__(self) -> None:
        for f in fields(self):
            _check(f, getattr(self, f.name))
        _check_database_url(self.database_url)
        _check_redis_mode(self)
        _check_proxies(self.trusted_proxies)
        _check_wechat_aes_key(self.wechat_aes_key)

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
    def email_enabled(self) -> bool:
        return bool(self.imap_host and self.imap_user and self.smtp_host and self.mail_from)

    @property
    def twilio_enabled(self) -> bool:
        return bool(self.twilio_account_sid and self.twilio_auth_token)

    @property
    def wechat_enabled(self) -> bool:
        return bool(self.wechat_token and self.wechat_app_id and self.wechat_app_secret)

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
    for choice in f.metadata["choices"]:  # words are taken in any case: LOG_LEVEL=debug, IMAP_TLS=STARTTLS
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


def _check_wechat_aes_key(key: str) -> None:
    if key and not re.fullmatch(r"[A-Za-z0-9+/]{43}", key):  # WeChat's EncodingAESKey: 32 bytes in base64
        raise SettingsError(f"WECHAT_AES_KEY ({len(key)} characters) is not WeChat's EncodingAESKey, 43 characters "
                            "of letters, digits, + and /")


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

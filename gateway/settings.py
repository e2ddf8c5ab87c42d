"""Typed settings, read once from the environment.

Every knob the gateway has lives here, with its environment variable and default; nothing else reads
``os.environ``. The README's configuration table mirrors this file.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from handoff.sla import PRESETS


class SettingsError(ValueError):
    """An environment variable holds a value the gateway cannot use."""


def _project_root() -> Path:
    return Path(__file__).resolve().parent.parent


@dataclass(frozen=True, slots=True)
class Settings:
    host: str = field(default="127.0.0.1", metadata={"env": "HOST"})
    port: int = field(default=8080, metadata={"env": "PORT"})
    public_base_url: str = field(default="", metadata={"env": "PUBLIC_BASE_URL"})
    redis_url: str = field(default="", metadata={"env": "REDIS_URL"})
    rasa_url: str = field(default="http://127.0.0.1:5005", metadata={"env": "RASA_URL"})
    rasa_timeout: float = field(default=10.0, metadata={"env": "RASA_TIMEOUT"})
    actions_port: int = field(default=5055, metadata={"env": "ACTIONS_PORT"})
    bot_token: str = field(default="", metadata={"env": "GATEWAY_BOT_TOKEN"})
    data_dir: Path = field(default_factory=lambda: _project_root() / "var", metadata={"env": "DATA_DIR"})
    chat_max_text: int = field(default=2000, metadata={"env": "CHAT_MAX_TEXT"})
    chat_rate_limit: int = field(default=10, metadata={"env": "CHAT_RATE_LIMIT"})
    chat_rate_window: float = field(default=10.0, metadata={"env": "CHAT_RATE_WINDOW"})
    claim_timeout: float = field(default=900.0, metadata={"env": "CLAIM_TIMEOUT"})
    token_ttl: int = field(default=12 * 3600, metadata={"env": "AGENT_TOKEN_TTL"})
    login_lockout: int = field(default=5, metadata={"env": "LOGIN_LOCKOUT"})
    log_level: str = field(default="INFO", metadata={"env": "LOG_LEVEL"})
    twilio_account_sid: str = field(default="", metadata={"env": "TWILIO_ACCOUNT_SID"})
    twilio_auth_token: str = field(default="", metadata={"env": "TWILIO_AUTH_TOKEN"})
    twilio_from_number: str = field(default="", metadata={"env": "TWILIO_FROM_NUMBER"})
    twilio_api_base_url: str = field(default="", metadata={"env": "TWILIO_API_BASE_URL"})
    sms_reply_wait: float = field(default=10.0, metadata={"env": "SMS_REPLY_WAIT"})
    voice_language: str = field(default="auto", metadata={"env": "VOICE_LANGUAGE"})
    voice_handoff_number: str = field(default="", metadata={"env": "VOICE_HANDOFF_NUMBER"})
    voice_min_confidence: float = field(default=0.4, metadata={"env": "VOICE_MIN_CONFIDENCE"})
    transcripts_token: str = field(default="", metadata={"env": "TRANSCRIPTS_TOKEN"})
    imap_host: str = field(default="", metadata={"env": "IMAP_HOST"})
    imap_port: int = field(default=993, metadata={"env": "IMAP_PORT"})
    imap_user: str = field(default="", metadata={"env": "IMAP_USER"})
    imap_password: str = field(default="", metadata={"env": "IMAP_PASSWORD"})
    imap_tls: str = field(default="implicit", metadata={"env": "IMAP_TLS"})
    imap_poll_seconds: float = field(default=30.0, metadata={"env": "IMAP_POLL_SECONDS"})
    smtp_host: str = field(default="", metadata={"env": "SMTP_HOST"})
    smtp_port: int = field(default=587, metadata={"env": "SMTP_PORT"})
    smtp_user: str = field(default="", metadata={"env": "SMTP_USER"})
    smtp_password: str = field(default="", metadata={"env": "SMTP_PASSWORD"})
    smtp_tls: str = field(default="starttls", metadata={"env": "SMTP_TLS"})
    mail_from: str = field(default="", metadata={"env": "MAIL_FROM"})
    mail_ca_file: str = field(default="", metadata={"env": "MAIL_CA_FILE"})
    mail_verify_tls: bool = field(default=True, metadata={"env": "MAIL_VERIFY_TLS"})
    email_auto_replies_per_day: int = field(default=5, metadata={"env": "EMAIL_AUTO_REPLIES_PER_DAY"})
    email_max_attachment_bytes: int = field(default=10 * 1024 * 1024, metadata={"env": "EMAIL_MAX_ATTACHMENT_BYTES"})
    sla_policy: str = field(default="cn-securities", metadata={"env": "SLA_POLICY"})
    due_soon_hours: float = field(default=4.0, metadata={"env": "DUE_SOON_HOURS"})
    alert_webhook_url: str = field(default="", metadata={"env": "ALERT_WEBHOOK_URL"})
    deadline_check_seconds: float = field(default=60.0, metadata={"env": "DEADLINE_CHECK_SECONDS"})
    risk_rules_file: str = field(default="", metadata={"env": "RISK_RULES_FILE"})
    request_body_timeout: float = field(default=30.0, metadata={"env": "REQUEST_BODY_TIMEOUT"})
    database_url: str = field(default="", metadata={"env": "DATABASE_URL"})
    retention_years: int = field(default=5, metadata={"env": "RETENTION_YEARS"})

    def __post_init__(self) -> None:
        if self.sla_policy not in PRESETS:
            raise SettingsError(f"SLA_POLICY={self.sla_policy!r} is not one of {', '.join(PRESETS)}")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Build settings from ``environ`` (default: the process environment); ``overrides`` win."""
        environ = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for f in fields(cls):
            raw = environ.get(f.metadata["env"])
            if raw is None or raw == "":
                continue
            values[f.name] = _convert(f.metadata["env"], raw, f.type)
        values.update(overrides)
        return cls(**values)

    @property
    def email_enabled(self) -> bool:
        return bool(self.imap_host and self.imap_user and self.smtp_host and self.mail_from)

    @property
    def twilio_enabled(self) -> bool:
        return bool(self.twilio_account_sid and self.twilio_auth_token)

    @property
    def record_url(self) -> str:
        """The system of record: DATABASE_URL, or an SQLite file under DATA_DIR (async drivers either way)."""
        return self.database_url or f"sqlite+aiosqlite:///{self.data_dir / 'record.db'}"

    @property
    def base_url(self) -> str:
        """Where people open the gateway: the public address if one is set, else the listening one."""
        return (self.public_base_url or f"http://{self.host}:{self.port}").rstrip("/")


_BOOLEANS = {"1": True, "true": True, "yes": True, "on": True, "0": False, "false": False, "no": False, "off": False}


def _convert(name: str, raw: str, kind: Any) -> Any:
    try:
        if kind in (int, "int"):
            return int(raw)
        if kind in (float, "float"):
            return float(raw)
        if kind in (Path, "Path"):
            return Path(raw)
        if kind in (bool, "bool"):
            if raw.lower() not in _BOOLEANS:
                raise ValueError(raw)
            return _BOOLEANS[raw.lower()]
    except ValueError as exc:
        raise SettingsError(f"{name}={raw!r} is not a valid {kind}") from exc
    return raw

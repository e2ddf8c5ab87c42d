"""Settings: a value the gateway cannot use stops it at start naming the variable; secrets never show."""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from gateway.embedded_redis import free_port
from gateway.settings import Settings, SettingsError

ROOT = Path(__file__).resolve().parents[2]

REFUSED = [
    ("IMAP_TLS", "plain"), ("IMAP_TLS", "none"), ("IMAP_TLS", "ssl"),
    ("SMTP_TLS", "plaintext"), ("SMTP_TLS", "tls"),
    ("SLA_POLICY", "30-days"),
    ("VOICE_LANGUAGE", "fr"),
    ("LOG_LEVEL", "LOUD"),
    ("APPROVAL_POLICY", "sometimes"),
    ("REDIS_MODE", "replica"),
    ("MAIL_VERIFY_TLS", "maybe"),
    ("PUBLIC_BASE_URL", "complaints.example.com"), ("PUBLIC_BASE_URL", "ftp://complaints.example.com"),
    ("RASA_URL", "127.0.0.1:5005"), ("RASA_URL", "redis://127.0.0.1:5005"), ("RASA_URL", "http://"),
    ("RASA_URL", "http://127.0.0.1:99999"),
    ("REDIS_URL", "http://127.0.0.1:6379"), ("REDIS_URL", "127.0.0.1:6379"),
    ("TWILIO_API_BASE_URL", "file:///etc/passwd"),
    ("ALERT_WEBHOOK_URL", "javascript:alert(1)"),
    ("DATABASE_URL", "mysql://complaints@db/complaints"), ("DATABASE_URL", "not a url"),
    ("PORT", "0"), ("PORT", "65536"), ("PORT", "http"), ("ACTIONS_PORT", "-1"),
    ("IMAP_PORT", "0"), ("SMTP_PORT", "70000"),
    ("RASA_TIMEOUT", "0"), ("RASA_TIMEOUT", "-1"), ("RASA_TIMEOUT", "nan"), ("RASA_TIMEOUT", "inf"),
    ("CHAT_MAX_TEXT", "0"), ("CHAT_RATE_LIMIT", "-3"), ("CHAT_RATE_WINDOW", "0"),
    ("CLAIM_TIMEOUT", "-900"), ("AGENT_TOKEN_TTL", "0"), ("LOGIN_LOCKOUT", "0"),
    ("SMS_REPLY_WAIT", "-1"), ("VOICE_MIN_CONFIDENCE", "1.5"), ("VOICE_MIN_CONFIDENCE", "-0.1"),
    ("IMAP_POLL_SECONDS", "0"), ("EMAIL_AUTO_REPLIES_PER_DAY", "-1"), ("EMAIL_MAX_ATTACHMENT_BYTES", "-1"),
    ("DUE_SOON_HOURS", "-4"), ("DEADLINE_CHECK_SECONDS", "0"), ("REQUEST_BODY_TIMEOUT", "0"),
    ("RETENTION_YEARS", "0"),
    ("INTAKE_IDLE_MINUTES", "0"), ("INTAKE_IDLE_MINUTES", "thirty"),
    ("SATISFACTION_TARGET", "0"), ("SATISFACTION_TARGET", "1.2"), ("SATISFACTION_TARGET", "85%"),
    ("RISK_RULES_FILE", "/nowhere/risk_rules.toml"), ("MAIL_CA_FILE", "/nowhere/ca.pem"),
    ("ORG_FILE", "/nowhere/org.toml"),
    ("CHAT_EMBED_ORIGINS", "https://www.example.com/page"), ("CHAT_EMBED_ORIGINS", "www.example.com"),
    ("CHAT_EMBED_ORIGINS", "https://www.example.com 'unsafe-inline'"),
]


@pytest.mark.parametrize(("variable", "value"), REFUSED, ids=[f"{v}={x}" for v, x in REFUSED])
def test_a_value_the_gateway_cannot_use_is_refused_naming_its_variable(variable: str, value: str) -> None:
    with pytest.raises(SettingsError, match=variable):
        Settings.from_env({variable: value})


ACCEPTED = [
    ("IMAP_TLS", "implicit", "imap_tls", "implicit"), ("IMAP_TLS", "STARTTLS", "imap_tls", "starttls"),
    ("SMTP_TLS", "none", "smtp_tls", "none"), ("SMTP_TLS", "implicit", "smtp_tls", "implicit"),
    ("SLA_POLICY", "uk-fca-disp", "sla_policy", "uk-fca-disp"),
    ("VOICE_LANGUAGE", "zh", "voice_language", "zh"),
    ("LOG_LEVEL", "debug", "log_level", "DEBUG"),
    ("APPROVAL_POLICY", "high-risk", "approval_policy", "high-risk"),
    ("REDIS_URL", "rediss://:pw@redis.internal:6380/2", "redis_url", "rediss://:pw@redis.internal:6380/2"),
    ("RASA_URL", "https://rasa.internal", "rasa_url", "https://rasa.internal"),
    ("DATABASE_URL", "postgresql://complaints:pw@db/complaints", "database_url",
     "postgresql://complaints:pw@db/complaints"),
    ("PORT", "65535", "port", 65535),
    ("INTAKE_IDLE_MINUTES", "45", "intake_idle_minutes", 45),
    ("SATISFACTION_TARGET", "1", "satisfaction_target", 1.0),
    ("SMS_REPLY_WAIT", "0", "sms_reply_wait", 0.0),
    ("CHAT_EMBED_ORIGINS", "https://www.example.com, http://branch.example.com:8443",
     "chat_embed_origins", ("https://www.example.com", "http://branch.example.com:8443")),
]


@pytest.mark.parametrize(("variable", "value", "attribute", "expected"), ACCEPTED,
                         ids=[f"{v}={x}" for v, x, _, _ in ACCEPTED])
def test_the_values_each_setting_takes_are_taken(variable: str, value: str, attribute: str, expected: object) -> None:
    assert getattr(Settings.from_env({variable: value}), attribute) == expected


def test_the_defaults_stand_and_the_later_settings_have_theirs() -> None:
    settings = Settings.from_env({})
    assert (settings.imap_tls, settings.smtp_tls, settings.log_level) == ("implicit", "starttls", "INFO")
    assert settings.intake_idle_minutes == 30 and settings.approval_policy == "medium-and-up"
    assert settings.org_file == "" and settings.satisfaction_target == 0.85
    assert settings.redis_mode == "standalone" and settings.redis_sentinel_master == ""
    assert settings.chat_embed_origins == ()


def test_values_given_in_code_are_checked_as_the_environments_are(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="IMAP_TLS"):
        Settings.from_env({}, imap_tls="plain")
    settings = Settings.from_env({}, data_dir=tmp_path)
    with pytest.raises(SettingsError, match="SMTP_TLS"):
        dataclasses.replace(settings, smtp_tls="ssl")


def test_a_sentinel_or_cluster_needs_its_servers_named() -> None:
    with pytest.raises(SettingsError, match="REDIS_SENTINEL_MASTER"):
        Settings.from_env({"REDIS_MODE": "sentinel", "REDIS_URL": "redis://sentinel-a:26379,sentinel-b:26379"})
    with pytest.raises(SettingsError, match="REDIS_URL"):
        Settings.from_env({"REDIS_MODE": "cluster"})
    sentinels = Settings.from_env({"REDIS_MODE": "sentinel", "REDIS_SENTINEL_MASTER": "complaints",
                                   "REDIS_URL": "redis://:pw@sentinel-a:26379,sentinel-b:26379,sentinel-c:26379"})
    assert sentinels.redis_sentinel_master == "complaints"


SECRETS = {
    "IMAP_PASSWORD": "imap-Secret-1", "SMTP_PASSWORD": "smtp-Secret-2", "TWILIO_AUTH_TOKEN": "twilio-Secret-3",
    "GATEWAY_BOT_TOKEN": "bot-Secret-4", "TRANSCRIPTS_TOKEN": "transcripts-Secret-5",
    "DATABASE_URL": "postgresql+asyncpg://complaints:db-Secret-6@db.internal/complaints",
    "REDIS_URL": "redis://default:redis-Secret-7@redis.internal:6379/0",
    "ALERT_WEBHOOK_URL": "https://hooks.example.com/services/hook-Secret-8",
}


def test_the_settings_repr_shows_no_secret() -> None:
    settings = Settings.from_env(SECRETS)
    shown = repr(settings) + str(settings)
    for value in ("Secret-1", "Secret-2", "Secret-3", "Secret-4", "Secret-5", "Secret-6", "Secret-7", "Secret-8"):
        assert value not in shown, value
    assert "db.internal" in shown and "redis.internal" in shown  # where it connects still shows
    assert settings.imap_password == "imap-Secret-1"  # the values themselves are intact


@pytest.mark.parametrize(("variable", "value"), [
    ("REDIS_URL", "http://default:redis-Secret-7@redis.internal:6379"),
    ("DATABASE_URL", "mysql://complaints:db-Secret-6@db.internal/complaints"),
    ("ALERT_WEBHOOK_URL", "ftp://hooks.example.com/hook-Secret-8"),
])
def test_a_refused_value_is_named_without_its_secret(variable: str, value: str) -> None:
    with pytest.raises(SettingsError, match=variable) as refused:
        Settings.from_env({variable: value})
    assert "Secret" not in str(refused.value)


def run_cli(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
    return subprocess.run([sys.executable, "-m", "gateway.cli", *args], env={**environ, **env}, cwd=ROOT,
                          capture_output=True, text=True, timeout=30, check=False)


def test_serve_with_a_plaintext_mailbox_stops_at_once_naming_imap_tls(tmp_path: Path) -> None:
    result = run_cli("serve", IMAP_TLS="plain", IMAP_PASSWORD="imap-Secret-1", DATA_DIR=str(tmp_path),
                     PORT=str(free_port()))
    assert result.returncode != 0
    assert "IMAP_TLS" in result.stderr and "implicit" in result.stderr
    assert "Secret" not in result.stdout + result.stderr
    assert not (tmp_path / "redis").exists(), "nothing started"


def test_a_running_gateway_logs_no_secret_even_at_debug_level(tmp_path: Path) -> None:
    """Every channel on, its servers unreachable (so failures get logged), at the most talkative log level."""
    port, nowhere = free_port(), free_port()
    environ = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
    environ.update(
        PORT=str(port), DATA_DIR=str(tmp_path), LOG_LEVEL="DEBUG", RASA_URL=f"http://127.0.0.1:{nowhere}",
        IMAP_HOST="127.0.0.1", IMAP_PORT=str(nowhere), IMAP_USER="desk", IMAP_PASSWORD="imap-Secret-1",
        SMTP_HOST="127.0.0.1", SMTP_PORT=str(nowhere), SMTP_PASSWORD="smtp-Secret-2", MAIL_FROM="desk@example.test",
        TWILIO_ACCOUNT_SID="AC" + "0" * 32, TWILIO_AUTH_TOKEN="twilio-Secret-3", GATEWAY_BOT_TOKEN="bot-Secret-4",
        TRANSCRIPTS_TOKEN="transcripts-Secret-5", ALERT_WEBHOOK_URL=f"http://127.0.0.1:{nowhere}/hook-Secret-8")
    log = tmp_path / "gateway.log"  # a file, not a pipe: a DEBUG start says more than a pipe holds unread
    with log.open("w") as out:
        process = subprocess.Popen([sys.executable, "-m", "gateway.cli", "serve"], env=environ, cwd=ROOT,
                                   stdout=out, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2):
                    break
            except OSError:
                time.sleep(0.3)
        time.sleep(2)  # the mail reader's first attempt and its failure
        process.send_signal(signal.SIGINT)
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    output = log.read_text()
    assert "channels on:" in output, output[-2000:]
    assert "Secret" not in output, [line for line in output.splitlines() if "Secret" in line]


def test_trusted_proxies_are_addresses_or_networks() -> None:
    assert Settings.from_env({"TRUSTED_PROXIES": "10.0.0.0/8, 127.0.0.1"}).trusted_proxies == ("10.0.0.0/8",
                                                                                               "127.0.0.1")
    with pytest.raises(SettingsError, match="TRUSTED_PROXIES"):
        Settings.from_env({"TRUSTED_PROXIES": "the load balancer"})

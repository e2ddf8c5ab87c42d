"""docker-compose.yml as an operator runs it: replicas scale, only the gateway is published, nothing phones home.

No Docker engine runs in the tests; the file is read as Compose reads it (YAML) and checked for what
`docker compose up --scale gateway=3` needs.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
BOT_SERVICES = ("rasa", "actions")


def services() -> dict[str, Any]:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))
    found: dict[str, Any] = compose["services"]
    return found


def published(service: dict[str, Any]) -> list[str]:
    return [str(port) for port in service.get("ports", [])]


def test_gateway_replicas_publish_no_fixed_host_port_so_three_do_not_clash() -> None:
    ports = published(services()["gateway"])
    assert ports, "the gateway is published"
    for port in ports:
        assert ":" not in port, f"{port!r} fixes a host port: a second replica could not bind it"
        assert port.split("/")[0] == "8080"


def test_only_the_gateway_is_published() -> None:
    assert {name for name, service in services().items() if published(service)} == {"gateway"}


def test_the_bot_services_send_no_telemetry() -> None:
    for name in BOT_SERVICES:
        environment = services()[name].get("environment", {})
        assert environment.get("RASA_TELEMETRY_ENABLED") == "false", name


def test_the_license_file_is_the_one_the_package_declares() -> None:
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["license"]["text"]
    assert declared == "Apache-2.0"
    text = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert "Apache License" in text and "Version 2.0, January 2004" in text

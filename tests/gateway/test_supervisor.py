"""The local supervisor's children listen on loopback only: nothing `make run` starts is open to the network; and
what they print reaches their logs without personal data."""

from __future__ import annotations

import ipaddress
import socket
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from gateway import supervisor
from gateway.embedded_redis import free_port


def listening_addresses(port: int) -> set[str]:
    """The local addresses something listens on at ``port`` (TCP)."""
    return {c.laddr.ip for c in psutil.net_connections(kind="tcp")
            if c.status == psutil.CONN_LISTEN and c.laddr and c.laddr.port == port}


def outside_addresses() -> list[str]:
    """This machine's addresses other than loopback (and link-local ones, which need a zone to reach)."""
    found = []
    for entries in psutil.net_if_addrs().values():
        for entry in entries:
            if entry.family not in (socket.AF_INET, socket.AF_INET6):
                continue
            address = ipaddress.ip_address(entry.address.split("%")[0])
            if not (address.is_loopback or address.is_link_local):
                found.append(str(address))
    return found


def reachable(address: str, port: int) -> bool:
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    with socket.socket(family) as sock:
        sock.settimeout(2)
        return sock.connect_ex((address, port)) == 0


def assert_loopback_only(port: int) -> None:
    """What listens on ``port`` does so on loopback, and no other address of this machine reaches it."""
    addresses = listening_addresses(port)
    assert addresses, f"nothing listens on {port}"
    assert all(ipaddress.ip_address(a).is_loopback for a in addresses), addresses
    for address in outside_addresses():
        assert not reachable(address, port), f"port {port} answers on {address}"


@pytest.fixture
def actions_port(tmp_path: Path) -> Iterator[int]:
    if not supervisor.RASA.exists():
        pytest.skip(f"{supervisor.RASA} is missing: run `make setup` first")
    port, processes = free_port(), supervisor.Processes()
    action_server = processes.add("actions", supervisor.start_actions(port, tmp_path / "actions.log"))
    try:
        supervisor.wait_http(f"http://127.0.0.1:{port}/health", 180, action_server)
        yield port
    finally:
        processes.stop()


def test_the_action_server_listens_on_loopback_only(actions_port: int) -> None:
    """It runs the bot's actions for anyone who can reach it, with no authentication of its own."""
    assert_loopback_only(actions_port)


def test_what_a_bot_process_prints_reaches_its_log_without_personal_data(tmp_path: Path) -> None:
    # What Rasa prints when a turn is cancelled: the customer's text, with their phone and email in it.
    line = ('2026-12-06 17:26:42 ERROR rasa.core.channels.rest - {"text": "我的电话 13912345678 邮箱 '
            'zhang.wei@example.com", "event": "rest.message.received.timeout"}')
    log = tmp_path / "rasa.log"
    process = supervisor._spawn([sys.executable, "-c", f"print({line!r})"], log)
    process.wait(30)
    for _ in range(50):
        if log.exists() and "rest.message.received.timeout" in log.read_text():
            break
        time.sleep(0.1)
    written = log.read_text()
    assert written.startswith("2026-12-06 17:26:42 ERROR"), "the time stays readable"
    assert "13912345678" not in written and "zhang.wei@example.com" not in written
    assert "rest.message.received.timeout" in written

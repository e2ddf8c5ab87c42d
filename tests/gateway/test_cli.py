"""The command line as an operator uses it: `up` runs everything, prints where to go, and Ctrl-C stops it all."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from gateway import supervisor
from gateway.embedded_redis import free_port
from tests.gateway.test_supervisor import assert_loopback_only


def port_is_open(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def read_banner(process: subprocess.Popen[str]) -> str:
    assert process.stdout is not None
    lines = []
    for line in process.stdout:
        lines.append(line)
        if line.startswith("Press Ctrl-C"):
            return "".join(lines)
    raise AssertionError("up exited before it was ready:\n" + "".join(lines))


@pytest.mark.e2e
def test_up_starts_everything_prints_where_to_open_it_and_ctrl_c_stops_it_all(tmp_path: Path) -> None:
    port, rasa_port, actions_port = free_port(), free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
    env.update(PORT=str(port), RASA_URL=f"http://127.0.0.1:{rasa_port}", ACTIONS_PORT=str(actions_port),
               DATA_DIR=str(tmp_path), LOG_LEVEL="WARNING")
    supervisor.ensure_model(progress=lambda _: None)
    process = subprocess.Popen([sys.executable, "-m", "gateway.cli", "up"], env=env, cwd=supervisor.ROOT,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        banner = read_banner(process)
        assert f"chat page:      http://127.0.0.1:{port}/" in banner
        match = re.search(r"log in as (\S+) / (\S+)\)", banner)
        assert match, banner

        with urllib.request.urlopen(f"http://127.0.0.1:{port}/") as page:
            assert page.status == 200
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz") as ready:
            assert json.load(ready) == {"redis": "ok", "rasa": "ok"}
        login = urllib.request.Request(f"http://127.0.0.1:{port}/api/login", method="POST",
                                       data=json.dumps({"name": match[1], "password": match[2]}).encode(),
                                       headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(login) as answer:
            assert "token" in json.load(answer)
        assert (tmp_path / "redis" / "appendonly.aof").exists()
        # Nothing it started is open to the network: the action server above all runs actions for anyone.
        redis_port = urlsplit((tmp_path / "redis" / "url").read_text()).port
        assert redis_port is not None
        for child_port in (port, rasa_port, actions_port, redis_port):
            assert_loopback_only(child_port)

        process.send_signal(signal.SIGINT)
        assert process.wait(60) == 0
        for child_port in (port, rasa_port, actions_port):
            assert not port_is_open(child_port), f"something still listens on {child_port}"
        assert not (tmp_path / "redis" / "url").exists(), "the embedded Redis was left running"
    finally:
        if process.poll() is None:
            process.kill()

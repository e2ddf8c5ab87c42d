"""The Rasa project itself: its data is consistent and its test stories pass with the trained model."""

from __future__ import annotations

import importlib.util
import os
import subprocess
from types import ModuleType

import pytest

from gateway import supervisor

ENV = {**os.environ, "RASA_TELEMETRY_ENABLED": "false"}


def rasa(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(supervisor.RASA), *args], cwd=supervisor.BOT_DIR, env=ENV, text=True,
                          capture_output=True, timeout=600, check=False)


def test_training_data_validates() -> None:
    result = rasa("data", "validate")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]


def test_the_test_stories_pass() -> None:
    supervisor.ensure_model(progress=lambda _: None)
    result = rasa("test", "core", "--stories", "tests/test_stories.yml", "--model", str(supervisor.MODEL),
                  "--out", str(supervisor.ROOT / "var" / "test-logs" / "rasa-test"), "--fail-on-prediction-errors")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]


@pytest.fixture(scope="module")
def checks() -> ModuleType:
    """The bot's text checks: plain Python with no Rasa import, so they run here too."""
    path = supervisor.BOT_DIR / "actions" / "text_checks.py"
    spec = importlib.util.spec_from_file_location("text_checks", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_phone_numbers_as_customers_type_them(checks: ModuleType) -> None:
    for good in ("13800138000", "+44 7700 900123", "138-0013-8000", "１３８００１３８０００", "021 6888 8888"):
        assert checks.is_valid_phone(good), good
    for bad in ("abc", "12345", "10012345678", "+1 2"):
        assert not checks.is_valid_phone(bad), bad


def test_names_lose_their_introductions(checks: ModuleType) -> None:
    assert checks.clean_name("我叫张三。") == "张三"
    assert checks.clean_name("My name is John Smith") == "John Smith"
    assert not checks.is_valid_name(checks.clean_name("1234"))


def test_language_of_a_message(checks: ModuleType) -> None:
    assert checks.detect_language("我要投诉") == "zh"
    assert checks.detect_language("I want to complain") == "en"
    assert checks.detect_language("/complain") is None
    assert checks.language_code("zh-CN") == "zh" and checks.language_code("auto") is None


def test_what_has_no_language_of_its_own(checks: ModuleType) -> None:
    for text in ("liuyang@example.com", "13800138000", "2025-11-18", "November 18", "ok", "👍", "John Smith"):
        assert checks.detect_language(text) is None, text
    assert checks.detect_language("邮箱是 liuyang@example.com") == "zh"
    assert checks.detect_language("my phone is broken, email me") == "en"

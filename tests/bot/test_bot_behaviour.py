"""The bot's actions and wording: its own test suite (run in bot/.venv) and what it must never say."""

from __future__ import annotations

import json
import os
import re
import subprocess

import pytest

from gateway import supervisor

PYTHON = supervisor.BOT_DIR / ".venv" / "bin" / "python"
ENV = {**os.environ, "RASA_TELEMETRY_ENABLED": "false"}

# Never argue, never say these (handoff/wording.py holds the handlers' list).
FORBIDDEN = ("不可能", "不会有这样的事", "这事情的责任不在证券公司", "我们营业部没有错",
             "impossible", "that can't have happened", "it is not our fault",
             # An input error never reads as "complaint refused" (无法受理), in either script.
             "无法受理", "無法受理", "不予受理")
# Nor blame the customer or promise an outcome or compensation.
BLAME_OR_PROMISE = re.compile(
    r"您的错|你的错|您自己|怪您|您操作失误|您没有注意|保证|一定会(?!与您联系)|肯定会|承诺|赔偿您|补偿您|全额退|退还给您|"
    r"(?i:your fault|you should have|you made a mistake|your mistake|we guarantee|guarantee|we promise|"
    r"will be refunded|we will refund|we'll refund|will be compensated|we will compensate|will be resolved|"
    r"will get your money)"
)


def bot_python(code: str) -> str:
    result = subprocess.run([str(PYTHON), "-c", code], cwd=supervisor.BOT_DIR, env=ENV, text=True,
                            capture_output=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


@pytest.fixture(scope="module")
def responses() -> dict[str, list[dict]]:
    """domain.yml's responses, read by the bot's own YAML library (the gateway has none)."""
    dumped = bot_python("import json, yaml; print(json.dumps(yaml.safe_load(open('domain.yml'))['responses']))")
    result: dict[str, list[dict]] = json.loads(dumped)
    return result


def wording(responses: dict[str, list[dict]]) -> list[tuple[str, str]]:
    said = []
    for name, variants in responses.items():
        for variant in variants:
            said.append((name, variant.get("text", "")))
            said += [(name, button["title"]) for button in variant.get("buttons", [])]
    labels = (supervisor.BOT_DIR / "actions" / "labels.py").read_text(encoding="utf-8")
    said += [("actions/labels.py", text) for text in re.findall(r'"([^"]*)"', labels)]
    return said


def test_the_bots_own_suite_passes() -> None:
    """Extraction, validation, the form's questions, both payloads, status look-ups against a fake gateway."""
    result = subprocess.run([str(PYTHON), "-m", "unittest", "discover", "-s", "tests", "-t", "."],
                            cwd=supervisor.BOT_DIR, env=ENV, text=True, capture_output=True, timeout=300,
                            check=False)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-5000:]


def test_no_response_uses_a_forbidden_phrase(responses: dict[str, list[dict]]) -> None:
    raw = (supervisor.BOT_DIR / "domain.yml").read_text(encoding="utf-8").lower()
    for phrase in FORBIDDEN:
        assert phrase.lower() not in raw, phrase
    for name, text in wording(responses):
        for phrase in FORBIDDEN:
            assert phrase.lower() not in text.lower(), (name, phrase)


def test_no_response_blames_the_customer_or_promises_an_outcome(responses: dict[str, list[dict]]) -> None:
    offending = [(name, text) for name, text in wording(responses) if BLAME_OR_PROMISE.search(text)]
    assert not offending, offending


def test_every_response_speaks_both_languages_and_both_scripts(responses: dict[str, list[dict]]) -> None:
    for name, variants in responses.items():
        chinese = {c["value"]: v for v in variants for c in v.get("condition", []) if c.get("name") == "script"}
        default = [v for v in variants if not v.get("condition")]
        assert set(chinese) == {"Hans", "Hant"} and len(default) == 1 and len(variants) == 3, name
        for variant in chinese.values():
            assert re.search(r"[\u4e00-\u9fff]", variant["text"]), name
        assert not re.search(r"[\u4e00-\u9fff]", default[0]["text"]), name

"""One risk vocabulary: the bot flags exactly what the gateway's risk rules find (bot/actions/risk_words.py reads
handoff/risk_rules.toml with the rules of handoff/risk.py)."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

from gateway import supervisor
from handoff import risk

SAID = [
    "你们这帮骗子，我要去证监会告你们", "再不处理我就去12386投诉", "我要找记者曝光你们", "我要请律师起诉",
    "有人盗用我的账户买了股票", "我妈七十多岁了，用的是养老钱", "你们太过分了，气死我了", "不给说法我就找央视",
    "I'm going to the SEC", "I will report you to FINRA and the Financial Ombudsman Service",
    "my lawyer is preparing a class action", "I'll go to the press", "someone traded without my permission",
    "I'm a 78-year-old pensioner", "this is outrageous, you crooks", "f*** this",
    "the attorney general will hear about this", "my attorney will call you", "the fee was wrong",
    "please press 1 to continue", "I had an issue with the app", "账号6212386001234567被冻结",
]


@pytest.fixture(scope="module")
def risk_words() -> ModuleType:
    """The bot's module, loaded here (it needs nothing from the bot's environment)."""
    path = supervisor.BOT_DIR / "actions" / "risk_words.py"
    spec = importlib.util.spec_from_file_location("bot_risk_words", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def gateway_flags(text: str) -> list[str]:
    rules = risk.default_rules()
    fired = risk.grade(text, rules=rules).rules
    return sorted(flag for flag in (rules.rule(rule_id).flag for rule_id in fired) if flag)


@pytest.mark.parametrize("text", SAID)
def test_the_bot_flags_what_the_gateway_grades(risk_words: ModuleType, text: str) -> None:
    assert sorted(risk_words.find_flags(text)) == gateway_flags(text)


def test_the_bot_reads_the_packaged_rules_and_a_copy_named_by_the_setting(
    risk_words: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert risk_words.PACKAGED_RULES == supervisor.ROOT / "handoff" / "risk_rules.toml"
    copy = tmp_path / "rules.toml"
    copy.write_text(risk_words.PACKAGED_RULES.read_text(encoding="utf-8").replace('"央视", ', ""), encoding="utf-8")
    monkeypatch.setenv("RISK_RULES_FILE", str(copy))
    assert risk_words.rules_file() == copy
    assert "media" not in [f for f, ps in risk_words.flag_patterns(copy).items() if any(p.search("找央视") for p in ps)]


def test_a_rules_file_that_cannot_be_read_is_an_error_naming_it(risk_words: ModuleType, tmp_path: Path) -> None:
    broken = tmp_path / "broken.toml"
    broken.write_text("[[rules]\n", encoding="utf-8")
    with pytest.raises(risk_words.RiskRulesError, match=r"broken\.toml"):
        risk_words.flag_patterns(broken)

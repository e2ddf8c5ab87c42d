"""The bot's threat, anger, fraud and vulnerability flags, read from the compliance team's risk rules.

One vocabulary: the rules the gateway grades cases with (``handoff/risk_rules.toml``, or the copy that
``RISK_RULES_FILE`` names, as for the gateway) also decide what the bot flags while it listens. A rule with a
``flag`` raises that flag when its words appear; rules without one (large sums, repeat complainants) are the
gateway's alone. The words are compiled as handoff/risk.py compiles them (its comments describe the format;
tests/bot/test_risk_words.py checks both readers agree), on text normalised to NFKC and Simplified Chinese.

A rules file that is missing or cannot be read stops the action server at start, naming the file: the bot
never listens with no rules or half of them.
"""

from __future__ import annotations

import functools
import os
import re
import sys
import unicodedata
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # Rasa 3.6 runs on Python 3.10
    import tomli as tomllib

FLAGS = ("regulator", "media", "lawyer", "fraud", "vulnerable", "anger")
RULES_FILE_VARIABLE = "RISK_RULES_FILE"
# Where the repository keeps the rules (bot/ next to handoff/); RISK_RULES_FILE names another copy.
PACKAGED_RULES = Path(__file__).resolve().parents[2] / "handoff" / "risk_rules.toml"
_LATIN_EDGE_BEFORE, _LATIN_EDGE_AFTER = r"(?<![A-Za-z0-9])", r"(?![A-Za-z0-9])"


class RiskRulesError(RuntimeError):
    pass


def rules_file() -> Path:
    configured = os.environ.get(RULES_FILE_VARIABLE, "").strip()
    return Path(configured) if configured else PACKAGED_RULES


def normalise(text: str) -> str:
    return unicodedata.normalize("NFKC", text)


@functools.cache
def flag_patterns(path: Path | None = None) -> dict[str, tuple[re.Pattern[str], ...]]:
    """Flag -> the compiled words of the rule that carries it."""
    path = path or rules_file()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise RiskRulesError(f"{path}: the risk rules cannot be read ({error}); set {RULES_FILE_VARIABLE}") from error
    patterns: dict[str, tuple[re.Pattern[str], ...]] = {}
    for rule in data.get("rules") or []:
        flag = rule.get("flag") if isinstance(rule, dict) else None
        if flag in FLAGS and rule.get("kind", "words") == "words":
            try:
                patterns[flag] = tuple(_rule_patterns(rule))
            except (re.error, TypeError, AttributeError) as error:
                raise RiskRulesError(f"{path}: rule '{rule.get('id')}' cannot be read: {error}") from error
    return patterns


def _rule_patterns(rule: dict[str, Any]) -> list[re.Pattern[str]]:
    found = []
    for language in ("zh", "en"):
        section = rule.get(language) or {}
        for field in sorted(section):
            entries = [str(e).strip() for e in section[field]]
            if field == "regex":
                flags = re.IGNORECASE | re.ASCII if language == "en" else 0
                found += [re.compile(expression, flags) for expression in entries]
            elif entries:
                found.append(_word_list(language, field, entries))
    return found


def _word_list(language: str, field: str, words: list[str]) -> re.Pattern[str]:
    # Longest first, so "attorney general" wins over "attorney" (as handoff/risk.py reads them).
    words = sorted({normalise(w) for w in words}, key=len, reverse=True)
    if language == "zh":
        return re.compile("|".join(_latin_edges(re.escape(w), w) for w in words), re.IGNORECASE)
    alternatives = "|".join(r"\s+".join(re.escape(part) for part in w.split()) for w in words)
    plural = "(?:e?s)?" if field == "keywords" else ""
    flags = re.IGNORECASE if field == "keywords" else 0
    return re.compile(f"{_LATIN_EDGE_BEFORE}(?:{alternatives}){plural}{_LATIN_EDGE_AFTER}", flags)


def _latin_edges(escaped: str, word: str) -> str:
    before = _LATIN_EDGE_BEFORE if word[0].isascii() and word[0].isalnum() else ""
    after = _LATIN_EDGE_AFTER if word[-1].isascii() and word[-1].isalnum() else ""
    return f"{before}{escaped}{after}"


def find_flags(text: str) -> list[str]:
    """The flags ``text`` raises, in FLAGS order. ``text`` should already be in Simplified characters."""
    text = normalise(text)
    patterns = flag_patterns()
    return [flag for flag in FLAGS if any(p.search(text) for p in patterns.get(flag, ()))]

"""Early warning of risky complaints: a grade, a score and reasons a handler can read.

A first rule set in both languages; each matching rule adds its weight once. Score 50+ is high, 20+ medium.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Risk:
    grade: str
    score: int
    reasons: tuple[str, ...]

    def to_dict(self) -> dict[str, object]:
        return {"grade": self.grade, "score": self.score, "reasons": list(self.reasons)}


_RULES: tuple[tuple[str, int, re.Pattern[str]], ...] = (
    ("regulator threat", 50, re.compile(r"证监会|12386|金融监管|银保监|\b(SEC|FINRA|FCA|regulator|ombudsman)\b", re.I)),
    ("media threat", 40, re.compile(r"媒体|曝光|记者|\b(journalist|newspaper|media|press)\b", re.I)),
    ("legal action", 40, re.compile(r"律师|起诉|法院|\b(lawyer|lawsuit|sue|court|attorney)\b", re.I)),
    ("suspected fraud or unauthorised trade", 50,
     re.compile(r"被盗|盗刷|没有下单|未经授权|诈骗|\b(hacked|unauthori[sz]ed|fraud|stolen|scam)\b", re.I)),
    ("vulnerable customer", 20, re.compile(r"老人|残疾|\b(elderly|pensioner|disabled|vulnerable)\b", re.I)),
    ("anger", 10, re.compile(r"骗子|垃圾|气死|\b(crooks?|disgusting|furious|outrageous)\b", re.I)),
)


# What the bot flags during the conversation, in the words of the rules above.
FLAG_REASONS = {
    "regulator": "regulator threat",
    "media": "media threat",
    "lawyer": "legal action",
    "fraud": "suspected fraud or unauthorised trade",
    "vulnerable": "vulnerable customer",
    "anger": "anger",
}


def grade(text: str, flags: tuple[str, ...] = ()) -> Risk:
    """Grade what the customer said, together with the flags the bot raised while listening."""
    flagged = {FLAG_REASONS[f] for f in flags if f in FLAG_REASONS}
    reasons = tuple(name for name, _, pattern in _RULES if pattern.search(text) or name in flagged)
    score = sum(weight for name, weight, _ in _RULES if name in reasons)
    level = "high" if score >= 50 else "medium" if score >= 20 else "low"
    return Risk(level, score, reasons)


PRIORITY_BY_GRADE = {"high": "urgent", "medium": "high", "low": "normal"}

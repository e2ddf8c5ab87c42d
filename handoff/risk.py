"""Early warning of risky complaints: a grade, a score and reasons a handler can read.

The rules are data, not code: ``risk_rules.toml`` next to this module (compliance staff edit it; its comments
say how). The same file's ``[hotspots]`` table says when many complaints about one product, unit or member of
staff make a hot spot (``records.reports.hotspots`` watches for them). Every rule that fires adds its weight once, and
the score is compared with the file's thresholds.
``load_rules`` checks a rules file completely before anything is graded with it: a mistake raises ValueError
naming the file, the rule and the field. ``grade`` uses the packaged rules, loaded once; a caller with its own
file loads it with ``load_rules(path)`` and calls ``RiskRules.grade`` (or passes ``rules=``).

Text is read after NFKC normalisation, so full-width letters, digits and punctuation count as their ordinary
forms, and in Simplified characters, so a complaint written in Traditional ones (證監會) fires the same rules.
``amounts`` reads sums of money in English and Chinese for the "amount" rules.
"""

from __future__ import annotations

import dataclasses
import functools
import re
import tomllib
import unicodedata
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Any, NoReturn

from opencc import OpenCC  # type: ignore[import-untyped]

from handoff.sla import Period

PRIORITY_BY_GRADE = {"high": "urgent", "medium": "high", "low": "normal"}

# What the bot can flag while it listens (bot/actions/extract.py RISK_FLAGS); a rule's ``flag`` must be one.
BOT_FLAGS = ("regulator", "media", "lawyer", "fraud", "vulnerable", "anger")
KINDS = ("words", "amount", "repeat")
HOTSPOT_DIMENSIONS = ("product", "unit", "staff")
MAX_EVIDENCE = 3  # matched words quoted per reason: enough to see why, short enough to read at a glance


@dataclass(frozen=True, slots=True)
class Risk:
    grade: str
    score: int
    reasons: tuple[str, ...]
    rules: tuple[str, ...] = ()  # ids of the rules that fired, in the order of ``reasons``

    def to_dict(self) -> dict[str, object]:
        return {"grade": self.grade, "score": self.score, "reasons": list(self.reasons), "rules": list(self.rules)}


@dataclass(frozen=True, slots=True)
class Rule:
    id: str
    name_en: str
    name_zh: str
    weight: int
    flag: str | None = None
    kind: str = "words"
    patterns: tuple[re.Pattern[str], ...] = ()  # kind "words"
    at_least: Decimal | None = None  # kind "amount"
    window_days: int | None = None  # kind "repeat"

    def evidence(self, text: str) -> tuple[str, ...]:
        """What in ``text`` (already normalised) fires this rule: the words found, or the sums large enough."""
        if self.kind == "words":
            found = sorted((m.start(), " ".join(m.group().split())) for p in self.patterns for m in p.finditer(text))
            return _distinct(word for _, word in found)
        if self.kind == "amount" and self.at_least is not None:
            return _distinct(_format_amount(value) for _, value in _amounts(text) if value >= self.at_least)
        return ()


@dataclass(frozen=True, slots=True)
class Hotspots:
    """``threshold`` complaints or more about one value of a dimension within ``window_days`` make a hot spot."""

    window_days: int
    threshold: int
    by: tuple[str, ...] = HOTSPOT_DIMENSIONS


DEADLINE_STEPS = ("acknowledge", "investigate", "respond", "return_visit")
_PERIOD = re.compile(r"^\s*(\d+)\s+(hours?|working days?|calendar days?)\s*$")
_PERIOD_UNITS = {"hour": "hours", "working day": "working_days", "calendar day": "calendar_days"}


@dataclass(frozen=True, slots=True)
class DeadlineRule:
    """Other deadlines for the cases of some products or natures (``[[deadlines]]``)."""

    products: frozenset[str]
    natures: frozenset[str]
    periods: Mapping[str, Period]  # step -> period, only the steps the table names

    def takes(self, product: str | None, nature: str | None) -> bool:
        return product in self.products or nature in self.natures


@dataclass(frozen=True, slots=True)
class RiskRules:
    rules: tuple[Rule, ...]
    high: int
    medium: int
    source: str = "<rules>"  # the file they came from, for messages and logs
    hotspots: Hotspots | None = None  # None: the file watches for no hot spots
    deadlines: tuple[DeadlineRule, ...] = ()

    def deadlines_for(self, product: str | None, nature: str | None) -> Mapping[str, Period]:
        """The deadline periods the first ``[[deadlines]]`` table that takes such a case sets; empty: none."""
        return next((rule.periods for rule in self.deadlines if rule.takes(product, nature)), MappingProxyType({}))

    @property
    def repeat_window_days(self) -> int:
        """How far back an earlier complaint by the same contact counts as a repeat; 0 without a repeat rule."""
        return next((r.window_days or 0 for r in self.rules if r.kind == "repeat"), 0)

    @property
    def flag_reasons(self) -> Mapping[str, str]:
        """Bot flag -> the name of the rule it fires."""
        return MappingProxyType({r.flag: r.name_en for r in self.rules if r.flag})

    def rule(self, rule_id: str) -> Rule:
        for rule in self.rules:
            if rule.id == rule_id:
                return rule
        raise KeyError(rule_id)

    def grade(self, text: str, flags: tuple[str, ...] = (), *, repeat: bool = False) -> Risk:
        """Grade what the customer said, with the flags the bot raised and whether the contact complained before."""
        text, flagged = _normalise(text), set(flags)
        fired: list[tuple[Rule, str]] = []
        for rule in self.rules:
            if rule.kind == "repeat":
                if repeat:
                    fired.append((rule, f"complained before within {rule.window_days} days"))
            elif found := rule.evidence(text):
                fired.append((rule, ", ".join(found)))
            elif rule.flag is not None and rule.flag in flagged:
                fired.append((rule, "flagged by the bot"))
        score = sum(rule.weight for rule, _ in fired)
        level = "high" if score >= self.high else "medium" if score >= self.medium else "low"
        reasons = tuple(f"{rule.name_en}: {why}" for rule, why in fired)
        return Risk(level, score, reasons, tuple(rule.id for rule, _ in fired))


def grade(text: str, flags: tuple[str, ...] = (), *, repeat: bool = False, rules: RiskRules | None = None) -> Risk:
    """Grade with ``rules``, or with the packaged rules."""
    return (default_rules() if rules is None else rules).grade(text, flags, repeat=repeat)


@functools.cache
def default_rules() -> RiskRules:
    """The packaged ``risk_rules.toml``, loaded once."""
    return load_rules()


# ---------------------------------------------------------------------------------------------------------------
# Loading and checking a rules file

_TOP_FIELDS = {"thresholds", "rules", "hotspots", "deadlines"}
_RULE_FIELDS = {
    "words": {"id", "name_en", "name_zh", "weight", "flag", "kind", "zh", "en"},
    "amount": {"id", "name_en", "name_zh", "weight", "flag", "kind", "at_least"},
    "repeat": {"id", "name_en", "name_zh", "weight", "flag", "kind", "window_days"},
}
_LANGUAGE_FIELDS = {"zh": {"keywords", "regex"}, "en": {"keywords", "acronyms", "regex"}}
_ID = re.compile(r"[a-z][a-z0-9_]*")
_LATIN_EDGE_BEFORE, _LATIN_EDGE_AFTER = r"(?<![A-Za-z0-9])", r"(?![A-Za-z0-9])"


class _Problem(Exception):
    """A mistake in one place of a rules file; load_rules turns it into a ValueError naming the file."""


def _fail(where: str, problem: str) -> NoReturn:
    raise _Problem(f"{where}: {problem}")


def load_rules(path: Path | None = None) -> RiskRules:
    """Read and check a rules file (by default the packaged one). Raises ValueError naming what is wrong."""
    if path is None:
        source, raw = "handoff/risk_rules.toml", (resources.files("handoff") / "risk_rules.toml").read_text("utf-8")
    else:
        source, raw = str(path), path.read_text(encoding="utf-8")
    try:
        return _parse(tomllib.loads(raw), source)
    except tomllib.TOMLDecodeError as error:
        raise ValueError(f"{source}: not valid TOML: {error}") from error
    except _Problem as problem:
        raise ValueError(f"{source}: {problem}") from None


def _parse(data: dict[str, Any], source: str) -> RiskRules:
    _known_fields("the file", data, _TOP_FIELDS)
    thresholds = data.get("thresholds")
    if not isinstance(thresholds, dict):
        _fail("the file", "[thresholds] with high and medium is missing")
    _known_fields("[thresholds]", thresholds, {"high", "medium"})
    high, medium = (_integer("[thresholds]", thresholds, name) for name in ("high", "medium"))
    if high <= medium:
        _fail("[thresholds]", f"high ({high}) must be greater than medium ({medium})")
    tables = data.get("rules")
    if not isinstance(tables, list) or not tables:
        _fail("the file", "no [[rules]]")
    rules = tuple(_rule(i, table) for i, table in enumerate(tables, 1))
    _check_unique(rules)
    hotspots = _hotspots(data["hotspots"]) if "hotspots" in data else None
    deadlines = data.get("deadlines", [])
    if not isinstance(deadlines, list):
        _fail("the file", "[[deadlines]] tables, one per group of cases")
    return RiskRules(rules, high, medium, source, hotspots,
                     tuple(_deadline_rule(i, table) for i, table in enumerate(deadlines, 1)))


def _deadline_rule(number: int, table: object) -> DeadlineRule:
    where = f"[[deadlines]] #{number}"
    if not isinstance(table, dict):
        _fail(where, "must be a table")
    _known_fields(where, table, {"products", "natures", *DEADLINE_STEPS})
    products = frozenset(_strings(where, "products", table.get("products", [])))
    natures = frozenset(_strings(where, "natures", table.get("natures", [])))
    if not products and not natures:
        _fail(where, "names no products and no natures: which cases does it take?")
    periods = {step: _period(where, step, table[step]) for step in DEADLINE_STEPS if step in table}
    if not periods:
        _fail(where, f"sets none of {', '.join(DEADLINE_STEPS)}")
    return DeadlineRule(products, natures, MappingProxyType(periods))


def _period(where: str, step: str, value: object) -> Period:
    match = _PERIOD.match(value) if isinstance(value, str) else None
    if match is None or int(match.group(1)) < 1:
        _fail(where, f"'{step}' is like \"24 hours\", \"2 working days\" or \"10 calendar days\", not {value!r}")
    unit = _PERIOD_UNITS[match.group(2).rstrip("s")]
    return Period(int(match.group(1)), unit)  # type: ignore[arg-type]


def _hotspots(table: object) -> Hotspots:
    where = "[hotspots]"
    if not isinstance(table, dict):
        _fail(where, "must be a table with window_days, threshold and by")
    _known_fields(where, table, {"window_days", "threshold", "by"})
    window, threshold = _integer(where, table, "window_days"), _integer(where, table, "threshold")
    if window <= 0:
        _fail(where, "'window_days' must be a positive number of days")
    if threshold < 2:
        _fail(where, "'threshold' must be 2 or more (one complaint is not a hot spot)")
    by = _strings(where, "by", table.get("by", list(HOTSPOT_DIMENSIONS)))
    unknown = [name for name in by if name not in HOTSPOT_DIMENSIONS]
    if unknown or not by:
        _fail(where, f"'by' lists some of {', '.join(HOTSPOT_DIMENSIONS)}, not {unknown or by}")
    return Hotspots(window, threshold, tuple(dict.fromkeys(by)))


def _rule(number: int, table: object) -> Rule:
    if not isinstance(table, dict):
        _fail(f"rule #{number}", "must be a [[rules]] table")
    rule_id = table.get("id")
    if not isinstance(rule_id, str) or not _ID.fullmatch(rule_id):
        _fail(f"rule #{number}", "'id' must be lower-case letters, digits and _ (e.g. regulator_threat)")
    where = f"rule '{rule_id}'"
    kind = table.get("kind", "words")
    if kind not in KINDS:
        _fail(where, f"'kind' must be one of {', '.join(KINDS)}, not {kind!r}")
    _known_fields(where, table, _RULE_FIELDS[kind])
    flag = table.get("flag")
    if flag is not None and flag not in BOT_FLAGS:
        _fail(where, f"'flag' must be one of {', '.join(BOT_FLAGS)}, not {flag!r}")
    name_en, name_zh = _text(where, table, "name_en"), _text(where, table, "name_zh")
    rule = Rule(rule_id, name_en, name_zh, _integer(where, table, "weight"), flag, kind)
    if kind == "amount":
        at_least = table.get("at_least")
        if isinstance(at_least, bool) or not isinstance(at_least, int | float) or at_least <= 0:
            _fail(where, "'at_least' must be a positive number (the smallest sum that counts as large)")
        return dataclasses.replace(rule, at_least=Decimal(str(at_least)))
    if kind == "repeat":
        window = _integer(where, table, "window_days")
        if window <= 0:
            _fail(where, "'window_days' must be a positive number of days")
        return dataclasses.replace(rule, window_days=window)
    patterns = tuple(_patterns(where, table))
    if not patterns:
        _fail(where, "has no words: give zh.keywords, en.keywords, en.acronyms, zh.regex or en.regex")
    return dataclasses.replace(rule, patterns=patterns)


def _patterns(where: str, table: dict[str, Any]) -> Iterator[re.Pattern[str]]:
    for language, allowed in _LANGUAGE_FIELDS.items():
        section = table.get(language, {})
        if not isinstance(section, dict):
            _fail(where, f"'{language}' must hold keywords or regex lists")
        _known_fields(where, section, allowed, prefix=f"{language}.")
        for field in sorted(section):
            entries = _strings(where, f"{language}.{field}", section[field])
            if field == "regex":
                for i, expression in enumerate(entries):
                    yield _regex(f"{where}: {language}.regex[{i}]", expression, language)
            elif entries:
                yield _word_list(language, field, entries)


def _word_list(language: str, field: str, words: list[str]) -> re.Pattern[str]:
    # Longest first, so "attorney general" wins over "attorney" and is quoted whole.
    words = sorted({_normalise(w) for w in words}, key=len, reverse=True)
    if language == "zh":
        # Chinese is found anywhere; digits or Latin letters at a word's edge must still stand apart (12386 is
        # not inside an account number 6212386...).
        return re.compile("|".join(_latin_edges(re.escape(w), w) for w in words), re.IGNORECASE)
    alternatives = "|".join(r"\s+".join(re.escape(part) for part in w.split()) for w in words)
    plural = "(?:e?s)?" if field == "keywords" else ""
    flags = re.IGNORECASE if field == "keywords" else 0
    return re.compile(f"{_LATIN_EDGE_BEFORE}(?:{alternatives}){plural}{_LATIN_EDGE_AFTER}", flags)


def _latin_edges(escaped: str, word: str) -> str:
    before = _LATIN_EDGE_BEFORE if word[0].isascii() and word[0].isalnum() else ""
    after = _LATIN_EDGE_AFTER if word[-1].isascii() and word[-1].isalnum() else ""
    return f"{before}{escaped}{after}"


def _regex(where: str, expression: str, language: str) -> re.Pattern[str]:
    try:
        pattern = re.compile(expression, re.IGNORECASE | re.ASCII if language == "en" else 0)
    except re.error as error:
        _fail(where, f"'{expression}' is not a valid regular expression: {error}")
    if pattern.fullmatch(""):
        _fail(where, f"'{expression}' matches empty text, so it would fire on every complaint")
    return pattern


def _check_unique(rules: tuple[Rule, ...]) -> None:
    seen_ids: set[str] = set()
    flag_owner: dict[str, str] = {}
    for rule in rules:
        if rule.id in seen_ids:
            _fail(f"rule '{rule.id}'", "this id is used by two rules")
        seen_ids.add(rule.id)
        if rule.flag and rule.flag in flag_owner:
            _fail(f"rule '{rule.id}'", f"flag '{rule.flag}' is already used by rule '{flag_owner[rule.flag]}'")
        if rule.flag:
            flag_owner[rule.flag] = rule.id
    if sum(rule.kind == "repeat" for rule in rules) > 1:
        _fail("the file", "more than one rule has kind = \"repeat\"")


def _known_fields(where: str, table: dict[str, Any], allowed: set[str], prefix: str = "") -> None:
    unknown = sorted(set(table) - allowed)
    if unknown:
        known = ", ".join(prefix + name for name in sorted(allowed))
        _fail(where, f"unknown field '{prefix}{unknown[0]}' (known fields: {known})")


def _integer(where: str, table: dict[str, Any], name: str) -> int:
    value = table.get(name)
    if value is None:
        _fail(where, f"'{name}' is missing")
    if isinstance(value, bool) or not isinstance(value, int):
        _fail(where, f"'{name}' must be a whole number, not {value!r}")
    return value


def _text(where: str, table: dict[str, Any], name: str) -> str:
    value = table.get(name)
    if not isinstance(value, str) or not value.strip():
        _fail(where, f"'{name}' is missing or empty")
    return value.strip()


def _strings(where: str, field: str, value: object) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        _fail(where, f"'{field}' must be a list of non-empty strings in quotes")
    return [v.strip() for v in value]


# ---------------------------------------------------------------------------------------------------------------
# Sums of money, in English and Chinese


def amounts(text: str) -> list[Decimal]:
    """The sums of money ``text`` mentions, in order: "$12,500.00", "USD 250,000", "150k", "1.2 million", "$2m",
    "5万元", "50万", "1.5亿", "三十万", "200000元", "人民币12万", "几十万" (read as its least, 200,000).

    A number counts when a currency, k/million/billion or 万/亿 says it is money; phone, account and order
    numbers, dates and counts ("10 days", "5万股") do not. Currencies are not converted.
    """
    return [value for _, value in _amounts(_normalise(text))]


_ZH_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8,
              "九": 9, "几": 2, "数": 2}
_ZH_UNITS = {"十": 10, "百": 100, "千": 1000}
_ZH_AMOUNT = re.compile(
    r"(?P<prefix>人民币|RMB|CNY|¥)?\s*(?<!\d)(?<!\d\.)"
    r"(?P<number>(?:\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?|[一二两三四五六七八九十]|[几数](?=[十百千万亿]))"
    r"(?:\d+(?:\.\d+)?|[零〇一二两三四五六七八九十百千万亿多余])*)"
    r"\s*(?P<currency>元|块|圆|美元|港元|港币|美金|欧元|英镑)?",
    re.IGNORECASE,
)
# After 万/亿, these say the number counts something other than money (5万股 shares, 3万人 people), or it is an
# idiom: 十万火急 "most urgent", 十万八千里 "miles apart".
_ZH_NOT_MONEY = (*"人次股个名户位条份件家倍岁天年月日号张笔台套里米斤吨字", "火急", "公里")

_EN_SCALES = {"k": 10**3, "thousand": 10**3, "m": 10**6, "mm": 10**6, "mn": 10**6, "million": 10**6,
              "b": 10**9, "bn": 10**9, "billion": 10**9}
_EN_AMOUNT = re.compile(
    r"(?:(?P<prefix>US\$|HK\$|[$£€¥]|\b(?:USD|HKD|GBP|EUR|CNY|RMB)\b)\s?|(?<!\w)(?<!\d\.))"
    r"(?P<number>\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?)"
    r"(?:(?P<scale>\s?(?:thousand|million|billion)|mm|mn|bn|[kmb])(?![a-z]))?"
    r"(?:\s?(?P<suffix>dollars?|bucks|USD|HKD|GBP|EUR|CNY|RMB|yuan|pounds?|euros?)\b)?",
    re.IGNORECASE | re.ASCII,
)
# Without a currency, "150k points" or "2 million customers" count things, and 401k is a pension plan.
_EN_NOT_MONEY = re.compile(
    r"\s*(?:miles|km|kilomet|people|customers|users|members|accounts|calls|times|views|followers|shares|points|"
    r"steps|records|emails|letters|minutes|hours|days)",
    re.IGNORECASE,
)


def _amounts(text: str) -> list[tuple[int, Decimal]]:
    """(position, value) of every sum in normalised ``text``; where two readings overlap, the Chinese one wins."""
    found: list[tuple[int, int, Decimal]] = []
    for start, end, value in (*_zh_amounts(text), *_en_amounts(text)):
        if all(end <= s or start >= e for s, e, _ in found):
            found.append((start, end, value))
    return sorted((start, value) for start, _, value in found)


def _zh_amounts(text: str) -> Iterator[tuple[int, int, Decimal]]:
    for m in _ZH_AMOUNT.finditer(text):
        number = m["number"]
        has_currency = bool(m["prefix"] or m["currency"])
        has_magnitude = ("万" in number or "亿" in number) and not text.startswith(_ZH_NOT_MONEY, m.end())
        if has_currency or has_magnitude:
            yield m.start(), m.end(), _zh_value(number)


def _zh_value(number: str) -> Decimal:
    """一亿二千万 -> 120000000, 1.5亿, 12万5千, 三万五 (35,000: a digit after a unit is one step below it)."""
    total = section = small = Decimal(0)
    digit: Decimal | None = None
    unit_before = 0  # the unit just before the current digit, for 三万五
    for token in re.findall(r"\d+(?:,\d{3})*(?:\.\d+)?|.", number):
        if token in _ZH_DIGITS or token[0].isdigit():
            digit = Decimal(_ZH_DIGITS[token]) if token in _ZH_DIGITS else Decimal(token.replace(",", ""))
            unit_before = unit_before if len(token) == 1 and token not in "零〇" else 0
            continue
        if token in _ZH_UNITS:
            small += (1 if digit is None else digit) * _ZH_UNITS[token]
            unit_before = _ZH_UNITS[token]
        elif token == "万":
            section = (section + small + (digit or 0)) * 10**4
            small, unit_before = Decimal(0), 10**4
        elif token == "亿":
            total = (total + section + small + (digit or 0)) * 10**8
            section = small = Decimal(0)
            unit_before = 10**8
        else:  # 多, 余: "more than", the number before is the least
            unit_before = 0
        digit = None
    if digit is not None and unit_before >= 100:
        digit *= unit_before // 10
    return total + section + small + (digit or 0)


def _en_amounts(text: str) -> Iterator[tuple[int, int, Decimal]]:
    for m in _EN_AMOUNT.finditer(text):
        scale = (m["scale"] or "").strip().lower()
        has_currency = bool(m["prefix"] or m["suffix"])
        if not has_currency and (
            scale not in ("k", "thousand", "million", "billion")
            or _EN_NOT_MONEY.match(text, m.end())
            or (scale == "k" and m["number"] in ("401", "403", "457"))
        ):
            continue
        yield m.start(), m.end(), Decimal(m["number"].replace(",", "")) * _EN_SCALES.get(scale, 1)


def _format_amount(value: Decimal) -> str:
    return f"{int(value):,}" if value == value.to_integral_value() else f"{value:,.2f}"


# ---------------------------------------------------------------------------------------------------------------


def _normalise(text: str) -> str:
    """Full-width forms as their ordinary ones, and Traditional characters as Simplified (the rules' words are
    written in Simplified: 證監會 is 证监会)."""
    return str(_to_simplified().convert(unicodedata.normalize("NFKC", text)))


@functools.cache
def _to_simplified() -> OpenCC:
    return OpenCC("t2s")


_PLURAL_END = re.compile(r"(?<=[a-z])e?s$")


def _distinct(items: Iterable[str]) -> tuple[str, ...]:
    """The first few different items; "Court" and "courts" are the same word to a reader."""
    seen: dict[str, str] = {}
    for item in items:
        key = _PLURAL_END.sub("", item.casefold())
        if item and key not in seen:
            seen[key] = item
    return tuple(seen.values())[:MAX_EVIDENCE]


# What the bot flags during the conversation, in the words of the packaged rules.
FLAG_REASONS = default_rules().flag_reasons

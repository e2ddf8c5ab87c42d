"""Risk grading from risk_rules.toml: amounts, rule files, real CFPB narratives and Chinese complaints."""

from __future__ import annotations

import csv
import json
import re
from collections import Counter
from decimal import Decimal
from pathlib import Path

import pytest

from handoff import risk
from handoff.risk import FLAG_REASONS, PRIORITY_BY_GRADE, RiskRules, amounts, default_rules, grade, load_rules
from handoff.sla import Period

CORPUS = Path(__file__).resolve().parents[3] / "shared" / "corpus"
CFPB_SAMPLE = CORPUS / "complaints" / "cfpb_ccdb_sample_100_narratives.csv"
CHINESE_COMPLAINTS = Path(__file__).with_name("chinese_complaints.json")
PACKAGED = Path(risk.__file__).with_name("risk_rules.toml")
RULE_IDS = {"regulator_threat", "media_threat", "legal_action", "fraud", "vulnerable_customer", "anger",
            "large_sum", "repeat_complainant"}


def rules_of(text: str, flags: tuple[str, ...] = (), *, repeat: bool = False) -> set[str]:
    return set(grade(text, flags, repeat=repeat).rules)


def print_distribution(title: str, grades: Counter[str], fired: Counter[str]) -> None:
    print(f"\n{title}: " + ", ".join(f"{level} {grades[level]}" for level in ("high", "medium", "low")))
    print("  rules fired: " + ", ".join(f"{rule_id} {n}" for rule_id, n in fired.most_common()))


# ---------------------------------------------------------------------------------------------------------------
# The packaged rules


def test_packaged_rules_load_with_the_documented_defaults() -> None:
    rules = default_rules()
    assert {rule.id for rule in rules.rules} == RULE_IDS
    assert (rules.high, rules.medium, rules.repeat_window_days) == (50, 20, 90)
    assert rules.rule("large_sum").at_least == Decimal(100000)
    assert rules.rule("regulator_threat").name_zh == "威胁向监管投诉"
    assert default_rules() is rules  # loaded once


def test_bot_flags_keep_their_reason_names() -> None:
    assert dict(FLAG_REASONS) == {
        "regulator": "regulator threat",
        "media": "media threat",
        "lawyer": "legal action",
        "fraud": "suspected fraud or unauthorised trade",
        "vulnerable": "vulnerable customer",
        "anger": "anger",
    }
    assert set(PRIORITY_BY_GRADE) == {"high", "medium", "low"}


@pytest.mark.parametrize("flag", sorted(FLAG_REASONS))
def test_a_bot_flag_fires_its_rule_without_the_words(flag: str) -> None:
    assessed = grade("the app was slow", (flag,))
    rule = default_rules().rule(assessed.rules[0])
    assert (rule.flag, assessed.reasons) == (flag, (f"{FLAG_REASONS[flag]}: flagged by the bot",))
    assert assessed.score == rule.weight


def test_a_flag_and_the_words_count_once_and_unknown_flags_are_ignored() -> None:
    assert grade("我要去证监会投诉", ("regulator", "no_such_flag")).score == 50
    assert grade("我要去证监会投诉", ("regulator",)).reasons == ("regulator threat: 证监会",)


def test_a_repeat_complainant_adds_the_repeat_rule() -> None:
    first, again = grade("the transfer is late"), grade("the transfer is late", repeat=True)
    assert (first.grade, first.rules) == ("low", ())
    assert (again.grade, again.rules, again.score) == ("medium", ("repeat_complainant",), 20)
    assert again.reasons == ("repeat complainant: complained before within 90 days",)
    assert grade("我要找律师", ("anger",), repeat=True).rules == ("legal_action", "anger", "repeat_complainant")


def test_reasons_name_the_rule_and_the_words_found() -> None:
    assessed = grade("我要去证监会投诉你们，12386也打过了，骗子！")
    assert assessed.reasons == ("regulator threat: 证监会, 12386", "anger: 骗子")
    assert assessed.to_dict() == {"grade": "high", "score": 60, "reasons": list(assessed.reasons),
                                  "rules": ["regulator_threat", "anger"]}
    many = grade("lawyer, lawyers, attorney, court, courts, lawsuit, sue")
    assert many.reasons == ("legal action: lawyer, attorney, court",)  # a plural is the same word; at most 3


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("I will talk to my lawyer about this", {"legal_action"}),
        ("I'll SUE you", {"legal_action"}),
        ("the issue is the tissue", set()),  # whole words only
        ("I wrote to the Attorney General", {"regulator_threat"}),  # not also legal action
        ("my attorney and the attorney general", {"regulator_threat", "legal_action"}),
        ("the SEC will hear of this", {"regulator_threat"}),
        ("wait a sec", set()),  # SEC is an acronym: capitals only
        ("我要找ＳＥＣ和ＦＣＡ", {"regulator_threat"}),  # full-width letters, no spaces around
        ("账号62123860001", set()),  # 12386 inside an account number is not the hotline
        ("打１２３８６", {"regulator_threat"}),
        ("my 70-year-old mother", {"vulnerable_customer"}),
        ("my 45-year-old brother", set()),
        ("我爸八十多岁了", {"vulnerable_customer"}),
        ("我是80后", set()),
        ("this is f***ing ridiculous", {"anger"}),
        ("你们的良心被狗吃了吗", {"anger"}),
        ("把我们散户当韭菜割", {"anger"}),
        ("凭良心说，客户经理人不错", set()),  # conscience invoked, not questioned
        ("press 1 for english", set()),
        ("I will go to the press", {"media_threat"}),
        ("if this isn't sorted today i'm reporting you guys to MAS", {"regulator_threat"}),
        ("mas o menos", set()),
        ("If this isn't sorted today I'm going to the papers", {"media_threat"}),
        ("I'll be putting it all over Twitter as well", {"media_threat"}),
        ("I will post this on facebook, enough is enough", {"media_threat"}),
        ("answer me properly or this goes on LIHKG tonight", {"media_threat"}),
        ("saw an ad on Facebook with your logo and they posted on Instagram too", set()),
        ("I read it in the papers", set()),
        ("money was taken without my permission", {"fraud"}),
        ("I did not authorize this trade", {"fraud"}),
    ],
)
def test_words_are_found_as_the_rules_file_says(text: str, expected: set[str]) -> None:
    assert rules_of(text) == expected


# ---------------------------------------------------------------------------------------------------------------
# Amounts


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("$12,500.00", [12500]),
        ("USD 250,000", [250000]),
        ("250000USD", [250000]),
        ("150k", [150000]),
        ("$150K", [150000]),
        ("1.2 million", [1200000]),
        ("$2m", [2000000]),
        ("£50,000 and €3,000", [50000, 3000]),
        ("{$1100.00}", [1100]),  # CFPB style
        ("500 dollars", [500]),
        ("5万元", [50000]),
        ("50万", [500000]),
        ("1.5亿", [150000000]),
        ("三十万", [300000]),
        ("五十万元", [500000]),
        ("200000元", [200000]),
        ("人民币12万", [120000]),
        ("RMB 300,000元", [300000]),
        ("¥30,000", [30000]),
        ("￥３０，０００", [30000]),  # full-width
        ("１２万元", [120000]),
        ("两千元", [2000]),
        ("一百零五元", [105]),
        ("一亿二千万", [120000000]),
        ("十二万五千", [125000]),
        ("三万五", [35000]),  # a digit after 万 is thousands
        ("1万2000元", [12000]),
        ("十多万", [100000]),  # "more than" 10万: the least
        ("几十万", [200000]),  # "some tens of" 万: the least
        ("亏了30万，又借了5万元", [300000, 50000]),
        ("转了5000，300元手续费", [300]),  # a clause comma is not a thousands separator
    ],
)
def test_amounts_are_read_in_both_languages(text: str, expected: list[int]) -> None:
    assert amounts(text) == [Decimal(n) for n in expected]


@pytest.mark.parametrize(
    "text",
    [
        "13800138000",
        "call me on +1 555 0100",
        "账号6222021234567890123",
        "account ending 4821",
        "2026年3月5日",
        "XX/XX/2019 and 03/05/2026",
        "10 days",
        "10天",
        "in 2 months, at 5am",
        "order #12345",
        "5万股",  # shares, not money
        "3万人",
        "十万火急",  # an idiom: "most urgent"
        "千万别买",  # 千万 "by all means"
        "my 401k",
        "150k points",
        "2 million customers",
        "$XXXX",
    ],
)
def test_numbers_that_are_not_money_are_not_amounts(text: str) -> None:
    assert amounts(text) == []


def test_the_large_sum_reason_says_the_amount() -> None:
    assert grade("I lost $150,000.00 in this account").reasons == ("large sum: 150,000",)
    assert grade("我在贵行的1.2亿元存款").reasons == ("large sum: 120,000,000",)
    assert grade("损失了5万元").rules == ()
    assert grade("损失了10万元").rules == ("large_sum",)  # at_least: 100,000 counts


# ---------------------------------------------------------------------------------------------------------------
# Editing the rules file


def edited_rules(tmp_path: Path, old: str, new: str) -> Path:
    text = PACKAGED.read_text(encoding="utf-8")
    assert old in text, f"the packaged rules changed: {old!r} not found"
    path = tmp_path / "risk_rules.toml"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return path


def test_compliance_can_add_a_keyword_without_touching_code(tmp_path: Path) -> None:
    text = "再不处理我就去黑猫投诉发帖"
    assert grade(text).grade == "low"
    media_words = 'zh.keywords = [\n    "媒体",'
    rules = load_rules(edited_rules(tmp_path, media_words, media_words.replace('"媒体"', '"黑猫投诉", "媒体"')))
    assert rules.grade(text).reasons == ("media threat: 黑猫投诉",)
    assert grade(text, rules=rules).grade == "medium"
    assert grade(text).grade == "low"  # the packaged rules are untouched


def test_compliance_can_change_thresholds_and_the_large_sum(tmp_path: Path) -> None:
    path = edited_rules(tmp_path, "at_least = 100000", "at_least = 30000")
    path.write_text(path.read_text(encoding="utf-8").replace("medium = 20", "medium = 35", 1), encoding="utf-8")
    rules = load_rules(path)
    assert rules.grade("损失了5万元，垃圾") == risk.Risk(
        "medium", 40, ("anger: 垃圾", "large sum: 50,000"), ("anger", "large_sum"))
    assert grade("损失了5万元，垃圾").grade == "low"
    assert (rules.grade("垃圾", repeat=True).grade, grade("垃圾", repeat=True).grade) == ("low", "medium")


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("weight = 40\nflag = \"media\"", "weigth = 40\nflag = \"media\"",
         r"rule 'media_threat': unknown field 'weigth'"),
        ("weight = 40\nflag = \"media\"", "flag = \"media\"", r"rule 'media_threat': 'weight' is missing"),
        ("weight = 10\nflag = \"anger\"", "weight = \"ten\"\nflag = \"anger\"",
         r"rule 'anger': 'weight' must be a whole number, not 'ten'"),
        ("en.regex = ['\\b(?:the|to the) press\\b'", "en.regex = ['\\b(?:the|to the press\\b'",
         r"rule 'media_threat': en\.regex\[0\]: .* is not a valid regular expression: missing \)"),
        ("en.regex = ['\\b(?:the|to the) press\\b'", "en.regex = ['(?:press)?'",
         r"rule 'media_threat': en\.regex\[0\]: .* matches empty text"),
        ("zh.keywords = [\n    \"媒体\",", "zh.keyword = [\n    \"媒体\",",
         r"rule 'media_threat': unknown field 'zh\.keyword' \(known fields: zh\.keywords, zh\.regex\)"),
        ("flag = \"media\"", "flag = \"press\"", r"rule 'media_threat': 'flag' must be one of regulator, media"),
        ("id = \"media_threat\"", "id = \"anger\"", r"rule 'anger': this id is used by two rules"),
        ("id = \"media_threat\"", "id = \"Media Threat\"", r"rule #2: 'id' must be lower-case"),
        ("weight = 30\nkind = \"amount\"", "weight = 30\nkind = \"amounts\"",
         r"rule 'large_sum': 'kind' must be one of words, amount, repeat, not 'amounts'"),
        ("at_least = 100000", "at_least = \"100,000\"", r"rule 'large_sum': 'at_least' must be a positive number"),
        ("window_days = 90", "window_days = 0", r"rule 'repeat_complainant': 'window_days' must be a positive"),
        ("high = 50 ", "high = 20 ", r"\[thresholds\]: high \(20\) must be greater than medium \(20\)"),
        ("[thresholds]", "[threshold]", r"the file: unknown field 'threshold'"),
        ("name_zh = \"情绪激动\"", "name_zh = \"情绪激动", r"not valid TOML"),
    ],
)
def test_a_mistake_in_the_rules_file_is_named(tmp_path: Path, old: str, new: str, message: str) -> None:
    path = edited_rules(tmp_path, old, new)
    with pytest.raises(ValueError, match=message) as raised:
        load_rules(path)
    assert str(path) in str(raised.value)


def test_another_rules_file_is_graded_with_its_own_rules(tmp_path: Path) -> None:
    path = tmp_path / "tiny.toml"
    path.write_text(
        '[thresholds]\nhigh = 5\nmedium = 1\n\n'
        '[[rules]]\nid = "late"\nname_en = "late"\nname_zh = "延误"\nweight = 5\nen.keywords = ["late"]\n',
        encoding="utf-8",
    )
    rules = load_rules(path)
    assert isinstance(rules, RiskRules) and rules.repeat_window_days == 0
    assert rules.grade("the transfer is late", ("regulator",), repeat=True).to_dict() == {
        "grade": "high", "score": 5, "reasons": ["late: late"], "rules": ["late"]}


# ---------------------------------------------------------------------------------------------------------------
# Real complaints


def cfpb_narratives() -> dict[str, str]:
    if not CFPB_SAMPLE.is_file():
        pytest.skip(f"the shared corpus is not here: {CFPB_SAMPLE}")
    with CFPB_SAMPLE.open(encoding="utf-8", newline="") as file:
        return {row["Complaint ID"]: row["Consumer complaint narrative"] for row in csv.DictReader(file)}


def test_the_cfpb_sample_grades_sensibly() -> None:
    narratives = cfpb_narratives()
    assert len(narratives) == 100
    names = {rule.id: rule.name_en for rule in default_rules().rules}
    graded = {complaint_id: grade(text) for complaint_id, text in narratives.items()}
    grades, fired = Counter(r.grade for r in graded.values()), Counter(i for r in graded.values() for i in r.rules)
    print_distribution("CFPB sample (100 English narratives)", grades, fired)

    for assessed in graded.values():
        assert set(assessed.rules) <= RULE_IDS
        for rule_id, reason in zip(assessed.rules, assessed.reasons, strict=True):
            assert reason.startswith(names[rule_id] + ": ")
    for complaint_id, text in narratives.items():
        if re.search(r"\bunauthori[sz]ed\b|\bidentity theft\b", text, re.I):
            assert "fraud" in graded[complaint_id].rules, complaint_id
        if re.search(r"\bCFPB\b|\battorney general\b", text, re.I):
            assert "regulator_threat" in graded[complaint_id].rules, complaint_id
    # No rule fires on most complaints, and every grade occurs: the weights still separate cases.
    assert max(fired.values()) <= 50 and all(grades[level] >= 10 for level in ("high", "medium", "low"))


@pytest.mark.parametrize(
    ("complaint_id", "level", "expected"),
    [
        ("3685228", "high", {"regulator_threat", "fraud"}),  # identity theft; Attorney General, FTC, CFPB
        ("2932392", "high", {"media_threat", "legal_action", "fraud"}),  # threatens "an online public press release"
        ("2867112", "low", {"anger"}),  # "I'm furious!" about a debt on the credit report
        ("3539651", "high", {"fraud", "anger"}),  # "This is a huge scam ... is ridiculous"
        ("2915852", "medium", {"large_sum"}),  # "You have currently paid {$110000.00} in interest"
        ("3906862", "medium", {"legal_action"}),  # a collector threatens a lawyer
        ("2886389", "high", {"regulator_threat", "vulnerable_customer"}),  # "the most vulnerable time of my life"
        ("1510148", "high", {"fraud"}),  # "an unauthorized and fraudulent credit inquiry"
        ("2436711", "low", set()),  # a calm request to correct a report
    ],
)
def test_cfpb_spot_checks(complaint_id: str, level: str, expected: set[str]) -> None:
    assessed = grade(cfpb_narratives()[complaint_id])
    assert (assessed.grade, set(assessed.rules)) == (level, expected)


def test_the_cfpb_large_sum_reason_quotes_the_narrative() -> None:
    assert grade(cfpb_narratives()["2915852"]).reasons == ("large sum: 110,000",)


def test_chinese_complaints_grade_as_expected() -> None:
    cases = json.loads(CHINESE_COMPLAINTS.read_text(encoding="utf-8"))
    assert len(cases) >= 30
    grades: Counter[str] = Counter()
    fired: Counter[str] = Counter()
    wrong = []
    for case in cases:
        assessed = grade(case["text"], tuple(case.get("flags", ())), repeat=case.get("repeat", False))
        grades[assessed.grade] += 1
        fired.update(assessed.rules)
        assert set(case["rules"]) <= RULE_IDS, case["id"]
        if (assessed.grade, sorted(assessed.rules)) != (case["grade"], sorted(case["rules"])):
            wrong.append(f"{case['id']}: got {assessed.grade} {list(assessed.reasons)}, "
                         f"expected {case['grade']} {case['rules']}: {case['text']}")
    print_distribution(f"Chinese complaints ({len(cases)})", grades, fired)
    assert not wrong, "\n".join(wrong)


def test_deadline_tables_set_other_deadlines_for_some_products_or_natures(tmp_path: Path) -> None:
    text = (Path(__file__).resolve().parents[2] / "handoff" / "risk_rules.toml").read_text(encoding="utf-8")
    path = tmp_path / "rules.toml"
    path.write_text(text + '\n[[deadlines]]\nnatures = ["service_environment"]\nrespond = "24 hours"\n'
                    '\n[[deadlines]]\nproducts = ["margin_trading"]\nreturn_visit = "3 calendar days"\n',
                    encoding="utf-8")
    rules = load_rules(path)
    assert rules.deadlines_for(None, "service_environment") == {"respond": Period(24, "hours")}
    assert rules.deadlines_for("margin_trading", "attitude") == {"return_visit": Period(3, "calendar_days")}
    assert rules.deadlines_for("funds_wealth", "product") == {}
    for wrong in ('respond = "soon"', 'respond = "0 hours"', 'weather = "2 hours"'):
        path.write_text(text + f'\n[[deadlines]]\nnatures = ["process"]\n{wrong}\n', encoding="utf-8")
        with pytest.raises(ValueError, match=r"\[\[deadlines\]\] #1"):
            load_rules(path)


def test_a_complaint_in_traditional_characters_is_graded_like_one_in_simplified() -> None:
    for simplified, traditional in (("我要去证监会投诉你们", "我要去證監會投訴你們"),
                                    ("你们这帮骗子，我要找媒体曝光", "你們這幫騙子，我要找媒體曝光")):
        assert grade(traditional).to_dict() == grade(simplified).to_dict()
        assert grade(traditional).grade != "low"

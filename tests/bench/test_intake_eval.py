"""The intake evaluation is an honest instrument: its customers read every question the bot asks, and each
measure passes and fails where a complaint handler reading the case would say it does."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from datetime import date
from typing import Any

import pytest

from bench import intake_eval as ev
from gateway import supervisor

TODAY = date(2026, 12, 7)  # a Monday
BOT_PYTHON = supervisor.BOT_DIR / ".venv" / "bin" / "python"

# Every question of the bot's form: what a customer hears first in it, and what else it may ask.
STORY_PARTS = {"story", "when", "where", "who", "amount", "desired"}
QUESTIONS: dict[str, tuple[str, set[str]]] = {
    "utter_greet": ("offer", {"offer"}),
    "utter_ask_customer_name": ("name", {"name"}),
    "utter_ask_phone": ("contact", {"contact"}),
    "utter_ask_description": ("story", STORY_PARTS),
    "utter_ask_product": ("product", {"product"}),
    "utter_ask_incident_time": ("when", {"when"}),
    "utter_ask_incident_time_and_resolution": ("when", {"when", "desired"}),
    "utter_ask_desired_resolution": ("desired", {"desired"}),
    "utter_ask_case_id": ("case", {"case"}),
    "utter_invalid_customer_name": ("name", {"name"}),
    "utter_invalid_phone": ("contact", {"contact", "email"}),  # "or give an email address instead": either
    "utter_invalid_description": ("story", STORY_PARTS),
    "utter_invalid_product": ("product", {"product"}),
    "utter_invalid_incident_time": ("when", {"when"}),
}


@pytest.fixture(scope="module")
def responses() -> dict[str, list[dict[str, Any]]]:
    """domain.yml's responses, read by the bot's own YAML library."""
    code = "import json, yaml; print(json.dumps(yaml.safe_load(open('domain.yml'))['responses']))"
    result = subprocess.run([str(BOT_PYTHON), "-c", code], cwd=supervisor.BOT_DIR, text=True, capture_output=True,
                            timeout=120, check=True)
    loaded: dict[str, list[dict[str, Any]]] = json.loads(result.stdout)
    return loaded


def customer(**changes: Any) -> dict[str, Any]:
    """A Chinese customer of the evaluation's own file, changed as the test needs."""
    base = json.loads((ev.DATA / "customers_zh.json").read_text(encoding="utf-8"))[0]
    for key, value in changes.items():
        target = base["facts"] if key in base["facts"] else base
        target[key] = value
    return dict(base)


def outcome(case: dict[str, Any] | None, transcript: list[dict[str, Any]] | None = None,
            revealed: set[str] | None = None, **changes: Any) -> ev.Outcome:
    return ev.Outcome(customer(**changes), {"story"} if revealed is None else revealed, transcript or [], case, TODAY,
                      TODAY)


def test_the_customer_hears_every_question_of_the_bots_form_in_both_languages(
        responses: dict[str, list[dict[str, Any]]]) -> None:
    for name, (first, allowed) in QUESTIONS.items():
        for variant in responses[name]:
            kinds = ev.asked(variant["text"], variant.get("buttons", []))
            said_first = "contact" if kinds[:1] == ["email"] else kinds[0]  # the same answer: a contact
            assert said_first == first and set(kinds) <= allowed, (name, variant["text"], kinds)


def test_the_customer_presses_the_button_of_their_product_and_gives_each_fact_once() -> None:
    simulated = ev.Simulated(customer(thorough=False), random.Random(1))
    buttons = [{"title": "融资融券", "payload": "融资融券"}, {"title": "基金理财", "payload": "基金理财"}]
    assert simulated.answer("请问这件事涉及哪项业务？", buttons) == "融资融券"
    assert simulated.answer("请问您怎么称呼？", []) in ("王建国", "我叫王建国")
    story = simulated.answer("请您描述一下事情的经过：发生了什么、大概在什么时间，以及您希望我们如何处理。", [])
    assert story == simulated.facts["story"]  # a terse customer answers the first part only
    assert simulated.answer("非常理解您现在的心情。", []) == "13912345678"  # not a question: the next fact


def test_a_customer_without_contact_refuses_in_other_words_the_second_time() -> None:
    simulated = ev.Simulated(customer(contact={"kind": "none", "phone": None, "email": None,
                                               "email_midway": False, "bare": True}), random.Random(2))
    first = simulated.answer("请问投诉处理专员可以通过哪个电话号码（或电子邮箱）联系您？", [])
    second = simulated.answer("抱歉，这个号码似乎不完整。", [])
    assert first in ev.CANNED["no_contact"]["zh"] and second in ev.CANNED["no_contact_again"]["zh"]


def test_relative_dates_mean_what_the_customer_means() -> None:
    assert ev.expected_date("days_ago:1", TODAY) == "2026-12-06"
    assert ev.expected_date("last_weekday:4", TODAY) == "2026-12-04"  # "last Friday"
    assert ev.expected_date("last_weekday:0", TODAY) == "2026-11-30"  # "last Monday" on a Monday: a week ago
    assert ev.expected_date("last_week:4", TODAY) == "2026-12-04"  # 上周五
    assert ev.expected_date("last_week:4", date(2026, 12, 11)) == "2026-12-04"  # 上周五 said on a Friday
    assert ev.expected_date("md:12-22", TODAY) == "2025-12-22"  # never in the future
    assert ev.expected_date("months_ago:1", date(2026, 1, 15)) == "2025-12"
    assert ev.expected_date("2025-11-30", TODAY) == "2025-11-30"


def test_the_date_needs_the_time_when_the_customer_said_one_and_the_month_when_they_said_a_month() -> None:
    said = {"text": "上周五下午两点", "expected": "last_week:4", "time": "14:00"}
    told = {"story", "when"}
    assert ev.score_date(outcome({"complaint": {"incident_time": "2026-12-04T14:00"}}, revealed=told, time=said))
    assert not ev.score_date(outcome({"complaint": {"incident_time": "2026-12-04T02:00"}}, revealed=told, time=said))
    # Never asked when, the customer never said the clock: the day their story told is all there is to judge.
    assert ev.score_date(outcome({"complaint": {"incident_time": "2026-12-04"}}, time=said))
    month = {"text": "上个月", "expected": "months_ago:1", "time": None}
    assert ev.score_date(outcome({"complaint": {"incident_time": "2026-11"}}, time=month))
    assert not ev.score_date(outcome({"complaint": {"incident_time": "上个月"}}, time=month))


def test_the_story_is_held_when_a_third_of_its_words_or_character_pairs_are() -> None:
    assert ev.content_words("I went to the XXXX branch and they refused my withdrawal") == {
        "went", "branch", "refused", "withdrawal"}
    assert ev.character_pairs("强制平仓了") == {"强制", "制平", "平仓", "仓了"}
    story = "我的两融账户被你们强制平仓了，事先一个电话一条短信都没有"
    assert ev.score_story(outcome({"complaint": {"description": story[:12]}}, story=story))
    assert not ev.score_story(outcome({"complaint": {"description": "你们这帮骗子！"}}, story=story))


def test_a_surname_said_is_kept_by_the_person_named_by_it_and_nothing_else() -> None:
    people = {"text": "一个姓吕的经理", "keys": ["姓吕"]}
    answered = {"story", "who"}
    for recorded in ("吕经理", "营业部经理（姓吕）", "小吕"):
        assert ev.score_people(outcome({"complaint": {"people_involved": recorded}}, revealed=answered,
                                       people=people)), recorded
    for recorded in ("客户经理", "吕", "吕建国的同事"):
        assert not ev.score_people(outcome({"complaint": {"people_involved": recorded}}, revealed=answered,
                                           people=people)), recorded


def test_contact_counts_the_digits_typed_or_a_decline_never_a_refusal_kept_as_a_phone() -> None:
    phone = {"kind": "phone", "phone": "138 0013 8000", "phone_e164": "+8613800138000", "email": None,
             "email_midway": False, "bare": True}
    assert ev.score_contact(outcome({"customer": {"phone": "+8613800138000"}}, contact=phone))
    assert not ev.score_contact(outcome({"customer": {"phone": "+8613800138001"}}, contact=phone))
    none = {**phone, "kind": "none", "phone": None}
    assert ev.score_contact(outcome({"customer": {"phone": None, "email": None}}, contact=none))
    assert ev.score_contact(outcome({"customer": {"phone": None, "contact_declined": True}}, contact=none))
    assert not ev.score_contact(outcome({"customer": {"phone": "不想留", "email": None}}, contact=none))
    assert not ev.score_contact(outcome({"customer": {"phone": None, "contact_declined": False}}, contact=none))


def test_without_a_case_the_record_fails_and_what_was_never_said_is_not_judged() -> None:
    nothing = outcome(None, revealed=set(), place={"text": "上海浦东营业部", "keys": ["浦东"]})
    assert [ev.SCORERS[m](nothing) for m in ("story", "contact", "product", "date", "place")] == [
        False, False, False, False, None]
    told = outcome(None, revealed={"story"}, place={"text": "上海浦东营业部", "keys": ["浦东"]},
                   story="在浦东营业部办理转户，等了三个小时没人理")
    assert ev.score_place(told) is False
    # Said only in the answer to "where?", which the customer never gave: not judged.
    assert ev.score_place(outcome({"complaint": {"place": None}}, revealed={"story"},
                                  place={"text": "上海浦东营业部", "keys": ["浦东"]})) is None


def test_language_is_judged_on_the_answers_to_messages_without_language() -> None:
    assert all(ev.languageless(t) for t in ("13800138000", "zhang@qq.com", "ok", "2026.11.21", "+852 9123 4567"))
    assert not any(ev.languageless(t) for t in ("yes", "好的", "my email is a@b.com"))
    english = [{"from": "customer", "text": "zhang@qq.com"}, {"from": "bot", "text": "May I have your name?"}]
    assert ev.score_language(outcome({}, transcript=english)) is False
    chinese = [{"from": "customer", "text": "zhang@qq.com"}, {"from": "bot", "text": "请问您怎么称呼？"}]
    assert ev.score_language(outcome({}, transcript=chinese)) is True
    assert ev.score_language(outcome({}, transcript=[{"from": "bot", "text": "Hello"}])) is None


def test_a_forbidden_phrase_fails_unless_the_bot_repeats_the_customers_own_words() -> None:
    denial = [{"from": "customer", "text": "我的钱没到账"}, {"from": "bot", "text": "这不可能，请您再查一下。"}]
    assert not ev.score_forbidden(outcome({}, transcript=denial))
    quoted = [{"from": "customer", "text": "getting a refund has been impossible"},
              {"from": "bot", "text": "You said: getting a refund has been impossible."}]
    assert ev.score_forbidden(outcome({}, transcript=quoted))


def test_the_customers_are_the_ones_the_issue_asks_for() -> None:
    english = json.loads((ev.DATA / "customers_en.json").read_text(encoding="utf-8"))
    chinese = json.loads((ev.DATA / "customers_zh.json").read_text(encoding="utf-8"))
    assert len(english) == 100 and len(chinese) == 60
    assert sum(c["script"] == "Hant" for c in chinese) == 10
    products = set(ev.BUTTON_WORDS)
    for c in english + chinese:
        assert c["facts"]["product"] in products
        ev.expected_date(c["facts"]["time"]["expected"], TODAY)
    for styles in ({c["opening"]["style"] for c in english}, {c["opening"]["style"] for c in chinese}):
        assert styles == {"greeting", "headline", "anger", "threat", "question"}
    for group in (english, chinese):
        kinds = {c["contact"]["kind"] for c in group}
        assert kinds == {"phone", "email", "none"} and any(c["contact"]["email_midway"] for c in group)


PRODUCT_STORIES = {language: supervisor.BOT_DIR / "actions" / f"product_stories_{language}.json"
                   for language in ev.LANGUAGES}


def test_no_customers_story_is_in_the_bots_training_data() -> None:
    training = "".join(p.read_text(encoding="utf-8") for p in (supervisor.BOT_DIR / "data").rglob("*.yml"))
    training += "".join(p.read_text(encoding="utf-8") for p in PRODUCT_STORIES.values())
    for language in ev.LANGUAGES:
        for c in json.loads((ev.DATA / f"customers_{language}.json").read_text(encoding="utf-8")):
            for sentence in c["facts"]["story"].replace("。", ".").split("."):
                assert len(sentence) < 12 or sentence.strip() not in training, (c["id"], sentence)


@pytest.mark.parametrize("language", ev.LANGUAGES)
def test_the_product_model_learns_from_whole_sets_and_others_are_kept_to_judge_it(language: str) -> None:
    learnt = json.loads(PRODUCT_STORIES[language].read_text(encoding="utf-8"))
    stories = {s["text"] for s in learnt["stories"]}
    trained_on = set(learnt["trained_on"])
    sets = {name for name in ev.held_out_sets() if ev.load([language], None, set(), name)}
    assert trained_on < sets
    for name in sets:
        told = {c["facts"]["story"] for c in ev.load([language], None, set(), name)}
        if name in trained_on:
            assert told <= stories, name
        else:
            assert not told & stories, name


def test_the_english_customers_are_made_again_the_same_from_the_narratives(tmp_path: Any) -> None:
    script = ev.DATA / "make_customers_en.py"
    csv = supervisor.ROOT.parent / "shared" / "corpus" / "complaints" / "cfpb_ccdb_sample_100_narratives.csv"
    if not csv.exists():
        pytest.skip(f"corpus not found at {csv}")
    out = tmp_path / "customers_en.json"
    subprocess.run([sys.executable, str(script), "--csv", str(csv), "--out", str(out)], check=True,
                   capture_output=True, env={**os.environ})
    assert out.read_text(encoding="utf-8") == (ev.DATA / "customers_en.json").read_text(encoding="utf-8")

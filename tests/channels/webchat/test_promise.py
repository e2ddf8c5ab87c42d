"""The chat page's promise matches what the bot asks: each thing the page says it will ask about is a question
the bot has, in both languages, and the bot asks about nothing the page leaves out."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[3]
PAGE = (ROOT / "channels" / "webchat" / "static" / "chat.js").read_text(encoding="utf-8")
DOMAIN = yaml.safe_load((ROOT / "bot" / "domain.yml").read_text(encoding="utf-8"))

# What the page promises, in its own words, and the bot's question for it.
PROMISES = {
    "en": {"what happened": "utter_ask_description", "when": "utter_ask_incident_time",
           "where": "utter_ask_place", "who was involved": "utter_ask_people_involved",
           "how to reach you": "utter_ask_phone", "what you would like us to do": "utter_ask_desired_resolution",
           "read it back": "utter_read_back"},
    "zh": {"发生了什么": "utter_ask_description", "时间": "utter_ask_incident_time", "地点": "utter_ask_place",
           "涉及哪些人员": "utter_ask_people_involved", "如何联系您": "utter_ask_phone",
           "希望我们如何处理": "utter_ask_desired_resolution", "复述确认": "utter_read_back"},
}
# The record's questions the bot asks a customer in a chat (its name is taken as it comes: "who you are").
ASKED = {"utter_ask_description", "utter_ask_incident_time", "utter_ask_place", "utter_ask_people_involved",
         "utter_ask_phone", "utter_ask_desired_resolution", "utter_read_back"}


def promise(language: str) -> str:
    found = re.search(r"intro2: '([^']*)'", PAGE.split("zh:")[1 if language == "zh" else 0])
    assert found, f"the page has no {language} promise"
    return found.group(1)


def test_every_promise_is_a_question_the_bot_has_in_both_languages() -> None:
    for language, promised in PROMISES.items():
        text = promise(language)
        for words, question in promised.items():
            assert words in text, f"the {language} page no longer says {words!r}"
            assert question in DOMAIN["responses"], f"the bot has no {question} for {words!r}"
    assert set(PROMISES["en"].values()) == set(PROMISES["zh"].values()) == ASKED

"""The NLU's own rules after the classifiers (components/): a request for a person names one.

Run from bot/: .venv/bin/python -m unittest discover -s tests -t .
"""

from __future__ import annotations

import unittest

from components.person_intent import AskingForAPersonSaysSo
from rasa.shared.nlu.constants import INTENT, TEXT
from rasa.shared.nlu.training_data.message import Message


def intent_after(text: str, intent: str) -> str:
    message = Message(data={TEXT: text, INTENT: {"name": intent, "confidence": 0.9}})
    AskingForAPersonSaysSo().process([message])
    return str(message.get(INTENT)["name"])


class AskingForAPerson(unittest.TestCase):
    def test_help_from_someone_is_help_the_bot_gives(self) -> None:
        for text in ("Can somebody help me sort out a problem?", "I'd like someone to check my statement and ring me",
                     "Olga Petrova", "I want a proper repayment schedule"):
            self.assertEqual(intent_after(text, "request_human"), "inform", text)

    def test_a_request_for_a_person_stays_one(self) -> None:
        for text in ("转人工", "get me a human", "can I speak to someone", "operator"):
            self.assertEqual(intent_after(text, "request_human"), "request_human", text)
        self.assertEqual(intent_after("Olga Petrova", "greet"), "greet")  # other intents are not this rule's


if __name__ == "__main__":
    unittest.main()

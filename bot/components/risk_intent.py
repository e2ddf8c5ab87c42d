"""A threat or an outburst is a complaint, whatever else the words resemble.

"I'm going to the SEC" looks like "I'm going now" to the intent classifier, and "You lot are a bunch of
thieves!" like a question: neither is a goodbye, a greeting, a thank-you, a yes or no, or a question for
someone else. When the compliance team's risk words (actions/risk_words.py, the same rules the gateway grades
with) find a threat, anger or a suspected fraud in such a message, its intent becomes ``complain``, so the
customer is acknowledged and asked what happened instead of being told goodbye.
"""

from __future__ import annotations

from typing import Any

from actions.extract import find_risk_flags
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import INTENT, INTENT_NAME_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

# Intents a threat or an outburst is never; complaints, details, requests for a person and status questions
# keep theirs.
NOT_A_COMPLAINT = {"greet", "goodbye", "thank", "affirm", "deny", "out_of_scope", "nlu_fallback"}
RISK_FLAGS_OF_A_COMPLAINT = {"regulator", "media", "lawyer", "fraud", "anger"}


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=False)
class ThreatIsAComplaint(GraphComponent):
    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {}

    @classmethod
    def create(cls, config: dict[str, Any], model_storage: ModelStorage, resource: Resource,
               execution_context: ExecutionContext) -> ThreatIsAComplaint:
        return cls()

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        return training_data

    def process(self, messages: list[Message]) -> list[Message]:
        for message in messages:
            text = message.get(TEXT) or ""
            intent = message.get(INTENT) or {}
            if text.startswith("/") or intent.get(INTENT_NAME_KEY) not in NOT_A_COMPLAINT:
                continue
            if RISK_FLAGS_OF_A_COMPLAINT & set(find_risk_flags(text)):
                message.set(INTENT, {**intent, INTENT_NAME_KEY: "complain"}, add_to_output=True)
        return messages

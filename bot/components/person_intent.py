"""A request for a person says so; "can someone help me" asks for help the bot gives.

The intent classifier hears "Can someone please help me with something?", "I'd like someone to check my
statement and call me back" or even a bare name as a request for a person, and the customer would be handed
over with an empty record. A request for a person names one (人工, 客服, "a human", "an agent", "speak to
someone": actions/extract.py's ``asks_for_a_person``); any other message the classifier takes for one becomes
``inform``, so the bot records the complaint (and the customer can still ask for a person at any time).
"""

from __future__ import annotations

from typing import Any

from actions.extract import asks_for_a_person
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import INTENT, INTENT_NAME_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

REQUEST_HUMAN = "request_human"
INSTEAD = "inform"


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=False)
class AskingForAPersonSaysSo(GraphComponent):
    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {}

    @classmethod
    def create(cls, config: dict[str, Any], model_storage: ModelStorage, resource: Resource,
               execution_context: ExecutionContext) -> AskingForAPersonSaysSo:
        return cls()

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        return training_data

    def process(self, messages: list[Message]) -> list[Message]:
        for message in messages:
            text = message.get(TEXT) or ""
            intent = message.get(INTENT) or {}
            if text.startswith("/") or intent.get(INTENT_NAME_KEY) != REQUEST_HUMAN:
                continue
            if not asks_for_a_person(text):
                message.set(INTENT, {**intent, INTENT_NAME_KEY: INSTEAD}, add_to_output=True)
        return messages

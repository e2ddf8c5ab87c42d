"""Does a message tell what happened? A small trained classifier, next to the intent classifier.

``complaint.description`` holds the customer's own account of events. A greeting, a headline ("I'd like to
report a problem"), an outburst, a threat, a question, contact details, a time or a wish are not one, however
long they are. The training examples say which are: NLU blocks marked ``metadata: {account: true}``
(data/nlu/*.yml); every other example is not an account. The classifier is a logistic regression on the
same word and character n-gram features as the intents, so it adds milliseconds to training and nothing
noticeable to a turn.

Each parsed message gets ``account: {"has_account": bool, "confidence": float}`` (the probability that it
tells what happened), which the action server reads from the latest message (actions/actions.py).
"""

from __future__ import annotations

import logging
from typing import Any

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.featurizers.featurizer import Featurizer
from rasa.shared.nlu.constants import METADATA, METADATA_INTENT, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData
from scipy.sparse import csr_matrix, hstack, vstack
from sklearn.linear_model import LogisticRegression

log = logging.getLogger(__name__)

ACCOUNT = "account"  # the key in the parse data and in the training examples' metadata


def is_labelled_account(message: Message) -> bool:
    """The training label: the example's block says ``metadata: {account: true}``."""
    metadata = message.get(METADATA) or {}
    intent_metadata = metadata.get(METADATA_INTENT) if isinstance(metadata, dict) else None
    return bool(isinstance(intent_metadata, dict) and intent_metadata.get(ACCOUNT))


def features(messages: list[Message]) -> csr_matrix:
    """The sentence-level features the featurizers gave each message (as the intent classifier reads them)."""
    rows = []
    for message in messages:
        sparse = message.get_sparse_features(attribute=TEXT)[1]
        dense = message.get_dense_features(attribute=TEXT)[1]
        rows.append(hstack([csr_matrix(sparse.features if sparse else []),
                            csr_matrix(dense.features if dense else [])]))
    return vstack(rows)


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=True)
class AccountOfEventsClassifier(GraphComponent):
    @classmethod
    def required_components(cls) -> list[type]:
        return [Featurizer]

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        # threshold: the probability from which a message counts as telling what happened.
        return {"threshold": 0.5, "max_iter": 500, "C": 1.0, "random_state": 42}

    def __init__(self, config: dict[str, Any], model_storage: ModelStorage, resource: Resource) -> None:
        self.config = {**self.get_default_config(), **config}
        self.classifier: LogisticRegression | None = None
        self._model_storage = model_storage
        self._resource = resource

    @classmethod
    def create(cls, config: dict[str, Any], model_storage: ModelStorage, resource: Resource,
               execution_context: ExecutionContext) -> AccountOfEventsClassifier:
        return cls(config, model_storage, resource)

    def train(self, training_data: TrainingData) -> Resource:
        examples = [m for m in training_data.intent_examples if m.get(TEXT)]
        labels = [is_labelled_account(m) for m in examples]
        if len(set(labels)) < 2:
            log.warning("no examples marked 'account: true' (or only those): the account classifier is off")
            return self._resource
        self.classifier = LogisticRegression(C=self.config["C"], max_iter=self.config["max_iter"],
                                             class_weight="balanced", random_state=self.config["random_state"])
        self.classifier.fit(features(examples), labels)
        self.persist()
        return self._resource

    def process(self, messages: list[Message]) -> list[Message]:
        if self.classifier is None:
            return messages
        probabilities = self.classifier.predict_proba(features(messages))
        column = list(self.classifier.classes_).index(True)
        for message, row in zip(messages, probabilities, strict=True):
            confidence = float(row[column])
            message.set(ACCOUNT, {"has_account": confidence >= self.config["threshold"], "confidence": confidence},
                        add_to_output=True)
        return messages

    def persist(self) -> None:
        import skops.io as sio

        with self._model_storage.write_to(self._resource) as model_dir:
            sio.dump(self.classifier, model_dir / "account.skops")

    @classmethod
    def load(cls, config: dict[str, Any], model_storage: ModelStorage, resource: Resource,
             execution_context: ExecutionContext, **kwargs: Any) -> AccountOfEventsClassifier:
        import skops.io as sio

        component = cls(config, model_storage, resource)
        try:
            with model_storage.read_from(resource) as model_dir:
                path = model_dir / "account.skops"
                component.classifier = sio.load(path, trusted=sio.get_untrusted_types(file=path))
        except ValueError:
            log.warning("the account classifier was not trained; every message counts as telling no story")
        return component

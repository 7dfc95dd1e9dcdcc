"""Rasa intent classifier: a multinomial logistic regression over meaning and spelling.

Its input is each message's sentence features from two featurizers: the pretrained sentence embedding
(``MeaningFeaturizer``: what the message means, in words it never saw) and character n-gram counts
(``CountVectorsFeaturizer`` with ``char_wb``: typos and our own product words), the counts L2-normalised so the two
weigh alike. Compared on the same data with DIET (sparse + the same dense features) this was both more accurate
on the hold-outs and ten times faster to train (docs/nlu.md). The weights are stored as plain arrays (npz + json):
no pickle is ever loaded from a model file.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import numpy as np
import scipy.sparse
import scipy.sparse.linalg
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.classifiers import LABEL_RANKING_LENGTH
from rasa.nlu.classifiers.classifier import IntentClassifier
from rasa.nlu.featurizers.featurizer import Featurizer
from rasa.shared.nlu.constants import INTENT, INTENT_NAME_KEY, INTENT_RANKING_KEY, PREDICTED_CONFIDENCE_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

log = logging.getLogger(__name__)

WEIGHTS_FILE = "weights.npz"
LABELS_FILE = "labels.json"


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=True)
class MeaningIntentClassifier(GraphComponent, IntentClassifier):
    """Intent = softmax(W [dense ; normalised sparse] + b), trained with scikit-learn's lbfgs."""

    @classmethod
    def required_components(cls) -> list[type]:
        """Needs sentence features (from any featurizer)."""
        return [Featurizer]

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        """Regularisation (C: higher fits the training data closer) and the weight of the sparse part."""
        return {"C": 300.0, "sparse_weight": 0.5, "max_iter": 3000, "random_seed": 42}

    def __init__(
        self,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        weights: np.ndarray | None = None,
        bias: np.ndarray | None = None,
        labels: list[str] | None = None,
    ) -> None:
        """Untrained unless ``weights``, ``bias`` and ``labels`` are given."""
        self.config = {**self.get_default_config(), **config}
        self._model_storage = model_storage
        self._resource = resource
        self.weights = weights
        self.bias = bias
        self.labels = labels or []

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> MeaningIntentClassifier:
        """A new, untrained classifier."""
        return cls(config, model_storage, resource)

    def features(self, messages: list[Message]) -> scipy.sparse.csr_matrix:
        """One row per message: its dense sentence features, then its sparse ones scaled to unit length."""
        rows = []
        for m in messages:
            _, dense = m.get_dense_features(TEXT)
            _, sparse = m.get_sparse_features(TEXT)
            parts = []
            if dense is not None:
                parts.append(scipy.sparse.csr_matrix(dense.features))
            if sparse is not None:
                counts = scipy.sparse.csr_matrix(sparse.features, dtype=np.float64)
                norm = scipy.sparse.linalg.norm(counts) or 1.0
                parts.append(counts * (self.config["sparse_weight"] / norm))
            rows.append(scipy.sparse.hstack(parts, format="csr") if parts else scipy.sparse.csr_matrix((1, 0)))
        return scipy.sparse.vstack(rows, format="csr")

    def train(self, training_data: TrainingData) -> Resource:
        """Fit on every example with an intent and text; store the weights."""
        from sklearn.linear_model import LogisticRegression

        examples = [e for e in training_data.intent_examples if e.get(TEXT)]
        labels = [e.get(INTENT) for e in examples]
        if len(set(labels)) < 2:
            log.warning("fewer than two intents to train on: the classifier stays untrained")
            return self._resource
        model = LogisticRegression(
            C=self.config["C"], max_iter=self.config["max_iter"], random_state=self.config["random_seed"]
        )
        model.fit(self.features(examples), labels)
        weights, bias = model.coef_, model.intercept_
        if len(model.classes_) == 2:  # scikit-learn keeps one row (the second class): as softmax, [-z/2, z/2]
            weights, bias = np.vstack([-weights / 2, weights / 2]), np.concatenate([-bias / 2, bias / 2])
        self.weights = weights.astype(np.float32)
        self.bias = bias.astype(np.float32)
        self.labels = [str(c) for c in model.classes_]
        with self._model_storage.write_to(self._resource) as directory:
            np.savez(directory / WEIGHTS_FILE, weights=self.weights, bias=self.bias)
            (directory / LABELS_FILE).write_text(json.dumps(self.labels))
        return self._resource

    @classmethod
    def load(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> MeaningIntentClassifier:
        """The stored weights (an untrained classifier if there are none)."""
        try:
            with model_storage.read_from(resource) as directory:
                arrays = np.load(directory / WEIGHTS_FILE, allow_pickle=False)
                labels = json.loads((directory / LABELS_FILE).read_text())
                return cls(config, model_storage, resource, arrays["weights"], arrays["bias"], labels)
        except (ValueError, FileNotFoundError):
            log.warning("no trained intent classifier in the model: every message gets no intent")
            return cls(config, model_storage, resource)

    def probabilities(self, messages: list[Message]) -> np.ndarray:
        """(len(messages), len(labels)) softmax probabilities, from the same rows the weights were trained on."""
        assert self.weights is not None and self.bias is not None
        scores = np.asarray(self.features(messages) @ self.weights.T.astype(np.float64)) + self.bias
        scores -= scores.max(axis=1, keepdims=True)
        exp = np.exp(scores)
        return exp / exp.sum(axis=1, keepdims=True)

    def process(self, messages: list[Message]) -> list[Message]:
        """Set ``intent`` and ``intent_ranking``; a message without text or features gets no intent."""
        scored = [m for m in messages if self.weights is not None and m.get(TEXT) and m.features_present(TEXT)]
        probabilities = self.probabilities(scored) if scored else np.zeros((0, 0))
        for row, message in enumerate(scored):
            order = np.argsort(-probabilities[row])[:LABEL_RANKING_LENGTH]
            ranking = [
                {INTENT_NAME_KEY: self.labels[i], PREDICTED_CONFIDENCE_KEY: float(probabilities[row, i])} for i in order
            ]
            message.set(INTENT, ranking[0], add_to_output=True)
            message.set(INTENT_RANKING_KEY, ranking, add_to_output=True)
        scored_ids = {id(m) for m in scored}
        for message in messages:
            if id(message) not in scored_ids:
                message.set(INTENT, {INTENT_NAME_KEY: None, PREDICTED_CONFIDENCE_KEY: 0.0}, add_to_output=True)
                message.set(INTENT_RANKING_KEY, [], add_to_output=True)
        return messages

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        """Nothing to add to the training data."""
        return training_data

"""Rasa dense featurizer: pretrained sentence meaning (all-MiniLM-L6-v2, ``bot/sentence_encoder.py``).

Sparse n-gram features only know words the training data used; this vector places "charged twice" and "a
duplicate payment" close together although they share no word. Each message's text gets one sentence feature, the
normalised sentence embedding; only the customer's text is featurized.

Emails and reference numbers are read as what they are: the encoder sees "email address" and "number" in their
place (``text_for_meaning``). A bare address or id means nothing to a model trained on sentences; left in, "ana@
example" once read as a request for a person. The character n-grams still see the original text.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.featurizers.dense_featurizer.dense_featurizer import DenseFeaturizer
from rasa.nlu.tokenizers.tokenizer import Tokenizer
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot import rasa_speedups  # noqa: F401  (installs, at model load, what Rasa would redo on every message)
from bot.sentence_encoder import SentenceEncoder

TOKENS = "text_tokens"
WORD = re.compile(r"\S+")


def _stand_in(word: str) -> str:
    if "@" in word:
        return "email address"
    return "number" if any(ch.isdigit() for ch in word) else word


def text_for_meaning(text: str) -> str:
    """The text with emails and words holding a digit (ids, codes, amounts) replaced by what they are.

    One linear pass over the whitespace-separated words: no pattern that could backtrack on hostile input.
    """
    return WORD.sub(lambda m: _stand_in(m.group()), text)


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER, is_trainable=False)
class MeaningFeaturizer(DenseFeaturizer, GraphComponent):
    """Adds the all-MiniLM-L6-v2 sentence embedding to the text of each message."""

    @classmethod
    def required_components(cls) -> list[type]:
        """After the tokenizer: a message without tokens has no text to featurize."""
        return [Tokenizer]

    @staticmethod
    def required_packages() -> list[str]:
        """The encoder's libraries (the model package is checked when it loads)."""
        return ["tensorflow", "tokenizers", "safetensors"]

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        """Only Rasa's featurizer defaults (the alias)."""
        return {**DenseFeaturizer.get_default_config()}

    def __init__(self, config: dict[str, Any], execution_context: ExecutionContext) -> None:
        """The encoder loads on first use (one copy per process)."""
        super().__init__(execution_context.node_name, config)

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> MeaningFeaturizer:
        """A featurizer has nothing to train."""
        return cls(config, execution_context)

    @classmethod
    def validate_config(cls, config: dict[str, Any]) -> None:
        """No options of its own."""

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        """Featurize every training example that has text (in batches)."""
        self.process(training_data.training_examples)
        return training_data

    def process(self, messages: list[Message]) -> list[Message]:
        """Featurize the messages in place (in batches)."""
        todo = [m for m in messages if m.get(TOKENS)]
        if not todo:
            return messages
        vectors = SentenceEncoder.load().sentence_vectors([text_for_meaning(m.get(TEXT) or "") for m in todo])
        for message, vector in zip(todo, vectors, strict=True):
            self.add_features_to_message(None, vector[np.newaxis], TEXT, message)
        return messages

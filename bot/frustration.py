"""Rasa component that scores each message for frustration and can override its intent.

It runs after DIETClassifier and FallbackClassifier. Every message with text gets an
output property `frustration` ({"score", "sentiment", "signals"}), which the action
server reads from `tracker.latest_message["frustration"]`. At or above `threshold`,
unless the predicted intent is exempt, the intent becomes `express_frustration` with
the score as its confidence, the same way FallbackClassifier overrides to
`nlu_fallback`: the new intent is prepended to `intent_ranking`, the rest is kept, and
the replaced intent is recorded as `frustration["original_intent"]`.

Messages sent as "/intent" payloads (buttons) are rebuilt later by
RegexMessageHandler and carry no `frustration` property.
"""

from __future__ import annotations

import logging
from typing import Any

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.classifiers.classifier import IntentClassifier
from rasa.shared.nlu.constants import (
    INTENT,
    INTENT_NAME_KEY,
    INTENT_RANKING_KEY,
    PREDICTED_CONFIDENCE_KEY,
    TEXT,
)
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.frustration_signals import score_frustration

logger = logging.getLogger(__name__)

FRUSTRATION_KEY = "frustration"
ORIGINAL_INTENT_KEY = "original_intent"
FRUSTRATION_INTENT = "express_frustration"
THRESHOLD_KEY = "threshold"
EXEMPT_INTENTS_KEY = "exempt_intents"


@DefaultV1Recipe.register(
    DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=False
)
class FrustrationScorer(GraphComponent, IntentClassifier):
    """Adds a frustration score to each message; overrides the intent when it is high."""

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        """Returns the defaults: override at 0.65 unless the intent already fits."""
        return {
            THRESHOLD_KEY: 0.65,
            # Intents that already lead to a person or end the chat are never replaced.
            EXEMPT_INTENTS_KEY: [
                "request_human",
                "goodbye",
                "thank",
                FRUSTRATION_INTENT,
            ],
        }

    def __init__(self, config: dict[str, Any]) -> None:
        """Stores the threshold and the exempt intents."""
        self.component_config = config
        self.threshold = float(config.get(THRESHOLD_KEY, 0.65))
        self.exempt_intents = frozenset(config.get(EXEMPT_INTENTS_KEY) or [])

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> FrustrationScorer:
        """Creates the component; it has nothing to train or persist."""
        return cls({**cls.get_default_config(), **config})

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        """Returns the training data unchanged: scores only matter at prediction."""
        return training_data

    def process(self, messages: list[Message]) -> list[Message]:
        """Scores each message with text; a failure is logged, never raised."""
        for message in messages:
            try:
                self._process_message(message)
            except Exception:
                logger.exception("FrustrationScorer failed on a message; skipped it.")
        return messages

    def _process_message(self, message: Message) -> None:
        """Sets the `frustration` property and, if warranted, overrides the intent."""
        text = message.get(TEXT)
        if not isinstance(text, str) or not text.strip():
            return

        result = score_frustration(text)
        frustration = result.as_dict()

        intent = message.get(INTENT) or {}
        intent_name = intent.get(INTENT_NAME_KEY)
        if (
            result.score >= self.threshold
            and intent_name != FRUSTRATION_INTENT
            and intent_name not in self.exempt_intents
        ):
            frustration[ORIGINAL_INTENT_KEY] = dict(intent) if intent else None
            self._override_intent(message, intent, result.score)
            logger.debug(
                f"Frustration {result.score:.2f} >= {self.threshold:.2f} "
                f"({', '.join(result.signals)}): intent '{intent_name}' -> "
                f"'{FRUSTRATION_INTENT}'."
            )

        message.set(FRUSTRATION_KEY, frustration, add_to_output=True)

    @staticmethod
    def _override_intent(
        message: Message, intent: dict[str, Any], confidence: float
    ) -> None:
        """Makes express_frustration the intent and the head of the ranking."""
        ranking = [
            dict(entry)
            for entry in message.get(INTENT_RANKING_KEY) or []
            if entry.get(INTENT_NAME_KEY) != FRUSTRATION_INTENT
        ]
        intent_name = intent.get(INTENT_NAME_KEY)
        if intent_name and all(e.get(INTENT_NAME_KEY) != intent_name for e in ranking):
            ranking.insert(0, dict(intent))

        new_intent = {
            INTENT_NAME_KEY: FRUSTRATION_INTENT,
            PREDICTED_CONFIDENCE_KEY: confidence,
        }
        message.set(INTENT, new_intent, add_to_output=True)
        message.set(INTENT_RANKING_KEY, [dict(new_intent), *ranking], add_to_output=True)

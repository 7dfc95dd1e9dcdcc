r"""Rule-based entity extraction with a blank spaCy English pipeline and an EntityRuler.

The patterns live in `bot/entity_patterns.jsonl`, the one file a conversation designer
edits. It is JSON Lines (no comments possible), one spaCy EntityRuler pattern a line:

    {"label": "order_id", "pattern": [{"LOWER": "order"}, {"TEXT": {"REGEX": "^\\d{5,}$"}}]}
    {"label": "plan", "pattern": [{"LOWER": "pro"}], "id": "pro"}
    {"label": "ignore", "pattern": [{"LOWER": "free"}, {"LOWER": "trial"}]}

* `pattern` is a list of token patterns (https://spacy.io/usage/rule-based-matching)
  or a plain phrase string; phrases match case-insensitively.
* Labels are the entity names in domain.yml: email, invoice_id, order_id, error_code,
  amount, plan. Values are normalised per label in this module (e.g. "inv 1042" ->
  "INV-1042", "$49.99" -> "49.99"); an unknown label keeps the text as written.
* `id`, if given, is the entity value, and the entity starts at the first token equal
  to it: "upgrade to the business plan" with id "business" gives the value "business"
  for the text "business plan" (the context words are not part of the entity).
* Label `ignore` marks look-alikes that must not become entities ("free trial",
  "pro rata", "business days"): where matches overlap the longest wins, and `ignore`
  matches are then dropped.
* The blank tokenizer splits text unevenly: "INV-1042" stays one token but
  "INV-2024-0042" becomes "INV-2024" "-" "0042", and "$49.99" becomes "$" "49.99".
  `"SPACY": false` (no space after the token) keeps multi-token ids contiguous.
  Try a new pattern on real sentences (tests/bot/test_entities.py) before shipping.

The file is read when the model is loaded, not baked into the trained model: edit it,
then restart the bot; no retraining is needed.
"""

from __future__ import annotations

import json
import logging
import re
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import spacy
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.constants import ENTITY_ATTRIBUTE_CONFIDENCE_TYPE
from rasa.nlu.extractors.extractor import EntityExtractorMixin
from rasa.shared.exceptions import InvalidConfigException
from rasa.shared.nlu.constants import (
    ENTITIES,
    ENTITY_ATTRIBUTE_END,
    ENTITY_ATTRIBUTE_START,
    ENTITY_ATTRIBUTE_TYPE,
    ENTITY_ATTRIBUTE_VALUE,
    EXTRACTOR,
    TEXT,
)
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData
from spacy.language import Language
from spacy.tokenizer import Tokenizer
from spacy.tokens import Span

logger = logging.getLogger(__name__)

PATTERNS_PATH_KEY = "patterns_path"
DEFAULT_PATTERNS_PATH = "bot/entity_patterns.jsonl"
PROJECT_ROOT = Path(__file__).resolve().parents[1]
IGNORE_LABEL = "ignore"
KNOWN_LABELS = frozenset(
    {"email", "invoice_id", "order_id", "error_code", "amount", "plan", IGNORE_LABEL}
)

# Keeps e-mail addresses one token even where the tokenizer would split them,
# e.g. "Ann.Lee@Example.COM" (a "." between lower and upper case is an infix).
_EMAIL_TOKEN_RE = re.compile(r"^[\w.+-]+@[\w-]+(?:\.[\w-]+)+$")
_ID_DIGITS_RE = re.compile(r"\d+(?:-\d+)*")
_AMOUNT_RE = re.compile(r"(\d{1,3}(?:,\d{3})+|\d+)(?:[.,](\d{1,2}))?(?!\d)")
_WHITESPACE_RE = re.compile(r"\s+")


def load_patterns(path: Path) -> list[dict[str, Any]]:
    """Reads EntityRuler patterns from a JSONL file, naming the line of any error."""
    if not path.is_file():
        raise InvalidConfigException(f"Entity patterns file '{path}' does not exist.")
    patterns: list[dict[str, Any]] = []
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                pattern = json.loads(line)
            except json.JSONDecodeError as error:
                raise InvalidConfigException(
                    f"{path}:{number}: not valid JSON ({error.msg})."
                ) from error
            if (
                not isinstance(pattern, dict)
                or not isinstance(pattern.get("label"), str)
                or not isinstance(pattern.get("pattern"), (str, list))
            ):
                raise InvalidConfigException(
                    f"{path}:{number}: expected {{\"label\": str, \"pattern\": "
                    f"str or list}}, got {line.strip()[:80]}"
                )
            patterns.append(pattern)
    unknown = sorted({p["label"] for p in patterns} - KNOWN_LABELS)
    if unknown:
        logger.warning(
            f"{path}: labels {unknown} are not known to {__name__}; their values are "
            f"kept as written. Check they are entities in domain.yml."
        )
    return patterns


def build_nlp(patterns: list[dict[str, Any]]) -> Language:
    """Builds a blank English pipeline with a sentencizer and the entity ruler."""
    nlp = spacy.blank("en")
    tokenizer: Tokenizer = nlp.tokenizer  # type: ignore[assignment]
    default_token_match = tokenizer.token_match

    def token_match(text: str) -> Any:
        return _EMAIL_TOKEN_RE.match(text) or (default_token_match(text) if default_token_match else None)

    tokenizer.token_match = token_match
    nlp.add_pipe("sentencizer")
    ruler = nlp.add_pipe("entity_ruler", config={"phrase_matcher_attr": "LOWER"})
    ruler.add_patterns(patterns)  # type: ignore[attr-defined]
    return nlp


def normalise(label: str, text: str) -> str | None:
    """Returns the canonical value for an entity's surface text, or None if unsure."""
    if label == "email":
        return text.lower()
    if label in ("invoice_id", "order_id"):
        # Skip the "inv"/"ord" prefix so the digits of "INV1042" are found whole.
        match = _ID_DIGITS_RE.search(text, 3)
        prefix = "INV" if label == "invoice_id" else "ORD"
        return f"{prefix}-{match.group(0)}" if match else None
    if label == "error_code":
        return _WHITESPACE_RE.sub(" ", text.strip()).upper()
    if label == "amount":
        match = _AMOUNT_RE.search(text)
        if not match:
            return None
        whole, cents = match.group(1).replace(",", ""), match.group(2) or "0"
        try:
            return f"{Decimal(f'{whole}.{cents}'):.2f}"
        except InvalidOperation:
            return None
    if label == "plan":
        return text.lower()
    return text


@DefaultV1Recipe.register(
    DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR, is_trainable=False
)
class SpacyRuleEntityExtractor(GraphComponent, EntityExtractorMixin):
    """Extracts ids, error codes, e-mails, amounts and plans with spaCy rules."""

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        """Returns the defaults: the patterns file relative to the project root."""
        return {PATTERNS_PATH_KEY: DEFAULT_PATTERNS_PATH}

    def __init__(self, config: dict[str, Any], nlp: Language) -> None:
        """Keeps the config and the spaCy pipeline built from the patterns."""
        self.component_config = config
        self.nlp = nlp

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> SpacyRuleEntityExtractor:
        """Loads the patterns once: a relative path from the working directory, else from this project's root.

        So a model also loads where Rasa runs from another folder (a retrain on a copy of the training data).
        """
        config = {**cls.get_default_config(), **config}
        path = Path(config[PATTERNS_PATH_KEY] or DEFAULT_PATTERNS_PATH)
        if not path.is_absolute():
            path = Path.cwd() / path if (Path.cwd() / path).is_file() else PROJECT_ROOT / path
        return cls(config, build_nlp(load_patterns(path)))

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        """Returns the training data unchanged: nothing here is trained."""
        return training_data

    def process(self, messages: list[Message]) -> list[Message]:
        """Appends the entities found in each message; failures are logged, not raised."""
        for message in messages:
            try:
                self._process_message(message)
            except Exception:
                logger.exception("SpacyRuleEntityExtractor failed on a message.")
        return messages

    def _process_message(self, message: Message) -> None:
        """Runs the rules on one message and appends what they find."""
        text = message.get(TEXT)
        if not isinstance(text, str) or not text.strip():
            return
        found = self.extract(text)
        if not found:
            return
        entities = list(message.get(ENTITIES) or [])
        entities.extend(found)
        message.set(ENTITIES, entities, add_to_output=True)

    def extract(self, text: str) -> list[dict[str, Any]]:
        """Returns the entities in `text`, with offsets into `text` itself."""
        if len(text) > self.nlp.max_length:
            text = text[: self.nlp.max_length]
        doc = self.nlp(text)
        entities = []
        for span in doc.ents:
            if span.label_ == IGNORE_LABEL:
                continue
            entity = self._entity(span)
            if entity:
                entities.append(entity)
        return entities

    def _entity(self, span: Span) -> dict[str, Any] | None:
        """Turns a matched span into a Rasa entity dict, or None to drop it."""
        label, value_id = span.label_, span.ent_id_
        if value_id:
            # Start at the named token, so "upgrade to the" is not part of the entity.
            start = next(
                (t.i for t in span if t.lower_ == value_id.lower()), span.start
            )
            span = span.doc[start : span.end]
        value = value_id or normalise(label, span.text)
        if not value:
            return None
        return {
            ENTITY_ATTRIBUTE_TYPE: label,
            ENTITY_ATTRIBUTE_VALUE: value,
            ENTITY_ATTRIBUTE_START: span.start_char,
            ENTITY_ATTRIBUTE_END: span.end_char,
            ENTITY_ATTRIBUTE_CONFIDENCE_TYPE: 1.0,
            EXTRACTOR: self.__class__.__name__,
        }

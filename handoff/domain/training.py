"""The rules of a label: which intent names and example texts may go into the bot's training data (pure).

A conversation designer labels a message the bot got wrong: an existing intent, a new one, or out of scope. What is
written must stay normal Rasa NLU YAML (one example per line under ``examples: |``) that trains: one line, trimmed,
at most :data:`MAX_EXAMPLE_CHARS`, no control characters, and no square brackets (Rasa reads ``[text](entity)``,
``[text]{...}`` and ``[text][...]`` as entity annotations; a designer rewords the example instead). Examples compare
by :func:`same_example` (case-insensitive, whitespace collapsed, annotations read as their text), both for
deduplication and for the hold-out rule: a hold-out message is never trained on.
"""

from __future__ import annotations

import re
import unicodedata

OUT_OF_SCOPE = "out_of_scope"
INTENT_NAME = re.compile(r"^[a-z][a-z0-9_]{2,39}$")
MAX_EXAMPLE_CHARS = 300
# Intents the bot is sent (trigger_intent) rather than told: customers' words are never their examples.
NOT_LABELLABLE = frozenset({"handback", "nlu_fallback"})
# An entity annotation inside an existing example: [text](entity), [text](entity:value), [text]{...}, [text][...].
_ANNOTATION = re.compile(r"\[([^\]\n]*)\](?:\([^)\n]*\)|\{[^}\n]*\}|\[[^\]\n]*\])")


class LabelError(ValueError):
    """A label that cannot be written; ``code`` and the message go back to the designer."""

    def __init__(self, code: str, message: str) -> None:
        """Keep code and message."""
        super().__init__(message)
        self.code = code
        self.message = message


def clean_example(text: object) -> str:
    """The example as it is written (trimmed), or LabelError with what to change.

    Refused rather than silently changed: the designer sees exactly what the bot will be trained on.
    """
    if not isinstance(text, str):
        raise LabelError("invalid_text", "text must be a string")
    if "\n" in text or "\r" in text or "\u2028" in text or "\u2029" in text or "\x85" in text:
        raise LabelError("invalid_text", "an example is one line: remove the line breaks")
    cleaned = text.strip()
    if not cleaned:
        raise LabelError("invalid_text", "the example is empty")
    if len(cleaned) > MAX_EXAMPLE_CHARS:
        raise LabelError(
            "invalid_text", f"an example is at most {MAX_EXAMPLE_CHARS} characters (this one has {len(cleaned)})"
        )
    if "\ufeff" in cleaned or any(unicodedata.category(c) in ("Cc", "Cs", "Co", "Cn") for c in cleaned):
        raise LabelError("invalid_text", "the example contains control or unassigned characters")
    if "[" in cleaned or "]" in cleaned:
        raise LabelError(
            "invalid_text",
            "square brackets mark entities in Rasa's training data ([text](entity)): reword the example without them",
        )
    return cleaned


def check_intent_name(name: object) -> str:
    """A new intent's name (``^[a-z][a-z0-9_]{2,39}$``), or LabelError."""
    if not isinstance(name, str) or not INTENT_NAME.match(name):
        raise LabelError(
            "invalid_intent",
            "an intent name is 3-40 characters: a lower-case letter, then lower-case letters, digits or underscores",
        )
    return name


def plain(example: str) -> str:
    """An example as the customer would type it: entity annotations read as their text."""
    return _ANNOTATION.sub(lambda m: m.group(1), example)


def same_example(text: str) -> str:
    """The comparison key of an example: annotations as text, case-folded, whitespace collapsed."""
    return " ".join(plain(text).casefold().split())


def labellable(intents: list[str]) -> list[str]:
    """The domain's intents a customer message may be labelled with."""
    return [i for i in intents if i not in NOT_LABELLABLE]

"""The bot's hand-off payload: what the action server knows about a conversation, for the gateway's summary.

``actions/handoff.py`` builds a :class:`HandoffPayload` and sends :meth:`HandoffPayload.as_dict` as the ``handoff``
block of a custom message; the gateway reads that block with :func:`parse`, which checks every field (types, lengths,
allowed reasons) and raises :class:`InvalidHandoffPayload` for anything else, whatever it is (the block travels
through Rasa as plain JSON). Keys the contract does not name are ignored, and every field but ``reason`` may be
missing (its default then).

The JSON shape, key for key::

    {"reason": str, "strikes": int, "strike_kinds": [str], "customer_id": str|null, "customer_tier": str|null,
     "customer_verified": bool, "hypothesis": str|null, "problem": str, "intent": str|null,
     "turns": [{"text": str, "intent": str|null, "confidence": float|null,
                "ranking": [{"name": str, "confidence": float}], "entities": [{"entity": str, "value": str}],
                "sentiment": float|null, "frustration": float|null}],
     "entities": {str: value}, "slots": {str: value},
     "steps": [{"step": str, "outcome": str, "detail": str}],
     "sentiment": {"latest": float|null, "trend": [float]}, "frustration": float|null}

where a value is a string, number, boolean, null or a list of those.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeAlias, TypeVar

from contract.handoff import HANDOFF_REASONS

# Bounds on what the gateway reads: generous for what the bot sends (its turns are customer messages of at most a few
# KB, at most 20 of them, 20 steps), small enough that nothing oversized reaches the summary or the database.
MAX_TEXT = 10_000  # characters of free text: a turn, the problem, the hypothesis, a step's detail, a slot's value
MAX_NAME = 200  # characters of a name: an intent, entity, slot or step, a strike kind, a customer id or tier
MAX_TURNS = 50
MAX_STEPS = 50
MAX_ITEMS = 200  # a turn's ranking and entities, the strike kinds, the sentiment trend, a list value
MAX_KEYS = 100  # slots, entities
MAX_STRIKES = 1_000

Scalar: TypeAlias = "str | int | float | bool | None"
Value: TypeAlias = "Scalar | list[Scalar]"
T = TypeVar("T")


class InvalidHandoffPayload(ValueError):
    """The ``handoff`` block is not a payload of this contract; the message names the field, never its content."""


@dataclass(frozen=True)
class RankedIntent:
    """One of the NLU's top intents for a turn."""

    name: str
    confidence: float


@dataclass(frozen=True)
class TurnEntity:
    """An entity the NLU found in a turn (its value redacted by the bot)."""

    entity: str
    value: str


@dataclass(frozen=True)
class CustomerTurn:
    """One customer message as the bot's NLU read it (text redacted by the bot)."""

    text: str
    intent: str | None = None
    confidence: float | None = None
    ranking: tuple[RankedIntent, ...] = ()
    entities: tuple[TurnEntity, ...] = ()
    sentiment: float | None = None
    frustration: float | None = None


@dataclass(frozen=True)
class Step:
    """A resolution step the bot took (``password_reset_link``) and its outcome (``sent``, ``failed``, ...)."""

    step: str
    outcome: str
    detail: str = ""


@dataclass(frozen=True)
class Sentiment:
    """The customer's sentiment at the hand-off and over their turns, oldest first."""

    latest: float | None = None
    trend: tuple[float, ...] = ()


@dataclass(frozen=True)
class HandoffPayload:
    """Everything only the bot's tracker knows, for the agent's summary (the wire form is :meth:`as_dict`)."""

    reason: str
    strikes: int = 0
    strike_kinds: tuple[str, ...] = ()
    customer_id: str | None = None
    customer_tier: str | None = None
    customer_verified: bool = False
    hypothesis: str | None = None
    problem: str = ""
    intent: str | None = None  # the support topic still open (the bot's flow was on it), not any turn's reading
    turns: tuple[CustomerTurn, ...] = ()
    entities: Mapping[str, Value] = field(default_factory=dict)
    slots: Mapping[str, Value] = field(default_factory=dict)
    steps: tuple[Step, ...] = ()
    sentiment: Sentiment = Sentiment()
    frustration: float | None = None

    def as_dict(self) -> dict[str, Any]:
        """The JSON-ready ``handoff`` block, key for key as the gateway reads it."""
        return {
            "reason": self.reason,
            "strikes": self.strikes,
            "strike_kinds": list(self.strike_kinds),
            "customer_id": self.customer_id,
            "customer_tier": self.customer_tier,
            "customer_verified": self.customer_verified,
            "hypothesis": self.hypothesis,
            "problem": self.problem,
            "intent": self.intent,
            "turns": [
                {
                    "text": t.text,
                    "intent": t.intent,
                    "confidence": t.confidence,
                    "ranking": [{"name": r.name, "confidence": r.confidence} for r in t.ranking],
                    "entities": [{"entity": e.entity, "value": e.value} for e in t.entities],
                    "sentiment": t.sentiment,
                    "frustration": t.frustration,
                }
                for t in self.turns
            ],
            "entities": {k: list(v) if isinstance(v, list) else v for k, v in self.entities.items()},
            "slots": {k: list(v) if isinstance(v, list) else v for k, v in self.slots.items()},
            "steps": [{"step": s.step, "outcome": s.outcome, "detail": s.detail} for s in self.steps],
            "sentiment": {"latest": self.sentiment.latest, "trend": list(self.sentiment.trend)},
            "frustration": self.frustration,
        }

    def to_json(self) -> str:
        """The ``handoff`` block as JSON text."""
        return json.dumps(self.as_dict(), ensure_ascii=False, allow_nan=False)


def parse(obj: object) -> HandoffPayload:
    """The payload in a ``handoff`` block received as JSON, checked field by field.

    Raises:
        InvalidHandoffPayload: for anything but a payload of this contract (never another error).
    """
    block = _object(obj, "handoff payload")
    reason = block.get("reason")
    if not isinstance(reason, str) or reason not in HANDOFF_REASONS:
        raise InvalidHandoffPayload(f"handoff payload: reason must be one of {', '.join(HANDOFF_REASONS)}")
    sentiment = _object(block.get("sentiment", {}), "sentiment")
    return HandoffPayload(
        reason=reason,
        strikes=_count(block.get("strikes", 0), "strikes"),
        strike_kinds=tuple(_name(k, f"strike_kinds[{i}]") for i, k in _items(block, "strike_kinds", MAX_ITEMS)),
        customer_id=_optional(_name, block.get("customer_id"), "customer_id"),
        customer_tier=_optional(_name, block.get("customer_tier"), "customer_tier"),
        customer_verified=_flag(block.get("customer_verified", False), "customer_verified"),
        hypothesis=_optional(_text, block.get("hypothesis"), "hypothesis"),
        problem=_text(block.get("problem", ""), "problem"),
        intent=_optional(_name, block.get("intent"), "intent"),
        turns=tuple(_turn(t, f"turns[{i}]") for i, t in _items(block, "turns", MAX_TURNS)),
        entities=_values(block.get("entities", {}), "entities"),
        slots=_values(block.get("slots", {}), "slots"),
        steps=tuple(_step(s, f"steps[{i}]") for i, s in _items(block, "steps", MAX_STEPS)),
        sentiment=Sentiment(
            latest=_optional(_number, sentiment.get("latest"), "sentiment.latest"),
            trend=tuple(_number(v, f"sentiment.trend[{i}]") for i, v in _items(sentiment, "trend", MAX_ITEMS)),
        ),
        frustration=_optional(_number, block.get("frustration"), "frustration"),
    )


def _turn(obj: object, where: str) -> CustomerTurn:
    turn = _object(obj, where)
    return CustomerTurn(
        text=_text(turn.get("text"), f"{where}.text"),
        intent=_optional(_name, turn.get("intent"), f"{where}.intent"),
        confidence=_optional(_number, turn.get("confidence"), f"{where}.confidence"),
        ranking=tuple(_ranked(r, f"{where}.ranking[{i}]") for i, r in _items(turn, "ranking", MAX_ITEMS, where)),
        entities=tuple(_entity(e, f"{where}.entities[{i}]") for i, e in _items(turn, "entities", MAX_ITEMS, where)),
        sentiment=_optional(_number, turn.get("sentiment"), f"{where}.sentiment"),
        frustration=_optional(_number, turn.get("frustration"), f"{where}.frustration"),
    )


def _ranked(obj: object, where: str) -> RankedIntent:
    ranked = _object(obj, where)
    return RankedIntent(
        _name(ranked.get("name"), f"{where}.name"), _number(ranked.get("confidence"), f"{where}.confidence")
    )


def _entity(obj: object, where: str) -> TurnEntity:
    entity = _object(obj, where)
    return TurnEntity(_name(entity.get("entity"), f"{where}.entity"), _text(entity.get("value"), f"{where}.value"))


def _step(obj: object, where: str) -> Step:
    step = _object(obj, where)
    return Step(
        _name(step.get("step"), f"{where}.step"),
        _name(step.get("outcome"), f"{where}.outcome"),
        _text(step.get("detail", ""), f"{where}.detail"),
    )


def _object(obj: object, where: str) -> Mapping[str, Any]:
    if not isinstance(obj, dict):
        raise InvalidHandoffPayload(f"{where} must be an object, not {_kind(obj)}")
    return obj


def _items(parent: Mapping[str, Any], key: str, limit: int, where: str = "") -> list[tuple[int, Any]]:
    """The entries of the list ``parent[key]`` (empty when missing), at most ``limit`` of them."""
    name = f"{where}.{key}" if where else key
    value = parent.get(key, [])
    if not isinstance(value, list):
        raise InvalidHandoffPayload(f"{name} must be a list, not {_kind(value)}")
    if len(value) > limit:
        raise InvalidHandoffPayload(f"{name} has more than {limit} entries")
    return list(enumerate(value))


def _text(value: object, where: str, limit: int = MAX_TEXT) -> str:
    if not isinstance(value, str):
        raise InvalidHandoffPayload(f"{where} must be a string, not {_kind(value)}")
    if len(value) > limit:
        raise InvalidHandoffPayload(f"{where} is longer than {limit} characters")
    # What no database can store (PostgreSQL refuses NUL; a lone surrogate is not UTF-8): the gateway refuses it too.
    if "\x00" in value:
        raise InvalidHandoffPayload(f"{where} contains a NUL character")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidHandoffPayload(f"{where} contains invalid text (a lone surrogate)") from None
    return value


def _name(value: object, where: str) -> str:
    return _text(value, where, MAX_NAME)


def _number(value: object, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidHandoffPayload(f"{where} must be a number, not {_kind(value)}")
    if isinstance(value, int) and abs(value) > 2**53:
        raise InvalidHandoffPayload(f"{where} is out of range")
    if not math.isfinite(value):
        raise InvalidHandoffPayload(f"{where} must be a finite number")
    return float(value)


def _count(value: object, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidHandoffPayload(f"{where} must be a whole number, not {_kind(value)}")
    if not 0 <= value <= MAX_STRIKES:
        raise InvalidHandoffPayload(f"{where} must be between 0 and {MAX_STRIKES}")
    return value


def _flag(value: object, where: str) -> bool:
    if not isinstance(value, bool):
        raise InvalidHandoffPayload(f"{where} must be true or false, not {_kind(value)}")
    return value


def _optional(check: Callable[[object, str], T], value: object, where: str) -> T | None:
    """``None`` for null (or a missing key), else ``check(value, where)``."""
    return None if value is None else check(value, where)


def _scalar(value: object, where: str) -> Scalar:
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, (int, float)):
        _number(value, where)
        return value
    return _text(value, where)


def _values(obj: object, where: str) -> dict[str, Value]:
    """A name -> value map (slots, entities): names, and values that are scalars or lists of them."""
    mapping = _object(obj, where)
    if len(mapping) > MAX_KEYS:
        raise InvalidHandoffPayload(f"{where} has more than {MAX_KEYS} entries")
    result: dict[str, Value] = {}
    for i, (key, value) in enumerate(mapping.items()):
        name = _name(key, f"{where} key #{i + 1}")
        if isinstance(value, list):
            if len(value) > MAX_ITEMS:
                raise InvalidHandoffPayload(f"{where}[{name!r}] has more than {MAX_ITEMS} entries")
            result[name] = [_scalar(v, f"{where}[{name!r}][{j}]") for j, v in enumerate(value)]
        else:
            result[name] = _scalar(value, f"{where}[{name!r}]")
    return result


def _kind(value: object) -> str:
    """A value's JSON type for a message (never the value: it may hold what a customer typed)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__

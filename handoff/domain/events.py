"""Socket.IO event names and payload shapes, in one place (the widget and console mirror this module).

Incoming payloads are checked by :func:`validate`; outgoing shapes are described in :data:`OUTGOING`
so that ``python -m handoff events`` can export the whole protocol as JSON.

Two protocols share the customer namespace, chosen per socket by the Socket.IO handshake:

- **Stock Rasa** (a connect without ``auth.protocol``, as rasa-webchat and every Rasa socketio client connects): exactly
  what Rasa 3.6's socketio channel does. In: ``session_request {session_id?}``, ``user_uttered {message?, session_id,
  customData | metadata}`` (see :data:`RASA_INCOMING`). Out: ``session_confirm`` (the bare session id) and
  ``bot_uttered`` in the shapes of :data:`RASA_OUTGOING`, nothing else: no acks, ids, sequence numbers, senders, typing,
  states, queue positions or replay. A person's messages and hand-off notices come as plain ``{text}``. A missing,
  null or blank ``message`` is an empty init payload: ignored (not stored, not sent to the bot, no error); an init
  payload with text (rasa-webchat's ``initPayload``, e.g. ``/greet``) is a customer message like any other.
  What went wrong (a payload too large, an unknown event) comes as a ``bot_uttered {text}``, the only event a
  stock widget shows.
- **frontline.1** (connect with ``auth: {"protocol": "frontline.1"}``, our widget): the same events plus the
  extras: acks with ``{id, seq}``, ``bot_uttered`` with ``id``, ``seq`` and ``metadata.sender``, ``resume`` and
  ``history`` replay, ``conversation_state``, ``queue_update``, ``agent_joined``/``agent_left``, ``typing``, ``csat``,
  and ``error`` events (see :data:`INCOMING` and :data:`OUTGOING`). ``message`` is required here: our widget sends
  no init payload, so a missing one is a client bug and gets ``missing_fields``.

Another ``auth.protocol`` value is refused at connect with the reason (a client asking for extras this gateway does
not speak must not silently get the stock protocol).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from contract.handoff import HANDOFF_REASONS
from contract.impact import SCOPES, URGENCIES

CUSTOMER_NS = "/"
AGENT_NS = "/agents"

# The opt-in to the gateway's extras on the customer namespace: Socket.IO connect ``auth: {"protocol": ...}``.
FRONTLINE_PROTOCOL = "frontline.1"

# Customer namespace, Rasa socketio protocol.
SESSION_REQUEST = "session_request"
SESSION_CONFIRM = "session_confirm"
USER_UTTERED = "user_uttered"
BOT_UTTERED = "bot_uttered"
# Additive customer events.
RESUME = "resume"
TYPING = "typing"
AGENT_JOINED = "agent_joined"
AGENT_LEFT = "agent_left"
QUEUE_UPDATE = "queue_update"
CONVERSATION_STATE = "conversation_state"
HISTORY = "history"
ERROR = "error"
CSAT = "csat"

# Agent namespace.
PRESENCE = "presence"
QUEUE_SNAPSHOT = "queue_snapshot"
SNAPSHOT_REQUEST = "snapshot"
CLAIM = "claim"
AGENT_MESSAGE = "agent_message"
NOTE = "note"
TRANSFER = "transfer"
ESCALATE_L3 = "escalate_l3"
RETURN_L2 = "return_l2"
RESOLVE = "resolve"
HANDBACK = "handback"
WATCH = "watch"
UNWATCH = "unwatch"
BARGE_IN = "barge_in"
FLAG_CONTEXT_LOSS = "flag_context_loss"
HANDOFF_QUEUED = "handoff_queued"
ASSIGNED = "assigned"
CUSTOMER_MESSAGE = "customer_message"
CONVERSATION_MESSAGE = "conversation_message"
NOTE_ADDED = "note_added"
SLA_WARNING = "sla_warning"
SLA_BREACHED = "sla_breached"
STALE_ALERT = "stale_alert"
CONVERSATION_UPDATED = "conversation_updated"
# To the former owner's sockets when someone else moved their conversation away (they left its room).
CONVERSATION_REMOVED = "conversation_removed"


class PayloadError(ValueError):
    """An invalid payload: ``code`` is machine-readable, ``message`` says what to fix."""

    def __init__(self, code: str, message: str) -> None:
        """Store the code and the human message."""
        super().__init__(message)
        self.code = code
        self.message = message

    def as_dict(self) -> dict[str, str]:
        """The ``error`` event payload."""
        return {"code": self.code, "message": self.message}


@dataclass(frozen=True)
class Field:
    """One payload field: its types, whether it is required, and its limits."""

    name: str
    types: tuple[type, ...]
    required: bool = True
    max_len: int | None = 200
    message_limit: bool = False
    non_empty: bool = False
    choices: tuple[str, ...] | None = None
    minimum: int | None = None
    maximum: int | None = None


def _s(name: str, **kw: Any) -> Field:
    return Field(name, (str,), **kw)


# What the agent leaves open for the customer when handing back (the bot resumes with it).
OPEN_QUESTION_MAX = 500
# Why an agent hands a conversation back: solved (the bot carries on) or the bot escalated wrongly (a bounceback).
HANDBACK_REASONS = ("solved", "wrong_escalation")
# Sequence numbers and ids are 32-bit INTEGER columns (PostgreSQL); larger numbers could not even be looked up.
INT_MAX = 2**31 - 1
# Objects in payloads (customData) are shallow; deeper nesting is refused before anything recurses into it.
MAX_DEPTH = 32


def _i(name: str, **kw: Any) -> Field:
    kw.setdefault("maximum", INT_MAX)
    return Field(name, (int,), max_len=None, **kw)


_ID = _s("conversation_id", max_len=64, non_empty=True)
_TEXT = _s("text", message_limit=True, non_empty=True, max_len=None)
_CLIENT_ID = _s("client_id", required=False, max_len=64)

INCOMING: dict[str, dict[str, tuple[Field, ...]]] = {
    CUSTOMER_NS: {
        SESSION_REQUEST: (
            Field("session_id", (str, type(None)), required=False, max_len=128),
            _i("last_seq", required=False, minimum=0),
        ),
        USER_UTTERED: (
            _s("message", message_limit=True, max_len=None),
            Field("session_id", (str, type(None)), required=False, max_len=128),
            Field("customData", (dict, str, type(None)), required=False, max_len=None),
            Field("metadata", (dict, str, type(None)), required=False, max_len=None),
            _CLIENT_ID,
        ),
        RESUME: (_s("session_id", max_len=128), _i("last_seq", minimum=0)),
        TYPING: (Field("on", (bool,), max_len=None),),
        CSAT: (_i("score", minimum=1, maximum=5), _s("comment", required=False, max_len=1000)),
    },
    AGENT_NS: {
        PRESENCE: (_s("status", choices=("online", "away")),),
        SNAPSHOT_REQUEST: (),
        CLAIM: (_ID,),
        AGENT_MESSAGE: (_ID, _TEXT, _CLIENT_ID),
        TYPING: (_ID, Field("on", (bool,), max_len=None)),
        NOTE: (_ID, _TEXT),
        TRANSFER: (
            _ID,
            _i("to_agent_id", required=False, minimum=1),
            _s("to_team", required=False, max_len=64),
            _s("note", required=False, message_limit=True, max_len=None),
        ),
        ESCALATE_L3: (
            _ID,
            _s("repro_steps", message_limit=True, non_empty=True, max_len=None),
            _s("logs", message_limit=True, non_empty=True, max_len=None),
            _s("environment", message_limit=True, non_empty=True, max_len=None),
            Field("timestamps", (str, list), message_limit=True, non_empty=True, max_len=None),
            # The customer impact: who is affected and how urgent it is (handoff.domain.l3 sets the L3 priority).
            _s("impact_scope", choices=SCOPES),
            _s("impact_urgency", choices=URGENCIES),
            _s("impact_note", required=False, max_len=1000),
            _i("to_agent_id", required=False, minimum=1),
        ),
        RETURN_L2: (
            _ID,
            _s("resolution", message_limit=True, non_empty=True, max_len=None),
            _s("root_cause", message_limit=True, non_empty=True, max_len=None),
            _s("workaround", required=False, message_limit=True, max_len=None),
            _s("customer_update", message_limit=True, non_empty=True, max_len=None),
        ),
        RESOLVE: (
            _ID,
            _s("resolution_code", max_len=64, non_empty=True),
            # "The bot could have handled this": listed on the designers' Needs training page.
            Field("avoidable", (bool,), required=False, max_len=None),
        ),
        HANDBACK: (
            _ID,
            _s("coaching_note", message_limit=True, max_len=None),
            _s("open_question", required=False, max_len=OPEN_QUESTION_MAX),
            # Why: the agent solved it and the bot can carry on, or the bot should not have escalated (bounceback).
            _s("handback_reason", required=False, choices=HANDBACK_REASONS),
        ),
        WATCH: (_ID,),
        UNWATCH: (_ID,),
        BARGE_IN: (_ID,),
        FLAG_CONTEXT_LOSS: (_ID, _s("note", required=False, max_len=500)),
    },
}

# What a stock Rasa client may send (Rasa 3.6's socketio channel): ``message`` is optional, the rest of the
# customer events are frontline.1 only.
RASA_INCOMING: dict[str, tuple[Field, ...]] = {
    SESSION_REQUEST: (Field("session_id", (str, type(None)), required=False, max_len=128),),
    USER_UTTERED: (
        Field("message", (str, type(None)), required=False, message_limit=True, max_len=None),
        *(f for f in INCOMING[CUSTOMER_NS][USER_UTTERED] if f.name not in ("message", "client_id")),
    ),
}

# What a stock Rasa client gets: ``bot_uttered`` payloads as rasa/core/channels/socketio.py (SocketIOOutput) emits
# them, key for key (documentation; tests/handoff/test_stock_protocol.py asserts each shape).
RASA_OUTGOING: dict[str, Any] = {
    SESSION_CONFIRM: "the bare session id string",
    BOT_UTTERED: {
        "text": "{text}: one message per paragraph (text split on blank lines), as send_text_message",
        "buttons": "{text, quick_replies: [{content_type: 'text', title, payload}]}: one per paragraph, the buttons on "
        "the last one and [] on the others, as send_text_with_buttons (buttons and quick replies alike)",
        "image": "{attachment: {type: 'image', payload: {src}}}, as send_image_url",
        "attachment": "{attachment}: the bot's attachment as it is, as send_attachment",
        "elements": "{attachment: {type: 'template', payload: {template_type: 'generic', elements: <one element>}}} "
        "per element, as send_elements",
        "custom": "the custom json's 'data' when it has one (Rasa emits custom['data']), else the custom json as it is",
        "person": "a person's message or a hand-off notice: {text} (with quick_replies when it offers choices)",
    },
}

# Outgoing payload shapes (documentation for clients; tests check the emitted keys against them).
OUTGOING: dict[str, dict[str, str]] = {
    SESSION_CONFIRM: {"": "the bare session id string"},
    BOT_UTTERED: {
        "text": "str (optional)",
        "quick_replies": "[{content_type, title, payload}] (optional)",
        "attachment": "object (optional)",
        "id": "str",
        "seq": "int",
        "metadata": "{sender: bot|agent|system, agent_name?}",
    },
    AGENT_JOINED: {"name": "str"},
    AGENT_LEFT: {"name": "str"},
    TYPING: {"from": "bot|agent|customer", "on": "bool", "conversation_id": "str (agents only)"},
    QUEUE_UPDATE: {
        "position": "int",
        "estimated_wait_seconds": "int, or null when nobody can pick up now (no agent online, outside hours)",
    },
    CONVERSATION_STATE: {"state": "bot|queued|assigned|escalated_l3|resolved"},
    HISTORY: {"messages": "[message]"},
    ERROR: {"code": "str", "message": "str", "event": "str"},
    QUEUE_SNAPSHOT: {
        "queue": "[queue item]",
        "mine": "[conversation]",
        "live": "[conversation]",
        "l3": "[conversation + escalation]: the L3 queue, most urgent first",
        "agents": "[{id, name, status, load, capacity, role}]",
    },
    HANDOFF_QUEUED: {"conversation_id": "str", "handoff": "handoff", "summary_text": "str"},
    ASSIGNED: {"conversation_id": "str", "conversation": "conversation detail", "by": "str"},
    CUSTOMER_MESSAGE: {"conversation_id": "str", "message": "message"},
    CONVERSATION_MESSAGE: {"conversation_id": "str", "message": "message"},
    NOTE_ADDED: {"conversation_id": "str", "note": "note"},
    SLA_WARNING: {"conversation_id": "str", "priority": "str", "sla_deadline": "iso datetime", "tier": "l3 (optional)"},
    SLA_BREACHED: {"conversation_id": "str", "priority": "str", "sla_deadline": "iso datetime", "tier": "l3 (optional)"},
    STALE_ALERT: {"conversation_id": "str", "tier": "l1|l2|l3", "minutes": "float"},
    CONVERSATION_UPDATED: {"conversation_id": "str", "state": "str"},
    CONVERSATION_REMOVED: {"conversation_id": "str", "state": "str", "by": "str (agent name)", "by_agent_id": "int"},
}


def _size(event: str, name: str, value: Any) -> int:
    """UTF-8 size of a value; refuses what no database, Rasa or browser can take.

    That is text with a lone UTF-16 surrogate (not encodable as UTF-8) or a NUL character (PostgreSQL text refuses it),
    anywhere in the value, and values that are not JSON (binary attachments, NaN, Infinity).
    """
    check_text(f"{event}: {name}", value)
    if isinstance(value, str):
        return len(value.encode("utf-8"))
    try:
        return len(json.dumps(value, ensure_ascii=False, allow_nan=False).encode("utf-8"))
    except (TypeError, ValueError) as exc:
        raise PayloadError("invalid_type", f"{event}: {name} must be JSON (no binary data, NaN or Infinity)") from exc


def check_text(where: str, value: Any) -> None:
    """Refuse a JSON-like value with a NUL, a lone surrogate or nesting deeper than ``MAX_DEPTH`` anywhere in it.

    Raises:
        PayloadError: ``invalid_value``, with ``where`` in the message.
    """
    for text in _strings(where, value):
        if "\x00" in text:
            raise PayloadError("invalid_value", f"{where} contains a NUL character")
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise PayloadError("invalid_value", f"{where} contains invalid text (a lone surrogate)") from exc


def _strings(where: str, value: Any) -> Iterator[str]:
    """Every string inside a JSON-like value, keys included (iteratively: hostile nesting cannot overflow the stack)."""
    stack = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise PayloadError("invalid_value", f"{where} is nested more than {MAX_DEPTH} levels deep")
        if isinstance(item, str):
            yield item
        elif isinstance(item, dict):
            stack.extend((part, depth + 1) for pair in item.items() for part in pair)
        elif isinstance(item, (list, tuple)):
            stack.extend((part, depth + 1) for part in item)


def validate(namespace: str, event: str, data: Any, *, max_message_bytes: int = 4096, stock: bool = False) -> dict[str, Any]:
    """Check ``data`` against the schema of ``event``; return only the known fields.

    ``stock``: the sender speaks stock Rasa (:data:`RASA_INCOMING`), not frontline.1.

    Raises:
        PayloadError: unknown event, wrong type, missing field or oversize value.
    """
    schema = RASA_INCOMING.get(event) if stock else INCOMING.get(namespace, {}).get(event)
    if schema is None:
        if stock and event in INCOMING[CUSTOMER_NS]:
            raise PayloadError(
                "unknown_event",
                f"{event!r} is part of the {FRONTLINE_PROTOCOL} protocol: "
                f'connect with auth {{"protocol": "{FRONTLINE_PROTOCOL}"}} to use it',
            )
        raise PayloadError("unknown_event", f"unknown event {event!r}")
    if data is None and all(not f.required for f in schema):
        data = {}
    if not isinstance(data, dict):
        raise PayloadError("invalid_payload", f"{event}: payload must be an object")
    missing = [
        f.name for f in schema if f.required and (data.get(f.name) is None or (f.non_empty and _empty(data.get(f.name))))
    ]
    if missing:
        raise PayloadError("missing_fields", f"{event}: missing required fields: {', '.join(missing)}")
    clean: dict[str, Any] = {}
    for f in schema:
        if f.name not in data:
            continue
        value = data[f.name]
        if value is None and not f.required:
            clean[f.name] = None
            continue
        if isinstance(value, bool) and bool not in f.types:
            raise PayloadError("invalid_type", f"{event}: {f.name} has the wrong type")
        if not isinstance(value, f.types):
            names = "/".join("null" if t is type(None) else t.__name__ for t in f.types)
            raise PayloadError("invalid_type", f"{event}: {f.name} must be {names}")
        size = _size(event, f.name, value)
        if f.message_limit and size > max_message_bytes:
            raise PayloadError("too_large", f"{event}: {f.name} is larger than {max_message_bytes} bytes")
        if f.max_len is not None and isinstance(value, str) and len(value) > f.max_len:
            raise PayloadError("too_large", f"{event}: {f.name} is longer than {f.max_len}")
        if f.max_len is None and not f.message_limit and size > max_message_bytes:
            raise PayloadError("too_large", f"{event}: {f.name} is larger than {max_message_bytes} bytes")
        if f.choices is not None and value not in f.choices:
            raise PayloadError("invalid_value", f"{event}: {f.name} must be one of {list(f.choices)}")
        if f.minimum is not None and isinstance(value, int) and value < f.minimum:
            raise PayloadError("invalid_value", f"{event}: {f.name} must be >= {f.minimum}")
        if f.maximum is not None and isinstance(value, int) and value > f.maximum:
            raise PayloadError("invalid_value", f"{event}: {f.name} must be <= {f.maximum}")
        if isinstance(value, list) and not all(isinstance(v, str) for v in value):
            raise PayloadError("invalid_type", f"{event}: {f.name} must be a list of strings")
        clean[f.name] = value
    return clean


def _empty(value: Any) -> bool:
    if isinstance(value, str):
        return not value.strip()
    if isinstance(value, list):
        return not any(isinstance(v, str) and v.strip() for v in value)
    return False


def describe() -> dict[str, Any]:
    """The protocol as JSON: incoming fields per namespace, outgoing shapes."""
    incoming = {
        ns: {
            ev: {
                f.name: {
                    "types": ["null" if t is type(None) else t.__name__ for t in f.types],
                    "required": f.required,
                    **({"choices": list(f.choices)} if f.choices else {}),
                }
                for f in fields
            }
            for ev, fields in events.items()
        }
        for ns, events in INCOMING.items()
    }
    rasa_incoming = {
        event: {
            f.name: {"types": ["null" if t is type(None) else t.__name__ for t in f.types], "required": f.required}
            for f in fields
        }
        for event, fields in RASA_INCOMING.items()
    }
    return {
        "incoming": incoming,
        "outgoing": OUTGOING,
        "handoff_reasons": list(HANDOFF_REASONS),
        # The customer namespace speaks stock Rasa unless the handshake asks for frontline.1 (module docstring).
        "protocols": {
            "rasa": {"handshake": "no auth.protocol", "incoming": rasa_incoming, "outgoing": RASA_OUTGOING},
            FRONTLINE_PROTOCOL: {
                "handshake": {"auth": {"protocol": FRONTLINE_PROTOCOL}},
                "incoming": "the top-level 'incoming' (namespace '/'), acknowledged",
                "outgoing": "the top-level 'outgoing'",
            },
        },
    }

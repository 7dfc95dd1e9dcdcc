"""Rasa's SQL tracker store, with the customer's words redacted before they are written.

The gateway redacts what it relays, but Rasa is also reached directly (``make shell``, the REST channel, tests):
whatever reaches it, the events it keeps hold no card number, password, reset token or API key
(:mod:`contract.redact`): the customer's ``user`` events, the ``slot`` events (a ``from_text`` slot holds the
customer's words as typed) and the ``bot`` events (a reply may quote the customer). The conversation in memory is
untouched, so the current turn is understood as typed.
Configured in ``endpoints.yml``: ``tracker_store: {type: bot.tracker_store.RedactingSQLTrackerStore, ...}``, with
an optional ``redact:`` key (the classes, as ``HANDOFF_REDACT``; default all). Loading it also routes the Rasa
server's own log records through the redaction (Rasa logs the user's text at DEBUG).

It also hands the same tracker back for a conversation's next message instead of rebuilding it from every stored
event (``cached_conversations``, default 1000, the most recently used, holding at most ``cached_events``, default
100,000, events together; 0 turns it off). Rebuilding cost a reply at
turn 80 about 15 ms more than at turn 10, and only a tracker kept in memory keeps its derived dialogue states
(bot/prior_states.py). The database stays the truth: a kept tracker is handed back only while the conversation's
stored events are exactly the ones it holds (the conversation's row count and highest row id, read before each use:
another Rasa server's write means a reload, and so does a turn that changed the tracker without saving it), never
after its last save redacted something (the reload then holds the redacted text, as before), and never when the
save began a new session (a reload reads only the latest session).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import islice
from typing import Any

import sqlalchemy as sa
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import BotUttered, Event, SessionStarted, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from contract.redact import install, redact_value

# The fields of each kind of event that can hold the customer's words.
_CUSTOMER_FIELDS: dict[type, tuple[str, ...]] = {
    UserUttered: ("text", "parse_data"),
    SlotSet: ("value",),
    BotUttered: ("text", "data"),
}


# Parts of a message's parse data Rasa writes itself, never the customer's words: left as they are (the redaction
# took a message id of 32 hex digits for a key, and the token offsets, tuples, compared unequal to their copies).
_PARSE_DATA_NOT_WORDS = frozenset({"message_id", "text_tokens"})


def _redacted_field(field: str, value: Any) -> Any:
    """``value`` of an event's ``field`` with every string that can hold the customer's words redacted."""
    if field == "parse_data" and isinstance(value, dict):
        return {key: item if key in _PARSE_DATA_NOT_WORDS else redact_value(item) for key, item in value.items()}
    return redact_value(value)


def redacted(event: Event) -> Event:
    """A copy of a user, slot or bot event with the fields that can hold the customer's words redacted.

    Other events (actions, forms, sessions) carry only names and are returned as they are.
    """
    fields = _CUSTOMER_FIELDS.get(type(event))
    if fields is None:
        return event
    data: dict[str, Any] = event.as_dict()
    changed = False
    for field in fields:
        if data.get(field) is not None:
            clean = _redacted_field(field, data[field])
            changed = changed or clean != data[field]
            data[field] = clean
    if not changed:  # nothing to hide: the event as it is (rebuilding it costs a reply ~1 ms per event)
        return event
    copy = Event.from_parameters(data)
    return copy if copy is not None else event


@dataclass(frozen=True)
class _Kept:
    """A tracker as last saved, and what the database held for it then."""

    tracker: DialogueStateTracker
    domain: Domain
    length: int
    stored: tuple[int, int | None]


@dataclass
class _Saving:
    """One save under way: the stored count when known, and what writing the new events found."""

    stored_before: int | None
    written: int = 0
    redacted: bool = False


class RedactingSQLTrackerStore(SQLTrackerStore):
    """``SQLTrackerStore`` whose new rows carry redacted customer messages, keeping recent trackers in memory."""

    def __init__(self, *args: Any, redact: str = "all", cached_conversations: int | str = 1000,
                 cached_events: int | str = 100_000, **kwargs: Any) -> None:
        """As ``SQLTrackerStore``, with three options.

        ``redact`` chooses the classes for this Rasa process (rows and log lines); ``cached_conversations`` how many
        conversations' trackers are kept in memory between messages, ``cached_events`` how many events they may hold
        together (about 2.4 kB each with their dialogue states: a very long conversation cannot fill the memory).
        """
        install(redact)
        super().__init__(*args, **kwargs)
        if self.engine.dialect.name == "sqlite":
            # SQLAlchemy 1.4 opens a SQLite file anew for every session (NullPool): ~0.3 ms each, several a message.
            # One connection per thread instead, as SQLite allows.
            self.engine: sa.engine.Engine = sa.create_engine(self.engine.url, poolclass=sa.pool.SingletonThreadPool)
            self.sessionmaker = sa.orm.session.sessionmaker(bind=self.engine)
        self.cached_conversations, self.cached_events = int(cached_conversations), int(cached_events)
        if self.cached_conversations < 0 or self.cached_events < 0:
            raise ValueError("cached_conversations and cached_events must be 0 (off) or more")
        self._kept: OrderedDict[str, _Kept] = OrderedDict()
        self._kept_events = 0
        table = self.SQLEvent.__table__
        placeholder = "%s" if self.engine.dialect.paramstyle in ("format", "pyformat") else "?"
        self._stored_sql = f"SELECT count(id), max(id) FROM {table.fullname} WHERE sender_id = {placeholder}"
        self._saving: dict[str, _Saving] = {}  # by conversation: Rasa's lock store allows one save at a time

    def _stored(self, sender_id: str) -> tuple[int, int | None]:
        """The conversation's rows in the database: how many, the highest id (any write by anyone changes it)."""
        with self.engine.connect() as connection:
            count, highest = connection.exec_driver_sql(self._stored_sql, (sender_id,)).one()
        return count, highest

    async def retrieve(self, sender_id: str) -> DialogueStateTracker | None:
        """The kept tracker while the database holds exactly its events; otherwise rebuilt from the database."""
        kept = self._take(sender_id)
        stored = self._stored(sender_id) if kept is not None or self.cached_conversations else None
        if (kept is not None and kept.domain is self.domain and len(kept.tracker.events) == kept.length
                and stored == kept.stored):
            self._keep(kept)
            return kept.tracker
        tracker = await super().retrieve(sender_id)
        if tracker is not None and stored is not None and self.cached_conversations and self.domain is not None:
            # What was stored was read before the load: a write in between makes the next use reload.
            self._keep(_Kept(tracker, self.domain, len(tracker.events), stored))
        return tracker

    def _take(self, sender_id: str) -> _Kept | None:
        """The conversation's kept tracker, no longer kept."""
        kept = self._kept.pop(sender_id, None)
        if kept is not None:
            self._kept_events -= kept.length
        return kept

    def _keep(self, kept: _Kept) -> None:
        """Remember ``kept`` as the conversation's most recent use; forget the least recently used beyond the bounds."""
        self._take(kept.tracker.sender_id)
        if kept.length > self.cached_events:
            return  # longer than the whole budget: reloaded each time, and the others stay
        self._kept[kept.tracker.sender_id] = kept
        self._kept_events += kept.length
        while self._kept and (len(self._kept) > self.cached_conversations or self._kept_events > self.cached_events):
            _, dropped = self._kept.popitem(last=False)
            self._kept_events -= dropped.length

    async def save(self, tracker: DialogueStateTracker) -> None:
        """Write the new events (redacted); keep the tracker if it now equals what a reload would build."""
        sender_id = tracker.sender_id
        kept = self._take(sender_id)
        # The stored count of a tracker handed out by retrieve is its length then (Rasa's lock store keeps other
        # writers out meanwhile): no need to count the session's rows again, as Rasa's save does (~2 ms).
        saving = _Saving(kept.length if kept is not None and kept.tracker is tracker else None)
        self._saving[sender_id] = saving
        try:
            await super().save(tracker)
        finally:
            self._saving.pop(sender_id, None)
        if not self.cached_conversations or saving.redacted or self.domain is None:
            return
        events = tracker.events
        first_written = max(len(events) - saving.written, 1)
        if any(isinstance(event, SessionStarted) for event in islice(events, first_written, None)):
            return  # a reload reads only the new session: not what this tracker holds
        self._keep(_Kept(tracker, self.domain, len(events), self._stored(sender_id)))

    def _additional_events(self, session: Any, tracker: DialogueStateTracker) -> Iterator:
        saving = self._saving.get(tracker.sender_id) or _Saving(None)
        if saving.stored_before is None:
            new = super()._additional_events(session, tracker)
        else:
            new = islice(tracker.events, saving.stored_before, len(tracker.events))
        for event in new:
            stored = redacted(event)
            saving.redacted = saving.redacted or stored is not event
            saving.written += 1
            yield stored

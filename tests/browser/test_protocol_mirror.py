"""The widget's copy of the Socket.IO protocol (widget/src/shared/protocol.js) matches handoff/domain/events.py."""

from __future__ import annotations

import json
import re

from bot.launcher import ROOT
from contract import impact
from handoff.domain import events, l3, routing, states

SRC = ROOT / "widget" / "src"


def _js_constants(path: str) -> dict[str, object]:
    text = (SRC / path).read_text(encoding="utf-8")
    found: dict[str, object] = {}
    for name, value in re.findall(r"^export const ([A-Z0-9_]+) = (.+);$", text, flags=re.M):
        found[name] = json.loads(value)
    return found


def test_event_names_are_mirrored_both_ways() -> None:
    js = _js_constants("shared/protocol.js")
    py = {name: value for name, value in vars(events).items() if name.isupper() and isinstance(value, str)}
    assert {k: v for k, v in js.items() if isinstance(v, str)} == py


def test_every_incoming_event_has_a_name_in_the_widget() -> None:
    js_values = {v for v in _js_constants("shared/protocol.js").values() if isinstance(v, str)}
    for namespace, handlers in events.INCOMING.items():
        for event in handlers:
            assert event in js_values, (namespace, event)


def test_l3_fields_teams_and_reasons_match() -> None:
    js = _js_constants("shared/protocol.js")
    assert js["L3_FIELDS"] == list(l3.DOR_FIELDS)
    assert js["L3_RETURN_FIELDS"] == list(l3.RETURN_FIELDS)
    assert js["L3_IMPACT_SCOPES"] == list(impact.SCOPES) and js["L3_IMPACT_URGENCIES"] == list(impact.URGENCIES)
    teams = re.search(r"export const TEAMS = (\[.*?\]);", (SRC / "console" / "format.js").read_text())
    assert teams is not None and json.loads(teams.group(1)) == list(routing.TEAMS)
    labels = (SRC / "console" / "format.js").read_text()
    for reason in events.HANDOFF_REASONS:
        assert re.search(rf"^\s+{reason}: ", labels, flags=re.M), f"no console label for hand-off reason {reason}"


def test_conversation_states_are_mirrored() -> None:
    js = _js_constants("shared/protocol.js")
    assert js["CONVERSATION_STATES"] == [state.value for state in states.State]
    assert js["WITH_PEOPLE"] == [state.value for state in states.WITH_PEOPLE]
    assert js["WITH_AN_AGENT"] == [state.value for state in states.WITH_AN_AGENT]


def test_event_types_are_mirrored() -> None:
    text = (SRC / "shared" / "protocol.js").read_text(encoding="utf-8")
    block = re.search(r"^export const EVENT_TYPES = Object\.freeze\(\{\n(.*?)^\}\);$", text, flags=re.M | re.S)
    assert block is not None, "protocol.js has no EVENT_TYPES = Object.freeze({...});"
    entries = re.findall(r"^\s+([A-Z0-9_]+): \"([a-z0-9_]+)\",$", block.group(1), flags=re.M)
    assert len(entries) == len(block.group(1).splitlines()), "an EVENT_TYPES line the mirror test cannot read"
    assert entries == [(member.name, member.value) for member in states.EventType]


def test_the_console_compares_event_types_through_the_mirror() -> None:
    for path in sorted((SRC / "console").glob("*.js")):
        assert not re.search(r"\.type\s*!?===?\s*[\"']", path.read_text(encoding="utf-8")), f"{path.name}: use P.EVENT_TYPES"

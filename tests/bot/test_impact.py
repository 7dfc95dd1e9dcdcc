"""Customer impact read from the customer's words (contract.impact): scope, urgency, the summary line, linear time."""

from __future__ import annotations

import re
from typing import Any

import pytest

from contract import impact
from contract.impact import (
    NOT_ASKED,
    SCOPE_LABELS,
    SCOPES,
    URGENCIES,
    URGENCY_LABELS,
    describe,
    scope_from_text,
    urgency_from_text,
)

try:  # Python 3.11+ names the parser re._parser; 3.10 has sre_parse
    from re import _parser as sre_parse  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover - Python 3.10
    import sre_parse  # type: ignore[no-redef]

# The widest stretch of text a single match attempt may look at. A pattern whose every quantifier is bounded tries a
# bounded number of ways at each start position, so a search costs at most (message length x that constant).
MAX_WINDOW = 200


@pytest.mark.parametrize(("text", "scope"), [
    ("just me", "one_customer"),
    ("only me as far as i can tell", "one_customer"),
    ("It's only my account, my colleagues are fine", "one_customer"),
    ("I think I'm the only one", "one_customer"),
    ("nobody else has it", "one_customer"),
    ("seems to be only on my laptop", "one_customer"),
    ("me", "one_customer"),
    ("my whole team", "several_customers"),
    ("5 of our users have reported it", "several_customers"),
    ("a few colleagues get the same thing", "several_customers"),
    ("not just me, my coworker too", "several_customers"),
    ("some of us, not all", "several_customers"),
    ("three of our stores", "several_customers"),
    ("the sync breaks for our entire sales floor", "several_customers"),
    ("everyone", "all_customers"),
    ("Everybody here!!", "all_customers"),
    ("all our customers are emailing us about it", "all_customers"),
    ("nobody can log in", "all_customers"),
    ("the site is down for everybody", "all_customers"),
    ("nobody in our office can log in since this morning, error E-504", "all_customers"),
    ("the whole company is stuck", "all_customers"),
    ("looks like an outage", "all_customers"),
    ("your app seems to be completely down", "all_customers"),
    ("Nobody\u2019s able to sign in, none of us can get in", "all_customers"),
])
def test_scope_from_the_customers_words(text: str, scope: str) -> None:
    assert scope_from_text(text) == scope
    assert scope in SCOPES


@pytest.mark.parametrize("text", [
    "not sure", "no idea", "the export fails with E-504", "it happens whenever I open the reports page",
    "my team lead asked me to contact you", "no one has answered my last ticket", "I tried it on two computers",
    "", None,
])
def test_no_scope_when_the_words_do_not_say(text: Any) -> None:
    assert scope_from_text(text) is None


@pytest.mark.parametrize(("text", "urgency"), [
    ("we can't work", "critical"),
    ("production is down", "critical"),
    ("we're losing sales every hour this is broken", "critical"),
    ("it's costing us money", "critical"),
    ("nobody can take any orders, we cannot take payments", "critical"),
    ("this is business critical", "critical"),
    ("it's urgent", "high"),
    ("asap please", "high"),
    ("it's blocking me from finishing the month end", "high"),
    ("I have a deadline on friday", "high"),
    ("need it fixed today", "high"),
    ("we present to a client at 3 so it's kind of a big deal", "high"),
    ("no rush", "low"),
    ("no panic, it's not a big deal", "low"),
    ("whenever", "low"),
    ("fix it whenever you can, thanks", "low"),
    ("not urgent", "low"),
    ("it's not that urgent to be honest", "low"),
    ("it's a minor thing", "low"),
    ("somewhat urgent", "normal"),
    ("there's a workaround so we manage", "normal"),
    ("annoying but we can still work", "normal"),
])
def test_urgency_from_the_customers_words(text: str, urgency: str) -> None:
    assert urgency_from_text(text) == urgency
    assert urgency in URGENCIES


@pytest.mark.parametrize("text", [
    "not sure", "just me", "it happens whenever I open the reports page", "critical error 0x80 when saving",
    "it logs me out immediately", "the popup says request blocked", "pressing save does nothing", "", None,
])
def test_no_urgency_when_the_words_do_not_say(text: Any) -> None:
    assert urgency_from_text(text) is None


def test_what_happens_outranks_what_they_call_it() -> None:
    assert urgency_from_text("not urgent I guess but we can't work at all") == "critical"
    assert scope_from_text("just me and a colleague") == "several_customers"
    assert scope_from_text("it's not just me, the whole office has it") == "all_customers"


def test_every_value_has_a_label() -> None:
    assert set(SCOPE_LABELS) == set(SCOPES) and set(URGENCY_LABELS) == set(URGENCIES)
    assert all(label.strip() for label in (*SCOPE_LABELS.values(), *URGENCY_LABELS.values()))


def test_describe_states_scope_urgency_and_the_words() -> None:
    line = describe("nobody on our team can log in, we can't work", "all_customers", "critical")
    assert line == 'Everyone (outage), urgency critical: "nobody on our team can log in, we can\'t work"'
    assert describe("only me", "one_customer", None) == 'Just this customer: "only me"'
    assert describe("not sure", None, None) == 'Scope and urgency not stated: "not sure"'
    assert describe(None, None, None) == NOT_ASKED
    assert describe("", "", "") == NOT_ASKED


def test_describe_ignores_values_outside_the_vocabulary_and_keeps_to_one_line() -> None:
    line = describe("a\nlong\n" + "word " * 200, "the_moon", "whenever")
    assert "\n" not in line and "the_moon" not in line and "whenever" not in line
    assert len(line) < 250 and line.endswith('\u2026"')


# ------------------------------------------------------------------------------------------------ linear time


def widest_match(pattern: str) -> int:
    """The most characters one match attempt of ``pattern`` can span (MAXREPEAT when a quantifier is unbounded)."""
    return int(sre_parse.parse(pattern).getwidth()[1])


def test_the_window_check_catches_an_unbounded_pattern() -> None:
    assert widest_match(r"\s+down") > MAX_WINDOW  # the check fails a pattern with an unbounded run
    assert widest_match(r"(?:[\w']{1,20} ){0,3}down") <= MAX_WINDOW


@pytest.mark.parametrize("pattern", impact.PATTERNS, ids=lambda p: p.pattern[:40])
def test_every_pattern_looks_at_a_bounded_window(pattern: re.Pattern[str]) -> None:
    assert widest_match(pattern.pattern) <= MAX_WINDOW


HOSTILE = [
    " " * 100_000,
    "a" * 100_000,
    "nobody " * 15_000,
    "not " * 25_000 + "everyone",
    "only my " * 12_500,
    "losing a a a a " * 6_000,
    "5 of our " * 11_000,
    "whenever" * 12_000 + " I",
    "'-" * 50_000,
]


@pytest.mark.parametrize("text", HOSTILE, ids=lambda t: repr(t[:12]))
def test_a_hostile_100_kb_message_is_read_to_the_end(text: str) -> None:
    # The bound on work is the window above; here the readers finish on 100 kB (pytest-timeout would stop a hang)
    # and still answer from the text: a scope or urgency at its very end is found.
    assert len(text) >= 90_000
    scope_from_text(text)
    urgency_from_text(text)
    assert scope_from_text(text + " everyone") == "all_customers"
    assert urgency_from_text(text + " no rush") == "low"

"""The hand-off reasons are defined once (contract.handoff); every side that words or ranks them covers each one."""

from __future__ import annotations

from actions import messages
from actions.handoff import reason_for
from contract.handoff import BOT_REASONS, GATEWAY_REASONS, HANDOFF_REASONS
from handoff.domain import events, priority
from handoff.domain.summary.statements import REASON_TEXT
from tests.actions.conftest import make_tracker


def test_the_reasons_are_one_list_without_repeats() -> None:
    assert len(set(HANDOFF_REASONS)) == len(HANDOFF_REASONS)
    assert not set(BOT_REASONS) & set(GATEWAY_REASONS)
    assert events.HANDOFF_REASONS is HANDOFF_REASONS, "the gateway accepts exactly the contract's reasons"


def test_the_bot_tells_the_customer_why_for_each_of_its_reasons() -> None:
    assert set(messages.HANDOFF_LEAD) == set(BOT_REASONS)


def test_the_summary_words_and_the_queue_ranks_every_reason() -> None:
    assert set(REASON_TEXT) == set(HANDOFF_REASONS)
    assert set(priority.BASE_PRIORITY) == set(HANDOFF_REASONS)


def test_the_bot_only_hands_off_with_its_own_reasons() -> None:
    assert reason_for(make_tracker({"handoff_reason": "three_strikes"})) == "three_strikes"
    # A gateway-only reason in the slot (not something an action sets) is not passed on as the bot's.
    assert reason_for(make_tracker({"handoff_reason": "language"}, "greet")) == "policy"

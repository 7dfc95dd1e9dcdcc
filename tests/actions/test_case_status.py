"""Re-contact: the bot acknowledges and asks the gateway for the case status."""

from __future__ import annotations

from actions import messages
from actions.case_status import ActionCaseStatus
from tests.actions.conftest import custom, make_tracker, run_action, said


async def test_case_status_asks_the_gateway() -> None:
    tracker = make_tracker({"customer_id": "cus_1003"}, "case_status", "any update on my case?")
    dispatcher, events = await run_action(ActionCaseStatus(), tracker)
    assert said(dispatcher) == messages.CASE_STATUS_LOOKUP
    assert custom(dispatcher) == [{"case_status": {"customer_id": "cus_1003"}}]
    assert events == []

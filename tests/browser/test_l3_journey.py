"""L3 as a real tier, once, in Chromium on the real gateway and bot: L2 escalates with the definition of ready and the
customer impact, an L3 engineer claims it from the L3 queue, reads the escalation first and returns it to L2 with the
root cause; the L2 agent gets the conversation back with L3's answer on top, and the customer reads the update.

The journey resolves what it hands off, so the queues are as empty after it as before.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import Gateway
from tests.browser.ui import BOT_TIMEOUT, console, customer, open_widget, say, session_id

pytestmark = pytest.mark.rasa
SAM = ("sam@example.com", "sam-demo-pass", "Sam Okafor")  # the demo L3 engineer (handoff/usecases/seed.py)

REPRO = "1. Sign in as an admin of Acme\n2. Open Billing > Exports\n3. Export 2024 invoices: spinner forever"
LOGS = "GET /api/exports/7781 -> 504 Gateway Timeout\nexport-worker: job 7781 killed after 300s (rows=12408)"
ENVIRONMENT = "Chrome 126 on macOS 14, EU region, web app 4.11.2"
TIMESTAMPS = "2024-06-03 09:12 and 09:40 UTC"
IMPACT_NOTE = "The 3 billing admins of Acme; month-end close is blocked"
ROOT_CAUSE = "The export worker times out on accounts with more than 10,000 invoices."
RESOLUTION = "Raised the worker timeout and re-ran export 7781; the fix ships in 4.12."
WORKAROUND = "Export one quarter at a time."
UPDATE = "We found the cause: your invoice export timed out. It works again now, and your 2024 export is ready."

# Whether the first element under the conversation header is the L3 card, and it sits above the transcript.
CARD_FIRST = """() => {
  const main = document.querySelector('#conversation');
  const blocks = [...main.children].filter((n) => n.getClientRects().length && !n.matches('.conv__head'));
  const card = document.querySelector('#l3-card');
  const transcript = main.querySelector('.transcript');
  return Boolean(card && blocks[0] && blocks[0].contains(card)
    && card.getBoundingClientRect().bottom <= transcript.getBoundingClientRect().top + 1);
}"""


def field_errors(page: Page) -> list[str]:
    """The ids of the form controls the open dialog marks invalid."""
    return list(page.locator("dialog [aria-invalid=true]").evaluate_all("(nodes) => nodes.map((n) => n.id)"))


def test_l2_escalates_l3_claims_and_returns_with_the_root_cause(gateway: Gateway, contexts: Any, shots: Any) -> None:
    # A customer asks for a person; Lena (L2, away) claims from the queue.
    dev = customer(contexts(viewport={"width": 1280, "height": 800}), gateway)
    open_widget(dev)
    sid = session_id(dev)
    name = f"Visitor {sid[:6]}"
    say(dev, "I want to talk to a human")
    expect(dev.locator(".hw-banner--queue")).to_be_visible(timeout=BOT_TIMEOUT)
    lena = console(contexts(viewport={"width": 1440, "height": 900}), gateway)
    expect(lena.locator("#l3-list")).to_be_hidden()  # the L3 queue is not L2's
    lena.locator(".qitem").filter(has_text=name).get_by_role("button", name=re.compile("^Claim conversation")).click()
    expect(lena.locator("#conv-title")).to_have_text(name)
    expect(lena.locator(".chip--mine")).to_be_visible()
    expect(dev.locator("#hw-subtitle")).to_have_text("Lena Park · Support agent", timeout=BOT_TIMEOUT)
    # Every summary card says what L1 learned of the customer impact (here nothing: the bot never asked).
    expect(lena.locator(".summary .kv").filter(has_text="Customer impact")).to_contain_text("not asked at L1")

    # The transfer dialog offers no way into L3: no L3 team, no L3 engineer, and says where L3 is.
    lena.get_by_role("button", name="Transfer…").click()
    dialog = lena.locator("dialog")
    teams = dialog.locator("#transfer-team option").evaluate_all("(nodes) => nodes.map((n) => n.value)")
    assert "l3" not in teams and "billing" in teams, teams
    expect(dialog.locator("#transfer-agent")).not_to_contain_text("Sam Okafor")
    expect(dialog).to_contain_text("L3: use Escalate to L3")
    dialog.get_by_role("button", name="Cancel").click()
    expect(lena.locator("dialog")).to_have_count(0)
    # And the gateway refuses it on its side as well.
    token = gateway.login()
    status, body = gateway.post(f"/api/conversations/{sid}/transfer", {"to_team": "l3"}, token)
    assert status >= 400 and body.get("code") == "definition_of_ready", (status, body)

    # Escalate to L3: a blank field and no customer impact are refused in the form, and nothing is sent.
    lena.get_by_role("button", name="Escalate to L3…").click()
    dialog = lena.locator("dialog")
    dialog.locator("#l3-repro_steps").fill(REPRO)
    dialog.locator("#l3-logs").fill(LOGS)
    dialog.locator("#l3-environment").fill("   ")
    dialog.locator("#l3-timestamps").fill(TIMESTAMPS)
    dialog.get_by_role("button", name="Escalate to L3", exact=True).click()
    expect(dialog.locator(".field-error")).to_have_count(3)
    assert field_errors(lena) == ["l3-environment", "l3-impact_scope-one_customer", "l3-impact_urgency-low"]
    expect(dialog.locator("#l3-impact_scope")).to_contain_text("Choose who is affected.")
    expect(lena.locator(".conv__head")).to_contain_text("With an agent")
    dialog.locator("#l3-environment").fill(ENVIRONMENT)
    dialog.get_by_label("Several customers or a team").check()
    dialog.get_by_label("High", exact=True).check()
    dialog.locator("#l3-impact_note").fill(IMPACT_NOTE)
    expect(dialog.locator(".field-error")).to_have_count(0)
    dialog.get_by_role("button", name="Escalate to L3", exact=True).click()
    expect(lena.locator("dialog")).to_have_count(0)
    expect(lena.locator(".conv__head")).to_contain_text("Escalated to L3")
    expect(dev.locator(".hw-msg--bot, .hw-notice").filter(has_text="engineering team (L3)").last).to_be_visible()

    # Sam (L3) signs in: the escalation waits in his L3 queue, most urgent first, with urgency, scope and SLA.
    sam = console(contexts(viewport={"width": 1440, "height": 900}), gateway, login=SAM)
    expect(sam.locator("#queue-list")).to_be_hidden()  # the L2 queue is not L3's
    item = sam.locator("#l3-list .qitem").filter(has_text=name)
    expect(item).to_be_visible()
    expect(item.locator(".chip--urgency")).to_have_text("Urgency: High")
    expect(item.locator(".badge--scope")).to_have_text("Several customers or a team")
    expect(item.locator(".chip--prio")).to_have_text("high")
    expect(item.locator(".sla")).to_have_text(re.compile(r"\d+:\d\d(:\d\d)? left"))
    expect(item).to_contain_text("Escalated by Lena Park")
    shots(sam, "60-l3-queue")

    # He claims it and reads the escalation first: the definition of ready and the impact, above the conversation.
    item.get_by_role("button", name=re.compile("^Claim L3 escalation")).click()
    expect(sam.locator("#conv-title")).to_have_text(name)
    expect(sam.locator(".chip--mine")).to_be_visible()
    card = sam.locator("#l3-card")
    expect(card).to_be_visible()
    expect(card.locator(".l3card__logs")).to_have_text(LOGS)
    expect(card).to_contain_text("Export 2024 invoices: spinner forever")
    expect(card).to_contain_text(ENVIRONMENT)
    expect(card).to_contain_text(TIMESTAMPS)
    expect(card).to_contain_text(IMPACT_NOTE)
    expect(card).to_contain_text("Escalated by Lena Park")
    expect(card).to_contain_text("Claimed by Sam Okafor")
    expect(card.locator(".l3card__sla")).to_contain_text("claimed in time")
    assert sam.evaluate(CARD_FIRST), "the L3 card is not the first thing above the conversation"
    expect(sam.locator(".tmsg--customer").filter(has_text="I want to talk to a human")).to_be_visible()
    expect(sam.locator(".summary-fold")).to_be_visible()  # the L1 summary, folded under the card
    expect(dev.locator("#hw-subtitle")).to_contain_text("Sam Okafor", timeout=BOT_TIMEOUT)
    shots(sam, "61-l3-view")

    # Return to L2: the form asks for what was done, the root cause and the update (the workaround is optional).
    sam.get_by_role("button", name="Return to L2…").click()
    dialog = sam.locator("dialog")
    expect(dialog).to_contain_text("goes back to Lena Park")
    dialog.get_by_role("button", name="Return to L2", exact=True).click()
    expect(dialog.locator(".field-error")).to_have_count(3)
    assert field_errors(sam) == ["l3r-resolution", "l3r-root_cause", "l3r-customer_update"]
    dialog.locator("#l3r-resolution").fill(RESOLUTION)
    dialog.locator("#l3r-root_cause").fill(ROOT_CAUSE)
    dialog.locator("#l3r-workaround").fill(WORKAROUND)
    dialog.locator("#l3r-customer_update").fill(UPDATE)
    expect(dialog.locator(".field-error")).to_have_count(0)  # a corrected field loses its error
    shots(sam, "62-l3-return-dialog")
    dialog.get_by_role("button", name="Return to L2", exact=True).click()
    expect(sam.locator("dialog")).to_have_count(0)
    expect(sam.locator(".empty h1")).to_have_text("No conversation open")
    expect(sam.locator("#mine-list")).not_to_contain_text(name)
    expect(sam.locator("#l3-list")).not_to_contain_text(name)

    # Lena has it back, with L3's answer on top.
    expect(lena.locator(".toast").filter(has_text="Back from L3")).to_be_visible()
    expect(lena.locator("#mine-list")).to_contain_text(name)
    expect(lena.locator("#conv-title")).to_have_text(name)
    answer = lena.locator("#l3-answer")
    expect(answer).to_be_visible()
    expect(answer).to_contain_text(ROOT_CAUSE)
    expect(answer).to_contain_text(RESOLUTION)
    expect(answer).to_contain_text(WORKAROUND)
    expect(answer).to_contain_text(UPDATE)
    expect(answer).to_contain_text("Returned by Sam Okafor")
    expect(lena.locator(".conv__head")).to_contain_text("With an agent")
    expect(lena.locator(".chip--mine")).to_be_visible()
    expect(lena.locator(".tmsg--agent").filter(has_text=UPDATE)).to_be_visible()
    shots(lena, "63-l2-l3-answer")

    # The customer read Sam's update, from Sam, and is back with Lena.
    update = dev.locator(".hw-msg--agent").filter(has_text=UPDATE)
    expect(update).to_be_visible()
    expect(update.locator(".hw-msg__who")).to_have_text("Sam Okafor")
    expect(dev.locator("#hw-subtitle")).to_have_text("Lena Park · Support agent", timeout=BOT_TIMEOUT)
    shots(dev, "64-customer-l3-update")

    # Lena closes it: the queues are as empty as before.
    lena.get_by_role("button", name="Resolve…").click()
    lena.locator("#resolution-code").select_option("known_issue")
    lena.locator("dialog").get_by_role("button", name="Resolve", exact=True).click()
    expect(lena.locator(".conv__head")).to_contain_text("Resolved")
    kinds = [e["type"] for e in gateway.get(f"/api/conversations/{sid}", token)["events"]]
    for expected in ("escalated_l3", "l3_claimed", "l3_returned", "resolved"):
        assert expected in kinds, (expected, kinds)
    assert dev.errors == [] and lena.errors == [] and sam.errors == []  # type: ignore[attr-defined]

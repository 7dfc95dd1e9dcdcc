"""Run a customer journey (data) through the real gateway and bot, record the transcript, check what a customer sees.

A journey is a list of steps a customer takes (type a text, click a button of the bot's latest turn, type the code
from their inbox, open the link from their inbox) and the outcome they came for:

- ``RESOLVED``: the bot did it (an amount shown, a link that works, a refund made); no hand-off.
- ``HANDED_OFF``: the conversation is queued for a person, and the summary the agent reads is true: its problem
  statement and lines mention what the customer asked (keywords), and none of the statements the customer never made.
- ``TOLD_WHY_NOT``: the bot said clearly it can't, and offered a person or other options (buttons); no hand-off.

Checks made on every journey: every customer message gets a bot reply (unless a person has the chat), no bot message
is the same as the one before it, no slot question is asked more than twice, and a signed-in customer is never asked
for their email. A failure prints the whole transcript, bot buttons and the hand-off summary included.
"""

from __future__ import annotations

import asyncio
import itertools
import re
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from aiohttp.test_utils import TestServer

from actions.backend.site import create_app
from actions.backend.store import DemoBackend
from actions.settings import ActionSettings
from handoff.domain.identity import sign
from tests.handoff.helpers import IDENTITY_SECRET, Client, Running

# What a customer types into the demo site's forms (the test card is the site's own demo card).
SITE_ANSWERS = {"password": "a-new-passphrase-42", "confirm": "a-new-passphrase-42", "number": "4242 4242 4242 4242",
                "expiry": "12/39", "name": "Journey Customer"}

REPLY_SECONDS = 30.0  # a real bot turn may take this long (cold NLU, action server round trip)
QUIET_SECONDS = 0.3  # no new event for this long after the bot's turn: the turn is over
PERSON_SECONDS = 1.0  # how long to listen after a message to a person (no bot reply is owed)
WITH_A_PERSON = ("queued", "assigned", "agent")

RESOLVED = "RESOLVED"
HANDED_OFF = "HANDED_OFF"
TOLD_WHY_NOT = "TOLD_WHY_NOT"

# The questions a form asks for one slot (actions/messages.py ASK): each may be asked at most twice in a journey.
SLOT_QUESTIONS = {
    "email": r"what'?s the email address on your account",
    "verification_code": r"emailed a 6-digit code to",
    "signup_email": r"which email address should the new account use",
    "plan": r"which plan would you like",
    "account_field": r"what would you like to change",
    "new_value": r"what'?s the new email address|what name should we use",
    "dispute_reference": r"which charge is it",
    "error_details": r"what exactly happens",
    "steps_tried": r"what have you tried so far",
    "impact": r"only affecting you, or other people too",
}
# A signed-in customer is never asked for an address: the bot (or the gateway) asking for one is a failure.
ASKS_FOR_EMAIL = re.compile(
    r"email address on your account|(what'?s|what is|tell me|type|give me|leave|share) (me )?your email",
    re.IGNORECASE,
)
EMAIL = re.compile(r"[A-Za-z0-9._%+'-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
SEED = ActionSettings().seed_path
_RESTORED_COLUMNS = ("name", "email", "status", "failed_logins", "lock_reason", "closed_at")


# ------------------------------------------------------------------------------------------------ steps (data)


@dataclass(frozen=True)
class Say:
    """The customer types ``text``; ``expect``/``forbid``: regexes the bot's reply to it must / must not match."""

    text: str
    expect: str | None = None
    forbid: str | None = None
    expect_buttons: str | None = None


@dataclass(frozen=True)
class Click:
    """The customer clicks the button whose title contains ``title`` (case-insensitive) in the bot's latest turn."""

    title: str
    expect: str | None = None
    forbid: str | None = None
    expect_buttons: str | None = None
    if_offered: bool = False  # a "Did you mean ...?" the bot may skip when it understood at once


@dataclass(frozen=True)
class Code:
    """The customer types the newest 6-digit code from their inbox, as ``template``.

    ``{code}`` stands for the code, ``{spaced}`` for it typed as two groups of three ("123 456").
    """

    template: str = "{code}"
    expect: str | None = None
    forbid: str | None = None
    expect_buttons: str | None = None


@dataclass(frozen=True)
class OpenLink:
    """The customer opens the newest emailed link of ``purpose`` on the demo company's site and sends its form."""

    purpose: str


Step = Say | Click | Code | OpenLink


@dataclass(frozen=True)
class Outcome:
    """What the customer came for.

    ``said``: regexes that must each match some bot message (RESOLVED: the result; TOLD_WHY_NOT: the why-not).
    ``summary``: for HANDED_OFF, regexes that must each match the summary's problem statement or one of its lines;
    ``summary_forbids``: statements that would be false for this conversation.
    ``check``: a backend check (e.g. the refund exists), given the demo backend; returns an error or None.
    """

    kind: str
    said: tuple[str, ...] = ()
    summary: tuple[str, ...] = ()
    summary_forbids: tuple[str, ...] = ()
    check: Callable[[DemoBackend], str | None] | None = None


@dataclass(frozen=True)
class Journey:
    """One customer's conversation: who they are (a seed.json customer id when signed in), what they do, and why."""

    name: str
    steps: tuple[Step, ...]
    outcome: Outcome
    customer: str | None = None
    email: str | None = None  # the inbox the customer reads (codes, links); the signed-in customer's by default


# ------------------------------------------------------------------------------------------------ the record


@dataclass
class Line:
    """One line of the transcript."""

    seq: int
    who: str
    text: str
    buttons: list[str] = field(default_factory=list)

    def render(self) -> str:
        """customer: ... / bot: ... [A | B]."""
        buttons = f"   [{' | '.join(self.buttons)}]" if self.buttons else ""
        return f"{self.seq:>4} {self.who:>8}: {self.text}{buttons}"


@dataclass
class Turn:
    """A customer step and the bot messages that answered it."""

    step: Step
    sent: str | None
    ack_seq: int | None
    replies: list[dict[str, Any]] = field(default_factory=list)
    with_person: bool = False


class JourneyFailed(AssertionError):
    """A journey did not give the customer what they came for (the message holds the transcript)."""


def _text(message: dict[str, Any]) -> str:
    return str(message.get("text") or "")


def _buttons(message: dict[str, Any]) -> list[dict[str, str]]:
    return list(message.get("quick_replies") or message.get("buttons") or [])


def _said(message: dict[str, Any]) -> str:
    """Text and button titles: what the customer reads."""
    return " ".join([_text(message), *(b.get("title", "") for b in _buttons(message))])


def backend_of(db: Path) -> DemoBackend:
    """The demo business the action server uses (the customer's inbox is its outbox)."""
    return DemoBackend(db, SEED, ActionSettings().public_url)


def signed_identity(customer_id: str) -> tuple[dict[str, str], str]:
    """customData of a customer signed in on the host page (seed.json), and their email."""
    import json

    seed = json.loads(SEED.read_text())
    row = next(c for c in seed["customers"] if c["id"] == customer_id)
    data = {"customer_id": row["id"], "email": row["email"], "name": row["name"],
            "signature": sign(IDENTITY_SECRET, row["id"], row["email"], row["name"])}
    return data, str(row["email"])


class JourneyRun:
    """One journey against a running gateway (its own customer and conversation)."""

    def __init__(self, journey: Journey, gateway: Running, agent: Client, backend_db: Path) -> None:
        """Not started yet."""
        self.journey = journey
        self.gateway = gateway
        self.agent = agent
        self.backend_db = backend_db
        self.backend = backend_of(backend_db)
        self.customer: Client | None = None
        self.sid = ""
        self.turns: list[Turn] = []
        self.problems: list[str] = []
        self.custom_data: dict[str, str] | None = None
        self.inbox = journey.email
        if journey.customer:
            self.custom_data, email = signed_identity(journey.customer)
            self.inbox = self.inbox or email

    # -------------------------------------------------------------------------------- talking

    @property
    def client(self) -> Client:
        assert self.customer is not None
        return self.customer

    def bot_messages(self) -> list[dict[str, Any]]:
        """Every bot (or agent/system) message the customer received, in order."""
        seen: dict[int, dict[str, Any]] = {}
        for message in self.client.of("bot_uttered"):
            if isinstance(message, dict) and (message.get("metadata") or {}).get("sender") != "customer":
                seen.setdefault(int(message.get("seq") or 0), message)
        return [seen[seq] for seq in sorted(seen)]

    def state(self) -> str:
        """The conversation's latest state as the customer's widget knows it."""
        states = [d.get("state") for d in self.client.of("conversation_state") if isinstance(d, dict)]
        return str(states[-1]) if states else "bot"

    async def _quiet(self, seconds: float) -> None:
        """Wait until no event arrived for ``seconds``."""
        while True:
            count = len(self.client.received)
            await asyncio.sleep(seconds)
            if len(self.client.received) == count:
                return

    async def send(self, step: Step, text: str) -> Turn:
        """Type ``text``; wait for the bot's whole turn (or, with a person, a short while)."""
        with_person = self.state() in WITH_A_PERSON
        typed = EMAIL.search(text)
        if typed and not self.journey.customer:
            self.inbox = typed.group(0).lower()  # the customer reads the inbox they last gave
        typing_before = self._typing_off()
        extra: dict[str, Any] = {"customData": self.custom_data} if self.custom_data else {}
        ack = await self.client.say(text, **extra)
        turn = Turn(step, text, int(ack["seq"]), with_person=with_person)
        self.turns.append(turn)
        if with_person:
            await asyncio.sleep(PERSON_SECONDS)
        else:
            loop = asyncio.get_running_loop()
            deadline = loop.time() + REPLY_SECONDS
            while loop.time() < deadline:
                answered = [m for m in self.bot_messages() if int(m.get("seq") or 0) > turn.ack_seq]  # type: ignore[operator]
                if answered and self._typing_off() > typing_before:
                    break
                if answered and self.state() in WITH_A_PERSON:
                    break
                await asyncio.sleep(0.05)
        await self._quiet(QUIET_SECONDS)
        turn.replies = [m for m in self.bot_messages() if int(m.get("seq") or 0) > turn.ack_seq]  # type: ignore[operator]
        return turn

    def _typing_off(self) -> int:
        return sum(1 for d in self.client.of("typing")
                   if isinstance(d, dict) and d.get("from") == "bot" and d.get("on") is False)

    def latest_buttons(self) -> list[dict[str, str]]:
        """Buttons of the bot's latest turn (the messages after the customer's last message)."""
        last_seq = max((t.ack_seq or 0 for t in self.turns), default=0)
        for message in reversed(self.bot_messages()):
            if int(message.get("seq") or 0) <= last_seq:
                break
            if _buttons(message):
                return _buttons(message)
        return []

    def newest_code(self) -> str | None:
        """The 6-digit code in the newest verification email in the customer's inbox."""
        if not self.inbox:
            return None
        mails = [m for m in self.backend.outbox(to=self.inbox) if m["purpose"] == "chat_code"]
        found = re.search(r"\b(\d{6})\b", mails[-1]["body"]) if mails else None
        return found.group(1) if found else None

    async def open_link(self, purpose: str) -> str | None:
        """Open the newest emailed link of ``purpose`` on the demo company's site and send its form, as a customer
        would; returns a problem, or None when the site said it worked."""
        mails = [m for m in self.backend.outbox(to=self.inbox) if m["purpose"] == purpose] if self.inbox else []
        if not mails:
            return f"no {purpose} email reached {self.inbox}"
        link = re.search(r"https?://\S+", mails[-1]["body"])
        if link is None:
            return f"the newest {purpose} email to {self.inbox} has no link"
        target = urlsplit(link.group(0))
        path = f"{target.path}?{target.query}"
        async with TestServer(create_app(self.backend)) as site, aiohttp.ClientSession() as http:
            async with http.get(site.make_url(path)) as shown:
                form = await shown.text()
                if shown.status != 200 or "<form" not in form:
                    return f"the {purpose} link shows HTTP {shown.status} instead of its form"
            fields = dict(re.findall(r'<input[^>]*type="hidden"[^>]*name="([^"]+)"[^>]*value="([^"]*)"', form))
            fields.update({name: value for name, value in SITE_ANSWERS.items() if f'name="{name}"' in form})
            async with http.post(site.make_url(path), data=fields) as done:
                page = await done.text()
                if done.status != 200 or 'class="success"' not in page:
                    return f"the {purpose} page did not confirm it worked (HTTP {done.status})"
        return None

    # -------------------------------------------------------------------------------- running

    async def run(self) -> None:
        """Connect as a new customer, take every step, then check the outcome and the generic rules."""
        self.backend.ensure_seeded()  # the action server seeds on first use; the snapshot may come first
        snapshot = self._customers()
        self.customer = await self.gateway.customer()
        self.sid = str(self.customer.of("session_confirm")[-1])
        try:
            for index, step in enumerate(self.journey.steps):
                if not await self._take(index, step):
                    break
            if self.state() in WITH_A_PERSON or self.journey.outcome.kind == HANDED_OFF:
                await self._await_summary()
            self._check_rules()
            self._check_outcome()
        finally:
            await self.customer.close()
            self._restore(snapshot)
        if self.problems:
            raise JourneyFailed(self.report())

    async def _take(self, index: int, step: Step) -> bool:
        """One step; False when the journey cannot go on (the problem is recorded)."""
        where = f"step {index + 1}"
        if isinstance(step, OpenLink):
            problem = await self.open_link(step.purpose)
            self.turns.append(Turn(step, None, None))
            if problem:
                self.problems.append(f"{where}: {problem}")
                return False
            return True
        if isinstance(step, Click):
            buttons = self.latest_buttons()
            chosen = next((b for b in buttons if step.title.lower() in b.get("title", "").lower()), None)
            if chosen is None and step.if_offered:
                return True
            if chosen is None:
                titles = [b.get("title") for b in buttons]
                self.problems.append(f"{where}: no button titled {step.title!r} in the bot's latest turn {titles}")
                return False
            turn = await self.send(step, chosen["payload"])
        elif isinstance(step, Code):
            code = self.newest_code()
            if code is None:
                self.problems.append(f"{where}: no verification code reached {self.inbox}")
                return False
            turn = await self.send(step, step.template.format(code=code, spaced=f"{code[:3]} {code[3:]}"))
        else:
            turn = await self.send(step, step.text)
        said = "\n".join(_said(m) for m in turn.replies)
        if not turn.replies and not turn.with_person:
            self.problems.append(f"{where}: silent turn, no reply to {turn.sent!r}")
        if step.expect and not re.search(step.expect, said, re.IGNORECASE):
            self.problems.append(f"{where}: the reply to {turn.sent!r} should match /{step.expect}/")
        if step.forbid and re.search(step.forbid, said, re.IGNORECASE):
            self.problems.append(f"{where}: the reply to {turn.sent!r} must not match /{step.forbid}/")
        if step.expect_buttons:
            titles = " | ".join(b.get("title", "") for m in turn.replies for b in _buttons(m))
            if not re.search(step.expect_buttons, titles, re.IGNORECASE):
                self.problems.append(f"{where}: the reply to {turn.sent!r} should offer buttons /{step.expect_buttons}/"
                                     f" (got: {titles or 'none'})")
        return True

    async def _await_summary(self) -> None:
        try:
            await self.agent.wait_for("handoff_queued", lambda d: d.get("conversation_id") == self.sid, timeout=10)
        except AssertionError:
            pass

    def summary(self) -> dict[str, Any] | None:
        """The hand-off summary the gateway built for this conversation (the agent's queue card)."""
        found = [d for d in self.agent.of("handoff_queued") if d.get("conversation_id") == self.sid]
        return found[-1] if found else None

    # -------------------------------------------------------------------------------- checks

    def _check_rules(self) -> None:
        messages = [m for m in self.bot_messages() if (m.get("metadata") or {}).get("sender") != "agent"]
        for before, after in itertools.pairwise(messages):
            if _text(before) and _said(before) == _said(after):  # same words and the same buttons
                self.problems.append(f"the bot said the same thing twice in a row (seq {before.get('seq')} and "
                                     f"{after.get('seq')}): {_text(after)!r}")
        for slot, pattern in SLOT_QUESTIONS.items():
            asked = [m for m in messages if re.search(pattern, _text(m), re.IGNORECASE)]
            if len(asked) > 2:
                self.problems.append(f"the {slot} question was asked {len(asked)} times (at most twice): "
                                     f"{_text(asked[-1])!r}")
        if self.journey.customer:
            for message in messages:
                if ASKS_FOR_EMAIL.search(_text(message)):
                    self.problems.append(f"a signed-in customer was asked for their email (seq {message.get('seq')})")

    def _check_outcome(self) -> None:
        outcome = self.journey.outcome
        said = "\n".join(_said(m) for m in self.bot_messages())
        queued = any(isinstance(d, dict) and d.get("state") in WITH_A_PERSON
                     for d in self.client.of("conversation_state"))
        for pattern in outcome.said:
            if not re.search(pattern, said, re.IGNORECASE):
                self.problems.append(f"outcome {outcome.kind}: the bot never said /{pattern}/")
        if outcome.kind == HANDED_OFF:
            if not queued:
                self.problems.append("outcome HANDED_OFF: the conversation was never queued for a person")
            card = self.summary()
            if card is None:
                self.problems.append("outcome HANDED_OFF: no hand-off summary reached the agents")
            else:
                statements = "\n".join([str(card["summary"].get("problem") or ""),
                                        *(str(line.get("text") or "") for line in card["summary"].get("lines") or [])])
                for pattern in outcome.summary:
                    if not re.search(pattern, statements, re.IGNORECASE):
                        self.problems.append(f"summary: problem/lines never mention /{pattern}/")
                for pattern in outcome.summary_forbids:
                    if re.search(pattern, statements, re.IGNORECASE):
                        self.problems.append(f"summary: states /{pattern}/, which the customer never said")
        else:
            if queued:
                self.problems.append(f"outcome {outcome.kind}: the conversation was handed to a person instead")
        if outcome.kind == TOLD_WHY_NOT:
            offers = [b for m in self.bot_messages()[-3:] for b in _buttons(m)]
            if not offers and not re.search(r"\bperson\b", said, re.IGNORECASE):
                self.problems.append("outcome TOLD_WHY_NOT: neither a person nor any options were offered")
        if outcome.check is not None:
            problem = outcome.check(self.backend)
            if problem:
                self.problems.append(f"backend: {problem}")

    # -------------------------------------------------------------------------------- the demo accounts

    def _customers(self) -> dict[str, tuple[Any, ...]]:
        with sqlite3.connect(self.backend_db) as db:
            rows = db.execute(f"SELECT id, {', '.join(_RESTORED_COLUMNS)} FROM customers").fetchall()
        return {row[0]: tuple(row[1:]) for row in rows}

    def _restore(self, snapshot: dict[str, tuple[Any, ...]]) -> None:
        """Put back what the journey changed on the seeded accounts (names, unlocks), for the journeys after it."""
        now = self._customers()
        sets = ", ".join(f"{c} = ?" for c in _RESTORED_COLUMNS)
        with sqlite3.connect(self.backend_db) as db:
            for customer_id, values in snapshot.items():
                if now.get(customer_id) != values:
                    db.execute(f"UPDATE customers SET {sets} WHERE id = ?", (*values, customer_id))

    # -------------------------------------------------------------------------------- the report

    def transcript(self) -> list[str]:
        """customer/bot lines with buttons, in order, and the states the conversation went through."""
        messages = self.bot_messages()
        acks = [t.ack_seq for t in self.turns if t.ack_seq is not None]
        shown = {int(m.get("seq") or 0) for m in messages if acks and int(m.get("seq") or 0) < acks[0]}
        result = [Line(int(m.get("seq") or 0), "bot", _text(m), [b.get("title", "") for b in _buttons(m)]).render()
                  for m in messages if int(m.get("seq") or 0) in shown]
        for index, turn in enumerate(self.turns):
            if isinstance(turn.step, OpenLink):
                result.append(f"{'':>4} {'customer':>8}: (opens the {turn.step.purpose} link from the email)")
                continue
            text = f"(clicks {turn.step.title!r}) {turn.sent}" if isinstance(turn.step, Click) else str(turn.sent)
            result.append(Line(turn.ack_seq or 0, "customer", text).render())
            later = [t.ack_seq for t in self.turns[index + 1:] if t.ack_seq is not None]
            upper = later[0] if later else 10**9
            for message in messages:
                seq = int(message.get("seq") or 0)
                if (turn.ack_seq or 0) < seq < upper:
                    who = str((message.get("metadata") or {}).get("sender") or "bot")
                    result.append(Line(seq, who, _text(message), [b.get("title", "") for b in _buttons(message)]).render())
        states = [d.get("state") for d in self.client.of("conversation_state") if isinstance(d, dict)]
        if states:
            result.append(f"     states: {' -> '.join(str(s) for s in states)}")
        return result

    def report(self) -> str:
        """The problems, the transcript and the summary, for the pytest output."""
        out = [f"journey {self.journey.name!r} ({self.journey.customer or 'anonymous'}): expected "
               f"{self.journey.outcome.kind}", "", "PROBLEMS:", *(f"  - {p}" for p in self.problems), "",
               "TRANSCRIPT:", *self.transcript()]
        card = self.summary()
        if card is not None:
            summary = card["summary"]
            out += ["", "HAND-OFF SUMMARY:", f"  problem: {summary.get('problem')}",
                    *(f"  {line.get('label')}: {line.get('text')}" for line in summary.get("lines") or [])]
        return "\n".join(out)

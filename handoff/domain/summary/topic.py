"""What the customer wants: the support topic their turns raise, and whether their words bear out the bot's reading."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from contract.handoff import PROBLEM_SENTENCES
from handoff.domain import evidence as ev
from handoff.domain.evidence import SUPPORT_INTENTS, Turn

TOPIC_NAME: dict[str, str] = {
    "reset_password": "a password reset",
    "account_locked": "a locked account",
    "create_account": "opening an account",
    "update_account": "changing account details",
    "close_account": "closing their account",
    "billing_invoice": "an invoice",
    "billing_charge_dispute": "a charge",
    "billing_refund": "a refund",
    "billing_payment_method": "their payment method",
    "technical_issue": "a technical problem",
}
# A confident intent whose claim the customer's words must also make (or a pressed button), and what to say if not.
ALSO_UNCORROBORATED: dict[str, str] = {
    "billing_charge_dispute": "also asked about a charge (the bot read it as a dispute; they did not say they dispute it)",
    "close_account": "the bot read one turn as closing their account; the customer did not say so",
}
UNCORROBORATED: dict[str, str] = {
    "billing_charge_dispute": (
        "Customer asked about a charge; the bot read it as a dispute, but the customer did not say they dispute it"
    ),
    "close_account": (
        "Not sure what the customer wants: the bot read it as closing their account, but the customer did not say so"
    ),
}


@dataclass(frozen=True)
class Topic:
    """What the customer wants, as far as the turns show it."""

    intent: str | None
    sentence: str
    turns: tuple[Turn, ...]
    certain: bool
    others: tuple[str, ...] = ()
    doubtful: tuple[tuple[str, tuple[Turn, ...]], ...] = ()  # topics the bot read but the words do not make


def refund_sentence(turns: Sequence[Turn]) -> str:
    """A refund topic in the customer's terms: wanting one, asking where it is, or both."""
    status = bool(ev.find(turns, ev.REFUND_STATUS))
    request = bool(ev.find(turns, ev.REFUND_REQUEST))
    if request and status:
        return "Customer wants a refund and asked about its status"
    if status:
        return "Customer asked where their refund is"
    if request:
        return "Customer wants a refund"
    return PROBLEM_SENTENCES["billing_refund"]


def corroborated(intent: str, turns: Sequence[Turn]) -> bool:
    """Whether the turns that raised ``intent`` make its claim in words (a confident intent alone is not a claim)."""
    if any(t.button for t in turns):
        return True
    if intent == "billing_charge_dispute":
        return any(ev.claims_dispute(t) for t in turns)
    if intent == "close_account":
        return bool(ev.find(turns, ev.CLOSE_WORDS))
    return True


def _topic_sentence(intent: str, turns: Sequence[Turn]) -> str:
    if intent == "billing_refund":
        return refund_sentence(turns)
    return PROBLEM_SENTENCES[intent]


def topic_of(turns: Sequence[Turn], declared: str | None = None) -> Topic:
    """The latest support topic the customer raised in words the bot understood; else what little is known.

    ``declared`` is the topic the bot's flow was on at the hand-off (the payload's ``intent``): when the turns bear it
    out, it is the main topic, since an answer inside a form can read as another topic to the NLU.
    """
    raised: dict[str, list[Turn]] = {}
    for t in turns:
        if t.understood and t.intent in SUPPORT_INTENTS:
            raised.setdefault(str(t.intent), []).append(t)
    latest_first = sorted(raised, key=lambda i: raised[i][-1].index, reverse=True)
    sure = [i for i in latest_first if corroborated(i, raised[i])]
    if declared in sure:
        sure.sort(key=lambda i: i != declared)
    if sure:
        main = sure[0]
        others = tuple(sorted(sure[1:], key=lambda i: raised[i][-1].index))
        # A misread the customer's own words reject ("I don't want to dispute anything") is no topic at all.
        doubtful = tuple(
            (i, tuple(raised[i]))
            for i in latest_first
            if i not in sure and not any(ev.matches(t, ev.DISPUTE_NEGATED) for t in raised[i])
        )
        return Topic(main, _topic_sentence(main, raised[main]), tuple(raised[main]), True, others, doubtful)
    if latest_first:
        main = latest_first[0]
        return Topic(None, UNCORROBORATED[main], tuple(raised[main]), False)
    unclear = ev.not_understood(turns)
    if turns and unclear:
        understood = len(turns) - len(unclear)
        sentence = f"Not sure what the customer wants: the bot understood {understood} of {len(turns)} turns"
        return Topic(None, sentence, tuple(unclear), False)
    other = [t for t in turns if t.understood and t.intent in PROBLEM_SENTENCES]
    if other:
        intent = str(other[-1].intent)
        return Topic(intent, PROBLEM_SENTENCES[intent], tuple(t for t in other if t.intent == intent), True)
    if turns:
        return Topic(None, "Not sure what the customer wants: they did not name a topic the bot knows", (), False)
    return Topic(None, "Customer needs help the bot could not give", (), False)

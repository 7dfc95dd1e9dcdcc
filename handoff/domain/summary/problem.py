"""The problem statement: the bot's own sentence when the turns bear it out, else one derived from the topic and steps.

One or two sentences an L2 agent can act on: the topic (with the identifiers the customer gave), other topics raised,
failed steps, and the suspicion when the hypothesis is sure.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from contract.handoff_payload import HandoffPayload
from handoff.domain import evidence as ev
from handoff.domain.evidence import Turn
from handoff.domain.records import MessageRecord
from handoff.domain.summary.hypothesis import PROSE_FACT, UNDERSTANDING, failed_steps
from handoff.domain.summary.line import Line
from handoff.domain.summary.reading import clean_text, first_words
from handoff.domain.summary.topic import ALSO_UNCORROBORATED, TOPIC_NAME, Topic, refund_sentence

# The topics the bot's own problem sentence may name, found by its words (the clause before any ";" or "(").
PROSE_TOPICS: tuple[tuple[re.Pattern[str], frozenset[str]], ...] = tuple(
    (re.compile(pattern, re.IGNORECASE), frozenset(intents))
    for pattern, intents in (
        (r"password|log ?in|sign ?in|locked|lock(ed)? out|unlock", ("reset_password", "account_locked")),
        (r"new account|open(ing)? an? (new )?account|creat\w* (an |a |their )?account|sign(ing)? up|regist",
         ("create_account",)),
        (r"change (to )?(their|the|his|her) (account|email|address|name|plan|details)|account details|"
         r"update (their|the) account", ("update_account",)),
        (r"(clos\w*|delet\w*|cancel\w*) (their|the|his|her) account", ("close_account",)),
        (r"invoice|receipt|\bbill\b", ("billing_invoice",)),
        (r"disput|\bcharge", ("billing_charge_dispute",)),
        (r"refund|money back", ("billing_refund",)),
        (r"payment method|card on file", ("billing_payment_method",)),
        (r"technical|fault|crash|\bbug\b|\berror\b", ("technical_issue",)),
    )
)
PROSE_REFUND_STATUS = re.compile(r"where|status|still|not (yet )?(arrived|received)", re.IGNORECASE)
PROSE_REFUND_REQUEST = re.compile(r"wants?|request|money back", re.IGNORECASE)
# A problem sentence that says nothing ("it's broken", "help").
VAGUE = re.compile(
    r"(?i)^\s*(it'?s?|this|that|thing|stuff)?\s*(is\s+)?(broken|not working|doesn'?t work|"
    r"(a\s+)?problem|help|issue|error)\W*$"
)


def _supported_facts(text: str, turns: Sequence[Turn], steps: list[dict[str, Any]]) -> tuple[bool, list[Turn]]:
    """Whether every identifier or amount in ``text`` was said by the customer or found by a step."""
    support: list[Turn] = []
    details = " ".join(f"{s['step']} {s['detail']}" for s in steps)
    for fact in PROSE_FACT.findall(text):
        if fact.startswith("$"):
            values = ev.amounts(fact)
            said = [t for t in turns if not t.button and values & ev.amounts(t.text)]
            found = bool(values & ev.amounts(details))
        else:
            said = ev.mentioning(turns, fact)
            found = fact.casefold() in details.casefold()
        if not said and not found:
            return False, []
        support.extend(said)
    return True, support


def verified_prose(given: str | None, topic: Topic, turns: Sequence[Turn], steps: list[dict[str, Any]]) -> Line | None:
    """The bot's own problem sentence, if the turns support it: its topic, its wording, each fact in it."""
    if not given or VAGUE.match(given) or len(given.split()) < 3 or not topic.certain or topic.intent is None:
        return None
    clause = re.sub(r"\([^)]*\)", " ", given.split(";")[0])
    named = [intents for pattern, intents in PROSE_TOPICS if pattern.search(clause)]
    known = {topic.intent, *topic.others}
    if not named or any(not (intents & known) for intents in named):
        return None
    # The wording must not claim more than the turns: a refund's status, or a refund the customer did not ask for.
    if any("billing_refund" in intents for intents in named):
        derived = refund_sentence([t for t in turns if t.intent == "billing_refund" and t.understood])
        if PROSE_REFUND_STATUS.search(clause) and "status" not in derived and "where" not in derived:
            return None
        if PROSE_REFUND_REQUEST.search(clause) and "wants" not in derived:
            return None
    ok, fact_turns = _supported_facts(given, turns, steps)
    if not ok:
        return None
    return Line("problem", "Problem", given.rstrip("."), (*topic.turns, *fact_turns))


def _facts(topic: Topic, turns: Sequence[Turn], entities: Mapping[str, list[str]]) -> tuple[str, list[Turn]]:
    """Identifiers the customer gave for this topic, as ``(invoice INV-1071, amount 49.00)``."""
    wanted = {
        "billing_invoice": (("invoice_id", "invoice"), ("amount", "amount")),
        "billing_charge_dispute": (("invoice_id", "invoice"), ("amount", "amount")),
        "billing_refund": (("invoice_id", "invoice"), ("amount", "amount")),
        "technical_issue": (("error_code", "error"),),
    }.get(topic.intent or "", ())
    parts, support = [], []
    for name, label in wanted:
        for value in entities.get(name) or []:
            said = ev.mentioning(turns, value)
            if said:
                parts.append(f"{label} {value}")
                support.extend(said)
    return (f" ({', '.join(parts)})" if parts else ""), support


def _suspicion(hypothesis: str) -> str:
    """The hypothesis as the tail of the problem sentence: its first clause, starting lower-case."""
    clause = hypothesis.split(";")[0].strip().rstrip(".")
    if clause[:1].isupper() and not clause[1:2].isupper():
        clause = clause[0].lower() + clause[1:]
    return clause if clause.lower().startswith("suspect") else f"suspect {clause}"


def problem_line(
    handoff: HandoffPayload,
    topic: Topic,
    turns: Sequence[Turn],
    entities: Mapping[str, list[str]],
    steps: list[dict[str, Any]],
    hypothesis: Line | None,
    reason: str,
    transcript: Sequence[MessageRecord] = (),
) -> Line:
    """One or two sentences an L2 agent can act on, never "customer says it's broken", and nothing unsupported."""
    line = verified_prose(clean_text(handoff.problem, 300), topic, turns, steps)
    first = None if turns else first_words(transcript)
    if first is not None:  # the bot read nothing (it was down, or an agent took over): the customer's words it is
        line = Line("problem", "Problem", f'Customer wrote: "{ev.quote(clean_text(first.text) or "")}"', seqs=(first.seq,),
                    certain=False)
    elif line is None:
        facts, fact_turns = _facts(topic, turns, entities)
        line = Line("problem", "Problem", topic.sentence + facts, (*topic.turns, *fact_turns), certain=topic.certain)
    parts = [line.text]
    mentioned = line.text.lower().replace("_", " ")
    others = [o for o in topic.others if TOPIC_NAME[o].split()[-1] not in mentioned]
    if others:
        parts.append("also asked about " + " and ".join(TOPIC_NAME[o] for o in others))
    support = list(line.turns)
    for intent, raised in topic.doubtful:
        parts.append(ALSO_UNCORROBORATED[intent])
        support.extend(raised)
    step_refs = list(line.steps)
    for i in failed_steps(steps):
        step = steps[i]
        if step["step"].lower() in mentioned:
            continue
        text = f"{step['step']} {step['outcome']}"
        if step["count"] > 1:
            text += f" {step['count']} times"
        if step["detail"]:
            text += f" ({step['detail']})"
        parts.append(text)
        step_refs.append(i)
        mentioned += " " + step["step"].lower()
    shown = " ".join(steps[i]["detail"] for i in step_refs).casefold()
    if (
        hypothesis is not None
        and hypothesis.certain
        and "suspect" not in line.text.lower()
        and not UNDERSTANDING.search(hypothesis.text)  # the problem says so already
        and hypothesis.text.casefold() not in shown  # a failed step's detail said it already
    ):
        parts.append(hypothesis.short or _suspicion(hypothesis.text))
        support.extend(hypothesis.turns)
        step_refs.extend(hypothesis.steps)
    if reason == "bot_unavailable" and not turns and not steps:
        parts.append("the bot was unavailable, so nothing was tried yet")
    return Line("problem", "Problem", "; ".join(parts), support, step_refs, line.certain, line.seqs)

"""The context block handed to L2: data (a JSON-safe dict) first, text second.

Deterministic: the same inputs give the same summary (no clock reads, sorted keys). Every free-text value
is redacted (cards, passwords, tokens) before it enters the block.

True before complete: each statement is derived from what happened (the customer's turns as the bot's NLU read them,
the steps the bot took) and carries its evidence, the turn indices and transcript seqs behind it (``lines``; see
:mod:`handoff.domain.evidence`). What the bot's payload asserts in prose (problem, hypothesis) is checked against the turns
and replaced when they do not support it; where the turns do not say, the summary says it is not sure.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from contract.handoff import PROBLEM_SENTENCES
from contract.handoff_payload import HandoffPayload
from contract.redact import redact, redact_value
from handoff.domain import evidence as ev
from handoff.domain.evidence import SUPPORT_INTENTS, Turn
from handoff.domain.language import name_of
from handoff.domain.priority import Priority
from handoff.domain.records import ContactRecord, MessageRecord, iso

SUMMARY_VERSION = 2
LAST_TURNS = 6
MAX_QUOTES = 3

REASON_TEXT: dict[str, str] = {
    "three_strikes": "bot failed three times (three-strike rule)",
    "low_confidence": "bot could not understand the request (low NLU confidence)",
    "customer_request": "customer asked for a person",
    "frustration": "customer is frustrated",
    "technical_issue": "technical issue: L2 work by nature",
    "fast_lane": "fast-lane customer (high value or renewal due)",
    "policy": "policy requires a human",
    "backend_unavailable": "business backend unavailable to the bot",
    "bot_unavailable": "bot (Rasa) unavailable or erroring",
    "barge_in": "an agent took over a live bot conversation",
    "language": "customer writes in a language the bot does not speak",
}

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
# Identifiers and amounts in the bot's prose: each must be something the customer said or a step found.
PROSE_FACT = re.compile(r"\$\s?\d[\d,]*(?:\.\d+)?|\b[A-Z]{2,5}-\d{2,}\b|\b[A-Z]\d{3,4}\b")
FAILED_OUTCOMES = ("failed", "error", "blocked", "not found", "declined")
VAGUE = re.compile(
    r"(?i)^\s*(it'?s?|this|that|thing|stuff)?\s*(is\s+)?(broken|not working|doesn'?t work|"
    r"(a\s+)?problem|help|issue|error)\W*$"
)
# A bot hypothesis that blames email delivery; one about understanding; one about scope.
DELIVERY = re.compile(r"not reaching|not received|not arriving|never arriv|spam|junk|outdated address", re.IGNORECASE)
UNDERSTANDING = re.compile(r"could not understand|did not understand|not understood", re.IGNORECASE)
SCOPE = re.compile(r"outside what|out of scope", re.IGNORECASE)
# Steps that send the customer an email or a link.
LINK_STEP = re.compile(r"link|e-?mail|verification|reset", re.IGNORECASE)


@dataclass(frozen=True)
class SummaryInput:
    """Everything the summary is built from (all passed in: no clock, no store access)."""

    conversation_id: str
    reason: str
    handoff: HandoffPayload  # the bot's, checked (contract.handoff_payload); an empty one when the gateway handed off
    priority: Priority
    sla_deadline: datetime
    sla_minutes: float
    skills: Sequence[str]
    today: date
    contact: ContactRecord | None = None
    customer_id: str | None = None
    customer_name: str | None = None
    customer_email: str | None = None
    verified: bool = False
    fast_lane: Sequence[str] = ()
    transcript: Sequence[MessageRecord] = field(default_factory=tuple)
    # The customer's language as decided from their messages (handoff.domain.language) and how many messages showed it.
    language: str | None = None
    language_messages: int = 0


def _float(value: float | None, default: float | None = None) -> float | None:
    return default if value is None else round(value, 2)


def _str(value: Any, limit: int = 500) -> str | None:
    if isinstance(value, str) and value.strip():
        return redact(" ".join(value.split()))[:limit]
    return None


def _turns(handoff: HandoffPayload) -> list[dict[str, Any]]:
    """The bot's turns as the summary shows them: redacted, whitespace folded, numbers to two places."""
    return [
        {
            "text": _str(turn.text) or "",
            "intent": turn.intent,
            "confidence": _float(turn.confidence),
            "ranking": [{"name": r.name, "confidence": _float(r.confidence, 0.0)} for r in turn.ranking if r.name][:3],
            "entities": [{"entity": e.entity, "value": _str(e.value, 200)} for e in turn.entities if e.entity],
            "sentiment": _float(turn.sentiment),
            "frustration": _float(turn.frustration),
        }
        for turn in handoff.turns
    ]


def _entities(handoff: HandoffPayload, turns: list[dict[str, Any]]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}

    def add(name: str, value: Any) -> None:
        values = value if isinstance(value, list) else [value]
        for v in values:
            text = _str(str(v), 200) if v is not None else None
            if text and text not in found.setdefault(name, []):
                found[name].append(text)

    for name in sorted(handoff.entities):
        add(name, handoff.entities[name])
    for turn in turns:
        for e in turn["entities"]:
            add(e["entity"], e["value"])
    return {k: found[k] for k in sorted(found) if found[k]}


def _step_name(value: Any) -> str | None:
    """A step as people read it: ``password_reset_link`` -> ``password reset link``."""
    text = _str(value, 200)
    return text.replace("_", " ") if text else None


def _steps(handoff: HandoffPayload) -> list[dict[str, Any]]:
    """Steps tried with outcomes; repeats of the same step and outcome are merged with a ``count``."""
    result: list[dict[str, Any]] = []
    seen: dict[tuple[str, str, str], dict[str, Any]] = {}
    for step in handoff.steps:
        name = _step_name(step.step)
        if not name:
            continue
        entry = {
            "step": name,
            "outcome": (_str(step.outcome, 50) or "unknown").replace("_", " "),
            "detail": _str(step.detail, 300) or "",
        }
        key = (entry["step"], entry["outcome"], entry["detail"])
        if key in seen:
            seen[key]["count"] += 1
            continue
        seen[key] = {**entry, "count": 1}
        result.append(seen[key])
    return result


@dataclass
class Line:
    """One statement of the summary with the turns (and steps) that support it."""

    key: str
    label: str
    text: str
    turns: Sequence[Turn] = ()
    steps: Sequence[int] = ()
    certain: bool = True
    seqs: Sequence[int] = ()  # transcript messages with no NLU turn (the bot never read them)
    short: str | None = None  # a hypothesis as the tail of the problem sentence, when its first clause will not do

    def as_dict(self) -> dict[str, Any]:
        """JSON form: the text, whether the bot is sure, and the evidence (turn indices, seqs, step indices)."""
        found = ev.refs(self.turns)
        return {
            "key": self.key,
            "label": self.label,
            "text": self.text,
            "certain": self.certain,
            "turns": found["turns"],
            "seqs": sorted({*found["seqs"], *self.seqs}),
            "steps": sorted(set(self.steps)),
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


def _evidence_turns(raw: list[dict[str, Any]], transcript: Sequence[MessageRecord]) -> list[Turn]:
    seqs = ev.link_seqs([t["text"] for t in raw], [(m.seq, m.sender, m.text or "") for m in transcript])
    return [
        Turn(
            index=i,
            text=t["text"],
            intent=t["intent"],
            confidence=ev.intent_confidence(t["intent"], t["confidence"], t["ranking"]),
            seq=seqs[i],
            sentiment=t["sentiment"],
            frustration=t["frustration"],
            entities=tuple((e["entity"], e["value"] or "") for e in t["entities"]),
        )
        for i, t in enumerate(raw)
    ]


def _refund_sentence(turns: Sequence[Turn]) -> str:
    status = bool(ev.find(turns, ev.REFUND_STATUS))
    request = bool(ev.find(turns, ev.REFUND_REQUEST))
    if request and status:
        return "Customer wants a refund and asked about its status"
    if status:
        return "Customer asked where their refund is"
    if request:
        return "Customer wants a refund"
    return PROBLEM_SENTENCES["billing_refund"]


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
        return _refund_sentence(turns)
    return PROBLEM_SENTENCES[intent]


def topic_of(turns: Sequence[Turn]) -> Topic:
    """The latest support topic the customer raised in words the bot understood; else what little is known."""
    raised: dict[str, list[Turn]] = {}
    for t in turns:
        if t.understood and t.intent in SUPPORT_INTENTS:
            raised.setdefault(str(t.intent), []).append(t)
    latest_first = sorted(raised, key=lambda i: raised[i][-1].index, reverse=True)
    sure = [i for i in latest_first if corroborated(i, raised[i])]
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
        derived = _refund_sentence([t for t in turns if t.intent == "billing_refund" and t.understood])
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


def _failed_steps(steps: list[dict[str, Any]]) -> list[int]:
    return [i for i, s in enumerate(steps) if s["outcome"].lower() in FAILED_OUTCOMES]


def _unsure_step_line(steps: list[dict[str, Any]], failed: list[int], turns: Sequence[Turn]) -> Line:
    name = steps[failed[-1]]["step"] if failed else "step the bot offered"
    reports = [t for t in turns if t.intent in ("deny", "step_failed") or not t.understood]
    return Line(
        "hypothesis",
        "Hypothesis",
        f"Not sure why: the {name} did not work and the customer did not say why "
        "(ask whether the email arrived and what the link showed)",
        reports,
        failed,
        certain=False,
    )


def hypothesis_for(
    handoff: HandoffPayload,
    topic: Topic,
    turns: Sequence[Turn],
    entities: Mapping[str, list[str]],
    steps: list[dict[str, Any]],
    reason: str,
) -> Line | None:
    """The hypothesis the turns and steps support: the bot's when they bear it out, else one derived from them."""
    given = _str(handoff.hypothesis, 300)
    failed = _failed_steps(steps)
    link_steps = [i for i, s in enumerate(steps) if LINK_STEP.search(s["step"])]
    link_failed = [i for i in failed if i in link_steps]
    page = ev.find(turns, ev.PAGE_ERROR)
    no_mail = ev.find(turns, ev.NO_EMAIL)

    # The customer describes the page the link opens: the email arrived, whatever the bot assumed.
    if page and (link_steps or (given and DELIVERY.search(given))):
        name = steps[(link_failed or link_steps)[-1]]["step"] if link_steps else "link"
        text = (
            f'The {name} reaches the customer but the page it opens fails ("{ev.quote(page[-1].text, 80)}"); '
            "suspect a broken or expired link page, not email delivery"
        )
        short = f"suspect the {name} opens a broken or expired page (the link itself arrives)"
        return Line("hypothesis", "Hypothesis", text, page, link_failed or link_steps, short=short)
    if given:
        if DELIVERY.search(given):
            if no_mail:
                return Line("hypothesis", "Hypothesis", given, no_mail, link_failed)
            return _unsure_step_line(steps, link_failed or failed, turns)
        if UNDERSTANDING.search(given):
            unclear = ev.not_understood(turns)
            if unclear:
                return Line("hypothesis", "Hypothesis", "The bot could not understand the request; read the "
                            "customer's own words", unclear)
        elif ev.LOCK_WORDS[0].search(given):
            locked_steps = [i for i, s in enumerate(steps) if ev.LOCK_WORDS[0].search(f"{s['step']} {s['detail']}")]
            locked_turns = ev.find(turns, ev.LOCK_WORDS)
            if locked_steps or locked_turns:
                return Line("hypothesis", "Hypothesis", given, locked_turns, [*locked_steps, *failed])
        elif SCOPE.search(given):
            outside = ev.confirmed(turns, ("out_of_scope",))
            if outside:
                return Line("hypothesis", "Hypothesis", given, outside)
        else:
            named = {*PROSE_FACT.findall(given), *(c for c in entities.get("error_code") or [] if c in given)}
            said = [t for c in sorted(named) for t in ev.mentioning(turns, c)]
            if said:
                return Line("hypothesis", "Hypothesis", given, said)
            if steps or reason == "backend_unavailable":
                # What the bot's own checks found (a charge lookup, an account hold): the steps are the evidence.
                return Line("hypothesis", "Hypothesis", given, (), failed or list(range(len(steps))))
            return Line("hypothesis", "Hypothesis", f"Unchecked guess of the bot: {given}", (), certain=False)
    codes = entities.get("error_code") or []
    said_codes = [t for c in codes for t in ev.mentioning(turns, c)]
    if codes and said_codes:
        return Line("hypothesis", "Hypothesis",
                    f"error code {codes[0]} points to a server-side fault rather than user error", said_codes)
    if topic.intent in ("reset_password", "account_locked") and failed:
        locked_steps = [i for i, s in enumerate(steps) if ev.LOCK_WORDS[0].search(f"{s['step']} {s['detail']}")]
        locked_turns = ev.find(turns, ev.LOCK_WORDS)
        if locked_steps or locked_turns:
            return Line("hypothesis", "Hypothesis",
                        "account lockout or security hold is blocking the self-service reset",
                        locked_turns, [*failed, *locked_steps])
    if link_failed and no_mail:
        name = steps[link_failed[-1]]["step"]
        return Line("hypothesis", "Hypothesis",
                    f"The {name} email is not reaching the customer; suspect spam filtering or an outdated address",
                    no_mail, link_failed)
    if link_failed:
        return _unsure_step_line(steps, link_failed, turns)
    twice = [t for t in topic.turns if re.search(r"twice|double|duplicate|two times", t.text, re.IGNORECASE)]
    if topic.intent == "billing_charge_dispute" and twice:
        return Line("hypothesis", "Hypothesis", "possible duplicate charge; check the charge history", twice)
    if reason == "backend_unavailable":
        return Line("hypothesis", "Hypothesis",
                    "the business backend was unreachable; the request itself may be routine", (), failed)
    return None


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
    line = verified_prose(_str(handoff.problem, 300), topic, turns, steps)
    first = None if turns else _first_words(transcript)
    if first is not None:  # the bot read nothing (it was down, or an agent took over): the customer's words it is
        line = Line("problem", "Problem", f'Customer wrote: "{ev.quote(_str(first.text) or "")}"', seqs=(first.seq,),
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
    for i in _failed_steps(steps):
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


def _first_words(transcript: Sequence[MessageRecord]) -> MessageRecord | None:
    """The customer's first typed message of three words or more."""
    for m in transcript:
        if m.sender == "customer" and m.text and not m.text.startswith("/") and len(m.text.split()) >= 3:
            return m
    return None


def quotes(topic: Topic, turns: Sequence[Turn]) -> list[Line]:
    """The customer's own words: the turn that raised the topic, then what the bot did not understand or the failure."""
    if not turns:
        return []  # the problem line quotes the transcript then
    wanted = [t for t in topic.turns if t.substantive][:1]
    wanted += [t for t in ev.find(turns, (*ev.PAGE_ERROR, *ev.NO_EMAIL)) if t.substantive][-1:]
    wanted += [t for t in reversed(ev.not_understood(turns)) if t.substantive]
    wanted += [t for t in turns if t.substantive][:1]
    chosen = sorted({t.index: t for t in wanted[: MAX_QUOTES * 2]}.values(), key=lambda t: t.index)
    # Keep the topic turn and the latest others when there are too many.
    if len(chosen) > MAX_QUOTES:
        first = [t for t in chosen if t in topic.turns][:1]
        rest = [t for t in chosen if t not in first][-(MAX_QUOTES - len(first)) :]
        chosen = sorted([*first, *rest], key=lambda t: t.index)
    return [Line("words", "In their words", f'"{ev.quote(t.text)}"', (t,)) for t in chosen]


def understood_line(turns: Sequence[Turn]) -> Line:
    """How much of the conversation the bot understood: "every turn" only when no turn fell back."""
    unclear = ev.not_understood(turns)
    n = len(turns)
    if not n:
        return Line("understood", "Bot understood", "no customer turn reached the bot", certain=False)
    if not unclear:
        return Line("understood", "Bot understood", f"every turn ({n} of {n})", turns)
    text = f"{n - len(unclear)} of {n} turns (not understood: {ev.numbers(unclear)})"
    return Line("understood", "Bot understood", text, unclear, certain=False)


def reason_line(reason: str, strikes: int, turns: Sequence[Turn]) -> Line:
    """Why the conversation was handed off, pointing at the turns that triggered it."""
    text = REASON_TEXT.get(reason, reason) + (f" ({strikes} strikes)" if strikes else "")
    support: list[Turn] = []
    if reason == "customer_request":
        # Asked in words, or said yes when the bot offered a person.
        support = ev.confirmed(turns, ("request_human",)) or [t for t in turns[-1:] if t.intent == "affirm" and t.understood]
    elif reason == "frustration":
        support = ev.frustrated(turns) or list(turns[-1:])
    elif reason in ("three_strikes", "low_confidence"):
        failures = ev.confirmed(turns, ("deny", "step_failed", "something_else", "out_of_scope"))
        support = [*ev.not_understood(turns), *failures]
    elif reason == "technical_issue":
        support = ev.confirmed(turns, ("technical_issue",))
    return Line("reason", "Why handed off", text, support)


def tried_line(handoff: HandoffPayload, turns: Sequence[Turn], steps: list[dict[str, Any]]) -> Line:
    """What the customer says they already tried (their words, linked); "nothing tried" only when nobody tried anything."""
    said = ev.find(turns, ev.TRIED)
    listed = _str(handoff.slots.get("steps_tried"), 300)
    if listed:
        said += [t for t in turns if ev.quote(listed, 60).rstrip("…") in t.text or listed in t.text]
    said = sorted({t.index: t for t in said}.values(), key=lambda t: t.index)
    if said:
        words = " / ".join(f'"{ev.quote(t.text, 120)}"' for t in said[-3:])
        return Line("tried", "Customer tried", f"Customer says they tried: {words}", said)
    if listed:
        return Line("tried", "Customer tried", f'Customer says they tried: "{ev.quote(listed, 120)}"')
    if steps:
        return Line("tried", "Customer tried", "Customer did not mention trying anything themselves")
    return Line("tried", "Customer tried", "Nothing tried yet: the bot took no step and the customer mentioned none")


def sentiment_of(handoff: HandoffPayload, turns: Sequence[Turn], reason: str) -> tuple[dict[str, Any], Line]:
    """Sentiment trend whose label agrees with the frustration flag (a sarcastic "great, thanks" is not improving)."""
    flagged = ev.frustrated(turns)
    flagged_at = {t.index for t in flagged}
    scored = [t for t in turns if t.sentiment is not None or t.frustration is not None or t.index in flagged_at]

    def mood(t: Turn) -> float:
        """Sentiment, but never above minus the frustration of a flagged turn (VADER reads sarcasm as praise)."""
        value = t.sentiment if t.sentiment is not None else 0.0
        if t.index in flagged_at:
            value = min(value, -max(t.frustration or 0.0, ev.FRUSTRATED_SCORE))
        return round(value, 2)

    if scored:
        trend = [mood(t) for t in scored]
    else:
        trend = [round(x, 2) for x in handoff.sentiment.trend]
    sentiments = [t.sentiment for t in turns if t.sentiment is not None]
    latest = sentiments[-1] if sentiments else _float(handoff.sentiment.latest)
    frustration = _float(handoff.frustration)
    if frustration is None:
        values = [t.frustration for t in turns if t.frustration is not None]
        frustration = max(values) if values else None
    now = (
        reason == "frustration"
        or (frustration is not None and frustration >= ev.FRUSTRATED_SCORE)
        or bool(scored and scored[-1].index in flagged_at)
    )
    delta = trend[-1] - trend[0] if len(trend) >= 2 else 0.0
    direction = "unknown" if not trend else "worsening" if delta <= -0.2 else "improving" if delta >= 0.2 else "stable"
    if now:
        label = "frustrated"
        if direction == "improving":
            direction = "stable"  # still frustrated at the hand-off: not getting better
    elif flagged:
        label = "was frustrated earlier"
    elif not trend:
        label = "no signal"
    else:
        label = "negative" if trend[-1] <= -0.3 else "positive" if trend[-1] >= 0.3 else "neutral"
    data = {
        # The mood of the last scored turn: a flagged turn's sentiment never reads as positive.
        "latest": trend[-1] if scored and trend else latest,
        "vader_latest": latest,
        "trend": trend,
        "direction": direction,
        "frustration": frustration,
        "frustrated": now,
        "label": label,
    }
    if label == "no signal":
        return data, Line("sentiment", "Sentiment", "no signal", certain=False)
    scores = [t.frustration for t in flagged if t.frustration is not None and t.frustration >= ev.FRUSTRATED_SCORE]
    detail = (
        (f"frustration {max(scores):.2f}, {ev.numbers(flagged)}" if scores else f"said so in {ev.numbers(flagged)}")
        if flagged
        else "the bot's reason for the hand-off"
        if now
        else f"sentiment {trend[-1]:.2f}"
    )
    support = flagged or ([t for t in scored if mood(t) == min(trend)] if direction == "worsening" else scored[-1:])
    if now and not flagged and reason == "frustration":
        support = list(turns[-1:])
    return data, Line("sentiment", "Sentiment", f"{label}, {direction} ({detail})", support)


def build_summary(data: SummaryInput) -> dict[str, Any]:
    """The context block as a JSON-safe dict."""
    handoff = data.handoff
    raw_turns = _turns(handoff)
    turns = _evidence_turns(raw_turns, data.transcript)
    entities = _entities(handoff, raw_turns)
    steps = _steps(handoff)
    topic = topic_of(turns)
    hypothesis = hypothesis_for(handoff, topic, turns, entities, steps, data.reason)
    problem = problem_line(handoff, topic, turns, entities, steps, hypothesis, data.reason, data.transcript)
    contact = data.contact
    customer: dict[str, Any] = {
        "id": data.customer_id,
        "name": data.customer_name or (contact.name if contact else None),
        "email": data.customer_email or (contact.email if contact else None),
        "verified": data.verified,
        "tier": contact.tier if contact else (handoff.customer_tier if data.verified else None),
        "plan": contact.plan if contact else None,
        "mrr": contact.mrr if contact else None,
        "renewal_in_days": (contact.renewal_date - data.today).days if contact and contact.renewal_date else None,
        "status": contact.status if contact else None,
        "fast_lane": bool(data.fast_lane),
        "fast_lane_reasons": list(data.fast_lane),
        # What an unverified customer told the bot: a lead for the agent, not an identity.
        "stated_email": None if data.verified else next(iter(entities.get("email") or []), None),
    }
    strikes = handoff.strikes
    last_turns = [
        {"seq": m.seq, "sender": m.sender, "text": redact(m.text or _payload_text(m.payload))}
        for m in list(data.transcript)[-LAST_TURNS:]
    ]
    sentiment, sentiment_line = sentiment_of(handoff, turns, data.reason)
    lines = [
        problem,
        *quotes(topic, turns),
        *([hypothesis] if hypothesis else []),
        understood_line(turns),
        reason_line(data.reason, strikes, turns),
        tried_line(handoff, turns, steps),
        sentiment_line,
    ]
    summary = {
        "version": SUMMARY_VERSION,
        "conversation_id": data.conversation_id,
        "customer": customer,
        "problem": problem.text,
        "hypothesis": hypothesis.text if hypothesis else None,
        "escalation": {
            "reason": data.reason,
            "reason_text": REASON_TEXT.get(data.reason, data.reason),
            "strikes": strikes,
        },
        "intent": topic.intent,
        "intents": [
            {
                "text": t["text"],
                "intent": t["intent"],
                "confidence": t["confidence"],
                "ranking": t["ranking"],
                "understood": turn.understood,
                "seq": turn.seq,
            }
            for t, turn in zip(raw_turns, turns, strict=True)
        ],
        "entities": entities,
        "entity_sources": _entity_sources(entities, turns),
        "slots": redact_value({k: v for k, v in sorted(handoff.slots.items()) if v is not None}),
        "steps": steps,
        "sentiment": sentiment,
        "lines": [line.as_dict() for line in lines],
        "priority": {"level": data.priority.level, "reasons": list(data.priority.reasons)},
        "sla": {"deadline": iso(data.sla_deadline), "minutes": data.sla_minutes},
        "skills": list(data.skills),
        "language": (
            {"code": data.language, "name": name_of(data.language), "messages": data.language_messages}
            if data.language
            else None
        ),
        "last_turns": last_turns,
    }
    return summary


def _entity_sources(entities: Mapping[str, list[str]], turns: Sequence[Turn]) -> list[dict[str, Any]]:
    """Per entity value: said by the customer (with the turns) or known only to the bot (slots, records)."""
    out = []
    for name, values in entities.items():
        for value in values:
            said = ev.mentioning(turns, value)
            out.append({"entity": name, "value": value, "source": "customer" if said else "bot", **ev.refs(said)})
    return out


def _payload_text(payload: Mapping[str, Any] | None) -> str:
    if not payload:
        return ""
    if payload.get("attachment"):
        return "[attachment]"
    return ""


def _refs_text(line: Mapping[str, Any]) -> str:
    nums = [i + 1 for i in line.get("turns") or [] if isinstance(i, int) and i >= 0]
    if not nums:
        return ""
    return f" [turn{'s' if len(nums) > 1 else ''} {', '.join(str(n) for n in nums)}]"


def render_text(summary: Mapping[str, Any]) -> str:
    """The context block as text for the console and exports; each statement names its turns."""
    c = summary.get("customer") or {}
    esc = summary.get("escalation") or {}
    pri = summary.get("priority") or {}
    sla = summary.get("sla") or {}
    lines_by_key: dict[str, list[Mapping[str, Any]]] = {}
    for line in summary.get("lines") or []:
        if isinstance(line, Mapping):
            lines_by_key.setdefault(str(line.get("key")), []).append(line)

    def stated(key: str, label: str, fallback: str | None) -> list[str]:
        found = lines_by_key.get(key)
        if not found:
            return [f"{label}: {fallback}"] if fallback is not None else []
        return [f"{label}: {line.get('text')}{_refs_text(line)}" for line in found]

    who = c.get("name") or "Anonymous customer"
    if c.get("email"):
        who += f" <{c['email']}>"
    elif c.get("stated_email"):
        who += f", says they are {c['stated_email']}"
    facts = []
    if c.get("id"):
        facts.append(str(c["id"]))
    if c.get("tier"):
        facts.append(f"{c['tier']} tier")
    if c.get("mrr") is not None:
        facts.append(f"MRR ${c['mrr']:,.0f}")
    if c.get("renewal_in_days") is not None:
        facts.append(f"renews in {c['renewal_in_days']} days")
    facts.append("verified" if c.get("verified") else "unverified")
    lines = [
        f"[{str(pri.get('level', 'normal')).upper()}] Hand-off: {esc.get('reason_text', esc.get('reason'))}"
        + (f" ({esc['strikes']} strikes)" if esc.get("strikes") else ""),
        f"Customer: {who} ({', '.join(facts)})"
        + (" FAST LANE: " + "; ".join(c["fast_lane_reasons"]) if c.get("fast_lane") else ""),
        *stated("problem", "Problem", str(summary.get("problem"))),
        *stated("words", "In their words", None),
        *stated("hypothesis", "Hypothesis", summary.get("hypothesis") or "none from L1"),
        *stated("understood", "Bot understood", None),
        *stated("tried", "Customer tried", None),
    ]
    if "hypothesis" not in lines_by_key and summary.get("lines"):
        lines.insert(4 + len(lines_by_key.get("words", [])), "Hypothesis: none from L1")
    if summary.get("steps"):
        lines.append("Steps tried:")
        for s in summary["steps"]:
            times = f" x{s['count']}" if s.get("count", 1) > 1 else ""
            lines.append(f"  - {s['step']}: {s['outcome']}{times}" + (f" ({s['detail']})" if s["detail"] else ""))
    intents = [
        f"{t['intent']} {t['confidence']:.2f}" if t.get("confidence") is not None else str(t["intent"])
        for t in summary.get("intents") or []
        if t.get("intent")
    ]
    if intents:
        lines.append("Intents: " + ", ".join(intents))
    if summary.get("entities"):
        lines.append("Entities: " + ", ".join(f"{k}={'/'.join(v)}" for k, v in summary["entities"].items()))
    sent = summary.get("sentiment") or {}
    if "sentiment" in lines_by_key:
        lines.extend(stated("sentiment", "Sentiment", None))
    elif sent.get("latest") is not None or sent.get("frustration") is not None:
        lines.append(
            f"Sentiment: {sent.get('latest')} ({sent.get('direction')})"
            + (f", frustration {sent['frustration']}" if sent.get("frustration") is not None else "")
        )
    spoken = summary.get("language")
    if isinstance(spoken, Mapping) and spoken.get("code"):
        count = spoken.get("messages") or 0
        lines.append(f"Language: {spoken.get('name')} (detected from {count} message{'' if count == 1 else 's'})")
    lines.append(
        f"Priority: {pri.get('level')} ({'; '.join(pri.get('reasons') or [])}); "
        f"SLA: pick up by {sla.get('deadline')} ({sla.get('minutes')} min)"
    )
    if summary.get("last_turns"):
        lines.append("Last turns:")
        for t in summary["last_turns"]:
            lines.append(f"  {t['sender']}: {t['text']}")
    return "\n".join(lines)

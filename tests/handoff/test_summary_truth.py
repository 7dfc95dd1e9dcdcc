"""Every statement of the hand-off summary against what happened, on recorded conversations.

Each file in ``recorded/`` holds a conversation as the gateway saw it: the transcript (seq, sender, redacted text), the
hand-off payload the bot sent (``custom.handoff``: turns with intents, confidences, sentiment and frustration from the
bot's own scorer, slots, steps, and the bot's own problem and hypothesis sentences, mistakes included) and ``truth``:
what a person reading the transcript finds (what the customer wants, whether they dispute anything, which turns list
what they tried, what the link did, whether they are frustrated at the end). The summary must agree with the truth, and
every line must point at the turns that support it.
"""

from __future__ import annotations

import json
import re
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest

from contract.handoff_payload import HandoffPayload, parse
from handoff.domain.priority import decide
from handoff.domain.records import MessageRecord
from handoff.domain.summary import SummaryInput, build_summary, render_text

RECORDED = Path(__file__).parent / "recorded"
FIXTURES = sorted(RECORDED.glob("*.json"))
NOW = datetime(2026, 11, 27, 9, 0, 0)
THRESHOLD = 0.7  # the bot's FallbackClassifier threshold (config.yml)
DELIVERY = re.compile(r"spam|not reaching|not received|outdated address", re.IGNORECASE)
# Reasons the customer's turns explain; the others (bot down, policy, barge-in) are the system's word.
CUSTOMER_REASONS = ("customer_request", "frustration", "three_strikes", "low_confidence", "technical_issue")


def _norm(text: str) -> str:
    return " ".join(text.split()).casefold()


def summarize(doc: dict[str, Any]) -> dict[str, Any]:
    transcript = [
        MessageRecord(f"m{m['seq']}", "c1", m["seq"], m["sender"], m["text"], None, None, None, "done", NOW)
        for m in doc["transcript"]
    ]
    return build_summary(
        SummaryInput(
            conversation_id="c1",
            reason=doc["reason"],
            # As the gateway reads the bot's block; the bot sent none when it was down.
            handoff=parse(doc["handoff"]) if doc["handoff"] else HandoffPayload(reason=doc["reason"]),
            priority=decide(doc["reason"]),
            sla_deadline=NOW,
            sla_minutes=30.0,
            skills=["general"],
            today=date(2026, 11, 27),
            verified=doc["verified"],
            transcript=transcript,
        )
    )


def lines_of(summary: dict[str, Any], key: str) -> list[dict[str, Any]]:
    return [line for line in summary.get("lines") or [] if line.get("key") == key]


def evidence_problems(summary: dict[str, Any], doc: dict[str, Any]) -> list[str]:
    """Every seq a line cites is a customer message, every turn index exists, and they agree with each other."""
    out = []
    said = {m["seq"]: m["text"] for m in doc["transcript"] if m["sender"] == "customer"}
    intents = summary["intents"]
    for i, turn in enumerate(intents):
        if turn.get("seq") is not None and _norm(said.get(turn["seq"], "")) != _norm(turn["text"]):
            out.append(f"turn {i + 1} is linked to seq {turn['seq']}, which says something else")
    if not summary.get("lines"):
        return ["the summary has no statement lines with evidence"]
    for line in summary["lines"]:
        name = f"{line['key']} line {line['text']!r}"
        if any(seq not in said for seq in line["seqs"]):
            out.append(f"{name} cites a seq that is not a customer message: {line['seqs']}")
        if any(not 0 <= i < len(intents) for i in line["turns"]):
            out.append(f"{name} cites a turn that does not exist: {line['turns']}")
        linked = {intents[i]["seq"] for i in line["turns"] if 0 <= i < len(intents) and intents[i].get("seq")}
        if not linked <= set(line["seqs"]):
            out.append(f"{name}: turns {line['turns']} and seqs {line['seqs']} disagree")
        if any(not 0 <= i < len(summary["steps"]) for i in line["steps"]):
            out.append(f"{name} cites a step that does not exist: {line['steps']}")
        cited = line["turns"] or line["seqs"] or line["steps"]
        needs = line["key"] in ("problem", "words", "hypothesis") or (
            line["key"] == "reason" and doc["reason"] in CUSTOMER_REASONS
        ) or (line["key"] == "tried" and line["text"].startswith("Customer says"))
        if line["certain"] and needs and not cited:
            out.append(f"{name} states something with no turn or step behind it")
    return out


def problem_problems(summary: dict[str, Any], doc: dict[str, Any]) -> list[str]:
    truth, out = doc["truth"], []
    problem = summary["problem"]
    line = (lines_of(summary, "problem") or [{"seqs": [], "turns": [], "certain": True}])[0]
    for fact in truth["unsupported_facts"]:
        if fact.casefold() in problem.casefold() and "did not say" not in problem:
            out.append(f"problem claims {fact!r}, which the customer never said: {problem!r}")
    if re.search(r"\bdisputes a charge\b", problem):
        support = [
            summary["intents"][i] for i in line["turns"]
            if summary["intents"][i]["intent"] == "billing_charge_dispute"
            and (summary["intents"][i]["confidence"] or 0) >= THRESHOLD
        ]
        if not truth["disputes"] or not support:
            out.append(f"problem says the customer disputes a charge; they did not: {problem!r}")
    if "where their refund is" in problem and truth["refund"] != "status":
        out.append(f"problem says they asked where their refund is; they asked for one: {problem!r}")
    if "wants a refund" in problem and truth["refund"] != "request":
        out.append(f"problem says they want a refund; they asked where it is: {problem!r}")
    if truth["wants"] is None:
        if summary["intent"] is not None:
            out.append(f"the summary names a topic ({summary['intent']}) a person cannot find in the turns")
        if line["certain"] or not re.match(r"Not sure|Customer wrote: \"", problem):
            out.append(f"the bot cannot tell what the customer wants but does not say so: {problem!r}")
    else:
        if summary["intent"] != truth["wants"]:
            out.append(f"topic {summary['intent']!r}, but the customer wants {truth['wants']!r}")
        if truth["problem_seq"] not in line["seqs"]:
            out.append(f"problem line does not point at the turn stating the problem (seq {truth['problem_seq']})")
    return out


def hypothesis_problems(summary: dict[str, Any], doc: dict[str, Any]) -> list[str]:
    truth, out = doc["truth"], []
    text = summary.get("hypothesis") or ""
    line = (lines_of(summary, "hypothesis") or [{"seqs": [], "turns": [], "steps": [], "certain": True}])[0]
    if truth["symptom"] == "page_error":
        if DELIVERY.search(text) or "page" not in text.casefold():
            out.append(f"the customer said the link's page fails; hypothesis: {text!r}")
        elif not line["seqs"] or not set(line["seqs"]) <= set(truth["symptom_seqs"]):
            out.append(f"the page hypothesis points at {line['seqs']}, not at the turns describing the page")
    if DELIVERY.search(text) and "Not sure" not in text:
        if truth["symptom"] != "no_email":
            out.append(f"hypothesis blames email delivery, but no turn says the email did not arrive: {text!r}")
        elif not line["seqs"] or not set(line["seqs"]) <= set(truth["symptom_seqs"]):
            out.append(f"the delivery hypothesis points at {line['seqs']}, not at the turns saying nothing arrived")
    if re.search(r"\block", text, re.IGNORECASE) and not (line["turns"] or line["steps"]):
        out.append(f"lockout hypothesis with no step or turn behind it: {text!r}")
    if not line["certain"] and not re.match(r"Not sure|Unchecked", text):
        out.append(f"an unsure hypothesis must say so: {text!r}")
    return out


def understood_problems(summary: dict[str, Any], doc: dict[str, Any]) -> list[str]:
    truth = doc["truth"]
    found = lines_of(summary, "understood")
    if not found:
        return ["no 'bot understood' statement"]
    line = found[0]
    n = len(summary["intents"])
    missed = truth["not_understood_seqs"]
    if "every turn" in line["text"]:
        fallbacks = [t for t in summary["intents"] if t["intent"] == "nlu_fallback" or (t["confidence"] or 0) < THRESHOLD]
        if missed or fallbacks:
            return [f"'bot understood every turn', but it fell back on seqs {missed}"]
        return []
    if n and f"{n - len(missed)} of {n}" not in line["text"]:
        return [f"understood line {line['text']!r}, but the bot understood {n - len(missed)} of {n} turns"]
    if n and line["seqs"] != missed:
        return [f"understood line points at {line['seqs']}, the turns not understood are {missed}"]
    return []


def tried_problems(summary: dict[str, Any], doc: dict[str, Any]) -> list[str]:
    truth = doc["truth"]
    found = lines_of(summary, "tried")
    if not found:
        return ["no statement of what the customer tried"]
    line = found[0]
    if "Nothing tried" in line["text"] and (truth["tried_seqs"] or summary["steps"]):
        return [f"{line['text']!r}, but the customer listed what they tried (seqs {truth['tried_seqs']})"]
    if truth["tried_seqs"] and not set(truth["tried_seqs"]) <= set(line["seqs"]):
        return [f"tried line {line['text']!r} misses the customer's own list (seqs {truth['tried_seqs']})"]
    return []


def sentiment_problems(summary: dict[str, Any], doc: dict[str, Any]) -> list[str]:
    truth, out = doc["truth"], []
    sentiment = summary["sentiment"]
    frustrated = truth["frustrated_at_end"] or doc["reason"] == "frustration"
    shown = " ".join(line["text"] for line in lines_of(summary, "sentiment"))
    if frustrated:
        if sentiment.get("label") != "frustrated" or sentiment["direction"] == "improving" or "improving" in shown:
            out.append(f"customer is frustrated, sentiment reads {sentiment.get('label')} / {sentiment['direction']}")
        if (sentiment.get("latest") or 0) > 0:
            out.append(f"a positive sentiment ({sentiment['latest']}) beside the frustration badge")
    elif sentiment.get("label") == "frustrated":
        out.append("sentiment says frustrated; the customer is not")
    return out


def words_problems(summary: dict[str, Any], doc: dict[str, Any]) -> list[str]:
    truth = doc["truth"]
    said = {m["seq"]: m["text"] for m in doc["transcript"] if m["sender"] == "customer"}
    quotes = lines_of(summary, "words")
    # With no NLU turn at all (the bot was down), the problem line itself quotes the customer.
    quotes += [line for line in lines_of(summary, "problem") if line["text"].startswith('Customer wrote: "')]
    out = []
    if not any(truth["problem_seq"] in q["seqs"] for q in quotes):
        out.append(f"the customer's own words of the problem (seq {truth['problem_seq']}) are not quoted")
    for q in quotes:
        words = q["text"].split(";")[0].removeprefix("Customer wrote: ").strip('"').rstrip("…")
        if len(q["seqs"]) != 1 or _norm(words) not in _norm(said.get(q["seqs"][0], "")):
            out.append(f"quote {q['text']!r} is not what the customer wrote at seq {q['seqs']}")
        if re.search(r"\d{4}[ -]?\d{4}[ -]?\d{4}", q["text"]):
            out.append(f"quote {q['text']!r} shows a card number")
    return out


@pytest.mark.parametrize("path", FIXTURES, ids=[p.stem for p in FIXTURES])
def test_every_statement_is_true_and_points_at_its_turns(path: Path) -> None:
    doc = json.loads(path.read_text(encoding="utf-8"))
    summary = summarize(doc)
    failures = [
        *evidence_problems(summary, doc),
        *problem_problems(summary, doc),
        *hypothesis_problems(summary, doc),
        *understood_problems(summary, doc),
        *tried_problems(summary, doc),
        *sentiment_problems(summary, doc),
        *words_problems(summary, doc),
    ]
    text = render_text(summary)
    failures += [f"line {line['text']!r} missing from the text form" for line in summary.get("lines") or []
                 if line["text"] not in text]
    assert not failures, f"{doc['title']}:\n  " + "\n  ".join(failures)


def test_the_suite_covers_the_cases_agents_reported() -> None:
    truths = [json.loads(p.read_text(encoding="utf-8"))["truth"] for p in FIXTURES]
    assert len(FIXTURES) >= 10
    assert any(t["symptom"] == "page_error" for t in truths)  # "suspect spam filtering" on a Not Found page
    assert any(t["refund"] == "request" for t in truths)  # "asked where their refund is" on a refund request
    assert any("disputes" in t["unsupported_facts"] for t in truths)  # "disputes a charge ($49.00)"
    assert any(t["frustrated_at_end"] for t in truths)  # "0.65 (improving)" beside "Frustrated"
    assert any(t["tried_seqs"] for t in truths)  # "Nothing tried yet" after the customer listed tries
    assert any(t["wants"] is None and t["not_understood_seqs"] for t in truths)  # "understood every turn"

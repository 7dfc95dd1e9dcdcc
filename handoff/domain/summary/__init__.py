"""The context block handed to L2: data (a JSON-safe dict) first, text second.

Deterministic: the same inputs give the same summary (no clock reads, sorted keys). Every free-text value
is redacted (cards, passwords, tokens) before it enters the block.

True before complete: each statement is derived from what happened (the customer's turns as the bot's NLU read them,
the steps the bot took) and carries its evidence, the turn indices and transcript seqs behind it (``lines``; see
:mod:`handoff.domain.evidence`). What the bot's payload asserts in prose (problem, hypothesis) is checked against the turns
and replaced when they do not support it; where the turns do not say, the summary says it is not sure.

The modules, in the order the block is built: ``reading`` (the payload and transcript read into redacted turns,
entities and steps), ``topic`` (what the customer wants), ``hypothesis`` (why it went wrong), ``problem`` (the problem
statement), ``statements`` (their words, what the bot understood, why it handed off, what was tried), ``sentiment``,
``line`` (a statement and its evidence), ``build`` (``SummaryInput`` -> the dict) and ``render`` (the dict -> text).
"""

from handoff.domain.summary.build import SummaryInput, build_summary
from handoff.domain.summary.render import render_text

__all__ = ["SummaryInput", "build_summary", "render_text"]

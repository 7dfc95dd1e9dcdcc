"""Customer impact of a fault: who is affected and how urgent it is, read from the customer's own words.

The bot asks about it at L1 (``actions/technical.py``) and sends the answer, its scope and its urgency in the hand-off
payload's ``slots`` (``impact``, ``impact_scope``, ``impact_urgency``); the gateway states them in the agent's
summary with :func:`describe`. English only; ``None`` means the words say nothing about it (never a guess).

How the words are read (the broader or graver reading wins when a message says several things):

- scope: a quantifier over everybody ("everyone", "nobody can log in", "all our customers", "the whole company",
  "the site is down") is ``all_customers``, even when the customer limits it to their own company: from one chat L1
  cannot tell a company-wide failure from an outage, and the broad reading has L2 check the status first. A named
  group ("my whole team", "5 of our users", "a few colleagues", "not just me") is ``several_customers``; "just me",
  "only my account", "nobody else has it" is ``one_customer``.
- urgency: what is happening outranks what the customer calls it. Work or money stopped ("we can't work",
  "production is down", "losing sales") or the customer's own "critical" / "emergency" is ``critical``; "urgent",
  "asap", "blocking", a deadline is ``high``; "no rush", "whenever", "not urgent" is ``low``; a workaround, "somewhat
  urgent", "normal priority" is ``normal``.

Every pattern has only bounded quantifiers and runs on whitespace-collapsed text, so a match attempt looks at a
bounded window and a search is linear in the message length whatever the input (tests/bot/test_impact.py checks the
bound).
"""

from __future__ import annotations

import re

SCOPES = ("one_customer", "several_customers", "all_customers")
SCOPE_LABELS: dict[str, str] = {
    "one_customer": "Just this customer",
    "several_customers": "Several customers / a team",
    "all_customers": "Everyone (outage)",
}
URGENCIES = ("low", "normal", "high", "critical")
URGENCY_LABELS: dict[str, str] = {
    "low": "Low (no rush)",
    "normal": "Normal",
    "high": "High (urgent or blocking)",
    "critical": "Critical (work or money stopped)",
}
NOT_ASKED = "Impact not asked"
NOT_STATED = "Scope and urgency not stated"
MAX_QUOTE = 200  # characters of the customer's words quoted in a summary line

_W = r"[\w'-]{1,20}"  # one word (bounded: no pattern may scan an unbounded run)
_GAP = rf"(?: {_W}){{0,3}}"  # up to three words in between
_CANT = r"(?:can't|cant|cannot|can not|unable to|not able to|couldn't|can no longer)"
_PEOPLE = (r"(?:users|people|colleagues|coworkers|co-workers|customers|clients|accounts|employees|staff|members|"
           r"teammates|team members|agents|reps|stores|shops|locations)")

# "nobody else has it", "everyone else is fine", "works for my colleagues": the others are fine, so just this one.
_OTHERS_FINE = re.compile(
    r"\b(?:nobody|no one|no-one|noone) else\b"
    r"|\b(?:everyone|everybody|others|other people|my (?:colleagues|coworkers|co-workers|team|teammates)|the rest of"
    r" (?:the|my|our) (?:team|office|company))(?: else)?(?: is| are| seems| seem|'s)?(?: all)?"
    r" (?:fine|ok|okay|working|good|unaffected|not affected)\b"
    r"|\bworks (?:fine )?for (?:everyone|everybody|others|other people) else\b"
)
_ALL = re.compile(
    r"(?<!not )(?<!n't )\b(?:everyone|everybody|every single (?:one|user|customer|person)"
    r"|every (?:user|customer|client|account|employee|one of us))\b"
    rf"|\b(?:nobody|no one|no-one|noone|none of us){_GAP} (?:can|could|is able|are able|has access|have access|gets in"
    r"|has been able|have been able|manages)\b"
    rf"|\bnone of (?:our|my|the|your) {_PEOPLE}"
    rf"|(?<!not )\ball (?:of )?(?:our|my|the|your) {_PEOPLE}"
    r"|\ball (?:users|customers|clients|accounts)\b"
    r"|\b(?:whole|entire) (?:company|organi[sz]ation|office|business|firm|school|building|org|site|website|app"
    r"|platform|service|system)\b"
    rf"|\b(?:site|website|app|service|platform|system|server|servers|portal|dashboard|api)(?: {_W}){{0,2}}"
    r" (?:is|are|'s|seems|seem|went|goes|has gone|looks|be|been) (?:completely |totally |fully )?down\b"
    r"|\boutage\b|\bcompany[ -]?wide\b|\bacross the (?:company|board|organi[sz]ation)\b|\b(?:all of us|we all|us all)\b"
)
_SEVERAL = re.compile(
    r"\b(?:my|our) (?:whole |entire )?(?:team|department|dept|group|colleagues|coworkers|co-workers|teammates|staff"
    r"|office mates|users|employees)\b(?! lead| leader| manager| admin)"
    rf"|\bmy (?:colleague|coworker|co-worker|teammate|boss|manager|husband|wife|partner){_GAP} (?:too|as well|also)\b"
    r"|\b(?:a few|some|several|a couple|a couple of|couple of|a handful of|many|lots of|a lot of|most|half|two|three"
    r"|four|five|six|seven|eight|nine|ten|dozens of|a dozen|\d{1,4})(?: of)?(?: (?:our|my|the|your|them))?"
    rf"(?: {_W})? {_PEOPLE}\b"
    r"|\b(?:a few|some|several|a couple|most|half|many|both|two|three|\d{1,4}) of us\b"
    r"|\b(?:half|most|some|part) (?:of )?(?:the|our|my) (?:office|team|company|department|staff|users|people)\b"
    r"|\bnot (?:just|only) (?:me|us|my account|mine|for me)\b"
    rf"|\b(?:other (?:people|users|colleagues|customers|accounts)|someone else|somebody else|another"
    r" (?:user|colleague|person|coworker|co-worker))\b"
    r"|\bothers (?:too|as well|also|have|are|can't|cannot|in)\b"
    r"|\bme and (?:my|a|an|two|three|some|\d)\b"
    rf"|\b(?:whole|entire|full) (?:{_W} )?(?:team|floor|department|dept|group|branch|unit|division|shift|crew|class)\b"
)
_ONE = re.compile(
    r"\b(?:just|only) (?:me|myself|mine|for me|affect(?:s|ing) me|me so far"
    r"|happen(?:s|ing) (?:to me|for me|on my (?:laptop|computer|pc|mac|phone|machine|device|account))"
    r"|(?:on )?my (?:own )?(?:account|login|user|profile|laptop|computer|pc|mac|phone|machine|device|browser|end|side)"
    r"|one (?:user|account|person)|this account)\b"
    r"|\b(?:i'm|im|i am) the only one\b|\bjust myself\b|\bme alone\b|\bsingle user\b"
    r"|^(?:yes |yeah |yep |no |nope )?(?:me|myself|just me|only me|me only|only i|only mine)[ .!]{0,3}$"
)

_CRITICAL_FACTS = re.compile(
    rf"\b(?:production|prod|live site|live system|our (?:shop|store|site|website)|checkout|payments?)(?: {_W}){{0,2}}"
    r" (?:is|are|'s|went|has gone|seems) (?:completely |totally |fully )?(?:down|offline)\b"
    r"|\bprod(?:uction)? (?:is )?down\b"
    rf"|\b{_CANT} (?:do (?:any|my|our) |get any )?work(?:ing)?\b"
    rf"|\b{_CANT} (?:take|process|accept|get|receive|ship|fulfil|fulfill|sell)(?: any)?"
    r" (?:orders|payments|sales|bookings|money)\b"
    rf"|\b(?:losing|lose|lost|loosing|costing us|costing me|cost us|missing out on){_GAP}"
    r" (?:money|sales|revenue|orders|customers|business|income|bookings|deals)\b"
    r"|\b(?:business|work|everything) (?:is |has )?(?:stopped|at a standstill|ground to a halt)\b"
    r"|\bdead in the water\b|\b(?:completely|totally) (?:stuck|blocked)\b"
)
_LOW = re.compile(
    r"\bno (?:rush|hurry|pressure|panic)\b|\bnot in (?:a|any) (?:rush|hurry)\b|\bin your own time\b"
    r"|\bwhenever(?: you can| you get (?:a chance|time)| you have time| is fine| works| suits you)?(?=[.!,;)]| ?$)"
    r"|\bwhen(?:ever)? you (?:get|have) (?:a )?(?:chance|moment|minute|sec|second|time)\b|\bwhen you can\b"
    r"|\b(?:it |that |this )?can wait\b|\blow priority\b|\bnot (?:a )?(?:big deal|priority|high priority)\b"
    r"|\bminor (?:issue|thing|problem|bug|glitch)\b|\b(?:it's|its|it is|just) minor\b|\bcosmetic\b"
    r"|\bjust (?:curious|wondering|fyi|letting you know)\b"
    r"|\b(?:not|isn't|isnt|nothing|no) (?:(?:that|really|very|super|too|so|particularly|terribly|exactly) )?"
    r"(?:urgent|critical|pressing|time[- ]sensitive|blocking|an emergency|a blocker)\b"
)
_NORMAL_QUALIFIED = re.compile(
    r"\b(?:somewhat|kind of|kinda|sort of|a bit|a little|fairly|moderately|semi)[ -](?:urgent|important|pressing)\b"
)
# The customer's own label, not an error message's ("critical error" says nothing about the customer's urgency).
_CRITICAL_WORDS = re.compile(
    r"\b(?:it's|its|it is|this is|that's|thats|is|very|really|absolutely|super|business|mission)[ -]critical\b"
    r"|\bemergency\b(?! contact| number| exit)"
)
_HIGH = re.compile(
    r"\b(?:urgent(?:ly)?|asap|a\.s\.a\.p|as soon as possible|high priority|top priority|time[- ]sensitive|deadline)\b"
    r"|\bblocking (?:me|us|our|my|the team|everyone|work|the release|a release|production)\b"
    r"|\b(?:it's|its|it is|this is|that's|thats) (?:a )?(?:blocker|blocking)\b|\ba blocker\b"
    r"|\b(?:i'm|im|i am|we're|were|we are) (?:completely |totally )?blocked\b"
    r"|\bdue (?:today|tomorrow|tonight)\b|\bby (?:today|tonight|tomorrow|end of (?:the )?day|eod|cob)\b"
    rf"|\b(?:need|needs|needed|want|fix|fixed|sorted|resolved|help|look at|looked at)(?: {_W}){{0,2}}"
    r" (?:right away|immediately|straight away|right now|today|now|quickly)\b"
    r"|\b(?:really|very|super|extremely) important\b|\b(?:kind of|kinda|pretty|quite|is|it's|its) (?:a )?big deal\b"
)
_NORMAL = re.compile(
    r"\b(?:normal|medium|moderate) (?:priority|urgency)\b|^(?:normal|medium|moderate)[ .!]{0,3}$"
    r"|\bwork ?around\b|\bworkaround\b|\bannoying\b|\bnot (?:too|that) bad\b|\bcan (?:still )?(?:work|manage|cope)\b"
    r"|\bin the next (?:few|couple of) days\b"
)

# Checked in order; the first that matches decides.
_SCOPE_RULES: tuple[tuple[re.Pattern[str], str], ...] = (
    (_OTHERS_FINE, "one_customer"),
    (_ALL, "all_customers"),
    (_SEVERAL, "several_customers"),
    (_ONE, "one_customer"),
)
_URGENCY_RULES: tuple[tuple[re.Pattern[str], str], ...] = (
    (_CRITICAL_FACTS, "critical"),
    (_LOW, "low"),
    (_NORMAL_QUALIFIED, "normal"),
    (_CRITICAL_WORDS, "critical"),
    (_HIGH, "high"),
    (_NORMAL, "normal"),
)
PATTERNS: tuple[re.Pattern[str], ...] = tuple(p for p, _ in (*_SCOPE_RULES, *_URGENCY_RULES))


def _normal(text: str | None) -> str:
    """Lower case, typographic apostrophes made plain, every run of white space one space."""
    return " ".join(str(text or "").lower().replace("\u2019", "'").replace("\u2018", "'").split())


def _first(rules: tuple[tuple[re.Pattern[str], str], ...], text: str | None) -> str | None:
    normal = _normal(text)
    return next((value for pattern, value in rules if pattern.search(normal)), None)


def scope_from_text(text: str | None) -> str | None:
    """Who is affected, one of :data:`SCOPES`, or None when the words do not say."""
    return _first(_SCOPE_RULES, text)


def urgency_from_text(text: str | None) -> str | None:
    """How urgent it is, one of :data:`URGENCIES`, or None when the words do not say."""
    return _first(_URGENCY_RULES, text)


def describe(impact_text: str | None, scope: str | None, urgency: str | None) -> str:
    """One summary line: scope label, urgency and the customer's words; values outside the vocabulary are ignored."""
    label = SCOPE_LABELS.get(scope or "")
    level = f"urgency {urgency}" if urgency in URGENCY_LABELS else None
    words = " ".join(str(impact_text or "").split())
    if not (words or label or level):
        return NOT_ASKED
    head = ", ".join(part for part in (label, level) if part) or NOT_STATED
    if len(words) > MAX_QUOTE:
        words = words[: MAX_QUOTE - 1].rstrip() + "\u2026"
    return f'{head}: "{words}"' if words else head

// The hand-off summary card. Every statement comes from the gateway's summary (`lines`, handoff/domain/summary.py) with the
// customer turns (and bot steps) behind it; the button after a statement shows those turns in the transcript. Where
// the bot is not sure, the card says so. Text goes in with textContent only (el(..., { text })).
import { el } from "../shared/dom.js";
import { priorityChip, reasonBadge, slaNode } from "./conversation.js";
import { IMPACT_SCOPES, IMPACT_URGENCIES, impactLabel, normalize, reasonLabel, understood } from "./format.js";

// The bot's technical form (actions/technical.py): the customer's own answers, shown when it asked them.
const FORM_ANSWERS = [
  ["error_details", "Error"],
  ["steps_tried", "Already tried"],
  ["impact", "Impact (customer's words)"],
];

function row(label, ...value) {
  return el("div", { class: "kv" }, el("dt", { text: label }), el("dd", {}, ...value));
}

/** Transcript seq of each turn of a summary: the gateway's link, else the same words among the customer's messages. */
export function turnSeqs(summary, messages) {
  const intents = (summary && summary.intents) || [];
  const seqs = intents.map((t) => (typeof t.seq === "number" ? t.seq : null));
  const said = messages.filter((m) => m.sender === "customer");
  // Newest first, each turn before the one after it (the gateway may have linked only the latest turns).
  let bound = Infinity;
  let j = said.length - 1;
  for (let i = intents.length - 1; i >= 0; i -= 1) {
    if (seqs[i] !== null) {
      bound = seqs[i];
      continue;
    }
    const key = normalize(intents[i].text);
    let k = j;
    while (k >= 0 && (said[k].seq >= bound || normalize(said[k].text) !== key)) k -= 1;
    if (k >= 0) {
      seqs[i] = said[k].seq;
      bound = said[k].seq;
      j = k - 1;
    }
  }
  return seqs;
}

/** What the bot understood of each customer message (seq -> turn, with its number in the latest summary). */
export function turnsBySeq(messages, handoffs) {
  const result = new Map();
  const list = handoffs || [];
  list.forEach((h, n) => {
    const intents = (h.summary && h.summary.intents) || [];
    turnSeqs(h.summary, messages).forEach((seq, i) => {
      if (seq !== null) result.set(seq, { ...intents[i], number: n === list.length - 1 ? i + 1 : null });
    });
  });
  return result;
}

/** Statement lines of a summary written before they carried evidence: the same claims, none unsupported. */
function legacyLines(summary) {
  const intents = summary.intents || [];
  const missed = intents.map((t, i) => (understood(t) ? null : i)).filter((i) => i !== null);
  const sentiment = summary.sentiment || {};
  const lines = [{ key: "problem", text: summary.problem || "—", certain: true, turns: [] }];
  if (summary.hypothesis) lines.push({ key: "hypothesis", text: summary.hypothesis, certain: true, turns: [] });
  lines.push({
    key: "understood",
    text: !intents.length
      ? "no customer turn reached the bot"
      : missed.length
        ? `${intents.length - missed.length} of ${intents.length} turns`
        : `every turn (${intents.length} of ${intents.length})`,
    certain: !missed.length,
    turns: missed,
  });
  const esc = summary.escalation || {};
  lines.push({ key: "reason", text: esc.reason_text || reasonLabel(esc.reason), certain: true, turns: [] });
  if (sentiment.latest !== null && sentiment.latest !== undefined && esc.reason !== "frustration") {
    lines.push({ key: "sentiment", text: `sentiment ${Number(sentiment.latest).toFixed(2)}`, certain: true, turns: [] });
  }
  return lines;
}

function turnLabel(numbers) {
  return numbers.length === 1 ? `turn ${numbers[0]}` : `turns ${numbers.join(", ")}`;
}

/** The button after a statement: shows its turns (and steps) in the transcript and the steps list. */
function evidenceButton(line, seqsOfTurns, onEvidence) {
  const seqs = new Set(line.seqs || []);
  for (const i of line.turns || []) if (seqsOfTurns[i] !== null && seqsOfTurns[i] !== undefined) seqs.add(seqsOfTurns[i]);
  const numbers = (line.turns || []).filter((i) => i >= 0).map((i) => i + 1);
  const steps = line.steps || [];
  if (!seqs.size && !steps.length) return null;
  const label = numbers.length ? turnLabel(numbers) : seqs.size ? "message" : steps.length === 1 ? "step" : "steps";
  const button = el("button", {
    type: "button",
    class: "evref",
    "aria-pressed": "false",
    "aria-label": `Show what supports this: ${label}${numbers.length && steps.length ? " and the bot's steps" : ""}`,
    title: "Show the customer's words behind this statement in the transcript",
    data: { seqs: [...seqs].sort((a, b) => a - b).join(","), steps: steps.join(",") },
    text: `↳ ${label}`,
  });
  button.addEventListener("click", () => onEvidence && onEvidence(button));
  return button;
}

function statement(line, seqsOfTurns, onEvidence, tag = "span") {
  const unsure = line && line.certain === false;
  return el(
    tag,
    { class: `sline${unsure ? " is-unsure" : ""}`, data: { line: line ? line.key : "" } },
    unsure ? el("span", { class: "chip chip--unsure", text: "not sure" }) : null,
    el("bdi", { text: line ? line.text : "—" }),
    line ? evidenceButton(line, seqsOfTurns, onEvidence) : null,
  );
}

/** The summary's own reading of the impact (`impact`: {scope, urgency}), as slot names; nothing when absent. */
function pickImpact(impact) {
  const found = {};
  if (impact && impact.scope) found.impact_scope = impact.scope;
  if (impact && impact.urgency) found.impact_urgency = impact.urgency;
  return found;
}

/** Who is affected and how urgent, as the bot's form asked it at L1; "not asked at L1" when it did not, and
 * "not stated" when the customer's answer (in their words, below) names neither. */
export function customerImpact(slots) {
  const scope = slots && slots.impact_scope;
  const urgency = slots && slots.impact_urgency;
  if (!scope && !urgency) {
    const answered = slots && typeof slots.impact === "string" && slots.impact.trim();
    return el("span", { class: "muted", text: answered ? "asked; the answer names no scope or urgency" : "not asked at L1" });
  }
  return el("span", {
    text: [
      scope ? impactLabel(IMPACT_SCOPES, scope) : "scope not asked",
      urgency ? `${impactLabel(IMPACT_URGENCIES, urgency)} urgency` : "urgency not asked",
    ].join(" · "),
  });
}

/** The context block on top of the conversation: what L1 learned, each statement linked to the turns behind it. */
export function summaryCard(summary, handoff, flagged, onFlag, { messages = [], onEvidence = null } = {}) {
  const c = summary.customer || {};
  const esc = summary.escalation || {};
  const steps = summary.steps || [];
  const sla = summary.sla || {};
  const lines = summary.lines && summary.lines.length ? summary.lines : legacyLines(summary);
  const byKey = (key) => lines.filter((l) => l.key === key);
  const one = (key) => byKey(key)[0] || null;
  const seqsOfTurns = turnSeqs(summary, messages);
  const flagButton = !onFlag && !flagged ? null : el("button", {
    type: "button",
    class: `btn btn--flag${flagged ? " is-flagged" : ""}`,
    "aria-pressed": flagged ? "true" : "false",
    disabled: flagged || !onFlag,
    text: flagged ? "Flagged: had to ask again" : "Had to ask the customer again",
    title: "One click: the summary missed something and you had to ask the customer (context-loss metric)",
    on: { click: () => onFlag && onFlag(flagButton) },
  });
  const tier = c.tier ? `${c.tier}${c.fast_lane ? " · fast lane" : ""}` : c.verified ? "unknown" : "anonymous (unverified)";
  const deadline = (handoff && handoff.sla_deadline) || sla.deadline;
  const words = byKey("words");
  const sources = new Map((summary.entity_sources || []).map((e) => [`${e.entity}\u0000${e.value}`, e]));
  const entities = Object.entries(summary.entities || {}).flatMap(([name, values]) =>
    (Array.isArray(values) ? values : [values]).map((v) => [name, String(v)]),
  );
  const hypothesis = one("hypothesis");
  const slots = summary.slots || {};
  const answers = FORM_ANSWERS.filter(([key]) => slots[key] !== undefined && slots[key] !== null && String(slots[key]).trim());
  return el(
    "section",
    { class: "summary", "aria-labelledby": "summary-title" },
    el(
      "header",
      { class: "summary__head" },
      el("h2", { id: "summary-title", text: "Hand-off summary" }),
      reasonBadge(esc.reason),
      esc.strikes ? el("span", { class: "chip", text: `${esc.strikes} strike${esc.strikes === 1 ? "" : "s"}` }) : null,
      priorityChip((summary.priority || {}).level),
      el("span", { class: "summary__spacer" }),
      flagButton,
    ),
    el("p", { class: "summary__problem" }, el("strong", { text: "Problem: " }), statement(one("problem"), seqsOfTurns, onEvidence)),
    words.length
      ? el(
          "div",
          { class: "summary__words" },
          el("strong", { text: "In their words:" }),
          el("ul", {}, words.map((w) => el("li", {}, statement(w, seqsOfTurns, onEvidence)))),
        )
      : null,
    el(
      "p",
      { class: "summary__hypothesis" },
      el("strong", { text: "Hypothesis: " }),
      hypothesis ? statement(hypothesis, seqsOfTurns, onEvidence) : el("bdi", { text: "none from L1" }),
    ),
    el(
      "dl",
      { class: "summary__grid" },
      row("Why handed off", statement(one("reason"), seqsOfTurns, onEvidence)),
      row("Tier", tier),
      ...(summary.language && summary.language.code
        ? [row("Language", `${summary.language.name || summary.language.code} (detected from ${Number(summary.language.messages) || 0} message${Number(summary.language.messages) === 1 ? "" : "s"})`)]
        : []),
      row("Bot understood", statement(one("understood"), seqsOfTurns, onEvidence)),
      row("Sentiment", one("sentiment") ? statement(one("sentiment"), seqsOfTurns, onEvidence) : "no signal"),
      row("Customer impact", customerImpact({ ...slots, ...pickImpact(summary.impact) })),
      row(
        "SLA",
        handoff && handoff.assigned_at
          ? el("span", { text: Date.parse(handoff.assigned_at) <= Date.parse(deadline) ? "picked up in time" : "picked up late" })
          : slaNode(deadline, sla.minutes),
      ),
    ),
    answers.length
      ? el(
          "dl",
          { class: "summary__answers", "aria-label": "What the customer told the bot's technical form" },
          answers.map(([key, label]) => row(label, el("bdi", { dir: "auto", text: String(slots[key]) }))),
        )
      : null,
    el(
      "div",
      { class: "summary__cols" },
      el(
        "div",
        {},
        el("h3", { text: "Steps tried" }),
        steps.length
          ? el(
              "ol",
              { class: "steps" },
              steps.map((s, i) =>
                el(
                  "li",
                  { data: { step: i } },
                  el("span", { class: `outcome outcome--${String(s.outcome).replace(/ /g, "_")}`, text: s.outcome }),
                  " ",
                  el("span", { text: String(s.step || "").replace(/_/g, " ") }),
                  s.count > 1 ? el("span", { class: "chip", text: `×${s.count}` }) : null,
                  s.detail ? el("span", { class: "muted" }, " — ", el("bdi", { text: s.detail })) : null,
                ),
              ),
            )
          : null,
        one("tried")
          ? el("p", { class: "summary__tried" }, statement(one("tried"), seqsOfTurns, onEvidence))
          : steps.length
            ? null
            : el("p", { class: "muted", text: "Nothing tried yet." }),
      ),
      el(
        "div",
        {},
        el("h3", { text: "Entities" }),
        entities.length
          ? el(
              "ul",
              { class: "entities" },
              entities.map(([name, value]) => {
                const source = sources.get(`${name}\u0000${value}`);
                const fromBot = source && source.source === "bot";
                return el(
                  "li",
                  {
                    class: `entity${fromBot ? " entity--bot" : ""}`,
                    title: fromBot ? "Known to the bot (its records or a slot); the customer did not say it" : "",
                  },
                  el("span", { class: "entity__name", text: name }),
                  el("bdi", { text: value }),
                  fromBot ? el("span", { class: "entity__src", text: "records" }) : null,
                  source && !fromBot ? evidenceButton({ ...source, steps: [] }, seqsOfTurns, onEvidence) : null,
                );
              }),
            )
          : el("p", { class: "muted", text: "None found." }),
      ),
    ),
  );
}

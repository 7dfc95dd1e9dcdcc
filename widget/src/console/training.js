// The "Needs training" page, for the conversation designer: messages the bot did not understand (nlu_fallback,
// out_of_scope, rejected clarifications), grouped by similarity and counted; then where the bot made the customer
// work (loops, repeated questions, confident misreads the customer corrected, hand-offs an agent marked avoidable),
// each with the customer's words and the conversation. Text goes in with textContent only (el(..., { text })):
// customer messages are never parsed as HTML.
import { clear, el } from "../shared/dom.js";

const KIND_LABEL = { nlu_fallback: "not understood", out_of_scope: "out of scope", clarification_rejected: "clarification rejected" };
// handoff/analytics/friction.py KINDS, in the order shown.
const FINDING_LABEL = {
  loop: ["Loop", "the bot sent the same message again and again"],
  repeated_question: ["Repeated question", "the customer had to ask again"],
  corrected_misread: ["Corrected misread", "the customer said the answer was to another question"],
  avoidable_handoff: ["Avoidable hand-off", "an agent marked it: the bot could have handled this"],
};
const WORDS_LABEL = {
  loop: "What the customer said each time",
  repeated_question: "What the customer asked",
  corrected_misread: "The misread message",
  avoidable_handoff: "What the customer told the bot",
};

/** `open(id)`: show a conversation in the console (the findings link to theirs). */
export async function renderTraining(container, api, open) {
  const list = el("ol", { class: "nt-list", id: "nt-list" });
  const summary = el("p", { class: "muted", id: "nt-summary", text: "Loading…" });
  const findings = el("ol", { class: "nt-list", id: "nt-findings" });
  const findingsSummary = el("p", { class: "muted", id: "nt-findings-summary" });
  clear(container).append(
    el(
      "div",
      { class: "page" },
      el("div", { class: "page__head" }, el("h1", { text: "Needs training" })),
      el("p", {
        class: "muted",
        text: "Messages the bot did not understand in the last 30 days, grouped by similarity. `make nlu-review` exports them as Rasa NLU YAML, ready to label.",
      }),
      summary,
      list,
      el("h2", { class: "nt-section", text: "Loops, corrections and avoidable hand-offs" }),
      findingsSummary,
      findings,
    ),
  );
  let data;
  try {
    data = await api.nluMisses("30d");
  } catch (err) {
    summary.textContent = `Could not load the misunderstood messages: ${err.message}`;
    return;
  }
  summary.textContent = `${data.total} misunderstood messages in ${data.groups.length} groups.`;
  if (!data.groups.length) {
    list.append(el("li", { class: "muted", text: "Nothing to review: the bot understood every message." }));
  }
  for (const g of data.groups) {
    const kinds = Object.entries(g.kinds || {}).map(([k, n]) => `${KIND_LABEL[k] || k} ×${n}`).join(", ");
    const guess = g.bot_guess ? `bot's best guess: ${g.bot_guess} (${Math.round((g.bot_guess_confidence || 0) * 100)}%)` : "no real guess";
    list.append(
      el(
        "li",
        { class: "panel nt-group" },
        el("div", { class: "nt-group__head" }, el("span", { class: "nt-count", text: `${g.count}×` }), el("span", { class: "muted", text: `${kinds} · ${guess}` })),
        el("ul", { class: "nt-examples" }, ...g.examples.map((x) => el("li", { text: x.count > 1 ? `${x.text}  (×${x.count})` : x.text }))),
      ),
    );
  }
  renderFindings(findings, findingsSummary, data, open);
}

function renderFindings(list, summary, data, open) {
  const all = data.findings || [];
  const counts = Object.keys(FINDING_LABEL).map((k) => `${(data.findings_by_kind || {})[k] || 0} ${FINDING_LABEL[k][0].toLowerCase()}s`);
  summary.textContent = all.length ? `${counts.join(", ")}.` : "None in the last 30 days: no loops, corrections or avoidable hand-offs.";
  for (const f of all) {
    const [label, why] = FINDING_LABEL[f.kind] || [f.kind, ""];
    const link = el("button", {
      type: "button",
      class: "btn btn--ghost btn--small nt-open",
      text: `Open conversation ${f.conversation_id.slice(0, 8)}…`,
      title: f.conversation_id,
      data: { conversationId: f.conversation_id },
      on: { click: () => open && open(f.conversation_id) },
    });
    list.append(
      el(
        "li",
        { class: "panel nt-finding", data: { kind: f.kind } },
        el(
          "div",
          { class: "nt-group__head" },
          el("span", { class: `nt-kind nt-kind--${f.kind}`, text: label }),
          el("span", { class: "muted", text: f.count > 1 ? `${why} · ×${f.count}` : why }),
        ),
        el("p", { class: "nt-detail", text: f.detail }),
        el("p", { class: "nt-words-label muted", text: WORDS_LABEL[f.kind] || "The customer's words" }),
        el("ul", { class: "nt-examples" }, ...(f.examples || []).map((text) => el("li", { text }))),
        link,
      ),
    );
  }
}

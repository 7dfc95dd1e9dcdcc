// The "Needs training" page: messages the bot did not understand (nlu_fallback, out_of_scope, rejected
// clarifications), grouped by similarity and counted, for the conversation designer. Text goes in with
// textContent only (el(..., { text })): customer messages are never parsed as HTML.
import { clear, el } from "../shared/dom.js";

const KIND_LABEL = { nlu_fallback: "not understood", out_of_scope: "out of scope", clarification_rejected: "clarification rejected" };

export async function renderTraining(container, api) {
  const list = el("ol", { class: "nt-list", id: "nt-list" });
  const summary = el("p", { class: "muted", id: "nt-summary", text: "Loading…" });
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
    return;
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
}

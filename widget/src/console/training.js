// The "Needs training" page, for the conversation designer: messages the bot did not understand (nlu_fallback,
// out_of_scope, rejected clarifications), grouped by similarity and counted; then where the bot made the customer
// work (loops, repeated questions, confident misreads the customer corrected, hand-offs an agent marked avoidable),
// each with the customer's words and the conversation. Text goes in with textContent only (el(..., { text })):
// customer messages are never parsed as HTML.
import { clear, el } from "../shared/dom.js";
import { openDialog } from "./dialogs.js";
import { versionsSection } from "./versions.js";

const MAX_EXAMPLE = 300; // handoff/domain/training.py MAX_EXAMPLE_CHARS
const NEW_INTENT = "__new__";
const POLL_MS = 3000;
let pollTimer = null;

const KIND_LABEL = { nlu_fallback: "not understood", out_of_scope: "out of scope", clarification_rejected: "clarification rejected" };
// handoff/analytics/friction.py KINDS, in the order shown.
const FINDING_LABEL = {
  loop: ["Loop", "the bot sent the same message again and again"],
  repeated_question: ["Repeated question", "the customer had to ask again"],
  corrected_misread: ["Corrected misread", "the customer said the answer was to another question"],
  avoidable_handoff: ["Avoidable hand-off", "an agent marked it: the bot could have handled this"],
  coaching_note: ["Coaching note", "an agent handed it back to the bot with a note for the designers"],
  context_loss: ["Had to ask again", "the agent had to ask the customer for something the bot already knew"],
};
const WORDS_LABEL = {
  loop: "What the customer said each time",
  repeated_question: "What the customer asked",
  corrected_misread: "The misread message",
  avoidable_handoff: "What the customer told the bot",
  coaching_note: "What the customer told the bot before the hand-off",
  context_loss: "What the customer told the bot before the hand-off",
};

/**
 * `open(id)`: show a conversation (the items link to theirs). `options.canLabel`: the designer's (and leads') tools:
 * label a message into the training data, retrain, see the figures before and after, and (versions.js) whether each
 * model version helped real conversations.
 */
export async function renderTraining(container, api, open, options = {}) {
  window.clearTimeout(pollTimer);
  const labeller = options.canLabel ? new Labeller(api, options.toast || (() => {})) : null;
  const list = el("ol", { class: "nt-list", id: "nt-list" });
  const summary = el("p", { class: "muted", id: "nt-summary", text: "Loading…" });
  const findings = el("ol", { class: "nt-list", id: "nt-findings" });
  const findingsSummary = el("p", { class: "muted", id: "nt-findings-summary" });
  clear(container).append(
    el(
      "div",
      { class: "page" },
      el("div", { class: "page__head" }, el("h1", { text: "Needs training" })),
      labeller ? labeller.retrainPanel() : null,
      labeller ? versionsSection(api) : null, // designers and leads: did the last retrains help?
      el("p", {
        class: "muted",
        text: labeller
          ? "Messages the bot did not understand in the last 30 days, grouped by similarity. Label each one: an intent, a new intent or out of scope; the label goes into data/nlu/ and counts at the next retrain."
          : "Messages the bot did not understand in the last 30 days, grouped by similarity. `make nlu-review` exports them as Rasa NLU YAML, ready to label.",
      }),
      summary,
      list,
      el("h2", { class: "nt-section", text: "Loops, corrections, avoidable hand-offs, coaching notes and \u201chad to ask again\u201d" }),
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
        el(
          "ul",
          { class: "nt-examples" },
          ...g.examples.map((x) =>
            example(x.count > 1 ? `${x.text}  (×${x.count})` : x.text, x.text, x.conversation_id, labeller, open),
          ),
        ),
      ),
    );
  }
  renderFindings(findings, findingsSummary, data, open, labeller);
}

/** One customer message: its text, and (for designers) Label… and the conversation it came from. */
function example(shown, text, conversationId, labeller, open) {
  const item = el("li", { class: "nt-example" }, el("span", { class: "nt-example__text", text: shown }));
  if (!labeller) return item;
  const result = el("span", { class: "nt-label-result muted", role: "status" });
  item.append(
    " ",
    el("button", {
      type: "button",
      class: "btn btn--ghost btn--small nt-label",
      text: "Label…",
      "aria-label": `Label: ${text}`,
      on: { click: () => labeller.open(text, conversationId, result) },
    }),
    conversationId
      ? el("button", {
          type: "button",
          class: "linklike nt-transcript",
          text: "Open conversation",
          title: conversationId,
          on: { click: () => open && open(conversationId) },
        })
      : null,
    result,
  );
  return item;
}

function renderFindings(list, summary, data, open, labeller) {
  const all = data.findings || [];
  const counts = Object.keys(FINDING_LABEL).map((k) => `${(data.findings_by_kind || {})[k] || 0} ${FINDING_LABEL[k][0].toLowerCase()}s`);
  summary.textContent = all.length ? `${counts.join(", ")}.` : "None in the last 30 days: no loops, corrections, avoidable hand-offs, coaching notes or flags.";
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
        el("ul", { class: "nt-examples" }, ...(f.examples || []).map((text) => example(text, text, f.conversation_id, labeller, open))),
        link,
      ),
    );
  }
}

const FIGURE_LABEL = {
  in_scope_accuracy: ["in-scope accuracy", true],
  out_of_scope_rejection: ["out-of-scope rejection", true],
  confidently_wrong: ["confidently wrong", false],
};

/** Labels (a dialog per message) and the retrain panel (button, status, figures before and after). */
class Labeller {
  constructor(api, toast) {
    this.api = api;
    this.toast = toast;
    this.intents = null;
  }

  async loadIntents() {
    if (!this.intents) this.intents = await this.api.trainingIntents();
    return this.intents;
  }

  async open(text, conversationId, result) {
    let intents;
    try {
      intents = await this.loadIntents();
    } catch (err) {
      this.toast(`Could not load the intents: ${err.message}`, "error");
      return;
    }
    const textInput = el("input", { id: "label-text", name: "text", type: "text", maxlength: String(MAX_EXAMPLE), value: text });
    const choice = el(
      "select",
      { id: "label-intent", name: "intent" },
      el("option", { value: "", text: "— choose —" }),
      el("option", { value: intents.out_of_scope, text: "Out of scope (the bot should say it cannot help)" }),
      el("option", { value: NEW_INTENT, text: "New intent…" }),
      el("optgroup", { label: "Existing intents" }, ...intents.intents.filter((i) => i !== intents.out_of_scope).map((i) => el("option", { value: i, text: i }))),
    );
    const newName = el("input", { id: "label-new-intent", name: "new_intent", type: "text", maxlength: "40", placeholder: "e.g. discount_question" });
    const newField = el(
      "div",
      { class: "field", hidden: true },
      el("label", { for: "label-new-intent", text: "New intent's name" }),
      el("p", { class: "field-hint", text: "3–40 characters: lower-case letters, digits and _ , starting with a letter." }),
      newName,
    );
    choice.addEventListener("change", () => (newField.hidden = choice.value !== NEW_INTENT));
    const pattern = new RegExp(intents.new_intent_pattern);
    openDialog({
      title: "Label this message",
      description: "It is added to the intent's examples in data/nlu/ (a hold-out message never is). It counts after the next retrain.",
      fields: [
        el("div", { class: "field" }, el("label", { for: "label-text", text: "The message (one line, as the customer wrote it)" }), textInput),
        el("div", { class: "field" }, el("label", { for: "label-intent", text: "What the customer meant" }), choice),
        newField,
      ],
      submitLabel: "Add to training data",
      validate: (form) => {
        const problems = {};
        const value = form.elements.namedItem("text").value.trim();
        if (!value) problems.text = "The message is empty.";
        else if (value.length > MAX_EXAMPLE) problems.text = `At most ${MAX_EXAMPLE} characters.`;
        else if (/[\[\]]/.test(value)) problems.text = "Square brackets mark entities in Rasa's training data: reword without them.";
        if (!choice.value) problems.intent = "Choose an intent, a new intent or out of scope.";
        if (choice.value === NEW_INTENT && !pattern.test(newName.value.trim())) problems.new_intent = "Lower-case letters, digits and _, 3–40 characters, starting with a letter.";
        return problems;
      },
      submit: async (form) => {
        const isNew = choice.value === NEW_INTENT;
        const body = {
          text: form.elements.namedItem("text").value.trim(),
          intent: isNew ? newName.value.trim() : choice.value,
          new_intent: isNew,
        };
        if (conversationId) body.conversation_id = conversationId;
        const written = await this.api.label(body);
        if (isNew) this.intents = null; // the new intent is in the list next time
        const said = written.added
          ? `Added to ${written.intent} (${written.file})${written.new_intent ? ", a new intent" : ""}.`
          : `Already an example of ${written.intent} (${written.file}).`;
        result.textContent = ` ✓ ${said}`;
        result.classList.add("nt-label-result--done");
        this.toast(said, "info");
      },
    });
  }

  retrainPanel() {
    this.button = el("button", {
      type: "button",
      class: "btn btn--primary",
      id: "retrain-button",
      text: "Retrain",
      on: { click: () => this.startRetrain() },
    });
    this.status = el("p", { id: "retrain-status", role: "status", "aria-live": "polite", class: "muted", text: "Loading…" });
    this.figures = el("div", { id: "retrain-figures" });
    this.panel = el(
      "section",
      { class: "panel nt-retrain", "aria-label": "Retrain" },
      el("h2", { text: "Retrain the bot" }),
      el("p", {
        class: "muted",
        text: "Trains a new model from data/, scores it beside the model in service on the hold-outs and the test stories, and loads it only if no figure gets worse by more than one hold-out message (3–4 minutes).",
      }),
      el("div", { class: "nt-retrain__actions" }, this.button, this.status),
      this.figures,
    );
    this.refresh();
    return this.panel;
  }

  async startRetrain() {
    this.button.disabled = true;
    try {
      this.show(await this.api.retrain());
    } catch (err) {
      this.toast(err.message, "error");
      this.button.disabled = false;
    }
    this.poll();
  }

  async refresh() {
    try {
      this.show(await this.api.retrainStatus());
    } catch (err) {
      this.status.textContent = `Could not read the retrain status: ${err.message}`;
      return;
    }
    this.poll();
  }

  poll() {
    window.clearTimeout(pollTimer);
    if (this.run && this.run.status === "running" && this.panel.isConnected) pollTimer = window.setTimeout(() => this.refresh(), POLL_MS);
  }

  show(run) {
    this.run = run;
    this.panel.dataset.status = run.status;
    this.button.disabled = run.status === "running";
    const report = run.report;
    if (run.status === "idle") this.status.textContent = "No retrain since the gateway started.";
    else if (run.status === "running") this.status.textContent = `Retraining since ${time(run.started_at)}…`;
    else if (run.status === "failed") this.status.textContent = `Retrain failed: ${run.error || "no reason given"}`;
    else if (run.status === "refused") this.status.textContent = `Not loaded: ${(report.worse || []).join("; ")}`;
    else if (report && (report.loaded_into || []).length) {
      this.status.textContent = `Loaded: model ${report.after.fingerprint} is in service (${report.loaded_into.join(", ")}).`;
      // A figure that moved the wrong way by one hold-out message (near the confidence threshold) is said, not refused.
      if ((report.tolerated || []).length) this.status.textContent += ` Worse by one hold-out message: ${report.tolerated.join("; ")}.`;
    } else if (report && report.after.fingerprint === report.before.fingerprint) {
      this.status.textContent = "Nothing new to load: the training data has not changed since this model.";
    } else {
      const why = report && (report.load_errors || []).length ? report.load_errors.join("; ") : "no Rasa server configured";
      this.status.textContent = `No figure got worse, but the model was not loaded: ${why}. It is loaded when Rasa restarts.`;
    }
    clear(this.figures);
    if (report) this.figures.append(figuresTable(report));
  }
}

function time(iso) {
  const at = iso ? new Date(iso) : null;
  return at && !Number.isNaN(at.getTime()) ? at.toLocaleTimeString() : "just now";
}

/** The before/after table: each hold-out figure and the dialogue test stories; worse figures marked. */
function figuresTable(report) {
  const rows = [];
  for (const [name, before] of Object.entries(report.before.holdouts || {})) {
    const after = (report.after.holdouts || {})[name] || {};
    for (const [figure, [label, higherIsBetter]] of Object.entries(FIGURE_LABEL)) {
      const b = before[figure];
      const a = after[figure];
      const worse = typeof a !== "number" || (higherIsBetter ? a < b : a > b);
      rows.push([`${name}: ${label}`, pct(b), pct(a), worse]);
    }
  }
  rows.push(["test stories failing", String(report.before.story_failures), String(report.after.story_failures), report.after.story_failures > report.before.story_failures]);
  return el(
    "table",
    { class: "nt-figures" },
    el("thead", {}, el("tr", {}, el("th", { text: "figure" }), el("th", { text: "before" }), el("th", { text: "after" }))),
    el(
      "tbody",
      {},
      ...rows.map(([label, b, a, worse]) =>
        el("tr", { class: worse ? "nt-figures__worse" : "" }, el("td", { text: label }), el("td", { text: b }), el("td", { text: worse ? `${a} ▼` : a })),
      ),
    ),
  );
}

function pct(value) {
  return typeof value === "number" ? `${(value * 100).toFixed(1)}%` : "—";
}

/** A read-only transcript (customer, bot and agent messages as stored; no names, notes or contact fields). */
export async function showTranscript(api, id, toast) {
  let data;
  try {
    data = await api.trainingTranscript(id);
  } catch (err) {
    toast(err.message, "error");
    return;
  }
  const SENDER = { customer: "Customer", bot: "Bot", agent: "Agent", system: "Notice" };
  const dialog = el(
    "dialog",
    { class: "dialog nt-transcript-dialog", "aria-labelledby": "transcript-title" },
    el("h2", { id: "transcript-title", text: `Conversation ${id.slice(0, 8)}… (${data.state}, read-only)` }),
    el(
      "ol",
      { class: "nt-transcript-list" },
      ...data.messages.map((m) =>
        el("li", { class: `nt-line nt-line--${m.sender}` }, el("strong", { text: `${SENDER[m.sender] || m.sender}: ` }), el("span", { text: m.text })),
      ),
    ),
    el("div", { class: "dialog-actions" }, el("button", { type: "button", class: "btn btn--primary", text: "Close", on: { click: () => dialog.close() } })),
  );
  dialog.addEventListener("close", () => dialog.remove());
  document.body.append(dialog);
  dialog.showModal();
}

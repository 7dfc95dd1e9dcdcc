// The action forms (transfer, resolve, hand back) as native <dialog>s: keyboard and focus for free. The L3 forms
// (escalate, return to L2) are in l3dialogs.js, on the same openDialog.
import { el } from "../shared/dom.js";
import { RESOLUTION_CODES, TEAMS } from "./format.js";

const OPEN_QUESTION_MAX = 500; // handoff/domain/events.py OPEN_QUESTION_MAX

/**
 * Open a modal form. `fields` builds the body; `validate(form)` returns {field: message} for problems;
 * `submit(values)` returns a promise (rejecting with an Error whose message is shown in the dialog).
 */
export function openDialog({ title, description, fields, submitLabel, validate, submit, danger = false }) {
  const errorBox = el("p", { class: "form-error", role: "alert", hidden: true });
  const form = el("form", { class: "dialog-form", method: "dialog", novalidate: true });
  const dialog = el(
    "dialog",
    { class: "dialog", "aria-labelledby": "dialog-title" },
    el("h2", { id: "dialog-title", text: title }),
    description ? el("p", { class: "dialog-desc", text: description }) : null,
    form,
  );
  form.append(...fields, errorBox);
  const cancel = el("button", { type: "button", class: "btn btn--ghost", text: "Cancel", on: { click: () => dialog.close() } });
  const ok = el("button", { type: "submit", class: `btn ${danger ? "btn--danger" : "btn--primary"}`, text: submitLabel });
  form.append(el("div", { class: "dialog-actions" }, cancel, ok));
  // A field the agent corrects loses its error at once (the submit checks everything again).
  form.addEventListener("input", (event) => {
    const box = event.target instanceof Element ? event.target.closest(".field") : null;
    if (!box) return;
    for (const node of box.querySelectorAll(".field-error")) node.remove();
    for (const node of box.querySelectorAll("[aria-invalid]")) node.removeAttribute("aria-invalid");
  });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    for (const node of form.querySelectorAll(".field-error")) node.remove();
    for (const node of form.querySelectorAll("[aria-invalid]")) node.removeAttribute("aria-invalid");
    errorBox.hidden = true;
    const problems = validate ? validate(form) : {};
    const names = Object.keys(problems);
    if (names.length) {
      for (const name of names) {
        const input = form.elements.namedItem(name);
        const target = input instanceof RadioNodeList ? input[0] : input;
        if (!target) continue;
        const id = `err-${name}`;
        target.setAttribute("aria-invalid", "true");
        target.setAttribute("aria-describedby", id);
        target.closest(".field").append(el("p", { class: "field-error", id, text: problems[name] }));
      }
      const first = form.elements.namedItem(names[0]);
      (first instanceof RadioNodeList ? first[0] : first)?.focus();
      return;
    }
    ok.disabled = true;
    try {
      await submit(form);
      dialog.close();
    } catch (error) {
      errorBox.textContent = error.message || "That did not work; please try again.";
      errorBox.hidden = false;
    } finally {
      ok.disabled = false;
    }
  });
  dialog.addEventListener("close", () => dialog.remove());
  document.body.append(dialog);
  dialog.showModal();
  return dialog;
}

export function field(label, control, hint) {
  const id = control.id;
  return el(
    "div",
    { class: "field" },
    el("label", { for: id, text: label }),
    hint ? el("p", { class: "field-hint", text: hint }) : null,
    control,
  );
}

export function value(form, name) {
  const input = form.elements.namedItem(name);
  return input && typeof input.value === "string" ? input.value.trim() : "";
}

export function transferDialog({ agents, me, submit }) {
  // L3 is reached only through Escalate to L3 (with the definition of ready): the gateway refuses a transfer to the
  // L3 team or to an L3 engineer (code definition_of_ready), so neither is offered here.
  const others = agents.filter((a) => a.id !== me.id && a.role !== "l3");
  const agentSelect = el(
    "select",
    { id: "transfer-agent", name: "to_agent_id" },
    el("option", { value: "", text: "— choose an agent —" }),
    others.map((a) => el("option", { value: String(a.id), text: `${a.name} (${a.status}, ${a.load}/${a.capacity})` })),
  );
  const teamSelect = el(
    "select",
    { id: "transfer-team", name: "to_team" },
    el("option", { value: "", text: "— choose a team —" }),
    TEAMS.filter((t) => t !== "l3").map((t) => el("option", { value: t, text: `${t[0].toUpperCase()}${t.slice(1)} team` })),
  );
  const note = el("textarea", { id: "transfer-note", name: "note", rows: "3", placeholder: "What the next person should know" });
  return openDialog({
    title: "Transfer conversation",
    description: "Give it to a colleague (stays assigned) or back to a team's queue. The summary and transcript go along.",
    fields: [
      field("To an agent", agentSelect),
      el("p", { class: "or", text: "or" }),
      field("To a team's queue", teamSelect),
      el("p", { class: "field-hint transfer-l3-hint", text: "L3: use Escalate to L3 (it needs the definition of ready and the customer impact)." }),
      field("Note for the next person", note),
    ],
    submitLabel: "Transfer",
    validate: (form) => {
      const a = value(form, "to_agent_id");
      const t = value(form, "to_team");
      if (!a && !t) return { to_agent_id: "Choose an agent or a team." };
      if (a && t) return { to_team: "Choose either an agent or a team, not both." };
      return {};
    },
    submit: (form) => {
      const a = value(form, "to_agent_id");
      const payload = { note: value(form, "note") || undefined };
      if (a) payload.to_agent_id = Number(a);
      else payload.to_team = value(form, "to_team");
      return submit(payload);
    },
  });
}

export function resolveDialog({ submit }) {
  const select = el(
    "select",
    { id: "resolution-code", name: "resolution_code", required: true },
    el("option", { value: "", text: "— choose a resolution code —" }),
    RESOLUTION_CODES.map(([code, label]) => el("option", { value: code, text: label })),
  );
  // Listed on the designers' Needs training page as an avoidable hand-off.
  const avoidable = el("input", { type: "checkbox", id: "resolve-avoidable", name: "avoidable" });
  return openDialog({
    title: "Resolve conversation",
    description: "The customer is asked to rate the conversation (1–5) right after.",
    fields: [
      field("Resolution code", select),
      el(
        "div",
        { class: "field field--check" },
        avoidable,
        el("label", { for: "resolve-avoidable", text: "The bot could have handled this" }),
      ),
    ],
    submitLabel: "Resolve",
    validate: (form) => (value(form, "resolution_code") ? {} : { resolution_code: "Choose a resolution code." }),
    submit: (form) => {
      const payload = { resolution_code: value(form, "resolution_code") };
      if (form.elements.namedItem("avoidable").checked) payload.avoidable = true;
      return submit(payload);
    },
  });
}

export function handbackDialog({ submit }) {
  const note = el("textarea", {
    id: "coaching-note",
    name: "coaching_note",
    rows: "4",
    placeholder: "e.g. The customer's reset email was in spam; the bot should suggest checking spam before a second link.",
  });
  const open = el("textarea", {
    id: "open-question",
    name: "open_question",
    rows: "3",
    maxlength: String(OPEN_QUESTION_MAX),
    placeholder: "e.g. Whether the refund for INV-2041 is approved: finance decides by Friday.",
  });
  // Why (handoff/domain/events.py HANDBACK_REASONS): only a wrong escalation counts as a bounceback in the metrics.
  const reasons = el(
    "fieldset",
    { class: "field field--radios", id: "handback-reason" },
    el("legend", { text: "Why are you handing back?" }),
    ...[
      ["solved", "Solved: the bot can carry on from here"],
      ["wrong_escalation", "The bot escalated wrongly: it could have handled this"],
    ].map(([value, label]) =>
      el(
        "div",
        { class: "field--check" },
        el("input", { type: "radio", name: "handback_reason", id: `handback-reason-${value}`, value }),
        el("label", { for: `handback-reason-${value}`, text: label }),
      ),
    ),
  );
  return openDialog({
    title: "Hand back to the bot",
    description: "The assistant greets the customer again. Your coaching note goes to the conversation designers (Needs training).",
    fields: [
      reasons,
      field("Coaching note for the bot's designers", note, "What should the bot have done? (recommended)"),
      field(
        "What's still open for the customer",
        open,
        `Optional. The assistant picks up from here instead of repeating its last answer (at most ${OPEN_QUESTION_MAX} characters).`,
      ),
    ],
    submitLabel: "Hand back",
    validate: (form) =>
      value(form, "open_question").length > OPEN_QUESTION_MAX
        ? { open_question: `Keep it under ${OPEN_QUESTION_MAX} characters.` }
        : {},
    submit: (form) => {
      const payload = { coaching_note: value(form, "coaching_note") };
      if (value(form, "open_question")) payload.open_question = value(form, "open_question");
      const why = form.querySelector("input[name=handback_reason]:checked");
      if (why) payload.handback_reason = why.value;
      return submit(payload);
    },
  });
}

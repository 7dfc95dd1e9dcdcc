// The L3 forms: Escalate to L3 (the definition of ready and the customer impact) and Return to L2 (what L3 found,
// the root cause, a workaround, the update for the customer). The checks mirror the gateway's (it enforces them too).
import { el } from "../shared/dom.js";
import { L3_FIELDS, L3_IMPACT_SCOPES, L3_IMPACT_URGENCIES, L3_RETURN_FIELDS } from "../shared/protocol.js";
import { field, openDialog, value } from "./dialogs.js";
import { IMPACT_SCOPES, IMPACT_URGENCIES } from "./format.js";

const L3_LABELS = {
  repro_steps: ["Reproduction steps", "1. Sign in as … 2. Open … 3. Click …"],
  logs: ["Logs or exact error text", "Paste the error message, code or log lines"],
  environment: ["Environment", "Browser / OS / app version / region"],
  timestamps: ["Timestamps", "When it happened (with time zone)"],
};

const RETURN_LABELS = {
  resolution: ["Resolution", "What was done or found", "e.g. Re-ran the stuck export job; the bug is fixed in release 4.12."],
  root_cause: ["Root cause", "Why it happened", "e.g. The export worker timed out on accounts with more than 10,000 invoices."],
  workaround: ["Workaround", "Until the fix ships (optional)", "e.g. Export one month at a time."],
  customer_update: [
    "Update for the customer",
    "Sent to the customer as a message from you",
    "e.g. We found the cause and fixed it: your export works again. Sorry for the trouble!",
  ],
};
const RETURN_OPTIONAL = new Set(["workaround"]);

/** A required group of radio buttons (one `name`), each labelled; `checked` preselects one. */
function radios(name, legend, options, checked, hint) {
  return el(
    "fieldset",
    { class: "field field--impact", id: `l3-${name}` },
    el("legend", { text: legend }),
    hint ? el("p", { class: "field-hint", text: hint }) : null,
    el(
      "div",
      { class: "field--impact__options" },
      options.map(([val, label]) =>
        el(
          "div",
          { class: "field--check" },
          el("input", { type: "radio", name, id: `l3-${name}-${val}`, value: val, checked: val === checked, "aria-required": "true" }),
          el("label", { for: `l3-${name}-${val}`, text: label }),
        ),
      ),
    ),
  );
}

/**
 * Escalate to L3. `defaults` prefills the definition of ready, `impact` ({scope, urgency, note}: what the bot's
 * technical form asked the customer, when it did) the customer impact; `engineers` are the L3 agents it may go to
 * directly (else the L3 queue).
 */
export function escalateDialog({ defaults = {}, impact = {}, engineers = [], submit }) {
  const dor = L3_FIELDS.map((name) => {
    const [label, placeholder] = L3_LABELS[name];
    const control = el("textarea", {
      id: `l3-${name}`,
      name,
      rows: name === "repro_steps" || name === "logs" ? "3" : "2",
      placeholder,
      required: true,
      "aria-required": "true",
    });
    control.value = defaults[name] || "";
    return field(`${label} (required)`, control);
  });
  const fromBot = "Prefilled from what the customer told the bot: check it.";
  const scope = L3_IMPACT_SCOPES.includes(impact.scope) ? impact.scope : "";
  const urgency = L3_IMPACT_URGENCIES.includes(impact.urgency) ? impact.urgency : "";
  const note = el("textarea", {
    id: "l3-impact_note",
    name: "impact_note",
    rows: "2",
    placeholder: "Who and how many: e.g. the 3 admins of Acme, every EU customer",
  });
  note.value = impact.note || "";
  const fields = [
    ...dor,
    radios("impact_scope", "Who is affected? (required)", L3_IMPACT_SCOPES.map((s) => [s, IMPACT_SCOPES[s]]), scope, scope ? fromBot : null),
    radios("impact_urgency", "How urgent? (required)", L3_IMPACT_URGENCIES.map((u) => [u, IMPACT_URGENCIES[u]]), urgency, urgency ? fromBot : null),
    field("Impact note (optional)", note, impact.note ? fromBot : null),
  ];
  if (engineers.length) {
    const select = el(
      "select",
      { id: "l3-to_agent_id", name: "to_agent_id" },
      el("option", { value: "", text: "— the L3 queue (the first engineer free claims it) —" }),
      engineers.map((a) => el("option", { value: String(a.id), text: `${a.name} (${a.status}, ${a.load}/${a.capacity})` })),
    );
    fields.push(field("Assign to an L3 engineer (optional)", select));
  }
  return openDialog({
    title: "Escalate to L3",
    description: "Engineering picks this up only when it is ready: the definition of ready and the customer impact are mandatory.",
    fields,
    submitLabel: "Escalate to L3",
    validate: (form) => {
      const problems = {};
      for (const name of L3_FIELDS) if (!value(form, name)) problems[name] = `${L3_LABELS[name][0]} is required.`;
      if (!L3_IMPACT_SCOPES.includes(value(form, "impact_scope"))) problems.impact_scope = "Choose who is affected.";
      if (!L3_IMPACT_URGENCIES.includes(value(form, "impact_urgency"))) problems.impact_urgency = "Choose how urgent it is.";
      return problems;
    },
    submit: (form) => {
      const payload = Object.fromEntries(L3_FIELDS.map((name) => [name, value(form, name)]));
      payload.impact_scope = value(form, "impact_scope");
      payload.impact_urgency = value(form, "impact_urgency");
      if (value(form, "impact_note")) payload.impact_note = value(form, "impact_note");
      if (value(form, "to_agent_id")) payload.to_agent_id = Number(value(form, "to_agent_id"));
      return submit(payload);
    },
  });
}

/** Return to L2: the escalation goes back to `to` (the L2 agent who escalated) with what L3 found. */
export function returnDialog({ to, submit }) {
  const fields = L3_RETURN_FIELDS.map((name) => {
    const [label, hint, placeholder] = RETURN_LABELS[name];
    const optional = RETURN_OPTIONAL.has(name);
    const control = el("textarea", {
      id: `l3r-${name}`,
      name,
      rows: name === "customer_update" ? "3" : "2",
      placeholder,
      required: !optional,
      "aria-required": optional ? "false" : "true",
    });
    return field(`${label}${optional ? "" : " (required)"}`, control, hint);
  });
  return openDialog({
    title: "Return to L2",
    description: `The conversation goes back to ${to || "the L2 agent who escalated it"}, with your answer on top. The customer gets the update as a message from you.`,
    fields,
    submitLabel: "Return to L2",
    validate: (form) => {
      const problems = {};
      for (const name of L3_RETURN_FIELDS) {
        if (!RETURN_OPTIONAL.has(name) && !value(form, name)) problems[name] = `${RETURN_LABELS[name][0]} is required.`;
      }
      return problems;
    },
    submit: (form) => {
      const payload = {};
      for (const name of L3_RETURN_FIELDS) if (value(form, name)) payload[name] = value(form, name);
      return submit(payload);
    },
  });
}

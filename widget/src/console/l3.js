// L3 as a tier, on screen: the L3 queue's items, the "L3 escalation" card an engineer reads first (the definition of
// ready, the customer impact, who escalated, the SLA to claim) and the "L3 answer" card the L2 agent gets back.
// The escalations are the gateway's (the detail's `l3` list, the snapshot's `l3` items); text goes in as text only.
import { el, formatTime } from "../shared/dom.js";
import { priorityChip, slaNode } from "./conversation.js";
import { IMPACT_SCOPES, IMPACT_URGENCIES, ago, customerLabel, impactLabel } from "./format.js";

const STATUS = {
  waiting: "Waiting for an engineer",
  claimed: "With L3",
  returned: "Returned to L2",
  resolved: "Resolved in L3",
};

/** The conversation's latest escalation (the detail lists them oldest first), or null. */
export function latestEscalation(detail) {
  const list = (detail && detail.l3) || [];
  return list.length ? list[list.length - 1] : null;
}

export function urgencyChip(urgency) {
  return el("span", {
    class: `chip chip--urgency chip--urgency-${urgency || "none"}`,
    title: "Urgency given by L2",
    text: `Urgency: ${impactLabel(IMPACT_URGENCIES, urgency) || "—"}`,
  });
}

export function scopeBadge(scope) {
  return el("span", {
    class: `badge badge--scope badge--scope-${scope || "none"}`,
    title: "Who is affected",
    text: impactLabel(IMPACT_SCOPES, scope) || "impact unknown",
  });
}

function when(iso) {
  return iso ? `${formatTime(iso)} (${ago(iso)})` : "—";
}

/** The SLA to claim: a countdown while the escalation waits, else whether it was claimed in time. */
export function l3Sla(esc) {
  if (esc.status === "waiting" || !esc.claimed_at) {
    const minutes = (Date.parse(esc.sla_deadline) - Date.parse(esc.escalated_at)) / 60000;
    return slaNode(esc.sla_deadline, Number.isFinite(minutes) && minutes > 0 ? minutes : null);
  }
  const late = esc.sla_breached || Date.parse(esc.claimed_at) > Date.parse(esc.sla_deadline);
  return el("span", { class: `sla sla--${late ? "breached" : "ok"}`, text: late ? "claimed late" : "claimed in time" });
}

function row(label, ...value) {
  return el("div", { class: "kv" }, el("dt", { text: label }), el("dd", {}, ...value));
}

function text(value) {
  if (Array.isArray(value)) return value.map(String).join("\n");
  return value === null || value === undefined ? "" : String(value);
}

/** One item of the L3 queue: urgency and scope, the customer, the SLA to claim, who escalated; Claim. */
export function l3QueueItem(item, { current, onOpen, onClaim }) {
  const esc = item.escalation;
  const name = customerLabel(item.customer_name, item.id);
  const open = el("button", { type: "button", class: "qitem__open", on: { click: onOpen } });
  if (esc) {
    const firstStep = text(esc.repro_steps).split("\n").find((line) => line.trim()) || "";
    open.append(
      el("span", { class: "qitem__top" }, priorityChip(esc.priority), urgencyChip(esc.impact_urgency), scopeBadge(esc.impact_scope)),
      el("span", { class: "qitem__meta" }, el("span", { class: "qitem__name", text: name }), l3Sla(esc)),
      el("span", { class: "qitem__problem", text: esc.impact_note || firstStep }),
      el("span", { class: "qitem__by muted", text: `Escalated by ${esc.escalated_by_name || "L2"} · ${ago(esc.escalated_at)}` }),
    );
  } else {
    open.append(el("span", { class: "qitem__meta" }, el("span", { class: "qitem__name", text: name }), el("span", { class: "muted", text: ago(item.updated_at) })));
  }
  return el(
    "li",
    { class: `qitem qitem--l3 qitem--${(esc && esc.priority) || "normal"}${current ? " is-current" : ""}`, data: { id: item.id } },
    open,
    el("button", {
      type: "button",
      class: "btn btn--primary btn--small qitem__claim",
      text: "Claim",
      "aria-label": `Claim L3 escalation for ${name}`,
      on: { click: onClaim },
    }),
  );
}

/** What the L3 engineer reads first: the definition of ready, the customer impact, who escalated and when, the SLA. */
export function escalationCard(esc) {
  const claimed = esc.claimed_by_name ? `Claimed by ${esc.claimed_by_name} at ${when(esc.claimed_at)}` : "Not claimed yet";
  return el(
    "section",
    { class: "l3card", id: "l3-card", "aria-labelledby": "l3card-title" },
    el(
      "header",
      { class: "l3card__head" },
      el("h2", { id: "l3card-title", text: "L3 escalation" }),
      priorityChip(esc.priority),
      urgencyChip(esc.impact_urgency),
      scopeBadge(esc.impact_scope),
      el("span", { class: "chip", text: STATUS[esc.status] || esc.status }),
      esc.stale || esc.stale_alerted ? el("span", { class: "chip chip--stale", text: "stale", title: "No visible L3 activity for a while" }) : null,
      el("span", { class: "summary__spacer" }),
      el("span", { class: "l3card__sla" }, "SLA to claim: ", l3Sla(esc)),
    ),
    el(
      "p",
      { class: "l3card__meta" },
      el("span", {}, "Escalated by ", el("bdi", { text: esc.escalated_by_name || "an L2 agent" }), ` at ${when(esc.escalated_at)}`),
      el("span", { class: "muted", text: ` · ${claimed}` }),
    ),
    el(
      "div",
      { class: "l3card__cols" },
      el(
        "div",
        { class: "l3card__dor" },
        el("h3", { text: "Definition of ready" }),
        el(
          "dl",
          {},
          row("Steps to reproduce", el("div", { class: "l3card__text", dir: "auto", text: text(esc.repro_steps) })),
          row("Logs", el("pre", { class: "l3card__logs", text: text(esc.logs) })),
          row("Environment", el("div", { class: "l3card__text", dir: "auto", text: text(esc.environment) })),
          row("Timestamps", el("div", { class: "l3card__text", dir: "auto", text: text(esc.timestamps) })),
        ),
      ),
      el(
        "div",
        { class: "l3card__impact" },
        el("h3", { text: "Customer impact" }),
        el(
          "dl",
          {},
          row("Who is affected", impactLabel(IMPACT_SCOPES, esc.impact_scope) || "—"),
          row("Urgency", impactLabel(IMPACT_URGENCIES, esc.impact_urgency) || "—"),
          row("Note", el("div", { class: "l3card__text", dir: "auto", text: esc.impact_note || "—" })),
        ),
      ),
    ),
  );
}

/** What L3 sent back, on top of the conversation the L2 agent got back. */
export function answerCard(esc) {
  const by = esc.returned_by_name || esc.claimed_by_name || "L3";
  return el(
    "section",
    { class: "l3card l3card--answer", id: "l3-answer", "aria-labelledby": "l3answer-title" },
    el(
      "header",
      { class: "l3card__head" },
      el("h2", { id: "l3answer-title", text: "L3 answer" }),
      el("span", { class: "l3card__meta" }, "Returned by ", el("bdi", { text: by }), ` at ${when(esc.returned_at)}`),
    ),
    el(
      "dl",
      { class: "l3card__answer" },
      row("Root cause", el("div", { class: "l3card__text", dir: "auto", text: text(esc.root_cause) || "—" })),
      row("Resolution", el("div", { class: "l3card__text", dir: "auto", text: text(esc.resolution) || "—" })),
      row("Workaround", el("div", { class: "l3card__text", dir: "auto", text: text(esc.workaround) || "none given" })),
      row("Sent to the customer", el("div", { class: "l3card__text", dir: "auto", text: text(esc.customer_update) || "—" })),
    ),
  );
}

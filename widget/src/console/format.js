// Labels, durations and the SLA countdown shared by the console views.

export const REASONS = {
  three_strikes: "Three strikes",
  low_confidence: "Not understood",
  customer_request: "Asked for a person",
  frustration: "Frustrated",
  technical_issue: "Technical",
  fast_lane: "Fast lane",
  policy: "Policy",
  backend_unavailable: "Backend down",
  bot_unavailable: "Bot down",
  barge_in: "Taken over",
  language: "Language",
  transfer_to_team: "Transferred",
  agent_dropped: "Agent dropped",
};

export const STATES = {
  bot: "With the bot",
  queued: "Waiting in queue",
  assigned: "With an agent",
  escalated_l3: "Escalated to L3",
  resolved: "Resolved",
};

export const TEAMS = ["general", "billing", "technical", "l3"]; // handoff.domain.routing.TEAMS

// An L3 escalation's customer impact (protocol.js L3_IMPACT_SCOPES, L3_IMPACT_URGENCIES).
export const IMPACT_SCOPES = {
  one_customer: "Just this customer",
  several_customers: "Several customers or a team",
  all_customers: "Everyone (outage)",
};
export const IMPACT_URGENCIES = { low: "Low", normal: "Normal", high: "High", critical: "Critical" };

/** The label of an impact value (a scope or an urgency), or the value itself for one this console does not know. */
export function impactLabel(labels, value) {
  return labels[value] || String(value || "").replace(/_/g, " ");
}

export const RESOLUTION_CODES = [
  ["solved", "Solved: the customer's issue is fixed"],
  ["password_reset_done", "Password reset / account unlocked"],
  ["billing_corrected", "Billing corrected or refunded"],
  ["workaround", "Workaround given"],
  ["known_issue", "Known issue, customer informed"],
  ["duplicate", "Duplicate of another conversation"],
  ["no_response", "Customer stopped responding"],
  ["other", "Other"],
];

export const LOW_CONFIDENCE = 0.7; // the bot's FallbackClassifier threshold (config.yml)

export function reasonLabel(reason) {
  return REASONS[reason] || String(reason || "").replace(/_/g, " ");
}

export function clock(totalSeconds) {
  const s = Math.max(0, Math.floor(totalSeconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  return h ? `${h}:${String(m).padStart(2, "0")}:${String(sec).padStart(2, "0")}` : `${m}:${String(sec).padStart(2, "0")}`;
}

/** { text, level } for a "pick up by" deadline: ok, warn (last 20%), breached. */
export function slaStatus(deadlineIso, totalMinutes) {
  const deadline = Date.parse(deadlineIso || "");
  if (Number.isNaN(deadline)) return { text: "no SLA", level: "none" };
  const left = (deadline - Date.now()) / 1000;
  if (left <= 0) return { text: `SLA breached ${clock(-left)} ago`, level: "breached" };
  const total = (Number(totalMinutes) || 30) * 60;
  return { text: `${clock(left)} left`, level: left <= total * 0.2 ? "warn" : "ok" };
}

export function ago(iso) {
  const t = Date.parse(iso || "");
  if (Number.isNaN(t)) return "";
  const s = Math.max(0, (Date.now() - t) / 1000);
  if (s < 60) return "just now";
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ago`;
  return new Date(t).toLocaleDateString();
}

export function money(value) {
  return typeof value === "number" ? `$${value.toLocaleString(undefined, { maximumFractionDigits: 0 })}` : "—";
}

export function customerLabel(name, id) {
  if (name) return name;
  return id ? `Visitor ${String(id).slice(0, 6)}` : "Anonymous visitor";
}

export function normalize(text) {
  return String(text || "").split(/\s+/).filter(Boolean).join(" ").slice(0, 500);
}

/** Whether the bot understood a turn (older summaries have no `understood`: nlu_fallback or below the threshold). */
export function understood(turn) {
  if (typeof turn.understood === "boolean") return turn.understood;
  if (!turn.intent || turn.intent === "nlu_fallback") return false;
  return typeof turn.confidence === "number" && turn.confidence >= LOW_CONFIDENCE;
}

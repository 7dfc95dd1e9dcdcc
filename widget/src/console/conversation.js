// Rendering of one conversation: chips, transcript (bot turns marked, turns the bot did not understand flagged, each
// customer turn numbered as the summary cites it), customer panel. The summary card is in summary.js.
import { el, formatTime, richText } from "../shared/dom.js";
import { STATES, ago, customerLabel, money, reasonLabel, slaStatus, understood } from "./format.js";

export function stateChip(state) {
  return el("span", { class: `chip chip--state chip--${state}`, text: STATES[state] || state });
}

export function priorityChip(level) {
  return el("span", { class: `chip chip--prio chip--${level}`, text: level || "normal" });
}

export function reasonBadge(reason) {
  return el("span", { class: `badge badge--${reason}`, text: reasonLabel(reason) });
}

export function slaNode(deadline, minutes) {
  const node = el("span", { class: "sla", data: { deadline: deadline || "", minutes: minutes || 30 } });
  updateSla(node);
  return node;
}

export function updateSla(node) {
  const status = slaStatus(node.dataset.deadline, Number(node.dataset.minutes));
  node.textContent = status.text;
  node.className = `sla sla--${status.level}`;
}

function row(label, ...value) {
  return el("div", { class: "kv" }, el("dt", { text: label }), el("dd", {}, ...value));
}

/** A customer turn that is a button press ("/affirm") shows the button's title, like the widget did. */
export function buttonTitles(messages) {
  const titles = new Map();
  for (const m of messages) for (const q of m.quick_replies || []) if (q && q.payload) titles.set(String(q.payload), String(q.title || ""));
  return titles;
}

export function messageNode(m, nlu, titles = new Map()) {
  const sender = m.sender || (m.metadata && m.metadata.sender) || "bot";
  if (sender === "system") {
    return el("div", { class: "tmsg tmsg--system", data: { seq: m.seq } }, el("span", {}, richText(m.text || "")));
  }
  const who =
    sender === "customer" ? "Customer" : sender === "agent" ? (m.metadata && m.metadata.agent_name) || "Agent" : "Bot";
  const flags = [];
  if (sender === "bot") flags.push(el("span", { class: "tag tag--bot", text: "BOT" }));
  const low = Boolean(nlu && nlu.intent !== undefined && !understood(nlu));
  if (nlu && nlu.number) flags.push(el("span", { class: "tag tag--turn", text: `turn ${nlu.number}` }));
  if (nlu && nlu.intent) {
    flags.push(
      el("span", {
        class: `tag ${low ? "tag--low" : "tag--nlu"}`,
        title: low ? "The bot did not understand this turn" : "What the bot understood",
        text: `${low ? "⚠ not understood · " : ""}${nlu.intent} ${typeof nlu.confidence === "number" ? nlu.confidence.toFixed(2) : ""}`,
      }),
    );
  }
  const body = el("div", { class: "tmsg__text", dir: "auto" }); // dir=auto: the customer's script, isolated
  const pressed = sender === "customer" && titles.get(String(m.text || ""));
  if (pressed) flags.push(el("span", { class: "tag tag--nlu", title: "Button payload", text: `button ${m.text}` }));
  if (m.text) body.append(richText(pressed || m.text));
  if (m.quick_replies && m.quick_replies.length) {
    body.append(
      el(
        "div",
        { class: "tmsg__buttons" },
        m.quick_replies.map((q) => el("span", { class: "qr", text: String(q.title || q.payload || "") })),
      ),
    );
  }
  return el(
    "article",
    { class: `tmsg tmsg--${sender}${low ? " tmsg--low" : ""}`, data: { seq: m.seq, sender } },
    el(
      "header",
      { class: "tmsg__head" },
      el("bdi", { class: "tmsg__who", text: who }),
      ...flags,
      el("time", { class: "tmsg__time", datetime: m.created_at || "", text: formatTime(m.created_at) }),
    ),
    body,
  );
}

export function customerPanel(info, onOpen) {
  if (!info) return el("p", { class: "muted", text: "Loading customer…" });
  const contact = info.contact;
  const parts = [
    el(
      "div",
      { class: "cust__head" },
      el("div", { class: "cust__avatar", "aria-hidden": "true", text: (info.name || "?").slice(0, 1).toUpperCase() }),
      el(
        "div",
        { class: "cust__who" },
        el(
          "div",
          { class: "cust__line" },
          el("p", { class: "cust__name", text: customerLabel(info.name, info.conversation_id) }),
          el("span", {
            class: `chip ${info.verified ? "chip--verified" : "chip--unverified"}`,
            text: info.verified ? "verified" : "unverified",
          }),
        ),
        el("p", { class: "muted", text: info.email || info.follow_up_email || "no email" }),
      ),
    ),
  ];
  if (contact) {
    const renewal =
      contact.renewal_date && info.renewal_in_days !== null
        ? `${contact.renewal_date} (in ${info.renewal_in_days} days)`
        : contact.renewal_date || "—";
    parts.push(
      el(
        "dl",
        { class: "cust__facts" },
        row("Tier", el("span", { class: `tier tier--${contact.tier}`, text: contact.tier })),
        row("Plan", contact.plan),
        row("MRR", money(contact.mrr)),
        row("Renewal", renewal),
        row("Account", contact.status),
        row("Customer id", contact.id),
      ),
    );
  } else {
    parts.push(el("p", { class: "muted", text: "Not signed in: no account record. Verify the customer before account changes." }));
  }
  parts.push(el("h3", { text: "Past conversations" }));
  const past = info.past_conversations || [];
  parts.push(
    past.length
      ? el(
          "ul",
          { class: "past" },
          past.map((p) =>
            el(
              "li",
              {},
              el(
                "button",
                { type: "button", class: "linklike", on: { click: () => onOpen(p.id) } },
                el("span", { class: "past__when", text: ago(p.created_at) }),
                " · ",
                el("span", { text: p.handoff_reason ? reasonLabel(p.handoff_reason) : "bot only" }),
                " · ",
                el("span", { class: "muted", text: p.resolution_code || STATES[p.state] || p.state }),
              ),
              p.problem ? el("p", { class: "past__problem", text: p.problem }) : null,
            ),
          ),
        )
      : el("p", { class: "muted", text: "None." }),
  );
  return el("div", { class: "cust" }, parts);
}

export function noteNode(note, agentName) {
  return el(
    "li",
    { class: "note" },
    el("p", { class: "note__meta" }, el("bdi", { text: agentName || "Agent" }), ` · ${formatTime(note.created_at)}`),
    el("p", { class: "note__text", dir: "auto" }, richText(note.text)),
  );
}

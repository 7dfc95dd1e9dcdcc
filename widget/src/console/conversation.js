// Rendering of one conversation: summary card, transcript (bot turns marked, low confidence flagged), customer panel.
import { el, formatTime, richText } from "../shared/dom.js";
import { LOW_CONFIDENCE, STATES, ago, customerLabel, money, normalize, reasonLabel, slaStatus } from "./format.js";

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

/** The context block on top of the conversation: what L1 learned, so the agent never asks again. */
export function summaryCard(summary, handoff, flagged, onFlag) {
  const c = summary.customer || {};
  const esc = summary.escalation || {};
  const sentiment = summary.sentiment || {};
  const steps = summary.steps || [];
  const entities = summary.entities || {};
  const sla = summary.sla || {};
  const flagButton = !onFlag && !flagged ? null : el("button", {
    type: "button",
    class: `btn btn--flag${flagged ? " is-flagged" : ""}`,
    "aria-pressed": flagged ? "true" : "false",
    disabled: flagged || !onFlag,
    text: flagged ? "Flagged: had to ask again" : "Had to ask the customer again",
    title: "One click: the summary missed something and you had to ask the customer (context-loss metric)",
    on: { click: () => onFlag && onFlag(flagButton) },
  });
  const lowTurns = (summary.intents || []).filter((t) => typeof t.confidence === "number" && t.confidence < LOW_CONFIDENCE);
  const tier = c.tier ? `${c.tier}${c.fast_lane ? " · fast lane" : ""}` : c.verified ? "unknown" : "anonymous (unverified)";
  const sentimentText =
    sentiment.latest === null || sentiment.latest === undefined
      ? "no signal"
      : `${Number(sentiment.latest).toFixed(2)} (${sentiment.direction || "?"})` +
        (sentiment.frustration !== null && sentiment.frustration !== undefined
          ? ` · frustration ${Number(sentiment.frustration).toFixed(2)}`
          : "");
  const deadline = (handoff && handoff.sla_deadline) || sla.deadline;
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
    el("p", { class: "summary__problem" }, el("strong", { text: "Problem: " }), el("bdi", { text: summary.problem || "—" })),
    el("p", { class: "summary__hypothesis" }, el("strong", { text: "Hypothesis: " }), el("bdi", { text: summary.hypothesis || "none from L1" })),
    el(
      "dl",
      { class: "summary__grid" },
      row("Why handed off", esc.reason_text || reasonLabel(esc.reason)),
      row("Tier", tier),
      row("Bot understood", lowTurns.length ? `${lowTurns.length} low-confidence turn${lowTurns.length > 1 ? "s" : ""}` : "every turn"),
      row("Sentiment", sentimentText),
      row(
        "SLA",
        handoff && handoff.assigned_at
          ? el("span", { text: Date.parse(handoff.assigned_at) <= Date.parse(deadline) ? "picked up in time" : "picked up late" })
          : slaNode(deadline, sla.minutes),
      ),
    ),
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
              steps.map((s) =>
                el(
                  "li",
                  {},
                  el("span", { class: `outcome outcome--${s.outcome}`, text: s.outcome }),
                  " ",
                  el("span", { text: String(s.step || "").replace(/_/g, " ") }),
                  s.count > 1 ? el("span", { class: "chip", text: `×${s.count}` }) : null,
                  s.detail ? el("span", { class: "muted" }, " — ", el("bdi", { text: s.detail })) : null,
                ),
              ),
            )
          : el("p", { class: "muted", text: "Nothing tried yet." }),
      ),
      el(
        "div",
        {},
        el("h3", { text: "Entities" }),
        Object.keys(entities).length
          ? el(
              "ul",
              { class: "entities" },
              Object.entries(entities).flatMap(([name, values]) =>
                (Array.isArray(values) ? values : [values]).map((v) =>
                  el("li", { class: "entity" }, el("span", { class: "entity__name", text: name }), el("bdi", { text: String(v) })),
                ),
              ),
            )
          : el("p", { class: "muted", text: "None found." }),
      ),
    ),
  );
}

/** Attach NLU data (intent, confidence) from the hand-off summaries to the customer's turns, in order. */
export function nluByMessage(messages, handoffs) {
  const pool = new Map();
  for (const h of handoffs || []) {
    for (const turn of (h.summary && h.summary.intents) || []) {
      const key = normalize(turn.text);
      if (!key) continue;
      if (!pool.has(key)) pool.set(key, []);
      pool.get(key).push(turn);
    }
  }
  const result = new Map();
  for (const m of messages) {
    if (m.sender !== "customer") continue;
    const list = pool.get(normalize(m.text));
    if (list && list.length) result.set(m.seq, list.shift());
  }
  return result;
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
  if (nlu && nlu.intent) {
    const low = typeof nlu.confidence === "number" && nlu.confidence < LOW_CONFIDENCE;
    flags.push(
      el("span", {
        class: `tag ${low ? "tag--low" : "tag--nlu"}`,
        title: low ? "The bot was not confident it understood this turn" : "What the bot understood",
        text: `${low ? "⚠ low confidence · " : ""}${nlu.intent} ${typeof nlu.confidence === "number" ? nlu.confidence.toFixed(2) : ""}`,
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
  const nluLow = nlu && typeof nlu.confidence === "number" && nlu.confidence < LOW_CONFIDENCE;
  return el(
    "article",
    { class: `tmsg tmsg--${sender}${nluLow ? " tmsg--low" : ""}`, data: { seq: m.seq, sender } },
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

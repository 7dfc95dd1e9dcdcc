// The conversation screen: header with the actions this agent may take, the L3 card (an escalation's definition of
// ready, or L3's answer), summary card, transcript, side panels.
import { clear, el } from "../shared/dom.js";
import * as P from "../shared/protocol.js";
import { buttonTitles, customerPanel, messageNode, noteNode, slaNode, stateChip } from "./conversation.js";
import { customerLabel } from "./format.js";
import { answerCard, escalationCard, latestEscalation } from "./l3.js";
import { summaryCard, turnsBySeq } from "./summary.js";

/** The L3 card on top of a conversation: the escalation while L3 has it, L3's answer once it came back; else null. */
function l3Card(conv, esc) {
  if (!esc) return null;
  if (conv.state === "escalated_l3") return escalationCard(esc);
  return esc.status === "returned" ? answerCard(esc) : null;
}

export const viewMethods = {
  isMine(detail) {
    const c = detail && detail.conversation;
    return Boolean(c && c.assigned_agent_id === this.agent.id && (c.state === "assigned" || c.state === "escalated_l3"));
  },

  async openConversation(id) {
    if (this.isCurrent(id)) {
      this.reloadCurrent();
      return;
    }
    const previous = this.current;
    if (previous && previous.watching && !this.isMine(previous.detail)) {
      this.emit(P.UNWATCH, { conversation_id: previous.id }).catch(() => {});
    }
    this.current = { id, detail: null, customer: null, seqs: new Set(), watching: false };
    this.view = null;
    this.notifier.seen();
    this.renderLists();
    try {
      // Join the conversation's room first, then read: nothing said in between is lost (seq dedupes).
      await this.emit(P.WATCH, { conversation_id: id });
      if (this.isCurrent(id)) this.current.watching = true;
      await this.reloadCurrent();
    } catch (e) {
      if (this.isCurrent(id)) this.toast(`Could not open the conversation: ${e.message}`, "error");
    }
  },

  async reloadCurrent() {
    if (!this.current) return;
    const id = this.current.id;
    try {
      const [detail, customer] = await Promise.all([this.api.conversation(id), this.api.customer(id)]);
      if (!this.isCurrent(id)) return;
      // Messages that arrived live while the request was in flight are newer than this snapshot: keep them, or
      // the re-render would drop a customer's message from the screen until the next refresh.
      const newest = Math.max(0, ...detail.messages.map((m) => m.seq));
      const live = ((this.current.detail && this.current.detail.messages) || []).filter((m) => m.seq > newest);
      detail.messages = [...detail.messages, ...live];
      this.current.customer = customer;
      this.renderConversation(detail);
    } catch (e) {
      this.toast(e.message, "error");
      if ((e.status === 403 || e.status === 404) && this.isCurrent(id)) {
        // No longer ours to read (moved to another team, say): close it rather than show a stale copy.
        this.current = null;
        this.view = null;
        this.renderEmpty();
        this.renderLists();
      }
    }
  }

  /** Render (or re-render in place) the open conversation; the composer survives re-renders while it fits. */,

  /** Render (or re-render in place) the open conversation; the composer survives re-renders while it fits. */
  renderConversation(detail) {
    const conv = detail.conversation;
    this.current.detail = detail;
    this.current.seqs = new Set(detail.messages.map((m) => m.seq));
    const mine = this.isMine(detail);
    const handoffs = detail.handoffs || [];
    const latest = handoffs[handoffs.length - 1] || null;
    const flagged = Boolean(
      latest && (detail.events || []).some((e) => e.type === P.EVENT_TYPES.CONTEXT_LOSS && e.data && e.data.handoff_id === latest.id),
    );

    if (!this.view || this.view.id !== conv.id) {
      this.transcript = el("div", { class: "transcript", role: "log", "aria-live": "polite", "aria-label": "Transcript", tabindex: "0" });
      this.typingLine = el("p", { class: "typing-line", hidden: true, text: "Customer is typing…" });
      this.view = {
        id: conv.id,
        header: el("header", { class: "conv__head" }),
        l3: el("div", { class: "l3-slot" }),
        summary: el("div", { class: "summary-slot" }),
        summaryOpen: false,
        composer: null,
        composerKey: null,
      };
      clear(this.main).append(this.view.header, this.view.l3, this.view.summary, this.transcript, this.typingLine);
    }

    const actions = el("div", { class: "actions", role: "toolbar", "aria-label": "Conversation actions" });
    const add = (label, handler, cls = "btn--ghost") =>
      actions.append(el("button", { type: "button", class: `btn ${cls}`, text: label, on: { click: handler } }));
    // Only what handoff/domain/access.py lets this agent do: L3 agents claim L3 escalations, L2 agents the queue,
    // and taking over from the bot is for leads.
    const role = this.agent.role;
    if ((conv.state === "queued" && role !== "l3") || (conv.state === "escalated_l3" && !conv.assigned_agent_id && role !== "l2")) {
      add("Claim", () => this.claim(conv.id), "btn--primary");
    }
    if (conv.state === "bot" && role === "lead") add("Take over from the bot", () => this.bargeIn(conv.id), "btn--primary");
    if (mine && conv.state === "assigned") {
      add("Transfer…", () => this.transfer(conv.id));
      add("Escalate to L3…", () => this.escalate(conv.id, detail));
      add("Hand back to bot…", () => this.handback(conv.id));
    }
    if (conv.state === "escalated_l3" && conv.assigned_agent_id && (mine || role === "lead")) {
      add("Return to L2…", () => this.returnToL2(conv.id, detail), "btn--primary");
    }
    if (mine) add("Resolve…", () => this.resolve(conv.id), "btn--success");
    clear(this.view.header).append(
      el(
        "div",
        { class: "conv__title" },
        el("h1", { id: "conv-title", text: customerLabel(conv.customer_name, conv.id) }),
        stateChip(conv.state),
        latest && conv.state === "queued" ? slaNode(latest.sla_deadline, (latest.summary?.sla || {}).minutes) : null,
        mine ? el("span", { class: "chip chip--mine", text: "assigned to you" }) : null,
      ),
      actions,
    );

    // With an L3 card on top, the hand-off summary folds (one line; open it to read): the card is what matters now.
    const card = l3Card(conv, latestEscalation(detail));
    clear(this.view.l3).append(...(card ? [card] : []));
    clear(this.view.summary);
    if (latest && latest.summary) {
      const onFlag = mine ? (button) => this.flag(conv.id, button) : null;
      const onEvidence = (button) => this.showEvidence(button);
      const summary = summaryCard(latest.summary, latest, flagged, onFlag, { messages: detail.messages, onEvidence });
      if (card) {
        const fold = el(
          "details",
          { class: "summary-fold", open: this.view.summaryOpen },
          el("summary", { text: "Hand-off summary (what L1 learned)" }),
          summary,
        );
        const view = this.view;
        fold.addEventListener("toggle", () => (view.summaryOpen = fold.open));
        this.view.summary.append(fold);
      } else {
        this.view.summary.append(summary);
      }
    }

    const atBottom = this.transcript.scrollHeight - this.transcript.scrollTop - this.transcript.clientHeight < 40;
    clear(this.transcript);
    const nlu = turnsBySeq(detail.messages, handoffs);
    const titles = buttonTitles(detail.messages);
    for (const m of detail.messages) this.transcript.append(messageNode(m, nlu.get(m.seq), titles));
    if (!detail.messages.length) this.transcript.append(el("p", { class: "muted", text: "No messages yet." }));
    this.markEvidence(false);
    const stickToBottom = atBottom || !this.view.composer;

    const composerKey = `${mine}:${conv.state}`;
    if (this.view.composerKey !== composerKey) {
      const draft = this.input && this.view.composer ? this.input.value : "";
      const form = this.composer(conv, mine, draft);
      if (this.view.composer) this.view.composer.replaceWith(form);
      else this.main.append(form);
      this.view.composer = form;
      this.view.composerKey = composerKey;
    }
    if (stickToBottom) this.transcript.scrollTop = this.transcript.scrollHeight;

    this.notes = el("ul", { class: "notes", id: "notes" });
    const names = new Map(this.snapshot.agents.map((a) => [a.id, a.name]));
    for (const n of detail.notes || []) this.notes.append(noteNode(n, names.get(n.agent_id)));
    if (!(detail.notes || []).length) this.notes.append(el("li", { class: "list__empty", text: "No private notes." }));
    clear(this.side).append(
      el("section", { class: "panel" }, el("h2", { text: "Customer" }), customerPanel(this.current.customer, (id) => this.openConversation(id))),
      el("section", { class: "panel panel--notes" }, el("h2", { text: "Private notes" }), this.notes),
    );
    this.renderLists();
  },

  onMessage(data) {
    if (!data || !this.current || data.conversation_id !== this.current.id || !this.transcript) return;
    const m = data.message;
    if (!m || this.current.seqs.has(m.seq)) return;
    this.current.seqs.add(m.seq);
    this.current.detail.messages.push(m);
    const empty = this.transcript.querySelector("p.muted");
    if (empty) empty.remove();
    const after = [...this.transcript.querySelectorAll("[data-seq]")].find((n) => Number(n.dataset.seq) > m.seq);
    this.transcript.insertBefore(messageNode(m, null, buttonTitles(this.current.detail.messages)), after || null);
    this.transcript.scrollTop = this.transcript.scrollHeight;
    if (m.sender === "customer") this.showCustomerTyping(false);
  },

  onNote(data) {
    if (!data || !this.current || data.conversation_id !== this.current.id || !this.notes) return;
    const empty = this.notes.querySelector(".list__empty");
    if (empty) empty.remove();
    this.notes.append(noteNode(data.note, data.agent_name));
  },

  onTyping(data) {
    if (!data || !this.current || data.conversation_id !== this.current.id || data.from !== "customer") return;
    this.showCustomerTyping(Boolean(data.on));
  },

  showCustomerTyping(on) {
    if (!this.typingLine) return;
    this.typingLine.hidden = !on;
    window.clearTimeout(this.customerTypingTimer);
    if (on) this.customerTypingTimer = window.setTimeout(() => (this.typingLine.hidden = true), 6000);
  }

  /** Someone else (a lead) moved one of my conversations away: the gateway took it off my sockets. */,

  /** A statement's evidence button: highlight its turns in the transcript (and its steps), scroll to the first. */
  showEvidence(button) {
    const line = button.closest("[data-line]");
    const key = `${line ? line.dataset.line : ""}|${button.dataset.seqs}|${button.dataset.steps}`;
    this.view.evidence = this.view.evidence === key ? null : key;
    this.markEvidence(true);
  },

  /** Apply the chosen evidence (kept across re-renders of the conversation); `scroll` brings it into view. */
  markEvidence(scroll) {
    if (!this.view) return;
    const key = this.view.evidence || "";
    const [, seqText = "", stepText = ""] = key.split("|");
    const seqs = new Set(seqText.split(",").filter(Boolean));
    const steps = new Set(stepText.split(",").filter(Boolean));
    for (const node of this.main.querySelectorAll(".tmsg[data-seq]")) {
      node.classList.toggle("tmsg--evidence", seqs.has(node.dataset.seq));
    }
    for (const node of this.main.querySelectorAll(".steps li[data-step]")) {
      node.classList.toggle("is-evidence", steps.has(node.dataset.step));
    }
    for (const node of this.main.querySelectorAll(".evref")) {
      const line = node.closest("[data-line]");
      const own = `${line ? line.dataset.line : ""}|${node.dataset.seqs}|${node.dataset.steps}`;
      node.setAttribute("aria-pressed", key && own === key ? "true" : "false");
    }
    if (!scroll || !key) return;
    const first = this.transcript.querySelector(".tmsg--evidence");
    if (first) first.scrollIntoView({ block: "center", behavior: "smooth" });
    else if (steps.size) this.main.querySelector(".steps li.is-evidence")?.scrollIntoView({ block: "nearest" });
  },
};

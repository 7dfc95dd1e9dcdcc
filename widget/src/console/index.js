// The agent console (/console): login, presence, queue with SLA countdowns, live bot conversations, the
// conversation view with the summary card, transcript, customer panel, composer (canned replies, private notes)
// and the actions (claim, transfer, escalate to L3, resolve, hand back, "had to ask again"); the Scorecards and
// Needs training pages (#scorecards, #needs-training).
import { io } from "socket.io-client";

import { clear, clientId, el } from "../shared/dom.js";
import * as P from "../shared/protocol.js";
import { Api } from "./api.js";
import {
  buttonTitles,
  customerPanel,
  messageNode,
  noteNode,
  nluByMessage,
  priorityChip,
  reasonBadge,
  slaNode,
  stateChip,
  summaryCard,
  updateSla,
} from "./conversation.js";
import { escalateDialog, handbackDialog, resolveDialog, transferDialog } from "./dialogs.js";
import { ago, customerLabel } from "./format.js";
import { Notifier } from "./notify.js";
import { Scorecards } from "./scorecards.js";
import { renderTraining } from "./training.js";

const TOKEN_KEY = "support-console.token";
const SVG_NS = "http://www.w3.org/2000/svg";

function speakerIcon(muted) {
  const svg = document.createElementNS(SVG_NS, "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("aria-hidden", "true");
  const paths = muted
    ? ["M3 9v6h4l5 5V4L7 9H3z", "M16.5 8.9 15.1 10.3 16.8 12l-1.7 1.7 1.4 1.4 1.7-1.7 1.7 1.7 1.4-1.4-1.7-1.7 1.7-1.7-1.4-1.4-1.7 1.7z"]
    : ["M3 9v6h4l5 5V4L7 9H3z", "M16.5 12A4.5 4.5 0 0 0 14 8v8a4.5 4.5 0 0 0 2.5-4z", "M14 3.2v2.1a7 7 0 0 1 0 13.4v2.1a9 9 0 0 0 0-17.6z"];
  for (const d of paths) {
    const path = document.createElementNS(SVG_NS, "path");
    path.setAttribute("d", d);
    svg.append(path);
  }
  return svg;
}
const PAGES = { "": "Conversations", scorecards: "Scorecards", "needs-training": "Needs training" };
const ACK_TIMEOUT_MS = 15000;
const TYPING_IDLE_MS = 1500;

class Console {
  constructor(root) {
    this.root = root;
    this.api = new Api("");
    this.notifier = new Notifier();
    this.agent = null;
    this.socket = null;
    this.snapshot = { queue: [], live: [], l3: [], agents: [] };
    this.mine = [];
    this.current = null; // { id, detail, customer, seqs:Set, watching:boolean }
    this.canned = [];
    this.mode = "reply";
    this.typingSent = false;
    this.typingTimer = null;
    this.customerTypingTimer = null;
    this.refreshTimer = null;
    this.scorecards = null;
    window.addEventListener("hashchange", () => this.agent && this.route());
    window.setInterval(() => this.tick(), 1000);
    window.setInterval(() => this.socket && this.socket.connected && this.requestSnapshot(), 15000);
    const seen = () => this.notifier.seen();
    window.addEventListener("keydown", seen);
    window.addEventListener("pointerdown", seen);
  }

  async start() {
    const token = window.sessionStorage.getItem(TOKEN_KEY);
    if (token) {
      this.api.token = token;
      try {
        this.agent = await this.api.me();
        this.showApp();
        return;
      } catch {
        window.sessionStorage.removeItem(TOKEN_KEY);
        this.api.token = null;
      }
    }
    this.showLogin();
  }

  // ------------------------------------------------------------------ login

  showLogin(message = "") {
    const error = el("p", { class: "form-error", role: "alert", hidden: !message, text: message });
    const email = el("input", { id: "login-email", name: "email", type: "email", autocomplete: "username", required: true });
    const password = el("input", {
      id: "login-password",
      name: "password",
      type: "password",
      autocomplete: "current-password",
      required: true,
    });
    const submit = el("button", { type: "submit", class: "btn btn--primary btn--wide", text: "Sign in" });
    const form = el(
      "form",
      {
        class: "login__form",
        on: {
          submit: async (e) => {
            e.preventDefault();
            error.hidden = true;
            submit.disabled = true;
            try {
              const result = await this.api.login(email.value.trim(), password.value);
              window.sessionStorage.setItem(TOKEN_KEY, result.token);
              this.api.token = result.token;
              this.agent = result.agent;
              this.showApp();
            } catch (err) {
              error.textContent = err.message;
              error.hidden = false;
              submit.disabled = false;
              password.select();
            }
          },
        },
      },
      el("div", { class: "field" }, el("label", { for: "login-email", text: "Work email" }), email),
      el("div", { class: "field" }, el("label", { for: "login-password", text: "Password" }), password),
      error,
      submit,
    );
    clear(this.root).append(
      el(
        "main",
        { class: "login" },
        el(
          "div",
          { class: "login__card" },
          el("div", { class: "brand brand--large" }, el("span", { class: "brand__mark", "aria-hidden": "true", text: "N" }), "Support console"),
          el("h1", { text: "Sign in" }),
          el("p", { class: "muted", text: "For Northwind Cloud support agents. Demo credentials are printed by make run." }),
          form,
        ),
      ),
    );
    email.focus();
  }

  logout(message = "") {
    window.sessionStorage.removeItem(TOKEN_KEY);
    if (this.socket) this.socket.disconnect();
    this.socket = null;
    this.api.token = null;
    this.agent = null;
    this.current = null;
    this.showLogin(message);
  }

  // ------------------------------------------------------------------ layout

  showApp() {
    this.presenceButton = el("button", {
      type: "button",
      class: "presence",
      role: "switch",
      "aria-checked": "true",
      on: { click: () => this.togglePresence() },
    });
    this.muteButton = el("button", {
      type: "button",
      class: "btn btn--ghost btn--small mute",
      on: {
        click: () => {
          this.notifier.setMuted(!this.notifier.muted);
          this.renderMute();
        },
      },
    });
    this.connection = el("span", { class: "conn", role: "status" });
    this.toasts = el("div", { class: "toasts", role: "status", "aria-live": "polite" });
    this.queueList = el("ol", { class: "list", id: "queue-list", "aria-label": "Queue, most urgent first" });
    this.queueCount = el("span", { class: "count", text: "0" });
    this.mineList = el("ul", { class: "list", id: "mine-list" });
    this.l3List = el("ul", { class: "list", id: "l3-list" });
    this.liveList = el("ul", { class: "list", id: "live-list" });
    this.teamList = el("ul", { class: "team", id: "team-list" });
    this.main = el("main", { class: "conv", id: "conversation", tabindex: "-1" });
    this.side = el("aside", { class: "side", "aria-label": "Customer and notes" });
    this.l3Section = el("section", { class: "panel", hidden: true }, el("h2", { text: "Escalated to L3" }), this.l3List);
    // Watching the bot's live conversations (to take one over) is lead work (handoff/access.py).
    const lead = this.agent.role === "lead";
    this.pageView = el("div", { class: "pageview", id: "page", hidden: true });
    this.navLinks = Object.entries(PAGES).map(([hash, label]) =>
      el("a", { class: "nav__link", href: `#${hash}`, text: label, data: { page: hash } }),
    );
    this.layout = el(
      "div",
      { class: "layout" },
      el(
        "nav",
        { class: "sidebar", "aria-label": "Work" },
        el("section", { class: "panel" }, el("h2", {}, "Queue ", this.queueCount), this.queueList),
        el("section", { class: "panel" }, el("h2", { text: "My conversations" }), this.mineList),
        this.l3Section,
        el(
          "section",
          { class: "panel", hidden: !lead },
          el(
            "h2",
            {},
            "Live bot conversations",
            el("button", {
              type: "button",
              class: "linklike refresh",
              text: "Refresh",
              "aria-label": "Refresh live bot conversations",
              on: { click: () => this.requestSnapshot() },
            }),
          ),
          this.liveList,
        ),
        el("section", { class: "panel" }, el("h2", { text: "Team" }), this.teamList),
      ),
      this.main,
      this.side,
    );
    clear(this.root).append(
      el(
        "div",
        { class: "app" },
        el(
          "header",
          { class: "topbar" },
          el("div", { class: "brand" }, el("span", { class: "brand__mark", "aria-hidden": "true", text: "N" }), "Support console"),
          el("nav", { class: "nav", "aria-label": "Pages" }, ...this.navLinks),
          this.connection,
          el("span", { class: "topbar__spacer" }),
          this.presenceButton,
          this.muteButton,
          el("span", { class: "me" }, el("bdi", { text: this.agent.name }), ` · ${this.agent.role.toUpperCase()} · ${this.agent.team}`),
          el("button", { type: "button", class: "btn btn--ghost btn--small", text: "Log out", on: { click: () => this.logout() } }),
        ),
        this.toasts,
        this.layout,
        this.pageView,
      ),
    );
    this.renderMute();
    this.renderPresence("online");
    this.renderEmpty();
    this.api.cannedReplies().then((r) => (this.canned = r.canned_replies || [])).catch(() => {});
    this.connect();
    this.route();
  }

  /** Show the page named by the URL hash (the conversations layout by default). */
  route() {
    const page = window.location.hash.replace(/^#/, "");
    const known = page in PAGES ? page : "";
    for (const link of this.navLinks) {
      if (link.dataset.page === known) link.setAttribute("aria-current", "page");
      else link.removeAttribute("aria-current");
    }
    if (this.scorecards) this.scorecards.destroy();
    this.scorecards = null;
    this.layout.hidden = known !== "";
    this.pageView.hidden = known === "";
    if (known === "scorecards") {
      this.scorecards = new Scorecards(this.api, (text, kind) => this.toast(text, kind));
      this.scorecards.render(this.pageView);
    } else if (known === "needs-training") {
      renderTraining(this.pageView, this.api);
    } else {
      clear(this.pageView);
    }
  }

  renderMute() {
    const muted = this.notifier.muted;
    this.muteButton.setAttribute("aria-pressed", muted ? "true" : "false");
    clear(this.muteButton).append(speakerIcon(muted), muted ? "Sound off" : "Sound on");
    this.muteButton.title = muted ? "New hand-offs are silent. Click to turn the sound on." : "Click to mute the new hand-off sound.";
  }

  renderPresence(status) {
    this.presence = status;
    const online = status === "online";
    this.presenceButton.setAttribute("aria-checked", online ? "true" : "false");
    this.presenceButton.className = `presence presence--${online ? "online" : "away"}`;
    this.presenceButton.textContent = online ? "Online" : "Away";
    this.presenceButton.setAttribute("aria-label", `Presence: ${online ? "online" : "away"}. Toggle`);
  }

  togglePresence() {
    const next = this.presence === "online" ? "away" : "online";
    this.emit(P.PRESENCE, { status: next })
      .then(() => this.renderPresence(next))
      .catch((e) => this.toast(e.message, "error"));
  }

  renderEmpty() {
    clear(this.main).append(
      el(
        "div",
        { class: "empty" },
        el("h1", { text: "No conversation open" }),
        el("p", { class: "muted", text: "Pick one from the queue, or watch a live bot conversation. New hand-offs chime and flash the tab." }),
      ),
    );
    clear(this.side);
  }

  toast(text, kind = "info") {
    const short = text.length > 140 ? `${text.slice(0, 139)}…` : text;
    const node = el("div", { class: `toast toast--${kind}`, text: short, title: text });
    this.toasts.append(node);
    window.setTimeout(() => node.remove(), kind === "error" ? 8000 : 6000);
  }

  // ------------------------------------------------------------------ socket

  connect() {
    this.socket = io(`${window.location.origin}${P.AGENT_NS}`, {
      auth: { token: this.api.token },
      transports: ["websocket", "polling"],
      reconnectionDelay: 500,
      reconnectionDelayMax: 4000,
    });
    const s = this.socket;
    s.on("connect", () => {
      this.connection.textContent = "";
      this.connection.className = "conn";
      this.refreshMine();
      if (this.current) this.reloadCurrent();
    });
    s.on("disconnect", () => {
      this.connection.textContent = "Reconnecting…";
      this.connection.className = "conn conn--down";
    });
    s.on("connect_error", (err) => {
      const message = String((err && err.message) || "");
      if (/token|agent/i.test(message)) this.logout(`Please sign in again (${message}).`);
      else {
        this.connection.textContent = "Gateway unreachable, retrying…";
        this.connection.className = "conn conn--down";
      }
    });
    s.on(P.QUEUE_SNAPSHOT, (data) => this.onSnapshot(data));
    s.on(P.HANDOFF_QUEUED, (data) => this.onHandoffQueued(data));
    s.on(P.ASSIGNED, (data) => this.onAssigned(data));
    s.on(P.CUSTOMER_MESSAGE, (data) => this.onMessage(data));
    s.on(P.CONVERSATION_MESSAGE, (data) => this.onMessage(data));
    s.on(P.NOTE_ADDED, (data) => this.onNote(data));
    s.on(P.TYPING, (data) => this.onTyping(data));
    s.on(P.CONVERSATION_UPDATED, (data) => this.onUpdated(data));
    s.on(P.CONVERSATION_REMOVED, (data) => this.onRemoved(data));
    s.on(P.SLA_WARNING, (data) => this.toast(`SLA warning: ${this.nameOf(data.conversation_id)} must be picked up soon.`, "warn"));
    s.on(P.SLA_BREACHED, (data) => this.toast(`SLA breached: ${this.nameOf(data.conversation_id)}.`, "error"));
    s.on(P.STALE_ALERT, (data) => this.toast(`Stale ${data.tier.toUpperCase()} case: ${this.nameOf(data.conversation_id)}.`, "warn"));
    s.on(P.ERROR, (data) => data && data.message && this.toast(data.message, "error"));
  }

  /** Emit with an ack; resolves with the ack, rejects with the server's reason. */
  emit(event, payload) {
    return new Promise((resolve, reject) => {
      if (!this.socket || !this.socket.connected) {
        reject(new Error("Not connected to the gateway; retrying…"));
        return;
      }
      this.socket.timeout(ACK_TIMEOUT_MS).emit(event, payload, (err, ack) => {
        if (err) reject(new Error("The gateway did not answer in time."));
        else if (ack && ack.error) reject(new Error(ack.error));
        else resolve(ack || {});
      });
    });
  }

  nameOf(conversationId) {
    const found =
      this.snapshot.queue.find((q) => q.conversation_id === conversationId) ||
      this.mine.find((c) => c.id === conversationId);
    return customerLabel(found && found.customer_name, conversationId);
  }

  // ------------------------------------------------------------------ lists

  onSnapshot(data) {
    if (!data) return;
    this.snapshot = { queue: data.queue || [], live: data.live || [], l3: data.l3 || [], agents: data.agents || [] };
    const me = this.snapshot.agents.find((a) => a.id === this.agent.id);
    if (me && me.status !== "offline") this.renderPresence(me.status);
    this.renderLists();
  }

  /** The gateway pushes the queue on every change; bot conversations change all the time, so poll those. */
  requestSnapshot() {
    this.emit(P.SNAPSHOT_REQUEST, {}).catch(() => {});
  }

  async refreshMine() {
    try {
      const [assigned, escalated] = await Promise.all([this.api.conversations("assigned"), this.api.conversations("escalated_l3")]);
      this.mine = [...assigned.conversations, ...escalated.conversations].filter((c) => c.assigned_agent_id === this.agent.id);
      this.renderLists();
    } catch (e) {
      if (e.status === 401) this.logout("Your session expired; please sign in again.");
    }
  }

  scheduleRefresh() {
    window.clearTimeout(this.refreshTimer);
    this.refreshTimer = window.setTimeout(() => {
      this.refreshMine();
      if (this.current) this.reloadCurrent();
    }, 250);
  }

  renderLists() {
    const { queue, live, l3, agents } = this.snapshot;
    this.queueCount.textContent = String(queue.length);
    clear(this.queueList);
    if (!queue.length) this.queueList.append(el("li", { class: "list__empty", text: "Queue is empty." }));
    for (const item of queue) {
      const open = () => this.openConversation(item.conversation_id);
      this.queueList.append(
        el(
          "li",
          { class: `qitem qitem--${item.priority}${this.isCurrent(item.conversation_id) ? " is-current" : ""}`, data: { id: item.conversation_id } },
          el(
            "button",
            { type: "button", class: "qitem__open", on: { click: open } },
            el("span", { class: "qitem__top" }, priorityChip(item.priority), reasonBadge(item.reason)),
            el(
              "span",
              { class: "qitem__meta" },
              el("span", { class: "qitem__name", text: customerLabel(item.customer_name, item.conversation_id) }),
              slaNode(item.sla_deadline, null),
            ),
            el("span", { class: "qitem__problem", text: item.problem || "" }),
          ),
          el("button", {
            type: "button",
            class: "btn btn--primary btn--small qitem__claim",
            text: "Claim",
            "aria-label": `Claim conversation with ${customerLabel(item.customer_name, item.conversation_id)}`,
            on: { click: () => this.claim(item.conversation_id) },
          }),
        ),
      );
    }
    clear(this.mineList);
    if (!this.mine.length) this.mineList.append(el("li", { class: "list__empty", text: "Nothing assigned to you." }));
    for (const c of this.mine) {
      this.mineList.append(
        el(
          "li",
          { class: this.isCurrent(c.id) ? "is-current" : "" },
          el(
            "button",
            { type: "button", class: "litem", on: { click: () => this.openConversation(c.id) } },
            el("span", { class: "litem__name", text: customerLabel(c.customer_name, c.id) }),
            stateChip(c.state),
          ),
        ),
      );
    }
    this.l3Section.hidden = !l3.length;
    clear(this.l3List);
    for (const c of l3) {
      this.l3List.append(
        el(
          "li",
          {},
          el(
            "button",
            { type: "button", class: "litem", on: { click: () => this.openConversation(c.id) } },
            el("span", { class: "litem__name", text: customerLabel(c.customer_name, c.id) }),
            el("span", { class: "muted", text: ago(c.updated_at) }),
          ),
        ),
      );
    }
    clear(this.liveList);
    if (!live.length) this.liveList.append(el("li", { class: "list__empty", text: "No live bot conversations." }));
    for (const c of live) {
      this.liveList.append(
        el(
          "li",
          { class: this.isCurrent(c.id) ? "is-current" : "" },
          el(
            "button",
            { type: "button", class: "litem", "aria-label": `Watch ${customerLabel(c.customer_name, c.id)}`, on: { click: () => this.openConversation(c.id) } },
            el("span", { class: "litem__name", text: customerLabel(c.customer_name, c.id) }),
            el("span", { class: "muted", text: `${c.last_seq} msgs · ${ago(c.updated_at)}` }),
            el("span", { class: "watch", text: "Watch" }),
          ),
        ),
      );
    }
    clear(this.teamList);
    for (const a of agents) {
      this.teamList.append(
        el(
          "li",
          {},
          el("span", { class: `dot dot--${a.status}`, "aria-hidden": "true" }),
          el("span", {}, el("bdi", { text: a.name }), a.id === this.agent.id ? " (you)" : ""),
          el("span", { class: "muted", text: `${a.status} · ${a.load}/${a.capacity}` }),
        ),
      );
    }
  }

  isCurrent(id) {
    return Boolean(this.current && this.current.id === id);
  }

  tick() {
    for (const node of this.root.querySelectorAll(".sla[data-deadline]")) updateSla(node);
  }

  // ------------------------------------------------------------------ notifications

  onHandoffQueued(data) {
    if (!data || data.handoff?.reason === "barge_in") return;
    const summary = data.summary || {};
    const who = customerLabel(summary.customer && summary.customer.name, data.conversation_id);
    this.notifier.flash("New hand-off");
    this.notifier.chime();
    this.toast(`New hand-off: ${who} — ${summary.problem || data.handoff?.reason || ""}`, "new");
  }

  onAssigned(data) {
    if (!data) return;
    this.refreshMine();
    const detail = data.conversation;
    if (data.by !== "claim") {
      const who = customerLabel(detail && detail.conversation && detail.conversation.customer_name, data.conversation_id);
      this.notifier.flash("Assigned to you");
      this.notifier.chime();
      this.toast(`Assigned to you (${data.by === "transfer" ? "transfer" : "auto"}): ${who}${data.note ? ` — note: ${data.note}` : ""}`, "new");
    }
    if (!this.current || this.current.id === data.conversation_id || data.by === "claim") {
      this.openConversation(data.conversation_id);
    }
  }

  // ------------------------------------------------------------------ conversation

  isMine(detail) {
    const c = detail && detail.conversation;
    return Boolean(c && c.assigned_agent_id === this.agent.id && (c.state === "assigned" || c.state === "escalated_l3"));
  }

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
  }

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

  /** Render (or re-render in place) the open conversation; the composer survives re-renders while it fits. */
  renderConversation(detail) {
    const conv = detail.conversation;
    this.current.detail = detail;
    this.current.seqs = new Set(detail.messages.map((m) => m.seq));
    const mine = this.isMine(detail);
    const handoffs = detail.handoffs || [];
    const latest = handoffs[handoffs.length - 1] || null;
    const flagged = Boolean(
      latest && (detail.events || []).some((e) => e.type === "context_loss" && e.data && e.data.handoff_id === latest.id),
    );

    if (!this.view || this.view.id !== conv.id) {
      this.transcript = el("div", { class: "transcript", role: "log", "aria-live": "polite", "aria-label": "Transcript", tabindex: "0" });
      this.typingLine = el("p", { class: "typing-line", hidden: true, text: "Customer is typing…" });
      this.view = {
        id: conv.id,
        header: el("header", { class: "conv__head" }),
        summary: el("div", { class: "summary-slot" }),
        composer: null,
        composerKey: null,
      };
      clear(this.main).append(this.view.header, this.view.summary, this.transcript, this.typingLine);
    }

    const actions = el("div", { class: "actions", role: "toolbar", "aria-label": "Conversation actions" });
    const add = (label, handler, cls = "btn--ghost") =>
      actions.append(el("button", { type: "button", class: `btn ${cls}`, text: label, on: { click: handler } }));
    // Only what handoff/access.py lets this agent do: L3 agents claim L3 escalations, L2 agents the queue,
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

    clear(this.view.summary);
    if (latest && latest.summary) {
      const onFlag = mine ? (button) => this.flag(conv.id, button) : null;
      this.view.summary.append(summaryCard(latest.summary, latest, flagged, onFlag));
    }

    const atBottom = this.transcript.scrollHeight - this.transcript.scrollTop - this.transcript.clientHeight < 40;
    clear(this.transcript);
    const nlu = nluByMessage(detail.messages, handoffs);
    const titles = buttonTitles(detail.messages);
    for (const m of detail.messages) this.transcript.append(messageNode(m, nlu.get(m.seq), titles));
    if (!detail.messages.length) this.transcript.append(el("p", { class: "muted", text: "No messages yet." }));
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
  }

  composer(conv, mine, draft) {
    const canReply = mine;
    const canNote = true;
    this.mode = canReply ? "reply" : "note";
    this.input = el("textarea", {
      id: "composer-input",
      class: "composer__input",
      rows: "3",
      maxlength: "4000",
      "aria-label": "Message",
      on: {
        keydown: (e) => {
          if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
            e.preventDefault();
            form.requestSubmit();
          }
        },
        input: () => this.agentTyping(),
      },
    });
    this.input.value = draft;
    const replyTab = el("button", { type: "button", role: "tab", class: "tab", id: "tab-reply", text: "Reply to customer", disabled: !canReply });
    const noteTab = el("button", { type: "button", role: "tab", class: "tab", id: "tab-note", text: "Private note", disabled: !canNote });
    const canned = el(
      "select",
      { class: "canned", "aria-label": "Insert a canned reply", disabled: !canReply },
      el("option", { value: "", text: "Canned replies…" }),
      this.groupCanned(),
    );
    canned.addEventListener("change", () => {
      const reply = this.canned.find((r) => String(r.id) === canned.value);
      if (reply) {
        this.setMode("reply");
        this.input.value = this.input.value ? `${this.input.value.trimEnd()} ${reply.text}` : reply.text;
        this.input.focus();
      }
      canned.value = "";
    });
    const send = el("button", { type: "submit", class: "btn btn--primary", id: "composer-send", text: "Send" });
    const hint = el("p", {
      class: "composer__hint",
      text: canReply
        ? "Enter sends, Shift+Enter for a new line."
        : conv.state === "bot"
          ? "The bot is handling this conversation. Take over to reply; notes stay private."
          : "Claim the conversation to reply. Notes stay private.",
    });
    const form = el(
      "form",
      { class: "composer", on: { submit: (e) => this.onCompose(e) } },
      el("div", { class: "composer__bar", role: "tablist", "aria-label": "Composer mode" }, replyTab, noteTab, el("span", { class: "topbar__spacer" }), canned),
      this.input,
      el("div", { class: "composer__foot" }, hint, send),
    );
    this.composerForm = form;
    this.tabs = { reply: replyTab, note: noteTab, send };
    replyTab.addEventListener("click", () => this.setMode("reply"));
    noteTab.addEventListener("click", () => this.setMode("note"));
    this.setMode(this.mode);
    return form;
  }

  groupCanned() {
    const teams = [...new Set(this.canned.map((r) => r.team))];
    return teams.map((team) =>
      el(
        "optgroup",
        { label: team },
        this.canned.filter((r) => r.team === team).map((r) => el("option", { value: String(r.id), text: r.title })),
      ),
    );
  }

  setMode(mode) {
    this.mode = mode;
    const note = mode === "note";
    this.tabs.reply.setAttribute("aria-selected", note ? "false" : "true");
    this.tabs.note.setAttribute("aria-selected", note ? "true" : "false");
    this.composerForm.classList.toggle("composer--note", note);
    this.input.placeholder = note ? "Private note: only agents see this" : "Write to the customer…";
    this.tabs.send.textContent = note ? "Add note" : "Send";
  }

  agentTyping() {
    if (this.mode !== "reply" || !this.current || !this.isMine(this.current.detail)) return;
    const id = this.current.id;
    if (!this.typingSent) {
      this.typingSent = true;
      this.emit(P.TYPING, { conversation_id: id, on: true }).catch(() => {});
    }
    window.clearTimeout(this.typingTimer);
    this.typingTimer = window.setTimeout(() => this.stopTyping(id), TYPING_IDLE_MS);
  }

  /** Typing stopped; `silent` when the message goes out (the widget clears the indicator on the message). */
  stopTyping(id, silent = false) {
    window.clearTimeout(this.typingTimer);
    if (this.typingSent && id && !silent) this.emit(P.TYPING, { conversation_id: id, on: false }).catch(() => {});
    this.typingSent = false;
  }

  async onCompose(e) {
    e.preventDefault();
    const text = this.input.value.trim();
    if (!text || !this.current) return;
    const id = this.current.id;
    this.tabs.send.disabled = true;
    try {
      if (this.mode === "note") {
        await this.emit(P.NOTE, { conversation_id: id, text });
      } else {
        this.stopTyping(id, true);
        await this.emit(P.AGENT_MESSAGE, { conversation_id: id, text, client_id: clientId("a") });
      }
      this.input.value = "";
    } catch (err) {
      this.toast(err.message, "error");
    } finally {
      this.tabs.send.disabled = false;
      this.input.focus();
    }
  }

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
  }

  onNote(data) {
    if (!data || !this.current || data.conversation_id !== this.current.id || !this.notes) return;
    const empty = this.notes.querySelector(".list__empty");
    if (empty) empty.remove();
    this.notes.append(noteNode(data.note, data.agent_name));
  }

  onTyping(data) {
    if (!data || !this.current || data.conversation_id !== this.current.id || data.from !== "customer") return;
    this.showCustomerTyping(Boolean(data.on));
  }

  showCustomerTyping(on) {
    if (!this.typingLine) return;
    this.typingLine.hidden = !on;
    window.clearTimeout(this.customerTypingTimer);
    if (on) this.customerTypingTimer = window.setTimeout(() => (this.typingLine.hidden = true), 6000);
  }

  /** Someone else (a lead) moved one of my conversations away: the gateway took it off my sockets. */
  onRemoved(data) {
    if (!data) return;
    const id = data.conversation_id;
    const who = this.nameOf(id);
    this.mine = this.mine.filter((c) => c.id !== id);
    this.renderLists();
    if (data.by_agent_id === this.agent.id) return; // my own action: its handler re-watches what it closed
    this.toast(`${data.by} moved ${who} off your list (${data.state}).`, "warn");
    if (this.isCurrent(id)) {
      // Still on screen: follow it if I may still read it (my team's), else the refresh closes it.
      this.current.watching = false;
      this.rewatch(id).then(() => this.scheduleRefresh());
    } else {
      this.emit(P.UNWATCH, { conversation_id: id }).catch(() => {});
    }
  }

  onUpdated(data) {
    if (!data) return;
    if (this.current && data.conversation_id === this.current.id) this.scheduleRefresh();
    else if (this.mine.some((c) => c.id === data.conversation_id)) this.scheduleRefresh();
  }

  // ------------------------------------------------------------------ actions

  async claim(id) {
    try {
      await this.emit(P.CLAIM, { conversation_id: id });
      this.toast("Conversation claimed. The customer sees you joined.", "ok");
    } catch (e) {
      this.toast(`Could not claim: ${e.message}`, "error");
    }
  }

  async bargeIn(id) {
    try {
      await this.emit(P.BARGE_IN, { conversation_id: id });
      this.toast("You took over from the bot.", "ok");
    } catch (e) {
      this.toast(`Could not take over: ${e.message}`, "error");
    }
  }

  async flag(id, button) {
    try {
      await this.emit(P.FLAG_CONTEXT_LOSS, { conversation_id: id });
      button.textContent = "Flagged: had to ask again";
      button.disabled = true;
      button.classList.add("is-flagged");
      button.setAttribute("aria-pressed", "true");
      this.toast("Flagged: the summary missed something. Thanks, this feeds the context-loss metric.", "ok");
    } catch (e) {
      this.toast(e.message, "error");
    }
  }

  transfer(id) {
    transferDialog({
      agents: this.snapshot.agents,
      me: this.agent,
      submit: async (payload) => {
        await this.emit(P.TRANSFER, { conversation_id: id, ...payload });
        this.toast("Transferred.", "ok");
        this.scheduleRefresh();
      },
    });
  }

  escalate(id, detail) {
    const created = (detail.handoffs || []).map((h) => h.created_at).filter(Boolean);
    const codes = ((detail.handoffs || []).at(-1)?.summary?.entities || {}).error_code || [];
    escalateDialog({
      defaults: { timestamps: created.length ? `Handed off at ${created.at(-1)}` : "", logs: codes.join(", ") },
      submit: async (fields) => {
        await this.emit(P.ESCALATE_L3, { conversation_id: id, ...fields });
        this.toast("Escalated to L3.", "ok");
        this.scheduleRefresh();
      },
    });
  }

  resolve(id) {
    resolveDialog({
      submit: async (payload) => {
        await this.emit(P.RESOLVE, { conversation_id: id, ...payload });
        this.toast("Resolved. The customer is asked for a rating.", "ok");
        await this.rewatch(id);
        this.scheduleRefresh();
      },
    });
  }

  /** Keep following a conversation I just closed or handed back (the customer's rating, the bot's reply). */
  async rewatch(id) {
    try {
      await this.emit(P.WATCH, { conversation_id: id });
      if (this.isCurrent(id)) this.current.watching = true;
    } catch {
      // Not ours to follow any more: nothing to show.
    }
  }

  handback(id) {
    handbackDialog({
      submit: async (payload) => {
        await this.emit(P.HANDBACK, { conversation_id: id, ...payload });
        this.toast("Handed back to the bot.", "ok");
        await this.rewatch(id);
        this.scheduleRefresh();
      },
    });
  }
}

new Console(document.getElementById("app")).start();

// The customer chat widget: one <script src=".../widget.js"> tag, then
//   HelpdeskWidget.init({ url, customer: { id, email, name, signature }, title, greeting })
// It speaks the gateway's Socket.IO protocol (Rasa socketio plus additive events, see src/shared/protocol.js).
import { io } from "socket.io-client";

import { append, clear, clientId, el, formatTime, plain, richText, safeHttpUrl } from "../shared/dom.js";
import * as P from "../shared/protocol.js";
import { WidgetStore } from "./store.js";
import css from "./widget.css";

const MAX_MESSAGE_BYTES = 4096; // the gateway's default HANDOFF_MAX_MESSAGE_BYTES
const ACK_TIMEOUT_MS = 10000;
const TYPING_IDLE_MS = 1500;
const CSAT_PREFIX = "/csat";
const SVG_NS = "http://www.w3.org/2000/svg";

const STARTERS = ["I forgot my password", "A question about my invoice", "Talk to a person"];

function icon(paths, size = 22) {
  const svg = document.createElementNS(SVG_NS, "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("width", String(size));
  svg.setAttribute("height", String(size));
  svg.setAttribute("aria-hidden", "true");
  svg.setAttribute("focusable", "false");
  for (const d of paths) {
    const path = document.createElementNS(SVG_NS, "path");
    path.setAttribute("d", d);
    svg.append(path);
  }
  return svg;
}

const ICON_CHAT = ["M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H9l-5 4v-4H4a2 2 0 0 1-2-2V6a2 2 0 0 1 2-2z"];
const ICON_CLOSE = ["M6.4 5 5 6.4 10.6 12 5 17.6 6.4 19l5.6-5.6 5.6 5.6 1.4-1.4-5.6-5.6L19 6.4 17.6 5 12 10.6z"];
const ICON_SEND = ["M3 20.5 21 12 3 3.5v6.6l12 1.9-12 1.9z"];

function byteLength(text) {
  return new TextEncoder().encode(text).length;
}

function senderOf(message) {
  return message.sender || (message.metadata && message.metadata.sender) || "bot";
}

function waitText(seconds) {
  const minutes = Math.max(1, Math.round((Number(seconds) || 0) / 60));
  return `about ${minutes} min`;
}

class Widget {
  constructor(options) {
    if (!options || typeof options.url !== "string") throw new Error("HelpdeskWidget.init: `url` is required");
    this.url = options.url.replace(/\/+$/, "");
    this.customer = options.customer && options.customer.id ? options.customer : null;
    this.title = options.title || "Support";
    this.greeting =
      options.greeting || "Hi! I'm the virtual assistant. I can help with passwords, your account and billing.";
    this.store = new WidgetStore(this.url, this.customer && this.customer.id);
    this.sessionId = this.store.sessionId;
    this.messages = new Map(); // seq -> message
    this.ids = new Set();
    this.lastSeq = 0;
    this.replyTitles = new Map(); // quick-reply payload -> title (a button press shows its title)
    this.pending = new Map(); // client_id -> { text, display, node, status }
    this.state = "bot";
    this.agentName = null;
    this.ready = false;
    this.isOpen = false;
    this.unread = 0;
    this.flushing = false;
    this.typingTimer = null;
    this.typingSent = false;
    this.liveAfterHistory = false;
    this.build();
    for (const item of this.store.outbox) this.renderPending(item, "queued");
    this.connect();
  }

  // ------------------------------------------------------------------ DOM

  build() {
    this.host = el("div", { class: "helpdesk-widget-host", "data-helpdesk-widget": "" });
    const shadow = this.host.attachShadow({ mode: "open" });
    shadow.append(el("style", { text: css }));

    this.badge = el("span", { class: "hw-badge", "aria-hidden": "true", hidden: true });
    this.launcher = el(
      "button",
      {
        class: "hw-launcher",
        type: "button",
        "aria-expanded": "false",
        "aria-controls": "hw-panel",
        "aria-label": `Open chat with ${this.title}`,
        on: { click: () => this.toggle() },
      },
      el("span", { class: "hw-launcher__icon hw-launcher__icon--chat" }, icon(ICON_CHAT, 26)),
      el("span", { class: "hw-launcher__icon hw-launcher__icon--close" }, icon(ICON_CLOSE, 26)),
      this.badge,
    );

    this.subtitle = el("p", { class: "hw-subtitle", id: "hw-subtitle", text: "Virtual assistant" });
    this.avatar = el("div", { class: "hw-avatar", "aria-hidden": "true", text: this.title.slice(0, 1) });
    const header = el(
      "header",
      { class: "hw-header" },
      this.avatar,
      el("div", { class: "hw-heading" }, el("h2", { id: "hw-title", text: this.title }), this.subtitle),
      el(
        "button",
        { class: "hw-icon-button", type: "button", "aria-label": "Close chat", on: { click: () => this.close() } },
        icon(ICON_CLOSE),
      ),
    );

    this.connBanner = el("div", { class: "hw-banner hw-banner--conn", role: "status", hidden: true });
    this.queueBanner = el("div", { class: "hw-banner hw-banner--queue", role: "status", hidden: true });
    this.log = el("div", {
      class: "hw-log",
      id: "hw-log",
      role: "log",
      "aria-live": "polite",
      "aria-relevant": "additions text",
      "aria-label": "Conversation",
      tabindex: "0",
    });
    this.welcome = el(
      "div",
      { class: "hw-welcome" },
      el("p", { class: "hw-welcome__text", text: this.greeting }),
      el(
        "div",
        { class: "hw-chips", role: "group", "aria-label": "Common questions" },
        STARTERS.map((text) =>
          el("button", { type: "button", class: "hw-chip", text, on: { click: () => this.send(text) } }),
        ),
      ),
    );
    this.log.append(this.welcome);
    this.typing = el(
      "div",
      { class: "hw-typing", hidden: true, "aria-hidden": "true" },
      el("span", { class: "hw-dots" }, el("span"), el("span"), el("span")),
      el("span", { class: "hw-typing__text" }),
    );
    this.replies = el("div", { class: "hw-replies", role: "group", "aria-label": "Suggested replies", hidden: true });
    this.csat = el("div", { class: "hw-csat-slot", hidden: true });
    this.input = el("textarea", {
      id: "hw-input",
      class: "hw-input",
      rows: "1",
      maxlength: "4000",
      placeholder: "Type your message…",
      "aria-label": "Type your message",
      autocomplete: "off",
      on: {
        keydown: (e) => this.onKeydown(e),
        input: () => this.onInput(),
      },
    });
    this.composerError = el("p", { class: "hw-composer__error", role: "alert", hidden: true });
    this.composer = el(
      "form",
      { class: "hw-composer", on: { submit: (e) => this.onSubmit(e) } },
      this.input,
      el("button", { class: "hw-send", type: "submit", "aria-label": "Send message" }, icon(ICON_SEND)),
    );
    this.panel = el(
      "section",
      {
        class: "hw-panel",
        id: "hw-panel",
        role: "dialog",
        "aria-labelledby": "hw-title",
        "aria-describedby": "hw-subtitle",
        hidden: true,
        on: { keydown: (e) => e.key === "Escape" && this.close() },
      },
      header,
      this.connBanner,
      this.queueBanner,
      this.log,
      this.typing,
      this.replies,
      this.csat,
      this.composerError,
      this.composer,
      el("p", { class: "hw-footer", text: "Chats are recorded to help us support you." }),
    );
    shadow.append(el("div", { class: "hw-root" }, this.panel, this.launcher));
    document.body.append(this.host);
  }

  toggle() {
    if (this.isOpen) this.close();
    else this.open();
  }

  open() {
    this.isOpen = true;
    this.panel.hidden = false;
    this.launcher.setAttribute("aria-expanded", "true");
    this.launcher.setAttribute("aria-label", `Close chat with ${this.title}`);
    this.launcher.classList.add("hw-launcher--open");
    this.setUnread(0);
    this.scrollToEnd();
    this.input.focus();
  }

  close() {
    this.isOpen = false;
    this.panel.hidden = true;
    this.launcher.setAttribute("aria-expanded", "false");
    this.launcher.classList.remove("hw-launcher--open");
    this.setUnread(this.unread);
    this.launcher.focus();
  }

  setUnread(count) {
    this.unread = count;
    this.badge.hidden = count === 0;
    this.badge.textContent = count > 9 ? "9+" : String(count);
    if (!this.isOpen) {
      const unread = count ? `, ${count} unread ${count === 1 ? "message" : "messages"}` : "";
      this.launcher.setAttribute("aria-label", `Open chat with ${this.title}${unread}`);
    }
  }

  scrollToEnd() {
    this.log.scrollTop = this.log.scrollHeight;
  }

  // ------------------------------------------------------------------ connection

  connect() {
    this.socket = io(this.url, {
      transports: ["websocket", "polling"],
      reconnectionDelay: 500,
      reconnectionDelayMax: 4000,
    });
    const s = this.socket;
    s.on("connect", () => this.onConnect());
    s.on("disconnect", () => {
      this.ready = false;
      this.showTyping(null);
      this.setConnection("Connection lost. Reconnecting… Messages you type will be sent when it returns.");
    });
    s.on("connect_error", () => {
      this.setConnection("Can't reach support right now. Retrying… Messages you type will be sent later.");
    });
    s.on(P.SESSION_CONFIRM, (id) => this.onSessionConfirm(id));
    s.on(P.CONVERSATION_STATE, (data) => data && this.setState(data.state));
    s.on(P.HISTORY, (data) => {
      for (const m of (data && data.messages) || []) this.addMessage(m, false);
      this.refreshReplies();
      this.scrollToEnd();
    });
    s.on(P.BOT_UTTERED, (m) => {
      this.addMessage(m, true);
      this.refreshReplies();
    });
    s.on(P.TYPING, (data) => this.showTyping(data && data.on ? data.from : null));
    s.on(P.AGENT_JOINED, (data) => {
      this.agentName = plain((data && data.name) || "An agent");
      this.renderHeader();
    });
    s.on(P.AGENT_LEFT, (data) => {
      const name = (data && data.name) || "The agent";
      this.agentName = null;
      this.notice([el("bdi", { text: name }), " left the conversation."]);
      this.renderHeader();
    });
    s.on(P.QUEUE_UPDATE, (data) => this.showQueue(data));
    s.on(P.ERROR, (data) => {
      if (data && data.code === "rate_limited") this.showComposerError("You're sending messages very fast; please wait a moment.");
    });
    this.onlineHandler = () => this.socket && !this.socket.connected && this.socket.connect();
    this.offlineHandler = () => {
      // The browser knows before the socket's ping timeout does: go offline now, queue what is typed.
      if (this.socket && this.socket.connected) this.socket.disconnect();
      this.ready = false;
      this.setConnection("You're offline. Messages you type will be sent when the connection returns.");
    };
    window.addEventListener("online", this.onlineHandler);
    window.addEventListener("offline", this.offlineHandler);
  }

  onConnect() {
    this.ready = false;
    this.setConnection(null);
    const request = { session_id: this.sessionId, last_seq: this.lastSeq };
    this.socket.timeout(ACK_TIMEOUT_MS).emit(P.SESSION_REQUEST, request, (err, ack) => {
      if (err || !ack || ack.error) return; // the socket reconnects and asks again
      this.onSessionConfirm(ack.session_id);
      this.ready = true;
      this.flushOutbox();
    });
  }

  onSessionConfirm(id) {
    if (typeof id !== "string" || !id) return;
    if (this.sessionId && id !== this.sessionId) {
      // The old session is unknown to the server (expired database, another site): start clean.
      this.resetConversation();
    }
    this.sessionId = id;
    this.store.sessionId = id;
  }

  resetConversation() {
    this.messages.clear();
    this.ids.clear();
    this.lastSeq = 0;
    for (const node of [...this.log.querySelectorAll("[data-seq], .hw-notice--local")]) node.remove();
    this.welcome.hidden = false;
    this.refreshReplies();
  }

  setConnection(text) {
    this.connBanner.hidden = !text;
    this.connBanner.textContent = text || "";
  }

  destroy() {
    window.removeEventListener("online", this.onlineHandler);
    window.removeEventListener("offline", this.offlineHandler);
    if (this.socket) this.socket.disconnect();
    this.socket = null;
    this.host.remove();
  }

  // ------------------------------------------------------------------ state

  setState(state) {
    if (typeof state !== "string") return;
    this.state = state;
    if (state !== "assigned") this.agentName = state === "escalated_l3" ? this.agentName : null;
    if (state !== "queued") this.showQueue(null);
    else if (this.queueBanner.hidden) this.showQueue({});
    this.renderHeader();
    this.refreshCsat();
  }

  renderHeader() {
    let subtitle = "Virtual assistant · replies instantly";
    let avatar = this.title.slice(0, 1);
    if (this.agentName && (this.state === "assigned" || this.state === "escalated_l3")) {
      subtitle = `${this.agentName} · Support agent`;
      avatar = this.agentName.slice(0, 1);
    } else if (this.state === "queued") {
      subtitle = "Connecting you to a person…";
    } else if (this.state === "escalated_l3") {
      subtitle = "With our engineering team";
    } else if (this.state === "resolved") {
      subtitle = "Conversation resolved";
    }
    // The agent's name is isolated (<bdi>): whatever script it is in, " · Support agent" stays where it belongs.
    const named = this.agentName && subtitle.startsWith(`${this.agentName} · `);
    append(clear(this.subtitle), named ? [el("bdi", { text: this.agentName }), subtitle.slice(this.agentName.length)] : [subtitle]);
    this.avatar.textContent = avatar.toUpperCase();
    this.avatar.classList.toggle("hw-avatar--agent", Boolean(this.agentName));
  }

  showQueue(data) {
    if (!data) {
      this.queueBanner.hidden = true;
      this.queueBanner.textContent = "";
      return;
    }
    const parts = ["Connecting you to a person…"];
    if (Number.isInteger(data.position) && data.position > 0) {
      parts.push(`You are #${data.position} in the queue, ${waitText(data.estimated_wait_seconds)}.`);
    }
    this.queueBanner.hidden = false;
    clear(this.queueBanner).append(
      el("span", { class: "hw-spinner", "aria-hidden": "true" }),
      el("span", { class: "hw-queue__text", text: parts.join(" ") }),
    );
  }

  showTyping(from) {
    if (!from || from === "customer") {
      this.typing.hidden = true;
      return;
    }
    const who = from === "agent" ? this.agentName || "The agent" : "The assistant";
    clear(this.typing.querySelector(".hw-typing__text")).append(el("bdi", { text: who }), " is typing…");
    this.typing.hidden = false;
    this.scrollToEnd();
  }

  // ------------------------------------------------------------------ messages

  addMessage(raw, live) {
    if (!raw || typeof raw !== "object") return;
    const seq = Number.isInteger(raw.seq) ? raw.seq : null;
    if (seq !== null && this.messages.has(seq)) return; // replayed or re-sent: shown once
    if (raw.id && this.ids.has(raw.id)) return;
    const message = { ...raw, sender: senderOf(raw) };
    if (seq !== null) {
      this.messages.set(seq, message);
      this.lastSeq = Math.max(this.lastSeq, seq);
    }
    if (raw.id) this.ids.add(raw.id);
    for (const reply of message.quick_replies || []) {
      if (reply && typeof reply.payload === "string") this.replyTitles.set(reply.payload, String(reply.title || ""));
    }
    if (message.sender !== "customer") this.showTyping(null);
    const node = this.renderMessage(message);
    this.insert(node, seq);
    this.welcome.hidden = true;
    if (live && message.sender !== "customer" && !this.isOpen) this.setUnread(this.unread + 1);
    this.scrollToEnd();
  }

  insert(node, seq) {
    if (seq === null) {
      this.log.append(node);
      return;
    }
    node.dataset.seq = String(seq);
    const after = [...this.log.querySelectorAll("[data-seq]")].find((n) => Number(n.dataset.seq) > seq);
    const firstPending = this.log.querySelector("[data-pending]");
    this.log.insertBefore(node, after || firstPending || null);
  }

  renderMessage(m) {
    const sender = m.sender;
    const text = typeof m.text === "string" ? m.text : "";
    if (sender === "system") {
      return el("div", { class: "hw-notice", role: "note" }, el("span", { class: "hw-sr", text: "Notice: " }), richText(text));
    }
    const label =
      sender === "customer" ? "You" : sender === "agent" ? (m.metadata && m.metadata.agent_name) || "Agent" : "Assistant";
    const shown = sender === "customer" && this.replyTitles.has(text) ? this.replyTitles.get(text) : text;
    const bubble = el("div", { class: "hw-bubble", dir: "auto" }); // dir=auto also isolates (HTML's [dir] rule)
    if (shown) bubble.append(richText(shown));
    const attachment = this.renderAttachment(m.attachment);
    if (attachment) bubble.append(attachment);
    return el(
      "div",
      { class: `hw-msg hw-msg--${sender}`, data: { sender } },
      el(
        "div",
        { class: "hw-msg__who" },
        sender === "bot" ? el("span", { class: "hw-tag", text: "Bot" }) : null,
        el(sender === "agent" ? "bdi" : "span", { class: sender === "customer" ? "hw-sr" : "", text: `${label}${sender === "customer" ? " said" : ""}` }),
      ),
      bubble,
      el("div", { class: "hw-msg__meta", text: formatTime(m.created_at) }),
    );
  }

  renderAttachment(attachment) {
    if (!attachment || typeof attachment !== "object") return null;
    const src = attachment.payload && safeHttpUrl(attachment.payload.src);
    if (attachment.type === "image" && src) {
      return el("img", { class: "hw-image", src, alt: "Image from support", loading: "lazy", referrerpolicy: "no-referrer" });
    }
    return null;
  }

  notice(text) {
    const node = el("div", { class: "hw-notice hw-notice--local", role: "note" }, text);
    this.log.insertBefore(node, this.log.querySelector("[data-pending]"));
    this.scrollToEnd();
  }

  lastMessage() {
    const seqs = [...this.messages.keys()];
    return seqs.length ? this.messages.get(Math.max(...seqs)) : null;
  }

  refreshReplies() {
    clear(this.replies);
    const last = this.lastMessage();
    const replies =
      last && last.sender !== "customer" && this.pending.size === 0
        ? (last.quick_replies || []).filter((r) => r && typeof r.payload === "string" && !r.payload.startsWith(CSAT_PREFIX))
        : [];
    for (const reply of replies) {
      const title = String(reply.title || reply.payload);
      this.replies.append(
        el("button", { type: "button", class: "hw-chip", text: title, on: { click: () => this.send(reply.payload, title) } }),
      );
    }
    this.replies.hidden = replies.length === 0;
    this.refreshCsat();
  }

  // ------------------------------------------------------------------ CSAT

  csatKey() {
    const seqs = [...this.messages.values()]
      .filter((m) => (m.quick_replies || []).some((r) => r && String(r.payload || "").startsWith(CSAT_PREFIX)))
      .map((m) => m.seq);
    return seqs.length ? `${this.sessionId}:${Math.max(...seqs)}` : `${this.sessionId}:resolved`;
  }

  refreshCsat() {
    const show = this.state === "resolved" && !this.store.rated.includes(this.csatKey());
    if (!show) {
      if (!this.csat.querySelector(".hw-csat__thanks")) {
        this.csat.hidden = true;
        clear(this.csat);
      }
      return;
    }
    if (this.csat.querySelector("form")) return;
    this.csat.hidden = false;
    clear(this.csat).append(this.csatForm());
  }

  csatForm() {
    const labels = ["Very poor", "Poor", "OK", "Good", "Great"];
    const error = el("p", { class: "hw-csat__error", role: "alert", hidden: true });
    const comment = el("textarea", { id: "hw-csat-comment", class: "hw-input hw-csat__comment", rows: "2", maxlength: "1000" });
    const form = el(
      "form",
      {
        class: "hw-csat",
        "aria-labelledby": "hw-csat-title",
        on: {
          submit: (e) => {
            e.preventDefault();
            const picked = form.querySelector("input[name=score]:checked");
            if (!picked) {
              error.textContent = "Please pick a score from 1 to 5.";
              error.hidden = false;
              return;
            }
            this.sendCsat(Number(picked.value), comment.value.trim(), form, error);
          },
        },
      },
      el("h3", { id: "hw-csat-title", class: "hw-csat__title", text: "How did we do?" }),
      el(
        "fieldset",
        { class: "hw-csat__scale" },
        el("legend", { class: "hw-sr", text: "Rate this conversation from 1 (very poor) to 5 (great)" }),
        labels.map((label, i) =>
          el(
            "label",
            { class: "hw-csat__option", title: label },
            el("input", { type: "radio", name: "score", value: String(i + 1), "aria-label": `${i + 1} (${label})` }),
            el("span", { class: "hw-csat__num", "aria-hidden": "true", text: String(i + 1) }),
          ),
        ),
      ),
      el("div", { class: "hw-csat__ends", "aria-hidden": "true" }, el("span", { text: "Very poor" }), el("span", { text: "Great" })),
      el("label", { for: "hw-csat-comment", class: "hw-csat__label", text: "Anything we could do better? (optional)" }),
      comment,
      error,
      el("button", { type: "submit", class: "hw-button", text: "Send feedback" }),
    );
    return form;
  }

  sendCsat(score, comment, form, error) {
    if (!this.socket || !this.ready) {
      error.textContent = "You're offline; please try again when the connection returns.";
      error.hidden = false;
      return;
    }
    const key = this.csatKey();
    form.querySelector("button[type=submit]").disabled = true;
    this.socket.timeout(ACK_TIMEOUT_MS).emit(P.CSAT, { score, comment }, (err, ack) => {
      if (err || !ack || ack.error) {
        form.querySelector("button[type=submit]").disabled = false;
        error.textContent = (ack && ack.error) || "We couldn't send your feedback; please try again.";
        error.hidden = false;
        return;
      }
      this.store.markRated(key);
      clear(this.csat).append(
        el("p", { class: "hw-csat__thanks", role: "status", text: `Thanks! You rated this conversation ${score}/5.` }),
      );
    });
  }

  // ------------------------------------------------------------------ sending

  onKeydown(e) {
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      this.composer.requestSubmit();
    }
  }

  onInput() {
    this.input.style.height = "auto";
    this.input.style.height = `${Math.min(this.input.scrollHeight, 120)}px`;
    this.composerError.hidden = true;
    if (!this.ready || this.state === "bot") return; // nobody reads typing in bot mode
    if (!this.typingSent) {
      this.typingSent = true;
      this.socket.emit(P.TYPING, { on: true });
    }
    clearTimeout(this.typingTimer);
    this.typingTimer = setTimeout(() => this.stopTyping(), TYPING_IDLE_MS);
  }

  /** Typing stopped; `silent` when a message goes out (the agent's console clears the indicator itself). */
  stopTyping(silent = false) {
    clearTimeout(this.typingTimer);
    if (this.typingSent && this.ready && !silent) this.socket.emit(P.TYPING, { on: false });
    this.typingSent = false;
  }

  onSubmit(e) {
    e.preventDefault();
    const text = this.input.value.trim();
    if (!text) return;
    if (byteLength(text) > MAX_MESSAGE_BYTES) {
      this.showComposerError("That message is too long; please split it into shorter ones.");
      return;
    }
    this.input.value = "";
    this.input.style.height = "auto";
    this.stopTyping(true);
    this.send(text);
  }

  showComposerError(text) {
    this.composerError.textContent = text;
    this.composerError.hidden = false;
  }

  /** Queue a message (payload `text`, shown as `display`) and send it when the session is ready. */
  send(text, display = null) {
    const item = { client_id: clientId("w"), text, display: display || null };
    this.store.outbox = [...this.store.outbox, item];
    this.renderPending(item, this.ready ? "sending" : "queued");
    this.replies.hidden = true;
    if (!this.isOpen) this.open();
    this.flushOutbox();
  }

  renderPending(item, status) {
    const node = el(
      "div",
      { class: "hw-msg hw-msg--customer", data: { sender: "customer", pending: item.client_id } },
      el("div", { class: "hw-msg__who" }, el("span", { class: "hw-sr", text: "You said" })),
      el("div", { class: "hw-bubble" }, richText(item.display || this.replyTitles.get(item.text) || item.text)),
      el("div", { class: "hw-msg__meta hw-msg__status" }),
    );
    this.pending.set(item.client_id, { ...item, node });
    this.log.append(node);
    this.welcome.hidden = true;
    this.setPendingStatus(item.client_id, status);
    this.scrollToEnd();
  }

  setPendingStatus(id, status, detail = "") {
    const entry = this.pending.get(id);
    if (!entry) return;
    entry.status = status;
    const text = { queued: "Waiting for connection…", sending: "Sending…", failed: `Not sent${detail ? `: ${detail}` : ""}` }[status];
    entry.node.querySelector(".hw-msg__status").textContent = text || "";
    entry.node.classList.toggle("hw-msg--queued", status === "queued");
    entry.node.classList.toggle("hw-msg--failed", status === "failed");
  }

  async flushOutbox() {
    if (this.flushing || !this.ready) return;
    this.flushing = true;
    try {
      for (const item of this.store.outbox) {
        if (!this.ready) break;
        this.setPendingStatus(item.client_id, "sending");
        const outcome = await this.emitMessage(item);
        if (outcome === "retry") {
          this.setPendingStatus(item.client_id, "queued");
          break; // keep the order: later messages wait for this one
        }
      }
    } finally {
      this.flushing = false;
    }
  }

  emitMessage(item) {
    const payload = { message: item.text, session_id: this.sessionId, client_id: item.client_id };
    if (this.customer) {
      payload.customData = {
        customer_id: this.customer.id,
        email: this.customer.email || "",
        name: this.customer.name || "",
        signature: this.customer.signature || "",
      };
    }
    return new Promise((resolve) => {
      this.socket.timeout(ACK_TIMEOUT_MS).emit(P.USER_UTTERED, payload, (err, ack) => {
        if (err || !ack) return resolve("retry");
        if (ack.error) {
          if (["rate_limited", "no_session", "session_mismatch", "internal_error"].includes(ack.code)) {
            if (ack.code === "rate_limited") setTimeout(() => this.flushOutbox(), 3000);
            return resolve("retry");
          }
          this.dropFromOutbox(item.client_id);
          this.setPendingStatus(item.client_id, "failed", ack.error);
          return resolve("failed");
        }
        this.acked(item, ack);
        resolve("sent");
      });
    });
  }

  dropFromOutbox(id) {
    this.store.outbox = this.store.outbox.filter((m) => m.client_id !== id);
  }

  acked(item, ack) {
    this.dropFromOutbox(item.client_id);
    const entry = this.pending.get(item.client_id);
    this.pending.delete(item.client_id);
    if (entry) entry.node.remove();
    // The acknowledged message joins the ordered list (once, even if a replay already brought it).
    this.addMessage({ id: ack.id, seq: ack.seq, sender: "customer", text: item.text, created_at: new Date().toISOString() }, false);
    this.refreshReplies();
  }
}

let instance = null;

/** Start the widget (a second call replaces the first). */
export function init(options) {
  if (instance) instance.destroy();
  instance = new Widget(options);
  return instance;
}

/** Remove the widget and close its connection. */
export function destroy() {
  if (instance) instance.destroy();
  instance = null;
}

export function open() {
  if (instance) instance.open();
}

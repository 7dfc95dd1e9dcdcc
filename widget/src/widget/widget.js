// One widget instance: ties the view, the message list, the connection, the outbox and the rating form together and
// keeps the conversation state (bot, queued, assigned, escalated_l3, resolved) and who is answering.
import { el, plain } from "../shared/dom.js";
import * as P from "../shared/protocol.js";
import { Connection } from "./connection.js";
import { Csat } from "./csat.js";
import { renderConnection, renderHeader, renderLauncher, renderQueue, renderTyping } from "./header.js";
import { MessageList } from "./messages.js";
import { Outbox } from "./outbox.js";
import { PanelState, WidgetStore } from "./store.js";
import { Strings } from "./strings.js";
import { buildView } from "./view.js";

const MAX_MESSAGE_BYTES = 4096; // the gateway's default HANDOFF_MAX_MESSAGE_BYTES
const TYPING_IDLE_MS = 1500;
// The starter questions are shown in the widget's language and sent in the bot's (English, see config.yml).
const STARTERS = [
  ["starterPassword", "I forgot my password"],
  ["starterInvoice", "A question about my invoice"],
  ["starterPerson", "Talk to a person"],
];

function byteLength(text) {
  return new TextEncoder().encode(text).length;
}

export class Widget {
  /**
   * `options` as checked by the API (index.js): url, customer, title, greeting, locale, strings, position,
   * launcherText. `emit(event, detail)` tells the host page. The panel comes back open if it was open; `restore`
   * { focus, quiet }: whether that moves the cursor into the chat, and whether it is news (an "open" event).
   */
  constructor(options, emit, restore = {}) {
    this.url = options.url.replace(/\/+$/, "");
    this.customer = options.customer || null;
    this.emit = emit;
    const overrides = { ...options.strings };
    if (options.greeting) overrides.greeting = options.greeting;
    if (options.launcherText) overrides.launcherText = options.launcherText;
    this.s = new Strings(options.locale, overrides);
    this.title = options.title || this.s.t("title");
    this.store = new WidgetStore(this.url, this.customer && this.customer.id);
    this.panelState = new PanelState(this.url);
    this.sessionId = this.store.sessionId;
    this.state = "bot";
    this.stateKnown = false; // the first state after (re)starting is a report, not a change: no events for it
    this.agent = null; // { name, seq }: who answers, and the newest message seq when we learned it
    this.isOpen = false;
    this.unread = 0;
    this.typingTimer = null;
    this.typingSent = false;

    const starters = STARTERS.map(([key, payload]) => ({ title: this.s.t(key), payload }));
    const look = { title: this.title, position: options.position, launcherText: this.s.t("launcherText"), starters };
    this.v = buildView(this.s, look, {
      toggle: () => this.toggle(),
      close: () => this.close(),
      starter: (payload, title) => this.send(payload, title),
      keydown: (e) => this.onKeydown(e),
      input: () => this.onInput(),
      submit: (e) => this.onSubmit(e),
    });
    this.list = new MessageList(this.v, this.s, (payload, title) => this.send(payload, title));
    for (const starter of starters) this.list.knowTitle(starter.payload, starter.title);
    this.outbox = new Outbox(this);
    this.csat = new Csat(this);
    renderLauncher(this.v, this.s, this.title, false, 0);
    this.outbox.restore();
    this.connection = this.connect();
    if (this.panelState.open) this.open({ focus: restore.focus !== false, quiet: Boolean(restore.quiet), restored: true });
  }

  get agentName() {
    return this.agent ? this.agent.name : null;
  }

  connect() {
    return new Connection(this.url, {
      session: () => ({ session_id: this.sessionId, last_seq: this.list.lastSeq }),
      confirmed: (id) => this.onSessionConfirm(id),
      ready: () => this.outbox.flush(),
      down: (key) => {
        if (key) renderTyping(this.v, this.s, null);
        renderConnection(this.v, this.s, key);
      },
      state: (state) => this.setState(state),
      history: (messages) => {
        for (const m of messages) this.addMessage(m, false);
        this.refreshReplies();
        this.list.scrollToEnd();
      },
      message: (m) => {
        this.addMessage(m, true);
        this.refreshReplies();
      },
      typing: (from) => this.showTyping(from),
      agentJoined: (name) => {
        this.setAgent(plain(name || this.s.t("someAgent")), this.list.lastSeq);
        this.renderHeader();
        this.emit("agent-joined", { name: this.agentName });
      },
      agentLeft: (name) => {
        this.setAgent(null);
        this.list.notice(this.s.parts("agentLeft", { name: el("bdi", { text: name || this.s.t("theAgent") }) }));
        this.renderHeader();
      },
      queue: (data) => renderQueue(this.v, this.s, data),
      error: (data) => data.code === "rate_limited" && this.showComposerError(this.s.t("rateLimited")),
    });
  }

  onSessionConfirm(id) {
    if (typeof id !== "string" || !id) return;
    if (this.sessionId && id !== this.sessionId) {
      // The old session is unknown to the server (expired database, another site): start clean.
      this.list.reset();
      this.refreshReplies();
    }
    this.sessionId = id;
    this.store.sessionId = id;
  }

  // ------------------------------------------------------------------ open / closed

  toggle() {
    if (this.isOpen) this.close();
    else this.open();
  }

  /** Show the panel; `restored` when it comes back open after a page load (kept as it was). */
  open({ focus = true, quiet = false, restored = false } = {}) {
    if (this.isOpen) {
      if (focus) this.v.input.focus();
      return;
    }
    this.isOpen = true;
    this.v.panel.hidden = false;
    this.unread = 0;
    renderLauncher(this.v, this.s, this.title, true, 0);
    this.panelState.open = true;
    this.list.scrollToEnd();
    if (focus) this.v.input.focus();
    // Restored during init: told after the calls queued with it have run, so listeners added after init hear it.
    if (!quiet) (restored ? queueMicrotask : (fn) => fn())(() => this.emit("open", { restored }));
  }

  close() {
    if (!this.isOpen) return;
    const hadFocus = this.v.panel.contains(this.v.shadow.activeElement);
    this.isOpen = false;
    this.v.panel.hidden = true;
    renderLauncher(this.v, this.s, this.title, false, this.unread);
    this.panelState.open = false;
    if (hadFocus) this.v.launcher.focus(); // Esc or the close button: focus returns to the launcher
    this.emit("close", {});
  }

  // ------------------------------------------------------------------ conversation state

  setState(state) {
    const previous = this.stateKnown ? this.state : null;
    this.state = state;
    this.stateKnown = true;
    if (!P.WITH_AN_AGENT.includes(state)) this.setAgent(null);
    else if (!this.agent) this.agent = this.store.agent; // after a reload: who joined before it
    if (state !== "queued") renderQueue(this.v, this.s, null);
    else if (this.v.queueBanner.hidden) renderQueue(this.v, this.s, {});
    this.renderHeader();
    this.csat.refresh();
    if (previous === null || previous === state) return;
    const human = P.WITH_PEOPLE;
    if (human.includes(state) && !human.includes(previous)) this.emit("handoff", { state });
    if (state === "resolved") this.emit("resolved", {});
  }

  setAgent(name, seq = 0) {
    this.agent = name ? { name, seq } : null;
    this.store.agent = this.agent;
  }

  renderHeader() {
    renderHeader(this.v, this.s, this.title, this.state, this.agentName);
  }

  showTyping(from) {
    const who = !from || from === "customer" ? null : from === "agent" ? this.agentName || this.s.t("theAgent") : this.s.t("theAssistant");
    renderTyping(this.v, this.s, who);
    if (who) this.list.scrollToEnd();
  }

  // ------------------------------------------------------------------ messages

  addMessage(raw, live) {
    const m = this.list.add(raw);
    if (!m) return null;
    if (m.sender !== "customer") renderTyping(this.v, this.s, null);
    const name = m.sender === "agent" && m.metadata && m.metadata.agent_name;
    if (name && P.WITH_AN_AGENT.includes(this.state) && Number.isInteger(m.seq) && m.seq > (this.agent ? this.agent.seq : 0)) {
      this.setAgent(plain(name), m.seq); // the agent who wrote last (a reload without the stored name learns it here)
      this.renderHeader();
    }
    if (live && m.sender !== "customer" && !this.isOpen) {
      this.unread += 1;
      renderLauncher(this.v, this.s, this.title, false, this.unread);
    }
    if (live) this.emitMessage(m);
    return m;
  }

  emitMessage(m) {
    const text = typeof m.text === "string" ? m.text : "";
    const shown = m.sender === "customer" && this.list.replyTitles.has(text) ? this.list.replyTitles.get(text) : text;
    const detail = { id: m.id, seq: m.seq, sender: m.sender, text: shown, created_at: m.created_at };
    if (m.sender === "agent") detail.agent_name = (m.metadata && m.metadata.agent_name) || null;
    this.emit("message", detail);
  }

  refreshReplies() {
    this.list.refreshReplies();
    this.csat.refresh();
  }

  /** The gateway acknowledged a customer message: it joins the ordered list (once, even if a replay brought it). */
  sent(item, ack) {
    this.list.removePending(item.client_id);
    const m = this.addMessage({ id: ack.id, seq: ack.seq, sender: "customer", text: item.text, created_at: new Date().toISOString() }, false);
    this.refreshReplies();
    if (m) this.emitMessage(m);
  }

  /** Queue a message (payload `text`, shown as `display`) and send it when the session is ready. */
  send(text, display = null) {
    this.outbox.add(text, display);
    if (!this.isOpen) this.open();
  }

  // ------------------------------------------------------------------ composer

  onKeydown(e) {
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      this.v.composer.requestSubmit();
    }
  }

  onInput() {
    const input = this.v.input;
    input.style.height = "auto";
    input.style.height = `${Math.min(input.scrollHeight, 120)}px`;
    this.v.composerError.hidden = true;
    if (!this.connection.ready || this.state === "bot") return; // nobody reads typing in bot mode
    if (!this.typingSent) {
      this.typingSent = true;
      this.connection.emit(P.TYPING, { on: true });
    }
    clearTimeout(this.typingTimer);
    this.typingTimer = setTimeout(() => this.stopTyping(), TYPING_IDLE_MS);
  }

  /** Typing stopped; `silent` when a message goes out (the agent's console clears the indicator itself). */
  stopTyping(silent = false) {
    clearTimeout(this.typingTimer);
    if (this.typingSent && !silent) this.connection.emit(P.TYPING, { on: false });
    this.typingSent = false;
  }

  onSubmit(e) {
    e.preventDefault();
    const text = this.v.input.value.trim();
    if (!text) return;
    if (byteLength(text) > MAX_MESSAGE_BYTES) {
      this.showComposerError(this.s.t("tooLong"));
      return;
    }
    this.v.input.value = "";
    this.v.input.style.height = "auto";
    this.stopTyping(true);
    this.send(text);
  }

  showComposerError(text) {
    this.v.composerError.textContent = text;
    this.v.composerError.hidden = false;
  }

  // ------------------------------------------------------------------ lifecycle

  /** Logging out: forget this customer's conversation and the anonymous one kept in this browser. */
  forgetSessions() {
    this.store.forget();
    new WidgetStore(this.url, null).forget();
  }

  destroy() {
    clearTimeout(this.typingTimer);
    this.connection.destroy();
    this.list.destroy();
    this.v.host.remove();
  }
}

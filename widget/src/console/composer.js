// The composer: reply or private note, canned replies, the agent's typing indicator.
import { clientId, el } from "../shared/dom.js";
import * as P from "../shared/protocol.js";

const TYPING_IDLE_MS = 1500;

export const composerMethods = {
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
  },

  groupCanned() {
    const teams = [...new Set(this.canned.map((r) => r.team))];
    return teams.map((team) =>
      el(
        "optgroup",
        { label: team },
        this.canned.filter((r) => r.team === team).map((r) => el("option", { value: String(r.id), text: r.title })),
      ),
    );
  },

  setMode(mode) {
    this.mode = mode;
    const note = mode === "note";
    this.tabs.reply.setAttribute("aria-selected", note ? "false" : "true");
    this.tabs.note.setAttribute("aria-selected", note ? "true" : "false");
    this.composerForm.classList.toggle("composer--note", note);
    this.input.placeholder = note ? "Private note: only agents see this" : "Write to the customer…";
    this.tabs.send.textContent = note ? "Add note" : "Send";
  },

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

  /** Typing stopped; `silent` when the message goes out (the widget clears the indicator on the message). */,

  /** Typing stopped; `silent` when the message goes out (the widget clears the indicator on the message). */
  stopTyping(id, silent = false) {
    window.clearTimeout(this.typingTimer);
    if (this.typingSent && id && !silent) this.emit(P.TYPING, { conversation_id: id, on: false }).catch(() => {});
    this.typingSent = false;
  },

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
  },
};

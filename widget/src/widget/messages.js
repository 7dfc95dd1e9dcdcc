// The message list: messages in sequence order (each shown once), pending customer messages, notices, quick replies.
// Text goes in as text nodes only (shared/dom.js); only absolute http(s) URLs become links.
import { clear, el, richText, safeHttpUrl } from "../shared/dom.js";

export const CSAT_PREFIX = "/csat";
const STUCK_PX = 24; // this close to the bottom counts as "reading the latest message"

export function senderOf(message) {
  return message.sender || (message.metadata && message.metadata.sender) || "bot";
}

export class MessageList {
  /** `v` the view (log, welcome, replies), `s` the strings, `pick(payload, title)` sends a quick reply. */
  constructor(v, s, pick) {
    this.v = v;
    this.s = s;
    this.pick = pick;
    this.messages = new Map(); // seq -> message
    this.ids = new Set();
    this.lastSeq = 0;
    this.replyTitles = new Map(); // quick-reply payload -> title (a button press shows its title)
    this.pending = new Map(); // client_id -> { text, display, node, status }
    this.stuck = true;
    this.time = new Intl.DateTimeFormat(s.locale, { hour: "2-digit", minute: "2-digit" });
    // Whatever changes the list's height (quick replies, typing line, rating form, a taller composer, opening the
    // panel) keeps the latest message in view, unless the customer scrolled up to read.
    v.log.addEventListener("scroll", () => {
      this.stuck = v.log.scrollTop + v.log.clientHeight >= v.log.scrollHeight - STUCK_PX;
    });
    this.resizes = new ResizeObserver(() => this.stuck && this.scrollToEnd());
    this.resizes.observe(v.log);
  }

  destroy() {
    this.resizes.disconnect();
  }

  scrollToEnd() {
    this.v.log.scrollTop = this.v.log.scrollHeight;
    this.stuck = true;
  }

  /** Remember a title for a payload the customer may send (quick replies, the starter questions). */
  knowTitle(payload, title) {
    if (typeof payload === "string") this.replyTitles.set(payload, String(title || ""));
  }

  /** Add a message from the server; returns it, or null when it is already shown (replayed or re-sent). */
  add(raw) {
    if (!raw || typeof raw !== "object") return null;
    const seq = Number.isInteger(raw.seq) ? raw.seq : null;
    if (seq !== null && this.messages.has(seq)) return null;
    if (raw.id && this.ids.has(raw.id)) return null;
    const message = { ...raw, sender: senderOf(raw) };
    if (seq !== null) {
      this.messages.set(seq, message);
      this.lastSeq = Math.max(this.lastSeq, seq);
    }
    if (raw.id) this.ids.add(raw.id);
    for (const reply of message.quick_replies || []) if (reply) this.knowTitle(reply.payload, reply.title);
    this.insert(this.render(message), seq);
    this.v.welcome.hidden = true;
    this.scrollToEnd();
    return message;
  }

  insert(node, seq) {
    if (seq === null) {
      this.v.log.append(node);
      return;
    }
    node.dataset.seq = String(seq);
    const after = [...this.v.log.querySelectorAll("[data-seq]")].find((n) => Number(n.dataset.seq) > seq);
    const firstPending = this.v.log.querySelector("[data-pending]");
    this.v.log.insertBefore(node, after || firstPending || null);
  }

  formatTime(iso) {
    const date = iso ? new Date(iso) : new Date();
    return Number.isNaN(date.getTime()) ? "" : this.time.format(date);
  }

  render(m) {
    const s = this.s;
    const sender = m.sender;
    const text = typeof m.text === "string" ? m.text : "";
    if (sender === "system") {
      return el("div", { class: "hw-notice", role: "note" }, el("span", { class: "hw-sr", text: s.t("notice") }), richText(text));
    }
    const label =
      sender === "customer" ? s.t("youSaid") : sender === "agent" ? (m.metadata && m.metadata.agent_name) || s.t("agent") : s.t("assistant");
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
        sender === "bot" ? el("span", { class: "hw-tag", text: s.t("botTag") }) : null,
        el(sender === "agent" ? "bdi" : "span", { class: sender === "customer" ? "hw-sr" : "", text: label }),
      ),
      bubble,
      el("div", { class: "hw-msg__meta", text: this.formatTime(m.created_at) }),
    );
  }

  renderAttachment(attachment) {
    if (!attachment || typeof attachment !== "object") return null;
    const src = attachment.payload && safeHttpUrl(attachment.payload.src);
    if (attachment.type !== "image" || !src) return null;
    const img = el("img", { class: "hw-image", src, alt: this.s.t("imageAlt"), loading: "lazy", referrerpolicy: "no-referrer" });
    img.addEventListener("load", () => this.stuck && this.scrollToEnd());
    return img;
  }

  /** A local notice (not stored on the server), shown before the pending messages. */
  notice(parts) {
    const node = el("div", { class: "hw-notice hw-notice--local", role: "note" }, parts);
    this.v.log.insertBefore(node, this.v.log.querySelector("[data-pending]"));
    this.scrollToEnd();
  }

  lastMessage() {
    const seqs = [...this.messages.keys()];
    return seqs.length ? this.messages.get(Math.max(...seqs)) : null;
  }

  /** The name on the newest agent message, with its seq (the header's fallback after a reload). */
  latestAgent() {
    let found = null;
    for (const m of this.messages.values()) {
      const name = m.sender === "agent" && m.metadata && m.metadata.agent_name;
      if (name && (!found || m.seq > found.seq)) found = { name: String(name), seq: m.seq };
    }
    return found;
  }

  /** Show the quick replies of the last message (none while a message of ours is on its way). */
  refreshReplies() {
    const v = this.v;
    clear(v.replies);
    const last = this.lastMessage();
    const replies =
      last && last.sender !== "customer" && this.pending.size === 0
        ? (last.quick_replies || []).filter((r) => r && typeof r.payload === "string" && !r.payload.startsWith(CSAT_PREFIX))
        : [];
    for (const reply of replies) {
      const title = String(reply.title || reply.payload);
      v.replies.append(el("button", { type: "button", class: "hw-chip", text: title, on: { click: () => this.pick(reply.payload, title) } }));
    }
    v.replies.hidden = replies.length === 0;
    if (this.stuck) this.scrollToEnd();
  }

  hideReplies() {
    this.v.replies.hidden = true;
  }

  renderPending(item, status) {
    const node = el(
      "div",
      { class: "hw-msg hw-msg--customer", data: { sender: "customer", pending: item.client_id } },
      el("div", { class: "hw-msg__who" }, el("span", { class: "hw-sr", text: this.s.t("youSaid") })),
      el("div", { class: "hw-bubble", dir: "auto" }, richText(item.display || this.replyTitles.get(item.text) || item.text)),
      el("div", { class: "hw-msg__meta hw-msg__status" }),
    );
    this.pending.set(item.client_id, { ...item, node });
    this.v.log.append(node);
    this.v.welcome.hidden = true;
    this.setPendingStatus(item.client_id, status);
    this.scrollToEnd();
  }

  setPendingStatus(id, status, reason = "") {
    const entry = this.pending.get(id);
    if (!entry) return;
    entry.status = status;
    const s = this.s;
    const text = {
      queued: s.t("pendingQueued"),
      sending: s.t("pendingSending"),
      failed: reason ? s.t("pendingFailedReason", { reason }) : s.t("pendingFailed"),
    }[status];
    entry.node.querySelector(".hw-msg__status").textContent = text || "";
    entry.node.classList.toggle("hw-msg--queued", status === "queued");
    entry.node.classList.toggle("hw-msg--failed", status === "failed");
  }

  removePending(id) {
    const entry = this.pending.get(id);
    this.pending.delete(id);
    if (entry) entry.node.remove();
  }

  /** Forget the shown conversation (the server started a new one). */
  reset() {
    this.messages.clear();
    this.ids.clear();
    this.lastSeq = 0;
    for (const node of [...this.v.log.querySelectorAll("[data-seq], .hw-notice--local")]) node.remove();
    this.v.welcome.hidden = false;
    this.refreshReplies();
  }
}

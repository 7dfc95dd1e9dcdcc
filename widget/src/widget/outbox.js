// Customer messages on their way: kept in localStorage until the gateway acknowledges them, sent in order when the
// session is ready, each with a client_id so a resend is never stored twice.
import { clientId } from "../shared/dom.js";
import * as P from "../shared/protocol.js";

const RETRY_CODES = ["rate_limited", "no_session", "session_mismatch", "internal_error"];
const RATE_LIMIT_RETRY_MS = 3000;

export class Outbox {
  /** `w` the widget: store, list (MessageList), connection, sessionId, customer, and sent(item, ack). */
  constructor(w) {
    this.w = w;
    this.flushing = false;
  }

  /** Render what an earlier page left unsent. */
  restore() {
    for (const item of this.w.store.outbox) this.w.list.renderPending(item, "queued");
  }

  /** Queue a message (payload `text`, shown as `display`) and send it when the session is ready. */
  add(text, display = null) {
    const item = { client_id: clientId("w"), text, display: display || null };
    this.w.store.outbox = [...this.w.store.outbox, item];
    this.w.list.renderPending(item, this.w.connection.ready ? "sending" : "queued");
    this.w.list.hideReplies();
    this.flush();
  }

  async flush() {
    if (this.flushing || !this.w.connection.ready) return;
    this.flushing = true;
    try {
      for (const item of this.w.store.outbox) {
        if (!this.w.connection.ready) break;
        this.w.list.setPendingStatus(item.client_id, "sending");
        const outcome = await this.emit(item);
        if (outcome === "retry") {
          this.w.list.setPendingStatus(item.client_id, "queued");
          break; // keep the order: later messages wait for this one
        }
      }
    } finally {
      this.flushing = false;
    }
  }

  async emit(item) {
    const w = this.w;
    const payload = { message: item.text, session_id: w.sessionId, client_id: item.client_id };
    if (w.customer) {
      payload.customData = {
        customer_id: w.customer.id,
        email: w.customer.email || "",
        name: w.customer.name || "",
        signature: w.customer.signature || "",
      };
    }
    const { err, ack } = await w.connection.request(P.USER_UTTERED, payload);
    if (err || !ack) return "retry";
    if (ack.error) {
      if (RETRY_CODES.includes(ack.code)) {
        if (ack.code === "rate_limited") setTimeout(() => this.flush(), RATE_LIMIT_RETRY_MS);
        return "retry";
      }
      this.drop(item.client_id);
      w.list.setPendingStatus(item.client_id, "failed", ack.error);
      return "failed";
    }
    this.drop(item.client_id);
    w.sent(item, ack);
    return "sent";
  }

  drop(id) {
    this.w.store.outbox = this.w.store.outbox.filter((m) => m.client_id !== id);
  }
}

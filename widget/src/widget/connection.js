// The gateway connection: Socket.IO with the Rasa socketio protocol plus the gateway's additive events
// (src/shared/protocol.js). It asks for the session on every (re)connect and reports what arrives to the widget.
import { io } from "socket.io-client";

import * as P from "../shared/protocol.js";

export const ACK_TIMEOUT_MS = 10000;

export class Connection {
  /**
   * `on`: { session() -> {session_id, last_seq}, confirmed(id), ready(), down(stringKey), state(state),
   * history(messages), message(m), typing(from|null), agentJoined(name), agentLeft(name), queue(data), error(data) }.
   */
  constructor(url, on) {
    this.on = on;
    this.ready = false;
    this.socket = io(url, {
      auth: { protocol: P.FRONTLINE_PROTOCOL }, // acks, states, history, queue positions (else stock Rasa)
      transports: ["websocket", "polling"],
      reconnectionDelay: 500,
      reconnectionDelayMax: 4000,
      forceNew: true, // a new identity gets its own connection, never a shared one still bound to the old session
    });
    const s = this.socket;
    s.on("connect", () => this.requestSession());
    s.on("disconnect", () => {
      this.ready = false;
      on.down("connectionLost");
    });
    s.on("connect_error", () => on.down("connectionError"));
    s.on(P.SESSION_CONFIRM, (id) => on.confirmed(id));
    s.on(P.CONVERSATION_STATE, (data) => data && typeof data.state === "string" && on.state(data.state));
    s.on(P.HISTORY, (data) => on.history((data && Array.isArray(data.messages) && data.messages) || []));
    s.on(P.BOT_UTTERED, (m) => on.message(m));
    s.on(P.TYPING, (data) => on.typing(data && data.on ? data.from : null));
    s.on(P.AGENT_JOINED, (data) => on.agentJoined(data && data.name));
    s.on(P.AGENT_LEFT, (data) => on.agentLeft(data && data.name));
    s.on(P.QUEUE_UPDATE, (data) => on.queue(data || {}));
    s.on(P.ERROR, (data) => on.error(data || {}));
    this.online = () => !s.connected && s.connect();
    this.offline = () => {
      // The browser knows before the socket's ping timeout does: go offline now, queue what is typed.
      if (s.connected) s.disconnect();
      this.ready = false;
      on.down("offline");
    };
    window.addEventListener("online", this.online);
    window.addEventListener("offline", this.offline);
  }

  requestSession() {
    this.ready = false;
    this.on.down(null);
    this.socket.timeout(ACK_TIMEOUT_MS).emit(P.SESSION_REQUEST, this.on.session(), (err, ack) => {
      if (err || !ack || ack.error) return; // the socket reconnects and asks again
      this.on.confirmed(ack.session_id);
      this.ready = true;
      this.on.ready();
    });
  }

  /** Emit and wait for the acknowledgement: resolves { err, ack } (err on timeout or a closed connection). */
  request(event, payload) {
    return new Promise((resolve) => {
      if (!this.socket) return resolve({ err: new Error("closed"), ack: null });
      this.socket.timeout(ACK_TIMEOUT_MS).emit(event, payload, (err, ack) => resolve({ err, ack }));
    });
  }

  emit(event, payload) {
    if (this.socket && this.ready) this.socket.emit(event, payload);
  }

  destroy() {
    window.removeEventListener("online", this.online);
    window.removeEventListener("offline", this.offline);
    this.ready = false;
    if (this.socket) {
      this.socket.removeAllListeners();
      this.socket.disconnect();
    }
    this.socket = null;
  }
}

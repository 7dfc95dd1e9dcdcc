// The agent socket: connection state, acknowledged emits, queue snapshots and the events that change lists.
import { io } from "socket.io-client";

import * as P from "../shared/protocol.js";
import { updateSla } from "./conversation.js";
import { customerLabel } from "./format.js";
import { PRESENCE_KEY } from "./keys.js";

const ACK_TIMEOUT_MS = 15000;

export const socketMethods = {
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
      // A new socket session starts away (handoff/usecases/agents.py): after a reconnect or a reload, keep the agent's choice.
      if (window.sessionStorage.getItem(PRESENCE_KEY) === "online") this.setPresence("online");
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
    // The SLA notices of the L2 queue, and of the L3 queue when they carry tier "l3" (the deadline to be claimed by L3).
    const tier = (data) => (data && data.tier === "l3" ? "L3 " : "");
    s.on(P.SLA_WARNING, (data) => this.toast(`${tier(data)}SLA warning: ${this.nameOf(data.conversation_id)} must be picked up soon.`, "warn"));
    s.on(P.SLA_BREACHED, (data) => this.toast(`${tier(data)}SLA breached: ${this.nameOf(data.conversation_id)}.`, "error"));
    s.on(P.STALE_ALERT, (data) => this.toast(`Stale ${String(data.tier || "").toUpperCase()} case: ${this.nameOf(data.conversation_id)}.`, "warn"));
    s.on(P.ERROR, (data) => data && data.message && this.toast(data.message, "error"));
  }

  /** Emit with an ack; resolves with the ack, rejects with the server's reason. */,

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
  },

  nameOf(conversationId) {
    const found =
      this.snapshot.queue.find((q) => q.conversation_id === conversationId) ||
      this.snapshot.l3.find((c) => c.id === conversationId) ||
      this.mine.find((c) => c.id === conversationId);
    return customerLabel(found && found.customer_name, conversationId);
  },

  onSnapshot(data) {
    if (!data) return;
    this.snapshot = { queue: data.queue || [], live: data.live || [], l3: data.l3 || [], agents: data.agents || [] };
    const me = this.snapshot.agents.find((a) => a.id === this.agent.id);
    if (me && me.status !== "offline") this.renderPresence(me.status);
    this.renderLists();
  }

  /** The gateway pushes the queue on every change; bot conversations change all the time, so poll those. */,

  /** The gateway pushes the queue on every change; bot conversations change all the time, so poll those. */
  requestSnapshot() {
    this.emit(P.SNAPSHOT_REQUEST, {}).catch(() => {});
  },

  async refreshMine() {
    try {
      const [assigned, escalated] = await Promise.all([this.api.conversations("assigned"), this.api.conversations("escalated_l3")]);
      this.mine = [...assigned.conversations, ...escalated.conversations].filter((c) => c.assigned_agent_id === this.agent.id);
      this.renderLists();
    } catch (e) {
      if (e.status === 401) this.logout("Your session expired; please sign in again.");
    }
  },

  scheduleRefresh() {
    window.clearTimeout(this.refreshTimer);
    this.refreshTimer = window.setTimeout(() => {
      this.refreshMine();
      if (this.current) this.reloadCurrent();
    }, 250);
  },

  tick() {
    for (const node of this.root.querySelectorAll(".sla[data-deadline]")) updateSla(node);
  },

  onHandoffQueued(data) {
    if (!data || data.handoff?.reason === "barge_in") return;
    const summary = data.summary || {};
    const who = customerLabel(summary.customer && summary.customer.name, data.conversation_id);
    this.notifier.flash("New hand-off");
    this.notifier.chime();
    this.toast(`New hand-off: ${who} — ${summary.problem || data.handoff?.reason || ""}`, "new");
  },

  onAssigned(data) {
    if (!data) return;
    this.refreshMine();
    const detail = data.conversation;
    if (data.by !== "claim") {
      const who = customerLabel(detail && detail.conversation && detail.conversation.customer_name, data.conversation_id);
      this.notifier.flash("Assigned to you");
      this.notifier.chime();
      if (data.by === "l3_return") this.toast(`Back from L3: ${who} — read the L3 answer on top.`, "new");
      else this.toast(`Assigned to you (${data.by === "transfer" ? "transfer" : "auto"}): ${who}${data.note ? ` — note: ${data.note}` : ""}`, "new");
    }
    if (!this.current || this.current.id === data.conversation_id || data.by === "claim") {
      this.openConversation(data.conversation_id);
    }
  },

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
  },

  onUpdated(data) {
    if (!data) return;
    if (this.current && data.conversation_id === this.current.id) this.scheduleRefresh();
    else if (this.mine.some((c) => c.id === data.conversation_id)) this.scheduleRefresh();
  },
};

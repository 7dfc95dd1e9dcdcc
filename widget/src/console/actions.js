// What an agent does to a conversation: claim, take over, flag, transfer, escalate, return to L2, resolve, hand back.
import * as P from "../shared/protocol.js";
import { handbackDialog, resolveDialog, transferDialog } from "./dialogs.js";
import { latestEscalation } from "./l3.js";
import { escalateDialog, returnDialog } from "./l3dialogs.js";

export const actionMethods = {
  async claim(id) {
    try {
      await this.emit(P.CLAIM, { conversation_id: id });
      this.toast("Conversation claimed. The customer sees you joined.", "ok");
    } catch (e) {
      this.toast(`Could not claim: ${e.message}`, "error");
    }
  },

  async bargeIn(id) {
    try {
      await this.emit(P.BARGE_IN, { conversation_id: id });
      this.toast("You took over from the bot.", "ok");
    } catch (e) {
      this.toast(`Could not take over: ${e.message}`, "error");
    }
  },

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
  },

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
  },

  escalate(id, detail) {
    const created = (detail.handoffs || []).map((h) => h.created_at).filter(Boolean);
    const summary = (detail.handoffs || []).at(-1)?.summary || {};
    const codes = (summary.entities || {}).error_code || [];
    // What the bot's technical form asked the customer at L1 (absent when it did not ask): the summary's reading
    // (`impact`: only known values) when the gateway sent one, else the raw slots.
    const slots = summary.slots || {};
    const read = summary.impact || {};
    escalateDialog({
      defaults: { timestamps: created.length ? `Handed off at ${created.at(-1)}` : "", logs: codes.join(", ") },
      impact: {
        scope: read.scope || slots.impact_scope,
        urgency: read.urgency || slots.impact_urgency,
        note: read.words || (typeof slots.impact === "string" ? slots.impact : ""),
      },
      engineers: this.snapshot.agents.filter((a) => a.role === "l3"),
      submit: async (fields) => {
        await this.emit(P.ESCALATE_L3, { conversation_id: id, ...fields });
        this.toast("Escalated to L3.", "ok");
        this.scheduleRefresh();
      },
    });
  },

  /** The L3 owner sends the escalation back to the L2 agent who escalated it: the conversation leaves my list. */
  returnToL2(id, detail) {
    const esc = latestEscalation(detail);
    const to = esc && esc.escalated_by_name;
    returnDialog({
      to,
      submit: async (fields) => {
        await this.emit(P.RETURN_L2, { conversation_id: id, ...fields });
        this.toast(`Returned to L2${to ? ` (${to})` : ""}. The customer got your update.`, "ok");
        this.emit(P.UNWATCH, { conversation_id: id }).catch(() => {});
        this.mine = this.mine.filter((c) => c.id !== id);
        if (this.isCurrent(id)) {
          this.current = null;
          this.view = null;
          this.renderEmpty();
        }
        this.renderLists();
        this.refreshMine();
      },
    });
  },

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

  /** Keep following a conversation I just closed or handed back (the customer's rating, the bot's reply). */,

  /** Keep following a conversation I just closed or handed back (the customer's rating, the bot's reply). */
  async rewatch(id) {
    try {
      await this.emit(P.WATCH, { conversation_id: id });
      if (this.isCurrent(id)) this.current.watching = true;
    } catch {
      // Not ours to follow any more: nothing to show.
    }
  },

  handback(id) {
    handbackDialog({
      submit: async (payload) => {
        await this.emit(P.HANDBACK, { conversation_id: id, ...payload });
        this.toast("Handed back to the bot.", "ok");
        await this.rewatch(id);
        this.scheduleRefresh();
      },
    });
  },
};

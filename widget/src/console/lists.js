// The sidebar lists: queue (most urgent first), my conversations, the L3 queue, live bot conversations, team.
import { clear, el } from "../shared/dom.js";
import { priorityChip, reasonBadge, slaNode, stateChip } from "./conversation.js";
import { ago, customerLabel } from "./format.js";
import { l3QueueItem } from "./l3.js";

export const listMethods = {
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
    // L3 engineers and leads always see their queue; anyone else only if the gateway sent them escalations.
    this.l3Section.hidden = !(l3.length || this.agent.role === "l3" || this.agent.role === "lead");
    this.l3Count.textContent = String(l3.length);
    clear(this.l3List);
    if (!l3.length) this.l3List.append(el("li", { class: "list__empty", text: "No escalation waiting." }));
    for (const c of l3) {
      this.l3List.append(
        l3QueueItem(c, {
          current: this.isCurrent(c.id),
          onOpen: () => this.openConversation(c.id),
          onClaim: () => this.claim(c.id),
        }),
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
            {
              type: "button",
              class: "litem",
              "data-conversation-id": c.id,
              "aria-label": `Watch ${customerLabel(c.customer_name, c.id)}`,
              on: { click: () => this.openConversation(c.id) },
            },
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
  },

  isCurrent(id) {
    return Boolean(this.current && this.current.id === id);
  },
};

// The console's shell: start (token or sign-in), the layout with its pages (#scorecards, #needs-training), presence,
// sound, toasts. The rest of the Console's methods live in one module per concern, mixed in at the bottom.
import { clear, el } from "../shared/dom.js";
import * as P from "../shared/protocol.js";
import { actionMethods } from "./actions.js";
import { Api } from "./api.js";
import { composerMethods } from "./composer.js";
import { PRESENCE_KEY, TOKEN_KEY } from "./keys.js";
import { listMethods } from "./lists.js";
import { loginMethods } from "./login.js";
import { Notifier } from "./notify.js";
import { Scorecards } from "./scorecards.js";
import { socketMethods } from "./socket.js";
import { renderTraining, showTranscript } from "./training.js";
import { viewMethods } from "./view.js";

const SVG_NS = "http://www.w3.org/2000/svg";
const MAX_TOASTS = 3;

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

export class Console {
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
    window.addEventListener("hashchange", () => this.agent && this.agent.role !== "designer" && this.route());
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

  showApp() {
    if (this.agent.role === "designer") {
      this.showDesignerApp();
      return;
    }
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
    this.l3List = el("ol", { class: "list", id: "l3-list", "aria-label": "L3 queue, most urgent first" });
    this.l3Count = el("span", { class: "count", text: "0" });
    this.liveList = el("ul", { class: "list", id: "live-list" });
    this.teamList = el("ul", { class: "team", id: "team-list" });
    this.main = el("main", { class: "conv", id: "conversation", tabindex: "-1" });
    this.side = el("aside", { class: "side", "aria-label": "Customer and notes" });
    // The L3 queue (escalations waiting to be claimed) is for L3 engineers and leads; the L2 queue is not for L3.
    const lead = this.agent.role === "lead";
    const l3 = this.agent.role === "l3";
    this.l3Section = el("section", { class: "panel", hidden: !(l3 || lead) }, el("h2", {}, "L3 queue ", this.l3Count), this.l3List);
    const queueSection = el("section", { class: "panel", hidden: l3 }, el("h2", {}, "Queue ", this.queueCount), this.queueList);
    // Watching the bot's live conversations (to take one over) is lead work (handoff/domain/access.py).
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
        ...(l3 ? [this.l3Section, queueSection] : [queueSection]),
        el("section", { class: "panel" }, el("h2", { text: "My conversations" }), this.mineList),
        ...(l3 ? [] : [this.l3Section]),
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
    // Signed in is not at work: the gateway starts a new session away, and only going online pulls conversations.
    this.renderPresence("away");
    this.renderEmpty();
    this.api.cannedReplies().then((r) => (this.canned = r.canned_replies || [])).catch(() => {});
    this.connect();
    this.route();
  }

  /** Show the page named by the URL hash (the conversations layout by default). */

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
      const toast = (text, kind) => this.toast(text, kind);
      const open = (id) => {
        window.location.hash = ""; // back to the conversations layout (route() runs on hashchange)
        this.openConversation(id);
      };
      renderTraining(this.pageView, this.api, open, { canLabel: this.agent.role === "lead", toast });
    } else {
      clear(this.pageView);
    }
  }

  /**
   * A conversation designer's console: the Needs training page only (labels, retrain, read-only transcripts). No
   * socket, no queue, no conversations, no agents: the gateway refuses all of them to this role anyway.
   */
  showDesignerApp() {
    this.toasts = el("div", { class: "toasts", role: "status", "aria-live": "polite" });
    this.pageView = el("div", { class: "pageview", id: "page" });
    clear(this.root).append(
      el(
        "div",
        { class: "app app--designer" },
        el(
          "header",
          { class: "topbar" },
          el("div", { class: "brand" }, el("span", { class: "brand__mark", "aria-hidden": "true", text: "N" }), "Support console"),
          el("nav", { class: "nav", "aria-label": "Pages" }, el("a", { class: "nav__link", href: "#needs-training", text: "Needs training", "aria-current": "page" })),
          el("span", { class: "topbar__spacer" }),
          el("span", { class: "me" }, el("bdi", { text: this.agent.name }), " · Conversation designer"),
          el("button", { type: "button", class: "btn btn--ghost btn--small", text: "Log out", on: { click: () => this.logout() } }),
        ),
        this.toasts,
        this.pageView,
      ),
    );
    const toast = (text, kind) => this.toast(text, kind);
    renderTraining(this.pageView, this.api, (id) => showTranscript(this.api, id, toast), { canLabel: true, toast });
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
    this.presenceButton.title = online
      ? "New conversations are assigned to you. Click to go away."
      : "No conversation is assigned to you automatically. Click to go online and take work.";
    if (this.awayHint) this.awayHint.hidden = online;
  }

  togglePresence() {
    this.setPresence(this.presence === "online" ? "away" : "online");
  }

  /** Tell the gateway (going online pulls work from the queue) and remember the choice for this tab. */
  setPresence(next) {
    return this.emit(P.PRESENCE, { status: next })
      .then(() => {
        if (next === "online") window.sessionStorage.setItem(PRESENCE_KEY, "online");
        else window.sessionStorage.removeItem(PRESENCE_KEY);
        this.renderPresence(next);
      })
      .catch((e) => this.toast(e.message, "error"));
  }

  renderEmpty() {
    this.awayHint = el(
      "p",
      { class: "away-hint", hidden: this.presence === "online" },
      el("span", { text: "You are away: no conversation is assigned to you until you go online." }),
      el("button", { type: "button", class: "btn btn--primary btn--small", text: "Go online", on: { click: () => this.setPresence("online") } }),
    );
    clear(this.main).append(
      el(
        "div",
        { class: "empty" },
        el("h1", { text: "No conversation open" }),
        el("p", { class: "muted", text: "Pick one from the queue, or watch a live bot conversation. New hand-offs chime and flash the tab." }),
        this.awayHint,
      ),
    );
    clear(this.side);
  }

  toast(text, kind = "info") {
    const short = text.length > 140 ? `${text.slice(0, 139)}…` : text;
    const node = el("div", { class: `toast toast--${kind}`, title: text }, el("span", { class: "toast__text", text: short }));
    node.append(el("button", { type: "button", class: "toast__close", "aria-label": "Dismiss", text: "×", on: { click: () => node.remove() } }));
    this.toasts.prepend(node); // newest on top, right under the header
    while (this.toasts.children.length > MAX_TOASTS) this.toasts.lastElementChild.remove();
    window.setTimeout(() => node.remove(), kind === "error" ? 8000 : 6000);
  }
}

Object.assign(Console.prototype, loginMethods, socketMethods, listMethods, viewMethods, composerMethods, actionMethods);

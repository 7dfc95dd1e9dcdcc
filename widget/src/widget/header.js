// What the chrome says about the conversation: the header (who is answering), the queue banner, the typing line,
// the connection banner and the launcher's label and unread badge. Names go in <bdi> (any script, isolated).
import { append, clear, el } from "../shared/dom.js";
import { WITH_AN_AGENT } from "../shared/protocol.js";

/** Header subtitle and avatar for the conversation state (`agentName` may be unknown: "a person is helping you"). */
export function renderHeader(v, s, title, state, agentName) {
  let parts = [s.t("headerBot")];
  let avatar = title.slice(0, 1);
  if (agentName && WITH_AN_AGENT.includes(state)) {
    parts = s.parts("headerAgent", { name: el("bdi", { text: agentName }) });
    avatar = agentName.slice(0, 1);
  } else if (state === "assigned") {
    parts = [s.t("headerPerson")];
  } else if (state === "queued") {
    parts = [s.t("headerQueued")];
  } else if (state === "escalated_l3") {
    parts = [s.t("headerL3")];
  } else if (state === "resolved") {
    parts = [s.t("headerResolved")];
  }
  append(clear(v.subtitle), parts);
  v.avatar.textContent = avatar.toUpperCase();
  v.avatar.classList.toggle("hw-avatar--agent", Boolean(agentName) && WITH_AN_AGENT.includes(state));
}

/** The "connecting you to a person… you are #2 in the queue, about 3 min" banner; `data` null hides it. */
export function renderQueue(v, s, data) {
  if (!data) {
    v.queueBanner.hidden = true;
    clear(v.queueBanner);
    return;
  }
  const parts = [s.t("queueConnecting")];
  if (Number.isInteger(data.position) && data.position > 0 && data.estimated_wait_seconds == null) {
    // Nobody can pick up now (no agent online, outside hours): a place, never a wait estimate.
    parts.push(s.t("queuePlace", { position: data.position }));
  } else if (Number.isInteger(data.position) && data.position > 0) {
    const minutes = Math.max(1, Math.round((Number(data.estimated_wait_seconds) || 0) / 60));
    parts.push(s.t("queuePosition", { position: data.position, minutes }));
  }
  v.queueBanner.hidden = false;
  clear(v.queueBanner).append(
    el("span", { class: "hw-spinner", "aria-hidden": "true" }),
    el("span", { class: "hw-queue__text", text: parts.join(" ") }),
  );
}

/** "Lena Park is typing…"; `who` null hides the line. */
export function renderTyping(v, s, who) {
  if (!who) {
    v.typing.hidden = true;
    return;
  }
  append(clear(v.typing.querySelector(".hw-typing__text")), s.parts("typing", { who: el("bdi", { text: who }) }));
  v.typing.hidden = false;
}

/** The connection banner: a string key (connectionLost, connectionError, offline) or null when connected. */
export function renderConnection(v, s, key) {
  v.connBanner.hidden = !key;
  v.connBanner.textContent = key ? s.t(key) : "";
}

/** The launcher's label (what it does, how many unread) and badge. */
export function renderLauncher(v, s, title, isOpen, unread) {
  v.badge.hidden = unread === 0;
  v.badge.textContent = unread > 9 ? "9+" : String(unread);
  v.launcher.setAttribute("aria-expanded", String(isOpen));
  v.launcher.classList.toggle("hw-launcher--open", isOpen);
  let label = s.t("launcherClose", { title });
  if (!isOpen) {
    const key = unread === 0 ? "launcherOpen" : unread === 1 ? "launcherOpenUnreadOne" : "launcherOpenUnread";
    label = s.t(key, { title, count: unread });
  }
  v.launcher.setAttribute("aria-label", label);
}

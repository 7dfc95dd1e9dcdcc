// The widget's DOM: a shadow root (host page CSS cannot break it) with the launcher and the chat panel.
import { el } from "../shared/dom.js";
import css from "./widget.css";

const SVG_NS = "http://www.w3.org/2000/svg";
const ICON_CHAT = ["M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H9l-5 4v-4H4a2 2 0 0 1-2-2V6a2 2 0 0 1 2-2z"];
const ICON_CLOSE = ["M6.4 5 5 6.4 10.6 12 5 17.6 6.4 19l5.6-5.6 5.6 5.6 1.4-1.4-5.6-5.6L19 6.4 17.6 5 12 10.6z"];
const ICON_SEND = ["M3 20.5 21 12 3 3.5v6.6l12 1.9-12 1.9z"];

function icon(paths, size = 22) {
  const svg = document.createElementNS(SVG_NS, "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("width", String(size));
  svg.setAttribute("height", String(size));
  svg.setAttribute("aria-hidden", "true");
  svg.setAttribute("focusable", "false");
  for (const d of paths) {
    const path = document.createElementNS(SVG_NS, "path");
    path.setAttribute("d", d);
    svg.append(path);
  }
  return svg;
}

/**
 * Build the widget into document.body. `s` is the Strings table, `look` { title, position, launcherText },
 * `on` the callbacks (toggle, close, starter, keydown, input, submit). Returns the elements the widget updates.
 */
export function buildView(s, look, on) {
  const host = el("div", { class: "helpdesk-widget-host", "data-helpdesk-widget": "", "data-position": look.position });
  const shadow = host.attachShadow({ mode: "open" });
  shadow.append(el("style", { text: css }));

  const v = { host, shadow };
  v.badge = el("span", { class: "hw-badge", "aria-hidden": "true", hidden: true });
  const text = look.launcherText ? el("span", { class: "hw-launcher__text", text: look.launcherText }) : null;
  v.launcher = el(
    "button",
    {
      class: `hw-launcher${text ? " hw-launcher--text" : ""}`,
      type: "button",
      "aria-expanded": "false",
      "aria-controls": "hw-panel",
      on: { click: on.toggle },
    },
    el("span", { class: "hw-launcher__icon hw-launcher__icon--chat" }, icon(ICON_CHAT, 26)),
    el("span", { class: "hw-launcher__icon hw-launcher__icon--close" }, icon(ICON_CLOSE, 26)),
    text,
    v.badge,
  );

  v.subtitle = el("p", { class: "hw-subtitle", id: "hw-subtitle", text: s.t("headerBot") });
  v.avatar = el("div", { class: "hw-avatar", "aria-hidden": "true", text: look.title.slice(0, 1) });
  const header = el(
    "header",
    { class: "hw-header" },
    v.avatar,
    el("div", { class: "hw-heading" }, el("h2", { id: "hw-title", text: look.title }), v.subtitle),
    el("button", { class: "hw-icon-button", type: "button", "aria-label": s.t("closeChat"), on: { click: on.close } }, icon(ICON_CLOSE)),
  );

  v.connBanner = el("div", { class: "hw-banner hw-banner--conn", role: "status", hidden: true });
  v.queueBanner = el("div", { class: "hw-banner hw-banner--queue", role: "status", hidden: true });
  v.log = el("div", {
    class: "hw-log",
    id: "hw-log",
    role: "log",
    "aria-live": "polite",
    "aria-relevant": "additions text",
    "aria-label": s.t("conversation"),
    tabindex: "0",
  });
  v.welcome = el(
    "div",
    { class: "hw-welcome" },
    el("p", { class: "hw-welcome__text", text: s.t("greeting") }),
    el(
      "div",
      { class: "hw-chips", role: "group", "aria-label": s.t("starters") },
      look.starters.map(({ title, payload }) =>
        el("button", { type: "button", class: "hw-chip", text: title, on: { click: () => on.starter(payload, title) } }),
      ),
    ),
  );
  v.log.append(v.welcome);
  v.typing = el(
    "div",
    { class: "hw-typing", hidden: true, "aria-hidden": "true" },
    el("span", { class: "hw-dots" }, el("span"), el("span"), el("span")),
    el("span", { class: "hw-typing__text" }),
  );
  v.replies = el("div", { class: "hw-replies", role: "group", "aria-label": s.t("suggestedReplies"), hidden: true });
  v.csat = el("div", { class: "hw-csat-slot", hidden: true });
  v.input = el("textarea", {
    id: "hw-input",
    class: "hw-input",
    rows: "1",
    maxlength: "4000",
    placeholder: s.t("placeholder"),
    "aria-label": s.t("inputLabel"),
    autocomplete: "off",
    on: { keydown: on.keydown, input: on.input },
  });
  v.composerError = el("p", { class: "hw-composer__error", role: "alert", hidden: true });
  v.composer = el(
    "form",
    { class: "hw-composer", on: { submit: on.submit } },
    v.input,
    el("button", { class: "hw-send", type: "submit", "aria-label": s.t("send") }, icon(ICON_SEND)),
  );
  v.panel = el(
    "section",
    {
      class: "hw-panel",
      id: "hw-panel",
      role: "dialog",
      "aria-labelledby": "hw-title",
      "aria-describedby": "hw-subtitle",
      hidden: true,
      on: { keydown: (e) => e.key === "Escape" && on.close() },
    },
    header,
    v.connBanner,
    v.queueBanner,
    v.log,
    v.typing,
    v.replies,
    v.csat,
    v.composerError,
    v.composer,
    el("p", { class: "hw-footer", text: s.t("footer") }),
  );
  shadow.append(el("div", { class: "hw-root", lang: s.locale }, v.panel, v.launcher));
  document.body.append(host);
  return v;
}

// The API demo page (/assets/api.html): the async snippet, then one button per call. Runs before widget.js (which
// the page loads async), so the init and the listeners below go through the snippet's queue.
import { el } from "../shared/dom.js";

// ---- the snippet, as a site pastes it
window.HelpdeskWidget =
  window.HelpdeskWidget ||
  function () {
    (window.HelpdeskWidget.q = window.HelpdeskWidget.q || []).push(arguments);
  };
const HW = (...args) => window.HelpdeskWidget(...args); // the global is replaced when widget.js loads

const EVENTS = ["open", "close", "message", "handoff", "agent-joined", "resolved"];
const ORIGIN = window.location.origin;
const LOCALE = new URLSearchParams(window.location.search).get("locale") || "en";
const eventLog = document.getElementById("event-log");

function logEvent(name, detail) {
  const shown = JSON.stringify(detail, (key, value) => (typeof value === "string" && value.length > 80 ? `${value.slice(0, 80)}…` : value));
  eventLog.append(el("li", { data: { event: name } }, el("strong", { text: name }), " ", el("code", { text: shown })));
}

const listeners = Object.fromEntries(EVENTS.map((name) => [name, (detail) => logEvent(name, detail)]));

HW("init", { title: "Northwind Cloud Support", locale: LOCALE }); // url: where widget.js came from
for (const name of EVENTS) HW("on", name, listeners[name]);

document.getElementById("snippet").textContent = [
  "<script>",
  "  window.HelpdeskWidget = window.HelpdeskWidget || function () {",
  "    (HelpdeskWidget.q = HelpdeskWidget.q || []).push(arguments);",
  "  };",
  `  HelpdeskWidget("init", { title: "Northwind Cloud Support", locale: "${LOCALE}" });`,
  '  HelpdeskWidget("on", "agent-joined", function (e) { console.log(e.name + " is helping"); });',
  "</script>",
  `<script async src="${ORIGIN}/widget.js"></script>`,
].join("\n");

// ---- one button per call
const status = document.getElementById("api-status");

async function demoIdentity(customerId) {
  const response = await fetch("/api/demo/identity", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ customer_id: customerId }),
  });
  const body = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(body.error || `HTTP ${response.status}`);
  return { id: body.id, email: body.email, name: body.name, signature: body.signature };
}

function setVar(name, value) {
  if (value === null) document.documentElement.style.removeProperty(name);
  else document.documentElement.style.setProperty(name, value);
}

const STRINGS = { placeholder: "Ask Northwind anything…", headerBot: "Northwind assistant · answers in seconds" };

const CALLS = [
  ["open", "Open", 'HelpdeskWidget("open")', () => HW("open")],
  ["close", "Close", 'HelpdeskWidget("close")', () => HW("close")],
  ["toggle", "Toggle", 'HelpdeskWidget("toggle")', () => HW("toggle")],
  [
    "login",
    "Sign in as Ana Ortiz",
    'HelpdeskWidget("update", { customer: { id: "cus_1001", email, name, signature } })',
    async () => {
      const customer = await demoIdentity("cus_1001");
      HW("update", { customer });
      status.textContent = `Signed in as ${customer.name}: the widget switched to her conversation.`;
    },
  ],
  [
    "logout",
    "Sign out",
    'HelpdeskWidget("update", { customer: null })',
    () => {
      HW("update", { customer: null });
      status.textContent = "Signed out: the widget forgot that conversation and started a new anonymous one.";
    },
  ],
  ["locale-en", "English", 'HelpdeskWidget("update", { locale: "en" })', () => HW("update", { locale: "en" })],
  ["locale-es", "Español", 'HelpdeskWidget("update", { locale: "es" })', () => HW("update", { locale: "es" })],
  ["locale-de", "Deutsch", 'HelpdeskWidget("update", { locale: "de" })', () => HW("update", { locale: "de" })],
  [
    "strings",
    "Override two strings",
    `HelpdeskWidget("update", { strings: { placeholder: "${STRINGS.placeholder}", headerBot: "${STRINGS.headerBot}" } })`,
    () => HW("update", { strings: STRINGS }),
  ],
  ["left", "Launcher on the left", 'HelpdeskWidget("update", { position: "left" })', () => HW("update", { position: "left" })],
  ["right", "Launcher on the right", 'HelpdeskWidget("update", { position: "right" })', () => HW("update", { position: "right" })],
  [
    "launcher-text",
    "Launcher with text",
    'HelpdeskWidget("update", { launcherText: "Chat with us" })',
    () => HW("update", { launcherText: "Chat with us" }),
  ],
  [
    "theme",
    "Red brand, square corners",
    ':root { --helpdesk-brand: #b42318; --helpdesk-brand-dark: #8a1c12; --helpdesk-radius: 4px; }',
    () => {
      setVar("--helpdesk-brand", "#b42318");
      setVar("--helpdesk-brand-dark", "#8a1c12");
      setVar("--helpdesk-radius", "4px");
    },
  ],
  [
    "theme-reset",
    "Default colours",
    ":root { /* no --helpdesk-* variables */ }",
    () => ["--helpdesk-brand", "--helpdesk-brand-dark", "--helpdesk-radius"].forEach((name) => setVar(name, null)),
  ],
];

const calls = document.getElementById("calls");
for (const [id, label, code, run] of CALLS) {
  const button = el("button", { type: "button", class: "btn btn--ghost", id: `call-${id}`, text: label });
  button.addEventListener("click", async () => {
    try {
      await run();
    } catch (error) {
      status.textContent = `${label}: ${error.message}`;
    }
  });
  calls.append(el("div", { class: "api__call" }, button, el("code", { text: code })));
}

// ---- on / off
const listen = document.getElementById("listen");
const listenCode = document.getElementById("listen-code");
function showListening() {
  const verb = listen.checked ? "on" : "off";
  listenCode.textContent = `HelpdeskWidget("${verb}", name, handler) for ${EVENTS.join(", ")}`;
}
listen.addEventListener("change", () => {
  for (const name of EVENTS) HW(listen.checked ? "on" : "off", name, listeners[name]);
  showListening();
});
showListening();

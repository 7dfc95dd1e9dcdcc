// The embedding API: the global `HelpdeskWidget`, a function and an object at once (like Intercom's and Crisp's).
// The async snippet defines a stub that queues calls until this script has loaded; they are replayed in order:
//
//   window.HelpdeskWidget = window.HelpdeskWidget || function () {
//     (HelpdeskWidget.q = HelpdeskWidget.q || []).push(arguments);
//   };
//   HelpdeskWidget("init", { url: "https://support.example.com", locale: "es" });
//   HelpdeskWidget("on", "agent-joined", (e) => console.log(e.name));
//
// After loading, `HelpdeskWidget("open")` and `HelpdeskWidget.open()` are the same call. See widget/README.md.
import { Emitter } from "./events.js";
import { Widget } from "./widget.js";

const LOOK = ["title", "greeting", "locale", "strings", "position", "launcherText"];
const OPTIONS = ["url", "customer", ...LOOK];
// Where widget.js came from: the gateway, unless `url` says otherwise.
const SCRIPT_ORIGIN = (() => {
  try {
    return new URL(document.currentScript.src).origin;
  } catch {
    return null;
  }
})();

const emitter = new Emitter();
const emit = (name, detail) => emitter.emit(name, detail);
let widget = null;
let options = null;
let deferred = []; // open/close/toggle/update called before init: run right after it, in order

function optionalString(name, value) {
  if (value === undefined || value === null || value === "") return undefined;
  if (typeof value !== "string") throw new Error(`HelpdeskWidget: \`${name}\` must be a string`);
  return value;
}

/** A signed-in customer { id, email, name, signature } (strings), or null for an anonymous visitor. */
function checkCustomer(customer) {
  if (customer === undefined || customer === null || customer === false) return null;
  if (typeof customer !== "object" || customer.id === undefined || customer.id === null || customer.id === "") {
    throw new Error("HelpdeskWidget: `customer` needs an `id` (or null for an anonymous visitor)");
  }
  const text = (value) => (value === undefined || value === null ? "" : String(value));
  return { id: String(customer.id), email: text(customer.email), name: text(customer.name), signature: text(customer.signature) };
}

function checkOptions(raw) {
  if (!raw || typeof raw !== "object") throw new Error("HelpdeskWidget.init: options must be an object");
  for (const key of Object.keys(raw)) if (!OPTIONS.includes(key)) console.warn(`HelpdeskWidget: unknown option "${key}" ignored`);
  const url = optionalString("url", raw.url) || SCRIPT_ORIGIN;
  if (!url) throw new Error("HelpdeskWidget.init: `url` is required");
  const position = raw.position === undefined ? "right" : raw.position;
  if (!["left", "right"].includes(position)) throw new Error('HelpdeskWidget: `position` is "left" or "right"');
  if (raw.strings !== undefined && (typeof raw.strings !== "object" || raw.strings === null)) {
    throw new Error("HelpdeskWidget: `strings` must be an object of { key: text }");
  }
  return {
    url,
    customer: checkCustomer(raw.customer),
    title: optionalString("title", raw.title),
    greeting: optionalString("greeting", raw.greeting),
    locale: optionalString("locale", raw.locale),
    strings: { ...raw.strings },
    position,
    launcherText: optionalString("launcherText", raw.launcherText),
  };
}

/** Start the widget (a second call replaces the first). The panel comes back open if it was open. */
function init(raw) {
  const checked = checkOptions(raw);
  if (widget) widget.destroy();
  options = checked;
  const active = document.activeElement;
  // Restored open after a page load: the cursor goes to the chat only if the page has not put it somewhere else.
  widget = new Widget(options, emit, { focus: !active || active === document.body });
  const waiting = deferred;
  deferred = [];
  for (const [method, args] of waiting) API[method](...args);
}

/** Remove the widget and close its connection (the conversation stays stored for the next init). */
function destroy() {
  if (widget) widget.destroy();
  widget = null;
  options = null;
}

function later(method, args) {
  deferred.push([method, args]);
}

function open() {
  if (widget) widget.open();
  else later("open", []);
}

function close() {
  if (widget) widget.close();
  else later("close", []);
}

function toggle() {
  if (widget) widget.toggle();
  else later("toggle", []);
}

/**
 * Change settings of the running widget. `customer`: an object on login (switches to that customer's conversation),
 * null on logout (forgets the signed-in conversation and starts a fresh anonymous session). Looks (title, locale,
 * strings, position, launcherText, greeting) rebuild the widget in place; the conversation and the panel stay.
 */
function update(patch) {
  if (!widget) {
    later("update", [patch]);
    return;
  }
  if (!patch || typeof patch !== "object") throw new Error("HelpdeskWidget.update: pass an object, e.g. { customer }");
  for (const key of Object.keys(patch)) {
    if (key !== "customer" && !LOOK.includes(key)) console.warn(`HelpdeskWidget.update: "${key}" cannot be updated (ignored)`);
  }
  const next = { ...options, strings: { ...options.strings } };
  let restart = false;
  let logout = false;
  if ("customer" in patch) {
    const customer = checkCustomer(patch.customer);
    const current = options.customer;
    if (!customer) logout = restart = Boolean(current); // already anonymous: nothing to drop
    else if (!current || customer.id !== current.id) restart = true;
    else widget.customer = customer; // the same customer: a fresh signature or a new name, same conversation
    next.customer = customer;
  }
  for (const key of LOOK) {
    if (key in patch) {
      next[key] = key === "strings" ? { ...next.strings, ...patch.strings } : patch[key];
      restart = true;
    }
  }
  options = checkOptions(next);
  if (!restart) return;
  const hadFocus = document.activeElement === widget.v.host; // focus inside a shadow root shows as its host
  const old = widget;
  old.destroy();
  if (logout) old.forgetSessions();
  widget = new Widget(options, emit, { focus: hadFocus, quiet: true });
}

function on(name, fn) {
  emitter.on(name, fn);
}

function off(name, fn) {
  emitter.off(name, fn);
}

const API = { init, destroy, open, close, toggle, update, on, off };

/** `HelpdeskWidget("open")` is `HelpdeskWidget.open()`: the snippet's call style keeps working after load. */
function HelpdeskWidget(method, ...args) {
  if (!Object.prototype.hasOwnProperty.call(API, method)) {
    console.warn(`HelpdeskWidget: unknown command "${method}" (one of ${Object.keys(API).join(", ")})`);
    return undefined;
  }
  return API[method](...args);
}
Object.assign(HelpdeskWidget, API, { loaded: true });

const stub = window.HelpdeskWidget;
if (stub && stub.loaded) {
  console.warn("HelpdeskWidget: widget.js is on this page twice; the first copy stays");
} else {
  window.HelpdeskWidget = HelpdeskWidget;
  for (const args of (stub && Array.isArray(stub.q) && stub.q) || []) {
    try {
      HelpdeskWidget(...args);
    } catch (error) {
      console.error("HelpdeskWidget: a queued call failed", args[0], error);
    }
  }
}

// Safe DOM building: text goes in with textContent / text nodes only, never innerHTML; links only http(s).

const URL_PATTERN = /\bhttps?:\/\/[^\s<>"'`]+/gi;
const TRAILING = /[).,;:!?\]}'"]+$/;
// Explicit bidi controls (LRE RLE PDF LRO RLO, LRI RLI FSI PDI). Typed into a name or a message, an override
// (U+202E) would reverse the text after it, and an unmatched isolate (U+2069) could close the isolation around it;
// so they are dropped from every string the UI shows. Arabic or Hebrew text keeps its direction: it is strong by
// itself, and user text sits in elements with dir="auto" and unicode-bidi: isolate (see the style sheets).
const BIDI_CONTROLS = /[\u202A-\u202E\u2066-\u2069]/g;

/** User-supplied text as it may be shown: a string, without bidi control characters. */
export function plain(text) {
  return String(text ?? "").replace(BIDI_CONTROLS, "");
}

/**
 * Create an element. `attrs` keys: class, text, on (event map), data (dataset), style is not allowed on purpose;
 * anything else becomes an attribute (aria-*, role, type, ...). Children: nodes or strings (as text nodes).
 */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = plain(value);
    else if (key === "on") for (const [ev, fn] of Object.entries(value)) node.addEventListener(ev, fn);
    else if (key === "data") for (const [k, v] of Object.entries(value)) node.dataset[k] = String(v);
    else if (key === "hidden") node.hidden = Boolean(value);
    else if (key === "value") node.value = String(value);
    else node.setAttribute(key, value === true ? "" : plain(value)); // title, aria-label: shown or read out too
  }
  append(node, children);
  return node;
}

export function append(node, children) {
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(plain(child)));
  }
  return node;
}

export function clear(node) {
  while (node.firstChild) node.removeChild(node.firstChild);
  return node;
}

/** A URL string if it is an absolute http(s) URL, otherwise null (javascript:, data:, relative... are refused). */
export function safeHttpUrl(raw) {
  if (typeof raw !== "string") return null;
  try {
    const url = new URL(raw);
    return url.protocol === "http:" || url.protocol === "https:" ? url.href : null;
  } catch {
    return null;
  }
}

/** Message text as nodes: plain text plus anchors for bare http(s) URLs (rel=noopener, new tab). */
export function richText(text) {
  const fragment = document.createDocumentFragment();
  const source = plain(text);
  let last = 0;
  for (const match of source.matchAll(URL_PATTERN)) {
    let raw = match[0];
    const trailing = raw.match(TRAILING);
    if (trailing) raw = raw.slice(0, -trailing[0].length);
    const start = match.index;
    const href = safeHttpUrl(raw);
    if (!href) continue;
    if (start > last) fragment.append(document.createTextNode(source.slice(last, start)));
    const a = document.createElement("a");
    a.href = href;
    a.textContent = raw;
    a.target = "_blank";
    a.rel = "noopener noreferrer nofollow";
    fragment.append(a);
    last = start + raw.length;
  }
  if (last < source.length) fragment.append(document.createTextNode(source.slice(last)));
  return fragment;
}

/** A random id for idempotent sends (client_id). */
export function clientId(prefix = "c") {
  const bytes = new Uint8Array(12);
  crypto.getRandomValues(bytes);
  return prefix + "_" + Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

export function formatTime(iso) {
  const date = iso ? new Date(iso) : new Date();
  if (Number.isNaN(date.getTime())) return "";
  return date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}

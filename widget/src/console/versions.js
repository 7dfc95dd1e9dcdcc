// "Did it help? By model version", on the Needs training page (designers and leads): per intent, containment and
// escalation rate of the conversations each Rasa model version answered (GET /api/training/versions, computed in
// handoff/analytics/versions.py), the last versions side by side, and for the newest one against the one before it
// whether containment went up. Small counts are said to be small, never turned into an arrow. Text goes in with
// textContent only (el(..., { text })).
import { clear, el } from "../shared/dom.js";

const WINDOWS = ["7d", "30d", "90d"];
const SHOWN = 3; // at most the last three versions side by side
const MIN_N = 5; // fewer engaged conversations on either side: no verdict
const UNKNOWN = "unknown"; // conversations no known model answered (handoff.analytics.metrics.ConversationFacts)

/** The section: heading, window selector, and the table (or an empty state), loaded now and on each window change. */
export function versionsSection(api) {
  let window_ = "30d";
  let asked = 0;
  const body = el("div", { id: "nt-versions-body" }, el("p", { class: "muted", text: "Loading…" }));
  const select = el(
    "select",
    {
      id: "nt-versions-window",
      on: {
        change: (e) => {
          window_ = e.target.value;
          load();
        },
      },
    },
    ...WINDOWS.map((w) => el("option", { value: w, text: `Last ${w}`, selected: w === window_ })),
  );

  async function load() {
    const mine = ++asked; // a slower answer for an earlier window never replaces a newer one
    let data;
    try {
      data = await api.request("GET", `/api/training/versions?window=${encodeURIComponent(window_)}`);
    } catch (err) {
      if (mine === asked) clear(body).append(el("p", { class: "muted", role: "alert", text: `Could not load the model versions: ${err.message}` }));
      return;
    }
    if (mine === asked) clear(body).append(...render(data, window_));
  }

  load();
  return el(
    "section",
    { class: "panel nt-versions", id: "nt-versions", "aria-labelledby": "nt-versions-title" },
    el("h2", { id: "nt-versions-title", text: "Did it help? By model version" }),
    el("p", {
      class: "muted",
      text: "Per intent, how many conversations each model version kept with the bot (containment) and how many it handed to a person (escalation). A conversation counts for the model that answered its first bot turn and for its first topical intent.",
    }),
    el("p", {}, el("label", { for: "nt-versions-window", text: "Conversations started in the " }), select),
    body,
  );
}

function render(data, window_) {
  const models = (data.models || []).filter((m) => m.model !== UNKNOWN).slice(-SHOWN);
  if (!models.length) {
    return [el("p", { class: "muted", id: "nt-versions-empty", text: "No conversations answered by a known model version in this window." })];
  }
  const ids = models.map((m) => m.model);
  const compare = models.length > 1;
  const [before, after] = compare ? ids.slice(-2) : [null, null];
  const rows = (data.intents || [])
    .map((i) => ({ intent: i.intent, cells: ids.map((id) => (i.by_model || {})[id] || null) }))
    .filter((r) => total(r.cells) > 0)
    .sort((a, b) => total(b.cells) - total(a.cells) || a.intent.localeCompare(b.intent));
  const older = (data.models || []).filter((m) => m.model !== UNKNOWN).length - models.length;
  return [
    el(
      "p",
      { class: "muted", id: "nt-versions-legend" },
      `Last ${window_}. Each cell: containment · escalation rate · n engaged conversations.`,
      compare ? ` The last column compares ${short(after)} with ${short(before)}: ▲ better (containment up), ▼ worse, = same; no verdict below ${MIN_N} conversations on either side.` : "",
      older > 0 ? ` ${older} older version${older > 1 ? "s" : ""} not shown.` : "",
    ),
    el(
      "table",
      {
        class: "sc-table nt-versions__table",
        id: "nt-versions-table",
        "aria-label": "Containment and escalation per intent and model version",
        "aria-describedby": "nt-versions-legend",
      },
      el(
        "thead",
        {},
        el(
          "tr",
          {},
          el("th", { scope: "col", text: "Intent" }),
          ...models.map((m) => versionHeader(m)),
          compare ? el("th", { scope: "col", text: `Did it help? (${short(after)} vs ${short(before)})` }) : null,
        ),
      ),
      el(
        "tbody",
        {},
        ...rows.map((r) =>
          row(r.intent === UNKNOWN ? "(no topical intent)" : r.intent, r.cells, compare, { intent: r.intent }),
        ),
      ),
      el("tfoot", {}, row("All intents", models, compare, { intent: "" })),
    ),
  ];
}

function versionHeader(m) {
  return el(
    "th",
    { scope: "col", title: m.model, data: { model: m.model } },
    el("span", { class: "nt-versions__id", text: short(m.model) }),
    m.current ? el("strong", { text: " (current)" }) : null,
    el("br", {}),
    el("span", { class: "muted", text: `first seen ${day(m.first_seen)}` }),
  );
}

/** One row: a th (the intent), a cell per version, and the verdict newest vs previous. */
function row(label, cells, compare, data) {
  return el(
    "tr",
    { data },
    el("th", { scope: "row", text: label }),
    ...cells.map((c) => el("td", { text: cellText(c) })),
    compare ? verdictCell(cells[cells.length - 2], cells[cells.length - 1]) : null,
  );
}

function cellText(c) {
  if (!c || !c.engaged) return "—";
  return `${pct(c.containment)} · ${pct(c.escalation_rate)} · n=${c.engaged}`;
}

function verdictCell(before, after) {
  const nb = (before && before.engaged) || 0;
  const na = (after && after.engaged) || 0;
  if (nb < MIN_N || na < MIN_N) {
    return el("td", { data: { verdict: "few" } }, el("span", { class: "chip chip--low", text: `n < ${MIN_N}: too few to tell` }));
  }
  const points = Math.round(after.containment * 100) - Math.round(before.containment * 100);
  const [verdict, chip, text] =
    points > 0 ? ["better", "chip chip--ok", `▲ better (+${points} pts)`] : points < 0 ? ["worse", "chip chip--alarm", `▼ worse (−${-points} pts)`] : ["same", "chip", "= same"];
  return el("td", { data: { verdict } }, el("span", { class: chip, text }));
}

function total(cells) {
  return cells.reduce((n, c) => n + ((c && c.engaged) || 0), 0);
}

function short(id) {
  return String(id).slice(0, 8);
}

function pct(value) {
  return typeof value === "number" ? `${Math.round(value * 100)}%` : "—";
}

/** The local calendar date of an ISO time, as YYYY-MM-DD (unambiguous in every locale). */
function day(iso) {
  const at = iso ? new Date(iso) : null;
  if (!at || Number.isNaN(at.getTime())) return "?";
  const two = (n) => String(n).padStart(2, "0");
  return `${at.getFullYear()}-${two(at.getMonth() + 1)}-${two(at.getDate())}`;
}

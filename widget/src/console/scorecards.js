// The Scorecards page: the article's metrics with their targets and ok/warn/alarm status ("sample too small" under
// MIN_SAMPLE cases instead of a verdict), a daily time series and bars cut by reason, tier, intent or agent (by name;
// Chart.js, bundled; no inline script, so it runs under the CSP), and a CSV export of the same numbers.
import {
  BarController,
  BarElement,
  CategoryScale,
  Chart,
  Legend,
  LinearScale,
  LineController,
  LineElement,
  PointElement,
  Tooltip,
} from "chart.js";

import { clear, el } from "../shared/dom.js";

Chart.register(BarController, BarElement, CategoryScale, LinearScale, LineController, LineElement, PointElement, Legend, Tooltip);

export const METRICS = {
  containment: { label: "Bot containment (L1 resolution)", kind: "percent" },
  escalation_rate: { label: "AI-to-human escalation rate", kind: "percent" },
  handoff_delay_p90_high_seconds: { label: "Handoff delay p90, high priority", kind: "minutes" },
  bounceback_rate: { label: "Escalation bounceback (bot escalated wrongly)", kind: "percent" },
  handback_solved_rate: { label: "Handed back solved (the bot carries on)", kind: "percent" },
  context_loss_rate: { label: "Context loss (had to ask again)", kind: "percent" },
  recontact_rate: { label: "Re-contact (\u201cwhat's happening with my case?\u201d)", kind: "percent" },
  sla_breach_rate: { label: "SLA breach rate", kind: "percent" },
  handoff_churn: { label: "Handoff churn (changes per escalation)", kind: "number" },
  csat: { label: "CSAT (1-5)", kind: "number" },
};
const GROUPS = { reason: "escalations", tier: "containment", intent: "escalation_rate", agent: "handoff_delay_p90_high_seconds" };
const STATUS_COLOR = { ok: "#12805c", warn: "#d98a0b", alarm: "#c0271c", "n/a": "#9aa3b2", small: "#c6cdda" };
// Below this many cases a rate is anecdote: no ok/warn/alarm verdict, "sample too small" instead.
export const MIN_SAMPLE = 20;

/** The verdict to show: the metric's status, or "small" when its sample (denominator) is under MIN_SAMPLE. */
export function verdict(metric) {
  if (!metric || metric.status === "n/a") return "n/a";
  const n = metric.denominator;
  return typeof n === "number" && n < MIN_SAMPLE ? "small" : metric.status;
}

export function formatValue(kind, value) {
  if (value === null || value === undefined) return "–";
  if (kind === "percent") return `${(value * 100).toFixed(1)}%`;
  if (kind === "minutes") return `${(value / 60).toFixed(1)} min`;
  if (kind === "count") return String(value);
  return Number(value).toFixed(2);
}

function chartValue(kind, value) {
  if (value === null || value === undefined) return null;
  if (kind === "percent") return Math.round(value * 1000) / 10;
  if (kind === "minutes") return Math.round(value / 6) / 10;
  return value;
}

function statusChip(status) {
  if (status === "small") {
    return el("span", { class: "chip chip--status chip--small-n", text: "sample too small", title: `Fewer than ${MIN_SAMPLE} cases: no verdict` });
  }
  return el("span", { class: `chip chip--status chip--${status === "n/a" ? "na" : status}`, text: status });
}

export class Scorecards {
  constructor(api, toast) {
    this.api = api;
    this.toast = toast;
    this.window = "7d";
    this.groupBy = "reason";
    this.metric = GROUPS.reason;
    this.charts = [];
  }

  destroy() {
    for (const chart of this.charts) chart.destroy();
    this.charts = [];
  }

  render(container) {
    this.destroy();
    this.container = container;
    const windowSelect = el(
      "select",
      { id: "sc-window", "aria-label": "Window", on: { change: (e) => { this.window = e.target.value; this.load(); } } },
      ...["24h", "7d", "14d", "30d"].map((w) => el("option", { value: w, text: `Last ${w}`, selected: w === this.window })),
    );
    this.csvButton = el("button", {
      type: "button",
      class: "btn btn--ghost btn--small",
      id: "sc-csv",
      text: "Export CSV",
      on: { click: () => this.exportCsv() },
    });
    this.summary = el("p", { class: "muted", id: "sc-summary", text: "Loading…" });
    this.cards = el("div", { class: "sc-cards", id: "sc-cards" });
    this.seriesCanvas = el("canvas", { id: "sc-series", role: "img", "aria-label": "Daily containment and escalation rate" });
    this.barsCanvas = el("canvas", { id: "sc-bars", role: "img", "aria-label": "Metric by group" });
    this.groupSelect = el(
      "select",
      { id: "sc-group", "aria-label": "Cut by", on: { change: (e) => { this.groupBy = e.target.value; this.metric = GROUPS[this.groupBy]; this.metricSelect.value = this.metric; this.loadGroups(); } } },
      ...Object.keys(GROUPS).map((g) => el("option", { value: g, text: `by ${g}`, selected: g === this.groupBy })),
    );
    this.metricSelect = el(
      "select",
      { id: "sc-metric", "aria-label": "Metric", on: { change: (e) => { this.metric = e.target.value; this.renderGroups(); } } },
      el("option", { value: "escalations", text: "Escalations (count)" }),
      ...Object.entries(METRICS).map(([name, m]) => el("option", { value: name, text: m.label })),
    );
    this.metricSelect.value = this.metric;
    this.groupTable = el("table", { class: "sc-table", id: "sc-group-table" });
    clear(container).append(
      el(
        "div",
        { class: "page" },
        el(
          "div",
          { class: "page__head" },
          el("h1", { text: "Scorecards" }),
          el("span", { class: "topbar__spacer" }),
          windowSelect,
          this.csvButton,
        ),
        this.summary,
        this.cards,
        el(
          "section",
          { class: "panel sc-chart" },
          el("h2", { text: "Last 14 days: containment and escalation rate per day (targets dashed)" }),
          el("div", { class: "sc-canvas" }, this.seriesCanvas),
        ),
        el(
          "section",
          { class: "panel sc-chart" },
          el("h2", {}, "Scorecard ", this.groupSelect, this.metricSelect),
          el("div", { class: "sc-canvas" }, this.barsCanvas),
          this.groupTable,
        ),
      ),
    );
    this.load();
    this.loadSeries();
  }

  async load() {
    try {
      this.report = await this.api.metrics(this.window, "all");
    } catch (err) {
      this.summary.textContent = `Could not load the metrics: ${err.message}`;
      return;
    }
    const o = this.report.overall;
    this.summary.textContent = `${o.engaged} engaged conversations and ${o.escalations} escalations in the last ${this.window}.`;
    clear(this.cards).append(
      ...Object.entries(METRICS).map(([name, meta]) => {
        const m = o.metrics[name];
        const status = verdict(m);
        const n =
          m.denominator === null || m.denominator === undefined
            ? ""
            : `n = ${m.denominator}${status === "small" ? ` (fewer than ${MIN_SAMPLE}: no verdict)` : ""}`;
        return el(
          "article",
          { class: `sc-card sc-card--${status === "n/a" ? "na" : status === "small" ? "small-n" : status}`, data: { metric: name } },
          el("div", { class: "sc-card__top" }, el("h3", { text: meta.label }), statusChip(status)),
          el("div", { class: "sc-card__value", text: formatValue(meta.kind, m.value) }),
          el("div", { class: "muted sc-card__target", text: `Target: ${m.target || "–"}` }),
          el("div", { class: "muted sc-card__n", text: n }),
        );
      }),
    );
    this.loadGroups();
  }

  async loadSeries() {
    let data;
    try {
      data = await this.api.metricsSeries(14);
    } catch (err) {
      this.toast(`Could not load the daily series: ${err.message}`, "error");
      return;
    }
    const labels = data.days.map((d) => d.date.slice(5));
    const pct = (v) => (v === null ? null : Math.round(v * 1000) / 10);
    const flat = (v) => data.days.map(() => v);
    this.seriesChart = new Chart(this.seriesCanvas, {
      data: {
        labels,
        datasets: [
          { type: "bar", label: "Escalations", data: data.days.map((d) => d.escalations), yAxisID: "count", backgroundColor: "rgba(37,83,216,0.18)" },
          { type: "line", label: "Containment %", data: data.days.map((d) => pct(d.containment)), yAxisID: "pct", borderColor: "#12805c", backgroundColor: "#12805c", tension: 0.25, spanGaps: true },
          { type: "line", label: "Escalation rate %", data: data.days.map((d) => pct(d.escalation_rate)), yAxisID: "pct", borderColor: "#c0271c", backgroundColor: "#c0271c", tension: 0.25, spanGaps: true },
          { type: "line", label: "Containment target (70%)", data: flat(70), yAxisID: "pct", borderColor: "#12805c", borderDash: [6, 4], borderWidth: 1, pointRadius: 0 },
          { type: "line", label: "Escalation healthy max (10%)", data: flat(10), yAxisID: "pct", borderColor: "#c0271c", borderDash: [6, 4], borderWidth: 1, pointRadius: 0 },
        ],
      },
      options: {
        animation: false,
        maintainAspectRatio: false,
        scales: {
          pct: { type: "linear", position: "left", min: 0, max: 100, title: { display: true, text: "%" } },
          count: { type: "linear", position: "right", beginAtZero: true, grid: { drawOnChartArea: false }, title: { display: true, text: "escalations" } },
        },
        plugins: { legend: { position: "bottom" } },
      },
    });
    this.charts.push(this.seriesChart);
  }

  async loadGroups() {
    try {
      this.groups = await this.api.metrics(this.window, this.groupBy);
    } catch (err) {
      this.toast(`Could not load the scorecard: ${err.message}`, "error");
      return;
    }
    this.renderGroups();
  }

  renderGroups() {
    if (!this.groups) return;
    const meta = this.metric === "escalations" ? { label: "Escalations", kind: "count" } : METRICS[this.metric];
    // Agents are named (the gateway joins them; "agent:7" only if the agent is gone).
    const rows = this.groups.groups.map((g) => {
      const key = g.label || g.key;
      if (this.metric === "escalations") return { key, value: g.escalations, status: "n/a", target: "–", n: g.escalations };
      const m = g.metrics[this.metric];
      return { key, value: m.value, status: verdict(m), target: m.target || "–", n: m.denominator };
    });
    const shown = rows.filter((r) => r.value !== null && r.value !== undefined);
    const data = {
      labels: shown.map((r) => r.key),
      datasets: [
        {
          label: meta.label + (meta.kind === "percent" ? " %" : meta.kind === "minutes" ? " (min)" : ""),
          data: shown.map((r) => chartValue(meta.kind, r.value)),
          backgroundColor: shown.map((r) => (this.metric === "escalations" ? "#2553d8" : STATUS_COLOR[r.status])),
        },
      ],
    };
    if (this.barsChart) {
      this.barsChart.data = data;
      this.barsChart.update();
    } else {
      this.barsChart = new Chart(this.barsCanvas, {
        type: "bar",
        data,
        options: {
          animation: false,
          maintainAspectRatio: false,
          indexAxis: "y",
          scales: { x: { beginAtZero: true } },
          plugins: { legend: { display: false } },
        },
      });
      this.charts.push(this.barsChart);
    }
    clear(this.groupTable).append(
      el("thead", {}, el("tr", {}, ...[this.groupBy, meta.label, "n", "status", "target"].map((h) => el("th", { text: h })))),
      el(
        "tbody",
        {},
        ...(rows.length
          ? rows.map((r) =>
              el(
                "tr",
                {},
                el("td", { text: r.key }),
                el("td", { text: formatValue(meta.kind, r.value) }),
                el("td", { text: r.n ?? "" }),
                el("td", {}, statusChip(r.status)),
                el("td", { class: "muted", text: r.target }),
              ),
            )
          : [el("tr", {}, el("td", { colspan: "5", class: "muted", text: "No data in this window." }))]),
      ),
    );
  }

  async exportCsv() {
    this.csvButton.disabled = true;
    try {
      const blob = await this.api.metricsCsv(this.window, this.groupBy);
      const url = URL.createObjectURL(blob);
      const a = el("a", { href: url, download: `handoff-metrics-${this.window}-${this.groupBy}.csv` });
      document.body.append(a);
      a.click();
      a.remove();
      window.setTimeout(() => URL.revokeObjectURL(url), 10000);
    } catch (err) {
      this.toast(`CSV export failed: ${err.message}`, "error");
    } finally {
      this.csvButton.disabled = false;
    }
  }
}

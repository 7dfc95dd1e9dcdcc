// REST calls to the gateway (/api/...), with the agent's bearer token.

export class ApiError extends Error {
  constructor(status, message, code) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

export class Api {
  constructor(base = "") {
    this.base = base;
    this.token = null;
  }

  async request(method, path, body) {
    const headers = { Accept: "application/json" };
    if (this.token) headers.Authorization = `Bearer ${this.token}`;
    if (body !== undefined) headers["Content-Type"] = "application/json";
    let response;
    try {
      response = await fetch(this.base + path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch {
      throw new ApiError(0, "The gateway is unreachable. Check your connection.", "network");
    }
    const data = await response.json().catch(() => ({}));
    if (!response.ok) throw new ApiError(response.status, data.error || `HTTP ${response.status}`, data.code);
    return data;
  }

  login(email, password) {
    return this.request("POST", "/api/login", { email, password });
  }

  me() {
    return this.request("GET", "/api/me");
  }

  conversation(id) {
    return this.request("GET", `/api/conversations/${encodeURIComponent(id)}`);
  }

  customer(id) {
    return this.request("GET", `/api/conversations/${encodeURIComponent(id)}/customer`);
  }

  conversations(state) {
    return this.request("GET", `/api/conversations?state=${encodeURIComponent(state)}&limit=200`);
  }

  cannedReplies() {
    return this.request("GET", "/api/canned_replies");
  }

  // Metrics and the designer's review (Scorecards and Needs training pages).
  metrics(window, groupBy) {
    return this.request("GET", `/api/metrics?window=${encodeURIComponent(window)}&group_by=${encodeURIComponent(groupBy)}`);
  }

  metricsSeries(days) {
    return this.request("GET", `/api/metrics/series?days=${encodeURIComponent(days)}`);
  }

  nluMisses(window) {
    return this.request("GET", `/api/nlu_misses?window=${encodeURIComponent(window)}`);
  }

  // The designer's learning loop: intents to label with, labels, retrain, read-only transcripts.
  trainingIntents() {
    return this.request("GET", "/api/training/intents");
  }

  label(body) {
    return this.request("POST", "/api/training/labels", body);
  }

  retrainStatus() {
    return this.request("GET", "/api/training/retrain");
  }

  retrain() {
    return this.request("POST", "/api/training/retrain", {});
  }

  trainingTranscript(id) {
    return this.request("GET", `/api/training/conversations/${encodeURIComponent(id)}`);
  }

  /** The CSV export as a Blob (fetched with the bearer token, which a plain link could not send). */
  async metricsCsv(window, groupBy) {
    const query = `window=${encodeURIComponent(window)}&group_by=${encodeURIComponent(groupBy)}&format=csv`;
    const response = await fetch(`${this.base}/api/metrics?${query}`, {
      headers: { Authorization: `Bearer ${this.token}`, Accept: "text/csv" },
    });
    if (!response.ok) throw new ApiError(response.status, `HTTP ${response.status}`);
    return response.blob();
  }
}

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
}

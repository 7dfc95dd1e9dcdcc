// What the widget keeps in localStorage: the server-issued session id, the offline outbox, CSAT already given, the
// agent on the conversation. One record per gateway and per customer (anonymous visitors share "anon"), so switching
// identity on the host page never mixes two people's conversations; logging out forgets the records. Whether the
// panel is open is kept per gateway (PanelState), so a reload or the next page of the site shows it as it was.

const PREFIX = "helpdesk-widget";

function safeStorage() {
  try {
    const probe = `${PREFIX}.probe`;
    window.localStorage.setItem(probe, "1");
    window.localStorage.removeItem(probe);
    return window.localStorage;
  } catch {
    return null; // private mode or blocked storage: the widget still works, without persistence
  }
}

function keyFor(url, name) {
  return `${PREFIX}.${url.replace(/[^A-Za-z0-9]+/g, "_")}.${name}`;
}

export class WidgetStore {
  constructor(url, customerId) {
    this.storage = safeStorage();
    this.key = keyFor(url, customerId || "anon");
    this.memory = {};
  }

  read() {
    if (!this.storage) return this.memory;
    try {
      const value = JSON.parse(this.storage.getItem(this.key) || "{}");
      return value && typeof value === "object" ? value : {};
    } catch {
      return {};
    }
  }

  write(patch) {
    const value = { ...this.read(), ...patch };
    if (!this.storage) {
      this.memory = value;
      return;
    }
    try {
      this.storage.setItem(this.key, JSON.stringify(value));
    } catch {
      this.memory = value;
    }
  }

  get sessionId() {
    return typeof this.read().session_id === "string" ? this.read().session_id : null;
  }

  set sessionId(value) {
    this.write({ session_id: value });
  }

  get outbox() {
    const box = this.read().outbox;
    return Array.isArray(box) ? box.filter((m) => m && typeof m.client_id === "string" && typeof m.text === "string") : [];
  }

  set outbox(list) {
    this.write({ outbox: list });
  }

  get rated() {
    const rated = this.read().rated;
    return Array.isArray(rated) ? rated : [];
  }

  markRated(key) {
    this.write({ rated: [...this.rated.filter((k) => k !== key), key].slice(-20) });
  }

  /** The agent who joined last ({ name, seq }: seq is the newest message seq when they joined), or null. */
  get agent() {
    const agent = this.read().agent;
    return agent && typeof agent.name === "string" && agent.name ? { name: agent.name, seq: Number(agent.seq) || 0 } : null;
  }

  set agent(value) {
    this.write({ agent: value });
  }

  /** Drop the whole record (session id, outbox, ratings, agent): logging out, the next person starts clean. */
  forget() {
    this.memory = {};
    try {
      if (this.storage) this.storage.removeItem(this.key);
    } catch {
      // blocked storage: nothing was kept there
    }
  }
}

/** Open or closed, per gateway (not per customer): restored by the next page load. JSON like the other records. */
export class PanelState {
  constructor(url) {
    this.storage = safeStorage();
    this.key = keyFor(url, "panel");
  }

  get open() {
    try {
      const value = JSON.parse((this.storage && this.storage.getItem(this.key)) || "{}");
      return Boolean(value && value.open === true);
    } catch {
      return false;
    }
  }

  set open(value) {
    try {
      if (this.storage) this.storage.setItem(this.key, JSON.stringify({ open: Boolean(value) }));
    } catch {
      // full or blocked storage: the panel just starts closed next time
    }
  }
}

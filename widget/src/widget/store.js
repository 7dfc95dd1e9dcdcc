// What the widget keeps in localStorage: the server-issued session id, the offline outbox, CSAT already given.
// One record per gateway and per customer (anonymous visitors share "anon"), so switching identity on the
// host page never mixes two people's conversations.

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

export class WidgetStore {
  constructor(url, customerId) {
    this.storage = safeStorage();
    const host = url.replace(/[^A-Za-z0-9]+/g, "_");
    this.key = `${PREFIX}.${host}.${customerId || "anon"}`;
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

  reset() {
    this.write({ session_id: null, outbox: [], rated: [] });
  }
}

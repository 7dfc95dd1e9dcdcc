// What a host page can listen to with HelpdeskWidget.on(name, fn) / off(name, fn).

export const EVENTS = ["open", "close", "message", "handoff", "agent-joined", "resolved"];

export class Emitter {
  constructor() {
    this.handlers = new Map(EVENTS.map((name) => [name, []]));
  }

  on(name, fn) {
    if (!this.handlers.has(name)) throw new Error(`HelpdeskWidget.on: unknown event "${name}" (one of ${EVENTS.join(", ")})`);
    if (typeof fn !== "function") throw new Error("HelpdeskWidget.on: the handler must be a function");
    this.handlers.get(name).push(fn);
  }

  /** Remove one handler, or every handler of the event when `fn` is left out. */
  off(name, fn) {
    const list = this.handlers.get(name);
    if (!list) return;
    if (fn === undefined) list.length = 0;
    else {
      const at = list.lastIndexOf(fn);
      if (at >= 0) list.splice(at, 1);
    }
  }

  /** Call the handlers; one that throws is reported and does not stop the others or the widget. */
  emit(name, detail = {}) {
    for (const fn of [...(this.handlers.get(name) || [])]) {
      try {
        fn(detail);
      } catch (error) {
        console.error(`HelpdeskWidget: a "${name}" handler failed`, error);
      }
    }
  }
}

// New hand-off notification: a flashing tab title and a short chime made with WebAudio (mutable, remembered).

const MUTE_KEY = "support-console.muted";

export class Notifier {
  constructor() {
    this.baseTitle = document.title;
    this.flashTimer = null;
    this.unseen = 0;
    this.audio = null;
    this.chimes = 0;
    this.muted = window.localStorage.getItem(MUTE_KEY) === "1";
    // Browsers only let a page start audio after a user gesture: create the context on the first one.
    const unlock = () => this.ensureAudio();
    window.addEventListener("pointerdown", unlock, { capture: true });
    window.addEventListener("keydown", unlock, { capture: true });
  }

  ensureAudio() {
    const Context = window.AudioContext || window.webkitAudioContext;
    if (!Context) return null;
    if (!this.audio) {
      try {
        this.audio = new Context();
      } catch {
        return null;
      }
    }
    if (this.audio.state === "suspended") this.audio.resume().catch(() => {});
    return this.audio;
  }

  setMuted(muted) {
    this.muted = muted;
    window.localStorage.setItem(MUTE_KEY, muted ? "1" : "0");
  }

  /** Two short rising tones. */
  chime() {
    if (this.muted) return false;
    const ctx = this.ensureAudio();
    if (!ctx) return false;
    const start = ctx.currentTime + 0.01;
    [880, 1318.5].forEach((frequency, i) => {
      const osc = ctx.createOscillator();
      const gain = ctx.createGain();
      osc.type = "sine";
      osc.frequency.value = frequency;
      const t = start + i * 0.16;
      gain.gain.setValueAtTime(0.0001, t);
      gain.gain.exponentialRampToValueAtTime(0.25, t + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, t + 0.15);
      osc.connect(gain).connect(ctx.destination);
      osc.start(t);
      osc.stop(t + 0.16);
    });
    this.chimes += 1;
    document.body.dataset.chimes = String(this.chimes);
    return true;
  }

  /** Flash the tab title until the agent looks (focus plus a click or key), then stop. */
  flash(text) {
    this.unseen += 1;
    const alert = `(${this.unseen}) ${text}`;
    if (this.flashTimer) clearInterval(this.flashTimer);
    let on = true;
    document.title = alert;
    this.flashTimer = setInterval(() => {
      on = !on;
      document.title = on ? alert : this.baseTitle;
    }, 1000);
  }

  seen() {
    if (this.flashTimer) clearInterval(this.flashTimer);
    this.flashTimer = null;
    this.unseen = 0;
    document.title = this.baseTitle;
  }
}

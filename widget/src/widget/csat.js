// The post-chat rating: 1-5 and an optional comment, once per resolution (remembered in localStorage).
import { clear, el } from "../shared/dom.js";
import * as P from "../shared/protocol.js";
import { CSAT_PREFIX } from "./messages.js";

export class Csat {
  /** `w` the widget: v (view), s (strings), list, store, connection, sessionId, state. */
  constructor(w) {
    this.w = w;
  }

  /** Which resolution a rating belongs to: the newest message asking for one, else the session. */
  key() {
    const w = this.w;
    const seqs = [...w.list.messages.values()]
      .filter((m) => (m.quick_replies || []).some((r) => r && String(r.payload || "").startsWith(CSAT_PREFIX)))
      .map((m) => m.seq);
    return seqs.length ? `${w.sessionId}:${Math.max(...seqs)}` : `${w.sessionId}:resolved`;
  }

  refresh() {
    const slot = this.w.v.csat;
    const show = this.w.state === "resolved" && !this.w.store.rated.includes(this.key());
    if (!show) {
      if (!slot.querySelector(".hw-csat__thanks")) {
        slot.hidden = true;
        clear(slot);
      }
      return;
    }
    if (slot.querySelector("form")) return;
    slot.hidden = false;
    clear(slot).append(this.form());
  }

  form() {
    const s = this.w.s;
    const labels = [1, 2, 3, 4, 5].map((n) => s.t(`csat${n}`));
    const error = el("p", { class: "hw-csat__error", role: "alert", hidden: true });
    const comment = el("textarea", { id: "hw-csat-comment", class: "hw-input hw-csat__comment", rows: "2", maxlength: "1000" });
    const form = el(
      "form",
      {
        class: "hw-csat",
        "aria-labelledby": "hw-csat-title",
        on: {
          submit: (e) => {
            e.preventDefault();
            const picked = form.querySelector("input[name=score]:checked");
            if (!picked) {
              error.textContent = s.t("csatPick");
              error.hidden = false;
              return;
            }
            this.send(Number(picked.value), comment.value.trim(), form, error);
          },
        },
      },
      el("h3", { id: "hw-csat-title", class: "hw-csat__title", text: s.t("csatTitle") }),
      el(
        "fieldset",
        { class: "hw-csat__scale" },
        el("legend", { class: "hw-sr", text: s.t("csatLegend") }),
        labels.map((label, i) =>
          el(
            "label",
            { class: "hw-csat__option", title: label },
            el("input", { type: "radio", name: "score", value: String(i + 1), "aria-label": s.t("csatOption", { score: i + 1, label }) }),
            el("span", { class: "hw-csat__num", "aria-hidden": "true", text: String(i + 1) }),
          ),
        ),
      ),
      el("div", { class: "hw-csat__ends", "aria-hidden": "true" }, el("span", { text: labels[0] }), el("span", { text: labels[4] })),
      el("label", { for: "hw-csat-comment", class: "hw-csat__label", text: s.t("csatComment") }),
      comment,
      error,
      el("button", { type: "submit", class: "hw-button", text: s.t("csatSend") }),
    );
    return form;
  }

  async send(score, comment, form, error) {
    const w = this.w;
    if (!w.connection.ready) {
      error.textContent = w.s.t("csatOffline");
      error.hidden = false;
      return;
    }
    const key = this.key();
    const button = form.querySelector("button[type=submit]");
    button.disabled = true;
    const { err, ack } = await w.connection.request(P.CSAT, { score, comment });
    if (err || !ack || ack.error) {
      button.disabled = false;
      error.textContent = (ack && ack.error) || w.s.t("csatFailed");
      error.hidden = false;
      return;
    }
    w.store.markRated(key);
    clear(w.v.csat).append(el("p", { class: "hw-csat__thanks", role: "status", text: w.s.t("csatThanks", { score }) }));
  }
}

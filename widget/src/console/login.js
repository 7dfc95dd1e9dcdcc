// The sign-in screen and signing out.
import { clear, el } from "../shared/dom.js";

import { PRESENCE_KEY, TOKEN_KEY } from "./keys.js";

export const loginMethods = {
  showLogin(message = "") {
    const error = el("p", { class: "form-error", role: "alert", hidden: !message, text: message });
    const email = el("input", { id: "login-email", name: "email", type: "email", autocomplete: "username", required: true });
    const password = el("input", {
      id: "login-password",
      name: "password",
      type: "password",
      autocomplete: "current-password",
      required: true,
    });
    const submit = el("button", { type: "submit", class: "btn btn--primary btn--wide", text: "Sign in" });
    const form = el(
      "form",
      {
        class: "login__form",
        on: {
          submit: async (e) => {
            e.preventDefault();
            error.hidden = true;
            submit.disabled = true;
            try {
              const result = await this.api.login(email.value.trim(), password.value);
              window.sessionStorage.setItem(TOKEN_KEY, result.token);
              window.sessionStorage.removeItem(PRESENCE_KEY); // a sign-in starts away: going online is a choice
              this.api.token = result.token;
              this.agent = result.agent;
              this.showApp();
            } catch (err) {
              error.textContent = err.message;
              error.hidden = false;
              submit.disabled = false;
              password.select();
            }
          },
        },
      },
      el("div", { class: "field" }, el("label", { for: "login-email", text: "Work email" }), email),
      el("div", { class: "field" }, el("label", { for: "login-password", text: "Password" }), password),
      error,
      submit,
    );
    clear(this.root).append(
      el(
        "main",
        { class: "login" },
        el(
          "div",
          { class: "login__card" },
          el("div", { class: "brand brand--large" }, el("span", { class: "brand__mark", "aria-hidden": "true", text: "N" }), "Support console"),
          el("h1", { text: "Sign in" }),
          el("p", { class: "muted", text: "For Northwind Cloud support agents. Demo credentials are printed by make run." }),
          form,
        ),
      ),
    );
    email.focus();
  },

  logout(message = "") {
    window.sessionStorage.removeItem(TOKEN_KEY);
    window.sessionStorage.removeItem(PRESENCE_KEY);
    if (this.socket) this.socket.disconnect();
    this.socket = null;
    this.api.token = null;
    this.agent = null;
    this.current = null;
    this.showLogin(message);
  },
};

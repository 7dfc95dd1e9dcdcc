// The demo host page: pick who is browsing (anonymous or a signed-in demo customer), get the identity
// signature from the gateway's demo-only endpoint, start the widget.
import { plain } from "../shared/dom.js";

const DEMO_CUSTOMERS = ["cus_1001", "cus_1002", "cus_1003"];

function selected() {
  const fromUrl = new URLSearchParams(window.location.search).get("as");
  const value = fromUrl || window.localStorage.getItem("northwind-demo.as") || "anon";
  return DEMO_CUSTOMERS.includes(value) ? value : "anon";
}

function choose(value) {
  window.localStorage.setItem("northwind-demo.as", value);
  const url = new URL(window.location.href);
  url.searchParams.set("as", value);
  window.location.assign(url.toString());
}

async function signedIdentity(customerId) {
  const response = await fetch("/api/demo/identity", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ customer_id: customerId }),
  });
  if (!response.ok) {
    const body = await response.json().catch(() => ({}));
    throw new Error(body.error || `HTTP ${response.status}`);
  }
  return response.json();
}

function showSnippet(customer) {
  const lines = [
    "<script>",
    "  window.HelpdeskWidget = window.HelpdeskWidget || function () {",
    "    (HelpdeskWidget.q = HelpdeskWidget.q || []).push(arguments);",
    "  };",
    '  HelpdeskWidget("init", {',
    `    url: "${window.location.origin}",`,
  ];
  if (customer) {
    lines.push(
      `    customer: { id: "${customer.id}", email: "${customer.email}", name: "${customer.name}",`,
      `                signature: "${customer.signature.slice(0, 16)}…" },`,
    );
  }
  lines.push(
    '    title: "Northwind Cloud Support",',
    "  });",
    "</script>",
    `<script async src="${window.location.origin}/widget.js"></script>`,
  );
  document.getElementById("snippet").textContent = lines.join("\n");
}

async function main() {
  const as = selected();
  for (const input of document.querySelectorAll("#identity-switch input")) {
    input.checked = input.value === as;
    input.addEventListener("change", () => input.checked && choose(input.value));
  }
  const status = document.getElementById("identity-status");
  let customer = null;
  if (as !== "anon") {
    try {
      const identity = await signedIdentity(as);
      customer = { id: identity.id, email: identity.email, name: identity.name, signature: identity.signature };
      const name = plain(identity.name); // the signed name as sent; shown without bidi controls
      document.getElementById("account").textContent = `${name} · ${identity.tier}`;
      status.textContent = `Signed in as ${name} (${identity.tier} plan): the assistant knows who you are.`;
    } catch (error) {
      status.textContent = `Could not sign in the demo customer (${error.message}); chatting anonymously.`;
    }
  } else {
    status.textContent = "Anonymous visitor: the assistant will ask for your email when it needs it.";
  }
  showSnippet(customer);
  window.HelpdeskWidget.init({ url: window.location.origin, customer, title: "Northwind Cloud Support" });
  document.getElementById("open-chat").addEventListener("click", () => window.HelpdeskWidget.open());
}

main();

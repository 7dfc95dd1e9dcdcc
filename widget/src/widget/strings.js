// Every customer-facing string of the widget, one table per language. `{name}` marks a placeholder. A site picks a
// language with `locale` and may override single strings with `strings: { key: "text" }` (see the README).
// The bot's replies and the gateway's notices come from the server in the bot's language; these are the widget's own.

const en = {
  title: "Support",
  launcherOpen: "Open chat with {title}",
  launcherOpenUnread: "Open chat with {title}, {count} unread messages",
  launcherOpenUnreadOne: "Open chat with {title}, 1 unread message",
  launcherClose: "Close chat with {title}",
  closeChat: "Close chat",
  greeting: "Hi! I'm the virtual assistant. I can help with passwords, your account and billing.",
  starters: "Common questions",
  starterPassword: "I forgot my password",
  starterInvoice: "A question about my invoice",
  starterPerson: "Talk to a person",
  conversation: "Conversation",
  suggestedReplies: "Suggested replies",
  placeholder: "Type your message…",
  inputLabel: "Type your message",
  send: "Send message",
  footer: "Chats are recorded to help us support you.",
  connectionLost: "Connection lost. Reconnecting… Messages you type will be sent when it returns.",
  connectionError: "Can't reach support right now. Retrying… Messages you type will be sent later.",
  offline: "You're offline. Messages you type will be sent when the connection returns.",
  rateLimited: "You're sending messages very fast; please wait a moment.",
  tooLong: "That message is too long; please split it into shorter ones.",
  headerBot: "Virtual assistant · replies instantly",
  headerAgent: "{name} · Support agent",
  headerPerson: "A person is helping you",
  headerQueued: "Connecting you to a person…",
  headerL3: "With our engineering team",
  headerResolved: "Conversation resolved",
  queueConnecting: "Connecting you to a person…",
  queuePosition: "You are #{position} in the queue, about {minutes} min.",
  queuePlace: "You are #{position} in the queue; a person will pick up here when one joins.",
  agentLeft: "{name} left the conversation.",
  someAgent: "An agent",
  theAgent: "The agent",
  theAssistant: "The assistant",
  typing: "{who} is typing…",
  notice: "Notice: ",
  youSaid: "You said",
  agent: "Agent",
  assistant: "Assistant",
  botTag: "Bot",
  imageAlt: "Image from support",
  pendingQueued: "Waiting for connection…",
  pendingSending: "Sending…",
  pendingFailed: "Not sent",
  pendingFailedReason: "Not sent: {reason}",
  csatTitle: "How did we do?",
  csatLegend: "Rate this conversation from 1 (very poor) to 5 (great)",
  csat1: "Very poor",
  csat2: "Poor",
  csat3: "OK",
  csat4: "Good",
  csat5: "Great",
  csatOption: "{score} ({label})",
  csatComment: "Anything we could do better? (optional)",
  csatSend: "Send feedback",
  csatPick: "Please pick a score from 1 to 5.",
  csatOffline: "You're offline; please try again when the connection returns.",
  csatFailed: "We couldn't send your feedback; please try again.",
  csatThanks: "Thanks! You rated this conversation {score}/5.",
  launcherText: "",
};

const es = {
  title: "Soporte",
  launcherOpen: "Abrir el chat con {title}",
  launcherOpenUnread: "Abrir el chat con {title}, {count} mensajes sin leer",
  launcherOpenUnreadOne: "Abrir el chat con {title}, 1 mensaje sin leer",
  launcherClose: "Cerrar el chat con {title}",
  closeChat: "Cerrar el chat",
  greeting: "¡Hola! Soy el asistente virtual. Puedo ayudarte con contraseñas, tu cuenta y la facturación.",
  starters: "Preguntas frecuentes",
  starterPassword: "Olvidé mi contraseña",
  starterInvoice: "Una pregunta sobre mi factura",
  starterPerson: "Hablar con una persona",
  conversation: "Conversación",
  suggestedReplies: "Respuestas sugeridas",
  placeholder: "Escribe tu mensaje…",
  inputLabel: "Escribe tu mensaje",
  send: "Enviar mensaje",
  footer: "Guardamos los chats para poder ayudarte mejor.",
  connectionLost: "Se perdió la conexión. Reconectando… Lo que escribas se enviará cuando vuelva.",
  connectionError: "Ahora no podemos contactar con soporte. Reintentando… Lo que escribas se enviará más tarde.",
  offline: "Estás sin conexión. Lo que escribas se enviará cuando vuelva la conexión.",
  rateLimited: "Estás enviando mensajes muy rápido; espera un momento, por favor.",
  tooLong: "Ese mensaje es demasiado largo; divídelo en mensajes más cortos.",
  headerBot: "Asistente virtual · responde al instante",
  headerAgent: "{name} · Agente de soporte",
  headerPerson: "Una persona te está ayudando",
  headerQueued: "Te estamos pasando con una persona…",
  headerL3: "Con nuestro equipo técnico",
  headerResolved: "Conversación resuelta",
  queueConnecting: "Te estamos pasando con una persona…",
  queuePosition: "Eres el n.º {position} en la cola, unos {minutes} min.",
  queuePlace: "Eres el n.º {position} en la cola; una persona te atenderá aquí en cuanto se conecte.",
  agentLeft: "{name} ha salido de la conversación.",
  someAgent: "Un agente",
  theAgent: "El agente",
  theAssistant: "El asistente",
  typing: "{who} está escribiendo…",
  notice: "Aviso: ",
  youSaid: "Tú dijiste",
  agent: "Agente",
  assistant: "Asistente",
  botTag: "Bot",
  imageAlt: "Imagen de soporte",
  pendingQueued: "Esperando conexión…",
  pendingSending: "Enviando…",
  pendingFailed: "No enviado",
  pendingFailedReason: "No enviado: {reason}",
  csatTitle: "¿Qué tal lo hicimos?",
  csatLegend: "Valora esta conversación de 1 (muy mal) a 5 (genial)",
  csat1: "Muy mal",
  csat2: "Mal",
  csat3: "Regular",
  csat4: "Bien",
  csat5: "Genial",
  csatOption: "{score} ({label})",
  csatComment: "¿Qué podríamos mejorar? (opcional)",
  csatSend: "Enviar valoración",
  csatPick: "Elige una puntuación del 1 al 5.",
  csatOffline: "Estás sin conexión; inténtalo de nuevo cuando vuelva la conexión.",
  csatFailed: "No pudimos enviar tu valoración; inténtalo de nuevo.",
  csatThanks: "¡Gracias! Has valorado esta conversación con {score}/5.",
  launcherText: "",
};

const de = {
  title: "Support",
  launcherOpen: "Chat mit {title} öffnen",
  launcherOpenUnread: "Chat mit {title} öffnen, {count} ungelesene Nachrichten",
  launcherOpenUnreadOne: "Chat mit {title} öffnen, 1 ungelesene Nachricht",
  launcherClose: "Chat mit {title} schließen",
  closeChat: "Chat schließen",
  greeting: "Hallo! Ich bin der virtuelle Assistent. Ich helfe bei Passwörtern, Ihrem Konto und Rechnungen.",
  starters: "Häufige Fragen",
  starterPassword: "Ich habe mein Passwort vergessen",
  starterInvoice: "Eine Frage zu meiner Rechnung",
  starterPerson: "Mit einem Menschen sprechen",
  conversation: "Unterhaltung",
  suggestedReplies: "Antwortvorschläge",
  placeholder: "Nachricht schreiben…",
  inputLabel: "Nachricht schreiben",
  send: "Nachricht senden",
  footer: "Chats werden gespeichert, damit wir Ihnen besser helfen können.",
  connectionLost: "Verbindung unterbrochen. Verbinde neu… Ihre Nachrichten werden gesendet, sobald sie zurück ist.",
  connectionError: "Der Support ist gerade nicht erreichbar. Neuer Versuch… Ihre Nachrichten werden später gesendet.",
  offline: "Sie sind offline. Ihre Nachrichten werden gesendet, sobald die Verbindung zurück ist.",
  rateLimited: "Sie senden sehr schnell; bitte warten Sie einen Moment.",
  tooLong: "Diese Nachricht ist zu lang; bitte teilen Sie sie in kürzere auf.",
  headerBot: "Virtueller Assistent · antwortet sofort",
  headerAgent: "{name} · Support-Mitarbeiter/in",
  headerPerson: "Ein Mensch hilft Ihnen",
  headerQueued: "Wir verbinden Sie mit einem Menschen…",
  headerL3: "Bei unserem Technik-Team",
  headerResolved: "Unterhaltung gelöst",
  queueConnecting: "Wir verbinden Sie mit einem Menschen…",
  queuePosition: "Sie sind Nr. {position} in der Warteschlange, etwa {minutes} Min.",
  queuePlace: "Sie sind Nr. {position} in der Warteschlange; eine Person übernimmt hier, sobald jemand da ist.",
  agentLeft: "{name} hat die Unterhaltung verlassen.",
  someAgent: "Ein Mitarbeiter",
  theAgent: "Der Mitarbeiter",
  theAssistant: "Der Assistent",
  typing: "{who} schreibt…",
  notice: "Hinweis: ",
  youSaid: "Sie schrieben",
  agent: "Mitarbeiter/in",
  assistant: "Assistent",
  botTag: "Bot",
  imageAlt: "Bild vom Support",
  pendingQueued: "Wartet auf Verbindung…",
  pendingSending: "Wird gesendet…",
  pendingFailed: "Nicht gesendet",
  pendingFailedReason: "Nicht gesendet: {reason}",
  csatTitle: "Wie war unser Support?",
  csatLegend: "Bewerten Sie diese Unterhaltung von 1 (sehr schlecht) bis 5 (sehr gut)",
  csat1: "Sehr schlecht",
  csat2: "Schlecht",
  csat3: "Okay",
  csat4: "Gut",
  csat5: "Sehr gut",
  csatOption: "{score} ({label})",
  csatComment: "Was könnten wir besser machen? (optional)",
  csatSend: "Bewertung senden",
  csatPick: "Bitte wählen Sie eine Bewertung von 1 bis 5.",
  csatOffline: "Sie sind offline; bitte versuchen Sie es erneut, wenn die Verbindung zurück ist.",
  csatFailed: "Ihre Bewertung konnte nicht gesendet werden; bitte versuchen Sie es erneut.",
  csatThanks: "Danke! Sie haben diese Unterhaltung mit {score}/5 bewertet.",
  launcherText: "",
};

export const TABLES = { en, es, de };
export const LOCALES = Object.keys(TABLES);

/** The supported language for `locale` ("es", "de-AT", "auto" = the browser's languages); English otherwise. */
export function resolveLocale(locale) {
  const wanted = locale === "auto" ? [...(navigator.languages || []), navigator.language] : [locale];
  for (const tag of wanted) {
    const base = String(tag || "").toLowerCase().split(/[-_]/)[0];
    if (LOCALES.includes(base)) return base;
  }
  return "en";
}

/** The strings of one language with a site's overrides applied: `t(key, params)` and `parts(key, params)`. */
export class Strings {
  constructor(locale, overrides = {}) {
    this.locale = resolveLocale(locale);
    this.table = { ...TABLES[this.locale] };
    for (const [key, value] of Object.entries(overrides || {})) {
      if (!(key in en)) console.warn(`HelpdeskWidget: unknown string "${key}" ignored`);
      else if (typeof value === "string") this.table[key] = value;
    }
  }

  /** The string `key` with its `{placeholders}` filled in (as text). */
  t(key, params = {}) {
    return this.parts(key, params).join("");
  }

  /** Like t(), as a list where a placeholder given a DOM node (a <bdi> name) stays a node. */
  parts(key, params = {}) {
    const template = key in this.table ? this.table[key] : key;
    return template
      .split(/(\{[a-z]+\})/)
      .filter((part) => part !== "")
      .map((part) => {
        const name = part.length > 2 && part.startsWith("{") && part.endsWith("}") ? part.slice(1, -1) : null;
        return name !== null && name in params ? params[name] : part;
      })
      .map((part) => (part instanceof Node ? part : String(part)));
  }
}

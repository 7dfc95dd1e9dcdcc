// Socket.IO event names: the mirror of handoff/domain/events.py (tests/browser/test_protocol_mirror.py keeps them in step).

export const CUSTOMER_NS = "/";
export const AGENT_NS = "/agents";

// The opt-in to the gateway's extras on the customer namespace: Socket.IO connect `auth: { protocol }`
// (without it the gateway speaks stock Rasa: no acks, states, history or queue positions).
export const FRONTLINE_PROTOCOL = "frontline.1";

// Conversation states: the mirror of handoff/domain/states.py (State, WITH_PEOPLE, WITH_AN_AGENT).
export const CONVERSATION_STATES = ["bot", "queued", "assigned", "escalated_l3", "resolved"];
export const WITH_PEOPLE = ["queued", "assigned", "escalated_l3"];
export const WITH_AN_AGENT = ["assigned", "escalated_l3"];

// Stored event types (the `events` of a conversation's detail): the mirror of handoff/domain/states.py (EventType).
export const EVENT_TYPES = Object.freeze({
  CREATED: "created",
  ENGAGED: "engaged",
  IDENTITY_VERIFIED: "identity_verified",
  FOLLOW_UP_REQUESTED: "follow_up_requested",
  LANGUAGE_VOTE: "language_vote",
  LANGUAGE_DETECTED: "language_detected",
  BOT_TURN: "bot_turn",
  NLU_MISS: "nlu_miss",
  RECONTACT: "recontact",
  EARLY_OFFER: "early_offer",
  EARLY_OFFER_DECLINED: "early_offer_declined",
  QUEUED: "queued",
  ASSIGNED: "assigned",
  L3_CLAIMED: "l3_claimed",
  ESCALATED_L3: "escalated_l3",
  L3_RETURNED: "l3_returned",
  RESOLVED: "resolved",
  HANDBACK: "handback",
  REOPENED: "reopened",
  QUEUE_ACK: "queue_ack",
  FIRST_REPLY: "first_reply",
  TRANSFERRED: "transferred",
  CONTEXT_LOSS: "context_loss",
  WATCHED: "watched",
  SLA_WARNING: "sla_warning",
  SLA_BREACH: "sla_breach",
  STALE_ALERT: "stale_alert",
  L3_SLA_WARNING: "l3_sla_warning",
  L3_SLA_BREACH: "l3_sla_breach",
  CSAT: "csat",
  PRESENCE: "presence",
});

// Customer namespace (Rasa socketio protocol plus additive events).
export const SESSION_REQUEST = "session_request";
export const SESSION_CONFIRM = "session_confirm";
export const USER_UTTERED = "user_uttered";
export const BOT_UTTERED = "bot_uttered";
export const RESUME = "resume";
export const TYPING = "typing";
export const AGENT_JOINED = "agent_joined";
export const AGENT_LEFT = "agent_left";
export const QUEUE_UPDATE = "queue_update";
export const CONVERSATION_STATE = "conversation_state";
export const HISTORY = "history";
export const ERROR = "error";
export const CSAT = "csat";

// Agent namespace.
export const PRESENCE = "presence";
export const QUEUE_SNAPSHOT = "queue_snapshot";
export const SNAPSHOT_REQUEST = "snapshot";
export const CLAIM = "claim";
export const AGENT_MESSAGE = "agent_message";
export const NOTE = "note";
export const TRANSFER = "transfer";
export const ESCALATE_L3 = "escalate_l3";
export const RETURN_L2 = "return_l2";
export const RESOLVE = "resolve";
export const HANDBACK = "handback";
export const WATCH = "watch";
export const UNWATCH = "unwatch";
export const BARGE_IN = "barge_in";
export const FLAG_CONTEXT_LOSS = "flag_context_loss";
export const HANDOFF_QUEUED = "handoff_queued";
export const ASSIGNED = "assigned";
export const CUSTOMER_MESSAGE = "customer_message";
export const CONVERSATION_MESSAGE = "conversation_message";
export const NOTE_ADDED = "note_added";
export const SLA_WARNING = "sla_warning";
export const SLA_BREACHED = "sla_breached";
export const STALE_ALERT = "stale_alert";
export const CONVERSATION_UPDATED = "conversation_updated";
export const CONVERSATION_REMOVED = "conversation_removed";

// Mandatory fields of an L3 escalation (the definition of ready; the server enforces them too).
export const L3_FIELDS = ["repro_steps", "logs", "environment", "timestamps"];
// The customer impact an escalation carries (both required): who is affected, and how urgent it is.
export const L3_IMPACT_SCOPES = ["one_customer", "several_customers", "all_customers"];
export const L3_IMPACT_URGENCIES = ["low", "normal", "high", "critical"];
// What L3 sends back to the L2 agent (Return to L2): all required but the workaround.
export const L3_RETURN_FIELDS = ["resolution", "root_cause", "workaround", "customer_update"];

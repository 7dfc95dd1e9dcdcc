"""Text the actions compose with backend data. The fixed responses the policies predict are in domain.yml."""

from __future__ import annotations

# Button titles for the "Did you mean ...?" clarification, per intent.
INTENT_LABELS: dict[str, str] = {
    "reset_password": "Reset my password",
    "account_locked": "My account is locked",
    "create_account": "Create an account",
    "update_account": "Change my email or name",
    "close_account": "Close my account",
    "billing_invoice": "See my latest invoice",
    "billing_charge_dispute": "Question a charge",
    "billing_refund": "Check a refund",
    "billing_payment_method": "Update my payment method",
    "technical_issue": "Report a technical problem",
    "request_human": "Talk to a person",
}

TOPIC_BUTTONS = [
    {"title": "Reset my password", "payload": "/reset_password"},
    {"title": "My account", "payload": "/update_account"},
    {"title": "A billing question", "payload": "/billing_invoice"},
    {"title": "Talk to a person", "payload": "/request_human"},
]
SOMETHING_ELSE = {"title": "Something else", "payload": "/something_else"}
TALK_TO_PERSON = {"title": "Talk to a person", "payload": "/request_human"}
YES_NO_RESOLVED = [
    {"title": "Yes, it worked", "payload": "/affirm"},
    {"title": "No, it didn't", "payload": "/step_failed"},
]

DID_YOU_MEAN = "Sorry, I'm not sure I understood. Did you mean one of these?"
REPHRASE = (
    "My mistake. Could you tell me in other words what you need? For example: "
    "\"I never got the password reset email\" or \"I was charged twice\"."
)
NOT_UNDERSTOOD_EMPTY = "I didn't catch that. What can I help you with?"
NOT_UNDERSTOOD_AGAIN = "Sorry, I still didn't get that. Could you put it another way, or pick one of these?"
NO_WORDS = "I'm here. Tell me in a few words what you need, or pick a topic."
NO_WORDS_AGAIN = "Still here whenever you're ready: a few words about what you need are enough."
DID_YOU_MEAN_AGAIN = "Sorry, I'm still not sure. Is it one of these?"
OUT_OF_SCOPE = (
    "That's outside what I can help with here, sorry. I can help with passwords and signing in, your account, "
    "and billing, or I can bring in a person."
)
CASE_STATUS_LOOKUP = "Let me look up your case."
ANYTHING_ELSE = "Is there anything else I can help you with?"
STOPPED = "Okay, I've stopped that. What else can I help you with?"
NOTHING_PENDING = "Okay. What can I help you with?"
GAVE_UP_ASKING = (
    "Sorry, I still couldn't get that, and I don't want to keep asking. You can pick a topic below, or talk to a "
    "person who can look it up with you."
)
# Said when an answer to the next question of the technical form belongs to the one before; the question follows.
ADDED_TO_ERROR = "Got it, I've added that to the description of the problem."
ADDED_TO_TRIED = "Thanks, I've noted that with what you've tried."
# Said when the answer to the code question holds no digit ("thanks", "ok", "didn't get it"); the question follows.
NOT_A_CODE = "The code comes by email: it can take a minute, and sometimes lands in spam."
GLAD_IT_WORKED = "Great, glad that's sorted! Is there anything else I can help you with?"

# One sentence each: why a person takes over (and that one does); HANDOFF_NEXT then says what happens next.
HANDOFF_LEAD = {
    "customer_request": "Of course, I'm bringing in a person from our support team.",
    "frustration": "I'm sorry this has been so frustrating. I'm bringing in a person from our team right away.",
    "three_strikes": "I haven't managed to solve this, and I don't want to keep you going in circles, so I'm "
    "bringing in a person from our team.",
    "low_confidence": "I'm having trouble understanding, and I don't want to keep you going in circles, so I'm "
    "bringing in a person from our team.",
    "technical_issue": "Thanks, that's exactly what our technical team needs; I'm passing this to a person there.",
    "fast_lane": "Your account has priority support, so I'm connecting you with a specialist.",
    "policy": "This one needs a person from our team to review, so I'm passing it on.",
    # Every backend_unavailable path has just said BACKEND_DOWN: say what happens next, not the fault again.
    "backend_unavailable": "So that you're not left waiting, I'm handing you to a person who can check it for you.",
}
HANDOFF_NEXT = (
    "They'll see everything we've discussed, so you won't need to repeat yourself. You'll see your place in the "
    "queue here."
)
HANDBACK_QUESTION = "What else can I help with?"
NOT_REPEATING = (
    "Before you talked with our team I already gave you that answer, and it didn't settle things, so I won't just "
    "repeat it."
)
BACKEND_DOWN = "Sorry, I can't reach our account system right now."

ASK = {
    "email": "What's the email address on your account?",
    "email_password_reset_form": "What's the email address on your account? I'll send the reset link there.",
    "verification_code": "I've emailed a 6-digit code to {masked}. To keep your account safe, please type it here.",
    "signup_email": "Which email address should the new account use?",
    "plan": "Which plan would you like?",
    "account_field": "What would you like to change?",
    "new_value_email": "What's the new email address?",
    "new_value_name": "What name should we use?",
    "dispute_reference": (
        "Which charge is it? Tell me the invoice number (like INV-1071) or the amount (like $49.00)."
    ),
    "error_details": (
        "Sorry you've hit a problem. What exactly happens? Please include any error code or message you see."
    ),
    "steps_tried": "What have you tried so far (for example: reloading, another browser, signing out and in)?",
    "impact": "Is this only affecting you, or other people too? And how urgent is it for you?",
}
PLAN_BUTTONS = [
    {"title": "Free", "payload": "free"},
    {"title": "Pro", "payload": "pro"},
    {"title": "Business", "payload": "business"},
]
ACCOUNT_FIELD_BUTTONS = [
    {"title": "My email address", "payload": "email"},
    {"title": "My name", "payload": "name"},
]
CLOSE_CONFIRM_BUTTONS = [
    {"title": "Yes, close it", "payload": "/affirm"},
    {"title": "No, keep it", "payload": "/deny"},
]
# Every emailed link the chat sends is limited per address and hour; the refusal reads the same for any address.
LINK_LIMITED = (
    "A link was already requested for {masked} several times in the last hour, so I haven't sent another one, to "
    "protect that inbox. If there's an account with that address, please use the latest email from us (check the spam "
    "folder too); links expire {minutes} minutes after they're sent. Did it work?"
)
# Leads of the single message that answers "it didn't work" with a new link (or with the limit).
RETRY_RESET_LEAD = "Sorry about that. Emails can take a few minutes and sometimes land in spam; only the newest link works. "
RETRY_PAYMENT_LEAD = "Sorry about that. Only the newest link works. "
RETRY_LIMITED_LEAD = "Sorry about that. "
# A second retry in a row must not read like the first one (no identical messages back to back).
RETRY_AGAIN_LEAD = (
    "Still not working, sorry. One more try: only the newest link works, and if the page shows an error, tell me "
    "what it says. "
)


def retry_lead(first: str, earlier_failures: int, sent: bool) -> str:
    """The apology that starts a retried link: ``first`` the first time, then one that says it is another try."""
    if not sent:
        return RETRY_LIMITED_LEAD
    return first if earlier_failures == 0 else RETRY_AGAIN_LEAD
NO_SECRETS = "For your safety, please don't share passwords or card numbers in this chat; I never need them."

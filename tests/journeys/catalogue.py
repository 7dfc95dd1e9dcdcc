"""The journeys: customers as they really write (indirect, wrong first, changing their mind, typos, one word, emoji).

Written for this suite, not taken from any data set or from data/nlu. Signed-in customers are seed.json ids:
cus_1001 Ana (pro, open invoice INV-1057 $49), cus_1002 Ben (locked after failed sign-ins), cus_1003 Chloe
(enterprise), cus_1004 Dev (INV-1071 charged twice), cus_1005 Emma (security hold), cus_1006 Felix (refund REF-3001
processing, latest invoice INV-1080 $120), cus_1007 Grace (open invoice INV-1090 $1,500).
"""

from __future__ import annotations

from actions.backend.store import DemoBackend
from tests.journeys.harness import (
    HANDED_OFF,
    RESOLVED,
    TOLD_WHY_NOT,
    Click,
    Code,
    Journey,
    OpenLink,
    Outcome,
    Say,
)

ANA, BEN, EMMA, FELIX, GRACE, DEV = (
    "ana.ortiz@example.com", "ben.carter@example.com", "emma.schultz@example.org", "felix.brown@example.net",
    "grace.kim@bigretail.example", "dev.patel@example.com",
)
# What the bot says when it let go of a form (cancel / stop / never mind / forget it).
STOPPED = r"stopped"
TOPICS = r"password|billing|account|person"
GLAD = r"glad"
PERSON = r"talk to a person"
ASK_EMAIL = r"email address on your account"


def duplicate_refunded(backend: DemoBackend) -> str | None:
    """Dev's second charge for INV-1071 has a refund."""
    return None if backend.refund_for_charge("ch_5003") else "the duplicate charge ch_5003 was not refunded"


def name_is(customer_id: str, name: str):
    def check(backend: DemoBackend) -> str | None:
        customer = backend.customer_by_id(customer_id)
        return None if customer and customer.name == name else f"the name on {customer_id} is not {name!r}"
    return check


JOURNEYS: list[Journey] = [
    # ---------------------------------------------------------------- passwords and signing in
    Journey(
        "reset_indirect_link_works",
        (
            Say("hey so i cant get into my account, pretty sure i forgot the password lol", expect=ASK_EMAIL),
            Say("its ana.ortiz@example.com", expect=r"reset link"),
            OpenLink("password_reset"),
            Say("yep that did it, thx"),
        ),
        Outcome(RESOLVED, said=(GLAD,)),
    ),
    Journey(
        "reset_signed_in_is_not_asked_for_email",
        (
            Say("forgot my pw again 🙈", expect=r"reset link", forbid=ASK_EMAIL),
            OpenLink("password_reset"),
            Click("Yes, it worked"),
        ),
        Outcome(RESOLVED, said=(GLAD,)),
        customer="cus_1001",
    ),
    Journey(
        "reset_typo_in_email_then_fixed",
        (
            Say("reset my passwrod pls"),
            Say("ana.ortiz@example", expect=r"email"),
            Say("sorry ana.ortiz@example.com"),
            OpenLink("password_reset"),
            Click("Yes"),
        ),
        Outcome(RESOLVED, said=(r"reset link", GLAD)),
        email=ANA,
    ),
    Journey(
        "reset_link_page_not_found_three_times",
        (
            Say("I need to set a new password, the old one isn't accepted anymore"),
            Say("ana.ortiz@example.com", expect=r"reset link"),
            Say("the link opens a page that just says Not Found", expect=r"sorry|link", forbid=r"didn't catch"),
            Say("same again, page not found"),
            Say("nope still the not found page"),
        ),
        Outcome(HANDED_OFF, summary=(r"password|reset|sign in",), summary_forbids=(r"spam",)),
        email=ANA,
    ),
    Journey(
        "locked_signed_in_unlock_link_works",
        (
            Say("it says my account is locked?? i only typed the password wrong a couple times", expect=r"unlock"),
            OpenLink("unlock_reset"),
            Say("yes works now"),
        ),
        Outcome(RESOLVED, said=(r"unlock", GLAD)),
        customer="cus_1002",
    ),
    Journey(
        "locked_anonymous_security_hold_wants_person",
        (
            Say("locked out. tried my password too many times i think"),
            Say("emma.schultz@example.org"),
            Say("the email says my account is on hold and i have to ask for a person"),
            Say("so can i talk to someone please"),
        ),
        Outcome(HANDED_OFF, summary=(r"lock|sign in|hold",)),
        email=EMMA,
    ),
    Journey(
        "security_hold_signed_in_goes_to_a_person",
        (Say("cant log in, it says the account is suspended?"),),
        Outcome(HANDED_OFF, summary=(r"lock|hold|sign in",)),
        customer="cus_1005",
    ),
    Journey(
        "dont_know_which_email",
        (
            Say("i need to reset my password"),
            Say("no idea which email i used tbh"),
            Say("maybe ana.ortiz@example.com"),
            Click("Yes, it worked"),
        ),
        Outcome(RESOLVED, said=(r"reset link", GLAD)),
        email=ANA,
    ),
    # ---------------------------------------------------------------- account
    Journey(
        "create_account_one_word_answers",
        (
            Say("new here, want to sign up", expect=r"email"),
            Say("mo.reyes@example.com", expect=r"plan"),
            Click("Pro"),
            Say("yes"),
        ),
        Outcome(RESOLVED, said=(r"Pro account", GLAD)),
    ),
    Journey(
        "create_account_unsure_about_plan",
        (
            Say("can i make an account for my bakery"),
            Click("Create an account", if_offered=True),
            Say("orders@crumbandco.example"),
            Say("whichever is cheapest i guess", expect=r"free|pro|business"),
            Say("free then"),
            Click("Yes, it worked"),
        ),
        Outcome(RESOLVED, said=(r"Free account",)),
    ),
    Journey(
        "change_name_signed_in",
        (
            Say("you've got my name spelt wrong on the account", forbid=ASK_EMAIL),
            Click("My name"),
            Say("Ana María Ortiz", expect=r"done"),
        ),
        Outcome(RESOLVED, said=(r"now Ana María Ortiz",), check=name_is("cus_1001", "Ana María Ortiz")),
        customer="cus_1001",
    ),
    Journey(
        "change_surname_anonymous_with_code",
        (
            Say("got married, need to update my surname on the account"),
            Say("ana.ortiz@example.com", expect=r"6-digit code"),
            Code("{code}"),
            Say("the name"),
            Say("Ana Ortiz-Reyes"),
        ),
        Outcome(RESOLVED, said=(r"Ana Ortiz-Reyes",), check=name_is("cus_1001", "Ana Ortiz-Reyes")),
        email=ANA,
    ),
    Journey(
        "change_email_signed_in",
        (
            Say("i need the account moved to my new work address"),
            Click("Change my email or name", if_offered=True),
            Click("My email address"),
            Say("ana.ortiz@newjob.example", expect=r"approve"),
            Say("yes got it"),
        ),
        Outcome(RESOLVED, said=(r"approve",)),
        customer="cus_1001",
    ),
    Journey(
        "close_account_changes_mind",
        (
            Say("please close my account", expect=r"sure"),
            Click("No, keep it"),
        ),
        Outcome(RESOLVED, said=(r"stays open",)),
        customer="cus_1006",
    ),
    # ---------------------------------------------------------------- invoices
    Journey(
        "invoice_signed_in_indirect",
        (
            Say("how much am i paying you this month", forbid=ASK_EMAIL),
            Click("See my latest invoice", if_offered=True),
        ),
        Outcome(RESOLVED, said=(r"INV-1057", r"\$49\.00")),
        customer="cus_1001",
    ),
    Journey(
        "invoice_anonymous_with_code",
        (
            Say("need my latest bill for expenses"),
            Say("felix.brown@example.net", expect=r"6-digit code"),
            Code("here: {code}"),
        ),
        Outcome(RESOLVED, said=(r"INV-1080", r"\$120\.00")),
        email=FELIX,
    ),
    Journey(
        "invoice_wrong_code_first",
        (
            Say("invoice"),
            Say("grace.kim@bigretail.example"),
            Say("123456", expect=r"doesn't match"),
            Code("{code}"),
        ),
        Outcome(RESOLVED, said=(r"INV-1090", r"\$1,500\.00")),
        email=GRACE,
    ),
    Journey(
        "invoice_code_typed_with_spaces",
        (
            Say("what do i owe u"),
            Say("GRACE.KIM@bigretail.example"),
            Code("{spaced}"),
        ),
        Outcome(RESOLVED, said=(r"INV-1090",)),
        email=GRACE,
    ),
    Journey(
        "invoice_impatient",
        (
            Say("hurry up i need the invoice number for accounting NOW"),
            Say("hello??"),
        ),
        Outcome(RESOLVED, said=(r"INV-1057",)),
        customer="cus_1001",
    ),
    Journey(
        "invoice_enterprise_customer",
        (Say("whats the amount on our latest invoice"),),
        Outcome(RESOLVED, said=(r"INV-1065", r"\$2,400\.00")),
        customer="cus_1003",
    ),
    Journey(
        "thanks_after_invoice",
        (
            Say("what do i owe you guys"),
            Say("cheers mate", expect=r"welcome"),
        ),
        Outcome(RESOLVED, said=(r"INV-1057",)),
        customer="cus_1001",
    ),
    # ---------------------------------------------------------------- charges
    Journey(
        "duplicate_charge_anonymous_with_code",
        (
            Say("um i think you took money twice for my subscription?"),
            Say("dev.patel@example.com"),
            Code("ok it's {code}"),
            Say("the $49 one", expect=r"refund"),
        ),
        Outcome(RESOLVED, said=(r"charged twice", r"refund"), check=duplicate_refunded),
        email=DEV,
    ),
    Journey(
        "duplicate_charge_invoice_in_first_message",
        (
            Say("INV-1071 shows up twice on my card statement", forbid=r"which charge"),
            Click("Question a charge", if_offered=True, forbid=r"which charge"),
        ),
        Outcome(RESOLVED, said=(r"refund",), check=duplicate_refunded),
        customer="cus_1004",
    ),
    Journey(
        "charge_i_dont_know_gets_the_list",
        (
            Say("i think one of your charges is wrong", expect=r"which charge"),
            Say("i dont know", expect_buttons=r"\$|INV-"),
            Click("49"),
        ),
        Outcome(RESOLVED, said=(r"refund",)),
        customer="cus_1004",
    ),
    Journey(
        "charge_two_unusable_answers_offer_a_person",
        (
            Say("a charge on my card looks wrong", expect=r"which charge"),
            Say("the one from last month"),
            Say("no clue tbh, whatever you took", expect_buttons=PERSON),
            Click("Talk to a person"),
        ),
        Outcome(HANDED_OFF, summary=(r"charge",)),
        customer="cus_1001",
    ),
    Journey(
        "charge_question_asked_at_most_twice",
        (
            Say("pretty sure you double charged me", expect=r"which charge"),
            Say("the one from last month"),
            Say("dunno, the usual one", expect_buttons=PERSON),
            Click("Talk to a person"),
        ),
        Outcome(HANDED_OFF, summary=(r"charge",)),
        customer="cus_1001",
    ),
    Journey(
        "charge_cancelled_then_invoice",
        (
            Say("why did you charge me", expect=r"which charge"),
            Say("forget it", expect=STOPPED, expect_buttons=TOPICS),
            Say("actually whats my invoice amount", forbid=r"which charge"),
        ),
        Outcome(RESOLVED, said=(r"INV-1057",)),
        customer="cus_1001",
    ),
    Journey(
        "bill_went_up_then_receipt_for_october",
        (
            Say("why did my bill go up this month?"),
            Say("forget it... can I get a receipt for October?", forbid=r"which charge"),
        ),
        Outcome(RESOLVED, said=(r"INV-1057",)),
        customer="cus_1001",
    ),
    Journey(
        "charge_form_left_with_cancel",
        (
            Say("you charged me for something and i dont know what", expect=r"which charge"),
            Say("cancel", expect=STOPPED, expect_buttons=TOPICS),
        ),
        Outcome(RESOLVED, said=(STOPPED,)),
        customer="cus_1001",
    ),
    Journey(
        "weird_payment_never_mind_bye",
        (
            Say("I see a weird payment from you guys"),
            Say("never mind", expect=STOPPED),
            Say("bye"),
        ),
        Outcome(RESOLVED, said=(STOPPED, r"goodbye")),
    ),
    Journey(
        "charge_person_mid_form",
        (
            Say("my card got charged wrong", expect=r"which charge"),
            Say("just get me a human"),
        ),
        Outcome(HANDED_OFF, summary=(r"charge",)),
        customer="cus_1001",
    ),
    # ---------------------------------------------------------------- refunds
    Journey(
        "money_back_without_refund_gets_buttons",
        (Say("I'd like my money back for this month", expect_buttons=r"charge|person",
             forbid=r"tell me \"?i want to dispute"),),
        Outcome(TOLD_WHY_NOT, said=(r"refund",)),
        customer="cus_1001",
    ),
    Journey(
        "money_back_then_person_summary_is_true",
        (
            Say("just want my money back tbh", forbid=r"tell me \"?i want to dispute"),
            Click("Talk to a person"),
        ),
        Outcome(HANDED_OFF, summary=(r"refund|money back",), summary_forbids=(r"where their refund is",
                                                                              r"disputes a charge")),
        customer="cus_1001",
    ),
    Journey(
        "refund_status_signed_in",
        (Say("any news on the refund you promised me?"),),
        Outcome(RESOLVED, said=(r"REF-3001", r"processing")),
        customer="cus_1006",
    ),
    Journey(
        "refund_status_anonymous_with_code",
        (
            Say("been waiting ages for my refund"),
            Say("felix.brown@example.net"),
            Code("{code}"),
        ),
        Outcome(RESOLVED, said=(r"REF-3001",)),
        email=FELIX,
    ),
    Journey(
        "refund_of_29_dollars_indirect",
        (
            Say("hi, about the 29 dollars you said you'd send back to my card"),
            Click("Check a refund", if_offered=True),
        ),
        Outcome(RESOLVED, said=(r"REF-3001",)),
        customer="cus_1006",
    ),
    # ---------------------------------------------------------------- payment method
    Journey(
        "payment_method_signed_in_link_works",
        (
            Say("my card expires end of the month, where do i put the new one", expect=r"link", forbid=ASK_EMAIL),
            OpenLink("payment_method"),
            Say("yes that did the trick"),
        ),
        Outcome(RESOLVED, said=(GLAD,)),
        customer="cus_1001",
    ),
    Journey(
        "payment_method_first_link_broken",
        (
            Say("need to switch which card you bill"),
            Say("felix.brown@example.net", expect=r"link"),
            Say("didnt work, the page says not found", expect=r"newest link|sorry"),
            OpenLink("payment_method"),
            Click("Yes, it worked"),
        ),
        Outcome(RESOLVED, said=(GLAD,)),
        email=FELIX,
    ),
    # ---------------------------------------------------------------- technical problems
    Journey(
        "technical_issue_with_what_was_tried",
        (
            Say("the dashboard keeps showing error E-504 when I open reports. I already cleared the cache, tried "
                "firefox and logged out and back in", forbid=r"what have you tried", expect=r"other people too"),
            Say("just me i think, not super urgent"),
        ),
        Outcome(HANDED_OFF, summary=(r"E-504",), summary_forbids=(r"nothing tried",)),
    ),
    Journey(
        "technical_issue_step_by_step",
        (
            Say("app is broken"),
            Say("sync fails with ERR_SYNC_TIMEOUT every time i hit save"),
            Say("nothing yet", expect=r"other people too"),
            Say("not sure"),
        ),
        Outcome(HANDED_OFF, summary=(r"sync|ERR_SYNC_TIMEOUT",)),
    ),
    Journey(
        "technical_issue_vague_start",
        (
            Say("somethings not working on your site"),
            Say("the export button does nothing. no error, just nothing happens"),
            Say("tried chrome and edge, same, and my two colleagues get it too", forbid=r"other people too"),
        ),
        Outcome(HANDED_OFF, summary=(r"export|technical|fault",)),
    ),
    # ---------------------------------------------------------------- people, frustration, strikes
    Journey(
        "person_right_away",
        (Say("can i just speak to someone real"),),
        Outcome(HANDED_OFF, summary=(r"person|human|agent|someone|speak",)),
    ),
    Journey(
        "frustrated_while_asked_for_email",
        (
            Say("invoice pls"),
            Say("why do you even need that"),
            Say("this is going nowhere, useless"),
        ),
        Outcome(HANDED_OFF, summary=(r"invoice",)),
    ),
    Journey(
        "three_misunderstood_messages",
        (
            Say("hmm"),
            Say("the thing with the stuff from before"),
            Say("you know what i mean"),
        ),
        Outcome(HANDED_OFF, summary=(r"thing|stuff|not sure|could not|unsure|identify",)),
    ),
    Journey(
        "emoji_and_punctuation_are_not_failures",
        (
            Say("🙂"),
            Say("??"),
            Say("👍"),
            Say("whats my current invoice"),
        ),
        Outcome(RESOLVED, said=(r"INV-1057",)),
        customer="cus_1001",
    ),
    Journey(
        "person_then_waits_in_the_queue",
        (
            Say("pls get me a human being"),
            Say("hello?? anyone there"),
        ),
        Outcome(HANDED_OFF, summary=(r"person|human|agent",)),
    ),
    Journey(
        "bot_question_then_person",
        (
            Say("wait are you a real person or a bot", expect=r"bot"),
            Say("ok then get me a person"),
        ),
        Outcome(HANDED_OFF),
    ),
    # ---------------------------------------------------------------- changing topic
    Journey(
        "password_then_bill_instead",
        (
            Say("forgot password", expect=ASK_EMAIL),
            Say("actually wait, first how much is my next bill"),
            Say("ana.ortiz@example.com"),
            Code("{code}"),
        ),
        Outcome(RESOLVED, said=(r"INV-1057",)),
        email=ANA,
    ),
    Journey(
        "signup_stopped",
        (
            Say("i wanna open an account"),
            Say("stop", expect=STOPPED),
            Say("thanks", expect=r"welcome"),
        ),
        Outcome(RESOLVED, said=(STOPPED,)),
    ),
    Journey(
        "out_of_scope_then_password",
        (
            Say("can you write me a poem about cats", expect=r"outside"),
            Say("ok fine. reset my password then"),
            Say("ana.ortiz@example.com"),
            Click("Yes, it worked"),
        ),
        Outcome(RESOLVED, said=(r"reset link", GLAD)),
        email=ANA,
    ),
    # ---------------------------------------------------------------- small talk and scope
    Journey(
        "greeting_and_goodbye",
        (
            Say("hiya there", expect_buttons=r"password"),
            Say("nah all good actually, bye"),
        ),
        Outcome(RESOLVED, said=(r"goodbye",)),
    ),
    Journey(
        "weather_is_out_of_scope",
        (Say("whats the weather going to be like in lisbon tomorrow"),),
        Outcome(TOLD_WHY_NOT, said=(r"outside",)),
    ),
]

"""The demo company's own website: the pages behind the links the support bot emails.

``python -m actions.backend site`` serves it on ``DEMO_SITE_HOST:DEMO_SITE_PORT`` (127.0.0.1:8090), a separate origin
from the support gateway. Each link carries a single-use token: GET only shows a form (link scanners and prefetchers
must not burn it, so it is only peeked at); POST redeems it and does the change. Pages are plain server-rendered HTML,
every value escaped; no token, password or card number is ever logged (aiohttp's access log, which prints query
strings, is off: the site logs method, path and status only).
"""

from __future__ import annotations

import asyncio
import html
import logging
import re
import unicodedata
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timezone
from typing import Any

from aiohttp import web
from multidict import MultiDictProxy

from actions.backend.store import BackendUnavailable, DemoBackend
from actions.settings import ActionSettings
from contract.redact import luhn_ok, mask_email

logger = logging.getLogger(__name__)

BACKEND = web.AppKey("backend", DemoBackend)
COMPANY = "Northwind Cloud"
# A form post is a few hundred bytes; anything much bigger is refused (413) before it is parsed.
MAX_BODY_BYTES = 16 * 1024
# Passed to web.run_app / TestServer: no access log (its lines carry the query string, i.e. the token).
SERVER_OPTIONS: dict[str, Any] = {"access_log": None}
MIN_PASSWORD, MAX_PASSWORD = 10, 256
MAX_NAME = 100
MAX_TOKEN = 128
TOKEN_SHAPE = re.compile(r"[A-Za-z0-9_-]{16,128}")
EXPIRY_SHAPE = re.compile(r"\s*([0-9]{1,2})\s*/\s*([0-9]{2}|[0-9]{4})\s*")
CARD_SEPARATORS = re.compile(r"[\s-]+")
MAX_YEARS_AHEAD = 20

EXPIRED = "This link has expired or was already used. Go back to the chat and ask for a new one."
RESET_PURPOSES = ("password_reset", "unlock_reset")

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'none'; object-src 'none'; base-uri 'none'; form-action 'self'; "
        "frame-ancestors 'none'"
    ),
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "Cross-Origin-Opener-Policy": "same-origin",
}

CSS = """\
:root { color-scheme: light; --ink: #1d2733; --muted: #52606d; --brand: #1f5fbf; --bad: #a61b1b; --ok: #17683a; }
* { box-sizing: border-box; }
body { margin: 0; font: 16px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--ink);
       background: #f4f6f9; }
header { background: #fff; border-bottom: 1px solid #dde3ea; padding: 0.8rem 1.5rem; }
header a { color: var(--brand); font-weight: 700; text-decoration: none; font-size: 1.15rem; }
main { max-width: 32rem; margin: 2rem auto; background: #fff; border: 1px solid #dde3ea; border-radius: 8px;
       padding: 1.5rem 1.75rem; }
h1 { font-size: 1.4rem; margin-top: 0; }
label { display: block; font-weight: 600; margin-top: 1rem; }
.hint { color: var(--muted); font-size: 0.9rem; margin: 0.2rem 0 0; }
input[type=password], input[type=text] { width: 100%; padding: 0.55rem 0.65rem; font: inherit; margin-top: 0.3rem;
       border: 1px solid #9aa5b1; border-radius: 5px; }
input:focus, button:focus { outline: 3px solid #8fb8f5; outline-offset: 1px; }
input[aria-invalid=true] { border-color: var(--bad); }
.field-error { color: var(--bad); font-size: 0.9rem; margin: 0.25rem 0 0; }
button { margin-top: 1.4rem; background: var(--brand); color: #fff; border: 0; border-radius: 5px;
         padding: 0.6rem 1.2rem; font: inherit; font-weight: 600; cursor: pointer; }
.errors { border: 1px solid var(--bad); background: #fdf0f0; color: var(--bad); border-radius: 5px; padding: 0.6rem 1rem; }
.errors ul { margin: 0.3rem 0 0; padding-left: 1.2rem; }
.success { border-left: 4px solid var(--ok); padding-left: 0.9rem; }
.note { background: #fff8e1; border: 1px solid #f0d68a; border-radius: 5px; padding: 0.5rem 0.8rem; }
footer { text-align: center; color: var(--muted); font-size: 0.85rem; margin-bottom: 2rem; }
"""


def esc(value: object) -> str:
    """HTML-escape anything shown on a page (quotes too: values also go into attributes)."""
    return html.escape(str(value), quote=True)


def page(title: str, body: str, status: int = 200, headers: Mapping[str, str] | None = None) -> web.Response:
    """A whole page: the company header around ``body`` (already escaped HTML)."""
    document = (
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
        "<meta name=\"referrer\" content=\"no-referrer\">"
        f"<title>{esc(title)} · {esc(COMPANY)}</title><link rel=\"stylesheet\" href=\"/site.css\"></head>"
        f"<body><header><a href=\"/\">{esc(COMPANY)}</a></header><main>{body}</main>"
        "<footer>A demo company: nothing here is real, and no email or payment leaves this machine.</footer>"
        "</body></html>\n"
    )
    return web.Response(text=document, status=status, content_type="text/html", charset="utf-8", headers=headers)


def message_page(title: str, text: str, status: int = 200, *, success: bool = False) -> web.Response:
    """A page that only says something (a success, or why nothing happened)."""
    role = ' class="success" role="status"' if success else ""
    return page(title, f"<h1>{esc(title)}</h1><p{role}>{esc(text)}</p>", status)


def expired_page() -> web.Response:
    """The same page, and status, for an unknown, used, expired or missing token: no token oracle."""
    return message_page("Link expired", EXPIRED, 410)


# -- forms --------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Field:
    """One input of a form."""

    name: str
    label: str
    kind: str = "text"
    autocomplete: str = "off"
    hint: str = ""
    max_length: int = MAX_NAME
    extra: str = ""


def render_form(
    action: str, token: str, fields: list[Field], button: str, values: Mapping[str, str] | None = None,
    errors: Mapping[str, str] | None = None,
) -> str:
    """A POST form with the token in a hidden field (never in the action URL), errors next to their fields."""
    values, errors = values or {}, errors or {}
    parts: list[str] = []
    if errors:
        items = "".join(f'<li><a href="#{esc(name)}">{esc(text)}</a></li>' for name, text in errors.items())
        parts.append(f'<div class="errors" role="alert"><strong>Please fix this:</strong><ul>{items}</ul></div>')
    parts.append(f'<form method="post" action="{esc(action)}">')
    parts.append(f'<input type="hidden" name="token" value="{esc(token)}">')
    for field in fields:
        described = []
        if field.hint:
            described.append(f"{field.name}-hint")
        if field.name in errors:
            described.append(f"{field.name}-error")
        aria = f' aria-describedby="{esc(" ".join(described))}"' if described else ""
        invalid = ' aria-invalid="true"' if field.name in errors else ""
        value = f' value="{esc(printable(values[field.name]))}"' if field.name in values else ""
        parts.append(f'<label for="{esc(field.name)}">{esc(field.label)}</label>')
        if field.hint:
            parts.append(f'<p class="hint" id="{esc(field.name)}-hint">{esc(field.hint)}</p>')
        parts.append(
            f'<input type="{esc(field.kind)}" id="{esc(field.name)}" name="{esc(field.name)}" required '
            f'maxlength="{field.max_length}" autocomplete="{esc(field.autocomplete)}"{field.extra}{value}{aria}{invalid}>'
        )
        if field.name in errors:
            parts.append(f'<p class="field-error" id="{esc(field.name)}-error">{esc(errors[field.name])}</p>')
    parts.append(f'<button type="submit">{esc(button)}</button></form>')
    return "".join(parts)


def text_field(form: MultiDictProxy[Any], name: str) -> str:
    """A form value as text ("" when missing or a file upload)."""
    value = form.get(name)
    return value if isinstance(value, str) else ""


def has_controls(text: str) -> bool:
    """Control characters (NUL, escapes, line breaks...) have no place in a password, name or expiry."""
    return any(unicodedata.category(char) == "Cc" for char in text)


def printable(text: str) -> str:
    """Text without its control characters, to write a typed value back into a form."""
    return "".join(char for char in text if unicodedata.category(char) != "Cc")


def usable_token(token: str) -> bool:
    """Shaped like a token we issue (urlsafe base64): anything else is not looked up at all."""
    return bool(TOKEN_SHAPE.fullmatch(token))


async def read_form(request: web.Request) -> MultiDictProxy[Any] | web.Response:
    """The posted form, or a page saying why it cannot be read (too big: 413; not decodable: 400)."""
    try:
        return await request.post()
    except web.HTTPRequestEntityTooLarge:
        return message_page("Too much text", "That form was far too long to be ours. Go back and try again.", 413)
    except (ValueError, UnicodeDecodeError):
        return message_page("Could not read the form", "The form could not be read. Go back and try again.", 400)


def posted_token(request: web.Request, form: MultiDictProxy[Any]) -> str:
    """The token a POST carries: in the form (our pages), else in the query (a hand-made request)."""
    return (text_field(form, "token") or request.query.get("token", ""))[:MAX_TOKEN]


async def call(function: Callable[..., Any], *args: Any) -> Any:
    """Run a blocking backend call (SQLite, scrypt) off the event loop."""
    return await asyncio.to_thread(function, *args)


async def find_token(backend: DemoBackend, token: str, purposes: tuple[str, ...]) -> tuple[str, str] | None:
    """(purpose, customer id) of a live token of one of these purposes, without using it."""
    if not usable_token(token):
        return None
    for purpose in purposes:
        customer_id = await call(backend.peek, token, purpose)
        if customer_id is not None:
            return purpose, customer_id
    return None


# -- password reset (and unlock) ----------------------------------------------------------------------------------
PASSWORD_FIELDS = [
    Field("password", "New password", "password", "new-password", f"At least {MIN_PASSWORD} characters.",
          MAX_PASSWORD, f' minlength="{MIN_PASSWORD}"'),
    Field("confirm", "Type it again", "password", "new-password", "", MAX_PASSWORD, f' minlength="{MIN_PASSWORD}"'),
]


def password_errors(password: str, confirm: str) -> dict[str, str]:
    """What is wrong with a new password, by field (empty when it is fine)."""
    if not password:
        return {"password": "Enter a new password."}
    if len(password) < MIN_PASSWORD:
        return {"password": f"Use at least {MIN_PASSWORD} characters."}
    if len(password) > MAX_PASSWORD:
        return {"password": f"Use at most {MAX_PASSWORD} characters."}
    if has_controls(password):
        return {"password": "Use letters, digits, spaces and symbols only."}
    if password != confirm:
        return {"confirm": "The two passwords don't match. Type the same password twice."}
    return {}


def reset_form(token: str, errors: Mapping[str, str] | None = None, status: int = 200) -> web.Response:
    """The "Choose a new password" page."""
    body = ("<h1>Choose a new password</h1><p>Pick a password you don't use anywhere else.</p>"
            + render_form("/account/reset", token, PASSWORD_FIELDS, "Change my password", errors=errors))
    return page("Choose a new password", body, status)


async def reset_get(request: web.Request) -> web.Response:
    """Show the form when the link is live; the token stays unused."""
    token = request.query.get("token", "")[:MAX_TOKEN]
    if await find_token(request.app[BACKEND], token, RESET_PURPOSES) is None:
        return expired_page()
    return reset_form(token)


async def reset_post(request: web.Request) -> web.Response:
    """Check the passwords, then use the link and store the new password's hash."""
    form = await read_form(request)
    if isinstance(form, web.Response):
        return form
    backend = request.app[BACKEND]
    token = posted_token(request, form)
    found = await find_token(backend, token, RESET_PURPOSES)
    if found is None:
        return expired_page()
    password = unicodedata.normalize("NFC", text_field(form, "password"))
    confirm = unicodedata.normalize("NFC", text_field(form, "confirm"))
    errors = password_errors(password, confirm)
    if errors:
        return reset_form(token, errors, 422)
    purpose, _ = found
    customer_id = await call(backend.redeem, token, purpose)
    if customer_id is None:  # used by another tab meanwhile
        return expired_page()
    await call(backend.set_password, customer_id, password)
    if purpose == "unlock_reset":
        text = "Your password has been changed and your account is unlocked. You can sign in now."
    else:
        text = "Your password has been changed. You can sign in now."
    return message_page("Password changed", text, success=True)


# -- links confirmed with one button ------------------------------------------------------------------------------
@dataclass(frozen=True)
class ConfirmLink:
    """A link whose page asks for one click (GET must not act), then redeems the token."""

    path: str
    purpose: str
    title: str
    explain: str
    button: str
    done: Callable[[DemoBackend, str], Awaitable[str]]


async def _verified(backend: DemoBackend, customer_id: str) -> str:
    return "Your email address is verified. You can sign in now."


async def _approved(backend: DemoBackend, customer_id: str) -> str:
    return ("Approved: we sent a confirmation link to the new address. Your email address changes once you follow "
            "that link.")


async def _confirmed(backend: DemoBackend, customer_id: str) -> str:
    customer = await call(backend.customer_by_id, customer_id)
    return f"Your email address is now {mask_email(customer.email)}." if customer else "Your email address is changed."


CONFIRM_LINKS = [
    ConfirmLink("/account/verify", "verify_email", "Verify your email address",
                "Confirm that this is your email address to finish opening your account.", "Verify my email", _verified),
    ConfirmLink("/account/approve-email-change", "approve_email_change", "Approve the email change",
                "Someone (hopefully you) asked to change the email address of your account. Approve it only if it was "
                "you: we then send a confirmation link to the new address.", "Approve the change", _approved),
    ConfirmLink("/account/confirm-email", "change_email", "Confirm your new email address",
                "Confirm that this new address is yours: it then becomes the email address of your account.",
                "Confirm my new address", _confirmed),
]


def confirm_handlers(link: ConfirmLink) -> tuple[Callable[[web.Request], Awaitable[web.Response]], ...]:
    """The GET (show the button) and POST (redeem) handlers of one confirm link."""

    def form_page(token: str) -> web.Response:
        body = (f"<h1>{esc(link.title)}</h1><p>{esc(link.explain)}</p>"
                + render_form(link.path, token, [], link.button))
        return page(link.title, body)

    async def get(request: web.Request) -> web.Response:
        token = request.query.get("token", "")[:MAX_TOKEN]
        if await find_token(request.app[BACKEND], token, (link.purpose,)) is None:
            return expired_page()
        return form_page(token)

    async def post(request: web.Request) -> web.Response:
        form = await read_form(request)
        if isinstance(form, web.Response):
            return form
        backend = request.app[BACKEND]
        token = posted_token(request, form)
        if await find_token(backend, token, (link.purpose,)) is None:
            return expired_page()
        customer_id = await call(backend.redeem, token, link.purpose)
        if customer_id is None:
            if link.purpose in ("approve_email_change", "change_email"):  # the new address was taken meanwhile
                return message_page("Email not changed", "The new address now belongs to another account, so nothing "
                                    "changed. Go back to the chat if you need help.", 409)
            return expired_page()
        return message_page("Done", await link.done(backend, customer_id), success=True)

    return get, post


# -- payment method -----------------------------------------------------------------------------------------------
CARD_FIELDS = [
    Field("number", "Card number", "text", "cc-number", "Demo only: use the test card 4242 4242 4242 4242.", 30,
          ' inputmode="numeric"'),
    Field("expiry", "Expiry date (MM/YY)", "text", "cc-exp", "", 7, ' inputmode="numeric" placeholder="MM/YY"'),
    Field("name", "Name on the card", "text", "cc-name", "", MAX_NAME),
]


def card_brand(digits: str) -> str:
    """The card network, from the number's first digits."""
    if digits.startswith("4"):
        return "Visa"
    if digits[:2] in {"34", "37"}:
        return "American Express"
    if 51 <= int(digits[:2]) <= 55 or 2221 <= int(digits[:4]) <= 2720:
        return "Mastercard"
    if digits.startswith(("6011", "65")):
        return "Discover"
    return "Card"


@dataclass(frozen=True)
class Card:
    """What the form gave, checked: only brand, last4 and expiry leave this module."""

    brand: str
    last4: str
    exp_month: int
    exp_year: int


def check_card(number: str, expiry: str, name: str, today: date) -> tuple[Card | None, dict[str, str]]:
    """The card, or what is wrong with each field."""
    errors: dict[str, str] = {}
    digits = CARD_SEPARATORS.sub("", number)
    if not digits:
        errors["number"] = "Enter the card number."
    elif not (digits.isascii() and digits.isdigit() and 12 <= len(digits) <= 19):
        errors["number"] = "Enter the card number as 12 to 19 digits (spaces are fine)."
    elif not luhn_ok(digits):
        errors["number"] = "That card number isn't valid: check the digits."
    month = year = 0
    match = EXPIRY_SHAPE.fullmatch(expiry) if expiry.isascii() else None
    if not expiry.strip():
        errors["expiry"] = "Enter the expiry date as MM/YY."
    elif match is None:
        errors["expiry"] = "Enter the expiry date as MM/YY, for example 04/29."
    else:
        month, year = int(match.group(1)), int(match.group(2))
        year += 2000 if year < 100 else 0
        if not 1 <= month <= 12:
            errors["expiry"] = "The month must be 01 to 12."
        elif (year, month) < (today.year, today.month):
            errors["expiry"] = "That card has expired: use a card with a future expiry date."
        elif year > today.year + MAX_YEARS_AHEAD:
            errors["expiry"] = "Check the expiry year."
    if not name.strip():
        errors["name"] = "Enter the name on the card."
    elif len(name) > MAX_NAME:
        errors["name"] = f"Use at most {MAX_NAME} characters for the name."
    elif has_controls(name):
        errors["name"] = "Use letters, spaces and punctuation only in the name."
    if errors:
        return None, errors
    return Card(card_brand(digits), digits[-4:], month, year), {}


def card_form(token: str, values: Mapping[str, str] | None = None, errors: Mapping[str, str] | None = None,
              status: int = 200) -> web.Response:
    """The card page (the number is never written back into the page)."""
    body = ("<h1>Update your payment method</h1>"
            '<p class="note">This is a demo: no card is charged and the number is not stored. Use the test card '
            "<strong>4242 4242 4242 4242</strong> with any future expiry date.</p>"
            + render_form("/billing/payment-method", token, CARD_FIELDS, "Save this card", values, errors))
    return page("Update your payment method", body, status)


async def payment_get(request: web.Request) -> web.Response:
    """Show the card form when the link is live; the token stays unused."""
    token = request.query.get("token", "")[:MAX_TOKEN]
    if await find_token(request.app[BACKEND], token, ("payment_method",)) is None:
        return expired_page()
    return card_form(token)


async def payment_post(request: web.Request) -> web.Response:
    """Check the card, then use the link and keep brand, last four digits and expiry."""
    form = await read_form(request)
    if isinstance(form, web.Response):
        return form
    backend = request.app[BACKEND]
    token = posted_token(request, form)
    if await find_token(backend, token, ("payment_method",)) is None:
        return expired_page()
    expiry, name = text_field(form, "expiry"), text_field(form, "name")
    card, errors = check_card(text_field(form, "number"), expiry, name, datetime.now(timezone.utc).date())
    if card is None:
        kept = {"expiry": expiry[:7], "name": name[:MAX_NAME]}
        return card_form(token, kept, errors, 422)
    customer_id = await call(backend.redeem, token, "payment_method")
    if customer_id is None:
        return expired_page()
    await call(backend.set_payment_method, customer_id, card.brand, card.last4, card.exp_month, card.exp_year)
    return message_page("Payment method updated", f"Your card ending {card.last4} is now your payment method.",
                        success=True)


# -- the rest of the site -----------------------------------------------------------------------------------------
async def home(request: web.Request) -> web.Response:
    """A tiny home page: what this site is."""
    body = (f"<h1>Welcome to {esc(COMPANY)}</h1>"
            "<p>This is the demo company's own website. The links our support assistant emails you open here: "
            "choosing a new password (which also unlocks a locked account), verifying your email address, changing "
            "it, and updating your payment method.</p>"
            "<p>Each link works once and for a short time. If one has expired, ask the chat for a new one.</p>")
    return page("Home", body)


async def stylesheet(request: web.Request) -> web.Response:
    """The site's only stylesheet (same origin, so the CSP needs no inline styles)."""
    return web.Response(text=CSS, content_type="text/css", charset="utf-8")


ERROR_TEXT = {
    404: ("Page not found", "There is no page at this address."),
    405: ("Not allowed", "This page can't be used that way."),
    413: ("Too much text", "That form was far too long to be ours. Go back and try again."),
}


@web.middleware
async def pages_and_log(request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
                        ) -> web.StreamResponse:
    """Errors as pages, and one log line per request: method, path (never the query: it holds the token), status."""
    try:
        response = await handler(request)
    except web.HTTPException as error:
        if error.status < 400:
            raise
        title, text = ERROR_TEXT.get(error.status, ("Something went wrong", "This request could not be handled."))
        allow = {"Allow": error.headers["Allow"]} if "Allow" in error.headers else None
        response = page(title, f"<h1>{esc(title)}</h1><p>{esc(text)}</p>", error.status, allow)
    except BackendUnavailable as error:
        logger.error("site: %s %s: backend unavailable (%s)", request.method, request.path, type(error).__name__)
        response = message_page("Try again later", "We can't reach our systems right now. Try the link again in a few "
                                "minutes.", 503)
    except Exception as error:  # never the message or traceback: either may quote what was posted
        logger.error("site: %s %s failed: %s", request.method, request.path, type(error).__name__)
        response = message_page("Something went wrong", "Something went wrong on our side. Try the link again.", 500)
    logger.info("site: %s %s %d", request.method, request.path, response.status)
    return response


async def security_headers(request: web.Request, response: web.StreamResponse) -> None:
    """Every response: no framing, no referrer (the token is in the URL), no caching, scripts off."""
    response.headers.update(SECURITY_HEADERS)


def create_app(backend: DemoBackend) -> web.Application:
    """The demo company's site on this backend."""
    app = web.Application(client_max_size=MAX_BODY_BYTES, middlewares=[pages_and_log])
    app[BACKEND] = backend
    app.on_response_prepare.append(security_headers)  # type: ignore[arg-type]  # aiohttp 3.9 types Signal oddly
    app.router.add_get("/", home)
    app.router.add_get("/site.css", stylesheet)
    app.router.add_get("/account/reset", reset_get)
    app.router.add_post("/account/reset", reset_post)
    for link in CONFIRM_LINKS:
        get, post = confirm_handlers(link)
        app.router.add_get(link.path, get)
        app.router.add_post(link.path, post)
    app.router.add_get("/billing/payment-method", payment_get)
    app.router.add_post("/billing/payment-method", payment_post)
    return app


def run(settings: ActionSettings) -> None:
    """Serve the site (the database is created or brought up to date first)."""
    backend = DemoBackend(settings.backend_db, settings.seed_path, settings.public_url, settings.link_ttl_minutes)
    backend.ensure_seeded()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    print(f"{COMPANY} demo site on http://{settings.site_host}:{settings.site_port}/", flush=True)
    web.run_app(create_app(backend), host=settings.site_host, port=settings.site_port, print=None, **SERVER_OPTIONS)

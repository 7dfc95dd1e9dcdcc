"""Secrets typed into the chat never reach a slot, a log or the hand-off payload."""

from __future__ import annotations

import pytest

from contract.redact import (
    REDACTED,
    contains_secret,
    luhn_ok,
    parse_classes,
    redact,
)


@pytest.mark.parametrize("card", [
    "4111111111111111",
    "4111 1111 1111 1111",
    "4111-1111-1111-1111",
    "5555 5555 5555 4444",
    "3782 822463 10005",  # Amex, 15 digits
])
def test_luhn_ok_card_numbers_are_redacted(card: str) -> None:
    out = redact(f"my card is {card}, please update it")
    digits = card.replace(" ", "").replace("-", "")
    assert out == f"my card is [REDACTED CARD ending {digits[-4:]}], please update it"
    assert card not in out and digits not in out and digits[:6] not in out


def test_luhn_invalid_number_is_kept() -> None:
    assert not luhn_ok("4111111111111112")
    assert redact("order 4111 1111 1111 1112 never came") == "order 4111 1111 1111 1112 never came"


@pytest.mark.parametrize(("text", "secret"), [
    ("my password is hunter2", "hunter2"),
    ("Password: hunter2!", "hunter2!"),
    ("my new pwd = S3cret#x", "S3cret#x"),
    ("passcode hunter22", "hunter22"),
    ("the password was 'Tr0ub4dor&3'", "Tr0ub4dor&3"),
])
def test_passwords_are_redacted(text: str, secret: str) -> None:
    out = redact(text)
    assert secret not in out
    assert REDACTED in out
    assert contains_secret(text)


def test_password_redaction_keeps_the_sentence_readable() -> None:
    assert redact("my password is hunter2") == f"my password is {REDACTED}"


@pytest.mark.parametrize("text", [
    "sk_live_4eC39HqLyjWDarjtT1zdp7dc",
    "use key sk_test_abcdefgh12345678 for the API",
    "AKIAIOSFODNN7EXAMPLE",
])
def test_api_keys_are_redacted(text: str) -> None:
    out = redact(text)
    assert REDACTED in out
    assert "4eC39HqLyjWDarjtT1zdp7dc" not in out and "abcdefgh12345678" not in out and "IOSFODNN7" not in out


def test_token_query_parameters_are_redacted() -> None:
    out = redact("the link https://app.example.com/account/reset?token=abc123XYZ&lang=en does not work")
    assert "abc123XYZ" not in out
    assert f"?token={REDACTED}&lang=en" in out


def test_long_opaque_tokens_are_redacted() -> None:
    token = "Zx8pQ2rT7vLm0kJ4hG6fD1sA9wE3yU5iO_nB-cV"
    assert redact(f"I got {token} in the email") == f"I got {REDACTED} in the email"


@pytest.mark.parametrize("text", [
    "I was charged twice on invoice INV-1071 for $49.00",
    "Hi, I can't sign in since yesterday",
    "I forgot my password and can't log in",
    "I need a password reset link please",
    "my password doesn't work anymore",
    "reset my password",
    "I get error E-504 when I open the dashboard",
    "call me on 555 0100",
    "order ORD-20240512 arrived broken",
    "my email is ana.ortiz@example.com",
    "",
])
def test_ordinary_sentences_are_untouched(text: str) -> None:
    assert redact(text) == text
    assert not contains_secret(text)


@pytest.mark.parametrize(("text", "expected"), [
    ("password - hunter2", f"password - {REDACTED}"),
    ("my password is sunshine", f"my password is {REDACTED}"),
    ("pwd:abc", f"pwd:{REDACTED}"),
    ("my password is not working", "my password is not working"),
    ("my password isn't working", "my password isn't working"),
    ("my password is wrong!", "my password is wrong!"),
    ("the file is password-protected", "the file is password-protected"),
    ("the password-reset page is blank", "the password-reset page is blank"),
])
def test_password_heuristic_edges(text: str, expected: str) -> None:
    assert redact(text) == expected


@pytest.mark.parametrize("card", [
    "4111.1111.1111.1111",
    "4111/1111/1111/1111",
    "4111  1111  1111  1111",
    "3782.822463.10005",  # Amex groups
    "4222/2222/2222/2",  # 13 digits, a short last group
])
def test_cards_grouped_by_dots_slashes_or_two_spaces_are_redacted(card: str) -> None:
    digits = "".join(c for c in card if c.isdigit())
    assert redact(f"my card is {card}, please") == f"my card is [REDACTED CARD ending {digits[-4:]}], please"


@pytest.mark.parametrize("text", [
    "4111.1111.1111.1112 is not a card",  # fails the Luhn check
    "we run version 1.2.3.4",
    "booked for 2024/11/30",
    "pi is 3.14159265358979",
])
def test_grouped_look_alikes_are_kept(text: str) -> None:
    assert redact(text) == text


@pytest.mark.parametrize(("text", "expected"), [
    ("my IBAN is DE89 3704 0044 0532 0130 00", "my IBAN is [REDACTED IBAN ending 3000]"),
    ("GB82WEST12345698765432, thanks", "[REDACTED IBAN ending 5432], thanks"),
    ("iban: nl91abna0417164300", "iban: [REDACTED IBAN ending 4300]"),
    # The groups run on into a following word of four capitals: the IBAN is its country's length.
    ("BE68 5390 0754 7034 THEN it bounced", "[REDACTED IBAN ending 7034] THEN it bounced"),
    ("DE88 3704 0044 0532 0130 00 was rejected", "DE88 3704 0044 0532 0130 00 was rejected"),  # wrong check digits
    ("BE68 5390 0754 70345 is too long", "BE68 5390 0754 70345 is too long"),
    ("order DE12 ABCD EFGH", "order DE12 ABCD EFGH"),
])
def test_ibans_with_a_valid_checksum_are_redacted(text: str, expected: str) -> None:
    assert redact(text) == expected


@pytest.mark.parametrize(("text", "expected"), [
    ("cvv 123", f"cvv {REDACTED}"),
    ("CVC: 4567", f"CVC: {REDACTED}"),
    ("the security code is 123, expiry 11/26", f"the security code is {REDACTED}, expiry 11/26"),
    ("the 3 digits on the back are 737", f"the 3 digits on the back are {REDACTED}"),
    ("I paid 123 dollars", "I paid 123 dollars"),
    ("room 404", "room 404"),
    ("cvv 12345", "cvv 12345"),  # five digits: not a security code
    ("what is a cvv? 123 people asked", "what is a cvv? 123 people asked"),
])
def test_cvv_only_when_introduced_as_one(text: str, expected: str) -> None:
    assert redact(text) == expected


def test_the_new_classes_can_be_chosen_alone() -> None:
    text = "iban DE89 3704 0044 0532 0130 00, cvv 123, card 4111.1111.1111.1111"
    assert parse_classes("iban,cvv") == {"iban", "cvv"}
    assert redact(text, {"iban"}) == "iban [REDACTED IBAN ending 3000], cvv 123, card 4111.1111.1111.1111"
    assert redact(text, {"cvv"}) == f"iban DE89 3704 0044 0532 0130 00, cvv {REDACTED}, card 4111.1111.1111.1111"
    assert redact(text, {"card"}) == "iban DE89 3704 0044 0532 0130 00, cvv 123, card [REDACTED CARD ending 1111]"

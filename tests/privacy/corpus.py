"""The redaction corpus: secrets customers really type, and look-alikes that must stay readable.

``POSITIVES`` are (class, message, secret): after :func:`contract.redact.redact` the secret must be gone (recall).
``NEGATIVES`` are messages that must come out unchanged (precision): order and invoice numbers, phone numbers,
dates, amounts, 16-digit numbers that fail the Luhn check, UUID request ids, talk *about* passwords and keys.
Card numbers here are the public test numbers of the card networks (Stripe, Adyen, PayPal test lists).
"""

from __future__ import annotations

CARD, PASSWORD, RESET_TOKEN, API_KEY = "card", "password", "reset_token", "api_key"

POSITIVES: list[tuple[str, str, str]] = [
    # Cards: every network, 13-19 digits, spaces, dashes, glued to punctuation.
    (CARD, "my card is 4111 1111 1111 1111, please update it", "4111 1111 1111 1111"),
    (CARD, "card number 4111111111111111 exp 12/27", "4111111111111111"),
    (CARD, "use 4012-8888-8888-1881 instead", "4012-8888-8888-1881"),
    (CARD, "Mastercard 5555 5555 5555 4444 was declined", "5555 5555 5555 4444"),
    (CARD, "charge it to 5105105105105100.", "5105105105105100"),
    (CARD, "amex 3782 822463 10005 please", "3782 822463 10005"),
    (CARD, "AMEX: 371449635398431", "371449635398431"),
    (CARD, "discover card 6011 1111 1111 1117 expired", "6011 1111 1111 1117"),
    (CARD, "(6011000990139424)", "6011000990139424"),
    (CARD, "diners 3056 930902 5904", "3056 930902 5904"),
    (CARD, "old diners club 38520000023237 still on file", "38520000023237"),
    (CARD, "JCB 3530 1113 3330 0000", "3530 1113 3330 0000"),
    (CARD, "card:3566002020360505", "3566002020360505"),
    (CARD, "a 13 digit visa 4222222222222 from 2009", "4222222222222"),
    (CARD, "maestro 6759 6498 2643 8453 - does that work?", "6759 6498 2643 8453"),
    (CARD, "new mastercard range 2223 0031 2200 3222", "2223 0031 2200 3222"),
    (CARD, "debit 4000 0566 5566 5556 got charged twice", "4000 0566 5566 5556"),
    (CARD, "5200-8282-8282-8210 is my business card", "5200-8282-8282-8210"),
    (CARD, "try 4242 4242 4242 4242", "4242 4242 4242 4242"),
    (CARD, "unionpay 6200000000000005", "6200000000000005"),
    (CARD, "19 digits: 6011 0000 0000 0000 001", "6011 0000 0000 0000 001"),
    (CARD, "card 6221260000000000001 from china", "6221260000000000001"),
    (CARD, "my card number is 4111 1111 1111 1111 and cvc 123", "4111 1111 1111 1111"),
    (CARD, "4111 1111 1111 1111", "4111 1111 1111 1111"),
    # Passwords typed into the chat.
    (PASSWORD, "my password is hunter2", "hunter2"),
    (PASSWORD, "My Password Is Tr0ub4dor&3 can you check", "Tr0ub4dor&3"),
    (PASSWORD, "pw: s3cr3t!", "s3cr3t!"),
    (PASSWORD, "password = correcthorse", "correcthorse"),
    (PASSWORD, "password: letmein", "letmein"),
    (PASSWORD, "pwd=Summer2024!", "Summer2024!"),
    (PASSWORD, "the password was 'bluebird'", "bluebird"),
    (PASSWORD, 'password "open sesame" does not work', "open sesame"),
    (PASSWORD, "passcode 8812 isn't accepted", "8812"),
    (PASSWORD, "I typed passwd Qwerty!23 three times", "Qwerty!23"),
    (PASSWORD, "new password is Blue-Horse-42 but it says invalid", "Blue-Horse-42"),
    (PASSWORD, "PASSWORD: ZXCVB12345", "ZXCVB12345"),
    (PASSWORD, "my pin is 4921", "4921"),
    (PASSWORD, "passphrase: 'purple monkey dishwasher'", "purple monkey dishwasher"),
    (PASSWORD, "login ana@example.com password hunter2!", "hunter2!"),
    (PASSWORD, "tried pw - Autumn#77", "Autumn#77"),
    # Reset links and codes.
    (RESET_TOKEN, "the link https://app.example.com/account/reset?token=abc123XYZ&lang=en does not work",
     "abc123XYZ"),
    (RESET_TOKEN, "https://northwind.example/reset/8f3KxQ29aLmN opens a blank page", "8f3KxQ29aLmN"),
    (RESET_TOKEN, "got https://northwind.example/password-reset/u7Yt5Rc3Wq1 twice", "u7Yt5Rc3Wq1"),
    (RESET_TOKEN, "my reset code is 482913", "482913"),
    (RESET_TOKEN, "verification code: 551-204", "551-204"),
    (RESET_TOKEN, "The security code 7Q4K9Z didn't work", "7Q4K9Z"),
    (RESET_TOKEN, "otp 902114 expired already", "902114"),
    (RESET_TOKEN, "2fa code = 118822", "118822"),
    (RESET_TOKEN, "one-time code 33 9812? no wait, one-time code 339812", "339812"),
    (RESET_TOKEN, "https://app.example.com/verify?code=Zt8q2Lm0 does nothing", "Zt8q2Lm0"),
    (RESET_TOKEN, "magic link https://app.example.com/magic/e9Fh2kLq7Pw", "e9Fh2kLq7Pw"),
    (RESET_TOKEN, "invite https://app.example.com/invite/INV4x9Tq2Lr8 says expired", "INV4x9Tq2Lr8"),
    (RESET_TOKEN, "reset token: 5d41402abc4b2a76", "5d41402abc4b2a76"),
    (RESET_TOKEN, "recovery code 8H2K-9QWX-41MZ", "8H2K-9QWX-41MZ"),
    # API keys and other secrets.
    (API_KEY, "key sk_live_51HxYzAbCdEfGhIj", "sk_live_51HxYzAbCdEfGhIj"),
    (API_KEY, "our sk_test_4eC39HqLyjWDarjtT1zdp7dc is rejected", "sk_test_4eC39HqLyjWDarjtT1zdp7dc"),
    (API_KEY, "publishable pk_live_TYooMQauvdEDq54NiTphI7jx", "pk_live_TYooMQauvdEDq54NiTphI7jx"),
    (API_KEY, "restricted rk_live_9aB8cD7eF6gH5iJ4", "rk_live_9aB8cD7eF6gH5iJ4"),
    (API_KEY, "api_key=0123456789abcdef0123456789abcdef", "0123456789abcdef0123456789abcdef"),
    (API_KEY, "API key: AbC123-xyz789", "AbC123-xyz789"),
    (API_KEY, "Authorization: Bearer abc.defghijklmnop", "abc.defghijklmnop"),
    (API_KEY, "curl -H 'Authorization: Bearer 9f8e7d6c5b4a3f2e1d0c' fails", "9f8e7d6c5b4a3f2e1d0c"),
    (API_KEY, "token eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOjF9.sig", "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOjF9"),
    (API_KEY, "AWS key AKIAIOSFODNN7EXAMPLE leaked?", "AKIAIOSFODNN7EXAMPLE"),
    (API_KEY, "aws secret wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"),
    (API_KEY, "github token ghp_16C7e42F292c6912E7710c838347Ae178B4a", "ghp_16C7e42F292c6912E7710c838347Ae178B4a"),
    (API_KEY, "slack xoxb-123456789012-abcdefABCDEF", "xoxb-123456789012-abcdefABCDEF"),
    (API_KEY, "webhook secret whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"),
    (API_KEY, "the hex secret 9b74c9897bac770ffc029102a200c5de", "9b74c9897bac770ffc029102a200c5de"),
    (API_KEY, "client_secret=Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5MA==", "Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5MA=="),
    (API_KEY, "base64 key dGhpcyBpcyBhIHNlY3JldCBrZXkgMTIz+/Ab== in config", "dGhpcyBpcyBhIHNlY3JldCBrZXkgMTIz+/Ab=="),
    (API_KEY, "token: 3f9a1c2e-long-SECRET-77", "3f9a1c2e-long-SECRET-77"),
    (API_KEY, "google key AIzaSyDdI0hCZtE6vySjMm-WEfRq3CPzqKqqsHI", "AIzaSyDdI0hCZtE6vySjMm-WEfRq3CPzqKqqsHI"),
    (API_KEY, "private_key: MIIEvQIBADANBgkqhkiG9w0BAQEFAASC", "MIIEvQIBADANBgkqhkiG9w0BAQEFAASC"),
    (API_KEY, "gitlab glpat-xxYYzz112233aaBBcc44", "glpat-xxYYzz112233aaBBcc44"),
    (API_KEY, "openai sk-proj-Ab12Cd34Ef56Gh78Ij90Kl12Mn34Op56Qr78St90Uv12Wx leaked",
     "sk-proj-Ab12Cd34Ef56Gh78Ij90Kl12Mn34Op56Qr78St90Uv12Wx"),
]

NEGATIVES: list[str] = [
    # Order, invoice, ticket and tracking numbers.
    "order 1234567890123 never arrived",
    "my order number is 4111 1111 1111 1112",  # 16 digits, fails the Luhn check
    "reference 1234 5678 9012 3456 on the invoice",  # 16 digits, fails the Luhn check
    "invoice INV-2024-000123 is wrong",
    "invoice #88213 shows $1,249.00 instead of $249.00",
    "ticket 5000123412341235 please",  # 16 digits, fails the Luhn check
    "tracking 1Z999AA10123456784 says delivered",
    "order id 9876543210987654 got cancelled",  # fails the Luhn check
    "PO 2024-11-0042 for 12 seats",
    "customer number 000123456 since 2019",
    # Phone numbers.
    "call me at +1 415-555-0132",
    "my phone is +44 20 7946 0958",
    "reach me on 0049 30 12345678",
    "+33 1 23 45 67 89 after 6pm",
    # Dates, times, amounts.
    "it happened on 2024-05-17 at 14:32",
    "since 17/05/2024 the export fails",
    "I was charged 1,234.56 EUR on 03.11.2024",
    "we pay 49.99 a month for 25 users",
    "between 10:00 and 12:30 yesterday",
    # Ids that are not secrets.
    "request id 123e4567-e89b-12d3-a456-426614174000 in the error",
    "conversation Qm9uam91ci1sZXMtYW1pcy0xMjM0NTY3 in the console",  # a conversation id (32 url-safe characters)
    "error code 0x80070005 when saving",
    "build 2.14.3 on macOS 14.4",
    "account ana.ortiz@example.com, workspace northwind",
    # Talk about passwords, codes and keys.
    "my password is not working",
    "I forgot my password",
    "password reset link never arrived",
    "the password reset failed again",
    "I changed my password yesterday",
    "where do I change my password?",
    "my password is expired and locked",
    "the reset code never came",
    "no verification code in my inbox",
    "where do I find my API key?",
    "the api key is missing from the settings page",
    "token expired, what now?",
    "my token is invalid",
    "I can't pass the login screen",
    "the passport upload fails",
    "pinned messages disappeared",
    "I typed my pin twice",
    "https://northwind.example/reset/ gives a 404",
    "https://app.example.com/billing/invoices?page=2 is empty",
    "the secret santa page is down",
    "ids pk-dbEFgr6m7KFPRLO8SrJUQUCjQZDar and oTP33ryWDXehB5vYgkOpgw2UmbM4hHWG",  # conversation ids, not keys
    "ids ghr_AsC9S3087EdZZHxqBp05jeJAWYsy and sk-6EHXYoWNdSPSoG6aiH_O68s5OuBmo",
    "I9CiteLfNXG-pk_SzaN3o9YItnmVfY_0 is the session in the screenshot",
    "https://docs.example.com/Guides/Setup/Install2024/Windows does not load",
    "see Products/Widgets/Model2024/Specs on your site",
    "https://northwind.example/docs/getting-started-with-api-v2-and-webhooks is outdated",
    "the file export_2024_11_27_invoices_v3_final.csv is empty",
]

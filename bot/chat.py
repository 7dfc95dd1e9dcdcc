"""`make shell`: chat with the running bot in a terminal through Rasa's REST webhook (buttons are numbered).

It holds what the gateway holds (RASA_TOKEN, VOUCH_SECRET from var/run.env): it is an operator's tool on this
machine, so it may act as a verified customer, vouched for the way the gateway does it.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import urllib.error
import urllib.request
from typing import Any

from contract.vouch import vouch


def send(url: str, sender: str, text: str, metadata: dict[str, Any]) -> list[dict[str, Any]]:
    """Post one message (with the gateway's token) and return the bot's replies."""
    body = json.dumps({"sender": sender, "message": text, "metadata": metadata}).encode()
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {os.environ.get('RASA_TOKEN', '')}"}
    request = urllib.request.Request(url, data=body, headers=headers)
    with urllib.request.urlopen(request, timeout=30) as response:
        return list(json.load(response))


def show(replies: list[dict[str, Any]]) -> list[dict[str, str]]:
    """Print the replies; return the buttons of the last one that has any."""
    buttons: list[dict[str, str]] = []
    for reply in replies:
        if "text" in reply:
            print(f"bot> {reply['text']}")
        if reply.get("buttons"):
            buttons = reply["buttons"]
            for number, button in enumerate(buttons, start=1):
                print(f"     [{number}] {button['title']}")
        if "custom" in reply and "handoff" in reply["custom"]:
            handoff = reply["custom"]["handoff"]
            print(f"     (hand-off to a person: {handoff['reason']}; {handoff['problem']})")
    return buttons


def main() -> None:
    """Read lines, send them, print the answers; a number picks a button."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", default="http://127.0.0.1:5005/webhooks/rest/webhook")
    parser.add_argument("--customer", help="act as a verified demo customer, e.g. cus_1003 (enterprise)")
    args = parser.parse_args()
    sender = f"shell-{secrets.token_hex(6)}"
    customer = (
        vouch(os.environ.get("VOUCH_SECRET", ""), sender, {"id": args.customer, "email": None, "name": None})
        if args.customer
        else None
    )
    metadata = {"channel": "shell", "customer": customer}
    print("Type a message (Ctrl-D to quit). Try: 'I forgot my password' with ana.ortiz@example.com.")
    buttons: list[dict[str, str]] = []
    while True:
        try:
            text = input("you> ").strip()
        except (EOFError, KeyboardInterrupt):
            print()
            return
        if text.isdigit() and 1 <= int(text) <= len(buttons):
            text = buttons[int(text) - 1]["payload"]
        try:
            buttons = show(send(args.url, sender, text, metadata)) or []
        except (urllib.error.URLError, OSError) as error:
            print(f"(cannot reach the bot at {args.url}: {error}; is `make run` running?)")


if __name__ == "__main__":
    main()

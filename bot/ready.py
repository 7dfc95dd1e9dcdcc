"""Waits until Rasa, the action server and the gateway answer, then prints what to do next (a Procfile process)."""

from __future__ import annotations

import os
import sys
import time
import urllib.error
import urllib.request

CHECK_EVERY_SECONDS = 1.0
GIVE_UP_AFTER_SECONDS = 300.0


def answers(url: str) -> bool:
    """True when the URL returns HTTP 200."""
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def main() -> int:
    """Poll both servers, print the banner, then stay alive (honcho stops everything when a process exits)."""
    rasa = f"http://127.0.0.1:{os.environ.get('RASA_PORT', '5005')}"
    actions = f"http://127.0.0.1:{os.environ.get('ACTIONS_PORT', '5055')}"
    gateway = f"http://127.0.0.1:{os.environ.get('HANDOFF_PORT', '8080')}"
    deadline = time.monotonic() + GIVE_UP_AFTER_SECONDS
    while not (answers(f"{rasa}/version") and answers(f"{actions}/health") and answers(f"{gateway}/healthz")):
        if time.monotonic() > deadline:
            print("Rasa, the action server or the gateway did not start in time: see var/rasa.log and the lines above.")
            return 1
        time.sleep(CHECK_EVERY_SECONDS)
    print(
        "\n"
        "  The support front line is up.\n"
        f"    Demo site with the chat widget:  {gateway}/\n"
        f"    Agent console:                   {gateway}/console\n"
        "      demo agents: lena@example.com / lena-demo-pass (L2, billing)\n"
        "                   omar@example.com / omar-demo-pass (lead, technical)\n"
        f"    Company site (emailed links):    http://127.0.0.1:{os.environ.get('DEMO_SITE_PORT', '8090')}/\n"
        f"    Gateway health, API:             {gateway}/healthz, {gateway}/api/openapi.json\n"
        f"    Rasa server (REST webhook):      {rasa}/webhooks/rest/webhook\n"
        f"    Action server:                   {actions}/health\n"
        "  Chat in this terminal instead:  make shell   (Ctrl-C stops everything)\n",
        flush=True,
    )
    while True:
        time.sleep(3600)


if __name__ == "__main__":
    sys.exit(main())

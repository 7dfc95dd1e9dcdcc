"""`python -m actions.backend reset|seed|outbox|site`: reseed the demo business, print its emails, or serve its site."""

from __future__ import annotations

import argparse
import json

from actions.backend.store import DemoBackend
from actions.settings import ActionSettings


def main() -> None:
    """Parse the command line and run it."""
    parser = argparse.ArgumentParser(prog="python -m actions.backend", description=__doc__)
    parser.add_argument("command", choices=["reset", "seed", "outbox", "site"],
                        help="reset: drop and reseed; seed: only when missing; outbox: print emails; site: serve the "
                             "demo company's website (the pages the emailed links open) on DEMO_SITE_HOST:DEMO_SITE_PORT")
    parser.add_argument("--to", help="with outbox: only emails to this address")
    args = parser.parse_args()
    settings = ActionSettings.from_env()
    if args.command == "site":
        from actions.backend import site  # aiohttp only when serving

        site.run(settings)
        return
    backend = DemoBackend(settings.backend_db, settings.seed_path, settings.public_url, settings.link_ttl_minutes)
    if args.command == "reset":
        backend.reset()
        print(f"demo business reseeded in {settings.backend_db}")
    elif args.command == "seed":
        backend.ensure_seeded()
    else:
        for email in backend.outbox(args.to):
            print(json.dumps(email))


if __name__ == "__main__":
    main()

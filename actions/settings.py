"""Settings of the action server, read once from the environment."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class ActionSettings:
    """Every knob of the action server, with defaults that run on a laptop."""

    backend_db: Path = Path("var/demo_business.db")
    seed_path: Path = Path(__file__).parent / "backend" / "seed.json"
    # Where the links the bot emails point: the demo company's own site (`python -m actions.backend site`).
    public_url: str = "http://127.0.0.1:8090"
    link_ttl_minutes: int = 30
    max_strikes: int = 3
    max_verification_attempts: int = 3
    # Reset links, and verification codes, one address may be sent per rolling hour (the rest are refused).
    max_sends_per_hour: int = 3
    # Same knob and meaning as the gateway's HANDOFF_REDACT (see contract.redact.CLASSES).
    redact: str = "all"
    # Shared with the gateway only: an identity counts as verified only with the gateway's voucher (contract.vouch).
    vouch_secret: str = ""
    # The demo company's website (actions/backend/site.py): loopback unless configured.
    site_host: str = "127.0.0.1"
    site_port: int = 8090

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> ActionSettings:
        """Build settings from DEMO_BACKEND_DB, DEMO_SEED_PATH, PUBLIC_URL, LINK_TTL_MINUTES, MAX_STRIKES, VOUCH_SECRET.

        Also DEMO_SITE_HOST and DEMO_SITE_PORT (the demo company's site), and the other knobs named like their fields.
        """
        env = os.environ if env is None else env
        default = cls()
        return cls(
            backend_db=Path(env.get("DEMO_BACKEND_DB", str(default.backend_db))),
            seed_path=Path(env.get("DEMO_SEED_PATH", str(default.seed_path))),
            public_url=env.get("PUBLIC_URL", default.public_url).rstrip("/"),
            link_ttl_minutes=int(env.get("LINK_TTL_MINUTES", default.link_ttl_minutes)),
            max_strikes=int(env.get("MAX_STRIKES", default.max_strikes)),
            max_verification_attempts=int(env.get("MAX_VERIFICATION_ATTEMPTS", default.max_verification_attempts)),
            max_sends_per_hour=int(env.get("MAX_SENDS_PER_HOUR", default.max_sends_per_hour)),
            redact=env.get("HANDOFF_REDACT") or default.redact,
            vouch_secret=env.get("VOUCH_SECRET", default.vouch_secret),
            site_host=env.get("DEMO_SITE_HOST") or default.site_host,
            site_port=int(env.get("DEMO_SITE_PORT") or default.site_port),
        )

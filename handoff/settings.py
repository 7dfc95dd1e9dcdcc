"""Gateway settings: one frozen dataclass read from the environment, with laptop defaults."""

from __future__ import annotations

import ipaddress
import logging
import os
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any

from contract.redact import CLASSES as REDACT_CLASSES

# scheme://host[:port] exactly as browsers send it in the Origin header.
ORIGIN = re.compile(r"^https?://[A-Za-z0-9.\-\[\]:]+$")

PRIORITIES = ("urgent", "high", "normal", "low")

DEFAULT_SLA_MINUTES: dict[str, float] = {"urgent": 5.0, "high": 15.0, "normal": 30.0, "low": 60.0}
# Minutes an L3 escalation may wait to be claimed by an engineer, by its L3 priority (handoff.domain.l3).
DEFAULT_L3_SLA_MINUTES: dict[str, float] = {"urgent": 60.0, "high": 240.0, "normal": 480.0, "low": 1440.0}
# Per-priority minute tables: the setting, its environment variable, its defaults.
SLA_TABLES = {
    "sla_minutes": ("HANDOFF_SLA_MINUTES", DEFAULT_SLA_MINUTES),
    "l3_sla_minutes": ("HANDOFF_L3_SLA_MINUTES", DEFAULT_L3_SLA_MINUTES),
}

# What the language detector (handoff.domain.language) chooses among: the languages agents are likely to speak, plus
# common ones so that a message in them is not forced into a wrong near neighbour. More languages cost memory and
# short-text accuracy.
DEFAULT_LANGUAGES = ("en", "es", "de", "fr", "it", "pt", "nl", "pl", "tr", "ru", "ar", "zh", "ja", "ko")

# Each secret, the environment variable that sets it, and what it protects (docs/security.md says more).
SECRETS: dict[str, tuple[str, str]] = {
    "identity_secret": ("IDENTITY_SECRET", "the host page's customer identity signatures"),
    "token_secret": ("TOKEN_SECRET", "agent login tokens"),
    "vouch_secret": ("VOUCH_SECRET", "the identity the gateway vouches for to the action server"),
    "rasa_token": ("RASA_TOKEN", "the gateway's channel and HTTP API calls to Rasa"),
}
MIN_SECRET_LENGTH = 16

log = logging.getLogger(__name__)


def _parse_sla(raw: str, defaults: Mapping[str, float], variable: str) -> dict[str, float]:
    """Parse ``urgent=5,high=15,normal=30,low=60`` (``variable``'s value) into a mapping of minutes."""
    result = dict(defaults)
    for part in raw.split(","):
        if not part.strip():
            continue
        level, _, minutes = part.partition("=")
        level = level.strip().lower()
        if level not in PRIORITIES:
            raise ValueError(f"{variable}: unknown priority {level!r}")
        result[level] = float(minutes)
    return result


@dataclass(frozen=True)
class Settings:
    """Every knob of the gateway; defaults run on a laptop with ``make run``."""

    host: str = "127.0.0.1"
    port: int = 8080
    database_url: str = "sqlite+aiosqlite:///var/handoff.db"
    auto_migrate: bool = True
    rasa_url: str = "http://127.0.0.1:5005"
    # Several Rasa servers (shared SQL tracker store + RedisLockStore): each conversation to its own healthy one.
    rasa_urls: tuple[str, ...] = ()
    rasa_health_interval_seconds: float = 5.0
    # Secrets (SECRETS above): no built-in value. Outside demo mode the gateway refuses to start without them.
    rasa_token: str = ""
    rasa_timeout: float = 10.0
    rasa_handback_intent: str = "handback"
    # Customer messages being delivered (to Rasa, or handed off) at once; the rest wait, in order per conversation.
    max_concurrent_deliveries: int = 64
    identity_secret: str = ""
    token_secret: str = ""
    vouch_secret: str = ""
    token_ttl_seconds: int = 8 * 3600
    max_message_bytes: int = 4096
    max_payload_bytes: int = 65536
    rate_limit_events: int = 30
    rate_limit_window_seconds: float = 10.0
    sla_minutes: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_SLA_MINUTES))
    sla_warn_fraction: float = 0.2
    sla_check_interval_seconds: float = 15.0
    l1_stale_minutes: float = 30.0
    l2_stale_minutes: float = 90.0
    l3_sla_minutes: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_L3_SLA_MINUTES))
    # An L3 escalation claimed and left untouched (no message, note or return) this long raises a stale alert.
    l3_stale_minutes: float = 240.0
    agent_grace_seconds: float = 120.0
    average_handle_seconds: int = 300
    auto_assign: bool = True
    business_hours: str = "mon-sun 00:00-24:00"
    timezone: str = "UTC"
    seed_path: str = "actions/backend/seed.json"
    # Browser origins allowed to open Socket.IO connections; empty = the gateway's own (127.0.0.1/localhost:port).
    allowed_origins: tuple[str, ...] = ()
    # Reverse proxies (IPs or CIDRs) whose X-Forwarded-For is believed; otherwise the TCP peer is the client IP.
    trusted_proxies: tuple[str, ...] = ()
    # Per client IP: Socket.IO connections per window, and events per rate-limit window summed over its sockets.
    ip_connections: int = 120
    ip_connection_window_seconds: float = 60.0
    ip_rate_limit_events: int = 300
    # Customer sockets (tabs) bound to one session id at a time.
    max_sockets_per_session: int = 10
    # POST /api/login: failures per email (and per IP) in the window before a lockout of login_lockout_seconds.
    login_max_failures: int = 5
    login_ip_max_failures: int = 20
    login_failure_window_seconds: float = 900.0
    login_lockout_seconds: float = 900.0
    # Login back-off (handoff.usecases.lockout): first delay, doubling per further failure, up to the maximum.
    login_backoff_seconds: float = 1.0
    login_backoff_max_seconds: float = 60.0
    # A customer session id unused (no message, no state change) this long is not resumed: a fresh conversation.
    session_idle_hours: float = 24.0
    redis_url: str = ""
    # Pub/sub channel and key prefix in Redis: gateways that should see each other share it.
    redis_channel: str = "handoff"
    redis_check_interval_seconds: float = 5.0
    log_level: str = "INFO"
    # Built front ends (``npm run build`` in widget/): demo page at /, widget at /widget.js, console at /console.
    widget_dist: str = "widget/dist"
    # Demo mode (HANDOFF_DEMO=1, what `make run` uses), on a loopback host only: POST /api/demo/identity signs the
    # seed file's demo contacts for the demo page, `handoff seed` creates the demo agents, and a missing secret
    # is replaced by a random one for this process instead of refusing to start.
    demo_mode: bool = False
    # Escalation prediction: above this probability after a bot turn, the gateway offers a person early.
    prediction_threshold: float = 0.5
    prediction_model_path: str = "var/escalation_model.joblib"
    # Bearer token Prometheus sends to GET /metrics (HANDOFF_METRICS_TOKEN); unset, only a lead's login token opens it.
    metrics_token: str = ""
    # Secrets removed from transcripts, summaries, exports and logs (HANDOFF_REDACT=card,password,... or all / none).
    redact: tuple[str, ...] = REDACT_CLASSES
    # Language of customer messages (handoff.domain.language): a conversation in a language the bot does not speak goes to
    # an agent who speaks it. HANDOFF_LANGUAGE_DETECTION=0 turns it off; the languages the detector chooses among.
    language_detection: bool = True
    detect_languages: tuple[str, ...] = DEFAULT_LANGUAGES
    # The Rasa project the designer's labels are written into and retrained from (data/nlu/, domain.yml, tests/nlu,
    # models/): empty = the gateway's working directory (the checkout). Tests point it at a copy.
    training_project: str = ""
    # The Python that runs `-m bot.retrain` (the bot's environment): empty = <training project>/.venv/bin/python.
    bot_python: str = ""

    def __post_init__(self) -> None:
        """Refuse settings that would open the gateway to every web site or to spoofed client IPs."""
        for origin in self.allowed_origins:
            if "*" in origin:
                raise ValueError(
                    "HANDOFF_ALLOWED_ORIGINS must list origins (e.g. https://www.example.com); '*' is refused: "
                    "it would let any web site open customer and agent sockets"
                )
            if not ORIGIN.match(origin):
                raise ValueError(
                    f"HANDOFF_ALLOWED_ORIGINS: {origin!r} is not an origin (scheme://host[:port], no path or slash)"
                )
        for proxy in self.trusted_proxies:
            try:
                ipaddress.ip_network(proxy, strict=False)
            except ValueError as exc:
                raise ValueError(f"HANDOFF_TRUSTED_PROXIES: {proxy!r} is not an IP address or network") from exc
        if self.demo_mode and not is_loopback_host(self.host):
            raise ValueError(
                f"HANDOFF_DEMO=1 is refused with HANDOFF_HOST={self.host}: demo mode signs identities for anyone who "
                "asks and seeds agents with published passwords, so it only runs on a loopback host (127.0.0.1)"
            )

    def missing_secrets(self) -> list[str]:
        """The environment variables of secrets that are unset or too short to be real."""
        return [env for name, (env, _) in SECRETS.items() if len(getattr(self, name)) < MIN_SECRET_LENGTH]

    def with_required_secrets(self) -> Settings:
        """These settings, refused without real secrets; in demo mode, missing ones become random for this process.

        Raises:
            ValueError: a secret is missing outside demo mode (the message names each and what it protects).
        """
        missing = self.missing_secrets()
        if not missing:
            return self
        if not self.demo_mode:
            described = "; ".join(f"{env} ({what})" for env, what in SECRETS.values() if env in missing)
            raise ValueError(
                f"missing or too short (< {MIN_SECRET_LENGTH} characters) secrets: {described}. Set them in the "
                "environment (`make run` writes var/run.env), or run the loopback demo with HANDOFF_DEMO=1"
            )
        generated: dict[str, Any] = {name: secrets.token_hex(24) for name, (env, _) in SECRETS.items() if env in missing}
        log.warning("demo mode: random %s for this process only", ", ".join(sorted(missing)))
        return replace(self, **generated)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Build settings from ``HANDOFF_*``-style environment variables (see README for names)."""
        env = os.environ if env is None else env
        names: dict[str, str] = {
            "host": "HANDOFF_HOST",
            "port": "HANDOFF_PORT",
            "database_url": "DATABASE_URL",
            "auto_migrate": "HANDOFF_AUTO_MIGRATE",
            "rasa_url": "RASA_URL",
            "rasa_urls": "RASA_URLS",
            "rasa_health_interval_seconds": "RASA_HEALTH_INTERVAL",
            "rasa_token": "RASA_TOKEN",
            "rasa_timeout": "RASA_TIMEOUT",
            "rasa_handback_intent": "RASA_HANDBACK_INTENT",
            "max_concurrent_deliveries": "HANDOFF_MAX_CONCURRENT_DELIVERIES",
            "identity_secret": "IDENTITY_SECRET",
            "token_secret": "TOKEN_SECRET",
            "vouch_secret": "VOUCH_SECRET",
            "token_ttl_seconds": "TOKEN_TTL_SECONDS",
            "max_message_bytes": "HANDOFF_MAX_MESSAGE_BYTES",
            "max_payload_bytes": "HANDOFF_MAX_PAYLOAD_BYTES",
            "rate_limit_events": "HANDOFF_RATE_LIMIT_EVENTS",
            "rate_limit_window_seconds": "HANDOFF_RATE_LIMIT_WINDOW",
            "sla_minutes": "HANDOFF_SLA_MINUTES",
            "sla_warn_fraction": "HANDOFF_SLA_WARN_FRACTION",
            "sla_check_interval_seconds": "HANDOFF_SLA_CHECK_INTERVAL",
            "l1_stale_minutes": "HANDOFF_L1_STALE_MINUTES",
            "l2_stale_minutes": "HANDOFF_L2_STALE_MINUTES",
            "l3_sla_minutes": "HANDOFF_L3_SLA_MINUTES",
            "l3_stale_minutes": "HANDOFF_L3_STALE_MINUTES",
            "agent_grace_seconds": "HANDOFF_AGENT_GRACE_SECONDS",
            "average_handle_seconds": "HANDOFF_AVERAGE_HANDLE_SECONDS",
            "auto_assign": "HANDOFF_AUTO_ASSIGN",
            "business_hours": "HANDOFF_BUSINESS_HOURS",
            "timezone": "HANDOFF_TIMEZONE",
            "seed_path": "HANDOFF_SEED_PATH",
            "allowed_origins": "HANDOFF_ALLOWED_ORIGINS",
            "trusted_proxies": "HANDOFF_TRUSTED_PROXIES",
            "ip_connections": "HANDOFF_IP_CONNECTIONS",
            "ip_connection_window_seconds": "HANDOFF_IP_CONNECTION_WINDOW",
            "ip_rate_limit_events": "HANDOFF_IP_RATE_LIMIT_EVENTS",
            "max_sockets_per_session": "HANDOFF_MAX_SOCKETS_PER_SESSION",
            "login_max_failures": "HANDOFF_LOGIN_MAX_FAILURES",
            "login_ip_max_failures": "HANDOFF_LOGIN_IP_MAX_FAILURES",
            "login_failure_window_seconds": "HANDOFF_LOGIN_FAILURE_WINDOW",
            "login_lockout_seconds": "HANDOFF_LOGIN_LOCKOUT",
            "login_backoff_seconds": "HANDOFF_LOGIN_BACKOFF",
            "login_backoff_max_seconds": "HANDOFF_LOGIN_BACKOFF_MAX",
            "session_idle_hours": "HANDOFF_SESSION_IDLE_HOURS",
            "redis_url": "REDIS_URL",
            "redis_channel": "REDIS_CHANNEL",
            "redis_check_interval_seconds": "REDIS_CHECK_INTERVAL",
            "log_level": "HANDOFF_LOG_LEVEL",
            "widget_dist": "HANDOFF_WIDGET_DIST",
            "demo_mode": "HANDOFF_DEMO",
            "prediction_threshold": "HANDOFF_PREDICTION_THRESHOLD",
            "prediction_model_path": "HANDOFF_PREDICTION_MODEL",
            "metrics_token": "HANDOFF_METRICS_TOKEN",
            "redact": "HANDOFF_REDACT",
            "language_detection": "HANDOFF_LANGUAGE_DETECTION",
            "detect_languages": "HANDOFF_DETECT_LANGUAGES",
            "training_project": "HANDOFF_TRAINING_PROJECT",
            "bot_python": "HANDOFF_BOT_PYTHON",
        }
        defaults = cls()
        values: dict[str, Any] = {}
        for f in fields(cls):
            raw = env.get(names[f.name])
            if raw is None or raw == "":
                continue
            current = getattr(defaults, f.name)
            values[f.name] = _convert(f.name, raw, current)
        return replace(defaults, **values)

    @property
    def rasa_servers(self) -> tuple[str, ...]:
        """The Rasa servers to use: ``RASA_URLS`` when set, else the one ``RASA_URL``."""
        return self.rasa_urls or (self.rasa_url,)

    def sla_for(self, priority: str) -> float:
        """Minutes allowed before a queued hand-off of ``priority`` must be picked up."""
        return float(self.sla_minutes.get(priority, self.sla_minutes.get("normal", 30.0)))


def is_loopback_host(host: str) -> bool:
    """True for an address only this machine reaches (127.0.0.0/8, ::1, localhost); 0.0.0.0 is every interface."""
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _convert(name: str, raw: str, current: Any) -> Any:
    """Convert an environment string to the type of the default value."""
    if name in SLA_TABLES:
        variable, defaults = SLA_TABLES[name]
        return _parse_sla(raw, defaults, variable)
    if isinstance(current, bool):
        return raw.strip().lower() in {"1", "true", "yes", "on"}
    if isinstance(current, int):
        return int(raw)
    if isinstance(current, float):
        return float(raw)
    if isinstance(current, tuple):
        return tuple(p.strip() for p in raw.split(",") if p.strip())
    return raw

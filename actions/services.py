"""The action server's shared resources, built once per process."""

from __future__ import annotations

from functools import lru_cache

from rasa_sdk import Tracker

from actions.backend import Customer, DemoBackend
from actions.settings import ActionSettings


@lru_cache(maxsize=1)
def settings() -> ActionSettings:
    """Settings read from the environment on first use."""
    return ActionSettings.from_env()


@lru_cache(maxsize=1)
def backend() -> DemoBackend:
    """The demo business backend, seeded on first use (a failure is raised, not cached)."""
    config = settings()
    store = DemoBackend(config.backend_db, config.seed_path, config.public_url, config.link_ttl_minutes)
    store.ensure_seeded()
    return store


def current_customer(tracker: Tracker) -> Customer | None:
    """The verified customer of this chat, else the account matching the email the customer gave."""
    customer_id = tracker.get_slot("customer_id")
    if customer_id:
        return backend().customer_by_id(customer_id)
    email = tracker.get_slot("email")
    return backend().customer_by_email(email) if email else None

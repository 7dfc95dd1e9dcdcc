"""The gateway fixtures of tests/handoff (a real gateway on a temporary SQLite file, fake Rasa)."""

from tests.handoff.conftest import gateway, gateway_factory

__all__ = ["gateway", "gateway_factory"]

"""The action server: one module per support topic, the hand-off action, and the demo backend adapter."""

from actions.settings import ActionSettings
from contract import redact

# Loaded by `rasa run actions` before any action runs: HANDOFF_REDACT applies here too, and no log line of the
# action server (ours, Sanic's, the SDK's) carries a card number, password, reset token or API key.
redact.install(ActionSettings.from_env().redact)

"""The action server: one module per support topic, the hand-off action, and the demo backend adapter."""

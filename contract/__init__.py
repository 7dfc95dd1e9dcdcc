"""What the bot side (Rasa components, action server) and the gateway must agree on, with no dependencies.

Standard library only, so the action server (Python 3.10, Rasa's stack) and the gateway import the same code:
redaction of secrets (:mod:`contract.redact`), the identity the gateway vouches for (:mod:`contract.vouch`),
the reasons a conversation goes to a person (:mod:`contract.handoff`), the payload the bot hands off with
(:mod:`contract.handoff_payload`) and the customer impact of a fault, read from the customer's words
(:mod:`contract.impact`).
"""

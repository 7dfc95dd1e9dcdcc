"""Use cases: what the gateway does for customers and agents (relay, queue and assignment, SLA, hand-back, recovery).

May import storage, domain and the base modules; never transport or analytics.
"""

"""Analytics, beside the live path: metrics, scorecards, Prometheus, review, friction, prediction training, simulator.

May import ``handoff.transport.http``, storage, domain and the base modules; only the composition root (``app``,
``__main__``) and ``transport.openapi`` import analytics.
"""

"""Transport: the gateway's doors (Socket.IO namespaces, REST views, pages, OpenAPI, rate limits, the Redis manager).

May import the use cases, storage, domain and the base modules (``handoff.settings``, ``handoff.logref``); of
analytics only ``openapi`` (which documents the analytics routes) imports ``handoff.analytics.insights``.
"""

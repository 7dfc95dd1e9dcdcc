"""Domain: the rules, pure (states and moves, events, priority, routing, access, summary, escalation risk; no I/O).

May import other domain modules, the base modules and ``contract``; never aiohttp, socketio, sqlalchemy or redis.
"""

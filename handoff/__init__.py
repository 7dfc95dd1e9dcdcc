"""Handoff gateway: the Socket.IO front door between customers, the Rasa bot (L1) and human agents (L2/L3).

The gateway never imports rasa: it talks to the Rasa server over HTTP only.
"""

__version__ = "0.1.0"

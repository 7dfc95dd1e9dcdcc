"""Typed application keys: every resource the app factory puts on the aiohttp application."""

from __future__ import annotations

import asyncio

import aiohttp
import socketio
from aiohttp import web

from handoff.settings import Settings
from handoff.storage.db import Database
from handoff.usecases.gateway import Gateway
from handoff.usecases.training import Training

SETTINGS = web.AppKey("settings", Settings)
DB = web.AppKey("db", Database)
HTTP = web.AppKey("http", aiohttp.ClientSession)
SIO = web.AppKey("sio", socketio.AsyncServer)
GATEWAY = web.AppKey("gateway", Gateway)
# Set when the server starts shutting down, so background loops end before aiohttp waits for them.
STOPPING = web.AppKey("stopping", asyncio.Event)
# The designer's labels lock and retrain runner (handoff.usecases.training), one per gateway.
TRAINING = web.AppKey("training", Training)

"""Daily metric series for the Scorecards chart: ``GET /api/metrics/series?days=14``.

Each day is its own cohort (conversations created that UTC day), computed by :func:`handoff.analytics.metrics.compute` from
the same event rows as ``/api/metrics``, so a day's point equals ``/api/metrics`` over that day.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from aiohttp import web

from handoff.analytics import metrics
from handoff.storage.models import utcnow
from handoff.transport.http import error, gateway_of, staff_agent

MAX_DAYS = 90


def daily(events: list[Any], tiers: dict[str, str], first_day: datetime, days: int) -> list[dict[str, Any]]:
    """One point per day: engaged conversations, escalations, containment and escalation rate with their status."""
    points = []
    for n in range(days):
        since = first_day + timedelta(days=n)
        overall = metrics.compute(events, since=since, until=since + timedelta(days=1), tiers=tiers)["overall"]
        m = overall["metrics"]
        points.append(
            {
                "date": since.date().isoformat(),
                "engaged": overall["engaged"],
                "escalations": overall["escalations"],
                "containment": m["containment"]["value"],
                "containment_status": m["containment"]["status"],
                "escalation_rate": m["escalation_rate"]["value"],
                "escalation_rate_status": m["escalation_rate"]["status"],
            }
        )
    return points


async def series_view(request: web.Request) -> web.Response:
    """The last ``days`` UTC days (today included), oldest first."""
    await staff_agent(request)  # designers see no scorecards
    raw = request.query.get("days", "14")
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_DAYS:
        return error(400, f"days must be a whole number from 1 to {MAX_DAYS}", "invalid_value")
    days = int(raw)
    now = utcnow()
    first_day = now.replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=days - 1)
    async with gateway_of(request).db.read() as s:
        events, tiers = await metrics.load_events(s, first_day, now)
    return web.json_response(
        {
            "days": daily(events, tiers, first_day, days),
            "targets": {name: metrics.TARGETS[name].text for name in ("containment", "escalation_rate")},
        }
    )

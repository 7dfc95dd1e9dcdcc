"""Which agent sees and acts on which conversation (handoff/domain/access.py), over REST and the agent socket alike, and
who keeps receiving a conversation's customer messages after a lead moved it away from its owner.
"""

from __future__ import annotations

from typing import Any

import aiohttp

from handoff.domain import auth
from handoff.domain.records import AgentRecord
from tests.handoff.helpers import L3_FIELDS, TOKEN_SECRET, Client, Running


async def _bot(gateway: Running) -> tuple[Client, str]:
    customer = await gateway.customer()
    await customer.say("hello")
    await customer.wait_for("bot_uttered")
    return customer, customer.of("session_confirm")[-1]


async def _queued(gateway: Running) -> tuple[Client, str]:
    customer = await gateway.customer()
    await customer.say("human")
    await customer.wait_for("conversation_state", lambda d: d["state"] == "queued")
    return customer, customer.of("session_confirm")[-1]


async def _rest(gateway: Running, agent: AgentRecord, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    headers = {"Authorization": f"Bearer {auth.issue_token(TOKEN_SECRET, agent.id, agent.role, 600)}"}
    async with aiohttp.ClientSession() as http:
        async with http.request(method, gateway.url + path, json=body, headers=headers) as response:
            return response.status, await response.json(content_type=None)


# ---------------------------------------------------------------- the rule, one action at a time


async def test_each_action_has_allowed_and_refused_agents_over_rest_and_socket(gateway_factory: Any) -> None:
    gateway = await gateway_factory(auto_assign=False)
    lena = await gateway.add_agent("lena@example.com", name="Lena", role="l2", team="general", skills=["general"])
    ivan = await gateway.add_agent("ivan@example.com", name="Ivan", role="l2", team="billing", skills=["billing"])
    tara = await gateway.add_agent("tara@example.com", name="Tara", role="l3", team="l3", skills=["technical"])
    omar = await gateway.add_agent("omar@example.com", name="Omar", role="lead", team="technical", skills=["general"])
    sockets = {a.id: await gateway.agent_client(a) for a in (lena, ivan, tara, omar)}
    for c in sockets.values():
        await c.call("presence", {"status": "away"})

    _, bot = await _bot(gateway)  # a live bot conversation, nobody's yet
    _, queued = await _queued(gateway)
    _, spare = await _queued(gateway)  # for the one claim that succeeds
    _, mine = await _queued(gateway)  # Lena's (team general)
    assert (await sockets[lena.id].call("claim", {"conversation_id": mine}))["ok"] is True
    _, l3 = await _queued(gateway)  # escalated to L3 by Lena
    assert (await sockets[lena.id].call("claim", {"conversation_id": l3}))["ok"] is True
    assert (await sockets[lena.id].call("escalate_l3", {"conversation_id": l3, **L3_FIELDS}))["ok"] is True

    # (action, conversation, agent, allowed): each action has at least one agent refused and one allowed.
    cases = [
        ("read", bot, omar, True), ("read", bot, lena, False),
        ("read", queued, ivan, True), ("read", queued, tara, False),
        ("read", mine, lena, True), ("read", mine, ivan, False), ("read", mine, tara, False),
        ("read", l3, tara, True), ("read", l3, lena, True), ("read", l3, ivan, False),
        ("watch", bot, omar, True), ("watch", bot, ivan, False),
        ("watch", queued, lena, True), ("watch", queued, tara, False),
        ("watch", mine, lena, True), ("watch", mine, ivan, False),
        ("watch", l3, tara, True), ("watch", l3, ivan, False),
        ("note", mine, lena, True), ("note", mine, ivan, False), ("note", mine, omar, True),
        ("note", queued, ivan, True), ("note", bot, lena, False),
        ("flag_context_loss", mine, ivan, False), ("flag_context_loss", mine, tara, False),
        ("flag_context_loss", mine, lena, True),
        ("agent_message", mine, ivan, False), ("agent_message", mine, lena, True),
        ("typing", mine, tara, False), ("typing", mine, omar, True),
        ("resolve", mine, ivan, False), ("transfer", mine, tara, False),
        ("escalate_l3", mine, ivan, False), ("handback", mine, tara, False),
        ("barge_in", bot, lena, False), ("barge_in", bot, tara, False),
        ("claim", queued, tara, False), ("claim", l3, ivan, False), ("claim", spare, ivan, True),
    ]
    extra: dict[str, dict[str, Any]] = {
        "agent_message": {"text": "hello from the wrong agent?"},
        "typing": {"on": True},
        "resolve": {"resolution_code": "fixed"},
        "transfer": {"to_team": "billing"},
        "escalate_l3": L3_FIELDS,
        "handback": {"coaching_note": "no"},
    }
    wrong: list[str] = []
    for action, conversation_id, agent, allowed in cases:
        socket = sockets[agent.id]
        label = f"{action} {conversation_id[:6]} by {agent.role} {agent.name}"
        outcomes: dict[str, tuple[bool, str]] = {}
        if action == "read":
            for path in (f"/api/conversations/{conversation_id}", f"/api/conversations/{conversation_id}/customer"):
                status, body = await _rest(gateway, agent, "GET", path)
                outcomes[f"GET {path.rsplit('/', 1)[-1]}"] = (status == 200, str((status, body.get("code"))))
        else:
            event = {"note": "note", "watch": "watch"}.get(action, action)
            payload: dict[str, Any] = {"conversation_id": conversation_id, **extra.get(action, {})}
            if action == "note":
                payload["text"] = f"note by {agent.name}"
            ack = await socket.call(event, payload)
            refused_right = ack.get("code") == "forbidden" and bool(ack.get("error"))
            outcomes[f"socket {event}"] = ("error" not in ack if allowed else not refused_right, str(ack)[:120])
            route = {"note": "notes", "flag_context_loss": "context_loss", "agent_message": "messages"}.get(action, action)
            if action not in ("watch", "typing") and not allowed:  # (no REST twin of these two)
                body_ = {"text": "rest note"} if action == "note" else dict(extra.get(action, {}))
                status, body = await _rest(gateway, agent, "POST", f"/api/conversations/{conversation_id}/{route}", body_)
                refused_right = status == 403 and body.get("code") == "forbidden" and bool(body.get("error"))
                outcomes[f"POST {route}"] = (not refused_right, str((status, body))[:120])
        for where, (ok, detail) in outcomes.items():
            if ok != allowed:
                wrong.append(f"{label} via {where}: expected {'allowed' if allowed else 'refused'}, got {detail}")
    assert not wrong, "\n".join(wrong)

    # Refused notes left nothing behind; allowed ones are there.
    detail = await gateway.gw.conversation_detail(mine)
    assert sorted(n["text"] for n in detail["notes"]) == ["note by Lena", "note by Omar"]
    # Barge-in is lead work: the lead can, and the bot conversation is then his.
    assert (await sockets[omar.id].call("barge_in", {"conversation_id": bot}))["ok"] is True

    # Lists show only what the agent may read.
    status, listed = await _rest(gateway, ivan, "GET", "/api/conversations?state=assigned")
    assert status == 200 and mine not in [c["id"] for c in listed["conversations"]]
    status, listed = await _rest(gateway, lena, "GET", "/api/conversations?state=assigned")
    assert mine in [c["id"] for c in listed["conversations"]]
    status, handoffs = await _rest(gateway, ivan, "GET", "/api/handoffs")
    assert mine not in [h["conversation_id"] for h in handoffs["handoffs"]]
    assert queued in [h["conversation_id"] for h in handoffs["handoffs"]]
    # The queue snapshot: L2 agents get the queue, not the live bot chats or the L3 list; L3 agents the L3 list.
    _, fresh_bot = await _bot(gateway)
    for agent, sees_queue, sees_live, sees_l3 in ((lena, True, False, False), (tara, False, False, True),
                                                  (omar, True, True, True)):
        await sockets[agent.id].call("snapshot", {})
        snap = sockets[agent.id].of("queue_snapshot")[-1]
        assert (queued in [q["conversation_id"] for q in snap["queue"]]) is sees_queue, agent.role
        assert (fresh_bot in [c["id"] for c in snap["live"]]) is sees_live, agent.role
        assert (l3 in [c["id"] for c in snap["l3"]]) is sees_l3, agent.role


def test_the_rule_table_covers_every_agent_event_on_a_conversation() -> None:
    """Every agent event that names a conversation is an action of the rule table (a new one cannot skip it)."""
    from handoff.domain import access
    from handoff.domain import events as ev

    named = {e for e, fields in ev.INCOMING[ev.AGENT_NS].items() if any(f.name == "conversation_id" for f in fields)}
    assert named - {ev.UNWATCH} <= set(access.ACTIONS), named - set(access.ACTIONS)


# ---------------------------------------------------------------- the former owner stops receiving


async def test_a_lead_moving_a_conversation_away_takes_it_off_the_owners_sockets(gateway_factory: Any) -> None:
    gateway = await gateway_factory(auto_assign=False)
    lena = await gateway.add_agent("lena@example.com", name="Lena", role="l2", skills=["general"])
    ivan = await gateway.add_agent("ivan@example.com", name="Ivan", role="l2", skills=["general"])
    omar = await gateway.add_agent("omar@example.com", name="Omar", role="lead", skills=["general"])
    owner, owner_tab, target, lead = [await gateway.agent_client(a) for a in (lena, lena, ivan, omar)]
    for c in (owner, target, lead):
        await c.call("presence", {"status": "away"})
    actions: dict[str, tuple[str, dict[str, Any]]] = {
        "transfer to a team": ("transfer", {"to_team": "billing"}),
        "transfer to an agent": ("transfer", {"to_agent_id": ivan.id}),
        "resolve": ("resolve", {"resolution_code": "fixed"}),
        "escalate to L3": ("escalate_l3", L3_FIELDS),
        "hand back": ("handback", {"coaching_note": "ask for the invoice id"}),
    }
    still_receiving: list[str] = []
    moved: list[str] = []
    for name, (event, payload) in actions.items():
        customer, sid = await _queued(gateway)
        assert (await owner.call("claim", {"conversation_id": sid}))["ok"] is True
        await customer.say(f"before {name}")
        for c in (owner, owner_tab):
            await c.wait_for("customer_message", lambda d, n=name: d["message"]["text"] == f"before {n}")
        done = await lead.call(event, {"conversation_id": sid, **payload})
        assert "error" not in done, (name, done)
        probe = f"after {name}"
        await customer.say(probe)
        await gateway.gw.idle()
        for who, c in (("owner", owner), ("owner's second tab", owner_tab), ("lead, not watching", lead)):
            await c.call("snapshot", {})  # everything emitted to this socket before the ack has arrived
            if any(d["message"]["text"] == probe for d in c.of("customer_message")):
                still_receiving.append(f"{who} after {name}")
        if name == "transfer to an agent":  # the new owner does receive it
            await target.wait_for("customer_message", lambda d, p=probe: d["message"]["text"] == p)
        moved.append(sid)
    assert not still_receiving, still_receiving
    for sid in moved:  # and the owner's console is told, on every tab
        for c in (owner, owner_tab):
            removed = await c.wait_for("conversation_removed", lambda d, s=sid: d["conversation_id"] == s)
            assert removed["by"] == "Omar", removed

    # A lead who was watching keeps watching after acting on it.
    customer, sid = await _queued(gateway)
    assert (await owner.call("claim", {"conversation_id": sid}))["ok"] is True
    assert (await lead.call("watch", {"conversation_id": sid}))["ok"] is True
    assert (await lead.call("resolve", {"conversation_id": sid, "resolution_code": "fixed"}))["ok"] is True
    await customer.say("watched after resolve")
    await lead.wait_for("customer_message", lambda d: d["message"]["text"] == "watched after resolve")
    await owner.call("snapshot", {})
    assert not [d for d in owner.of("customer_message") if d["message"]["text"] == "watched after resolve"]

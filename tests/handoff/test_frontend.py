"""What the gateway adds for the widget and the console: built files, demo identity, CSAT with a comment,
the "had to ask again" flag, barge-in, and the customer panel."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from handoff.domain import auth
from handoff.domain.identity import sign, verify
from handoff.settings import Settings
from handoff.storage import contacts as contact_store
from handoff.storage import events as event_store
from tests.handoff.helpers import IDENTITY_SECRET, TOKEN_SECRET, Client, Running

ANA = {
    "customer_id": "cus_1001",
    "email": "ana.ortiz@example.com",
    "name": "Ana Ortiz",
    "signature": sign(IDENTITY_SECRET, "cus_1001", "ana.ortiz@example.com", "Ana Ortiz"),
}


def _dist(tmp_path: Path) -> Path:
    dist = tmp_path / "dist"
    dist.mkdir()
    (dist / "index.html").write_text("<!doctype html><title>demo</title>")
    (dist / "console.html").write_text("<!doctype html><title>console</title>")
    (dist / "widget.js").write_text("var HelpdeskWidget={};")
    (dist / "console.css").write_text("body{}")
    return dist


async def _seed_ana(gateway: Running) -> None:
    async with gateway.gw.db.write() as s:
        await contact_store.upsert_contact(
            s,
            id="cus_1001",
            email="ana.ortiz@example.com",
            name="Ana Ortiz",
            tier="pro",
            plan="pro",
            mrr=49.0,
            renewal_date=None,
            status="active",
        )


async def _http(method: str, url: str, **kw: Any) -> tuple[int, dict[str, str], str]:
    async with aiohttp.ClientSession() as http:
        async with http.request(method, url, **kw) as response:
            return response.status, dict(response.headers), await response.text()


async def test_built_front_ends_are_served_with_a_strict_csp(gateway_factory: Any, tmp_path: Path) -> None:
    gateway = await gateway_factory(widget_dist=str(_dist(tmp_path)))
    status, headers, body = await _http("GET", f"{gateway.url}/")
    assert status == 200 and "demo" in body and headers["Content-Type"].startswith("text/html")
    assert "script-src 'self'" in headers["Content-Security-Policy"]
    status, headers, body = await _http("GET", f"{gateway.url}/console")
    assert status == 200 and "console" in body and "Content-Security-Policy" in headers
    status, headers, _ = await _http("GET", f"{gateway.url}/widget.js")
    assert status == 200 and headers["Content-Type"].startswith("text/javascript")
    status, headers, _ = await _http("GET", f"{gateway.url}/assets/console.css")
    assert status == 200 and headers["Content-Type"].startswith("text/css")
    for bad in ("/assets/missing.js", "/assets/..%2Fsecret", "/assets/.env"):
        assert (await _http("GET", gateway.url + bad))[0] == 404, bad


async def test_the_widget_goes_out_precompressed_and_the_api_demo_as_a_page(gateway_factory: Any, tmp_path: Path) -> None:
    dist = _dist(tmp_path)
    script = b"var HelpdeskWidget={};" * 50
    (dist / "widget.js").write_bytes(script)
    (dist / "widget.js.gz").write_bytes(gzip.compress(script))
    (dist / "api.html").write_text("<!doctype html><title>api</title>")
    gateway = await gateway_factory(widget_dist=str(dist))
    async with aiohttp.ClientSession(auto_decompress=False) as http:
        async with http.get(f"{gateway.url}/widget.js", headers={"Accept-Encoding": "gzip"}) as r:
            assert r.status == 200 and r.headers["Content-Encoding"] == "gzip"
            assert "Accept-Encoding" in r.headers.get("Vary", "")
            assert gzip.decompress(await r.read()) == script
        async with http.get(f"{gateway.url}/widget.js", headers={"Accept-Encoding": "identity"}) as r:
            assert "Content-Encoding" not in r.headers and await r.read() == script
    status, headers, body = await _http("GET", f"{gateway.url}/assets/api.html")
    assert status == 200 and "api" in body and "script-src 'self'" in headers["Content-Security-Policy"]


async def test_missing_build_says_how_to_build(gateway_factory: Any, tmp_path: Path) -> None:
    gateway = await gateway_factory(widget_dist=str(tmp_path / "nowhere"))
    status, _, body = await _http("GET", f"{gateway.url}/console")
    assert status == 503 and "npm run build" in body


async def _seed_contact(gateway: Running, customer_id: str, email: str, tier: str) -> None:
    async with gateway.gw.db.write() as s:
        await contact_store.upsert_contact(s, id=customer_id, email=email, name="Someone", tier=tier, plan=tier, mrr=10.0,
                                   renewal_date=None, status="active")


async def test_demo_identity_is_off_unless_in_demo_mode(gateway_factory: Any) -> None:
    gateway = await gateway_factory()  # what runs when nobody said "demo"
    await _seed_ana(gateway)
    status, _, body = await _http("POST", f"{gateway.url}/api/demo/identity", json={"customer_id": "cus_1001"})
    assert status == 404 and "disabled" in body and "signature" not in body


async def test_demo_identity_signs_demo_contacts_only(gateway_factory: Any) -> None:
    gateway = await gateway_factory(demo_mode=True)
    await _seed_ana(gateway)
    status, _, body = await _http("POST", f"{gateway.url}/api/demo/identity", json={"customer_id": "cus_1001"})
    assert status == 200
    claims = json.loads(body)
    assert claims["tier"] == "pro"
    identity = verify({**claims, "customer_id": claims["id"]}, IDENTITY_SECRET)
    assert identity.verified and identity.customer_id == "cus_1001"
    assert "secret" not in body.lower()
    # A contact the seed file does not mark as demo (cus_1004 is a real-looking customer) is never signed.
    await _seed_contact(gateway, "cus_1004", "dev.patel@example.com", "pro")
    status, _, body = await _http("POST", f"{gateway.url}/api/demo/identity", json={"customer_id": "cus_1004"})
    assert status == 404 and "signature" not in body and "dev.patel" not in body
    assert (await _http("POST", f"{gateway.url}/api/demo/identity", json={"customer_id": "cus_9999"}))[0] == 404
    assert (await _http("POST", f"{gateway.url}/api/demo/identity", json={"customer_id": 7}))[0] == 400


@pytest.mark.parametrize("header", ["X-Forwarded-For", "Forwarded", "X-Real-IP"])
async def test_demo_identity_refuses_requests_relayed_for_another_machine(gateway_factory: Any, header: str) -> None:
    gateway = await gateway_factory(demo_mode=True, trusted_proxies=("127.0.0.1",))
    await _seed_ana(gateway)
    status, _, body = await _http("POST", f"{gateway.url}/api/demo/identity", json={"customer_id": "cus_1001"},
                                  headers={header: "203.0.113.9"})
    assert status == 404 and "signature" not in body


def test_demo_mode_is_refused_beyond_loopback() -> None:
    for host in ("0.0.0.0", "10.1.2.3", "::", "example.com"):
        with pytest.raises(ValueError, match="HANDOFF_DEMO=1 is refused"):
            Settings(host=host, demo_mode=True)
    for host in ("127.0.0.1", "localhost", "::1", "127.0.0.2"):
        assert Settings(host=host, demo_mode=True).demo_mode


async def _assigned(gateway: Running, customer_data: dict[str, str] | None = None) -> tuple[Client, Client, str, Any]:
    lena = await gateway.add_agent("lena@example.com", name="Lena Park", skills=["general"])
    agent = await gateway.agent_client(lena)
    await agent.call("presence", {"status": "away"})
    customer = await gateway.customer()
    extra = {"customData": customer_data} if customer_data else {}
    await customer.say("I can't log in", **extra)
    await customer.wait_for("bot_uttered")
    await customer.say("human", **extra)
    await customer.wait_for("conversation_state", lambda d: d["state"] == "queued")
    sid = customer.of("session_confirm")[-1]
    assert (await agent.call("claim", {"conversation_id": sid}))["ok"] is True
    return customer, agent, sid, lena


async def test_csat_with_a_comment_once_per_resolution(gateway: Running) -> None:
    customer, agent, sid, _ = await _assigned(gateway)
    early = await customer.call("csat", {"score": 4})
    assert early["code"] == "invalid_state"
    await agent.call("resolve", {"conversation_id": sid, "resolution_code": "solved"})
    await customer.wait_for("conversation_state", lambda d: d["state"] == "resolved")
    assert (await customer.call("csat", {"score": 6}))["code"] == "invalid_value"
    assert (await customer.call("csat", {"score": "5"}))["code"] == "invalid_type"
    ok = await customer.call("csat", {"score": 4, "comment": "quick, but my card 4111 1111 1111 1111 was asked"})
    assert ok == {"ok": True, "score": 4}
    await customer.wait_for("bot_uttered", lambda m: m.get("text") == "Thank you for your feedback!")
    again = await customer.call("csat", {"score": 1})
    assert again["code"] == "already_rated"
    async with gateway.gw.db.read() as s:
        csat = [e for e in await event_store.events_for(s, sid) if e.type == "csat"]
    assert len(csat) == 1 and csat[0].data["score"] == 4
    assert "4111 1111 1111 1111" not in csat[0].data["comment"] and csat[0].data["comment"].startswith("quick")


async def test_had_to_ask_again_is_one_flag_per_handoff(gateway: Running) -> None:
    _, agent, sid, lena = await _assigned(gateway)
    first = await agent.call("flag_context_loss", {"conversation_id": sid, "note": "asked for the email again"})
    assert first["ok"] is True and first["already_flagged"] is False
    second = await agent.call("flag_context_loss", {"conversation_id": sid})
    assert second["already_flagged"] is True and second["handoff_id"] == first["handoff_id"]
    async with gateway.gw.db.read() as s:
        flags = [e for e in await event_store.events_for(s, sid) if e.type == "context_loss"]
    assert len(flags) == 1 and flags[0].actor == f"agent:{lena.id}" and flags[0].data["handoff_id"] == first["handoff_id"]
    # The REST twin, and a conversation that never reached a person (a lead's token: others may not even flag it).
    fresh = await gateway.customer()
    other = fresh.of("session_confirm")[-1]
    omar = await gateway.add_agent("omar@example.com", role="lead")
    token = auth.issue_token(TOKEN_SECRET, omar.id, omar.role, 3600)
    headers = {"Authorization": f"Bearer {token}"}
    status, _, body = await _http("POST", f"{gateway.url}/api/conversations/{other}/context_loss", json={}, headers=headers)
    assert status == 409 and "never handed" in body


async def test_barge_in_takes_a_live_bot_conversation(gateway: Running) -> None:
    omar = await gateway.add_agent("omar@example.com", name="Omar Haddad", role="lead", skills=["general"])
    lena = await gateway.add_agent("lena@example.com", name="Lena Park", skills=["general"])
    agent = await gateway.agent_client(omar)
    other = await gateway.agent_client(lena)  # online: must not be auto-assigned the barged-in conversation
    customer = await gateway.customer()
    await customer.say("hello")
    await customer.wait_for("bot_uttered")
    sid = customer.of("session_confirm")[-1]
    result = await agent.call("barge_in", {"conversation_id": sid})
    assert result == {"ok": True, "conversation_id": sid, "state": "assigned"}
    assert (await customer.wait_for("agent_joined"))["name"] == "Omar Haddad"
    assigned = await agent.wait_for("assigned")
    assert assigned["conversation"]["conversation"]["assigned_agent_id"] == omar.id
    assert assigned["conversation"]["handoffs"][-1]["reason"] == "barge_in"
    assert not other.of("assigned")
    again = await agent.call("barge_in", {"conversation_id": sid})
    assert again["code"] == "invalid_state"


async def test_customer_panel_has_contact_and_past_conversations(gateway: Running) -> None:
    await _seed_ana(gateway)
    past = await gateway.customer()
    await past.say("hello", customData=ANA)
    await past.wait_for("bot_uttered")
    _, _, sid, lena = await _assigned(gateway, ANA)
    token = auth.issue_token(TOKEN_SECRET, lena.id, lena.role, 3600)
    headers = {"Authorization": f"Bearer {token}"}
    status, _, body = await _http("GET", f"{gateway.url}/api/conversations/{sid}/customer", headers=headers)
    assert status == 200
    panel = json.loads(body)
    assert panel["verified"] is True and panel["customer_id"] == "cus_1001"
    assert panel["contact"]["tier"] == "pro" and panel["contact"]["mrr"] == 49.0
    assert [p["id"] for p in panel["past_conversations"]] == [past.of("session_confirm")[-1]]
    anonymous = await gateway.customer()
    url = f"{gateway.url}/api/conversations/{anonymous.of('session_confirm')[-1]}/customer"
    assert (await _http("GET", url, headers=headers))[0] == 403  # a bot conversation: not Lena's to read
    lead = await gateway.add_agent("omar@example.com", role="lead")
    lead_headers = {"Authorization": f"Bearer {auth.issue_token(TOKEN_SECRET, lead.id, lead.role, 3600)}"}
    status, _, body = await _http("GET", url, headers=lead_headers)
    assert status == 200 and json.loads(body)["contact"] is None
    assert (await _http("GET", f"{gateway.url}/api/conversations/{sid}/customer"))[0] == 401

"""Pure helpers: identity, tokens, priority and fast lane, routing, business hours, payload validation."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime

import pytest

from handoff.domain import auth, events
from handoff.domain.events import PayloadError, validate
from handoff.domain.identity import sign, verify
from handoff.domain.priority import decide, fast_lane_reasons
from handoff.domain.records import AgentRecord, ContactRecord
from handoff.domain.routing import choose_agent, skills_for, within_business_hours
from handoff.settings import Settings
from handoff.transport.ratelimit import RateLimiter

SECRET = "s3cret"


def test_identity_verification() -> None:
    claims = {
        "customer_id": "cus_1",
        "email": "a@b.c",
        "name": "Ann",
        "signature": sign(SECRET, "cus_1", "a@b.c", "Ann"),
    }
    ok = verify(claims, SECRET)
    assert (ok.verified, ok.customer_id, ok.email, ok.name) == (True, "cus_1", "a@b.c", "Ann")
    assert verify({**claims, "signature": claims["signature"].upper()}, SECRET).verified
    for bad in (
        {**claims, "name": "Bob"},
        {**claims, "signature": ""},
        {**claims, "customer_id": 5},
        {k: v for k, v in claims.items() if k != "signature"},
        "string",
        None,
        {**claims, "customer_id": "a|b"},
    ):
        assert not verify(bad, SECRET).verified
    assert not verify(claims, "other-secret").verified
    # Correctly signed claims that carry a card number (a host page bug) would write it into every event: anonymous.
    for field, value in (("customer_id", "4111111111111111"), ("name", "Ann 4111 1111 1111 1111")):
        signed = {**claims, field: value}
        signed["signature"] = sign(SECRET, signed["customer_id"], signed["email"], signed["name"])
        assert not verify(signed, SECRET).verified


def test_tokens_and_passwords() -> None:
    token = auth.issue_token(SECRET, 7, "l2", 60, now=1000)
    assert auth.verify_token(SECRET, token, now=1059).agent_id == 7
    with pytest.raises(auth.TokenError, match="expired"):
        auth.verify_token(SECRET, token, now=1060)
    with pytest.raises(auth.TokenError, match="signature"):
        auth.verify_token("other", token, now=1000)
    for junk in (None, "", "a.b.c", "x" * 3000, 42, "é.é"):
        with pytest.raises(auth.TokenError):
            auth.verify_token(SECRET, junk)
    h = auth.hash_password("pw-123456")
    assert h.startswith("$argon2") and auth.verify_password(h, "pw-123456")
    assert not auth.verify_password(h, "wrong") and not auth.verify_password("garbage", "x")


def test_fast_lane_and_priority() -> None:
    today = date(2026, 11, 27)
    ent = ContactRecord("c", "", "", "enterprise", "business", 2400.0, date(2026, 12, 17), "active")
    reasons = fast_lane_reasons(ent, 600.0, today)
    assert reasons == ["enterprise tier", "MRR $2,400 >= 2x average ($600)", "renewal in 20 days"]
    small = replace(ent, tier="pro", mrr=49.0, renewal_date=date(2027, 6, 1))
    assert fast_lane_reasons(small, 600.0, today) == [] and fast_lane_reasons(None, 1.0, today) == []
    assert decide("three_strikes").level == "normal"
    assert decide("three_strikes", fast_lane=reasons).level == "high"
    assert decide("frustration", fast_lane=reasons, frustration=0.9).level == "urgent"
    assert decide("customer_request", intent="billing_charge_dispute").level == "high"
    assert decide("low_confidence", waited_seconds=900).level == "high"
    assert decide("bot_unavailable").level == "high"


def _agent(i: int, **kw) -> AgentRecord:  # type: ignore[no-untyped-def]
    base = dict(
        id=i,
        email=f"{i}@x",
        name=str(i),
        role="l2",
        team="general",
        skills=["general"],
        languages=["en"],
        capacity=3,
        status="online",
        last_seen_at=None,
        load=0,
    )
    base.update(kw)
    return AgentRecord(**base)  # type: ignore[arg-type]


def test_routing() -> None:
    assert skills_for("technical_issue", []) == ["technical"]
    assert skills_for("three_strikes", ["greet", "billing_refund"]) == ["billing"]
    assert skills_for("customer_request", ["reset_password"]) == ["general"]
    agents = [
        _agent(1, load=2),
        _agent(2, load=1),
        _agent(3, skills=["billing"], load=0),
        _agent(4, status="away"),
        _agent(5, load=3),
        _agent(6, role="l3", skills=["billing"]),
    ]
    assert choose_agent(agents, ["general"]).id == 2  # type: ignore[union-attr]
    assert choose_agent(agents, ["billing"]).id == 3  # type: ignore[union-attr]
    assert choose_agent(agents, ["technical"]) is None
    assert choose_agent([_agent(1, load=3)], ["general"]) is None


def test_business_hours() -> None:
    monday_noon = datetime(2026, 11, 23, 12, 0)
    saturday = datetime(2026, 11, 28, 12, 0)
    assert within_business_hours("mon-fri 09:00-17:00", "UTC", monday_noon)
    assert not within_business_hours("mon-fri 09:00-17:00", "UTC", saturday)
    assert within_business_hours("mon-fri 09:00-17:00; sat 10:00-14:00", "UTC", saturday)
    assert not within_business_hours("mon-fri 09:00-12:00", "Europe/Berlin", monday_noon)  # 13:00 in Berlin
    assert within_business_hours("mon-sun 00:00-24:00", "UTC", saturday)


def test_settings_from_env() -> None:
    s = Settings.from_env(
        {
            "HANDOFF_PORT": "9000",
            "HANDOFF_SLA_MINUTES": "urgent=2,low=120",
            "HANDOFF_AUTO_ASSIGN": "false",
            "HANDOFF_ALLOWED_ORIGINS": "http://a,http://b",
        }
    )
    assert s.port == 9000 and s.sla_for("urgent") == 2 and s.sla_for("normal") == 30 and s.sla_for("low") == 120
    assert s.auto_assign is False and s.allowed_origins == ("http://a", "http://b")
    assert Settings.from_env({}).database_url == "sqlite+aiosqlite:///var/handoff.db"
    with pytest.raises(ValueError):
        Settings.from_env({"HANDOFF_SLA_MINUTES": "someday=3"})


@pytest.mark.parametrize(
    ("ns", "event", "data", "code"),
    [
        ("/", "nope", {}, "unknown_event"),
        ("/", "user_uttered", None, "invalid_payload"),
        ("/", "user_uttered", [], "invalid_payload"),
        ("/", "user_uttered", {"message": None}, "missing_fields"),
        ("/", "user_uttered", {"message": "x", "client_id": "y" * 65}, "too_large"),
        ("/", "user_uttered", {"message": "x", "customData": {"k": "v" * 5000}}, "too_large"),
        ("/agents", "presence", {"status": "busy"}, "invalid_value"),
        ("/agents", "claim", {"conversation_id": ""}, "missing_fields"),
        ("/agents", "transfer", {"conversation_id": "c", "to_agent_id": "2"}, "invalid_type"),
        ("/agents", "transfer", {"conversation_id": "c", "to_agent_id": 0}, "invalid_value"),
        ("/agents", "typing", {"conversation_id": "c", "on": 1}, "invalid_type"),
        (
            "/agents",
            "escalate_l3",
            {
                "conversation_id": "c",
                "repro_steps": "r",
                "logs": "l",
                "environment": "e",
                "timestamps": ["ok", 1],
                "impact_scope": "one_customer",
                "impact_urgency": "normal",
            },
            "invalid_type",
        ),
    ],
)
def test_validation_errors(ns: str, event: str, data: object, code: str) -> None:
    with pytest.raises(PayloadError) as err:
        validate(ns, event, data, max_message_bytes=4096)
    assert err.value.code == code


def test_validation_keeps_known_fields_only() -> None:
    clean = validate("/", "user_uttered", {"message": "hi", "evil": "x", "session_id": None})
    assert clean == {"message": "hi", "session_id": None}
    assert validate("/", "session_request", None) == {}
    assert "handoff_queued" in events.describe()["outgoing"]


def test_rate_limiter() -> None:
    limiter = RateLimiter(3, 60)
    assert [limiter.allow("a") for _ in range(4)] == [True, True, True, False]
    assert limiter.allow("b")
    limiter.forget("a")
    assert limiter.allow("a")

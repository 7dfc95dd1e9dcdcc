"""Schemathesis against the OpenAPI description the gateway serves (``/api/openapi.json``), on a real gateway.

Every operation gets schema-valid (positive) and schema-violating (negative) requests, authenticated with a real agent
token. Checks: no server error, status codes and content types the description declares, and response bodies matching
their declared schemas. (Schemathesis' ``negative_data_rejection`` is left out: it counts any undeclared query
parameter as a violation, and the gateway, like most web servers, ignores unknown query parameters.)

Schemathesis makes blocking ``requests`` calls, so it runs in a worker thread while the test's event loop serves the
gateway.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

import schemathesis
from hypothesis import given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from handoff.domain import auth
from handoff.transport.openapi import spec
from tests.handoff.helpers import TOKEN_SECRET, FakeRasa, Running
from tests.handoff.hostile import FUZZ_SETTINGS, RELAXED, ErrorRecords, bystanders, bystanders_still_work, report

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
EXAMPLES = {GenerationMode.POSITIVE: 25, GenerationMode.NEGATIVE: 20}


def _check(
    operation: Any, mode: GenerationMode, examples: int, url: str, headers: dict[str, str], counts: Any, statuses: Any
) -> Callable[[], None]:
    label = f"{operation.label} ({mode.value})"

    @settings(FUZZ_SETTINGS, max_examples=examples)
    @given(case=operation.as_strategy(generation_mode=mode))
    def check(case: Any) -> None:
        response = case.call_and_validate(base_url=url, headers=headers, checks=CHECKS, timeout=10)
        counts[label] += 1
        statuses[response.status_code] += 1

    return check  # type: ignore[no-any-return]


def _run(url: str, token: str, counts: Counter[str], statuses: Counter[int]) -> int:
    """Every operation of the served description, both generation modes; returns the number of operations."""
    schema = schemathesis.openapi.from_url(f"{url}/api/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    headers = {"Authorization": f"Bearer {token}"}
    described = spec()["paths"]
    for operation in operations:
        definition = described[operation.path][operation.method.lower()]
        for mode, examples in EXAMPLES.items():
            if mode is GenerationMode.NEGATIVE and "requestBody" not in definition:
                continue  # parameters are free-form strings: nothing on the wire can violate them
            _check(operation, mode, examples, url, headers, counts, statuses)()
    return len(operations)


async def test_served_openapi_description_holds(gateway_factory: Callable[..., Awaitable[Running]], rasa: FakeRasa) -> None:
    gw = await gateway_factory(**RELAXED)
    counts: Counter[str] = Counter()
    statuses: Counter[int] = Counter()
    with ErrorRecords() as errors:
        customer, agent, conversation_id = await bystanders(gw)
        lee = await gw.add_agent("lee@example.com", name="Lee Lead", skills=["general"], role="lead")
        token = auth.issue_token(TOKEN_SECRET, lee.id, lee.role, 3600)
        operations = await asyncio.to_thread(_run, gw.url, token, counts, statuses)
        await gw.gw.idle()
        await bystanders_still_work(gw, customer, agent, conversation_id)
        await gw.gw.idle()
    assert not errors.records, errors.describe()
    report(f"schemathesis {schemathesis.__version__}: {operations} operations", counts)
    print("  statuses:", dict(sorted(statuses.items())))
    described = [f"{method.upper()} {path}" for path, ops in spec()["paths"].items() for method in ops]
    # Schemathesis leaves out the operation that serves the description itself (the REST fuzz covers that one).
    described.remove("GET /api/openapi.json")
    assert operations == len(described)
    # Each operation was really exercised, and negatively too when it has parameters or a body to violate.
    assert all(counts[f"{label} (positive)"] >= 1 for label in described), counts
    with_body = [f"{m.upper()} {p}" for p, ops in spec()["paths"].items() for m, op in ops.items() if "requestBody" in op]
    assert all(counts[f"{label} (negative)"] >= 1 for label in with_body), counts
    assert sum(counts.values()) >= 600, sum(counts.values())

"""Conformance: schemathesis fuzzes every operation of the app's own spec over the demo data.

Each operation gets a bounded, deterministic batch of schema-valid (positive) and
schema-violating (negative) requests. Every response must be a non-5xx answer that conforms to
what the spec documents: status code, content type, headers and body schema; negative requests
must be rejected with a 4xx.

Cases are drawn with Hypothesis first and sent afterwards through the suite's async client, on
the suite's event loop: schemathesis' own ASGI transport would drive the app through a
synchronous test client on another loop, which asyncpg's pooled connections do not survive.
"""

from __future__ import annotations

import httpx
import hypothesis
import pytest
import schemathesis
from conftest import Api
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import Case, GenerationMode
from schemathesis.checks import CheckFunction
from schemathesis.errors import FailureGroup
from schemathesis.specs.openapi import checks as openapi_checks

MAX_EXAMPLES = 30
BASE_URL = "http://test"

# The checks that judge one response on its own; the others re-send requests through
# schemathesis' synchronous transport (see the module docstring).
CHECKS: list[CheckFunction] = [
    schemathesis.checks.not_a_server_error,
    openapi_checks.status_code_conformance,
    openapi_checks.content_type_conformance,
    openapi_checks.response_headers_conformance,
    openapi_checks.response_schema_conformance,
    openapi_checks.negative_data_rejection,
]


def draw_cases(strategy: st.SearchStrategy[Case], max_examples: int) -> list[Case]:
    """A deterministic batch of cases: same seed, same requests, on every run."""
    cases: list[Case] = []

    # derandomize: a fixed seed per test, so failures reproduce; no example database, so
    # runs never depend on earlier ones. The health checks concern Hypothesis' own search
    # speed on large generated query strings, not the API under test.
    @settings(max_examples=max_examples, derandomize=True, database=None, deadline=None,
              phases=[hypothesis.Phase.explicit, hypothesis.Phase.generate],
              suppress_health_check=list(HealthCheck))
    @given(strategy)
    def collect(case: Case) -> None:
        cases.append(case)

    collect()
    return cases


async def send(client: httpx.AsyncClient, case: Case) -> httpx.Response:
    kwargs = case.as_transport_kwargs(base_url=BASE_URL)
    return await client.request(
        kwargs["method"], kwargs["url"], params=kwargs.get("params"),
        headers=kwargs.get("headers"),
    )


def failures_of(case: Case, response: httpx.Response) -> list[str]:
    """One line per failed check: the request, the status and what did not conform."""
    try:
        case.validate_response(response, checks=CHECKS)
    except FailureGroup as group:
        request = f"{response.request.method} {response.request.url} -> {response.status_code}"
        return [f"{request}: {failure.title}: {failure.message}" for failure in group.exceptions]
    return []


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE],
                         ids=["positive", "negative"])
async def test_every_operation_conforms_to_its_spec(demo_api: Api, mode: GenerationMode) -> None:
    if demo_api.backend == "mariadb":
        pytest.skip("conformance runs on SQLite and PostgreSQL")
    schema = schemathesis.openapi.from_dict(demo_api.app.openapi())
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == 14
    problems: list[str] = []
    # A 500 must reach the checks as a response, not as an exception out of the transport.
    transport = httpx.ASGITransport(app=demo_api.app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as client:
        for operation in operations:
            for case in draw_cases(operation.as_strategy(generation_mode=mode), MAX_EXAMPLES):
                problems.extend(failures_of(case, await send(client, case)))
    assert not problems, "\n".join(problems[:20]) + f"\n({len(problems)} failing cases)"

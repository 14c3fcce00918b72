"""Conformance: schemathesis fuzzes every operation of the app's own spec over the demo data.

Each operation gets a bounded, deterministic batch of schema-valid (positive) and
schema-violating (negative) requests. Every response must be a non-5xx answer that conforms to
what the spec documents (status code, content type, headers, body schema), and a request that
violates the spec must be refused with a 4xx.

Cases are drawn with Hypothesis first and sent afterwards through an async client on the
suite's event loop: schemathesis' own ASGI transport drives the app through a synchronous
test client on another loop, which the engine's pooled asyncpg connections do not survive.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qs, unquote

import httpx
import jsonschema_rs
import pytest
import schemathesis
from conftest import Api
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import Case, GenerationMode
from schemathesis.checks import CheckFunction
from schemathesis.errors import FailureGroup
from schemathesis.specs.openapi import checks as openapi_checks

MAX_EXAMPLES = 30
BASE_URL = "http://test"
MODES = [GenerationMode.POSITIVE, GenerationMode.NEGATIVE]
CONFORMANCE_BACKENDS = ("sqlite", "postgresql", "mariadb")

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


def draw_cases(strategy: st.SearchStrategy[Case], max_examples: int = MAX_EXAMPLES) -> list[Case]:
    """A deterministic batch of cases: same requests on every run, so failures reproduce."""
    cases: list[Case] = []

    # No example database: runs never depend on earlier ones. The health checks are about
    # Hypothesis' own generation speed on large query strings, not about the API under test.
    @settings(max_examples=max_examples, derandomize=True, database=None, deadline=None,
              phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
    @given(strategy)
    def collect(case: Case) -> None:
        cases.append(case)

    try:
        collect()
    except Unsatisfiable:
        # An operation without parameters (/healthz) has no invalid request to draw.
        return []
    return cases


async def send(client: httpx.AsyncClient, case: Case) -> httpx.Response:
    request = case.as_transport_kwargs(base_url=BASE_URL)
    return await client.request(request["method"], request["url"], params=request.get("params"),
                                headers=request.get("headers"))


def _wire_value(text: str, schema: dict[str, Any]) -> Any:
    """A query or path value as the API parses it (arrays are comma-separated)."""
    kind = schema.get("type")
    if kind == "array":
        return [_wire_value(part, schema.get("items", {})) for part in text.split(",")]
    if kind == "integer" and re.fullmatch(r"[+-]?\d+", text):
        return int(text)
    if kind == "boolean" and text in ("true", "false"):
        return text == "true"
    return text


def sent_request_is_valid(spec: dict[str, Any], case: Case, response: httpx.Response) -> bool:
    """Whether what actually went over the wire satisfies the spec.

    Negative cases can lose their violation in serialisation (an empty object parameter is
    dropped, ``-16405`` is a valid one-item string array); schemathesis then reports the
    API's 200 as "schema-violating request accepted". Those reports are dropped, and only
    those: the sent request is checked against the documented parameters here.
    """
    parameters = spec["paths"][case.operation.path]["get"]["parameters"]
    query = parse_qs(response.request.url.query.decode(), keep_blank_values=True)
    path_tail = unquote(response.request.url.path.rsplit("/", 1)[-1])
    for parameter in parameters:
        sent = [path_tail] if parameter["in"] == "path" else query.pop(parameter["name"], [])
        if len(sent) > 1:
            return False
        if sent and not jsonschema_rs.validator_for(parameter["schema"]).is_valid(
                _wire_value(sent[0], parameter["schema"])):
            return False
    return not query


def failures_of(spec: dict[str, Any], case: Case, response: httpx.Response) -> list[str]:
    """One line per failed check: the request, the status and what did not conform."""
    try:
        case.validate_response(response, checks=CHECKS)
    except FailureGroup as group:
        failures = [failure for failure in group.exceptions
                    if not (failure.title == "Schema-violating request accepted"
                            and sent_request_is_valid(spec, case, response))]
        request = f"{response.request.method} {response.request.url} -> {response.status_code}"
        return [f"{request}: {failure.title}: {failure.message}" for failure in failures]
    return []


@pytest.mark.parametrize("mode", MODES, ids=[mode.value for mode in MODES])
async def test_every_operation_conforms_to_its_spec(demo_api: Api, mode: GenerationMode) -> None:
    if demo_api.backend not in CONFORMANCE_BACKENDS:
        pytest.skip("the issue asks for SQLite and PostgreSQL; MariaDB shares their code paths")
    spec = demo_api.app.openapi()
    schema = schemathesis.openapi.from_dict(spec)
    operations = [result.ok() for result in schema.get_all_operations()]
    # List and detail per resource, /aggregate where declared, /healthz, /readyz, /metrics.
    resources = demo_api.app.state.registry.resources
    aggregates = sum(1 for resource in resources if resource.aggregate is not None)
    assert len(operations) == 2 * len(resources) + aggregates + 3
    problems: list[str] = []
    statuses: set[int] = set()
    # A 500 must reach the checks as a response, not as an exception out of the transport.
    transport = httpx.ASGITransport(app=demo_api.app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as client:
        for operation in operations:
            for case in draw_cases(operation.as_strategy(generation_mode=mode)):
                response = await send(client, case)
                statuses.add(response.status_code)
                problems.extend(failures_of(spec, case, response))
    assert not problems, "\n".join(problems[:20]) + f"\n({len(problems)} failing checks)"
    # The fuzzing reached the database and the validation both ways, not only one of them.
    assert statuses >= ({200, 404} if mode.is_positive else {400, 422})


KOJI = "/api/v1/koji-builds"
BEYOND_64_BITS = "99999999999999999999999"

# Hostile values the fuzzer may not reach within its budget: each must be answered with the
# status given (never a 500 from the driver), on every backend.
HOSTILE = [
    ("nul-eq", f"{KOJI}?chroot=%00", 422),
    ("nul-in", f"{KOJI}?chroot__in=a,%00", 422),
    ("nul-like", f"{KOJI}?chroot__like=a%00", 422),
    ("nul-search", f"{KOJI}?search=a%00b", 422),
    ("nul-id", f"{KOJI}/%00", 422),
    ("like-trailing-escape", f"{KOJI}?chroot__like=%25fedora%5C", 422),
    ("like-literal-backslash", f"{KOJI}?chroot__like=abc%5C", 200),
    ("like-escaped-backslash", f"{KOJI}?chroot__like=%25%5C%5C", 200),
    ("int-beyond-64-bits", f"{KOJI}?packit_id__gt={BEYOND_64_BITS}", 422),
    ("int-beyond-64-bits-in-list", f"{KOJI}?packit_id__in=1,{BEYOND_64_BITS}", 422),
    ("int-beyond-32-bit-column", f"{KOJI}?packit_id__gt=2147483648", 422),
    ("int-below-32-bit-expression", f"{KOJI}?pr_id=-2147483649", 422),
    ("int-beyond-64-bits-to-many", "/api/v1/projects?pr_ids=9223372036854775808", 422),
    ("int-beyond-64-bits-id", f"{KOJI}/{BEYOND_64_BITS}", 422),
    ("int-beyond-32-bits-id", f"{KOJI}/2147483648", 422),
    ("float-id", f"{KOJI}/1.5", 422),
    ("blank-id", f"{KOJI}/%20", 422),
    ("page-beyond-64-bits", f"{KOJI}?page={BEYOND_64_BITS}", 422),
    ("page-last-allowed", f"{KOJI}?page=2147483647&size=100", 200),
    ("size-beyond-64-bits", f"{KOJI}?size={BEYOND_64_BITS}", 422),
    ("date-leaves-calendar-west", f"{KOJI}?build_submitted_time__gte=0001-01-01T00:00:00%2B01:00", 422),
    ("date-leaves-calendar-east", f"{KOJI}?build_submitted_time__gte=9999-12-31T23:59:59-01:00", 422),
    ("date-first-day", f"{KOJI}?build_submitted_time__gte=0001-01-01T00:00:00", 200),
    ("date-last-second", f"{KOJI}?build_submitted_time__lt=9999-12-31T23:59:59", 200),
    ("date-year-zero", f"{KOJI}?build_submitted_time__gte=0000-01-01T00:00:00", 422),
    ("date-year-10000", f"{KOJI}?build_submitted_time__gte=10000-01-01T00:00:00", 422),
    ("date-february-30", f"{KOJI}?build_submitted_time__gte=2024-02-30T00:00:00", 422),
    ("empty-date", f"{KOJI}?build_submitted_time__gte=", 422),
    ("empty-enum", f"{KOJI}?status=", 422),
    ("empty-enum-list", f"{KOJI}?status__in=", 422),
    ("empty-enum-list-items", f"{KOJI}?status__in=,", 422),
    ("empty-string", f"{KOJI}?chroot=", 200),
    ("empty-string-list", f"{KOJI}?chroot__in=", 200),
    ("empty-like", f"{KOJI}?chroot__like=", 200),
    ("empty-search", f"{KOJI}?search=", 200),
    ("empty-boolean", f"{KOJI}?scratch=", 422),
    ("empty-isnull", f"{KOJI}?task_id__isnull=", 422),
    ("empty-integer", f"{KOJI}?packit_id__gt=", 422),
    ("empty-page", f"{KOJI}?page=", 422),
    ("empty-order-by", f"{KOJI}?order_by=", 422),
    ("order-by-plus", f"{KOJI}?order_by=%2Bpackit_id", 422),
    ("order-by-double-minus", f"{KOJI}?order_by=--packit_id", 422),
    ("order-by-space", f"{KOJI}?order_by=%20packit_id", 422),
    ("order-by-both-directions", f"{KOJI}?order_by=packit_id,-packit_id", 422),
    ("invalid-utf8", f"{KOJI}?chroot=%FF%FE", 200),
    ("encoded-surrogate", f"{KOJI}?chroot=%ED%A0%80", 200),
    ("emoji-and-bidi", f"{KOJI}?chroot=%F0%9F%98%80%E2%80%AE&search=%F0%9F%98%80", 200),
    ("nul-parameter-name", f"{KOJI}?%00=1", 400),
    ("invalid-utf8-parameter-name", f"{KOJI}?%FF=1", 400),
    ("long-value", f"{KOJI}?chroot={'x' * 4000}", 200),
    ("long-search", f"{KOJI}?search={'x' * 201}", 422),
    ("long-query-string", f"{KOJI}?chroot={'x' * 5000}", 400),
    ("enum-of-nested-object", "/api/v1/copr-builds?project.event_type=nope", 422),
    ("integer-list-item", "/api/v1/projects?pr_ids__in=1,2,x", 422),
    ("percent-id", "/api/v1/projects/%25", 422),
]


async def test_hostile_values_are_client_errors_or_answers(demo_api: Api) -> None:
    # One app per backend for the whole table (building one per case costs most of a second).
    wrong = []
    for name, url, status in HOSTILE:
        response = await demo_api.get(url)
        media_type = "application/json" if status == 200 else "application/problem+json"
        if (response.status_code, response.headers["content-type"]) != (status, media_type):
            wrong.append(f"{name}: {response.status_code} {response.text[:300]}")
    assert not wrong, "\n".join(wrong)


async def test_paging_caching_and_ranges_conform_to_the_spec(demo_api: Api) -> None:
    """The answers the fuzzer cannot reach by chance (a well-formed Range, a real cursor,
    a current ETag) are validated against the spec by the same checks."""
    schema = schemathesis.openapi.from_dict(demo_api.app.openapi())
    koji, one = schema[KOJI]["GET"], schema[f"{KOJI}/{{id}}"]["GET"]
    first = (await demo_api.get(KOJI, params={"size": 5})).json()
    tag = (await demo_api.get(KOJI, params={"size": 5})).headers["etag"]
    one_tag = (await demo_api.get(f"{KOJI}/{first['items'][0]['packit_id']}")).headers["etag"]
    cases = [
        (koji.Case(headers={"Range": "koji-builds=0-4"}), 206),
        (koji.Case(headers={"Range": "items=10-14"}), 206),
        (koji.Case(headers={"Range": "items=295-"}), 206),
        (koji.Case(headers={"Range": "koji-builds=0-999"}), 206),
        (koji.Case(headers={"Range": "koji-builds=100000-100004"}), 416),
        (koji.Case(query={"cursor": first["next"], "size": 5}), 200),
        (koji.Case(query={"count": "none", "size": 5, "page": 3}), 200),
        (koji.Case(query={"page": 100000}), 200),
        (koji.Case(query={"size": 5}, headers={"If-None-Match": tag}), 304),
        (one.Case(path_parameters={"id": first["items"][0]["packit_id"]},
                  headers={"If-None-Match": one_tag}), 304),
        (schema["/api/v1/projects"]["GET"].Case(query={"size": 100}), 200),
        (schema["/api/v1/copr-builds"]["GET"].Case(query={"size": 100}), 200),
    ]
    wrong = []
    for case, status in cases:
        response = await send(demo_api.client, case)
        failures = failures_of({}, case, response)
        if response.status_code != status or failures:
            wrong.append(f"{response.request.url} {case.headers}: {response.status_code} "
                         f"{failures or response.text[:200]}")
    assert not wrong, "\n".join(wrong)


async def test_a_client_pattern_escapes_with_backslash_on_every_backend(demo_api: Api) -> None:
    # `%x86\_64` must match exactly what the literal substring `x86_64` matches; SQLite has
    # no default escape character, so without an explicit ESCAPE it would match nothing.
    escaped = await demo_api.get(KOJI, params={"chroot__like": "%x86\\_64", "size": 1})
    literal = await demo_api.get(KOJI, params={"chroot__like": "x86_64", "size": 1})
    assert escaped.status_code == literal.status_code == 200
    assert escaped.json()["total"] == literal.json()["total"] > 0

"""Analytics in the registry: facets and aggregates bound at load with located, hinted
problems, and typed in the OpenAPI document."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from crud.app import create_app, load
from crud.config.registry import RegistryError
from crud.sql.database import make_engine

ROOT = Path(__file__).resolve().parent.parent
BASE = """\
resources:
  builds:
    model: resources.models:KojiBuildTargetModel
    fields:
      packit_id: id
      status:
      chroot: target
      submitted: build_submitted_time
      duration: {source: {expression: "resources.expressions:build_duration"}}
      data:
    filters: {status: [eq]}
"""


async def problems(path: Path) -> list[str]:
    with pytest.raises(RegistryError) as caught:
        await load(path, "sqlite+aiosqlite:///:memory:")
    return [str(issue).removeprefix(f"{path.parent}/") for issue in caught.value.issues]


@pytest.mark.parametrize(("extra", "expected"), [
    pytest.param("    facets: [status, chrot]\n",
                 ["registry.yaml:12: resources.builds.facets.1: unknown field 'chrot' "
                  "(did you mean 'chroot'?)"], id="unknown-facet"),
    pytest.param("    facets: [data]\n",
                 ["registry.yaml:12: resources.builds.facets.0: cannot count rows by 'data': "
                  "a json value"], id="json-facet"),
    pytest.param("    aggregate:\n      group_by: [status, submited]\n",
                 ["registry.yaml:13: resources.builds.aggregate.group_by.1: unknown field "
                  "'submited' (did you mean 'submitted'?)"], id="unknown-group"),
    pytest.param("    aggregate:\n      metrics: {sum: [chroot], max: [status]}\n",
                 ["registry.yaml:13: resources.builds.aggregate.metrics.sum.0: sum does not "
                  "apply to string field 'chroot' (it takes integer, number fields)",
                  "registry.yaml:13: resources.builds.aggregate.metrics.max.0: max does not "
                  "apply to enum field 'status' (it takes date, datetime, integer, number, "
                  "string, time fields)"], id="functions-by-kind"),
    pytest.param("    aggregate:\n      metrics: {count: false}\n",
                 ["registry.yaml:13: resources.builds.aggregate.metrics: no metric to compute: "
                  "set count: true or name fields under sum, avg, min or max"], id="no-metric"),
    pytest.param("    aggregate:\n      group_by: [status]\n      metric: {count: true}\n",
                 ["registry.yaml:14: resources.builds.aggregate.metric: unknown key 'metric'"],
                 id="unknown-key"),
])
async def test_analytics_mistakes_are_located_with_hints(registry_path: Any, extra: str,
                                                         expected: list[str]) -> None:
    assert await problems(registry_path(BASE + extra)) == expected


async def test_a_having_name_may_not_be_a_filter(registry_path: Any) -> None:
    text = BASE.replace("filters: {status: [eq]}", "filters: {count: [eq]}").replace(
        "      data:\n", "      data:\n      count: packit_id\n".replace("packit_id", "id"))
    text = text.replace("      packit_id: id\n", "")
    assert await problems(registry_path(text + "    aggregate: {group_by: [status]}\n")) == [
        "registry.yaml:12: resources.builds.aggregate.metrics: query parameter 'count' would be "
        "both a filter and a metric's having filter"]


Spec = dict[str, Any]


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def spec(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Spec]:
    url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('spec') / 'empty.db'}"
    loaded = await load(ROOT / "registry.yaml", url)
    engine = make_engine(url)
    yield create_app(loaded, engine).openapi()
    await engine.dispose()


def _schema(spec: Spec, name: str) -> Spec:
    found: Spec = spec["components"]["schemas"][name]
    return found


def test_openapi_types_the_aggregate_response(spec: Spec) -> None:
    operation = spec["paths"]["/api/v1/koji-builds/aggregate"]["get"]
    ok = operation["responses"]["200"]
    assert ok["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/KojiBuildAggregate"}
    assert "Content-Range" in ok["headers"]
    body = _schema(spec, "KojiBuildAggregate")
    assert body["required"] == ["groups", "total_groups", "page", "size", "pages"]
    group = _schema(spec, "KojiBuildGroup")["properties"]
    assert set(group) == {"status", "chroot", "repo_namespace", "build_submitted_time", "count",
                          "sum_duration", "avg_duration", "min_build_submitted_time",
                          "max_build_submitted_time"}
    assert group["count"]["anyOf"] == [{"type": "integer"}, {"type": "null"}]
    assert group["sum_duration"]["anyOf"] == [{"type": "number"}, {"type": "null"}]
    for name in ("build_submitted_time", "min_build_submitted_time", "max_build_submitted_time"):
        assert group[name]["anyOf"] == [{"type": "string", "format": "date-time"},
                                        {"type": "null"}]
    assert group["status"]["anyOf"][0]["enum"] == ["pending", "running", "success", "failure",
                                                  "error"]


def test_openapi_documents_the_aggregate_parameters(spec: Spec) -> None:
    operation = spec["paths"]["/api/v1/koji-builds/aggregate"]["get"]
    parameters = {parameter["name"]: parameter for parameter in operation["parameters"]}
    assert parameters["group_by"]["schema"]["items"]["enum"][:7] == [
        "status", "chroot", "repo_namespace", "build_submitted_time",
        "build_submitted_time:hour", "build_submitted_time:day", "build_submitted_time:week"]
    assert parameters["metrics"]["schema"]["items"]["enum"] == [
        "count", "sum:duration", "avg:duration", "min:build_submitted_time",
        "max:build_submitted_time"]
    assert parameters["count__gte"]["schema"] == {"type": "integer", "format": "int64",
                                                  "minimum": -(2**63), "maximum": 2**63 - 1}
    assert parameters["sum_duration__gt"]["schema"] == {"type": "number"}
    assert parameters["status__in"]["schema"]["type"] == "array"  # the list's filters
    assert "search" in parameters


def test_openapi_types_the_facets_of_a_list(spec: Spec) -> None:
    page = _schema(spec, "KojiBuildPage")["properties"]
    assert page["facets_truncated"]["anyOf"] == [{"type": "array", "items": {"type": "string"}},
                                                 {"type": "null"}]
    facets = _schema(spec, "KojiBuildFacets")["properties"]
    assert set(facets) == {"status", "chroot", "repo_namespace"}
    value = _schema(spec, "KojiBuildChrootFacetValue")
    assert value["properties"]["count"] == {"type": "integer", "title": "Count",
                                            "description": "Selected rows with this value"}
    parameters = {p["name"]: p for p in spec["paths"]["/api/v1/koji-builds"]["get"]["parameters"]}
    assert parameters["facet"]["schema"]["items"]["enum"] == ["status", "chroot", "repo_namespace"]
    assert parameters["facet_size"]["schema"] == {"type": "integer", "minimum": 1, "maximum": 100,
                                                  "default": 10}


async def test_the_legacy_profile_refuses_analytics(registry_path: Any) -> None:
    text = BASE + "    profile: legacy\n    facets: [status]\n    aggregate: {group_by: [status]}\n"
    assert await problems(registry_path(text)) == [
        "registry.yaml:13: resources.builds.facets: the legacy profile serves the old API's "
        "bare arrays, without facets; drop it or serve builds in the standard profile",
        "registry.yaml:14: resources.builds.aggregate: the legacy profile serves the old API's "
        "bare arrays, without aggregate; drop it or serve builds in the standard profile"]

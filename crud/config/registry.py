"""The registry file: YAML parsed once into frozen, validated models.

Only the shape is checked here (types, unknown keys, names). Whether a column or a
relationship exists is checked against the models or the live database by
``crud.model.binding``; both stages report into the same ``RegistryError`` with file and line.
"""

from __future__ import annotations

import re
import string
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from crud.config.routes import RouteSpec
from crud.config.yamlfile import LocatedData, parse_yaml

__all__ = [
    "AggregateSpec",
    "ApiSpec",
    "AuthKind",
    "CacheSpec",
    "CountPolicy",
    "ExportSpec",
    "ExpressionSource",
    "FieldSpec",
    "JoinSpec",
    "LegacySpec",
    "LiveSpec",
    "MetricsSpec",
    "Mount",
    "NaiveDatetimes",
    "Profile",
    "Registry",
    "RegistryError",
    "RegistryIssue",
    "ResourceSpec",
    "ResultsSpec",
    "RollupMetricsSpec",
    "RollupSpec",
    "SearchMode",
    "SearchSpec",
    "ValidatorSpec",
    "load_registry",
    "parse_registry",
]

CountKind = Literal["auto", "exact", "estimated", "none"]
AuthKind = Literal["none", "api_key", "bearer"]
Profile = Literal["standard", "legacy", "react-admin", "json-server"]
SearchMode = Literal["substring", "full_text", "fuzzy"]
# What a date-time column without a time zone holds (docs/datetimes.md): UTC wall time
# (sent with "+00:00", offsets in filters converted to UTC), or a local time as stored
# (sent without an offset; filters must give none, there is nothing to convert to).
NaiveDatetimes = Literal["utc", "as_stored"]
_RESOURCE_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
_API_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# Written into SQL as literals (a text search configuration, an FTS5 table): names only.
_SQL_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$")


class Spec(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ExpressionSource(Spec):
    expression: str = Field(description="'package.module:function' returning a SQL expression")


class FieldSpec(Spec):
    """One exposed field. ``source`` is a column, a dotted path or an expression."""

    source: str | ExpressionSource | None = None
    description: str | None = None
    fields: dict[str, FieldSpec] | None = None
    limit: Annotated[int, Field(ge=1, le=1000)] = 100
    # For columns the database does not type (SQLite view expressions, unknown types).
    type: Literal["string", "integer", "number", "boolean", "date", "datetime"] | None = None
    # The shape of a JSON column's values, for the OpenAPI document: without it, generated
    # clients type the field as `unknown`. Documentation only; values are sent as stored.
    json_schema: dict[str, Any] | None = None
    # Grouped resources (``group_by:``): the values of a source over the group's rows,
    # a list, or with ``key:`` an object keyed by another source (docs/grouped.md).
    collect: str | None = None
    key: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _short_forms(cls, value: Any) -> Any:
        # `name:` (same column) and `name: column` are the everyday spellings.
        if value is None:
            return {}
        if isinstance(value, str):
            return {"source": value}
        return value

    @model_validator(mode="after")
    def _collect_alone(self) -> FieldSpec:
        if self.key is not None and self.collect is None:
            raise ValueError("'key:' names what a collected object is keyed by: give "
                             "'collect:' too (e.g. {collect: status, key: chroot})")
        if self.collect is not None and self.source is not None:
            raise ValueError("'collect:' is the field's source over the group's rows; "
                             "drop 'source:'")
        if self.collect is not None and self.key is not None and self.fields is not None:
            raise ValueError("an object keyed by 'key:' holds one value per key; collect a "
                             "column, not 'fields:'")
        return self

    @field_validator("fields", mode="before")
    @classmethod
    def _nested_short_forms(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return {key: ({} if item is None else item) for key, item in value.items()}
        return value


class JoinSpec(Spec):
    """A derived to-one relation: the rows of a select, LEFT OUTER JOINed on key columns."""

    select: str = Field(description="'package.module:function' returning a SQLAlchemy select "
                                    "with at most one row per key")
    on: dict[str, str] = Field(description="the resource's column -> the select's column; "
                                           "several pairs for a composite key")

    @field_validator("on")
    @classmethod
    def _some_pair(cls, value: dict[str, str]) -> dict[str, str]:
        if not value:
            raise ValueError("name the key: {resource_column: select_column}")
        return value


class CountPolicy(Spec):
    """How a list's ``total`` is computed; see docs/bigtables.md (count policies)."""

    kind: CountKind = "auto"
    cap: Annotated[int, Field(ge=1)] | None = None
    timeout_ms: Annotated[int, Field(ge=1)] | None = None

    @model_validator(mode="before")
    @classmethod
    def _short_forms(cls, value: Any) -> Any:
        if isinstance(value, str):
            return {"kind": value}
        if isinstance(value, dict) and "capped" in value:
            rest = {key: item for key, item in value.items() if key != "capped"}
            return {"kind": "exact", "cap": value["capped"], **rest}
        return value

    @model_validator(mode="after")
    def _meaningful(self) -> CountPolicy:
        # Settings that a policy would silently ignore are mistakes in the file.
        if self.timeout_ms is not None and (self.kind != "exact" or self.cap is not None):
            raise ValueError("timeout_ms applies to exact counts only "
                             "(e.g. count: {kind: exact, timeout_ms: 500})")
        if self.cap is not None and self.kind == "none":
            raise ValueError("a count of kind 'none' has no cap; use {capped: N} or drop cap")
        return self


class ExportSpec(Spec):
    """Streamed CSV / NDJSON exports of a list (``format=``); docs/exports.md.

    On a resource, unset keys take the ``api:`` values; ``export: false`` turns them off.
    """

    enabled: bool = True
    max_rows: Annotated[int, Field(ge=1)] | None = None
    # Rows per statement: each chunk is one keyset statement under the statement budget.
    chunk_rows: Annotated[int, Field(ge=1, le=50_000)] | None = None

    @model_validator(mode="before")
    @classmethod
    def _short_forms(cls, value: Any) -> Any:
        if isinstance(value, bool):
            return {"enabled": value}
        return value


class ValidatorSpec(Spec):
    """What tells cheaply that a resource's rows changed; see docs/scaling.md."""

    column: str | None = Field(default=None, description="a column of the resource's table "
                                                         "whose max() moves on every change")
    statistics: bool = Field(default=False, description="PostgreSQL's per-table counts of "
                                                        "inserted, updated, deleted rows")

    @model_validator(mode="after")
    def _one_kind(self) -> ValidatorSpec:
        if (self.column is None) == (not self.statistics):
            raise ValueError("give one of column: NAME or statistics: true")
        return self


class ResultsSpec(Spec):
    """The result cache of a resource's totals, facets and aggregates; docs/caching.md."""

    stale_s: Annotated[float, Field(ge=0)] | None = Field(
        default=None, description="after a change, serve the previous answer for at most this "
                                  "many seconds while one request computes the new one")
    # A page with a total and facets asks twice; PostgreSQL's statistics lag a commit by
    # about a second anyway, so a tenth of a second saves a statement and hides nothing.
    signal_age_s: Annotated[float, Field(ge=0)] = Field(
        default=0.1, description="reuse a change-signal reading at most this old (0: read it "
                                 "for every answer; concurrent requests share one reading)")

    @model_validator(mode="before")
    @classmethod
    def _short_form(cls, value: Any) -> Any:
        return {} if value is True else value


class CacheSpec(Spec):
    """HTTP caching of a resource's responses; see docs/operations.md and docs/scaling.md."""

    max_age: Annotated[int, Field(ge=0)] | None = None
    stale_while_revalidate: Annotated[int, Field(ge=0)] | None = None
    validator: ValidatorSpec | None = None
    results: ResultsSpec | None = None

    @field_validator("results", mode="before")
    @classmethod
    def _results_off(cls, value: Any) -> Any:
        return None if value is False else value

    @model_validator(mode="after")
    def _stale_needs_fresh(self) -> CacheSpec:
        if self.stale_while_revalidate is not None and self.max_age is None:
            raise ValueError("stale_while_revalidate extends max_age: set max_age too")
        return self


# The shortest poll interval of a watched list (docs/live.md): each cohort's poll is at
# most one change probe and one page statement, and below this the probes alone add up.
LIVE_MIN_INTERVAL_S = 0.2
# A duration as the registry writes it: 500ms, 1.5s, 5m, 2h, 3d, or a number of seconds.
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_DURATION_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def _seconds(value: Any) -> Any:
    """A registry duration in seconds; anything but text is left to the field's type."""
    if not isinstance(value, str):
        return value
    found = _DURATION.match(value)
    if found is None:
        raise ValueError(f"{value!r} is not a duration (e.g. 500ms, 60s, 5m, 2h, 2d)")
    unit = found[2] or "s"
    seconds = float(found[1]) / 1000 if unit == "ms" else float(found[1]) * _DURATION_UNITS[unit]
    return int(seconds) if seconds.is_integer() else seconds


class LiveSpec(Spec):
    """Watching a list as a stream of changes (SSE, WebSocket); see docs/live.md."""

    enabled: bool = True
    interval: Annotated[float, Field(ge=LIVE_MIN_INTERVAL_S)] = Field(
        default=1.0, description="seconds between change probes: 1s, 500ms, 2")

    @field_validator("interval", mode="before")
    @classmethod
    def _duration(cls, value: Any) -> Any:
        return _seconds(value)


ERROR_PLACEHOLDERS = frozenset({"detail", "status", "title", "code"})


def _strings(value: Any) -> list[str]:
    """Every string inside a JSON value."""
    if isinstance(value, dict):
        return [text for item in value.values() for text in _strings(item)]
    if isinstance(value, list):
        return [text for item in value for text in _strings(item)]
    return [value] if isinstance(value, str) else []


class LegacySpec(Spec):
    """Options of the ``legacy`` profile (the old API's wire contract); docs/migration.md."""

    unit: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_-]+$",
                             description="Content-Range unit; the resource name by default")
    per_page: Annotated[int, Field(ge=1)] = 10
    per_page_values: list[Annotated[int, Field(ge=1)]] | None = None
    # The old API's error body: a template object whose strings interpolate {detail},
    # {status}, {title}, {code}; None keeps problem+json. error_status maps our statuses
    # onto the old API's (422: 400). crud.http.errorbodies renders them.
    error_body: dict[str, Any] | None = None
    error_status: dict[Annotated[int, Field(ge=400, le=599)],
                       Annotated[int, Field(ge=400, le=599)]] = Field(default_factory=dict)
    # A list item sent as one field's bare value (``[1, 5, 12]``, Packit's project issues);
    # a resource's option only, checked against its fields by crud.http.profiles.legacy.
    item: str | None = Field(default=None, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    # The status of a list holding no item: 206 as any other, or 200 where the old API
    # answered so (Packit's project lists: ``PARTIAL_CONTENT if result else OK``).
    empty_status: Literal[200, 206] = 206

    @model_validator(mode="after")
    def _default_is_allowed(self) -> LegacySpec:
        if self.per_page_values is not None and self.per_page not in self.per_page_values:
            raise ValueError(f"per_page {self.per_page} must be one of per_page_values")
        return self

    @field_validator("error_body")
    @classmethod
    def _placeholders(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        for text in _strings(value):
            try:
                names = [name for _, name, _, _ in string.Formatter().parse(text)
                         if name is not None]
            except ValueError as error:
                raise ValueError(f"{text!r}: {error} (write {{{{ and }}}} for literal "
                                 "braces)") from None
            unknown = [name for name in names if name not in ERROR_PLACEHOLDERS]
            if unknown:
                raise ValueError(f"{text!r}: unknown placeholder {{{unknown[0]}}}; use "
                                 f"{{detail}}, {{status}}, {{title}} or {{code}}")
        return value


class SearchSpec(Spec):
    """What ``?search=`` matches; see README.md ("Search")."""

    fields: list[str] = Field(default_factory=list)
    mode: SearchMode = "substring"
    # PostgreSQL's text search configuration: 'simple' (no stemming, no stop words) is
    # the one that behaves like MariaDB's and SQLite's full-text matching.
    config: str = "simple"
    fts_table: str | None = None  # SQLite: the FTS5 table indexing the fields

    @model_validator(mode="before")
    @classmethod
    def _short_form(cls, value: Any) -> Any:
        # `search: [a, b]` is the substring search over a and b.
        if isinstance(value, list):
            return {"fields": value}
        return value

    @field_validator("config", "fts_table")
    @classmethod
    def _sql_name(cls, value: str | None) -> str | None:
        if value is not None and not _SQL_NAME.match(value):
            raise ValueError(f"{value!r} must be a name (letters, digits, _; schema.name)")
        return value

    @model_validator(mode="after")
    def _meaningful(self) -> SearchSpec:
        # Settings a mode would silently ignore are mistakes in the file.
        if self.mode == "substring" and ("config" in self.model_fields_set
                                         or self.fts_table is not None):
            raise ValueError("'config' and 'fts_table' apply to mode: full_text "
                             "(e.g. search: {fields: [title], mode: full_text})")
        if self.mode == "fuzzy" and ("config" in self.model_fields_set
                                     or self.fts_table is not None):
            raise ValueError("'config' and 'fts_table' apply to mode: full_text; fuzzy "
                             "compares trigrams")
        if self.mode != "substring" and not self.fields:
            raise ValueError(f"mode {self.mode} needs 'fields' to search")
        return self


class MetricsSpec(Spec):
    """Which aggregate functions ``/aggregate`` may compute, over which API fields."""

    count: bool = True
    sum: list[str] = Field(default_factory=list)
    avg: list[str] = Field(default_factory=list)
    min: list[str] = Field(default_factory=list)
    max: list[str] = Field(default_factory=list)


class AggregateSpec(Spec):
    """``GET /<name>/aggregate``: the fields rows may be grouped by and the metrics; see
    docs/analytics.md."""

    group_by: list[str] = Field(default_factory=list)
    metrics: MetricsSpec = MetricsSpec()


class RollupMetricsSpec(Spec):
    """What a rollup keeps per bucket: a row count, and sums, minima and maxima of fields (an
    average is derived from the sum and the count of its field's values)."""

    count: bool = True
    sum: list[str] = Field(default_factory=list)
    min: list[str] = Field(default_factory=list)
    max: list[str] = Field(default_factory=list)


class RollupSpec(Spec):
    """A pre-aggregated copy of a resource's rows, bucketed by a date-time field and kept fresh
    in the background; see docs/rollups.md."""

    time: str
    grain: Literal["hour", "day", "week", "month", "year"] = "hour"
    dimensions: list[str] = Field(default_factory=list)
    metrics: RollupMetricsSpec = RollupMetricsSpec()
    refresh: Annotated[int, Field(ge=1)] = 60       # seconds between refreshes
    late: Annotated[int, Field(ge=0)] = 2 * 86400   # how far back a refresh re-reads
    full: Annotated[int, Field(ge=60)] = 86400      # seconds between full passes

    @field_validator("refresh", "late", "full", mode="before")
    @classmethod
    def _durations(cls, value: Any) -> Any:
        return _seconds(value)


class ResourceSpec(Spec):
    model: str | None = None
    table: str | None = None
    db_schema: str | None = Field(default=None, alias="schema")
    description: str | None = None
    primary_key: str | list[str] | None = None
    joins: dict[str, JoinSpec] = Field(default_factory=dict)
    fields: dict[str, FieldSpec]
    # One item per value of this field (a column of the table): its fields come from the
    # group's first row, `collect:` fields from all of them (docs/grouped.md).
    group_by: str | None = None
    # Relations included only when a request asks (`embed=name`): declared as fields are
    # (a to-many list, or a to-one object with `fields:`), never selected otherwise.
    embed: dict[str, FieldSpec] = Field(default_factory=dict)
    # Operator names are checked against the operator table (crud.model.operators) when
    # the resource is bound, with the field's type at hand.
    filters: dict[str, list[str]] = Field(default_factory=dict)
    search: SearchSpec = SearchSpec()
    sort: list[str] = Field(default_factory=list)
    default_sort: list[str] = Field(default_factory=list)
    detail: bool = True
    page_size: Annotated[int, Field(ge=1)] | None = None
    max_page_size: Annotated[int, Field(ge=1)] | None = None
    count: CountPolicy | None = None
    max_offset: Annotated[int, Field(ge=0)] | None = None
    statement_timeout_ms: Annotated[int, Field(ge=1)] | None = None
    auth: AuthKind | None = None
    cache: CacheSpec | None = None
    profile: Profile | None = None
    legacy: LegacySpec | None = None
    export: ExportSpec | None = None
    # Analytics (docs/analytics.md): value counts beside a list, and grouped metrics.
    facets: list[str] = Field(default_factory=list)
    facet_timeout_ms: Annotated[int, Field(ge=1)] | None = None
    aggregate: AggregateSpec | None = None
    # Pre-aggregated answers for /aggregate and facets, by name (docs/rollups.md).
    rollups: dict[str, RollupSpec] = Field(default_factory=dict)
    naive_datetimes: NaiveDatetimes | None = None
    live: LiveSpec | None = None  # watching the list; the api's live: when absent
    # Where the list and detail are served (README "Routes by path"); None: /<name>, /<name>/{id}.
    routes: list[RouteSpec] | None = None

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    @field_validator("fields", "embed", mode="before")
    @classmethod
    def _field_short_forms(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return {key: ({} if item is None else item) for key, item in value.items()}
        return value

    @field_validator("joins")
    @classmethod
    def _join_names(cls, value: dict[str, JoinSpec]) -> dict[str, JoinSpec]:
        # A join's name is the first step of dotted field paths (event.pr_id).
        for name in value:
            if not _API_NAME.match(name) or "__" in name:
                raise ValueError(f"join name {name!r} must be a letters/digits/_ identifier "
                                 "without '__'")
        return value

    @field_validator("filters", mode="before")
    @classmethod
    def _filter_short_forms(cls, value: Any) -> Any:
        # `status: eq` and `status: [eq, in]` are both fine; `status:` means eq.
        if isinstance(value, dict):
            return {
                key: ["eq"] if ops is None else [ops] if isinstance(ops, str) else ops
                for key, ops in value.items()
            }
        return value

    @model_validator(mode="after")
    def _one_source(self) -> ResourceSpec:
        if (self.model is None) == (self.table is None):
            raise ValueError("give exactly one of 'model' (module:Class) or 'table' (reflected)")
        return self

    @property
    def primary_key_columns(self) -> list[str] | None:
        if self.primary_key is None:
            return None
        return [self.primary_key] if isinstance(self.primary_key, str) else self.primary_key


class ApiSpec(Spec):
    prefix: str = "/api/v1"
    title: str = "crud API"
    version: str = "1.0.0"
    description: str | None = None
    page_size: Annotated[int, Field(ge=1)] = 20
    max_page_size: Annotated[int, Field(ge=1)] = 100
    count: CountPolicy = CountPolicy(kind="auto")
    max_offset: Annotated[int, Field(ge=0)] | None = None
    statement_timeout_ms: Annotated[int, Field(ge=1)] | None = 10_000
    max_list_values: Annotated[int, Field(ge=1, le=10_000)] = 100
    max_query_length: Annotated[int, Field(ge=64)] = 4096
    # Boolean groups (``or=(...)``, ``and=(...)``): how deeply they nest, how many filter
    # terms one request's groups hold in all. Each term is a filter in the statement.
    max_group_depth: Annotated[int, Field(ge=1, le=16)] = 3
    max_group_terms: Annotated[int, Field(ge=1, le=1000)] = 20
    # Each facet's own statement budget: a facet over it is left out, the page still answers.
    facet_timeout_ms: Annotated[int, Field(ge=1)] = 1000
    auth: AuthKind = "none"
    profile: Profile = "standard"
    legacy: LegacySpec = LegacySpec()
    export: ExportSpec = ExportSpec()
    naive_datetimes: NaiveDatetimes = "utc"
    live: LiveSpec = LiveSpec()
    # This registry describes the demo tables: `crud serve` with no database URL creates and
    # fills ./crud-demo.db for it. Any other registry needs --database-url.
    demo: bool = False

    @field_validator("prefix")
    @classmethod
    def _prefix_shape(cls, value: str) -> str:
        if value and (not value.startswith("/") or value.endswith("/")):
            raise ValueError("must start with '/' and not end with one, e.g. /api/v1")
        return value


class Mount(Spec):
    """An existing application served under ``path``: ``wsgi: module:app`` or ``asgi: ...``."""

    path: str
    wsgi: str | None = None
    asgi: str | None = None

    @field_validator("path")
    @classmethod
    def _path_shape(cls, value: str) -> str:
        if not value.startswith("/") or (value != "/" and value.endswith("/")):
            raise ValueError("must start with '/' and not end with one, e.g. /api")
        return value

    @model_validator(mode="after")
    def _one_app(self) -> Mount:
        if (self.wsgi is None) == (self.asgi is None):
            raise ValueError("give exactly one of 'wsgi' or 'asgi' (module:attribute)")
        return self

    @property
    def reference(self) -> str:
        return self.wsgi or self.asgi or ""


class Registry(Spec):
    api: ApiSpec = ApiSpec()
    resources: dict[str, ResourceSpec]
    mounts: list[Mount] = Field(default_factory=list)
    routers: list[str] = Field(default_factory=list)

    @field_validator("resources")
    @classmethod
    def _resource_names(cls, value: dict[str, ResourceSpec]) -> dict[str, ResourceSpec]:
        for name, spec in value.items():
            if not _RESOURCE_NAME.match(name):
                raise ValueError(f"resource name {name!r} must be lowercase letters, digits, - or _")
            for field_name in _all_field_names({**spec.fields, **spec.embed}):
                if not _API_NAME.match(field_name) or "__" in field_name:
                    raise ValueError(
                        f"{name}: field name {field_name!r} must be a letters/digits/_ identifier "
                        "without '__' (the operator separator)"
                    )
        return value


def _all_field_names(fields: dict[str, FieldSpec]) -> list[str]:
    names = list(fields)
    for spec in fields.values():
        if spec.fields:
            names.extend(_all_field_names(spec.fields))
    return names


class RegistryIssue(BaseModel):
    """One problem found in the registry, located in the file."""

    model_config = ConfigDict(frozen=True)

    path: str
    line: int | None
    key: str
    message: str

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else self.path
        return f"{where}: {self.key}: {self.message}"


class RegistryError(Exception):
    """The registry cannot be served; ``issues`` lists every problem found."""

    def __init__(self, issues: list[RegistryIssue]) -> None:
        self.issues = issues
        super().__init__("\n".join(str(issue) for issue in issues))


def load_registry(path: Path) -> tuple[Registry, LocatedData]:
    """Parse and validate ``path``; raise ``RegistryError`` listing every problem."""
    if not path.exists():
        raise RegistryError([RegistryIssue(path=str(path), line=None, key="file",
                                           message="not found (pass --registry or set CRUD_REGISTRY)")])
    return parse_registry(path.read_text(encoding="utf-8"), str(path))


def parse_registry(text: str, path: str = "registry.yaml") -> tuple[Registry, LocatedData]:
    try:
        located = parse_yaml(text)
    except Exception as error:  # yaml.YAMLError carries its own mark
        mark = getattr(error, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        raise RegistryError(
            [RegistryIssue(path=path, line=line, key="yaml", message=str(error).splitlines()[0])]
        ) from None
    issues = [
        RegistryIssue(path=path, line=problem.line, key="yaml", message=problem.message)
        for problem in located.problems
    ]
    if not isinstance(located.data, dict):
        issues.append(RegistryIssue(path=path, line=1, key="registry",
                                    message="expected a mapping with 'resources:'"))
        raise RegistryError(issues)
    try:
        registry = Registry.model_validate(located.data)
    except ValidationError as error:
        issues.extend(_located_issues(error, located, path))
        registry = None
    if issues or registry is None:
        raise RegistryError(issues)
    return registry, located


def _located_issues(error: ValidationError, located: LocatedData, path: str) -> list[RegistryIssue]:
    issues = []
    for entry in error.errors():
        location = tuple(part for part in entry["loc"] if not _is_union_tag(part))
        message = entry["msg"].removeprefix("Value error, ")
        if entry["type"] == "extra_forbidden":
            message = f"unknown key {location[-1]!r}"
        issues.append(RegistryIssue(
            path=path,
            line=located.line_of(location),
            key=".".join(str(part) for part in location) or "registry",
            message=message,
        ))
    return issues


def _is_union_tag(part: str | int) -> bool:
    # pydantic names union branches in locations ("str", "ExpressionSource"); files don't.
    return isinstance(part, str) and (part in {"str", "ExpressionSource", "list[str]"}
                                      or part.startswith(("function-", "constrained-")))

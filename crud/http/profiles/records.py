"""Records: what the ``react-admin`` and ``json-server`` profiles (client dialects) share.

Both speak of a resource's declared filters in the spellings the dashboard tools use:
a field name for equality (several values: one of them), ``<field>_gte``-style suffixes for
the other comparisons, ``id`` for the primary key, and the registry's own names
(``status__not_in``) for operators without a spelling of their own. ``Vocabulary`` maps
those keys onto the declared ``FilterParam``s, so the filters run exactly as the standard
profile's do; nothing undeclared becomes reachable (``id`` reads the primary key, which
every resource serves anyway). Bodies are bare arrays of records that each carry an
``id`` (``RecordRenderer``); each profile, with its steps, is its own module
(``crud.http.profiles.react_admin``, ``crud.http.profiles.json_server``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, Field, TypeAdapter, ValidationError, create_model
from pydantic.fields import FieldInfo

from crud.config.registry import ApiSpec, RegistryIssue
from crud.config.yamlfile import LocatedData
from crud.http.errors import BadRequest, ParameterError
from crud.http.filtering import param_value_type, value_type
from crud.http.listquery import Step
from crud.http.profiles.base import Profile, responses
from crud.http.rows import encoder
from crud.http.schema import item_model
from crud.http.steps.count import FixedCount
from crud.http.steps.paging import PagingStep, Window
from crud.model.binding import hint
from crud.model.operators import OPERATORS, param_name
from crud.model.resource import FilterParam, Resource, SortKey
from crud.sql.counting import Total
from crud.sql.requests import Filter, OrderItem

__all__ = ["DIALECTS", "ID", "MAX_ROW", "SUFFIXES", "RecordRenderer", "Rows", "Target", "Vocabulary",
           "check_offset", "dialect_issues", "dialect_profile", "pk_order", "record_model"]

DIALECTS = frozenset({"react-admin", "json-server"})
ID = "id"
# The largest row number a client may name (a Range header's 18 digits, as the standard one).
MAX_ROW = 10**18 - 1
# Client suffix -> the operators it may mean, first declared wins (`_like` ignores case in
# json-server, so `ilike` before `like`). Longer suffixes first: `_gte` before `_gt`. The
# two dialects differ in "not equal" only.
_COMPARISONS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("_gte", ("gte",)), ("_lte", ("lte",)), ("_gt", ("gt",)), ("_lt", ("lt",)),
    ("_like", ("ilike", "like")),
)
SUFFIXES: dict[str, tuple[tuple[str, tuple[str, ...]], ...]] = {
    "react-admin": (*_COMPARISONS, ("_neq", ("neq",))),
    "json-server": (*_COMPARISONS, ("_ne", ("neq",))),
}


@dataclass(frozen=True)
class Target:
    """What one client key filters: the filter one value takes, and the one several take."""

    key: str
    one: FilterParam | None
    many: FilterParam | None
    # The registry's own list names (status__in) keep the standard comma-separated form.
    split: bool = False


class Vocabulary:
    """A resource's filters under the client keys, and the validation of their values."""

    def __init__(self, resource: Resource, dialect: str, *, max_list_values: int) -> None:
        self.dialect = dialect
        self.targets = _targets(resource, SUFFIXES[dialect])
        params = {id(param): param for target in self.targets.values()
                  for param in (target.one, target.many) if param is not None}
        self.adapters: dict[int, TypeAdapter[Any]] = {
            key: TypeAdapter(param_value_type(param, max_list_values))
            for key, param in params.items()}

    def __repr__(self) -> str:
        return f"Vocabulary({self.dialect!r}, keys={len(self.targets)})"

    def __contains__(self, key: str) -> bool:
        return key in self.targets

    def unknown(self, keys: Iterable[str], parameter: str, extra: Sequence[str] = ()) -> None:
        """``BadRequest`` naming every key that filters nothing, with a hint each."""
        choices = [*self.targets, *extra]
        missing = [key for key in keys if key not in self.targets and key not in extra]
        if not missing:
            return
        errors = [ParameterError(parameter, f"{_prefix(key, parameter)}unknown filter"
                                            f"{hint(key, choices)}") for key in missing]
        raise BadRequest(f"Unknown filter {', '.join(repr(key) for key in missing)}. "
                         f"Valid filters: {', '.join(sorted(choices))}.", errors=errors)

    def filter(self, key: str, values: Sequence[Any], *, as_list: bool, parameter: str,
               errors: list[ParameterError]) -> Filter | None:
        """The filter ``key`` makes of ``values`` (texts, as in a query string), or None
        with an error naming ``parameter`` (and ``key`` where that is not the same)."""
        target, prefix = self.targets[key], _prefix(key, parameter)
        param: FilterParam | None
        if target.split:
            param, value = target.many, [part for text in values for part in text.split(",")]
        elif as_list or len(values) > 1:
            param, value = target.many, list(values)
        elif target.one is not None:
            param, value = target.one, values[0]
        else:
            param, value = target.many, list(values)
        if param is None:
            errors.append(ParameterError(parameter, f"{prefix}takes one value here (its `in` "
                                                    "operator is not declared)"))
            return None
        try:
            return Filter(param, self.adapters[id(param)].validate_python(value))
        except ValidationError as error:
            entry = error.errors(include_url=False)[0]
            position = entry["loc"][0] if entry["loc"] else None
            item = f"item {position + 1}: " if isinstance(position, int) else ""
            errors.append(ParameterError(parameter, f"{prefix}{item}{entry['msg']}"))
            return None


def _prefix(key: str, parameter: str) -> str:
    return "" if key == parameter else f"{key}: "


def _targets(resource: Resource,
             suffixes: Sequence[tuple[str, tuple[str, ...]]]) -> dict[str, Target]:
    by_field: dict[str, dict[str, FilterParam]] = {}
    for param in resource.filters.values():
        by_field.setdefault(param.leaf.name, {})[param.operator.name] = param
    targets: dict[str, Target] = {}
    for field, operators in by_field.items():
        if "eq" in operators or "in" in operators:
            targets[field] = Target(field, operators.get("eq"), operators.get("in"))
        for suffix, names in suffixes:
            found = next((operators[name] for name in names if name in operators), None)
            if found is not None:
                targets.setdefault(f"{field}{suffix}", Target(f"{field}{suffix}", found, None))
    # The registry's own names for the operators without a client spelling (isnull, not_in).
    spelled = {id(param) for target in targets.values() for param in (target.one, target.many)}
    for name, param in resource.filters.items():
        if id(param) in spelled:
            continue
        if param.operator.shape == "list":
            targets.setdefault(name, Target(name, None, param, split=True))
        else:
            targets.setdefault(name, Target(name, param, None))
    if len(resource.primary_key) == 1:
        targets[ID] = _id_target(resource)
    return targets


def _id_target(resource: Resource) -> Target:
    # The key is indexed and served by every detail route: filtering by it exposes nothing
    # new, and react-admin's getMany needs it (`filter={"id": [1, 2]}`, `?id=1&id=2`).
    leaf = resource.primary_key[0]
    declared = {param.name: param for param in resource.filters.values()}
    made = []
    for operator in ("eq", "in"):
        name = param_name(leaf.name, operator)
        found = declared.get(name)
        made.append(found if found is not None and found.leaf is leaf else FilterParam(
            name=name, leaf=leaf, operator=OPERATORS[operator], internal=f"pk{operator}"))
    return Target(ID, made[0], made[1])


@dataclass(frozen=True)
class Rows:
    """The rows a dialect's client asked for: from ``start``, ``limit`` of them."""

    start: int
    limit: int


def pk_order(resource: Resource) -> dict[bool, tuple[OrderItem, ...]]:
    """Sorting by ``id``: the primary key's columns, ascending (False) or descending (True)."""
    return {descending: tuple((SortKey(leaf=leaf), descending) for leaf in resource.primary_key)
            for descending in (False, True)}


def check_offset(start: int, max_offset: int | None, parameter: str) -> None:
    """The list's ``max_offset`` budget: these clients have no cursor to go deeper."""
    if max_offset is not None and start > max_offset:
        reason = (f"offset {start} is beyond this list's max_offset {max_offset}; narrow "
                  "the list with filters")
        raise BadRequest(f"{parameter}: {reason}.", errors=[ParameterError(parameter, reason)])


# -- bodies ------------------------------------------------------------------------------------


class RecordRenderer:
    """Bare arrays of records, each with an ``id``: the primary key, or its parts joined
    by ``,`` (the detail route's own spelling) when the key has several columns."""

    media_type = "application/json"
    json_rows = False  # records gain a key: built as dicts, encoded once

    def __init__(self, resource: Resource) -> None:
        paths = [leaf.api_path for leaf in resource.primary_key]
        self.paths = paths
        self.aliased = paths != [(ID,)]
        self.encode = encoder(resource.naive_utc)

    def __repr__(self) -> str:
        return f"RecordRenderer(aliased={self.aliased})"

    def list_body(self, items: list[dict[str, Any]], total: Total, window: Window,
                  next_cursor: str | None, extra: Mapping[str, Any] | None = None) -> bytes:
        return self.encode([self.record(item) for item in items])  # a bare array: no facets

    def item_body(self, item: dict[str, Any]) -> bytes:
        return self.encode(self.record(item))

    def record(self, item: dict[str, Any]) -> dict[str, Any]:
        if not self.aliased:
            return item
        parts = [_at(item, path) for path in self.paths]
        key = parts[0] if len(parts) == 1 else ",".join(str(part) for part in parts)
        return {ID: key, **item}


def _at(item: dict[str, Any], path: tuple[str, ...]) -> Any:
    value: Any = item
    for name in path:
        value = value[name]
    return value


def record_model(resource: Resource, item: type[BaseModel]) -> type[BaseModel]:
    """``item`` with the ``id`` a dialect's records carry, for the OpenAPI document."""
    if [leaf.api_path for leaf in resource.primary_key] == [(ID,)]:
        return item
    key = resource.primary_key
    names = ",".join(leaf.name for leaf in key)
    kind: Any = str  # a composite key's parts joined by ','
    if len(key) == 1:  # typed as the key field itself is
        field = _field_at(item, key[0].api_path)
        kind = field.annotation if field is not None else value_type(key[0])
    model: type[BaseModel] = create_model(
        f"{item.__name__}Record", __base__=item,
        id=(kind, Field(description=f"The primary key ({names}), as react-admin wants it")))
    return model


def _field_at(model: type[BaseModel], path: tuple[str, ...]) -> FieldInfo | None:
    field = model.model_fields.get(path[0])
    if field is None or len(path) == 1:
        return field
    inner = field.annotation
    return _field_at(inner, path[1:]) if isinstance(inner, type) and \
        issubclass(inner, BaseModel) else None


# -- registry checks ----------------------------------------------------------------------------


def dialect_issues(resources: Sequence[Resource], api: ApiSpec, *, path: str,
                   located: LocatedData | None) -> list[RegistryIssue]:
    """What a client dialect cannot serve: a field ``id`` that is not the key, a filter
    field ``q`` beside search, a list that does not count (the clients need a total)."""
    issues = []
    for resource in resources:
        profile = resource.spec.profile or api.profile
        if profile not in DIALECTS:
            continue
        problems: list[tuple[tuple[str, ...], str]] = []
        names = {leaf.name for leaf in resource.leaves.values()}
        if ID in names and [leaf.name for leaf in resource.primary_key] != [ID]:
            problems.append((("fields", ID), f"the {profile} profile gives every record an "
                                             "'id' (the primary key); rename this field"))
        if resource.search and any(param.leaf.name == "q" for param in resource.filters.values()):
            problems.append((("filters", "q"), f"'q' is the {profile} profile's search; rename "
                                               "the field or drop its filter"))
        policy = resource.spec.count or api.count
        if policy.kind == "none":
            problems.append((("count",), f"the {profile} profile sends the total (react-admin "
                                         "pages by it): use a count policy that counts"))
        for where, message in problems:
            location = ("resources", resource.name, *where)
            issues.append(RegistryIssue(
                path=path, line=located.line_of(location) if located is not None else None,
                key=".".join(location), message=message))
    return issues


# -- the profile ---------------------------------------------------------------------------------


def dialect_profile(name: str, resource: Resource, api: ApiSpec, headers: dict[str, Any], *,
                    filters: Step[tuple[Filter, ...]], search: Step[str | None],
                    sort: Step[tuple[OrderItem, ...]], paging: PagingStep[Any]) -> Profile:
    """A client dialect's profile: its steps, records with an ``id``, the total counted."""
    record = record_model(resource, item_model(resource))
    about = f"The {name} contract: a bare array of records, each with an `id`"
    return Profile(
        name=name, filters=filters, search=search, sort=sort, paging=paging,
        count=FixedCount(resource.spec.count or api.count),
        renderer=RecordRenderer(resource),
        list_route={"response_model": list[record],  # type: ignore[valid-type]
                    "responses": responses(None, headers, description=about)},
        detail_route={"response_model": record, "responses": responses(
            None, {}, description="The record, with its `id`")},
    )

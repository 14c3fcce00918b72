"""Filters: a fastapi-filter ``Filter`` model generated per resource, with its gaps owned here.

fastapi-filter gives us the operator conventions (``field__op``), value validation by
pydantic and the loop that applies them. What it lacks is wrapped rather than passed on:

* fields are named ``f3__in`` internally with the API name as alias, so names clashing
  with ``Filter``/``BaseModel`` attributes or containing ``__`` are harmless;
* the "model" it reads columns from is a namespace of ``FilterTarget`` objects, so a
  field may be a joined column, a SQL expression or a to-many path (filtered with EXISTS,
  never with a row-multiplying JOIN);
* ``like``/``ilike`` without ``%`` become a literal substring match (the library would warn
  and wrap the value without escaping ``_``);
* date-times are normalised to the column's time-zone convention, enums to their members;
* the model is validated directly from the parsed query (never ``FilterDepends``, which
  runs in the threadpool and documents lists as plain strings).
"""

from __future__ import annotations

import enum
from types import SimpleNamespace
from typing import Annotated, Any, cast

from fastapi_filter.contrib.sqlalchemy import Filter
from pydantic import AfterValidator, ConfigDict, Field, create_model
from pydantic_core import PydanticCustomError
from sqlalchemy import Select, and_, not_, select, true
from sqlalchemy.sql.elements import ColumnElement

from crud.model.fields import Leaf
from crud.model.resource import FilterParam, Resource
from crud.model.values import no_nul, storable_type

__all__ = ["FilterTarget", "build_filter_model", "filter_criteria", "value_type"]


class FilterTarget:
    """What fastapi-filter calls comparators on: wraps the SQL for one field.

    For a to-many field each comparison becomes ``EXISTS`` over the relationship chain, so a
    build with three matching runs is still one row and counts stay right.
    """

    def __init__(self, resource: Resource, leaf: Leaf, column: ColumnElement[Any]) -> None:
        self.resource = resource
        self.leaf = leaf
        self.column = column

    def _where(self, criterion: ColumnElement[bool]) -> ColumnElement[bool]:
        if not self.leaf.to_many:
            return criterion
        return exists_along(self.resource, self.leaf, criterion)

    def _negated(self, criterion: ColumnElement[bool]) -> ColumnElement[bool]:
        # "no related value matches" for to-many; plain negation for scalars.
        if not self.leaf.to_many:
            return not_(criterion)
        return not_(exists_along(self.resource, self.leaf, criterion))

    def __eq__(self, value: Any) -> ColumnElement[bool]:  # type: ignore[override]
        return self._where(self.column == value)

    def __ne__(self, value: Any) -> ColumnElement[bool]:  # type: ignore[override]
        if self.leaf.to_many:
            return self._negated(self.column == value)
        return self.column != value  # type: ignore[no-any-return]

    def __gt__(self, value: Any) -> ColumnElement[bool]:
        return self._where(self.column > value)

    def __ge__(self, value: Any) -> ColumnElement[bool]:
        return self._where(self.column >= value)

    def __lt__(self, value: Any) -> ColumnElement[bool]:
        return self._where(self.column < value)

    def __le__(self, value: Any) -> ColumnElement[bool]:
        return self._where(self.column <= value)

    def in_(self, values: list[Any]) -> ColumnElement[bool]:
        return self._where(self.column.in_(values))

    def not_in(self, values: list[Any]) -> ColumnElement[bool]:
        if self.leaf.to_many:
            return self._negated(self.column.in_(values))
        return self.column.not_in(values)

    def like(self, pattern: str) -> ColumnElement[bool]:
        return self._where(_like(self.column, pattern, ignore_case=False))

    def ilike(self, pattern: str) -> ColumnElement[bool]:
        return self._where(_like(self.column, pattern, ignore_case=True))

    def is_(self, _: None) -> ColumnElement[bool]:
        if self.leaf.to_many:
            return self._negated(self.column.is_not(None))
        return self.column.is_(None)

    def is_not(self, _: None) -> ColumnElement[bool]:
        return self._where(self.column.is_not(None))

    __hash__ = object.__hash__


class Substring(str):
    """A ``like`` value without ``%``: already turned into an escaped ``%text%`` pattern.

    fastapi-filter wraps such values itself, with a DeprecationWarning and without escaping
    ``_``; handing it a value that contains ``%`` keeps it out of that path.
    """

    __slots__ = ()
    ESCAPE = "/"
    # Patterns the client wrote with % use the backslash as escape on every backend (it is
    # PostgreSQL's and MySQL's default; SQLite has none unless told).
    PATTERN_ESCAPE = "\\"

    @classmethod
    def of(cls, text: str) -> str:
        if "%" in text:
            trailing = len(text) - len(text.rstrip(cls.PATTERN_ESCAPE))
            if trailing % 2:
                # PostgreSQL fails the whole statement on such a pattern (a 500 otherwise).
                raise PydanticCustomError(
                    "like_escape", "a pattern cannot end with a lone escape character \\")
            return text
        escaped = text.replace("/", "//").replace("_", "/_")
        return cls(f"%{escaped}%")


def _like(column: ColumnElement[Any], pattern: str, *, ignore_case: bool) -> ColumnElement[bool]:
    escape = Substring.ESCAPE if isinstance(pattern, Substring) else Substring.PATTERN_ESCAPE
    if ignore_case:
        return column.ilike(pattern, escape=escape)
    return column.like(pattern, escape=escape)


def exists_along(resource: Resource, leaf: Leaf, criterion: ColumnElement[bool]) -> ColumnElement[bool]:
    """``criterion`` on the leaf's table, wrapped in has()/any() back to the base table."""
    clause: ColumnElement[bool] = criterion
    for hop in reversed(leaf.hops):
        attribute = getattr(hop.owner.mapped_class, hop.name)
        clause = attribute.any(clause) if hop.to_many else attribute.has(clause)
    return clause


def value_type(leaf: Leaf) -> Any:
    """The pydantic type of one filter value for ``leaf``, normalised for the column."""
    python_type = leaf.info.python_type
    if leaf.info.kind == "enum":
        enum_class = getattr(leaf.sql_type, "enum_class", None)
        if enum_class is not None and issubclass(enum_class, enum.Enum):
            return Annotated[python_type, AfterValidator(_member_of(enum_class))]
    return storable_type(python_type, leaf.info.kind, leaf.sql_type)


def _member_of(enum_class: type[enum.Enum]) -> Any:
    def convert(value: Any) -> enum.Enum:
        return enum_class(value)

    return convert


def build_filter_model(resource: Resource, columns: dict[str, ColumnElement[Any]],
                       max_list_values: int) -> type[Filter]:
    """A fastapi-filter ``Filter`` subclass for the resource's declared filters.

    ``columns`` maps API field names to the SQL each filter compares (joined aliases are
    built once at startup, so the targets never change after this).
    """
    class_name = "".join(part.title() for part in resource.singular.split("_")) + "Filter"
    targets = SimpleNamespace(**{
        param.internal.split("__")[0]: FilterTarget(resource, param.leaf, columns[param.leaf.name])
        for param in resource.filters.values()
    })
    constants = type("Constants", (Filter.Constants,), {
        "model": targets,
        # pydantic ignores a nested class only when its qualname says it is nested.
        "__qualname__": f"{class_name}Base.Constants",
        "__module__": __name__,
    })
    base = type(f"{class_name}Base", (Filter,), {
        "Constants": constants,
        "__module__": __name__,
        "__qualname__": f"{class_name}Base",
        "model_config": ConfigDict(extra="forbid", populate_by_name=False, frozen=False),
    })
    fields: dict[str, Any] = {
        param.internal: (_param_type(param, max_list_values), Field(None, alias=param.name))
        for param in resource.filters.values()
    }
    return cast("type[Filter]", create_model(class_name, __base__=base, __module__=__name__, **fields))


def _param_type(param: FilterParam, max_list_values: int) -> Any:
    shape = param.operator.shape
    if shape == "bool":
        return bool | None
    if shape == "pattern":
        return Annotated[str, AfterValidator(no_nul), AfterValidator(Substring.of)] | None
    item = value_type(param.leaf)
    if shape == "list":
        return Annotated[list[item], Field(min_length=1, max_length=max_list_values)] | None  # type: ignore[valid-type]
    return item | None


def filter_criteria(instance: Filter) -> ColumnElement[bool]:
    """The WHERE clause of the given filter values, via fastapi-filter's own ``filter()``."""
    filtered: Select[Any] = instance.filter(select(true()))
    clause = filtered.whereclause
    return clause if clause is not None else and_(true())

"""The typed filter model: a fastapi-filter ``Filter`` subclass generated per resource.

fastapi-filter gives the conventions (``field__op`` parameter names, comma-separated
lists) and, through pydantic, the validation of every value. It stays at that edge: the
SQL comes from our operator table (``crud.model.operators``), whose rows the library's
own operator mapping cannot express (``startswith``, EXISTS over to-many paths, literal
LIKE substrings), and whose statements are compiled once per shape. What the library
lacks is owned here:

* fields are named ``f3__in`` internally with the API name as alias, so names clashing
  with ``Filter``/``BaseModel`` attributes or containing ``__`` are harmless;
* ``like``/``ilike`` without ``%`` become a literal substring match (the library would warn
  and wrap the value without escaping ``_``), with ``%`` a pattern with ``\\`` escapes;
* date-times are normalised to the column's time-zone convention, enums to their members,
  integers to the column's width;
* the model is validated directly from the parsed query (never ``FilterDepends``, which
  runs in the threadpool and documents lists as plain strings).

The same model serves hand-written routes that want the resource's filters validated.
"""

from __future__ import annotations

import enum
from types import SimpleNamespace
from typing import Annotated, Any, cast

from fastapi_filter.contrib.sqlalchemy import Filter
from pydantic import AfterValidator, ConfigDict, Field, WithJsonSchema, create_model
from pydantic_core import PydanticCustomError

from crud.model.coltypes import type_info
from crud.model.fields import Leaf
from crud.model.operators import LIKE_ESCAPE, LIST_SHAPES, Pattern, escape_like
from crud.model.resource import FilterParam, Resource
from crud.model.values import NO_NUL_SCHEMA, no_nul, storable_type

__all__ = ["PATTERN_ESCAPE", "build_filter_model", "like_pattern", "param_value_type",
           "value_type"]

# Patterns the client wrote with % use the backslash as escape on every backend (it is
# PostgreSQL's and MySQL's default; SQLite has none unless told).
PATTERN_ESCAPE = "\\"


def like_pattern(text: str) -> Pattern:
    """A ``like`` value: with ``%`` the client's pattern, without it a literal substring."""
    if "%" not in text:
        return Pattern(f"%{escape_like(text)}%", LIKE_ESCAPE)
    trailing = len(text) - len(text.rstrip(PATTERN_ESCAPE))
    if trailing % 2:
        # PostgreSQL fails the whole statement on such a pattern (a 500 otherwise).
        raise PydanticCustomError("like_escape",
                                  "a pattern cannot end with a lone escape character \\")
    return Pattern(text, PATTERN_ESCAPE)


def value_type(leaf: Leaf) -> Any:
    """The pydantic type of one filter value for ``leaf``, normalised for the column."""
    python_type = leaf.info.python_type
    if leaf.info.kind == "enum":
        enum_class = getattr(leaf.sql_type, "enum_class", None)
        if enum_class is not None and issubclass(enum_class, enum.Enum):
            return Annotated[python_type, AfterValidator(_member_of(enum_class))]
    return storable_type(python_type, leaf.info.kind, leaf.sql_type, local_time=leaf.local_time)


def element_type(leaf: Leaf) -> Any:
    """One element of an array field: the ARRAY's item type, or a text in a JSON array."""
    item_type = getattr(leaf.sql_type, "item_type", None)
    info = type_info(item_type) if item_type is not None else None
    if leaf.info.kind != "array" or info is None or item_type is None:
        return Annotated[str, AfterValidator(no_nul), WithJsonSchema(NO_NUL_SCHEMA)]
    return storable_type(info.python_type, info.kind, item_type, local_time=leaf.local_time)


def _member_of(enum_class: type[enum.Enum]) -> Any:
    def convert(value: Any) -> enum.Enum:
        return enum_class(value)

    return convert


def param_value_type(param: FilterParam, max_list_values: int) -> Any:
    """What one filter parameter's value must be, by its operator's value shape."""
    shape = param.operator.shape
    if shape == "flag":
        return bool
    if shape == "pattern":
        return Annotated[str, AfterValidator(no_nul), AfterValidator(like_pattern)]
    if shape == "text":
        return Annotated[str, AfterValidator(no_nul)]
    item = element_type(param.leaf) if shape == "items" else value_type(param.leaf)
    if shape in LIST_SHAPES:
        return Annotated[list[item], Field(min_length=1, max_length=max_list_values)]  # type: ignore[valid-type]
    return item


def build_filter_model(resource: Resource, max_list_values: int) -> type[Filter]:
    """A fastapi-filter ``Filter`` subclass validating the resource's declared filters."""
    class_name = "".join(part.title() for part in resource.singular.split("_")) + "Filter"
    constants = type("Constants", (Filter.Constants,), {
        # The library reads columns from ``model``; ours are never applied through it.
        "model": SimpleNamespace(),
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
        param.internal: (param_value_type(param, max_list_values) | None,
                         Field(None, alias=param.name))
        for param in resource.filters.values()
    }
    return cast("type[Filter]", create_model(class_name, __base__=base, __module__=__name__,
                                             **fields))

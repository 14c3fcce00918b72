"""Filters: ``field__op=value`` for every filter the registry declares, ANDed."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from crud.http.errors import ParameterError
from crud.http.filtering import build_filter_model, param_value_type
from crud.http.listquery import Given, Parameter, Step
from crud.http.schema import json_schema
from crud.model.operators import LIST_SHAPES
from crud.model.resource import FilterParam, Resource
from crud.model.values import NO_NUL_SCHEMA
from crud.sql.requests import Filter

__all__ = ["FilterStep", "raw_value", "validation_entries"]


class FilterStep(Step[tuple[Filter, ...]]):
    """Validates the given filters with the resource's fastapi-filter model."""

    def __init__(self, resource: Resource, *, max_list_values: int) -> None:
        self.params = list(resource.filters.values())
        self.model = build_filter_model(resource, max_list_values)
        self.parameters = tuple(_parameter(param, max_list_values) for param in self.params)

    def __repr__(self) -> str:
        return f"FilterStep({[param.name for param in self.params]})"

    def parse(self, given: Given, errors: list[ParameterError]) -> tuple[Filter, ...]:
        raw: dict[str, Any] = {}
        for param in self.params:
            value = given.get(param.name)
            if value is not None:
                raw[param.name] = raw_value(param, value)
        if not raw:
            return ()
        try:
            instance = self.model.model_validate(raw)
        except ValidationError as error:
            errors.extend(validation_entries(error))
            return ()
        return tuple(Filter(param, getattr(instance, param.internal))
                     for param in self.params if param.name in raw)

    def validate(self, param: FilterParam, text: str) -> Filter:
        """One filter from its text, validated exactly as its own parameter would be.

        Raises pydantic's ``ValidationError`` (boolean groups report it per term).
        """
        instance = self.model.model_validate({param.name: raw_value(param, text)})
        return Filter(param, getattr(instance, param.internal))


def raw_value(param: FilterParam, text: str) -> str | list[str]:
    """A parameter's text as its model field takes it: list operators split on commas."""
    return text.split(",") if param.operator.shape in LIST_SHAPES else text


def _parameter(param: FilterParam, max_list_values: int) -> Parameter:
    leaf, operator = param.leaf, param.operator
    about = f"{leaf.description}. " if leaf.description else ""
    description = f"{about}Filter: {leaf.name} {operator.description}."
    if operator.shape == "flag":
        return Parameter(param.name, {"type": "boolean"}, description)
    if operator.shape in {"pattern", "text"}:
        return Parameter(param.name, NO_NUL_SCHEMA, description)
    if operator.shape in LIST_SHAPES:
        item = json_schema(param_value_type(param, max_list_values))["items"]
        schema = {"type": "array", "items": item, "minItems": 1, "maxItems": max_list_values}
        return Parameter(param.name, schema, description, repeatable=True, explode=False)
    return Parameter(param.name, json_schema(param_value_type(param, max_list_values)),
                     description)


def validation_entries(error: ValidationError) -> list[ParameterError]:
    """pydantic's errors as the client's parameters and messages."""
    entries = []
    for item in error.errors(include_url=False):
        location = item["loc"]
        parameter = str(location[0]) if location else "query"
        message = item["msg"].removeprefix("Value error, ")  # pydantic's, not the client's
        if len(location) > 1 and isinstance(location[1], int):
            message = f"item {location[1] + 1}: {message}"
        if item["type"] in {"too_long", "too_short"} and parameter.endswith("in"):
            message = item["msg"].replace("List", "The list")
        entries.append(ParameterError(parameter, message))
    return entries

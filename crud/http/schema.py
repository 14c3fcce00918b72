"""Typed models and OpenAPI parameters generated from a bound resource.

Response models come from ``pydantic.create_model``; query parameters are documented from
the same types the parser validates with, so the spec and the behaviour cannot drift.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, WithJsonSchema, create_model

from crud.http.filtering import value_type
from crud.model.fields import Collected, Leaf, ManyField, Node, ObjectNode
from crud.model.resource import Resource
from crud.model.values import LocalDatetime

__all__ = ["PROBLEM_SCHEMA", "detail_parameters", "item_model", "json_schema", "model_name"]


def model_name(resource: Resource, *suffix: str) -> str:
    words = [*resource.singular.split("_"), *suffix]
    return "".join(word[:1].upper() + word[1:] for word in words if word)


def item_model(resource: Resource, *, shapes: bool = False) -> type[BaseModel]:
    """The item's model; with ``shapes`` (``fields=``, ``embed=``) every key is optional
    (a sparse item leaves fields out) and the embeddable relations are keys too."""
    return _object_model(model_name(resource), resource.nodes,
                         resource.embeds if shapes else (), sparse=shapes)


def _object_model(name: str, nodes: Sequence[Node], embeds: Sequence[Node] = (), *,
                  sparse: bool = False) -> type[BaseModel]:
    fields: dict[str, Any] = {}
    for index, node in enumerate((*nodes, *embeds)):
        key = node.api_path[-1]
        # Not required: the default is never sent (the key is absent), so none is shown.
        extra: dict[str, Any] = {"default": None} if sparse or index >= len(nodes) else {}
        field = Field(description=node.description, **extra)
        if _shadows_base_model(key):
            # Columns of legacy tables are called "copy", "json" or "model_config"; pydantic
            # refuses such field names, but an alias puts them in the schema unchanged.
            field = Field(alias=key, description=node.description, **extra)
            key = f"x{index}_{key}"
        fields[key] = (_node_type(name, node, sparse), field)
    model: type[BaseModel] = create_model(
        name, __config__=ConfigDict(json_schema_extra=_without_defaults), **fields)
    return model


def _without_defaults(schema: dict[str, Any]) -> None:
    for value in schema.get("properties", {}).values():
        if isinstance(value, dict):
            value.pop("default", None)


def _shadows_base_model(name: str) -> bool:
    return hasattr(BaseModel, name) or name.startswith("model_")


def _node_type(owner: str, node: Node, sparse: bool = False) -> Any:
    child_name = owner + "".join(part.title() for part in node.api_path[-1].split("_"))
    if isinstance(node, Leaf):
        return _leaf_type(node)
    if isinstance(node, Collected):  # a list of the values, or an object of them by key
        value = node.value
        if isinstance(value, ObjectNode):  # an absent object is left out, never null
            item: Any = _object_model(child_name, value.children, sparse=sparse)
        elif node.key is None:  # a list leaves NULLs out
            item = _leaf_type(dataclasses.replace(value, nullable=False))
        else:
            item = _leaf_type(value)
        return list[item] if node.key is None else dict[str, item]
    if isinstance(node, ManyField):
        if node.scalar:
            return list[_leaf_type(node.leaves[0])]  # type: ignore[misc]
        return list[_object_model(child_name, node.leaves, sparse=sparse)]  # type: ignore[misc]
    assert isinstance(node, ObjectNode)  # fields=project.url leaves its other keys out
    model = _object_model(child_name, node.children, sparse=sparse)
    # A relation of its own is null when no row links (a mere grouping never is).
    return model if node.presence is None else model | None


def _leaf_type(leaf: Leaf) -> Any:
    python_type = leaf.info.python_type
    if leaf.local_time:  # a local date-time as stored, or an array of them
        python_type = list[LocalDatetime] if leaf.info.kind == "array" else LocalDatetime
    if leaf.json_schema is not None:
        declared = Annotated[Any, WithJsonSchema(leaf.json_schema)]  # JSON leaves only
        return declared | None if leaf.nullable else declared
    if leaf.info.kind == "json" or not leaf.nullable:
        return python_type
    return python_type | None


def json_schema(python_type: Any) -> dict[str, Any]:
    """The JSON Schema of a value type, as the OpenAPI document shows it."""
    return TypeAdapter(python_type).json_schema()


def detail_parameters(resource: Resource) -> list[dict[str, Any]]:
    """The ``id`` path parameter, typed as the primary key (comma-joined when composite)."""
    names = [leaf.name for leaf in resource.primary_key]
    if len(names) == 1:
        schema = json_schema(value_type(resource.primary_key[0]))
        description = f"The {names[0]} of the row"
    else:
        schema = {"type": "string"}
        description = f"The primary key as comma-separated values: {','.join(names)}"
    return [{"name": "id", "in": "path", "required": True, "schema": schema,
             "description": description}]


PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "RFC 9457 problem details",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "instance": {"type": "string"},
        "code": {"type": "string"},
        "request_id": {"type": "string"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["parameter", "message"],
                "properties": {"parameter": {"type": "string"}, "message": {"type": "string"}},
            },
        },
    },
}

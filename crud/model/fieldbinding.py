"""Bind a resource's ``fields:`` (and ``embed:``) to its tables: leaves, objects, lists.

``FieldBinder`` walks each field's ``source`` (a column, a path of relationships and
derived joins, a JSON path, an expression) from the resource's entity, and records a
located, hinted issue where a step does not exist instead of stopping at the first.
``crud.model.binding`` binds the rest of the resource (filters, sort, search) on the leaves.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from typing import Any

from sqlalchemy.orm import MANYTOONE
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.types import NullType, TypeEngine

from crud.config.registry import ExpressionSource, FieldSpec, ResourceSpec
from crud.model.coltypes import TypeInfo, declared_type, type_info, unsupported_reason
from crud.model.fields import Collected, Hop, Leaf, ManyField, Node, ObjectNode, Step
from crud.model.issues import IssueCollector, hint
from crud.model.joins import DerivedJoin, bind_joins
from crud.model.sources import Entity, call_with_table, import_object

__all__ = ["FieldBinder", "flatten"]


class FieldBinder:
    """Walks one resource spec; records issues instead of stopping at the first."""

    def __init__(self, name: str, spec: ResourceSpec, entity: Entity,
                 collector: IssueCollector, *, naive_utc: bool = True) -> None:
        self.name = name
        self.spec = spec
        self.naive_utc = naive_utc
        self.entity = entity
        self.collector = collector
        self.where: tuple[str | int, ...] = ("resources", name)
        self.section = "fields"  # the registry key being bound: "fields" or "embed"
        self.labels = (f"c{index}" for index in range(10_000))
        self.declared = frozenset(_declared(spec.fields))
        self.joins = bind_joins(spec.joins, entity, self.issue)

    def unknown(self, location: tuple[str | int, ...], api_name: str, leaves: dict[str, Leaf]) -> None:
        # A declared field that failed to bind was reported already; say nothing twice.
        if api_name not in self.declared:
            self.issue(location, f"unknown field {api_name!r}{hint(api_name, list(leaves))}")

    def issue(self, location: tuple[str | int, ...], message: str) -> None:
        self.collector.add((*self.where, *location), message)

    # -- fields ---------------------------------------------------------------------------

    def bind_nodes(self, fields: dict[str, FieldSpec], prefix: tuple[str, ...],
                   base_hops: tuple[Step, ...], at: Entity | DerivedJoin) -> list[Node]:
        nodes: list[Node] = []
        for api_name, spec in fields.items():
            node = self.bind_node(api_name, spec, prefix, base_hops, at)
            if node is not None:
                nodes.append(node)
        return nodes

    def bind_node(self, api_name: str, spec: FieldSpec, prefix: tuple[str, ...],
                  base_hops: tuple[Step, ...], at: Entity | DerivedJoin) -> Node | None:
        api_path = (*prefix, api_name)
        location = (self.section, *_spec_location(api_path))
        if spec.type is not None and (spec.fields is not None
                                      or isinstance(spec.source, ExpressionSource)):
            self.issue((*location, "type"), "'type:' declares a column's type; objects and "
                                            "expressions have their own")
            return None
        if spec.json_schema is not None and spec.fields is not None:
            self.issue((*location, "json_schema"), "'json_schema:' describes a JSON column's "
                                                   "values; an object's schema is its fields")
            return None
        if spec.collect is not None:
            return self.bind_collected(api_path, spec, location)
        if isinstance(spec.source, ExpressionSource):
            if spec.fields:
                self.issue(location, "an expression field cannot have nested 'fields'")
                return None
            return self.bind_expression(api_path, spec, location)
        dotted = spec.source if spec.source is not None else (None if spec.fields else api_name)
        steps = dotted.split(".") if dotted else []
        if spec.fields is not None:
            return self.bind_object(api_path, spec, steps, base_hops, at, location)
        return self.bind_column_path(api_path, spec, steps, base_hops, at, location)

    def bind_collected(self, api_path: tuple[str, ...], spec: FieldSpec,
                       location: tuple[str | int, ...]) -> Collected | None:
        """``{collect: source}`` (with ``key:``, ``fields:``): read from every row of a group."""
        assert spec.collect is not None
        if self.spec.group_by is None or len(api_path) > 1:
            self.issue((*location, "collect"), "'collect:' gathers the rows of a group: give "
                       "the resource 'group_by:' and collect at the top level of 'fields:'")
            return None
        value_spec = FieldSpec(source=spec.collect, fields=spec.fields, type=spec.type,
                               description=spec.description)
        value = self.bind_node(api_path[-1], value_spec, (), (), self.entity)
        if isinstance(value, ManyField | Collected) or (isinstance(value, Leaf)
                                                        and value.to_many):
            self.issue((*location, "collect"), "collect a column or a to-one object of each "
                                               "row, not a to-many list")
            return None
        key = None
        if spec.key is not None:
            bound = self.bind_node(api_path[-1], FieldSpec(source=spec.key), (), (), self.entity)
            if bound is None:
                return None
            if not isinstance(bound, Leaf) or bound.to_many or bound.info.kind in {"json",
                                                                                   "array"}:
                self.issue((*location, "key"), "an object's key is one scalar column of each "
                                               "row (e.g. key: chroot)")
                return None
            key = bound
        if value is None:
            return None
        return Collected(api_path=api_path, value=value, key=key, description=spec.description)

    def bind_object(self, api_path: tuple[str, ...], spec: FieldSpec, steps: list[str],
                    base_hops: tuple[Step, ...], at: Entity | DerivedJoin,
                    location: tuple[str | int, ...]) -> Node | None:
        assert spec.fields is not None
        hops = self.walk(steps, at, (*location, "source"), allow_column=False)
        if hops is None:
            return None
        all_hops = (*base_hops, *hops)
        target = all_hops[-1].target if all_hops else self.entity
        if any(hop.to_many for hop in hops):
            return self.bind_many_objects(api_path, spec, _relationship_hops(all_hops),
                                          target, location)
        children = self.bind_nodes(spec.fields, api_path, all_hops, target)
        # An object of its own relation (not a mere grouping of the parent's fields) is
        # null when nothing links: its presence is the related row's key.
        presence = self.presence_leaf(api_path, all_hops) if hops else None
        return ObjectNode(api_path=api_path, children=tuple(children),
                          description=spec.description, presence=presence)

    def presence_leaf(self, api_path: tuple[str, ...], hops: tuple[Step, ...]) -> Leaf | None:
        """The related row's first key column (a derived join's: its first ``on`` column),
        NULL exactly when the outer join finds no row."""
        target = hops[-1].target
        if isinstance(target, DerivedJoin):
            key = target.on[0][1]
        else:
            keys = target.primary_key()
            if not keys:  # a view without a declared key: the object cannot tell
                return None
            key = keys[0]
        column = target.column(key)
        info = type_info(column.type)
        if info is None:
            return None
        return Leaf(api_path=(*api_path, "(present)"), label=next(self.labels), hops=hops,
                    column_key=key, expression=None, info=info, sql_type=column.type,
                    nullable=True, description=None)

    def bind_many_objects(self, api_path: tuple[str, ...], spec: FieldSpec,
                          hops: tuple[Hop, ...], target: Entity | DerivedJoin,
                          location: tuple[str | int, ...]) -> ManyField | None:
        assert spec.fields is not None
        leaves = []
        for sub_name, sub_spec in spec.fields.items():
            column = sub_spec.source if isinstance(sub_spec.source, str) else sub_name
            sub_location = (*location, "fields", sub_name)
            if sub_spec.fields is not None or isinstance(sub_spec.source, ExpressionSource):
                self.issue(sub_location, "items of a to-many list can only be plain columns")
                continue
            leaf = self.column_leaf((*api_path, sub_name), sub_spec, hops, target, column,
                                    sub_location)
            if leaf is not None:
                leaves.append(leaf)
        if not leaves:
            return None
        return ManyField(api_path=api_path, hops=hops, leaves=tuple(leaves), scalar=False,
                         limit=spec.limit, description=spec.description)

    def bind_column_path(self, api_path: tuple[str, ...], spec: FieldSpec, steps: list[str],
                         base_hops: tuple[Step, ...], at: Entity | DerivedJoin,
                         location: tuple[str | int, ...]) -> Node | None:
        if len(steps) > 1 and isinstance(at, Entity) and at.relationship(steps[0]) is None \
                and at.column_key(steps[0]) is not None and steps[0] not in self.spec.joins:
            # A column, then more: the path is into its JSON values (``data.arch``).
            return self.json_path_leaf(api_path, spec, steps, base_hops, at, location)
        *relations, column = steps
        hops = self.walk(relations, at, (*location, "source"), allow_column=True)
        if hops is None:
            return None
        all_hops = (*base_hops, *hops)
        target = all_hops[-1].target if all_hops else self.entity
        leaf = self.column_leaf(api_path, spec, all_hops, target, column, (*location, "source"))
        if leaf is None or not leaf.to_many:
            return leaf
        return ManyField(api_path=api_path, hops=_relationship_hops(all_hops), leaves=(leaf,),
                         scalar=True, limit=spec.limit, description=spec.description)

    def column_leaf(self, api_path: tuple[str, ...], spec: FieldSpec, hops: tuple[Step, ...],
                    target: Entity | DerivedJoin, column: str,
                    location: tuple[str | int, ...]) -> Leaf | None:
        key = target.column_key(column)
        if key is None and target is self.entity and column in self.joins:
            join = self.joins[column]
            self.issue(location, f"{join.label} is a row, not a value: name one of its columns "
                                 f"({', '.join(f'{column}.{name}' for name in join.column_names())})")
            return None
        if key is None:
            choices = target.column_names() + target.relationship_names()
            self.issue(location, f"{target.label} has no column {column!r}{hint(column, choices)}")
            return None
        sql_column = target.column(key)
        info, sql_type = type_info(sql_column.type), sql_column.type
        coerced = False
        if spec.type is not None:
            # An untyped column (NullType) keeps the database's own values and spellings.
            coerced = info is None and not isinstance(sql_type, NullType)
            info, sql_type = declared_type(spec.type)
        if info is None:
            self.issue(location, f"column {column!r} of {target.label} "
                                 f"{unsupported_reason(sql_column.type)}")
            return None
        if spec.json_schema is not None and info.kind != "json":
            field_location = location[:-1] if location[-1] == "source" else location
            self.issue((*field_location, "json_schema"),
                       f"'json_schema:' describes JSON values; column {column!r} of "
                       f"{target.label} is {info.kind}, which has its own schema")
            return None
        # A to-many hop makes a list (empty when nothing links), not a null item.
        nullable = target.nullable(key) or any(
            self.hop_nullable(hop) for hop in hops if not hop.to_many)
        return Leaf(api_path=api_path, label=next(self.labels), hops=hops, column_key=key,
                    expression=None, info=info, sql_type=sql_type, nullable=nullable,
                    description=spec.description, json_schema=spec.json_schema,
                    local_time=self.local_time(info, sql_type), coerced=coerced)

    def json_path_leaf(self, api_path: tuple[str, ...], spec: FieldSpec, steps: list[str],
                       hops: tuple[Step, ...], at: Entity,
                       location: tuple[str | int, ...]) -> Leaf | None:
        column, *keys = steps
        key = at.column_key(column)
        assert key is not None
        info = type_info(at.column(key).type)
        where = (*location, "source")
        if info is None or info.kind != "json":
            kind = info.kind if info is not None else "not JSON"
            self.issue(where, f"{at.label}.{column} is {kind}, not a JSON column: only a JSON "
                              f"column's values have paths ({column}.{'.'.join(keys)}), and "
                              f"{column!r} is no relationship")
            return None
        bad = [part for part in keys if not _JSON_KEY.fullmatch(part)]
        if bad:
            self.issue(where, f"JSON path key {bad[0]!r}: keys are identifiers (letters, "
                              "digits, _) or array indexes (digits)")
            return None
        declared = spec.type or "string"
        if declared not in _JSON_PATH_TYPES:
            self.issue((*location, "type"), f"a JSON path field is {', '.join(_JSON_PATH_TYPES)}"
                                            f", not {declared!r}")
            return None
        if spec.json_schema is not None:
            self.issue((*location, "json_schema"), "'json_schema:' describes a whole JSON "
                                                   "column; a path's value has its 'type:'")
            return None
        path = tuple(int(part) if part.isdigit() else part for part in keys)
        value_info, sql_type = declared_type(declared)
        return Leaf(api_path=api_path, label=next(self.labels), hops=hops, column_key=key,
                    expression=None, info=value_info, sql_type=sql_type, nullable=True,
                    description=spec.description, json_path=path)

    def local_time(self, info: TypeInfo, sql_type: TypeEngine[Any]) -> bool:
        """Whether values of this type (or an array's elements) are local date-times as
        stored: there is no zone to give them."""
        if info.kind == "array":
            element: TypeEngine[Any] | None = getattr(sql_type, "item_type", None)
            if element is None or (element_info := type_info(element)) is None:
                return False
            return self.local_time(element_info, element)
        return (not self.naive_utc and info.kind == "datetime"
                and not getattr(sql_type, "timezone", False))

    @staticmethod
    def hop_nullable(hop: Step) -> bool:
        # A many-to-one link is optional when a local foreign-key column is nullable;
        # a one-to-one link from the other side, or a derived join, may always be missing.
        if isinstance(hop, DerivedJoin):
            return True
        relationship = hop.owner.relationship(hop.name)
        if relationship is None or relationship.direction is not MANYTOONE:
            return True
        return any(bool(local.nullable) for local, _ in relationship.local_remote_pairs or ())

    def bind_expression(self, api_path: tuple[str, ...], spec: FieldSpec,
                        location: tuple[str | int, ...]) -> Leaf | None:
        assert isinstance(spec.source, ExpressionSource)
        where = (*location, "source", "expression")
        try:
            function = import_object(spec.source.expression)
            expression = call_with_table(function, self.entity.table)
        except Exception as error:  # the user's function: report, never crash startup
            self.issue(where, _first_arg(error))
            return None
        if not isinstance(expression, ColumnElement):
            self.issue(where, f"returned {type(expression).__name__}, expected a SQL column "
                              "expression (use .scalar_subquery() for a select)")
            return None
        info = type_info(expression.type)
        if info is None:
            self.issue(where, "the expression has no JSON-compatible type; wrap it in "
                              "sqlalchemy.type_coerce(expr, Integer) or similar")
            return None
        if spec.json_schema is not None and info.kind != "json":
            self.issue((*location, "json_schema"), "'json_schema:' describes JSON values; the "
                                                   f"expression is {info.kind}")
            return None
        return Leaf(api_path=api_path, label=next(self.labels), hops=(), column_key=None,
                    expression=expression, info=info, sql_type=expression.type, nullable=True,
                    description=spec.description, json_schema=spec.json_schema,
                    local_time=self.local_time(info, expression.type))

    def walk(self, steps: list[str], at: Entity | DerivedJoin, location: tuple[str | int, ...],
             *, allow_column: bool) -> tuple[Step, ...] | None:
        hops: list[Step] = []
        for name in steps:
            hop = self.step(at, name, location, allow_column=allow_column)
            if hop is None:
                return None
            hops.append(hop)
            at = hop.target
        return tuple(hops)

    def step(self, at: Entity | DerivedJoin, name: str, location: tuple[str | int, ...],
             *, allow_column: bool) -> Step | None:
        if at is self.entity and name in self.spec.joins:
            return self.joins.get(name)  # a join that failed to bind was reported already
        if isinstance(at, DerivedJoin):
            self.issue(location, f"{at.label} has columns only, no relationship {name!r} to "
                                 f"follow{hint(name, at.column_names())}")
            return None
        relationship = at.relationship(name)
        if relationship is None:
            joins = list(self.spec.joins) if at is self.entity else []
            valid = at.relationship_names() + joins
            what = "relationship or join" if joins else "relationship"
            if not valid and allow_column:
                what += " (it has none)"
            self.issue(location, f"{at.label} has no {what} {name!r}{hint(name, valid)}")
            return None
        return Hop(name=name, owner=at, target=at.related(relationship),
                   to_many=bool(relationship.uselist))

# What a JSON path may name, and be typed as: every backend extracts these as one text
# (or number) and casts it the same way.
_JSON_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*|[0-9]+")
_JSON_PATH_TYPES = ("string", "integer", "number")


def _declared(fields: dict[str, FieldSpec], prefix: str = "") -> Iterator[str]:
    for name, spec in fields.items():
        yield prefix + name
        if spec.fields:
            yield from _declared(spec.fields, f"{prefix}{name}.")


def _relationship_hops(hops: tuple[Step, ...]) -> tuple[Hop, ...]:
    # Only relationships lead to many rows; a derived join has no relationships to follow.
    relationships = tuple(hop for hop in hops if isinstance(hop, Hop))
    assert len(relationships) == len(hops), hops
    return relationships


def _spec_location(api_path: tuple[str, ...]) -> Iterator[str]:
    yield api_path[0]
    for part in api_path[1:]:
        yield "fields"
        yield part


def _first_arg(error: Exception) -> str:
    return str(error.args[0]) if error.args else type(error).__name__


def flatten(nodes: Sequence[Node]) -> Iterator[Leaf]:
    """Every leaf of ``nodes``, a to-many list's too."""
    for node in nodes:
        if isinstance(node, Leaf):
            yield node
        elif isinstance(node, ManyField):
            yield from node.leaves
        elif isinstance(node, ObjectNode):
            yield from flatten(node.children)
        elif isinstance(node.value, Leaf):
            # A collected column filters (and searches) the group's rows by that column.
            yield node.value

"""The tables a resource's answers read: its own, and every one its fields reach.

A cached total, a rollup or a live list is only as fresh as the last change of *any* table
behind it: a koji build's ``pr_id`` comes from a derived join over four other tables, a
to-many list from a related table (and an association table between them), an expression
field from whatever its subquery reads. ``tables_read`` walks the bound fields once, at
startup, and ``crud.sql.signals`` watches what it returns.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from sqlalchemy import Table
from sqlalchemy.sql import visitors

from crud.model.fields import Collected, Hop, Leaf, ManyField, Node, ObjectNode
from crud.model.joins import DerivedJoin
from crud.model.resource import Resource

__all__ = ["node_tables", "tables_read"]


def tables_read(resource: Resource) -> tuple[Table, ...]:
    """``resource``'s table first, then each other table its fields and embeds read, once."""
    found: dict[str, Table] = {resource.entity.table.fullname: resource.entity.table}
    for table in node_tables([*resource.leaves.values(), *resource.many_fields,
                               *resource.embeds, *resource.nodes]):
        found.setdefault(table.fullname, table)
    return tuple(found.values())


def node_tables(nodes: Iterable[Node]) -> Iterator[Table]:
    """The tables ``nodes`` read besides through their own row (repeats included)."""
    for node in nodes:
        if isinstance(node, ObjectNode):
            yield from node_tables(node.children)
        elif isinstance(node, ManyField):
            yield from _hop_tables(node.hops)
            yield from node_tables(node.leaves)
        elif isinstance(node, Collected):  # a grouped resource's values over its rows
            yield from node_tables([node.value, *([node.key] if node.key else [])])
        else:
            yield from _leaf_tables(node)


def _leaf_tables(leaf: Leaf) -> Iterator[Table]:
    yield from _hop_tables(leaf.hops)
    if leaf.expression is not None:
        yield from _clause_tables(leaf.expression)


def _hop_tables(hops: Iterable[Hop | DerivedJoin]) -> Iterator[Table]:
    for hop in hops:
        if isinstance(hop, DerivedJoin):
            yield from _clause_tables(hop.select)
            continue
        yield hop.target.table
        relationship = hop.owner.relationship(hop.name)
        secondary = relationship.secondary if relationship is not None else None
        if isinstance(secondary, Table):  # a many-to-many link's association table
            yield secondary


def _clause_tables(clause: Any) -> Iterator[Table]:
    # Every Table the clause mentions, in subqueries, joins and unions too.
    for element in visitors.iterate(clause):
        if isinstance(element, Table):
            yield element

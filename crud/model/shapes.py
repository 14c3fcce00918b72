"""Shapes: which fields (``fields=``) and relations (``embed=``) one request's items hold.

A ``Shape`` is the item's node tree, pruned to what was asked, plus what the SQL must
select for it: the row's leaves (the primary key too when lists are loaded by it) and the
to-many lists. Statements are compiled and items shaped once per shape (its ``key``);
since a client can ask for any of 2^N field subsets, every cache by shape is an ``Lru``.
"""

from __future__ import annotations

import dataclasses
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from crud.model.fields import Leaf, ManyField, Node, ObjectNode, many_fields, row_leaves
from crud.model.resource import Resource

__all__ = ["SHAPE_CACHE_SIZE", "Lru", "Shape", "Shapes"]

# Distinct shapes kept per resource (and compiled statements, shapers... per shape).
SHAPE_CACHE_SIZE = 128

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class Lru(Generic[K, V]):
    """Values by key, built on first use, least recently used out past ``capacity``."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.entries: OrderedDict[K, V] = OrderedDict()

    def __repr__(self) -> str:
        return f"Lru({len(self.entries)}/{self.capacity})"

    def __len__(self) -> int:
        return len(self.entries)

    def get(self, key: K, build: Callable[[], V]) -> V:
        if key in self.entries:
            self.entries.move_to_end(key)
            return self.entries[key]
        value = self.entries[key] = build()
        if len(self.entries) > self.capacity:
            self.entries.popitem(last=False)
        return value


@dataclass(frozen=True, eq=False)
class Shape:
    """The items one request returns and what their rows must select."""

    nodes: tuple[Node, ...]  # the item's fields, in declaration order, embeds last
    row_leaves: tuple[Leaf, ...]  # selected per row: the items' leaves, then any key needed
    many_fields: tuple[ManyField, ...]  # loaded by one statement each for the whole page
    primary_key: tuple[Leaf, ...]
    key: Hashable = None  # None: every declared field and no embed (the default shape)
    group_key: Leaf | None = None  # a grouped resource's: items fold their rows by it

    def __repr__(self) -> str:
        return f"Shape({self.key!r})"


class Shapes:
    """The shapes of one resource: the default one, and those requests asked for."""

    def __init__(self, resource: Resource, *, capacity: int = SHAPE_CACHE_SIZE) -> None:
        self.resource = resource
        self.full = _shape(resource, resource.nodes, None)
        self.field_names = [name for node in resource.nodes for name in _names(node)]
        self.embeds = {node.name: node for node in resource.embeds}
        self.embed_names = [name for node in resource.embeds for name in _names(node)]
        self.cache: Lru[Hashable, Shape] = Lru(capacity)

    def __repr__(self) -> str:
        return f"Shapes({self.resource.name!r}, {self.cache!r})"

    def shape(self, fields: Iterable[str] | None, embeds: Iterable[str] = ()) -> Shape:
        """The shape of ``fields`` (None: all of them) plus ``embeds`` (a relation's name,
        or ``runs.id`` for some of its fields); names must exist."""
        wanted = None if fields is None else tuple(sorted(set(fields)))
        embedded = tuple(sorted(set(embeds)))
        if wanted is None and not embedded:
            return self.full
        key = (wanted, embedded)
        return self.cache.get(key, lambda: self._build(wanted, embedded, key))

    def _build(self, wanted: tuple[str, ...] | None, embedded: tuple[str, ...],
               key: Hashable) -> Shape:
        nodes = list(self.resource.nodes if wanted is None
                     else _pruned(self.resource.nodes, frozenset(wanted)))
        nodes.extend(_pruned(self.resource.embeds, frozenset(embedded)))
        return _shape(self.resource, nodes, key)


def _shape(resource: Resource, nodes: Sequence[Node], key: Hashable) -> Shape:
    leaves = list(row_leaves(nodes))
    many = tuple(many_fields(nodes))
    # Lists are grouped by their owner's key, a grouped item's rows by the group key:
    # select it, returned or not.
    if many or resource.group_key is not None:
        leaves.extend(leaf for leaf in resource.primary_key if leaf not in leaves)
    return Shape(nodes=tuple(nodes), row_leaves=tuple(leaves), many_fields=many,
                 primary_key=resource.primary_key, key=key, group_key=resource.group_key)


def _names(node: Node) -> Iterator[str]:
    """The names ``fields=`` may give for ``node``: its own, and those of its parts (a
    nested object's fields, the fields of a to-many list's objects)."""
    yield node.name
    if isinstance(node, ObjectNode):
        for child in node.children:
            yield from _names(child)
    elif isinstance(node, ManyField) and not node.scalar:
        for leaf in node.leaves:
            yield leaf.name


def _pruned(nodes: Sequence[Node], wanted: frozenset[str]) -> Iterator[Node]:
    for node in nodes:
        inside = any(name.startswith(f"{node.name}.") for name in wanted)
        if node.name in wanted:
            yield node
        elif isinstance(node, ObjectNode) and inside:
            yield dataclasses.replace(node, children=tuple(_pruned(node.children, wanted)))
        elif isinstance(node, ManyField) and inside:  # its own statement selects fewer columns
            yield dataclasses.replace(node, leaves=tuple(
                leaf for leaf in node.leaves if leaf.name in wanted))


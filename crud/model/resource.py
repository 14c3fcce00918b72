"""A bound resource: the registry's entry checked against its tables, ready to serve."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from crud.config.registry import ResourceSpec
from crud.model.fields import Leaf, ManyField, Node, row_leaves
from crud.model.operators import Operator
from crud.model.sources import Entity

if TYPE_CHECKING:  # analytics imports FilterParam from here
    from crud.model.analytics import Aggregate
    from crud.model.rollups import Rollup

__all__ = ["SEARCH_RANK", "FilterParam", "Resource", "SortKey"]

# The sort key of a ranked search (``order_by=-search_rank``): relevance, higher is better.
SEARCH_RANK = "search_rank"


@dataclass(frozen=True, eq=False)
class FilterParam:
    """One query parameter such as ``status__in``: a field, an operator and an internal name.

    ``internal`` (``f3__in``) is what the fastapi-filter model calls the field, so that API
    names clashing with its attributes (``filter``, ``sort``) or containing ``__`` are safe.
    """

    name: str
    leaf: Leaf
    operator: Operator
    internal: str

    def __repr__(self) -> str:
        return f"FilterParam({self.name!r})"


@dataclass(frozen=True, eq=False)
class SortKey:
    leaf: Leaf
    # Where NULLs go: None is the default (last ascending, first descending, as PostgreSQL
    # has it); True/False put them first/last whatever the direction (order_by=-a:nulls_last).
    nulls_first: bool | None = None

    @property
    def name(self) -> str:
        return self.leaf.name

    @property
    def placement(self) -> str:
        """The ``:nulls_first``/``:nulls_last`` suffix the client gave, or ''."""
        if self.nulls_first is None:
            return ""
        return ":nulls_first" if self.nulls_first else ":nulls_last"

    def nulls_lead(self, descending: bool) -> bool:
        """Whether NULLs come first in this key's order."""
        return descending if self.nulls_first is None else self.nulls_first

    def __repr__(self) -> str:
        return f"SortKey({self.name!r})"


@dataclass(frozen=True, eq=False)
class Resource:
    name: str
    spec: ResourceSpec
    entity: Entity
    nodes: tuple[Node, ...]
    leaves: dict[str, Leaf]
    many_fields: tuple[ManyField, ...]
    primary_key: tuple[Leaf, ...]
    filters: dict[str, FilterParam]
    search: tuple[Leaf, ...]
    sort: dict[str, SortKey]
    default_sort: tuple[tuple[SortKey, bool], ...]
    page_size: int
    max_page_size: int
    # Relations a request may ask for with ``embed=``: a ManyField or a to-one ObjectNode.
    embeds: tuple[Node, ...] = ()
    # Relevance to ``search`` (full_text and fuzzy modes): a sort key, never a field. Its
    # leaf has no column: the SQL layer computes it per backend.
    rank: SortKey | None = None
    facets: tuple[Leaf, ...] = ()
    aggregate: Aggregate | None = None
    rollups: tuple[Rollup, ...] = ()  # pre-aggregated answers (docs/rollups.md)
    # Date-times without a zone are UTC (sent with +00:00) or local as stored (no offset).
    naive_utc: bool = True
    # ``group_by:``: one item per value of this base column (then also the primary key).
    group_key: Leaf | None = None

    def __repr__(self) -> str:
        return f"Resource({self.name!r}, entity={self.entity.label!r}, fields={len(self.leaves)})"

    @property
    def row_leaves(self) -> tuple[Leaf, ...]:
        """The leaves selected by the page statement (everything but to-many lists; each
        to-one object's presence key)."""
        return tuple(row_leaves(self.nodes))

    @property
    def sort_leaves(self) -> list[Leaf]:
        """Every value a cursor may carry: the fields, and the rank of a ranked search."""
        return [*self.leaves.values(), *([self.rank.leaf] if self.rank is not None else [])]

    @property
    def search_mode(self) -> str:
        return self.spec.search.mode

    @property
    def singular(self) -> str:
        name = self.name.replace("-", "_")
        return name[:-1] if name.endswith("s") and not name.endswith("ss") else name

    def pk_values(self, row: Any) -> tuple[Any, ...]:
        return tuple(getattr(row, leaf.label) for leaf in self.primary_key)

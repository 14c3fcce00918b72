"""Check a resource spec against its tables and bind it into a ``Resource``.

Every problem is collected, located in the registry file and given a hint (the closest
valid name at that step), so a user fixes all of them in one pass. Fields are bound by
``crud.model.fieldbinding``; here, on their leaves, the primary key, filters, search, sort
keys, embeds, facets and the aggregate.
"""

from __future__ import annotations

from sqlalchemy import Float
from sqlalchemy.orm import configure_mappers

from crud.config.registry import ApiSpec, ExpressionSource, ResourceSpec
from crud.model.analytics import bind_aggregate, bind_facets
from crud.model.coltypes import type_info
from crud.model.fieldbinding import FieldBinder, flatten
from crud.model.fields import Collected, Leaf, ManyField, Node, ObjectNode, many_fields
from crud.model.issues import IssueCollector, hint
from crud.model.operators import OPERATORS, param_name
from crud.model.resource import SEARCH_RANK, FilterParam, Resource, SortKey
from crud.model.rollups import bind_rollups
from crud.model.sources import Entity

__all__ = ["IssueCollector", "bind_resource", "hint"]


def bind_resource(name: str, spec: ResourceSpec, entity: Entity, collector: IssueCollector,
                  api: ApiSpec) -> Resource | None:
    configure_mappers()
    before = len(collector.issues)
    naive_utc = (spec.naive_datetimes or api.naive_datetimes) == "utc"
    binder = FieldBinder(name, spec, entity, collector, naive_utc=naive_utc)
    nodes = binder.bind_nodes(spec.fields, (), (), entity)
    leaves = {leaf.name: leaf for leaf in flatten(nodes)}
    group_key = _bind_group_key(binder, leaves, nodes)
    primary_key = ([group_key] if group_key is not None
                   else None if spec.group_by is not None  # reported already
                   else _bind_primary_key(binder, leaves))
    filters = _bind_filters(binder, leaves)
    search = _bind_search(binder, leaves)
    sort = _bind_sort(binder, leaves)
    default_sort = _bind_default_sort(binder, sort, primary_key)
    embeds = _bind_embeds(binder)
    rank = _bind_rank(binder, leaves, primary_key)
    facets = bind_facets(spec, leaves, binder.issue, binder.unknown)
    aggregate = bind_aggregate(spec, leaves, filters, binder.issue, binder.unknown)
    rollups = bind_rollups(spec, leaves, binder.issue, binder.unknown)
    if len(collector.issues) > before or primary_key is None:
        return None
    return Resource(
        name=name, spec=spec, entity=entity, nodes=tuple(nodes), leaves=leaves,
        many_fields=tuple(many_fields(nodes)), primary_key=tuple(primary_key),
        filters=filters, search=tuple(search), sort=sort, default_sort=tuple(default_sort),
        page_size=min(spec.page_size or api.page_size, spec.max_page_size or api.max_page_size),
        max_page_size=spec.max_page_size or api.max_page_size, embeds=tuple(embeds), rank=rank,
        facets=facets, aggregate=aggregate, rollups=rollups, naive_utc=naive_utc,
        group_key=group_key,
    )


def _bind_group_key(binder: FieldBinder, leaves: dict[str, Leaf],
                    nodes: list[Node]) -> Leaf | None:
    """The ``group_by:`` field of a grouped resource (its items' key); what else a grouped
    resource may declare is checked on the way (docs/grouped.md)."""
    spec = binder.spec
    if spec.group_by is None:
        return None
    leaf = leaves.get(spec.group_by)
    if leaf is None:
        binder.unknown(("group_by",), spec.group_by, leaves)
        return None
    if leaf.hops or leaf.json_path or leaf.info.kind in {"json", "array", "number"}:
        binder.issue(("group_by",), f"group by a column of the resource's own table (or an "
                                    f"expression over it); {spec.group_by!r} is not one")
        return None
    collected = [node for node in nodes if isinstance(node, Collected)]
    _check_group_sorts(binder, leaves, {node.name for node in collected})
    _check_group_queries(binder, {node.name for node in collected
                                  if isinstance(node.value, ObjectNode)})
    return leaf


def _check_group_sorts(binder: FieldBinder, leaves: dict[str, Leaf],
                       collected: set[str]) -> None:
    # A group sorts by its key, or by its first row's primary key (the lowest: what the
    # item shows), e.g. newest builds first.
    spec, key = binder.spec, binder.entity.primary_key()
    assert spec.group_by is not None
    firsts = {name for name, field in leaves.items()
              if name not in collected and not field.hops and field.expression is None
              and not field.json_path and [field.column_key] == key}
    allowed = ", ".join(map(repr, sorted({spec.group_by, *firsts})))
    for index, name in enumerate(spec.sort):
        if name != spec.group_by and name not in firsts:
            binder.issue(("sort", index), f"a grouped resource sorts by {allowed} only (the "
                                          f"group key, the first row's key), not {name!r}")
    for index, name in enumerate(spec.default_sort):
        if name.lstrip("+-") != spec.group_by and name.lstrip("+-") not in firsts:
            binder.issue(("default_sort", index), f"a grouped resource sorts by {allowed} only")


def _check_group_queries(binder: FieldBinder, objects: set[str]) -> None:
    spec = binder.spec
    for key, names in (("filters", list(spec.filters)), ("search", spec.search.fields)):
        for index, name in enumerate(names):
            if name in objects:
                binder.issue((key, name) if key == "filters" else (key, index),
                             f"{name!r} collects objects: filter and search by a field, "
                             "or by a collected column")
    if spec.search.mode != "substring":
        binder.issue(("search", "mode"), "a grouped resource searches by substring: a "
                                         "relevance ranks rows, not groups")
    for key in ("facets", "aggregate", "rollups"):
        if getattr(spec, key):
            binder.issue((key,), f"a grouped resource has no {key} (they count rows, "
                                 "not groups)")


def _bind_primary_key(binder: FieldBinder, leaves: dict[str, Leaf]) -> list[Leaf] | None:
    spec, entity = binder.spec, binder.entity
    columns = spec.primary_key_columns or entity.primary_key()
    if not columns:
        binder.issue(("primary_key",) if spec.primary_key else ("table",),
                     f"{entity.label} has no primary key; name one with 'primary_key:' "
                     "(a column or a list of columns that identify a row)")
        return None
    exposed = {leaf.column_key: leaf for leaf in leaves.values()
               if not leaf.hops and leaf.column_key is not None}
    result = []
    for column in columns:
        key = entity.column_key(column)
        if key is None:
            binder.issue(("primary_key",), f"{entity.label} has no column {column!r}"
                                           f"{hint(column, entity.column_names())}")
        elif key not in exposed:
            binder.issue(("fields",), f"primary key column {column!r} must be exposed as a field "
                                      "(it identifies rows in URLs and cursors)")
        else:
            result.append(exposed[key])
    return result if len(result) == len(columns) else None


def _bind_filters(binder: FieldBinder, leaves: dict[str, Leaf]) -> dict[str, FilterParam]:
    filters: dict[str, FilterParam] = {}
    for api_name, operators in binder.spec.filters.items():
        leaf = leaves.get(api_name)
        if leaf is None:
            binder.unknown(("filters", api_name), api_name, leaves)
            continue
        for index, operator in enumerate(dict.fromkeys(operators)):
            spec = OPERATORS.get(operator)
            if spec is None:
                binder.issue(("filters", api_name, index),
                             f"unknown operator {operator!r}{hint(operator, list(OPERATORS))}")
                continue
            if leaf.info.kind not in spec.kinds:
                fits = [name for name, op in OPERATORS.items() if leaf.info.kind in op.kinds]
                binder.issue(("filters", api_name, index),
                             f"operator {operator!r} does not apply to {leaf.info.kind} field "
                             f"{api_name!r} (valid: {', '.join(fits)})")
                continue
            name = param_name(api_name, operator)
            filters[name] = FilterParam(name=name, leaf=leaf, operator=spec,
                                        internal=f"f{len(filters)}{spec.suffix}")
    return filters


def _bind_search(binder: FieldBinder, leaves: dict[str, Leaf]) -> list[Leaf]:
    search = binder.spec.search
    # `search: [a, b]` has no 'fields' key in the file; the mapping form has.
    where: tuple[str, ...] = ("search",) if search.mode == "substring" else ("search", "fields")
    result = []
    for index, api_name in enumerate(search.fields):
        leaf = leaves.get(api_name)
        if leaf is None:
            binder.unknown((*where, index), api_name, leaves)
        elif leaf.info.kind != "string":
            binder.issue((*where, index), f"search works on text fields; {api_name!r} is "
                                          f"{leaf.info.kind}")
        elif search.mode != "substring" and (leaf.hops or leaf.expression is not None):
            # An index (GIN expression, FULLTEXT, FTS5) covers columns of one table.
            binder.issue((*where, index), f"{search.mode} search reads columns of the "
                                          f"resource's own table; {api_name!r} is "
                                          f"{'an expression' if leaf.hops == () else 'a path'}")
        else:
            result.append(leaf)
    return result


def _bind_rank(binder: FieldBinder, leaves: dict[str, Leaf],
               primary_key: list[Leaf] | None) -> SortKey | None:
    search = binder.spec.search
    if search.mode == "substring":
        return None
    if SEARCH_RANK in leaves:
        binder.issue(("fields", SEARCH_RANK), f"{SEARCH_RANK!r} is the relevance of a "
                                              f"{search.mode} search; rename this field")
        return None
    if search.fts_table is not None and primary_key is not None and (
            len(primary_key) != 1 or primary_key[0].info.kind != "integer"):
        binder.issue(("search", "fts_table"), "an FTS5 table's rowid is the base table's "
                                              "integer primary key; this resource has none")
        return None
    sql_type = Float()
    info = type_info(sql_type)
    assert info is not None
    return SortKey(leaf=Leaf(api_path=(SEARCH_RANK,), label=SEARCH_RANK, hops=(),
                             column_key=None, expression=None, info=info, sql_type=sql_type,
                             nullable=False, description="Relevance to search"))


def _bind_sort(binder: FieldBinder, leaves: dict[str, Leaf]) -> dict[str, SortKey]:
    sort: dict[str, SortKey] = {}
    for index, api_name in enumerate(binder.spec.sort):
        leaf = leaves.get(api_name)
        if leaf is None:
            binder.unknown(("sort", index), api_name, leaves)
        elif leaf.to_many or leaf.info.kind in {"json", "array"}:
            what = "a to-many list" if leaf.to_many else (
                "a JSON value" if leaf.info.kind == "json" else "an array")
            binder.issue(("sort", index), f"cannot sort by {api_name!r}: {what}")
        else:
            sort[api_name] = SortKey(leaf=leaf)
    return sort


def _bind_default_sort(binder: FieldBinder, sort: dict[str, SortKey],
                       primary_key: list[Leaf] | None) -> list[tuple[SortKey, bool]]:
    allowed = dict(sort)
    for leaf in primary_key or ():
        allowed.setdefault(leaf.name, SortKey(leaf=leaf))
    result = []
    for index, item in enumerate(binder.spec.default_sort):
        descending = item.startswith("-")
        name = item.lstrip("+-")
        if name not in allowed and name in binder.declared and name not in binder.spec.sort:
            binder.issue(("default_sort", index), f"{name!r} is not a sort key; add it to 'sort'")
        elif name not in allowed and name in binder.declared:
            continue
        elif name not in allowed:
            binder.issue(("default_sort", index),
                         f"{name!r} is not a sort key{hint(name, list(allowed))}; add it to 'sort'")
        else:
            result.append((allowed[name], descending))
    return result


def _bind_embeds(binder: FieldBinder) -> list[Node]:
    """The ``embed:`` relations, bound like fields: each must follow a relationship."""
    binder.section = "embed"
    embeds: list[Node] = []
    for api_name, spec in binder.spec.embed.items():
        if api_name in binder.spec.fields:
            binder.issue(("embed", api_name), f"{api_name!r} is already a field; an embedded "
                                              "relation needs a name of its own")
            continue
        if spec.source is None or isinstance(spec.source, ExpressionSource):
            binder.issue(("embed", api_name), "an embed follows a relationship: give 'source:' "
                                              "(e.g. source: group.runs) and 'fields:'")
            continue
        node = binder.bind_node(api_name, spec, (), (), binder.entity)
        if isinstance(node, ManyField) or (isinstance(node, ObjectNode) and any(
                leaf.hops for leaf in flatten(node.children))):
            embeds.append(node)
        elif node is not None:
            binder.issue(("embed", api_name, "source"),
                         "an embed is a relation: a to-many path, or a to-one path with "
                         "'fields:' (a single column belongs in 'fields:')")
    binder.section = "fields"
    return embeds

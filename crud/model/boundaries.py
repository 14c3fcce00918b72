"""Auth boundaries: no path of one resource reads a table another resource protects.

``auth:`` guards a resource's routes, but a relation reads tables too: an embed, a to-many
list, a field through a relationship, a derived join or an expression. Where such a path
reaches the table of a resource that needs credentials the reading resource does not ask
for, anyone could read the protected rows through it; the registry is refused at startup,
one located line per path (``crud check`` prints the same lines).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

from crud.config.registry import ApiSpec, AuthKind
from crud.model.dependencies import node_tables
from crud.model.fields import Node
from crud.model.resource import Resource

__all__ = ["auth_crossings"]

Report = Callable[[tuple[str | int, ...], str], None]


def auth_crossings(resources: Sequence[Resource], api: ApiSpec, report: Report) -> None:
    """Report every path of ``resources`` that reads a table guarded by other credentials."""
    guarded: dict[str, list[tuple[str, AuthKind]]] = {}
    for resource in resources:
        kind = _kind(resource, api)
        if kind != "none":
            guarded.setdefault(resource.entity.table.fullname, []).append((resource.name, kind))
    if not guarded:
        return
    for resource in resources:
        kind = _kind(resource, api)
        own = resource.entity.table.fullname
        for section, node in _paths(resource):
            for table in sorted(_tables(node) - {own}):
                for owner, needed in guarded.get(table, ()):
                    if needed != kind:
                        report(("resources", resource.name, section, node.api_path[0]),
                               _message(resource.name, kind, node, table, owner, needed))


def _kind(resource: Resource, api: ApiSpec) -> AuthKind:
    return resource.spec.auth if resource.spec.auth is not None else api.auth


def _message(name: str, kind: AuthKind, node: Node, table: str, owner: str,
             needed: AuthKind) -> str:
    return (f"{node.name!r} reads table {table!r}, which {owner!r} protects with auth: "
            f"{needed}, while {name!r} is auth: {kind}: its clients would read it without "
            f"those credentials (give {name!r} auth: {needed}, or leave this path out)")


def _paths(resource: Resource) -> Iterator[tuple[str, Node]]:
    for node in resource.nodes:
        yield "fields", node
    for node in resource.embeds:
        yield "embed", node


def _tables(node: Node) -> set[str]:
    """The tables ``node`` reads besides through its own row: every step and expression."""
    return {table.fullname for table in node_tables([node])}

"""``crud init``: a commented starter registry written from a live database.

Every table and view of one schema becomes a resource: each column a field (API names in
snake_case), filters on the columns that lead an index, sort on the key and those columns.
Columns the API cannot or should not send are left out with a comment that says why:
binary and untyped columns, and names that look like secrets (password, token, key, ...).
A view or key-less table gets the columns of a unique index over non-null columns as its
key; without one it is written commented out, asking for ``primary_key:``.

The text is then bound against the same reflection, exactly as ``crud check`` binds it. A
resource that does not bind is retried without filters and sort, then commented out with
the problem, so what is written is always a registry that ``crud check`` accepts and
``crud serve`` serves.
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import Column, Table, UniqueConstraint, inspect
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.types import NullType

# The same binding `crud check` and `crud serve` do (extensions and profiles included).
from crud.app import bind
from crud.config.registry import RegistryError, parse_registry
from crud.http.profiles import RESERVED_NAMES
from crud.model.coltypes import type_info, unsupported_reason
from crud.model.sources import Entity, ReflectedDatabase
from crud.sql.database import make_engine, reflect_database

__all__ = ["SECRET_WORDS", "Draft", "StarterError", "draft_resources", "render", "write_starter"]

# Whole words of a column name (split at '_', spaces and case changes) that mark a secret.
SECRET_WORDS = frozenset({"password", "passwd", "pwd", "secret", "secrets", "token", "tokens",
                          "key", "keys", "apikey", "hash", "hashed", "salt", "credential",
                          "credentials"})
# Operators a starter filter gets, by the kind of the column (crud.model.operators).
_OPERATORS = {"integer": ["eq", "in", "gte", "lte"], "number": ["eq", "in", "gte", "lte"],
              "string": ["eq", "in"], "enum": ["eq", "in"], "uuid": ["eq", "in"],
              "boolean": ["eq"], "date": ["gte", "lt"], "datetime": ["gte", "lt"],
              "time": ["gte", "lt"]}
_WORD = re.compile(r"[0-9]*[A-Z]+[0-9]*(?![a-z])|[0-9]*[A-Z]?[a-z]+[0-9]*|[0-9]+")


class StarterError(Exception):
    """``crud init`` cannot write the file; the message says what to do."""


@dataclass(frozen=True)
class Field:
    api: str
    column: str
    kind: str | None = None
    nullable: bool = True
    left_out: str | None = None  # why the column is not exposed


@dataclass(frozen=True)
class Draft:
    """One resource to write: what reflection showed, and what is left for the reader."""

    name: str
    table: str
    what: str  # "table" or "view"
    fields: tuple[Field, ...]
    primary_key: tuple[str, ...] | None  # columns to declare; None: the table's own key
    key_columns: tuple[str, ...]
    filters: dict[str, list[str]] = field(default_factory=dict)
    sort: tuple[str, ...] = ()
    links: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()  # comment lines above the entry
    disabled: str | None = None  # why the entry is written commented out


# -- reflection -> drafts --------------------------------------------------------------------


def draft_resources(database: ReflectedDatabase, schema: str | None) -> list[Draft]:
    """One draft per table and view of ``schema``, in name order."""
    names: set[str] = set()
    drafts = []
    for table_name in sorted(database.table_names(schema), key=str.lower):
        entity = database.entity(table_name, schema)
        name = _unique(_resource_name(table_name), names)
        drafts.append(_draft(name, entity, entity.table.key in database.views))
    return drafts


def _draft(name: str, entity: Entity, is_view: bool) -> Draft:
    table = entity.table
    fields = _fields(table)
    exposed = {item.column: item for item in fields if item.left_out is None}
    declared, key = _key(table, exposed)
    leading = _leading_columns(table) | set(key[:1])
    draft = Draft(name=name, table=table.name, what="view" if is_view else "table",
                  fields=tuple(fields), primary_key=declared, key_columns=key,
                  filters=_filters(exposed, leading), sort=_sort(exposed, key, leading),
                  links=tuple(_links(entity)))
    return replace(draft, disabled=_why_disabled(draft, exposed, is_view))


def _fields(table: Table) -> list[Field]:
    names: set[str] = set()
    return [_field(column, _unique(api_name(column.name), names)) for column in table.columns]


def _field(column: Column[Any], api: str) -> Field:
    info = type_info(column.type)
    if "." in column.name:
        return Field(api, column.name, left_out="its name has a '.', which the registry reads "
                                                "as a path; expose it through a view")
    if info is None:
        return Field(api, column.name, left_out=_unsupported(column))
    if looks_secret(column.name):
        return Field(api, column.name, info.kind, left_out="looks like a secret; uncomment "
                                                           "only if it is not one")
    return Field(api, column.name, info.kind, nullable=bool(column.nullable))


def _unsupported(column: Column[Any]) -> str:
    if isinstance(column.type, NullType):
        return ("the database reports no type; declare one with type: (string, integer, "
                "number, boolean, date, datetime)")
    if getattr(column.type, "__visit_name__", "") == "YEAR":  # MySQL's: the driver gives an int
        return "a YEAR; serve it with 'type: integer' (the driver reads it as a whole number)"
    return "it " + unsupported_reason(column.type).split(";")[0]  # "it is binary, which ..."


def _key(table: Table, exposed: dict[str, Field]) -> tuple[tuple[str, ...] | None, tuple[str, ...]]:
    """Columns to declare as ``primary_key:`` (None: the table's own) and the key itself."""
    own = tuple(column.name for column in table.primary_key.columns)
    if own:
        return None, own
    for columns in _unique_column_sets(table):
        if all(name in exposed and not table.c[name].nullable for name in columns):
            return columns, columns
    return None, ()


def _unique_column_sets(table: Table) -> Iterator[tuple[str, ...]]:
    for index in sorted(table.indexes, key=lambda index: str(index.name)):
        if index.unique and index.columns:
            yield tuple(column.name for column in index.columns)
    for constraint in table.constraints:
        if isinstance(constraint, UniqueConstraint) and constraint.columns:
            yield tuple(column.name for column in constraint.columns)


def _leading_columns(table: Table) -> set[str]:
    leading = {next(iter(index.columns)).name for index in table.indexes if index.columns}
    leading |= {next(iter(constraint.columns)).name for constraint in table.constraints
                if isinstance(constraint, UniqueConstraint) and constraint.columns}
    return leading


def _filters(exposed: dict[str, Field], leading: set[str]) -> dict[str, list[str]]:
    filters = {}
    for column, item in exposed.items():
        if column not in leading or item.kind not in _OPERATORS:
            continue
        operators = [*_OPERATORS[item.kind], *(["isnull"] if item.nullable else [])]
        if item.api in RESERVED_NAMES:  # ?size= is the page size, not this column
            operators = [operator for operator in operators if operator != "eq"]
        filters[item.api] = operators
    return filters


def _sort(exposed: dict[str, Field], key: tuple[str, ...], leading: set[str]) -> tuple[str, ...]:
    wanted = set(key) | leading
    return tuple(item.api for column, item in exposed.items()
                 if column in wanted and item.kind in _OPERATORS)


def _links(entity: Entity) -> Iterator[str]:
    mapper = entity.mapper
    if mapper is None:
        return
    # Sorted: automap's order varies between runs, and the output should not.
    for name, relationship in sorted(mapper.relationships.items()):
        target = relationship.mapper.local_table
        label = getattr(target, "name", "?")
        yield f"{name}.<column> ({label}{', a list' if relationship.uselist else ''})"


def _why_disabled(draft: Draft, exposed: dict[str, Field], is_view: bool) -> str | None:
    if not draft.key_columns:
        what = "a view has" if is_view else "the table has"
        return (f"{what} no primary key and no unique index over non-null columns: set "
                "primary_key: to the column(s) that identify a row (a guess is filled in), "
                "then uncomment")
    hidden = [column for column in draft.key_columns if column not in exposed]
    if hidden:
        return (f"its key column(s) {', '.join(hidden)} cannot be exposed (see below), and a "
                "resource is addressed by its key")
    return None


# -- names -------------------------------------------------------------------------------


def words(name: str) -> list[str]:
    """``"PasswordHash"``, ``"password_hash"``, ``"Password Hash"`` -> ``["password", "hash"]``."""
    return [word.lower() for word in _WORD.findall(name)]


def looks_secret(column: str) -> bool:
    return any(word in SECRET_WORDS for word in words(column))


def api_name(column: str) -> str:
    name = "_".join(words(column)) or "column"
    return f"c_{name}" if name[0].isdigit() else name


def _resource_name(table: str) -> str:
    return "-".join(words(table)) or "table"


def _unique(name: str, taken: set[str]) -> str:
    candidate, number = name, 2
    while candidate in taken:
        candidate, number = f"{name}_{number}", number + 1
    taken.add(candidate)
    return candidate


# -- drafts -> text ------------------------------------------------------------------------


def render(drafts: list[Draft], *, source: str, title: str, schema: str | None) -> str:
    lines = [
        f"# A starter registry written by `crud init` from {source}.",
        "# Every table and view is listed; review before serving: remove what must stay",
        "# private, add descriptions, search: fields and dotted paths through the links",
        "# listed above each resource. `crud check --database-url URL` validates this file.",
        "api:",
        "  prefix: /api/v1",
        f"  title: {_scalar(title)}",
        "  # Date-times without a zone: UTC wall time, or `as_stored` when the database",
        "  # holds local times (sent without an offset, never relabelled): docs/datetimes.md",
        "  naive_datetimes: utc",
    ]
    if not drafts:
        return "\n".join([*lines, "resources: {}  # the database has no tables or views", ""])
    lines.append("resources:")
    for draft in drafts:
        lines.extend(_render_draft(draft, schema))
    return "\n".join(lines) + "\n"


def _render_draft(draft: Draft, schema: str | None) -> list[str]:
    key = ", ".join(draft.key_columns) or "none"
    head = [f"{draft.what} {draft.table!r}, key: {key}"]
    if draft.links:
        head.append("links: " + ", ".join(draft.links))
    comments = [*head, *draft.notes]
    if draft.disabled:
        comments.append(f"commented out: {draft.disabled}")
    out = [""]
    for comment in comments:
        out.extend(textwrap.wrap(comment, 94, initial_indent="  # ",
                                 subsequent_indent="  #   ", break_on_hyphens=False))
    body = _entry(draft, schema)
    return out + ([f"  # {line[2:]}" for line in body] if draft.disabled else body)


def _entry(draft: Draft, schema: str | None) -> list[str]:
    lines = [f"  {draft.name}:", f"    table: {_scalar(draft.table)}"]
    if schema is not None:
        lines.append(f"    schema: {_scalar(schema)}")
    if draft.primary_key is not None:
        lines.append(f"    primary_key: {_flow(draft.primary_key)}")
    elif not draft.key_columns:
        guess = next((item.column for item in draft.fields if item.left_out is None), "?")
        lines.append(f"    primary_key: {_scalar(guess)}  # a guess: check it")
    lines.append("    fields:")
    lines.extend(_field_line(item) for item in draft.fields)
    if draft.filters:
        lines.append("    filters:")
        lines.extend(f"      {_scalar(api)}: {_flow(ops)}" for api, ops in draft.filters.items())
    if draft.sort:
        lines.append(f"    sort: {_flow(draft.sort)}")
    return lines


def _field_line(item: Field) -> str:
    entry = f"{_scalar(item.api)}:" + ("" if item.api == item.column else
                                       f" {_scalar(item.column)}")
    if item.left_out is not None:
        return f"      # {entry}  # left out: {item.left_out}"
    if item.kind == "json":
        return f"      {entry}  # JSON: add json_schema: to type it for clients"
    return f"      {entry}"


def _scalar(value: str) -> str:
    # yaml quotes what would not read back as the same string ('on', 'null', '#x').
    # str(): reflected names are quoted_name, a str subclass the safe dumper refuses.
    return yaml.safe_dump(str(value), width=2**31).removesuffix("\n").removesuffix("\n...")


def _flow(values: Any) -> str:
    return "[" + ", ".join(_scalar(str(value)) for value in values) + "]"


# -- checking and writing ----------------------------------------------------------------


def checked(drafts: list[Draft], database: ReflectedDatabase, *, source: str, title: str,
            schema: str | None, path: str) -> list[Draft]:
    """``drafts`` adjusted until the rendered registry binds: a failing resource loses its
    filters and sort, then is commented out, with the problems as notes."""
    names = {draft.name for draft in drafts}
    for _ in range(3):  # full, without filters and sort, commented out
        problems = _problems(render(drafts, source=source, title=title, schema=schema),
                             database, path)
        if not problems:
            return drafts
        if not set(problems) <= names:  # not about one resource: nothing to leave out
            raise StarterError("the starter registry does not bind: "
                               + "; ".join(message for found in problems.values()
                                           for message in found))
        drafts = [_demote(draft, problems[draft.name]) if draft.name in problems else draft
                  for draft in drafts]
    raise StarterError("the starter registry does not bind even with the failing "
                       "resources commented out")


def _problems(text: str, database: ReflectedDatabase, path: str) -> dict[str, list[str]]:
    registry, located = parse_registry(text, path)
    try:
        bind(registry, located, path, database)
    except RegistryError as error:
        found: dict[str, list[str]] = {}
        for issue in error.issues:
            name = issue.key.split(".")[1] if issue.key.startswith("resources.") else ""
            found.setdefault(name, []).append(f"{issue.key}: {issue.message}")
        return found
    return {}


def _demote(draft: Draft, problems: list[str]) -> Draft:
    notes = (*draft.notes, *(f"crud check said: {problem}" for problem in problems))
    if draft.filters or draft.sort:
        return replace(draft, filters={}, sort=(), notes=(*notes, "filters and sort dropped"))
    return replace(draft, notes=notes, disabled="it does not bind (above)")


async def write_starter(url: str, output: Path, *, force: bool = False,
                        schema: str | None = None) -> list[Draft]:
    """Reflect ``url`` and write the starter registry to ``output``; the drafts written."""
    if output.exists() and not force:
        raise StarterError(f"{output} exists; pass --force to overwrite it, or -o another file")
    _refuse_missing_sqlite_file(url)
    engine = make_engine(url)
    try:
        async with engine.connect() as connection:
            database, drafts = await connection.run_sync(_reflect, schema)
    except (DBAPIError, OSError) as error:
        reason = str(getattr(error, "orig", None) or error).splitlines()[0]
        raise StarterError(f"cannot reflect {_safe(url)}: {reason} (check --database-url "
                           "or DATABASE_URL)") from None
    finally:
        await engine.dispose()
    source, title = _safe(url), f"{_database_name(url)} API"
    drafts = checked(drafts, database, source=source, title=title, schema=schema,
                     path=str(output))
    output.write_text(render(drafts, source=source, title=title, schema=schema),
                      encoding="utf-8")
    return drafts


def _reflect(connection: Connection, schema: str | None) -> tuple[ReflectedDatabase, list[Draft]]:
    if schema is not None and schema not in inspect(connection).get_schema_names():
        raise StarterError(f"no schema {schema!r} in the database")
    database = reflect_database(connection, [schema])
    return database, draft_resources(database, schema)


def _refuse_missing_sqlite_file(url: str) -> None:
    # SQLite would create an empty file and the starter would list nothing.
    parsed = make_url(url)
    file = parsed.database if parsed.get_backend_name() == "sqlite" else None
    if file not in (None, "", ":memory:") and not Path(str(file)).exists():
        raise StarterError(f"no SQLite database at {file} (check --database-url)")


def _safe(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)


def _database_name(url: str) -> str:
    database = make_url(url).database or "database"
    return Path(database).stem if make_url(url).get_backend_name() == "sqlite" else database

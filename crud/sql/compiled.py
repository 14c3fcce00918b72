"""Statements compiled once per shape: SQL text, positional binding and row decoding.

A list request's SQL depends on its *shape* (which filters, which sort, cursor or offset,
which count) and not on its values. Each shape is built and compiled by SQLAlchemy once,
into the backend's SQL text and paramstyle; a request then only orders its values into the
positional arguments and hands the text to the driver, which keeps it prepared. That skips,
per request, what otherwise costs more than the database does for a small page: building
the SELECT, walking it for its cache key, SQLAlchemy's execution context and result
wrapping (bench/RESULTS.md). The type conversions SQLAlchemy would apply are kept: each
parameter's bind processor and each column's result processor come from the same types,
through ``TypeEngine.dialect_impl()``, once per statement.
"""

from __future__ import annotations

import enum
from collections import OrderedDict
from collections.abc import Callable, Hashable, Mapping, Sequence
from typing import Any

from sqlalchemy import Enum, cast, literal_column
from sqlalchemy.engine import BindTyping, Dialect
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import BindParameter, ClauseElement
from sqlalchemy.sql.visitors import ExternallyTraversible, replacement_traverse

from crud.model.coltypes import padded, unpad

__all__ = ["CompiledStatement", "StatementCache", "inline_constants", "passes_through"]

Processor = Callable[[Any], Any]


class CompiledStatement:
    """One SELECT compiled for one dialect, with what binding and decoding need."""

    def __init__(self, statement: ClauseElement, dialect: Dialect) -> None:
        compiled = inline_constants(statement, dialect).compile(dialect=dialect)
        assert isinstance(compiled, SQLCompiler)
        self.sql = compiled.string
        # positiontup and binds are the compiler's record of the positional order and of
        # each parameter's BindParameter: what SQLAlchemy's own execution context reads.
        names: list[str] = list(compiled.positiontup or ())
        binds = compiled.binds
        defaults = compiled.params
        self.arguments_template: list[Any] = []
        # (position, name, bind processor) of the values each request supplies.
        self.slots: list[tuple[int, str, Processor | None]] = []
        for position, name in enumerate(names):
            bind = binds[name]
            processor = bind.type.dialect_impl(dialect).bind_processor(dialect)
            if bind.required:
                self.slots.append((position, name, processor))
                self.arguments_template.append(None)
            else:  # a constant of the statement (an expression field's literal, a cap)
                value = defaults[name]
                self.arguments_template.append(processor(value) if processor else value)
        self.column_types = [column.type for column in getattr(statement, "selected_columns", ())]
        self.dialect = dialect
        self._decoders: list[tuple[int, Processor]] | None = None

    def __repr__(self) -> str:
        return f"CompiledStatement({self.sql[:60]!r}..., {len(self.slots)} parameters)"

    def arguments(self, values: Mapping[str, Any]) -> list[Any]:
        """The positional arguments for ``values`` (a value per required parameter name)."""
        arguments = list(self.arguments_template)
        for position, name, processor in self.slots:
            value = values[name]
            arguments[position] = processor(value) if processor is not None else value
        return arguments

    def decode(self, rows: Sequence[Sequence[Any]],
               type_codes: Sequence[Any] | None) -> Sequence[Sequence[Any]]:
        """Rows with each column's result processor applied (the driver's values otherwise)."""
        if self._decoders is None:
            self._decoders = self._result_decoders(type_codes)
        if not self._decoders or not rows:
            return rows
        decoded = []
        for row in rows:
            values = list(row)
            for position, decoder in self._decoders:
                value = values[position]
                if value is not None:
                    values[position] = decoder(value)
            decoded.append(values)
        return decoded

    def _result_decoders(self, type_codes: Sequence[Any] | None) -> list[tuple[int, Processor]]:
        decoders: list[tuple[int, Processor]] = []
        for position, type_ in enumerate(self.column_types):
            if passes_through(type_):
                continue
            if padded(type_):  # no driver of ours converts a CHAR's text
                decoders.append((position, unpad))
                continue
            code = type_codes[position] if type_codes is not None else None
            decoder = type_.dialect_impl(self.dialect).result_processor(self.dialect, code)
            if decoder is not None:
                decoders.append((position, decoder))
        return decoders


def inline_constants(statement: ClauseElement, dialect: Dialect) -> Any:
    """``statement`` (or any expression) with its constants written as SQL literals.

    A statement's own constants (an expression field's enum literal, a count's cap, a date
    format) are part of its text: fewer parameters to encode per request, the planner sees
    them as the constants they are, and an index on an expression matches the query's."""
    def inline(element: Any, **_kw: Any) -> Any:  # named as the traversal calls it
        return _literal(element, dialect)

    source: ExternallyTraversible = statement
    return replacement_traverse(source, {}, inline)


def _literal(element: Any, dialect: Dialect) -> ExternallyTraversible | None:
    """A constant bound parameter as the SQL literal its type writes; None: keep it."""
    if not isinstance(element, BindParameter) or element.required or element.expanding:
        return None
    value = element.effective_value
    write = element.type.dialect_impl(dialect).literal_processor(dialect)
    if write is None or value is None:
        return None
    written = literal_column(write(value), type_=element.type)
    # Where parameters carry casts (PostgreSQL: $1::project_event_type) the literal keeps
    # its type too: an untyped literal in a UNION's column would become text.
    if dialect.bind_typing is BindTyping.RENDER_CASTS:
        return cast(written, element.type)
    return written


def passes_through(type_: Any) -> bool:
    """Whether the driver's value of ``type_`` is already what the client is sent."""
    # An enum whose stored names are its values serialises the same as its member would:
    # the label the driver returns is already what the client sees.
    # MySQL's SET: the driver's text ('b,a', members in declaration order) is served as is;
    # SQLAlchemy's processor would make a Python set, which JSON cannot carry.
    if getattr(type_, "retrieve_as_bitwise", None) is False:
        return True
    if not isinstance(type_, Enum):
        return False
    members = type_.enum_class
    if members is None or not issubclass(members, enum.Enum):
        return True
    return all(member.name == str(member.value) for member in members)


class StatementCache:
    """Compiled statements by shape, least recently used out past ``capacity``."""

    def __init__(self, dialect: Dialect, *, capacity: int = 512) -> None:
        # Shapes are bounded by the registry (filters x operators x sort keys) but not small.
        self.dialect = dialect
        self.capacity = capacity
        self.entries: OrderedDict[Hashable, CompiledStatement] = OrderedDict()

    def __repr__(self) -> str:
        return f"StatementCache({len(self.entries)}/{self.capacity})"

    def get(self, shape: Hashable, build: Callable[[], ClauseElement]) -> CompiledStatement:
        found = self.entries.get(shape)
        if found is not None:
            self.entries.move_to_end(shape)
            return found
        compiled = CompiledStatement(build(), self.dialect)
        self.entries[shape] = compiled
        if len(self.entries) > self.capacity:
            self.entries.popitem(last=False)
        return compiled

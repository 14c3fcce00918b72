"""Boolean groups, as written: ``or=(status=failure,chroot__like=rawhide)`` to a syntax tree.

The grammar (positions are 0-based offsets into the parameter's decoded value)::

    group  := "(" term ("," term)* ")"
    term   := ("and" | "or") "=" group      a nested group
            | NAME "=" value                a filter, exactly as its own parameter
    value  := '"' (any character; \\" and \\\\ escaped) '"'
            | any characters but , ( ) "

The parser knows nothing of the resource: names and values are checked by the step that
uses the tree (``crud.http.steps.groups``), with the filters' own validation. Depth and
term count are capped here, before anything else is looked at.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ["GROUP_KINDS", "GroupSyntax", "GroupSyntaxError", "TermSyntax", "group_pattern",
           "parse_group"]

GroupKind = Literal["and", "or"]
GROUP_KINDS: tuple[GroupKind, ...] = ("or", "and")
_SPECIAL = frozenset(',()"')


class GroupSyntaxError(ValueError):
    """A group that does not parse (or is over a cap), with the offset of the problem."""

    def __init__(self, message: str, position: int) -> None:
        super().__init__(message)
        self.message = message
        self.position = position


@dataclass(frozen=True)
class TermSyntax:
    """``name=value`` inside a group; ``position`` is where ``name`` starts."""

    name: str
    value: str
    position: int

    @property
    def text(self) -> str:
        return f"{self.name}={self.value}"


@dataclass(frozen=True)
class GroupSyntax:
    kind: GroupKind
    terms: tuple[TermSyntax | GroupSyntax, ...]
    position: int  # of its opening parenthesis


def parse_group(kind: GroupKind, text: str, *, max_depth: int, max_terms: int,
                used: int = 0) -> tuple[GroupSyntax, int]:
    """The group written as ``text`` (the ``kind`` parameter's value), and the terms used
    so far in the request: ``used`` (by its earlier groups) plus this group's."""
    parser = _Parser(text, max_depth, max_terms, used)
    group = parser.group(kind, depth=1)
    if parser.at < len(text):
        raise GroupSyntaxError("unexpected text after the closing ')'", parser.at)
    return group, parser.terms


def group_pattern(max_depth: int) -> str:
    """The grammar above as a regular expression, nesting up to ``max_depth``: what the
    OpenAPI document says a group looks like is exactly what the parser takes (names and
    values are then checked as the filters' own parameters are)."""
    name = r'[^,()"=]+'
    value = r'(?:"(?:[^"\\]|\\[\s\S])*"|[^,()"]*)'
    group = ""
    for _ in range(max_depth):  # innermost first
        nested = f"|(?:and|or)={group}" if group else ""
        term = f"(?:{name}={value}{nested})"
        group = rf"\({term}(?:,{term})*\)"
    return f"^{group}$"


class _Parser:
    """Recursive descent over one parameter value; ``at`` is the next character."""

    def __init__(self, text: str, max_depth: int, max_terms: int, used: int) -> None:
        self.text = text
        self.at = 0
        self.max_depth = max_depth
        self.max_terms = max_terms
        self.terms = used

    def peek(self) -> str:
        return self.text[self.at] if self.at < len(self.text) else ""

    def expect(self, char: str, what: str) -> None:
        if self.peek() != char:
            found = f"{self.peek()!r}" if self.peek() else "the end"
            raise GroupSyntaxError(f"expected {what}, found {found}", self.at)
        self.at += 1

    def group(self, kind: GroupKind, depth: int) -> GroupSyntax:
        start = self.at
        if depth > self.max_depth:
            raise GroupSyntaxError(f"groups nest at most {self.max_depth} deep", start)
        self.expect("(", "'(' opening the group")
        if self.peek() == ")":
            raise GroupSyntaxError("an empty group; write at least one term", self.at)
        terms = [self.term(depth)]
        while self.peek() == ",":
            self.at += 1
            terms.append(self.term(depth))
        if self.peek() == "":
            raise GroupSyntaxError(f"unbalanced parentheses: the '(' at position {start} is never "
                                   "closed", self.at)
        self.expect(")", "',' or ')' after a term")
        return GroupSyntax(kind, tuple(terms), start)

    def term(self, depth: int) -> TermSyntax | GroupSyntax:
        start = self.at
        name = self.name()
        self.expect("=", f"'=' after {name!r}" if name else "a filter name")
        if name in GROUP_KINDS and self.peek() == "(":
            return self.group(name, depth + 1)
        self.terms += 1
        if self.terms > self.max_terms:
            raise GroupSyntaxError(f"more than {self.max_terms} terms in the groups of one "
                                   "request", start)
        return TermSyntax(name, self.value(), start)

    def name(self) -> str:
        start = self.at
        while self.peek() and self.peek() not in _SPECIAL and self.peek() != "=":
            self.at += 1
        return self.text[start:self.at]

    def value(self) -> str:
        if self.peek() == '"':
            return self.quoted()
        start = self.at
        while self.peek() and self.peek() not in _SPECIAL:
            self.at += 1
        if self.peek() in {"(", '"'}:
            raise GroupSyntaxError(f"{self.peek()!r} inside a value; write values holding "
                                   ', ( ) or " in double quotes', self.at)
        return self.text[start:self.at]

    def quoted(self) -> str:
        start = self.at
        self.at += 1
        chars: list[str] = []
        while True:
            char = self.peek()
            if char == "":
                raise GroupSyntaxError("a quoted value is never closed", start)
            self.at += 1
            if char == '"':
                return "".join(chars)
            if char == "\\" and self.peek() in {'"', "\\"}:
                char = self.peek()
                self.at += 1
            chars.append(char)

"""Read YAML into plain data while remembering the line of every key.

Registry errors point at ``registry.yaml:LINE``; PyYAML knows the lines while composing,
so we build the data from its node tree ourselves and keep a map of key path -> line.
Duplicate keys, which PyYAML silently lets the last one win, are an error here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

__all__ = ["LocatedData", "YamlProblem", "load_yaml", "parse_yaml"]

Location = tuple[str | int, ...]


@dataclass(frozen=True)
class YamlProblem:
    line: int
    message: str


@dataclass
class LocatedData:
    """Plain YAML data plus the 1-based line of each mapping key and sequence item."""

    data: Any
    lines: dict[Location, int] = field(default_factory=dict)
    problems: list[YamlProblem] = field(default_factory=list)

    def line_of(self, location: Location) -> int | None:
        """The line of the deepest known prefix of ``location``."""
        for end in range(len(location), -1, -1):
            line = self.lines.get(tuple(location[:end]))
            if line is not None:
                return line
        return None


def load_yaml(path: Path) -> LocatedData:
    return parse_yaml(path.read_text(encoding="utf-8"))


def parse_yaml(text: str) -> LocatedData:
    node = yaml.compose(text, Loader=yaml.SafeLoader)
    located = LocatedData(data=None)
    if node is not None:
        located.lines[()] = node.start_mark.line + 1
        located.data = _build(node, (), located)
    return located


def _build(node: yaml.Node, location: Location, located: LocatedData) -> Any:
    if isinstance(node, yaml.MappingNode):
        return _build_mapping(node, location, located)
    if isinstance(node, yaml.SequenceNode):
        items = []
        for index, child in enumerate(node.value):
            located.lines[(*location, index)] = child.start_mark.line + 1
            items.append(_build(child, (*location, index), located))
        return items
    # Scalars: the resolver already tagged them (int, bool, null...); construct by tag.
    return yaml.constructor.SafeConstructor().construct_object(node)


def _key(node: yaml.Node, location: Location, located: LocatedData) -> Any:
    # YAML 1.1 reads the plain words on/off/yes/no as booleans. As keys they are names (a
    # join's ``on:``), the way YAML 1.2 and GitHub Actions read them; values keep 1.1 rules.
    if (isinstance(node, yaml.ScalarNode) and node.tag == _BOOL_TAG and node.style is None
            and node.value.lower() not in {"true", "false"}):
        return node.value
    return _build(node, location, located)


_BOOL_TAG = "tag:yaml.org,2002:bool"


def _build_mapping(node: yaml.MappingNode, location: Location, located: LocatedData) -> Any:
    result: dict[Any, Any] = {}
    for key_node, value_node in node.value:
        key = _key(key_node, location, located)
        line = key_node.start_mark.line + 1
        if not isinstance(key, str | int) or isinstance(key, bool):
            located.problems.append(YamlProblem(line, "mapping keys must be plain scalars"))
            continue
        if key in result:
            first = located.lines[(*location, key)]
            located.problems.append(
                YamlProblem(line, f"duplicate key {key!r} (first defined on line {first})")
            )
            continue
        located.lines[(*location, key)] = line
        result[key] = _build(value_node, (*location, key), located)
    return result

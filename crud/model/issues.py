"""Registry problems found while binding: collected with their file line, and hinted."""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import dataclass, field

from crud.config.registry import RegistryIssue
from crud.config.yamlfile import LocatedData

__all__ = ["IssueCollector", "hint"]


def hint(name: str, choices: Sequence[str]) -> str:
    close = difflib.get_close_matches(name, list(choices), n=1)
    if close:
        return f" (did you mean {close[0]!r}?)"
    if choices:
        return f" (valid: {', '.join(sorted(choices))})"
    return ""


@dataclass
class IssueCollector:
    path: str
    located: LocatedData
    issues: list[RegistryIssue] = field(default_factory=list)

    def add(self, location: tuple[str | int, ...], message: str) -> None:
        self.issues.append(RegistryIssue(
            path=self.path,
            line=self.located.line_of(location),
            key=".".join(str(part) for part in location),
            message=message,
        ))

"""Routes by path: a resource's list or detail at a path template (``routes:``).

``/projects/{forge}/{namespace:path}/{repo}`` is literal segments and parameters; a
parameter binds to the resource's field of its name (or the one ``bind:`` names) and a
``:path`` parameter takes several segments. The template is parsed here, once, at load;
``crud.http.pathroutes`` binds it to fields, checks it against every other route and
serves it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

__all__ = ["RouteSpec", "Segment", "parse_template"]

_LITERAL = re.compile(r"^[A-Za-z0-9._~-]+$")
_PARAMETER = re.compile(r"^\{([A-Za-z_][A-Za-z0-9_]*)(:path)?\}$")


@dataclass(frozen=True)
class Segment:
    """One segment of a template: a literal, or a parameter (``greedy``: ``{name:path}``)."""

    literal: str | None = None
    parameter: str | None = None
    greedy: bool = False

    @property
    def text(self) -> str:
        if self.literal is not None:
            return self.literal
        return f"{{{self.parameter}{':path' if self.greedy else ''}}}"


def parse_template(path: str) -> tuple[Segment, ...]:
    """The segments of ``path``; ``ValueError`` saying what is wrong and how to write it."""
    if not path.startswith("/") or path.endswith("/") or "//" in path:
        raise ValueError(f"{path!r}: a path starts with '/', has no empty segment and does "
                         "not end with '/', e.g. /projects/{forge}")
    segments = []
    for text in path[1:].split("/"):
        found = _PARAMETER.match(text)
        if found is not None:
            segments.append(Segment(parameter=found.group(1), greedy=bool(found.group(2))))
        elif _LITERAL.match(text):
            segments.append(Segment(literal=text))
        else:
            raise ValueError(f"{path!r}: segment {text!r} is neither a literal (letters, "
                             "digits, . _ ~ -) nor a parameter ({name} or {name:path})")
    if segments[0].literal is None:
        raise ValueError(f"{path!r}: the first segment must be a literal (the resource's "
                         "place under the API prefix)")
    names = [segment.parameter for segment in segments if segment.parameter is not None]
    if len(set(names)) != len(names):
        raise ValueError(f"{path!r}: a parameter appears twice")
    if sum(segment.greedy for segment in segments) > 1:
        raise ValueError(f"{path!r}: at most one {{name:path}} parameter per path")
    return tuple(segments)


class RouteSpec(BaseModel):
    """``{path: /testing-farm/{id}, kind: detail, bind: {id: packit_id}}``; ``where:``
    fixes fields (``{job_type: propose_downstream}``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    path: str = Field(description="under the API prefix; {field} and {field:path} parameters")
    kind: Literal["list", "detail"]
    # Path parameter -> the field it selects by, where the names differ ({id} -> packit_id).
    bind: dict[str, str] = Field(default_factory=dict)
    # Field -> value: rows this route serves whatever the path (one job type of a shared
    # table, as an old API's /propose-downstream); equality filters like the parameters'.
    where: dict[str, str | bool | int | float] = Field(default_factory=dict)

    @field_validator("path")
    @classmethod
    def _template(cls, value: str) -> str:
        parse_template(value)
        return value

    @model_validator(mode="after")
    def _bound_parameters(self) -> RouteSpec:
        names = {segment.parameter for segment in self.segments}
        unknown = sorted(set(self.bind) - names)
        if unknown:
            raise ValueError(f"bind: {', '.join(unknown)} is not a parameter of {self.path!r}")
        return self

    @property
    def segments(self) -> tuple[Segment, ...]:
        return parse_template(self.path)

    def field_of(self, parameter: str) -> str:
        """The field a parameter binds to: its ``bind:`` entry, else its own name."""
        return self.bind.get(parameter, parameter)

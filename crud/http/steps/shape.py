"""Shapes: ``fields=a,b,c.d`` picks declared fields, ``embed=runs`` adds declared relations.

Read by lists and details alike. Unknown names are 400s naming the parameter, with the
closest declared name; the shape itself (and every statement compiled for it) is cached
per distinct request in ``crud.model.shapes``.
"""

from __future__ import annotations

from typing import ClassVar

from crud.http.errors import BadRequest, ParameterError
from crud.http.listquery import Given, Parameter, Step, summary
from crud.model.binding import hint
from crud.model.resource import Resource
from crud.model.shapes import Shape, Shapes

__all__ = ["ShapeStep"]


class ShapeStep(Step[Shape]):
    """``fields`` and ``embed`` of the standard profile."""

    names: ClassVar[tuple[str, ...]] = ("fields", "embed")  # the query parameters it may read

    def __init__(self, resource: Resource) -> None:
        self.shapes = Shapes(resource)
        self.parameters = _parameters(self.shapes)

    def __repr__(self) -> str:
        return f"ShapeStep({self.shapes!r})"

    def parse(self, given: Given, errors: list[ParameterError]) -> Shape:
        fields = self._names(given, "fields", self.shapes.field_names, errors)
        embeds = self._names(given, "embed", self.shapes.embed_names, errors) or ()
        return self.shapes.shape(fields, embeds)

    @staticmethod
    def _names(given: Given, parameter: str, choices: list[str],
               errors: list[ParameterError]) -> list[str] | None:
        raw = given.get(parameter)
        if raw is None:
            return None
        names = [name for name in raw.split(",") if name]
        if not names:
            what = "field" if parameter == "fields" else "relation"
            errors.append(ParameterError(parameter, f"name at least one {what}; valid: "
                                                    f"{', '.join(choices) or 'none'}"))
            return None
        unknown = [ParameterError(parameter, _unknown(name, choices))
                   for name in dict.fromkeys(names) if name not in choices]
        if unknown:  # an undeclared name is a 400, as an unknown parameter is
            raise BadRequest(summary(unknown), errors=unknown)
        errors.extend(ParameterError(parameter, f"{name!r} given more than once")
                      for name in dict.fromkeys(names) if names.count(name) > 1)
        return names


def _unknown(name: str, choices: list[str]) -> str:
    # The valid names once: hint() lists them itself when nothing is close.
    suggestion = hint(name, choices)
    close = suggestion if suggestion.startswith(" (did you mean") else ""
    return f"unknown name {name!r}{close}; valid: {', '.join(choices) or 'none'}"


def _parameters(shapes: Shapes) -> tuple[Parameter, ...]:
    fields = Parameter(
        "fields", {"type": "array", "items": {"type": "string", "enum": shapes.field_names},
                   "minItems": 1, "uniqueItems": True},
        "Comma-separated fields the items hold, each at most once, and only these (a dotted "
        "name picks a field of a nested object or of a list's objects; an object's or a "
        "list's name, all of it). Default: every field. Fewer fields, fewer joins and "
        "statements.", repeatable=True, explode=False)
    if not shapes.embeds:
        return (fields,)
    names = shapes.embed_names
    embed = Parameter(
        "embed", {"type": "array", "items": {"type": "string", "enum": names}, "minItems": 1,
                  "uniqueItems": True},
        "Comma-separated related rows to include in each item, each at most once: "
        f"{', '.join(shapes.embeds)} (a dotted name, some of a relation's fields). One "
        "statement per to-many relation for the whole page.",
        repeatable=True, explode=False)
    return (fields, embed)

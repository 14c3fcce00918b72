"""The ``count`` parameter: a client may ask for a cheaper total than the list's policy."""

from __future__ import annotations

from typing import ClassVar

from crud.config.registry import CountPolicy
from crud.http.errors import ParameterError
from crud.http.listquery import Given, Parameter, Step
from crud.sql.counting import COUNT_KINDS, rank

__all__ = ["CountStep", "FixedCount"]


class CountStep(Step[CountPolicy]):
    """The count policy one request runs under: the configured one, or a cheaper one asked."""

    names: ClassVar[tuple[str, ...]] = ("count",)  # the query parameters it may read

    def __init__(self, policy: CountPolicy) -> None:
        self.policy = policy
        self.rank = rank(policy)
        self.cheaper = [kind for kind in COUNT_KINDS if rank(CountPolicy(kind=kind)) <= self.rank]
        self.parameters = (Parameter(
            "count", {"type": "string", "enum": self.cheaper},
            "Ask for a cheaper total than this list's count policy (never a dearer one): "
            "`none` skips it, `estimated` takes the database's estimate, `auto` counts exactly "
            "up to 10,000 rows."),)

    def __repr__(self) -> str:
        return f"CountStep({self.policy!r})"

    def parse(self, given: Given, errors: list[ParameterError]) -> CountPolicy:
        asked = given.get("count")
        if asked is None:
            return self.policy
        if asked not in COUNT_KINDS:
            errors.append(ParameterError(
                "count", f"expected one of {', '.join(COUNT_KINDS)}, got {asked!r}"))
            return self.policy
        wanted = CountPolicy(kind=asked)
        if rank(wanted) > self.rank:
            errors.append(ParameterError(
                "count", f"{asked!r} costs more than this list allows (configured: "
                         f"{_describe(self.policy)}); ask for a cheaper one"))
            return self.policy
        return self.policy if rank(wanted) == self.rank else wanted


def _describe(policy: CountPolicy) -> str:
    return f"capped: {policy.cap}" if policy.kind == "exact" and policy.cap else policy.kind


class FixedCount(Step[CountPolicy]):
    """The configured count policy, with no parameter to change it (the client dialects)."""

    def __init__(self, policy: CountPolicy) -> None:
        self.policy = policy

    def __repr__(self) -> str:
        return f"FixedCount({self.policy!r})"

    def parse(self, given: Given, errors: list[ParameterError]) -> CountPolicy:
        return self.policy

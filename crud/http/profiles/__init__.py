"""Profiles: which steps a resource's list runs, how its bodies look, how its routes read.

One module per profile: ``standard`` is this API's own contract (page/size/cursor/Range,
counts, the envelope); ``legacy`` is an older API's wire contract (page/per_page, 206, a
bare array, Flask's bytes, no count); ``react_admin`` and ``json_server`` are the client
dialects of react-admin's REST data providers (their filter, sort and paging parameters,
bare arrays of records with an ``id``, the total in a header), sharing ``records``. All are
peers built from the same steps (``crud.http.steps``) into a ``base.Profile``; a fifth
profile is one more module and one more line in ``profile_for``.
"""

from __future__ import annotations

from collections.abc import Sequence

from crud.config.registry import ApiSpec, RegistryIssue
from crud.config.yamlfile import LocatedData
from crud.http.cursors import CursorCodec
from crud.http.profiles.base import Profile
from crud.http.profiles.json_server import json_server_profile
from crud.http.profiles.legacy import legacy_options, legacy_profile
from crud.http.profiles.react_admin import react_admin_profile
from crud.http.profiles.standard import RESERVED_NAMES, aggregate_responses, standard_profile
from crud.model.resource import Resource

__all__ = [
    "RESERVED_NAMES",
    "Profile",
    "aggregate_responses",
    "json_server_profile",
    "legacy_profile",
    "parameter_clashes",
    "profile_for",
    "react_admin_profile",
    "standard_profile",
]


def profile_for(resource: Resource, api: ApiSpec, codec: CursorCodec) -> Profile:
    options = legacy_options(resource, api)
    if options is not None:
        return legacy_profile(resource, api, options)
    name = resource.spec.profile or api.profile
    if name == "react-admin":
        return react_admin_profile(resource, api)
    if name == "json-server":
        return json_server_profile(resource, api)
    return standard_profile(resource, api, codec)


def parameter_clashes(resources: Sequence[Resource], api: ApiSpec, *, path: str,
                      located: LocatedData | None) -> list[RegistryIssue]:
    """Query parameters two steps of one resource would both read (a filter named ``page``)."""
    issues = []
    for resource in resources:
        codec = CursorCodec(b"checking names only", resource.sort_leaves)
        claims: dict[str, list[str]] = {}
        for step in profile_for(resource, api, codec).steps:
            for parameter in step.parameters:
                claims.setdefault(parameter.name, []).append(type(step).__name__)
        for name, steps in claims.items():
            if len(steps) > 1:
                where = ("resources", resource.name, "filters")
                issues.append(RegistryIssue(
                    path=path, line=located.line_of(where) if located is not None else None,
                    key=".".join(where),
                    message=f"query parameter {name!r} is read by {' and '.join(steps)}; "
                            "rename the field or drop that filter"))
    return issues

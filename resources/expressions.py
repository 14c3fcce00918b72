"""Derived data for the demo registry: a derived join and SQL expression fields.

A project event is a polymorphic link: ``(type, event_id)`` names a pull request, a
branch push or a release. The old Flask API resolved it per row in Python (4-6 queries a
row). ``build_events`` resolves it once per build group as one SELECT of LEFT JOINs, which
registry.yaml's koji-builds joins and reads six fields from. The expression functions
reach the same values as one correlated subquery per value (the legacy profile's tests
and the Flask stand-in use them).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Integer, Select, Table, and_, func, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

from resources.models import (
    GitBranchModel,
    GitProjectModel,
    KojiBuildGroupModel,
    ProjectEventModel,
    ProjectEventType,
    ProjectReleaseModel,
    PullRequestModel,
)

__all__ = [
    "branch_name",
    "build_duration",
    "build_events",
    "pr_id",
    "project_url",
    "release",
    "repo_name",
    "repo_namespace",
]

_LINKS: dict[ProjectEventType, Any] = {
    ProjectEventType.pull_request: PullRequestModel,
    ProjectEventType.branch_push: GitBranchModel,
    ProjectEventType.release: ProjectReleaseModel,
}


def build_events() -> Select[Any]:
    """Per build group: what its event points at, and that object's project.

    One row per group (``group_id``), so the registry joins it on ``koji_build_group_id``.
    Every join is LEFT: a group whose event links nothing still gives one row of nulls.
    """
    event, pull, branch, release = (ProjectEventModel, PullRequestModel, GitBranchModel,
                                    ProjectReleaseModel)
    return (
        select(KojiBuildGroupModel.id.label("group_id"), pull.pr_id,
               branch.name.label("branch_name"), release.tag_name.label("release"),
               GitProjectModel.project_url, GitProjectModel.namespace.label("repo_namespace"),
               GitProjectModel.repo_name)
        .select_from(KojiBuildGroupModel)
        .outerjoin(event, event.id == KojiBuildGroupModel.project_event_id)
        .outerjoin(pull, and_(event.type == ProjectEventType.pull_request,
                              pull.id == event.event_id))
        .outerjoin(branch, and_(event.type == ProjectEventType.branch_push,
                                branch.id == event.event_id))
        .outerjoin(release, and_(event.type == ProjectEventType.release,
                                 release.id == event.event_id))
        .outerjoin(GitProjectModel, GitProjectModel.id == func.coalesce(
            pull.project_id, branch.project_id, release.project_id))
    )

def _via_event(builds: Table, event_type: ProjectEventType, column: Any) -> Any:
    """``column`` of the object the build's event points at, when the event has that type."""
    target = _LINKS[event_type]
    return (
        select(column)
        .select_from(KojiBuildGroupModel)
        .join(ProjectEventModel, ProjectEventModel.id == KojiBuildGroupModel.project_event_id)
        .join(target, and_(ProjectEventModel.type == event_type,
                           ProjectEventModel.event_id == target.id))
        .where(KojiBuildGroupModel.id == builds.c.koji_build_group_id)
        # Explicit: when nested in _project_column the build is two levels up.
        .correlate(builds)
        .scalar_subquery()
    )


def pr_id(builds: Table) -> ColumnElement[Any]:
    return _via_event(builds, ProjectEventType.pull_request, PullRequestModel.pr_id)


def branch_name(builds: Table) -> ColumnElement[Any]:
    return _via_event(builds, ProjectEventType.branch_push, GitBranchModel.name)


def release(builds: Table) -> ColumnElement[Any]:
    return _via_event(builds, ProjectEventType.release, ProjectReleaseModel.tag_name)


def _project_column(builds: Table, column: Any) -> ColumnElement[Any]:
    project_id = func.coalesce(*(
        _via_event(builds, event_type, target.project_id)
        for event_type, target in _LINKS.items()
    ))
    return select(column).where(GitProjectModel.id == project_id).scalar_subquery()


def project_url(builds: Table) -> ColumnElement[Any]:
    return _project_column(builds, GitProjectModel.project_url)


def repo_namespace(builds: Table) -> ColumnElement[Any]:
    return _project_column(builds, GitProjectModel.namespace)


def repo_name(builds: Table) -> ColumnElement[Any]:
    return _project_column(builds, GitProjectModel.repo_name)


class _Seconds(FunctionElement[int]):
    """Whole seconds from the first date-time argument to the second (NULL if either is)."""

    type = Integer()
    inherit_cache = True


@compiles(_Seconds)
def _seconds_sqlite(element: _Seconds, compiler: SQLCompiler, **kw: Any) -> str:
    start, end = (compiler.process(argument, **kw) for argument in element.clauses)
    return f"(CAST(strftime('%s', {end}) AS INTEGER) - CAST(strftime('%s', {start}) AS INTEGER))"


@compiles(_Seconds, "postgresql")
def _seconds_postgresql(element: _Seconds, compiler: SQLCompiler, **kw: Any) -> str:
    start, end = (compiler.process(argument, **kw) for argument in element.clauses)
    return (f"CAST(EXTRACT(EPOCH FROM date_trunc('second', {end})) - "
            f"EXTRACT(EPOCH FROM date_trunc('second', {start})) AS INTEGER)")


@compiles(_Seconds, "mysql")
def _seconds_mysql(element: _Seconds, compiler: SQLCompiler, **kw: Any) -> str:
    start, end = (compiler.process(argument, **kw) for argument in element.clauses)
    return f"TIMESTAMPDIFF(SECOND, {start}, {end})"


def build_duration(builds: Table) -> ColumnElement[Any]:
    """How long a build ran, in whole seconds: finished - started (null until it finished)."""
    return _Seconds(builds.c.build_start_time, builds.c.build_finished_time)

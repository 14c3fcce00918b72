"""Selects for tests/test_joins.py: a composite-key union, a reflected one, and mistakes."""

from __future__ import annotations

from typing import Any

from sqlalchemy import CompoundSelect, Integer, Select, String, Table, cast, func, literal, select, union_all

from resources.models import (
    GitBranchModel,
    KojiBuildGroupModel,
    ProjectEventModel,
    ProjectEventType,
    ProjectReleaseModel,
    PullRequestModel,
)


def event_targets() -> CompoundSelect[Any]:
    """What a project event names, keyed by (type, id): one branch of the union per type."""

    def targets(kind: ProjectEventType, model: Any, label: Any) -> Select[Any]:
        return select(literal(kind, ProjectEventModel.type.type).label("type"), model.id,
                      model.project_id, label.label("label"))

    return union_all(
        targets(ProjectEventType.pull_request, PullRequestModel, PullRequestModel.title),
        targets(ProjectEventType.branch_push, GitBranchModel, GitBranchModel.name),
        targets(ProjectEventType.release, ProjectReleaseModel, ProjectReleaseModel.tag_name),
    )


def reflected_groups(builds: Table) -> Select[Any]:
    """Reflection mode: the base table's MetaData holds its neighbours (keyed schema.name)."""
    prefix = f"{builds.schema}." if builds.schema else ""
    groups = builds.metadata.tables[f"{prefix}koji_build_groups"]
    return select(groups.c.id.label("group_id"), groups.c.submitted_time.label("submitted"))


def scalar() -> Any:
    return select(KojiBuildGroupModel.id).scalar_subquery()


def subquery() -> Any:
    return select(KojiBuildGroupModel.id).subquery()


def broken() -> Select[Any]:
    raise RuntimeError("the events table moved")


def unnamed() -> Select[Any]:
    return select(KojiBuildGroupModel.id.label("group_id"), func.count(), PullRequestModel.id,
                  PullRequestModel.id)


def text_key() -> Select[Any]:
    return select(cast(KojiBuildGroupModel.id, String).label("group_id"),
                  cast(KojiBuildGroupModel.id, Integer).label("same"))


def group_sizes(builds: Table) -> Select[Any]:
    """An aggregate over the resource's own table: how many builds each group has."""
    group = builds.c.koji_build_group_id
    return (select(group.label("group_id"), func.count().label("builds"))
            .where(group.is_not(None)).group_by(group))


def groups_twice() -> CompoundSelect[Any]:
    """A broken promise: every group's row comes twice."""
    once = select(KojiBuildGroupModel.id.label("group_id"),
                  KojiBuildGroupModel.submitted_time.label("submitted"))
    return union_all(once, once)

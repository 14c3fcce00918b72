"""Derived joins of the Packit-compatible example (examples/packit/registry.yaml).

The old API adds to every job the same facts about its trigger (Packit's
``get_project_info_from_build``): the pull request, issue, branch or release, the project, and
the Anitya fields (null here: the demo has no Anitya projects). Each function below is one
LEFT JOINed select of those facts per key of one job table, so a page reads them in one
statement whatever its size.
"""

from __future__ import annotations

from typing import Any, Final

from sqlalchemy import (
    Boolean,
    ColumnElement,
    Integer,
    Select,
    String,
    Table,
    and_,
    cast,
    false,
    func,
    literal,
    null,
    select,
    type_coerce,
)
from sqlalchemy.orm import InstrumentedAttribute, outerjoin

from resources.models import (
    BodhiUpdateGroupModel,
    CoprBuildGroupModel,
    CoprBuildTargetModel,
    GitBranchModel,
    GitProjectModel,
    IssueModel,
    KojiBuildGroupModel,
    KojiTagRequestGroupModel,
    LogDetectiveRunGroupModel,
    PipelineModel,
    ProjectEventModel,
    ProjectEventType,
    ProjectReleaseModel,
    PullRequestModel,
    SyncReleaseModel,
    SyncReleasePullRequestModel,
    TestRunGroupModel,
)

__all__ = [
    "bodhi_events",
    "branches_handled",
    "copr_events",
    "downstream_pr_project",
    "issues_handled",
    "koji_events",
    "ld_events",
    "pipeline_events",
    "project_forges",
    "prs_handled",
    "releases_handled",
    "scan_events",
    "srpm_events",
    "srpm_log_url",
    "sync_events",
    "tag_events",
    "test_events",
]


def _trigger(key: Any, event_id: Any, source: Any) -> Select[Any]:
    """``key`` and the trigger facts of the event ``event_id`` names, from ``source``."""
    event, pull, branch, release = (ProjectEventModel, PullRequestModel, GitBranchModel,
                                    ProjectReleaseModel)
    return (
        select(
            key.label("key"),
            pull.pr_id,
            cast(null(), Integer).label("issue_id"),
            branch.name.label("branch_name"),
            release.tag_name.label("release"),
            event.commit_sha,
            GitProjectModel.project_url,
            GitProjectModel.namespace.label("repo_namespace"),
            GitProjectModel.repo_name,
            cast(null(), String).label("anitya_version"),
            cast(null(), Integer).label("anitya_project_id"),
            cast(null(), String).label("anitya_project_name"),
            cast(null(), String).label("anitya_package"),
            type_coerce(false(), Boolean).label("non_git_upstream"),
        )
        .select_from(source)
        .outerjoin(event, event.id == event_id)
        .outerjoin(pull, and_(event.type == ProjectEventType.pull_request,
                              pull.id == event.event_id))
        .outerjoin(branch, and_(event.type == ProjectEventType.branch_push,
                                branch.id == event.event_id))
        .outerjoin(release, and_(event.type == ProjectEventType.release,
                                 release.id == event.event_id))
        .outerjoin(GitProjectModel, GitProjectModel.id == func.coalesce(
            pull.project_id, branch.project_id, release.project_id))
    )


def _of_group(group: Any) -> Select[Any]:
    """Per row of a group table (or the sync release runs): its trigger."""
    return _trigger(group.id, group.project_event_id, group)


def koji_events() -> Select[Any]:
    """A Koji build group's trigger and its SRPM build (none in the demo: Koji builds
    start from dist-git)."""
    return _with_srpm(KojiBuildGroupModel, PipelineModel.koji_build_group_id)


def bodhi_events() -> Select[Any]:
    return _of_group(BodhiUpdateGroupModel)


def tag_events() -> Select[Any]:
    return _of_group(KojiTagRequestGroupModel)


def test_events() -> Select[Any]:
    return _of_group(TestRunGroupModel)


def sync_events() -> Select[Any]:
    return _of_group(SyncReleaseModel)


def ld_events() -> Select[Any]:
    return _of_group(LogDetectiveRunGroupModel)


def _first_srpm(group_column: InstrumentedAttribute[Any]) -> Any:
    """Per group: the SRPM build of its pipelines (Packit's ``get_srpm_build``)."""
    return (
        select(group_column.label("group_id"),
               func.min(PipelineModel.srpm_build_id).label("srpm_build_id"))
        .where(group_column.is_not(None))
        .group_by(group_column)
        .subquery()
    )


def copr_events() -> Select[Any]:
    """A Copr build group's trigger and its SRPM build."""
    return _with_srpm(CoprBuildGroupModel, PipelineModel.copr_build_group_id)


def _with_srpm(group: Any, pipeline_column: InstrumentedAttribute[Any]) -> Select[Any]:
    srpm = _first_srpm(pipeline_column)
    return (
        _of_group(group)
        .add_columns(srpm.c.srpm_build_id)
        .outerjoin(srpm, srpm.c.group_id == group.id)
    )


def scan_events() -> Select[Any]:
    """Per Copr build (a scan's key): its group's trigger."""
    build, group = CoprBuildTargetModel, CoprBuildGroupModel
    source = outerjoin(build, group, group.id == build.copr_build_group_id)
    return _trigger(build.id, group.project_event_id, source)


def srpm_events() -> Select[Any]:
    """Per SRPM build: the trigger of its pipeline (one pipeline per SRPM build)."""
    pipeline = PipelineModel
    return (
        _trigger(pipeline.srpm_build_id, pipeline.project_event_id, pipeline)
        .where(pipeline.srpm_build_id.is_not(None))
    )


# -- expression fields -------------------------------------------------------------------------

_DASHBOARD: Final = "https://dashboard.packit.dev"


def srpm_log_url(builds: Table) -> ColumnElement[Any]:
    """The dashboard's page of the SRPM build (Packit's ``get_srpm_build_info_url``)."""
    return literal(f"{_DASHBOARD}/jobs/srpm/").concat(cast(builds.c.id, String))


def _count(model: Any, projects: Table) -> ColumnElement[Any]:
    return (
        select(func.count()).select_from(model)
        .where(model.project_id == projects.c.id)
        .correlate(projects)
        .scalar_subquery()
    )


def prs_handled(projects: Table) -> ColumnElement[Any]:
    return _count(PullRequestModel, projects)


def branches_handled(projects: Table) -> ColumnElement[Any]:
    return _count(GitBranchModel, projects)


def releases_handled(projects: Table) -> ColumnElement[Any]:
    return _count(ProjectReleaseModel, projects)


def issues_handled(projects: Table) -> ColumnElement[Any]:
    return _count(IssueModel, projects)


def project_forges() -> Select[Any]:
    """Per project: its forge as the old API's URLs name it (``github.com``), and its names."""
    project = GitProjectModel
    return select(
        project.id.label("key"),
        func.replace(project.instance_url, "https://", "", type_=String).label("forge"),
        project.namespace,
        project.repo_name,
    )


def pipeline_events() -> Select[Any]:
    """Per pipeline: its trigger (a merged run's ``trigger``)."""
    return _trigger(PipelineModel.id, PipelineModel.project_event_id, PipelineModel)


def downstream_pr_project(targets: Table) -> ColumnElement[Any]:
    """The project of a sync release target's first dist-git pull request (Packit's
    ``downstream_pr_project``)."""
    pull = SyncReleasePullRequestModel
    return (
        select(GitProjectModel.project_url)
        .join(pull, pull.project_id == GitProjectModel.id)
        .where(pull.sync_release_target_id == targets.c.id)
        .order_by(pull.id)
        .limit(1)
        .correlate(targets)
        .scalar_subquery()
    )

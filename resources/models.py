"""Ordinary SQLAlchemy declarative models of a CI service, modelled on Packit's.

Nothing here knows about the API: the registry points at these classes, the way a team
points it at the models its older Flask API already uses.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, Enum, ForeignKey, Integer, String, Text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

__all__ = [
    "Base",
    "BodhiUpdateGroupModel",
    "BodhiUpdateTargetModel",
    "BuildStatus",
    "CoprBuildGroupModel",
    "CoprBuildTargetModel",
    "GitBranchModel",
    "GitProjectModel",
    "IssueModel",
    "KojiBuildGroupModel",
    "KojiBuildTargetModel",
    "KojiTagRequestGroupModel",
    "KojiTagRequestTargetModel",
    "LogDetectiveBuildSystem",
    "LogDetectiveResult",
    "LogDetectiveRunGroupModel",
    "LogDetectiveRunModel",
    "OSHScanModel",
    "OSHScanStatus",
    "PipelineModel",
    "ProjectEventModel",
    "ProjectEventType",
    "ProjectReleaseModel",
    "PullRequestModel",
    "SRPMBuildModel",
    "SyncReleaseJobType",
    "SyncReleaseModel",
    "SyncReleasePullRequestModel",
    "SyncReleaseStatus",
    "SyncReleaseTargetModel",
    "SyncReleaseTargetStatus",
    "TestRunGroupModel",
    "TestRunModel",
    "VMImageBuildStatus",
    "VMImageBuildTargetModel",
]


class Base(DeclarativeBase):
    pass


class BuildStatus(str, enum.Enum):
    pending = "pending"
    running = "running"
    success = "success"
    failure = "failure"
    error = "error"


class ProjectEventType(str, enum.Enum):
    pull_request = "pull_request"
    branch_push = "branch_push"
    release = "release"


class GitProjectModel(Base):
    __tablename__ = "git_projects"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    namespace: Mapped[str] = mapped_column(String(100), index=True)
    repo_name: Mapped[str] = mapped_column(String(100), index=True)
    project_url: Mapped[str] = mapped_column(String(300), unique=True)
    instance_url: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(DateTime)
    # Never listed in the registry: tests assert its value appears nowhere in the API.
    webhook_secret: Mapped[str] = mapped_column(String(64))

    pull_requests: Mapped[list[PullRequestModel]] = relationship(back_populates="project")
    branches: Mapped[list[GitBranchModel]] = relationship(back_populates="project")
    releases: Mapped[list[ProjectReleaseModel]] = relationship(back_populates="project")
    issues: Mapped[list[IssueModel]] = relationship(back_populates="project")


class PullRequestModel(Base):
    __tablename__ = "pull_requests"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    pr_id: Mapped[int] = mapped_column(Integer, index=True)
    title: Mapped[str] = mapped_column(String(200))
    project_id: Mapped[int] = mapped_column(ForeignKey("git_projects.id"), index=True)
    # The same list of texts on every backend: a native array on PostgreSQL (GIN-indexable
    # @> and &&), a JSON array on MariaDB and SQLite. ``contains``/``overlaps`` filter it.
    labels: Mapped[list[str] | None] = mapped_column(
        JSON().with_variant(ARRAY(String(50)), "postgresql"))

    project: Mapped[GitProjectModel] = relationship(back_populates="pull_requests")
    # Packit's BuildsAndTestsConnector: the polymorphic events (type, event_id) naming this
    # pull request; its jobs are their pipelines' (project_events.pipelines.<group>...).
    project_events: Mapped[list[ProjectEventModel]] = relationship(
        primaryjoin="and_(ProjectEventModel.type == 'pull_request', "
                    "foreign(ProjectEventModel.event_id) == PullRequestModel.id)",
        viewonly=True)


class GitBranchModel(Base):
    __tablename__ = "git_branches"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), index=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("git_projects.id"), index=True)

    project: Mapped[GitProjectModel] = relationship(back_populates="branches")
    # As a pull request's: the push events of this branch.
    project_events: Mapped[list[ProjectEventModel]] = relationship(
        primaryjoin="and_(ProjectEventModel.type == 'branch_push', "
                    "foreign(ProjectEventModel.event_id) == GitBranchModel.id)",
        viewonly=True)


class ProjectReleaseModel(Base):
    __tablename__ = "project_releases"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tag_name: Mapped[str] = mapped_column(String(100), index=True)
    commit_hash: Mapped[str] = mapped_column(String(40))
    project_id: Mapped[int] = mapped_column(ForeignKey("git_projects.id"), index=True)

    project: Mapped[GitProjectModel] = relationship(back_populates="releases")


class ProjectEventModel(Base):
    """A polymorphic link: (type, event_id) points at a pull request, branch or release."""

    __tablename__ = "project_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    type: Mapped[ProjectEventType] = mapped_column(
        Enum(ProjectEventType, name="project_event_type"))
    event_id: Mapped[int] = mapped_column(Integer, index=True)
    commit_sha: Mapped[str | None] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(DateTime)

    pipelines: Mapped[list[PipelineModel]] = relationship(back_populates="project_event")


class SRPMBuildModel(Base):
    __tablename__ = "srpm_builds"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    status: Mapped[BuildStatus] = mapped_column(Enum(BuildStatus, name="build_status"), index=True)
    build_submitted_time: Mapped[datetime | None] = mapped_column(DateTime)
    build_start_time: Mapped[datetime | None] = mapped_column(DateTime)
    build_finished_time: Mapped[datetime | None] = mapped_column(DateTime)
    commit_sha: Mapped[str | None] = mapped_column(String(40))
    url: Mapped[str | None] = mapped_column(String(300))
    logs: Mapped[str | None] = mapped_column(Text)
    logs_url: Mapped[str | None] = mapped_column(String(300))
    copr_build_id: Mapped[str | None] = mapped_column(String(45), index=True)
    copr_web_url: Mapped[str | None] = mapped_column(String(300))

    pipelines: Mapped[list[PipelineModel]] = relationship(back_populates="srpm_build")


class KojiBuildGroupModel(Base):
    __tablename__ = "koji_build_groups"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    submitted_time: Mapped[datetime] = mapped_column(DateTime)
    # Packit reaches the event through group.runs[0]; the demo keeps the link direct so a
    # dotted path can express it (registry: group.project_event...).
    project_event_id: Mapped[int] = mapped_column(ForeignKey("project_events.id"), index=True)

    project_event: Mapped[ProjectEventModel] = relationship()
    builds: Mapped[list[KojiBuildTargetModel]] = relationship(back_populates="group")
    runs: Mapped[list[PipelineModel]] = relationship(back_populates="koji_build_group")


class KojiBuildTargetModel(Base):
    __tablename__ = "koji_build_targets"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    task_id: Mapped[str | None] = mapped_column(String(45), index=True)
    commit_sha: Mapped[str | None] = mapped_column(String(40))
    status: Mapped[BuildStatus] = mapped_column(Enum(BuildStatus, name="build_status"), index=True)
    target: Mapped[str] = mapped_column(String(50), index=True)
    web_url: Mapped[str | None] = mapped_column(String(300))
    build_logs_url: Mapped[str | None] = mapped_column(String(300))
    # Packit's own column: {"x86_64": url}, the logs per architecture.
    build_logs_urls: Mapped[dict[str, str] | None] = mapped_column(JSON)
    build_submission_stdout: Mapped[str | None] = mapped_column(Text)
    build_submitted_time: Mapped[datetime | None] = mapped_column(DateTime, index=True)
    build_start_time: Mapped[datetime | None] = mapped_column(DateTime)
    build_finished_time: Mapped[datetime | None] = mapped_column(DateTime)
    scratch: Mapped[bool] = mapped_column(Boolean, default=False)
    data: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    koji_build_group_id: Mapped[int | None] = mapped_column(
        ForeignKey("koji_build_groups.id"), index=True
    )

    group: Mapped[KojiBuildGroupModel | None] = relationship(back_populates="builds")


class CoprBuildGroupModel(Base):
    __tablename__ = "copr_build_groups"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    submitted_time: Mapped[datetime] = mapped_column(DateTime)
    project_event_id: Mapped[int] = mapped_column(ForeignKey("project_events.id"), index=True)

    project_event: Mapped[ProjectEventModel] = relationship()
    builds: Mapped[list[CoprBuildTargetModel]] = relationship(back_populates="group")
    runs: Mapped[list[PipelineModel]] = relationship(back_populates="copr_build_group")


class CoprBuildTargetModel(Base):
    __tablename__ = "copr_build_targets"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    build_id: Mapped[str | None] = mapped_column(String(45), index=True)
    commit_sha: Mapped[str | None] = mapped_column(String(40))
    status: Mapped[BuildStatus] = mapped_column(Enum(BuildStatus, name="build_status"), index=True)
    target: Mapped[str] = mapped_column(String(50))
    owner: Mapped[str] = mapped_column(String(50))
    project_name: Mapped[str] = mapped_column(String(100))
    web_url: Mapped[str | None] = mapped_column(String(300))
    build_logs_url: Mapped[str | None] = mapped_column(String(300))
    build_submitted_time: Mapped[datetime | None] = mapped_column(DateTime, index=True)
    build_start_time: Mapped[datetime | None] = mapped_column(DateTime)
    build_finished_time: Mapped[datetime | None] = mapped_column(DateTime)
    built_packages: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)
    copr_build_group_id: Mapped[int | None] = mapped_column(
        ForeignKey("copr_build_groups.id"), index=True
    )

    group: Mapped[CoprBuildGroupModel | None] = relationship(back_populates="builds")


class TestRunGroupModel(Base):
    __tablename__ = "tft_test_run_groups"
    __test__ = False  # not a pytest test class, whatever its name says

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    submitted_time: Mapped[datetime] = mapped_column(DateTime)
    project_event_id: Mapped[int] = mapped_column(ForeignKey("project_events.id"), index=True)

    project_event: Mapped[ProjectEventModel] = relationship()
    runs: Mapped[list[TestRunModel]] = relationship(back_populates="group")
    # Packit calls these `runs`; here that name is the group's test runs.
    pipelines: Mapped[list[PipelineModel]] = relationship(viewonly=True)


class TestRunModel(Base):
    __tablename__ = "tft_test_run_targets"
    __test__ = False  # not a pytest test class, whatever its name says

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    pipeline_id: Mapped[str | None] = mapped_column(String(36), index=True)
    commit_sha: Mapped[str | None] = mapped_column(String(40))
    status: Mapped[BuildStatus] = mapped_column(Enum(BuildStatus, name="build_status"), index=True)
    target: Mapped[str] = mapped_column(String(50))
    web_url: Mapped[str | None] = mapped_column(String(300))
    submitted_time: Mapped[datetime | None] = mapped_column(DateTime, index=True)
    tft_test_run_group_id: Mapped[int | None] = mapped_column(
        ForeignKey("tft_test_run_groups.id"), index=True
    )

    group: Mapped[TestRunGroupModel | None] = relationship(back_populates="runs")


class PipelineModel(Base):
    """One run of the CI for an event: links the builds and tests it triggered."""

    __tablename__ = "pipelines"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    datetime: Mapped[datetime] = mapped_column(DateTime, index=True)
    project_event_id: Mapped[int] = mapped_column(ForeignKey("project_events.id"), index=True)
    srpm_build_id: Mapped[int | None] = mapped_column(ForeignKey("srpm_builds.id"), index=True)
    koji_build_group_id: Mapped[int | None] = mapped_column(
        ForeignKey("koji_build_groups.id"), index=True
    )
    copr_build_group_id: Mapped[int | None] = mapped_column(
        ForeignKey("copr_build_groups.id"), index=True
    )
    test_run_group_id: Mapped[int | None] = mapped_column(
        ForeignKey("tft_test_run_groups.id"), index=True
    )
    # Packit's later job kinds, each a nullable link like the ones above.
    koji_tag_request_group_id: Mapped[int | None] = mapped_column(
        ForeignKey("koji_tag_request_groups.id"), index=True
    )
    bodhi_update_group_id: Mapped[int | None] = mapped_column(
        ForeignKey("bodhi_update_groups.id"), index=True
    )
    sync_release_run_id: Mapped[int | None] = mapped_column(
        ForeignKey("sync_release_runs.id"), index=True
    )
    vm_image_build_id: Mapped[int | None] = mapped_column(
        ForeignKey("vm_image_build_targets.id"), index=True
    )
    log_detective_run_group_id: Mapped[int | None] = mapped_column(
        ForeignKey("log_detective_run_groups.id"), index=True
    )

    project_event: Mapped[ProjectEventModel] = relationship(back_populates="pipelines")
    srpm_build: Mapped[SRPMBuildModel | None] = relationship(back_populates="pipelines")
    koji_build_group: Mapped[KojiBuildGroupModel | None] = relationship(back_populates="runs")
    copr_build_group: Mapped[CoprBuildGroupModel | None] = relationship(back_populates="runs")
    test_run_group: Mapped[TestRunGroupModel | None] = relationship()
    koji_tag_request_group: Mapped[KojiTagRequestGroupModel | None] = relationship(
        back_populates="runs")
    bodhi_update_group: Mapped[BodhiUpdateGroupModel | None] = relationship(
        back_populates="runs")
    sync_release_run: Mapped[SyncReleaseModel | None] = relationship(back_populates="runs")
    # The same link, per job type: Packit's /runs lists the two kinds apart.
    propose_downstream_run: Mapped[SyncReleaseModel | None] = relationship(
        primaryjoin="and_(PipelineModel.sync_release_run_id == SyncReleaseModel.id, "
                    "SyncReleaseModel.job_type == 'propose_downstream')", viewonly=True)
    pull_from_upstream_run: Mapped[SyncReleaseModel | None] = relationship(
        primaryjoin="and_(PipelineModel.sync_release_run_id == SyncReleaseModel.id, "
                    "SyncReleaseModel.job_type == 'pull_from_upstream')", viewonly=True)
    vm_image_build: Mapped[VMImageBuildTargetModel | None] = relationship(back_populates="runs")
    log_detective_run_group: Mapped[LogDetectiveRunGroupModel | None] = relationship(
        back_populates="runs")


# -- Packit's later job kinds: names, columns and enums as in packit_service/models.py ---------
# As above, each group (and the sync release run) links its project event directly, where
# Packit goes through its pipelines; the pipelines link them as Packit's do.


class IssueModel(Base):
    __tablename__ = "project_issues"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    issue_id: Mapped[int] = mapped_column(Integer, index=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("git_projects.id"), index=True)

    project: Mapped[GitProjectModel] = relationship(back_populates="issues")


class SyncReleaseStatus(str, enum.Enum):
    running = "running"
    finished = "finished"
    error = "error"


class SyncReleaseJobType(str, enum.Enum):
    pull_from_upstream = "pull_from_upstream"
    propose_downstream = "propose_downstream"


class SyncReleaseTargetStatus(str, enum.Enum):
    queued = "queued"
    running = "running"
    error = "error"
    retry = "retry"
    submitted = "submitted"
    skipped = "skipped"


class SyncReleaseModel(Base):
    """One propose-downstream or pull-from-upstream job: a release synced to dist-git."""

    __tablename__ = "sync_release_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    status: Mapped[SyncReleaseStatus] = mapped_column(
        Enum(SyncReleaseStatus, name="sync_release_status"), index=True)
    submitted_time: Mapped[datetime | None] = mapped_column(DateTime, index=True)
    job_type: Mapped[SyncReleaseJobType] = mapped_column(
        Enum(SyncReleaseJobType, name="sync_release_job_type"), index=True)
    project_event_id: Mapped[int] = mapped_column(ForeignKey("project_events.id"), index=True)

    project_event: Mapped[ProjectEventModel] = relationship()
    sync_release_targets: Mapped[list[SyncReleaseTargetModel]] = relationship(
        back_populates="sync_release")
    runs: Mapped[list[PipelineModel]] = relationship(back_populates="sync_release_run")


class SyncReleaseTargetModel(Base):
    """The job's work for one dist-git branch."""

    __tablename__ = "sync_release_run_targets"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    branch: Mapped[str] = mapped_column(String(100), default="unknown")
    status: Mapped[SyncReleaseTargetStatus] = mapped_column(
        Enum(SyncReleaseTargetStatus, name="sync_release_target_status"), index=True)
    submitted_time: Mapped[datetime | None] = mapped_column(DateTime)
    start_time: Mapped[datetime | None] = mapped_column(DateTime)
    finished_time: Mapped[datetime | None] = mapped_column(DateTime)
    logs: Mapped[str | None] = mapped_column(Text)
    downstream_pr_url: Mapped[str | None] = mapped_column(String(300))
    sync_release_id: Mapped[int] = mapped_column(ForeignKey("sync_release_runs.id"), index=True)

    sync_release: Mapped[SyncReleaseModel] = relationship(back_populates="sync_release_targets")
    pull_requests: Mapped[list[SyncReleasePullRequestModel]] = relationship(
        back_populates="sync_release_target")


class SyncReleasePullRequestModel(Base):
    """A dist-git pull request a sync release opened (Packit links them through an
    association table; one target per pull request is all the dashboard needs)."""

    __tablename__ = "sync_release_pull_request"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    pr_id: Mapped[int] = mapped_column(Integer, index=True)
    project_id: Mapped[int | None] = mapped_column(ForeignKey("git_projects.id"), index=True)
    target_branch: Mapped[str | None] = mapped_column(String(100))
    url: Mapped[str | None] = mapped_column(String(300))
    is_fast_forward: Mapped[bool] = mapped_column(Boolean, default=False)
    sync_release_target_id: Mapped[int] = mapped_column(
        ForeignKey("sync_release_run_targets.id"), index=True)

    sync_release_target: Mapped[SyncReleaseTargetModel] = relationship(
        back_populates="pull_requests")


class BodhiUpdateGroupModel(Base):
    __tablename__ = "bodhi_update_groups"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    submitted_time: Mapped[datetime] = mapped_column(DateTime)
    project_event_id: Mapped[int] = mapped_column(ForeignKey("project_events.id"), index=True)

    project_event: Mapped[ProjectEventModel] = relationship()
    bodhi_update_targets: Mapped[list[BodhiUpdateTargetModel]] = relationship(
        back_populates="group")
    runs: Mapped[list[PipelineModel]] = relationship(back_populates="bodhi_update_group")


class BodhiUpdateTargetModel(Base):
    __tablename__ = "bodhi_update_targets"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    status: Mapped[str] = mapped_column(String(20), index=True)  # a string in Packit too
    target: Mapped[str] = mapped_column(String(50))
    web_url: Mapped[str | None] = mapped_column(String(300))
    koji_nvrs: Mapped[str | None] = mapped_column(String(300))
    sidetag: Mapped[str | None] = mapped_column(String(100))
    alias: Mapped[str | None] = mapped_column(String(50))
    submitted_time: Mapped[datetime | None] = mapped_column(DateTime, index=True)
    update_creation_time: Mapped[datetime | None] = mapped_column(DateTime)
    data: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    bodhi_update_group_id: Mapped[int | None] = mapped_column(
        ForeignKey("bodhi_update_groups.id"), index=True)

    group: Mapped[BodhiUpdateGroupModel | None] = relationship(
        back_populates="bodhi_update_targets")


class KojiTagRequestGroupModel(Base):
    __tablename__ = "koji_tag_request_groups"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    submitted_time: Mapped[datetime] = mapped_column(DateTime)
    project_event_id: Mapped[int] = mapped_column(ForeignKey("project_events.id"), index=True)

    project_event: Mapped[ProjectEventModel] = relationship()
    koji_tag_request_targets: Mapped[list[KojiTagRequestTargetModel]] = relationship(
        back_populates="group")
    runs: Mapped[list[PipelineModel]] = relationship(back_populates="koji_tag_request_group")


class KojiTagRequestTargetModel(Base):
    __tablename__ = "koji_tag_request_targets"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    task_id: Mapped[str | None] = mapped_column(String(45), index=True)
    target: Mapped[str] = mapped_column(String(50))
    web_url: Mapped[str | None] = mapped_column(String(300))
    tag_request_submitted_time: Mapped[datetime | None] = mapped_column(DateTime, index=True)
    sidetag: Mapped[str | None] = mapped_column(String(100))
    nvr: Mapped[str | None] = mapped_column(String(200))
    koji_tag_request_group_id: Mapped[int | None] = mapped_column(
        ForeignKey("koji_tag_request_groups.id"), index=True)

    group: Mapped[KojiTagRequestGroupModel | None] = relationship(
        back_populates="koji_tag_request_targets")


class OSHScanStatus(str, enum.Enum):
    pending = "pending"
    running = "running"
    succeeded = "succeeded"
    failed = "failed"
    canceled = "canceled"


class OSHScanModel(Base):
    """An OpenScanHub differential scan of a Copr build."""

    __tablename__ = "scans"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    task_id: Mapped[int | None] = mapped_column(Integer, unique=True)
    status: Mapped[OSHScanStatus | None] = mapped_column(
        Enum(OSHScanStatus, name="osh_scan_status"), index=True)
    url: Mapped[str | None] = mapped_column(String(300))
    issues_added_count: Mapped[int | None] = mapped_column(Integer)
    issues_added_url: Mapped[str | None] = mapped_column(String(300))
    issues_fixed_url: Mapped[str | None] = mapped_column(String(300))
    scan_results_url: Mapped[str | None] = mapped_column(String(300))
    submitted_time: Mapped[datetime | None] = mapped_column(DateTime, index=True)
    copr_build_target_id: Mapped[int | None] = mapped_column(
        ForeignKey("copr_build_targets.id"), unique=True)

    copr_build_target: Mapped[CoprBuildTargetModel | None] = relationship()


class LogDetectiveBuildSystem(str, enum.Enum):
    copr = "copr"
    koji = "koji"


class LogDetectiveResult(str, enum.Enum):
    complete = "complete"
    running = "running"
    unknown = "unknown"
    error = "error"


class LogDetectiveRunGroupModel(Base):
    __tablename__ = "log_detective_run_groups"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    submitted_time: Mapped[datetime] = mapped_column(DateTime)
    project_event_id: Mapped[int] = mapped_column(ForeignKey("project_events.id"), index=True)

    project_event: Mapped[ProjectEventModel] = relationship()
    log_detective_run_targets: Mapped[list[LogDetectiveRunModel]] = relationship(
        back_populates="group")
    runs: Mapped[list[PipelineModel]] = relationship(back_populates="log_detective_run_group")


class LogDetectiveRunModel(Base):
    """A Log Detective analysis of a failed Copr or Koji build's logs."""

    __tablename__ = "log_detective_run"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    status: Mapped[LogDetectiveResult] = mapped_column(
        Enum(LogDetectiveResult, name="log_detective_result"), index=True)
    identifier: Mapped[str | None] = mapped_column(String(100))
    target_build: Mapped[str | None] = mapped_column(String(45))
    target: Mapped[str | None] = mapped_column(String(50))
    log_detective_response: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    error_msg: Mapped[str | None] = mapped_column(String(300))
    submitted_time: Mapped[datetime | None] = mapped_column(DateTime, index=True)
    analysis_id: Mapped[str] = mapped_column(String(36), unique=True)
    build_system: Mapped[LogDetectiveBuildSystem | None] = mapped_column(
        Enum(LogDetectiveBuildSystem, name="log_detective_build_system"))
    copr_build_target_id: Mapped[int | None] = mapped_column(
        ForeignKey("copr_build_targets.id"), index=True)
    koji_build_target_id: Mapped[int | None] = mapped_column(
        ForeignKey("koji_build_targets.id"), index=True)
    log_detective_run_group_id: Mapped[int | None] = mapped_column(
        ForeignKey("log_detective_run_groups.id"), index=True)

    group: Mapped[LogDetectiveRunGroupModel | None] = relationship(
        back_populates="log_detective_run_targets")


class VMImageBuildStatus(str, enum.Enum):
    success = "success"
    pending = "pending"
    building = "building"
    uploading = "uploading"
    registering = "registering"
    failure = "failure"
    error = "error"


class VMImageBuildTargetModel(Base):
    __tablename__ = "vm_image_build_targets"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    build_id: Mapped[str | None] = mapped_column(String(45), index=True)
    project_url: Mapped[str | None] = mapped_column(String(300))
    project_name: Mapped[str | None] = mapped_column(String(100))
    owner: Mapped[str | None] = mapped_column(String(50))
    status: Mapped[VMImageBuildStatus] = mapped_column(
        Enum(VMImageBuildStatus, name="vm_image_build_status"), index=True)
    target: Mapped[str | None] = mapped_column(String(50))
    pr_id: Mapped[str | None] = mapped_column(String(20))  # a string in Packit too
    task_accepted_time: Mapped[datetime | None] = mapped_column(DateTime)
    submitted_time: Mapped[datetime | None] = mapped_column(DateTime, index=True)
    build_start_time: Mapped[datetime | None] = mapped_column(DateTime)
    build_finished_time: Mapped[datetime | None] = mapped_column(DateTime)
    data: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    project_event_id: Mapped[int] = mapped_column(ForeignKey("project_events.id"), index=True)

    project_event: Mapped[ProjectEventModel] = relationship()
    runs: Mapped[list[PipelineModel]] = relationship(back_populates="vm_image_build")

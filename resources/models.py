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
    "BuildStatus",
    "CoprBuildGroupModel",
    "CoprBuildTargetModel",
    "GitBranchModel",
    "GitProjectModel",
    "KojiBuildGroupModel",
    "KojiBuildTargetModel",
    "PipelineModel",
    "ProjectEventModel",
    "ProjectEventType",
    "ProjectReleaseModel",
    "PullRequestModel",
    "SRPMBuildModel",
    "TestRunGroupModel",
    "TestRunModel",
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


class GitBranchModel(Base):
    __tablename__ = "git_branches"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), index=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("git_projects.id"), index=True)

    project: Mapped[GitProjectModel] = relationship(back_populates="branches")


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
    build_submitted_time: Mapped[datetime | None] = mapped_column(DateTime, index=True)
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

    project_event: Mapped[ProjectEventModel] = relationship(back_populates="pipelines")
    srpm_build: Mapped[SRPMBuildModel | None] = relationship(back_populates="pipelines")
    koji_build_group: Mapped[KojiBuildGroupModel | None] = relationship(back_populates="runs")
    copr_build_group: Mapped[CoprBuildGroupModel | None] = relationship(back_populates="runs")
    test_run_group: Mapped[TestRunGroupModel | None] = relationship()

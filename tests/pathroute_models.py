"""Projects under multi-level namespaces, their pull requests, and test runs: the shapes of
Packit's path-addressed URLs (``projects/{forge}/{namespace:path}/{repo}/prs``)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

__all__ = ["Base", "Project", "PullRequest", "TestRun", "rows"]


class Base(DeclarativeBase):
    pass


class Project(Base):
    __tablename__ = "pr_projects"
    __table_args__ = (UniqueConstraint("forge", "namespace", "repo_name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    forge: Mapped[str] = mapped_column(String(50))
    namespace: Mapped[str] = mapped_column(String(100))
    repo_name: Mapped[str] = mapped_column(String(100))
    pull_requests: Mapped[list[PullRequest]] = relationship(back_populates="project")


class PullRequest(Base):
    __tablename__ = "pr_pull_requests"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    pr_id: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(100))
    project_id: Mapped[int] = mapped_column(ForeignKey("pr_projects.id"))
    project: Mapped[Project] = relationship(back_populates="pull_requests")


class TestRun(Base):
    __tablename__ = "pr_test_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    status: Mapped[str] = mapped_column(String(20))


PROJECTS = [
    (1, "github.com", "packit", "ogr"),
    (2, "github.com", "packit", "specfile"),
    (3, "gitlab.com", "redhat/centos-stream/rpms", "python3"),
    (4, "gitlab.com", "redhat", "tools"),
    (5, "github.com", "packit", "prs"),  # a repository named like the sub-resource
]


def rows() -> dict[type[Base], list[dict[str, Any]]]:
    projects = [dict(zip(("id", "forge", "namespace", "repo_name"), row, strict=True))
                for row in PROJECTS]
    pulls = [{"id": index, "pr_id": 100 + index, "title": f"PR {index}",
              "project_id": 1 if index <= 3 else 3} for index in range(1, 6)]
    runs = [{"id": index, "status": "passed" if index % 2 else "failed"}
            for index in range(1, 8)]
    return {Project: projects, PullRequest: pulls, TestRun: runs}

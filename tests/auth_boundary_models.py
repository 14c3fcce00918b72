"""An expression field that reads another resource's table (tests/test_auth_boundaries.py)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Table, select

from resources.models import PullRequestModel

__all__ = ["latest_title"]


def latest_title(projects: Table) -> ColumnElement[Any]:
    """The title of a project's newest pull request: a subquery on ``pull_requests``."""
    pulls = PullRequestModel.__table__
    return (select(pulls.c.title).where(pulls.c.project_id == projects.c.id)
            .order_by(pulls.c.id.desc()).limit(1).scalar_subquery())

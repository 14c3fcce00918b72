"""The old API as a small Flask app, written the way the old service's endpoints were.

Two roles in the tests: it is mounted at ``/api`` beside the generated API (test_mounts),
and its koji-builds list is the reference the ``legacy`` profile must reproduce byte for
byte (test_legacy). ``app.config["DATABASE_URL"]`` names a synchronous SQLAlchemy URL for
the list; the other routes need no database.
"""

from __future__ import annotations

import datetime as dt
from functools import cache
from typing import Any

from flask import Flask, jsonify, request
from flask.wrappers import Response
from sqlalchemy import Engine, create_engine, select

from resources import expressions
from resources.models import KojiBuildTargetModel

__all__ = ["app"]

app = Flask(__name__)
app.config["DATABASE_URL"] = None


@cache
def _engine(url: str) -> Engine:
    return create_engine(url)


def optional_timestamp(value: dt.datetime | None) -> int | None:
    # The old service ran in UTC: its naive date-times are UTC.
    return None if value is None else int(value.replace(tzinfo=dt.UTC).timestamp())


def indices() -> tuple[int, int]:
    page = max(int(request.args.get("page", 1)), 1)
    per_page = int(request.args.get("per_page", 10))
    return (page - 1) * per_page, page * per_page


def _builds_statement(first: int, last: int) -> Any:
    table = KojiBuildTargetModel.__table__
    statement = select(
        table.c.id, table.c.task_id, table.c.scratch, table.c.status,
        table.c.build_submitted_time, table.c.target, table.c.web_url,
        expressions.pr_id(table).label("pr_id"),
        expressions.branch_name(table).label("branch_name"),
        expressions.release(table).label("release"),
        expressions.project_url(table).label("project_url"),
        expressions.repo_namespace(table).label("repo_namespace"),
        expressions.repo_name(table).label("repo_name"),
    )
    if "scratch" in request.args:
        statement = statement.where(table.c.scratch == (request.args["scratch"] == "true"))
    return statement.order_by(table.c.id.desc()).offset(first).limit(last - first)


@app.get("/koji-builds")
def koji_builds() -> Response:
    first, last = indices()
    with _engine(app.config["DATABASE_URL"]).connect() as connection:
        rows = connection.execute(_builds_statement(first, last)).all()
    result = [
        {
            "packit_id": row.id,
            "task_id": row.task_id,
            "scratch": row.scratch,
            "status": row.status,
            "build_submitted_time": optional_timestamp(row.build_submitted_time),
            "chroot": row.target,
            "web_url": row.web_url,
            "pr_id": row.pr_id,
            "branch_name": row.branch_name,
            "release": row.release,
            "project_url": row.project_url,
            "repo_namespace": row.repo_namespace,
            "repo_name": row.repo_name,
        }
        for row in rows
    ]
    response = jsonify(result)
    response.status_code = 206
    response.headers["Content-Range"] = f"builds {first + 1}-{last}/*"
    return response


@app.get("/v1/koji-builds")
def shadowed() -> Response:
    # Mounted at /api this path is /api/v1/koji-builds: the generated API must win.
    return jsonify({"served_by": "flask"})


@app.get("/usage/<what>")
def usage(what: str) -> Response:
    return jsonify({"served_by": "flask", "what": what, "script_root": request.script_root,
                    "path": request.path, "query": request.query_string.decode()})

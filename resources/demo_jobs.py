"""Demo rows of Packit's later job kinds: sync releases, Bodhi updates, Koji tag requests,
OpenScanHub scans, Log Detective runs, VM image builds, and project issues.

Like resources/demo.py (whose helpers it uses), every row follows from the plan and the seed.
These tables are small beside the builds: a few rows per hundred events. Each job kind picks
its events by a rule on the event's id and type (release events are synced to dist-git,
branch pushes get Bodhi updates and Koji tag requests, some pull requests VM images), failed
Copr builds get a Log Detective analysis and some successful ones a scan. The first pipeline
of an event (and the pipeline of a Copr group, for Log Detective) links them.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Final

from resources.demo import (
    _at,
    _between,
    _copr_build_rows,
    _koji_url,
    _nvr,
    _pipeline_rows,
    _Plan,
    _project_names,
    _Row,
    _RowSource,
    _Skeleton,
)
from resources.models import ProjectEventType

__all__ = ["JOB_SOURCES"]

_RELEASE: Final = ProjectEventType.release.value
_PUSH: Final = ProjectEventType.branch_push.value
_PR: Final = ProjectEventType.pull_request.value
_SYNC_BRANCHES: Final = ("rawhide", "f41", "f40")
_BODHI_BRANCHES: Final = ("f41", "f40")
_FAILED: Final = frozenset({"failure", "error"})
_SCAN_EVERY: Final = 4  # every 4th successful Copr build is scanned


@dataclass
class _Jobs:
    """Which event (or Copr group) each job row belongs to, in id order."""

    sync_runs: list[int] = field(default_factory=list)      # event per sync release run
    bodhi_groups: list[int] = field(default_factory=list)   # event per Bodhi update group
    tag_groups: list[int] = field(default_factory=list)     # event per Koji tag request group
    vm_builds: list[int] = field(default_factory=list)      # event per VM image build
    failed_copr: list[_Row] = field(default_factory=list)   # Copr builds Log Detective read
    ld_groups: list[int] = field(default_factory=list)      # Copr group per Log Detective group
    scanned_copr: list[_Row] = field(default_factory=list)  # Copr builds OpenScanHub scanned


def _jobs(plan: _Plan, sk: _Skeleton) -> _Jobs:
    jobs = _Jobs()
    for event in range(1, plan.events + 1):
        kind = sk.event_types[event]
        if kind == _RELEASE:
            jobs.sync_runs.append(event)
        elif kind == _PUSH and event % 2 == 0:
            jobs.bodhi_groups.append(event)
        if kind == _PUSH and event % 3 == 0:
            jobs.tag_groups.append(event)
        if kind == _PR and event % 10 == 1:
            jobs.vm_builds.append(event)
    successes = 0
    for build in _copr_build_rows(plan, sk):
        if build["status"] in _FAILED and build["copr_build_group_id"] is not None:
            jobs.failed_copr.append(_slim(build))
            if not jobs.ld_groups or jobs.ld_groups[-1] != build["copr_build_group_id"]:
                jobs.ld_groups.append(build["copr_build_group_id"])
        elif build["status"] == "success":
            successes += 1
            if successes % _SCAN_EVERY == 1:
                jobs.scanned_copr.append(_slim(build))
    return jobs


def _slim(build: _Row) -> _Row:
    keys = ("id", "build_id", "target", "build_finished_time", "build_submitted_time",
            "copr_build_group_id", "status")
    return {key: build[key] for key in keys}


# The last load's jobs: every table below and the pipelines read the same ones, and the
# skeleton (lists, so unhashable) is the same object for all of one load.
_last: list[tuple[_Plan, _Skeleton, _Jobs]] = []


def _of(plan: _Plan, sk: _Skeleton) -> _Jobs:
    if not _last or _last[0][0] != plan or _last[0][1] is not sk:
        _last[:] = [(plan, sk, _jobs(plan, sk))]
    return _last[0][2]


def _repo(sk: _Skeleton, event: int) -> str:
    return _project_names(sk.event_projects[event])[1]


# -- project issues ----------------------------------------------------------------------------


def _issue_rows(plan: _Plan, _: _Skeleton) -> Iterator[_Row]:
    # Every other project has had an issue handled (e.g. `/packit propose-downstream`).
    for row, project in enumerate(range(2, plan.projects + 1, 2), 1):
        yield {"id": row, "issue_id": project * 3 + 1, "project_id": project}


# -- sync releases (propose-downstream, pull-from-upstream) ------------------------------------


def _sync_status(run: int) -> str:
    return "error" if run % 5 == 0 else "running" if run % 7 == 0 else "finished"


def _sync_run_rows(plan: _Plan, sk: _Skeleton) -> Iterator[_Row]:
    for run, event in enumerate(_of(plan, sk).sync_runs, 1):
        yield {
            "id": run,
            "status": _sync_status(run),
            "submitted_time": _at(sk.event_times[event] + 60),
            "job_type": "pull_from_upstream" if run % 3 == 0 else "propose_downstream",
            "project_event_id": event,
        }


def _sync_targets(plan: _Plan, sk: _Skeleton) -> Iterator[tuple[int, int, str, str, int]]:
    """(target id, run id, branch, status, event) of every sync release target."""
    target = 0
    for run, event in enumerate(_of(plan, sk).sync_runs, 1):
        run_status = _sync_status(run)
        for nth, branch in enumerate(_SYNC_BRANCHES[: 1 + run % 3]):
            target += 1
            if run_status == "finished":
                status = "submitted" if nth < 2 else "skipped"
            elif run_status == "error":
                status = "error" if nth == 0 else "submitted"
            else:
                status = "running" if nth == 0 else "queued"
            yield target, run, branch, status, event


def _sync_target_rows(plan: _Plan, sk: _Skeleton) -> Iterator[_Row]:
    rng = plan.rng("sync_release_run_targets")
    for target, run, branch, status, event in _sync_targets(plan, sk):
        submitted = sk.event_times[event] + 60
        started = None if status == "queued" else submitted + _between(rng, 5, 120)
        done = status not in ("queued", "running")
        finished = started + _between(rng, 60, 900) if done and started else None
        yield {
            "id": target,
            "branch": branch,
            "status": status,
            "submitted_time": _at(submitted),
            "start_time": _at(started) if started else None,
            "finished_time": _at(finished) if finished else None,
            "logs": _sync_logs(_repo(sk, event), branch, status) if done else None,
            "downstream_pr_url": _dist_git_pr(_repo(sk, event), target)
            if status == "submitted" else None,
            "sync_release_id": run,
        }


def _sync_logs(repo: str, branch: str, status: str) -> str:
    lines = [f"Cloning https://src.fedoraproject.org/rpms/{repo}", f"Checking out {branch}"]
    lines.append("Pull request created" if status == "submitted" else f"Sync {status}")
    return "\n".join(lines)


def _dist_git_pr(repo: str, target: int) -> str:
    return f"https://src.fedoraproject.org/rpms/{repo}/pull-request/{100 + target}"


def _sync_pull_request_rows(plan: _Plan, sk: _Skeleton) -> Iterator[_Row]:
    row = 0
    for target, _run, branch, status, event in _sync_targets(plan, sk):
        if status != "submitted":
            continue
        row += 1
        yield {
            "id": row,
            "pr_id": 100 + target,
            "project_id": None,  # dist-git projects are not among the demo's git projects
            "target_branch": branch,
            "url": _dist_git_pr(_repo(sk, event), target),
            "is_fast_forward": branch != "rawhide",
            "sync_release_target_id": target,
        }


# -- Bodhi updates and Koji tag requests (branch pushes) ---------------------------------------


def _bodhi_group_rows(plan: _Plan, sk: _Skeleton) -> Iterator[_Row]:
    for group, event in enumerate(_of(plan, sk).bodhi_groups, 1):
        yield {"id": group, "submitted_time": _at(sk.event_times[event] + 120),
               "project_event_id": event}


def _bodhi_target_rows(plan: _Plan, sk: _Skeleton) -> Iterator[_Row]:
    row = 0
    for group, event in enumerate(_of(plan, sk).bodhi_groups, 1):
        for nth, branch in enumerate(_BODHI_BRANCHES[: 1 + group % 2]):
            row += 1
            status = "error" if row % 6 == 0 else "queued" if row % 11 == 0 else "success"
            nvr = _nvr(sk, event, "fedora-41-x86_64" if nth == 0 else "fedora-40-x86_64")[0]
            alias = f"FEDORA-2024-{plan.sha('bodhi', row)[:10]}" if status == "success" else None
            submitted = sk.event_times[event] + 120 + nth
            yield {
                "id": row,
                "status": status,
                "target": branch,
                "web_url": f"https://bodhi.fedoraproject.org/updates/{alias}" if alias else None,
                "koji_nvrs": nvr,
                "sidetag": None,
                "alias": alias,
                "submitted_time": _at(submitted),
                "update_creation_time": _at(submitted + 300) if alias else None,
                "data": {"error": "Update for this build already exists."}
                if status == "error" else None,
                "bodhi_update_group_id": group,
            }


def _tag_group_rows(plan: _Plan, sk: _Skeleton) -> Iterator[_Row]:
    for group, event in enumerate(_of(plan, sk).tag_groups, 1):
        yield {"id": group, "submitted_time": _at(sk.event_times[event] + 90),
               "project_event_id": event}


def _tag_target_rows(plan: _Plan, sk: _Skeleton) -> Iterator[_Row]:
    for group, event in enumerate(_of(plan, sk).tag_groups, 1):
        task_id = str(120_000_000 + 7 * group)
        yield {
            "id": group,
            "task_id": task_id,
            "target": "f41",
            "web_url": _koji_url(task_id),
            "tag_request_submitted_time": _at(sk.event_times[event] + 90),
            "sidetag": f"f41-build-side-{1000 + group}",
            "nvr": _nvr(sk, event, "fedora-41-x86_64")[0],
            "koji_tag_request_group_id": group,
        }


# -- VM image builds (some pull requests) ------------------------------------------------------


def _vm_image_rows(plan: _Plan, sk: _Skeleton) -> Iterator[_Row]:
    statuses = ("success", "success", "building", "failure", "error")
    for build, event in enumerate(_of(plan, sk).vm_builds, 1):
        namespace, repo = _project_names(sk.event_projects[event])
        status = statuses[build % len(statuses)]
        submitted = sk.event_times[event] + 200
        yield {
            "id": build,
            "build_id": str(uuid.UUID(plan.sha("vm", build)[:32])),
            "project_url": f"https://github.com/{namespace}/{repo}",
            "project_name": f"{namespace}-{repo}-{event}",
            "owner": "packit",
            "status": status,
            "target": "fedora-41-x86_64",
            "pr_id": str(sk.event_targets[event]),
            "task_accepted_time": _at(submitted + 5),
            "submitted_time": _at(submitted),
            "build_start_time": _at(submitted + 30),
            "build_finished_time": None if status == "building" else _at(submitted + 1800),
            "data": None,
            "project_event_id": event,
        }


# -- OpenScanHub scans and Log Detective runs (Copr builds) ------------------------------------


def _scan_rows(plan: _Plan, sk: _Skeleton) -> Iterator[_Row]:
    statuses = ("succeeded", "succeeded", "succeeded", "failed", "running", "pending")
    for scan, build in enumerate(_of(plan, sk).scanned_copr, 1):
        task_id = 30_000 + scan
        status = statuses[scan % len(statuses)]
        done = status == "succeeded"
        base = f"https://openscanhub.fedoraproject.org/task/{task_id}"
        finished = build["build_finished_time"]
        yield {
            "id": scan,
            "task_id": task_id,
            "status": status,
            "url": f"{base}/",
            "issues_added_count": scan % 4 if done else None,
            "issues_added_url": f"{base}/log/added.html" if done else None,
            "issues_fixed_url": f"{base}/log/fixed.html" if done else None,
            "scan_results_url": f"{base}/log/scan-results.js" if done else None,
            "submitted_time": finished,
            "copr_build_target_id": build["id"],
        }


def _ld_group_rows(plan: _Plan, sk: _Skeleton) -> Iterator[_Row]:
    jobs = _of(plan, sk)
    first_build: dict[int, _Row] = {}
    for build in jobs.failed_copr:
        first_build.setdefault(build["copr_build_group_id"], build)
    for group, copr_group in enumerate(jobs.ld_groups, 1):
        yield {
            "id": group,
            "submitted_time": first_build[copr_group]["build_submitted_time"],
            "project_event_id": plan.event_of_copr_group(copr_group),
        }


def _ld_run_rows(plan: _Plan, sk: _Skeleton) -> Iterator[_Row]:
    rng = plan.rng("log_detective_run")
    jobs = _of(plan, sk)
    group_of = {copr_group: group for group, copr_group in enumerate(jobs.ld_groups, 1)}
    for run, build in enumerate(jobs.failed_copr, 1):
        status = "error" if run % 9 == 0 else "running" if run % 7 == 0 else "complete"
        yield {
            "id": run,
            "status": status,
            "identifier": None,
            "target_build": build["build_id"],
            "target": build["target"],
            "log_detective_response": _ld_response(run) if status == "complete" else None,
            "error_msg": "Log Detective is not reachable" if status == "error" else None,
            "submitted_time": build["build_submitted_time"],
            "analysis_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            "build_system": "copr",
            "copr_build_target_id": build["id"],
            "koji_build_target_id": None,
            "log_detective_run_group_id": group_of[build["copr_build_group_id"]],
        }


def _ld_response(run: int) -> _Row:
    no_issue = run % 8 == 0
    return {
        "explanation": {"text": "The build failed: a test in %check did not pass."},
        "no_issue_found": no_issue,
        "solution": None if no_issue else {"text": "Fix the failing test or skip it."},
        "snippets": None if no_issue else [{
            "text": "FAILED tests/test_api.py::test_parse - AssertionError",
            "line_number": 1000 + run,
            "source_file": "builder-live.log",
            "snippet_analysis": "A unit test failed during %check.",
        }],
    }


# -- pipelines, linking the jobs ---------------------------------------------------------------


def _linked_pipeline_rows(plan: _Plan, sk: _Skeleton) -> Iterator[_Row]:
    jobs = _of(plan, sk)
    per_event = {
        "sync_release_run_id": {event: n for n, event in enumerate(jobs.sync_runs, 1)},
        "bodhi_update_group_id": {event: n for n, event in enumerate(jobs.bodhi_groups, 1)},
        "koji_tag_request_group_id": {event: n for n, event in enumerate(jobs.tag_groups, 1)},
        "vm_image_build_id": {event: n for n, event in enumerate(jobs.vm_builds, 1)},
    }
    ld_of_copr = {copr_group: n for n, copr_group in enumerate(jobs.ld_groups, 1)}
    seen: set[int] = set()
    for row in _pipeline_rows(plan, sk):
        event = row["project_event_id"]
        first = event not in seen
        seen.add(event)
        for column, of_event in per_event.items():
            row[column] = of_event.get(event) if first else None
        row["log_detective_run_group_id"] = ld_of_copr.get(row["copr_build_group_id"])
        yield row


# Parents before children, and all before the pipelines (the last table written).
JOB_SOURCES: Final[tuple[tuple[str, _RowSource], ...]] = (
    ("project_issues", _issue_rows),
    ("sync_release_runs", _sync_run_rows),
    ("sync_release_run_targets", _sync_target_rows),
    ("sync_release_pull_request", _sync_pull_request_rows),
    ("bodhi_update_groups", _bodhi_group_rows),
    ("bodhi_update_targets", _bodhi_target_rows),
    ("koji_tag_request_groups", _tag_group_rows),
    ("koji_tag_request_targets", _tag_target_rows),
    ("vm_image_build_targets", _vm_image_rows),
    ("scans", _scan_rows),
    ("log_detective_run_groups", _ld_group_rows),
    ("log_detective_run", _ld_run_rows),
    ("pipelines", _linked_pipeline_rows),
)

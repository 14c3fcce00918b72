"""Deterministic demo data for the example CI-service tables.

The same ``scale`` and ``seed`` always give the same rows, on SQLite, PostgreSQL and MariaDB
alike: ids are explicit (autoincrement counters differ between databases), timestamps are
naive whole seconds from a fixed epoch, and every random choice comes from a ``random.Random``
seeded with the seed and the purpose of the draw. The API tests, the benchmark and
``crud demo-data`` rely on that.

The data carries the edge cases the API tests need: NULL foreign keys and timestamps,
duplicate timestamps, task ids with LIKE wildcards, and secrets that must never leak.

Run ``python -m resources.demo --database-url URL --scale N`` to fill a database by hand.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import random
import time
import uuid
from array import array
from collections.abc import Awaitable, Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import islice
from operator import itemgetter
from typing import Any, Final

from sqlalchemy import JSON, Table, insert, literal, null, select, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from resources.models import Base, BuildStatus, ProjectEventType

__all__ = ["create_schema", "create_search_indexes", "drop_schema", "load_demo_data"]

_Row = dict[str, Any]
_RowWriter = Callable[[AsyncConnection, Table, list[_Row]], Awaitable[None]]
# Yields the rows of one table, in id order.
_RowSource = Callable[["_Plan", "_Skeleton"], Iterator[_Row]]

# -- shape of the data -------------------------------------------------------------------------

EPOCH: Final = datetime(2023, 1, 2, 3, 4, 5)
# The whole history spans two years at every scale: a bigger scale means a busier CI.
_SPAN_SECONDS: Final = 2 * 365 * 24 * 3600
# Projects are created during the first tenth of the history, events fill the rest.
_EVENTS_START: Final = _SPAN_SECONDS // 10
# Share of clock ticks that do not move: keyset pagination needs duplicate timestamps.
_STANDSTILL_RATE: Final = 0.1

_PRS_PER_PROJECT: Final = 4
_BRANCHES_PER_PROJECT: Final = 2
_RELEASES_PER_PROJECT: Final = 3
_PER_PROJECT: Final = {
    ProjectEventType.pull_request.value: _PRS_PER_PROJECT,
    ProjectEventType.branch_push.value: _BRANCHES_PER_PROJECT,
    ProjectEventType.release.value: _RELEASES_PER_PROJECT,
}
# Every n-th test-run group runs without a Copr build, so it gets a pipeline of its own.
_TESTS_ONLY_EVERY: Final = 5

_NAMESPACES: Final = (
    "packit", "fedora-python", "rpm-software-management", "containers", "cockpit-project",
    "fedora-infra", "python-poetry", "systemd", "storaged-project", "candlepin", "osbuild",
    "keylime",
)  # fmt: skip
_REPOS: Final = (
    "ogr", "specfile", "packit-service", "requre", "dnf", "libdnf", "podman", "buildah",
    "cockpit", "anaconda", "bodhi", "fedmsg", "poetry-core", "udisks", "blivet", "tmt",
    "subscription-manager", "osbuild-composer", "python-copr", "fmf", "rpmlint", "mock",
    "createrepo_c", "libsolv", "skopeo", "toolbox", "python_utils", "hello-world",
)  # fmt: skip
_BRANCH_NAMES: Final = ("rawhide", "f41", "f40", "epel9", "stable", "release-1.x")
_PR_VERBS: Final = ("Fix", "Add", "Drop", "Refactor", "Document", "Speed up", "Test")
_PR_TOPICS: Final = (
    "spec file parsing", "Copr chroot handling", "the release workflow", "flaky tests",
    "Koji scratch builds", "the Python 3.13 support", "logging of webhooks", "CI config",
)  # fmt: skip
_PR_LABELS: Final = ("bug", "enhancement", "docs", "ci", "dependencies")
_TARGETS: Final = (
    "fedora-rawhide-x86_64", "fedora-rawhide-aarch64", "fedora-41-x86_64",
    "fedora-41-aarch64", "fedora-40-x86_64", "fedora-40-ppc64le", "epel-9-x86_64",
    "epel-9-aarch64", "epel-8-x86_64", "fedora-rawhide-s390x",
)  # fmt: skip
_DIST_TAGS: Final = {
    "fedora-rawhide": "fc42", "fedora-41": "fc41", "fedora-40": "fc40",
    "epel-9": "el9", "epel-8": "el8",
}  # fmt: skip
# Literal-match tests look these up: each holds LIKE wildcards, and some would match the
# others' patterns if the API forgot to escape them ("task-50%_a" matches 'task_50%_a').
_WILDCARD_TASK_IDS: Final = (
    "task_50%_a", "task-50%_a", "task_50xx_a", "task_50%_b", "task%", "50%", "a_b_c", "task_5",
)  # fmt: skip
_WILDCARD_EVERY: Final = 25
# Plain strings, looked up once: enum attribute access is slow in the per-row loops.
_PENDING: Final = BuildStatus.pending.value
_RUNNING: Final = BuildStatus.running.value
_SUCCESS: Final = BuildStatus.success.value
# Weighted like a real CI: mostly green, some red, a few still queued or running.
_STATUS_WHEEL: Final = (
    (_SUCCESS,) * 12
    + (BuildStatus.failure.value,) * 3
    + (BuildStatus.error.value,)
    + (_RUNNING,) * 2
    + (_PENDING,) * 2
)
_UNFINISHED: Final = frozenset({_PENDING, _RUNNING})


@dataclass(frozen=True)
class _Plan:
    """Row counts derived from the scale (the number of Koji builds)."""

    scale: int
    seed: int

    def __post_init__(self) -> None:
        if self.scale < 1:
            raise ValueError(f"scale must be at least 1, got {self.scale}")

    @property
    def projects(self) -> int:
        return max(5, self.scale // 200)

    @property
    def pull_requests(self) -> int:
        return self.projects * _PRS_PER_PROJECT

    @property
    def branches(self) -> int:
        return self.projects * _BRANCHES_PER_PROJECT

    @property
    def releases(self) -> int:
        return self.projects * _RELEASES_PER_PROJECT

    @property
    def events(self) -> int:
        # At least one of each event type, whatever the scale.
        return max(3, self.scale // 4)

    @property
    def koji_groups(self) -> int:
        return max(1, self.scale // 2)

    @property
    def koji_builds(self) -> int:
        return self.scale

    @property
    def copr_groups(self) -> int:
        return max(1, self.scale // 4)

    @property
    def copr_builds(self) -> int:
        return max(1, self.scale // 2)

    @property
    def test_groups(self) -> int:
        # Equal to the Copr groups: group n of each runs for the same event, so one pipeline
        # can hold both.
        return self.copr_groups

    @property
    def test_runs(self) -> int:
        return max(1, self.scale // 2)

    @property
    def srpm_builds(self) -> int:
        # One SRPM per Copr group: Copr builds start from it.
        return self.copr_groups

    def targets_of(self, kind: str) -> int:
        """How many rows an event of this type can point at."""
        return self.projects * _PER_PROJECT[kind]

    # Groups map onto events in order, so group and event times grow together.
    def event_of_koji_group(self, group: int) -> int:
        return _spread(group, self.koji_groups, self.events)

    def event_of_copr_group(self, group: int) -> int:
        return _spread(group, self.copr_groups, self.events)

    def event_of_test_group(self, group: int) -> int:
        return _spread(group, self.test_groups, self.events)

    def rng(self, purpose: str) -> random.Random:
        # A string seed is hashed with SHA-512, so it does not depend on PYTHONHASHSEED.
        return random.Random(f"{self.seed}:{purpose}")

    def sha(self, *parts: object) -> str:
        return hashlib.sha1(":".join(map(str, (self.seed, *parts))).encode()).hexdigest()


def _spread(child: int, children: int, parents: int) -> int:
    """Map child ids 1..children onto parent ids 1..parents in order, evenly."""
    return (child - 1) * parents // children + 1


def _at(seconds: int) -> datetime:
    return EPOCH + timedelta(seconds=seconds)


def _project_of(kind: str, target: int) -> int:
    """The project of the pull request, branch or release an event points at."""
    return (target - 1) // _PER_PROJECT[kind] + 1


def _project_names(project: int) -> tuple[str, str]:
    """(namespace, repo name) of a project: distinct for every id, so project_url is unique."""
    k = project - 1
    namespace = _NAMESPACES[k % len(_NAMESPACES)]
    r = k // len(_NAMESPACES)
    repo = _REPOS[r % len(_REPOS)]
    round_ = r // len(_REPOS)
    return namespace, repo if round_ == 0 else f"{repo}-{round_ + 1}"


# -- clocks ------------------------------------------------------------------------------------


def _between(rng: random.Random, low: int, high: int) -> int:
    """Like rng.randint(low, high), several times faster: the clocks call it for every row."""
    return low + int(rng.random() * (high - low + 1))


class _Clock:
    """Seconds after EPOCH that never go back and sometimes stand still."""

    def __init__(self, rng: random.Random, rows: int, start: int, span: int) -> None:
        self._rng = rng
        self._now = start
        # Steps are uniform in 1..max_step, so the rows fill about `span` seconds.
        self._max_step = max(1, 2 * span // rows)

    def tick(self) -> int:
        if self._rng.random() >= _STANDSTILL_RATE:
            self._now += _between(self._rng, 1, self._max_step)
        return self._now


class _Follower:
    """Times that trail a parent's time by a short delay and never go back.

    About as often as a _Clock stands still, a time repeats the previous one.
    """

    def __init__(self, rng: random.Random, max_delay: int) -> None:
        self._rng = rng
        self._max_delay = max_delay
        self._now = 0

    def after(self, parent: int) -> int:
        rng = self._rng
        if rng.random() < _STANDSTILL_RATE:
            self._now = max(self._now, parent)
        else:
            # At least one second on, or siblings of one parent would mostly share a time.
            self._now = max(self._now + 1, parent + _between(rng, 1, self._max_delay))
        return self._now


def _run_times(
    rng: random.Random, submitted: int, status: str
) -> tuple[datetime, datetime | None, datetime | None]:
    """Submitted, started and finished times consistent with the status."""
    if status == _PENDING:
        return _at(submitted), None, None
    started = submitted + _between(rng, 0, 300)
    if status == _RUNNING:
        return _at(submitted), _at(started), None
    return _at(submitted), _at(started), _at(started + _between(rng, 60, 5400))


# -- skeleton: what several tables must agree on -----------------------------------------------


@dataclass(frozen=True)
class _Skeleton:
    """Per-event and per-group facts shared by several tables.

    Every sequence has a placeholder at index 0, so it is indexed by row id.
    """

    event_types: list[str]
    event_targets: array[int]
    event_projects: array[int]
    event_times: array[int]
    event_shas: list[str | None]
    koji_group_times: array[int]
    copr_group_times: array[int]
    test_group_times: array[int]

    def repo_of_event(self, event: int) -> str:
        return _project_names(self.event_projects[event])[1]

    def copr_project(self, event: int) -> str:
        """The Copr project Packit builds an event in, e.g. "packit-ogr-1234"."""
        namespace, repo = _project_names(self.event_projects[event])
        return f"{namespace}-{repo}-{event}"


def _event_kind(rng: random.Random, event: int) -> str:
    # The first three events cover every type, so even the smallest scale has each.
    kinds = (
        ProjectEventType.pull_request.value,
        ProjectEventType.branch_push.value,
        ProjectEventType.release.value,
    )
    if event <= len(kinds):
        return kinds[event - 1]
    draw = rng.random()
    return kinds[0] if draw < 0.6 else kinds[1] if draw < 0.85 else kinds[2]


def _event_sha(plan: _Plan, event: int) -> str | None:
    sha = plan.sha("event", event)
    # About 3% of events have no commit (e.g. a release created from the web UI).
    return None if int(sha[:2], 16) < 8 else sha


def _build_skeleton(plan: _Plan) -> _Skeleton:
    rng = plan.rng("events")
    clock = _Clock(rng, plan.events, _EVENTS_START, _SPAN_SECONDS - _EVENTS_START)
    types, targets, projects, times = [""], array("q", [0]), array("q", [0]), array("q", [0])
    shas: list[str | None] = [None]
    for event in range(1, plan.events + 1):
        kind = _event_kind(rng, event)
        target = rng.randint(1, plan.targets_of(kind))
        types.append(kind)
        targets.append(target)
        projects.append(_project_of(kind, target))
        times.append(clock.tick())
        shas.append(_event_sha(plan, event))
    return _Skeleton(
        event_types=types,
        event_targets=targets,
        event_projects=projects,
        event_times=times,
        event_shas=shas,
        koji_group_times=_group_times(
            plan, "koji", plan.koji_groups, plan.event_of_koji_group, times
        ),
        copr_group_times=_group_times(
            plan, "copr", plan.copr_groups, plan.event_of_copr_group, times
        ),
        test_group_times=_group_times(
            plan, "test", plan.test_groups, plan.event_of_test_group, times
        ),
    )


def _group_times(
    plan: _Plan, kind: str, groups: int, event_of: Callable[[int], int], event_times: array[int]
) -> array[int]:
    """Submission times of groups: a few minutes after their event's time."""
    follower = _Follower(plan.rng(f"{kind}_group_times"), max_delay=300)
    times = array("q", [0])
    for group in range(1, groups + 1):
        times.append(follower.after(event_times[event_of(group)]))
    return times


# -- rows of each table ------------------------------------------------------------------------


def _project_rows(plan: _Plan, _: _Skeleton) -> Iterator[_Row]:
    rng = plan.rng("git_projects")
    clock = _Clock(rng, plan.projects, 0, _EVENTS_START)
    for project in range(1, plan.projects + 1):
        namespace, repo = _project_names(project)
        instance = "https://gitlab.com" if project % 8 == 5 else "https://github.com"
        yield {
            "id": project,
            "namespace": namespace,
            "repo_name": repo,
            "project_url": f"{instance}/{namespace}/{repo}",
            "instance_url": instance,
            "created_at": _at(clock.tick()),
            "webhook_secret": "SECRET-" + plan.sha("webhook_secret", project)[:32],
        }


def _pull_request_rows(plan: _Plan, _: _Skeleton) -> Iterator[_Row]:
    rng = plan.rng("pull_requests")
    for pr in range(1, plan.pull_requests + 1):
        project = (pr - 1) // _PRS_PER_PROJECT + 1
        yield {
            "id": pr,
            # Numbered per project like on a forge, so pr_id repeats across projects.
            "pr_id": (pr - 1) % _PRS_PER_PROJECT * 17 + project % 50 + 1,
            "title": f"{rng.choice(_PR_VERBS)} {rng.choice(_PR_TOPICS)}",
            "project_id": project,
            "labels": _pr_labels(pr),
        }


def _pr_labels(pr: int) -> list[str] | None:
    # From the number alone (no draw from the rng: the other columns stay as they were):
    # a spread of subsets, some empty lists and some NULLs.
    if pr % 13 == 0:
        return None
    bits = pr * 11 % 32
    return [label for index, label in enumerate(_PR_LABELS) if bits >> index & 1]


def _branch_rows(plan: _Plan, _: _Skeleton) -> Iterator[_Row]:
    for branch in range(1, plan.branches + 1):
        project = (branch - 1) // _BRANCHES_PER_PROJECT + 1
        nth = (branch - 1) % _BRANCHES_PER_PROJECT
        # Every project has "main"; the others vary, so names repeat across projects.
        name = "main" if nth == 0 else _BRANCH_NAMES[(project + nth) % len(_BRANCH_NAMES)]
        yield {"id": branch, "name": name, "project_id": project}


def _release_rows(plan: _Plan, _: _Skeleton) -> Iterator[_Row]:
    for release in range(1, plan.releases + 1):
        project = (release - 1) // _RELEASES_PER_PROJECT + 1
        nth = (release - 1) % _RELEASES_PER_PROJECT
        prefix = "v" if project % 3 == 0 else ""
        yield {
            "id": release,
            "tag_name": f"{prefix}{project % 4}.{nth + project % 7}.0",
            "commit_hash": plan.sha("release", release),
            "project_id": project,
        }


def _event_rows(plan: _Plan, sk: _Skeleton) -> Iterator[_Row]:
    for event in range(1, plan.events + 1):
        yield {
            "id": event,
            "type": sk.event_types[event],
            "event_id": sk.event_targets[event],
            "commit_sha": sk.event_shas[event],
            "created_at": _at(sk.event_times[event]),
        }


def _group_rows(count: int, times: array[int], event_of: Callable[[int], int]) -> Iterator[_Row]:
    for group in range(1, count + 1):
        yield {
            "id": group,
            "submitted_time": _at(times[group]),
            "project_event_id": event_of(group),
        }


def _koji_group_rows(plan: _Plan, sk: _Skeleton) -> Iterator[_Row]:
    return _group_rows(plan.koji_groups, sk.koji_group_times, plan.event_of_koji_group)


def _copr_group_rows(plan: _Plan, sk: _Skeleton) -> Iterator[_Row]:
    return _group_rows(plan.copr_groups, sk.copr_group_times, plan.event_of_copr_group)


def _test_group_rows(plan: _Plan, sk: _Skeleton) -> Iterator[_Row]:
    return _group_rows(plan.test_groups, sk.test_group_times, plan.event_of_test_group)


def _srpm_rows(plan: _Plan, sk: _Skeleton) -> Iterator[_Row]:
    rng = plan.rng("srpm_builds")
    follower = _Follower(rng, max_delay=120)
    for srpm in range(1, plan.srpm_builds + 1):
        event = plan.event_of_copr_group(srpm)
        status = rng.choice(_STATUS_WHEEL)
        submitted, started, finished = _run_times(
            rng, follower.after(sk.copr_group_times[srpm]), status
        )
        yield {
            "id": srpm,
            "status": status,
            "build_submitted_time": None if rng.random() < 0.03 else submitted,
            "build_start_time": started,
            "build_finished_time": finished,
            "commit_sha": sk.event_shas[event],
            "url": _srpm_url(sk.copr_project(event), srpm) if status == _SUCCESS else None,
            "logs": _srpm_logs(status, sk.repo_of_event(event)),
            # From the id alone (no draw): the columns above keep their values.
            **_srpm_copr_columns(sk.copr_project(event), srpm, status),
        }


def _srpm_url(project: str, srpm: int) -> str:
    return (
        "https://download.copr.fedorainfracloud.org/results/packit/"
        f"{project}/srpm-builds/{srpm:08d}/"
    )


def _srpm_copr_columns(project: str, srpm: int, status: str) -> _Row:
    """Where Copr built the SRPM: its build id, page and log (none while pending)."""
    if status == _PENDING:
        return {"logs_url": None, "copr_build_id": None, "copr_web_url": None}
    build_id = str(6_000_000 + srpm)
    return {
        "logs_url": f"{_srpm_url(project, srpm)}builder-live.log.gz",
        "copr_build_id": build_id,
        "copr_web_url": _copr_url(build_id),
    }


def _srpm_logs(status: str, repo: str) -> str | None:
    if status in _UNFINISHED:
        return None
    lines = [f"Cloning {repo}", "Running rpmbuild -bs", f"Wrote: {repo}.src.rpm"]
    if status != _SUCCESS:
        lines[-1] = "error: Bad source: the archive is missing"
    return "\n".join(lines)


def _koji_task_id(rng: random.Random, build: int, status: str) -> str | None:
    if build % _WILDCARD_EVERY == 5:
        return _WILDCARD_TASK_IDS[build // _WILDCARD_EVERY % len(_WILDCARD_TASK_IDS)]
    if status == _PENDING and rng.random() < 0.5:
        return None  # not handed to Koji yet
    return str(100_000_000 + 3 * build + rng.randint(0, 2))


def _nvr(sk: _Skeleton, event: int, target: str) -> tuple[str, str]:
    """(package NVR, architecture) built for an event on a target."""
    chroot, arch = target.rsplit("-", 1)
    version = f"{event % 5}.{event % 41}.{event % 7}"
    return f"{sk.repo_of_event(event)}-{version}-1.{_DIST_TAGS[chroot]}", arch


def _koji_data(rng: random.Random, sk: _Skeleton, event: int, target: str) -> _Row | None:
    if rng.random() < 0.5:
        return None
    nvr, arch = _nvr(sk, event, target)
    return {"arch": arch, "nvr": nvr, "attempt": rng.randint(1, 3), "sidetag": None}


def _koji_build_rows(plan: _Plan, sk: _Skeleton) -> Iterator[_Row]:
    rng = plan.rng("koji_build_targets")
    follower = _Follower(rng, max_delay=900)
    for build in range(1, plan.koji_builds + 1):
        group = _spread(build, plan.koji_builds, plan.koji_groups)
        event = plan.event_of_koji_group(group)
        status = rng.choice(_STATUS_WHEEL)
        target = rng.choice(_TARGETS)
        task_id = _koji_task_id(rng, build, status)
        submitted, started, finished = _run_times(
            rng, follower.after(sk.koji_group_times[group]), status
        )
        has_web_url = task_id is not None and rng.random() >= 0.05
        yield {
            "id": build,
            "task_id": task_id,
            "commit_sha": sk.event_shas[event],
            "status": status,
            "target": target,
            "web_url": _koji_url(task_id) if has_web_url else None,
            "build_logs_url": _koji_logs_url(task_id, status),
            **_koji_packit_columns(target, _koji_logs_url(task_id, status), task_id),
            "build_submitted_time": None if rng.random() < 0.05 else submitted,
            "build_start_time": started,
            "build_finished_time": finished,
            "scratch": rng.random() < 0.1,
            "data": _koji_data(rng, sk, event, target),
            "koji_build_group_id": None if rng.random() < 0.05 else group,
        }


def _koji_packit_columns(target: str, logs_url: str | None, task_id: str | None) -> _Row:
    # From the other columns (no draw): Packit's per-architecture logs and submission output.
    return {
        "build_logs_urls": {target.rsplit("-", 1)[1]: logs_url} if logs_url else None,
        "build_submission_stdout": f"Created task: {task_id}" if task_id else None,
    }


def _koji_url(task_id: str | None) -> str:
    return f"https://koji.fedoraproject.org/koji/taskinfo?taskID={task_id}"


def _koji_logs_url(task_id: str | None, status: str) -> str | None:
    if task_id is None or status in _UNFINISHED:
        return None
    return f"https://kojipkgs.fedoraproject.org/work/tasks/{task_id[-4:]}/{task_id}/build.log"


def _built_packages(sk: _Skeleton, event: int, target: str) -> list[_Row]:
    nvr, arch = _nvr(sk, event, target)
    name, version, release = nvr.rsplit("-", 2)
    return [
        {"name": name, "epoch": 0, "version": version, "release": release, "arch": arch},
        {"name": name, "epoch": 0, "version": version, "release": release, "arch": "src"},
    ]


def _copr_build_rows(plan: _Plan, sk: _Skeleton) -> Iterator[_Row]:
    rng = plan.rng("copr_build_targets")
    times = plan.rng("copr_build_times")
    follower = _Follower(rng, max_delay=600)
    for build in range(1, plan.copr_builds + 1):
        group = _spread(build, plan.copr_builds, plan.copr_groups)
        event = plan.event_of_copr_group(group)
        status = rng.choice(_STATUS_WHEEL)
        target = rng.choice(_TARGETS)
        build_id = str(7_000_000 + 2 * build + rng.randint(0, 1))
        success = status == _SUCCESS
        submitted = follower.after(sk.copr_group_times[group])
        # Drawn from a generator of their own: the older columns keep their values.
        _, started, finished = _run_times(times, submitted, status)
        yield {
            "id": build,
            "build_id": build_id,
            "commit_sha": sk.event_shas[event],
            "status": status,
            "target": target,
            "owner": "packit",
            "project_name": sk.copr_project(event),
            "web_url": _copr_url(build_id) if rng.random() >= 0.05 else None,
            "build_logs_url": _copr_logs_url(build_id, target) if started else None,
            "build_submitted_time": _at(submitted),
            "build_start_time": started,
            "build_finished_time": finished,
            "built_packages": _built_packages(sk, event, target) if success else None,
            "copr_build_group_id": None if rng.random() < 0.03 else group,
        }


def _copr_url(build_id: str) -> str:
    return f"https://copr.fedorainfracloud.org/coprs/build/{build_id}/"


def _copr_logs_url(build_id: str, target: str) -> str:
    return (
        "https://download.copr.fedorainfracloud.org/results/packit/"
        f"{target}/{int(build_id):08d}/builder-live.log.gz"
    )


def _test_run_rows(plan: _Plan, sk: _Skeleton) -> Iterator[_Row]:
    rng = plan.rng("tft_test_run_targets")
    follower = _Follower(rng, max_delay=1800)
    for run in range(1, plan.test_runs + 1):
        group = _spread(run, plan.test_runs, plan.test_groups)
        status = rng.choice(_STATUS_WHEEL)
        pipeline_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        queued = status == _PENDING
        submitted = follower.after(sk.test_group_times[group])
        yield {
            "id": run,
            "pipeline_id": None if queued else pipeline_id,
            "commit_sha": sk.event_shas[plan.event_of_test_group(group)],
            "status": status,
            "target": rng.choice(_TARGETS),
            "web_url": None if queued else f"https://artifacts.dev.testing-farm.io/{pipeline_id}",
            "submitted_time": None if rng.random() < 0.03 else _at(submitted),
            "tft_test_run_group_id": None if rng.random() < 0.03 else group,
        }


class _GroupCursor:
    """Walks group ids in order, handing out those that belong to a given event."""

    def __init__(self, groups: int, event_of: Callable[[int], int]) -> None:
        self._next = 1
        self._groups = groups
        self._event_of = event_of

    def take(self, event: int) -> list[int]:
        taken = []
        while self._next <= self._groups and self._event_of(self._next) == event:
            taken.append(self._next)
            self._next += 1
        return taken


def _pipeline_rows(plan: _Plan, sk: _Skeleton) -> Iterator[_Row]:
    # Walk the events in order so pipeline ids and times grow together.
    koji = _GroupCursor(plan.koji_groups, plan.event_of_koji_group)
    copr = _GroupCursor(plan.copr_groups, plan.event_of_copr_group)
    tests = _GroupCursor(plan.test_groups, plan.event_of_test_group)
    follower = _Follower(plan.rng("pipelines"), max_delay=60)
    pipeline = 0
    for event in range(1, plan.events + 1):
        for links in _pipeline_links(koji.take(event), copr.take(event), tests.take(event)):
            pipeline += 1
            yield {
                "id": pipeline,
                "datetime": _at(follower.after(_pipeline_base_time(sk, links))),
                "project_event_id": event,
                **links,
            }


def _pipeline_links(koji: list[int], copr: list[int], tests: list[int]) -> Iterator[_Row]:
    """Foreign keys of an event's pipelines: one per Koji group, Copr group, lone test group."""
    for group in koji:
        yield _links(koji=group)
    for group in copr:
        # Copr group n, its SRPM n and test group n ran together.
        tested = group if group % _TESTS_ONLY_EVERY else None
        yield _links(srpm=group, copr=group, test=tested)
    for group in tests:
        if group % _TESTS_ONLY_EVERY == 0:
            yield _links(test=group)


def _links(
    *, srpm: int | None = None, koji: int | None = None,
    copr: int | None = None, test: int | None = None,
) -> _Row:  # fmt: skip
    return {
        "srpm_build_id": srpm,
        "koji_build_group_id": koji,
        "copr_build_group_id": copr,
        "test_run_group_id": test,
    }


def _pipeline_base_time(sk: _Skeleton, links: _Row) -> int:
    if links["koji_build_group_id"] is not None:
        return sk.koji_group_times[links["koji_build_group_id"]]
    if links["copr_build_group_id"] is not None:
        return sk.copr_group_times[links["copr_build_group_id"]]
    return sk.test_group_times[links["test_run_group_id"]]


# Parents before children, so foreign keys hold whenever a table is written.
_SOURCES: Final[tuple[tuple[str, _RowSource], ...]] = (
    ("git_projects", _project_rows),
    ("pull_requests", _pull_request_rows),
    ("git_branches", _branch_rows),
    ("project_releases", _release_rows),
    ("project_events", _event_rows),
    ("srpm_builds", _srpm_rows),
    ("koji_build_groups", _koji_group_rows),
    ("koji_build_targets", _koji_build_rows),
    ("copr_build_groups", _copr_group_rows),
    ("copr_build_targets", _copr_build_rows),
    ("tft_test_run_groups", _test_group_rows),
    ("tft_test_run_targets", _test_run_rows),
    ("pipelines", _pipeline_rows),
)


# -- writing -----------------------------------------------------------------------------------


def _json_columns(table: Table) -> list[str]:
    return [column.name for column in table.columns if isinstance(column.type, JSON)]


async def _insert_rows(conn: AsyncConnection, table: Table, rows: list[_Row]) -> None:
    json_columns = _json_columns(table)
    for row in rows:
        # The models' JSON columns store a Python None as the JSON text 'null'; null() makes
        # it SQL NULL, as COPY does, so "IS NULL" filters find these rows on every database.
        for name in json_columns:
            if row[name] is None:
                row[name] = null()
    # An executemany: SQLAlchemy batches it (insertmanyvalues or the driver's own batching).
    await conn.execute(insert(table), rows)


async def _copy_rows(conn: AsyncConnection, table: Table, rows: list[_Row]) -> None:
    """Write rows with asyncpg's binary COPY: about twice as fast as INSERTs here."""
    # Not a JSON column on PostgreSQL (pull_requests.labels is a native array there).
    json_columns = [name for name in _json_columns(table)
                    if isinstance(table.c[name].type.dialect_impl(conn.dialect), JSON)]
    for row in rows:
        # What SQLAlchemy's JSON type would send (json.dumps), so both paths store the
        # same text; the dialect's asyncpg codec takes JSON as str. None stays SQL NULL.
        for name in json_columns:
            if row[name] is not None:
                row[name] = json.dumps(row[name])
    names = [c.name for c in table.columns]
    as_record = itemgetter(*names)
    driver = (await conn.get_raw_connection()).driver_connection
    if driver is None:  # only a closed connection has none
        raise RuntimeError("the PostgreSQL connection is closed")
    # COPY runs inside the transaction SQLAlchemy began for _ensure_empty's SELECT.
    await driver.copy_records_to_table(
        table.name, records=[as_record(row) for row in rows], columns=names
    )


def _batches(rows: Iterable[_Row], size: int) -> Iterator[list[_Row]]:
    iterator = iter(rows)
    while batch := list(islice(iterator, size)):
        yield batch


async def _write_batches(
    conn: AsyncConnection, table: Table, rows: Iterable[_Row], write: _RowWriter, size: int
) -> int:
    """Write rows in batches, so memory stays flat at any scale; return how many."""
    written = 0
    for batch in _batches(rows, size):
        await write(conn, table, batch)
        written += len(batch)
    return written


async def _ensure_empty(conn: AsyncConnection, table: Table) -> None:
    # Explicit ids would collide with existing rows halfway through; fail early and clearly.
    if await conn.scalar(select(literal(1)).select_from(table).limit(1)) is not None:
        raise ValueError(f"table {table.name} already has rows; demo data needs empty tables")


async def _fill_table(engine: AsyncEngine, table: Table, rows: Iterable[_Row]) -> int:
    """Insert all rows of one table in one transaction; return how many."""
    # MariaDB: keeps each statement well under the default max_allowed_packet (16 MiB).
    size = 2_000 if engine.dialect.name in ("mysql", "mariadb") else 10_000
    async with engine.begin() as conn:
        await _ensure_empty(conn, table)
        return await _write_batches(conn, table, rows, _insert_rows, size)


# Plain (not unique) indexes and foreign keys, with the DDL that recreates them.
_PLAIN_INDEXES: Final = text(
    "SELECT i.oid::regclass::text, pg_get_indexdef(i.oid)"
    " FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid"
    " WHERE x.indrelid = to_regclass(:table) AND NOT x.indisunique ORDER BY 1"
)
_FOREIGN_KEYS: Final = text(
    "SELECT quote_ident(conname), pg_get_constraintdef(oid)"
    " FROM pg_constraint WHERE conrelid = to_regclass(:table) AND contype = 'f' ORDER BY 1"
)


async def _set_aside(conn: AsyncConnection, tables: Sequence[Table]) -> list[str]:
    """Drop the tables' plain indexes and foreign keys; return the DDL that restores them.

    During COPY PostgreSQL checks every foreign key and updates every index row by row;
    building them once afterwards halves a million-build load. The definitions come from
    the catalog, so whatever created the tables gets back exactly what it had.
    """
    restore: list[str] = []
    for table in tables:
        name = conn.dialect.identifier_preparer.format_table(table)
        for index, definition in (await conn.execute(_PLAIN_INDEXES, {"table": name})).all():
            await conn.execute(text(f"DROP INDEX {index}"))
            restore.append(definition)
        for constraint, definition in (await conn.execute(_FOREIGN_KEYS, {"table": name})).all():
            await conn.execute(text(f"ALTER TABLE {name} DROP CONSTRAINT {constraint}"))
            restore.append(f"ALTER TABLE {name} ADD CONSTRAINT {constraint} {definition}")
    return restore


async def _load_postgresql(
    engine: AsyncEngine, sources: Sequence[tuple[Table, Iterator[_Row]]]
) -> dict[str, int]:
    """COPY every table in one transaction, with indexes and foreign keys set aside.

    PostgreSQL's DDL is transactional: if anything fails, the rollback restores them too.
    """
    tables = [table for table, _ in sources]
    async with engine.begin() as conn:
        for table in tables:
            await _ensure_empty(conn, table)
        restore = await _set_aside(conn, tables)
        counts = {
            table.name: await _write_batches(conn, table, rows, _copy_rows, 20_000)
            for table, rows in sources
        }
        for statement in restore:
            await conn.execute(text(statement))
    await _finish_postgresql(engine, counts)
    return counts


async def _finish_postgresql(engine: AsyncEngine, counts: dict[str, int]) -> None:
    """Move the id sequences past the explicit ids and refresh the planner's statistics."""
    async with engine.begin() as conn:
        for name, count in counts.items():
            await conn.execute(
                # An empty table (a small scale has no job of some kind) starts at 1.
                text("SELECT setval(pg_get_serial_sequence(:table, 'id'), "
                     "GREATEST(:last, 1), :used)"),
                {"table": name, "last": count, "used": count > 0},
            )
        quote = conn.dialect.identifier_preparer.quote
        # The bulk load leaves no statistics; without them the first benchmark queries
        # would be planned blind.
        await conn.execute(text("ANALYZE " + ", ".join(quote(name) for name in counts)))


# -- full-text search ---------------------------------------------------------------------------

# registry.yaml searches pull request titles by full text: each database needs its own index
# for that, made once the rows are in (PostgreSQL's must be the expression the API matches,
# 'simple' configuration; MariaDB's MATCH needs a FULLTEXT index on exactly the searched
# columns; SQLite reads an FTS5 table whose rowid is the pull request's id).
_SEARCH_INDEXES: Final = {
    "postgresql": [
        "CREATE INDEX IF NOT EXISTS ix_pull_requests_full_text ON pull_requests "
        "USING gin (to_tsvector('simple'::regconfig, coalesce(title, '')))",
    ],
    "mysql": ["CREATE FULLTEXT INDEX IF NOT EXISTS ix_pull_requests_full_text "
              "ON pull_requests (title)"],
    "sqlite": [
        "CREATE VIRTUAL TABLE IF NOT EXISTS pull_requests_fts USING fts5(title, "
        "content='pull_requests', content_rowid='id')",
        "INSERT INTO pull_requests_fts(pull_requests_fts) VALUES ('rebuild')",
    ],
}
_FTS_TABLES: Final = ("pull_requests_fts",)


async def create_search_indexes(engine: AsyncEngine) -> None:
    """The full-text indexes registry.yaml's searches need (after the rows are loaded)."""
    dialect = "mysql" if engine.dialect.name == "mariadb" else engine.dialect.name
    async with engine.begin() as conn:
        for statement in _SEARCH_INDEXES[dialect]:
            await conn.execute(text(statement))


# -- public API --------------------------------------------------------------------------------


async def create_schema(engine: AsyncEngine) -> None:
    """Create the example tables (and PostgreSQL enum types) that do not exist yet."""
    async with engine.begin() as conn:
        await conn.run_sync(Base.metadata.create_all)


async def drop_schema(engine: AsyncEngine) -> None:
    """Drop the example tables (and PostgreSQL enum types) that exist."""
    async with engine.begin() as conn:
        if engine.dialect.name == "sqlite":  # FTS5 tables are no part of the models
            for name in _FTS_TABLES:
                await conn.execute(text(f"DROP TABLE IF EXISTS {name}"))
        await conn.run_sync(Base.metadata.drop_all)


async def load_demo_data(
    engine: AsyncEngine, scale: int = 1000, *, seed: int = 7
) -> dict[str, int]:
    """Create the schema if missing and fill every table with deterministic demo data.

    ``scale`` is the number of Koji builds; the other tables are sized from it. The tables
    must be empty. PostgreSQL gets everything in one transaction; elsewhere each table is
    written in a transaction of its own, so a failure leaves the tables written before it
    filled. Returns the rows written per table, in loading order.
    """
    from resources.demo_jobs import JOB_SOURCES  # it builds on this module's helpers

    plan = _Plan(scale, seed)
    await create_schema(engine)
    skeleton = _build_skeleton(plan)
    # The later job kinds go in before the pipelines, which link them.
    ordered = (*_SOURCES[:-1], *JOB_SOURCES)
    # Generators: each table's rows are made only while that table is written.
    sources = [(Base.metadata.tables[name], rows(plan, skeleton)) for name, rows in ordered]
    if engine.dialect.name == "postgresql":
        counts = await _load_postgresql(engine, sources)
    else:
        counts = {table.name: await _fill_table(engine, table, rows) for table, rows in sources}
    await create_search_indexes(engine)
    return counts


# -- command line ------------------------------------------------------------------------------


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Load deterministic demo data.")
    parser.add_argument("--database-url", required=True, help="async SQLAlchemy URL")
    parser.add_argument("--scale", type=int, default=1000, help="number of Koji builds")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--drop-first", action="store_true", help="drop the example tables before loading"
    )
    return parser.parse_args(argv)


async def _run_cli(args: argparse.Namespace) -> None:
    engine = create_async_engine(args.database_url)
    try:
        if args.drop_first:
            await drop_schema(engine)
        started = time.perf_counter()
        counts = await load_demo_data(engine, args.scale, seed=args.seed)
        elapsed = time.perf_counter() - started
    finally:
        await engine.dispose()
    for name, count in counts.items():
        print(f"{name:24} {count:>10}")
    print(f"{'total':24} {sum(counts.values()):>10}")
    print(f"loaded in {elapsed:.1f} s")


if __name__ == "__main__":
    asyncio.run(_run_cli(_parse_args(None)))

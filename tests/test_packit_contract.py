"""The contract Packit's dashboard relies on, served by examples/packit/registry.yaml.

One test per URL the dashboard calls (packit/dashboard, frontend/src/queries/*): the status
code, headers and JSON shape the old Flask API sends for it (packit_service/service/api/*.py),
with the fields and types the dashboard's interfaces read (frontend/src/apiDefinitions.ts).
The expectations come from those two sources, not from what this API happens to answer.
docs/packit.md lists every URL with the registry entry serving it.

URLs that need an engine feature not yet in the product are marked ``xfail(strict=True)``
with the missing feature as the reason: path-shaped routes and old error bodies (the
`routes` work), items gathered from several rows (the `grouped` work).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from conftest import ROOT, Api, Database

EXAMPLE = ROOT / "examples" / "packit" / "registry.yaml"
NEEDS_ROUTES = "needs path-shaped routes (routes branch)"
NEEDS_ERRORS = "needs the legacy profile's old error body {'error': ...} (routes branch)"
NEEDS_GROUPED = "needs grouped items (grouped branch)"

# A type as the dashboard's TypeScript says it, with the nulls the old API sends
# (optional_timestamp, nullable columns, get_pr_id() of a branch push, ...).
INT, STR, BOOL = (int,), (str,), (bool,)
INT_N, STR_N, BOOL_N = (int, type(None)), (str, type(None)), (bool, type(None))
LIST, DICT, DICT_N = (list,), (dict,), (dict, type(None))

# get_project_info_from_build(): what every job detail carries about its trigger.
TRIGGER = {
    "pr_id": INT_N, "issue_id": INT_N, "branch_name": STR_N, "release": STR_N,
    "project_url": STR_N, "repo_namespace": STR_N, "repo_name": STR_N,
    "anitya_version": STR_N, "anitya_project_id": INT_N, "anitya_project_name": STR_N,
    "anitya_package": STR_N, "non_git_upstream": BOOL,
}
# The list items' shorter trigger (only where a project is known, in the old API).
PROJECT = {"pr_id": INT_N, "branch_name": STR_N, "project_url": STR_N,
           "repo_namespace": STR_N, "repo_name": STR_N}

KOJI_BUILD_GROUP = {
    "packit_id": INT, "task_id": STR_N, "scratch": BOOL, "status": STR,
    "build_submitted_time": INT_N, "chroot": STR, "web_url": STR_N,
    "build_logs_urls": DICT_N, "release": STR_N, **PROJECT,
}
KOJI_BUILD = {
    "task_id": STR_N, "status": STR, "chroot": STR, "scratch": BOOL,
    "build_start_time": INT_N, "build_finished_time": INT_N, "build_submitted_time": INT_N,
    "commit_sha": STR_N, "web_url": STR_N, "build_logs_urls": DICT_N, "run_ids": LIST,
    "build_submission_stdout": STR_N, "error_message": STR_N, **TRIGGER,
}
COPR_BUILD_GROUP = {
    "packit_id": INT, "project": STR, "build_id": STR, "status_per_chroot": DICT,
    "packit_id_per_chroot": DICT, "build_submitted_time": INT_N, "web_url": STR_N,
    "ref": STR_N, **PROJECT,
}
COPR_BUILD = {
    "build_id": STR, "status": STR, "chroot": STR, "build_submitted_time": INT_N,
    "build_start_time": INT_N, "build_finished_time": INT_N, "commit_sha": STR_N,
    "web_url": STR_N, "build_logs_url": STR_N, "copr_project": STR, "copr_owner": STR,
    "srpm_build_id": INT_N, "run_ids": LIST, "built_packages": (list, type(None)), **TRIGGER,
}
SRPM_BUILD_GROUP = {"srpm_build_id": INT, "status": STR, "log_url": STR,
                    "build_submitted_time": INT_N, **PROJECT}
SRPM_BUILD = {
    "status": STR, "build_submitted_time": INT_N, "build_start_time": INT_N,
    "build_finished_time": INT_N, "url": STR_N, "logs": STR_N, "logs_url": STR_N,
    "copr_build_id": STR_N, "copr_web_url": STR_N, "run_ids": LIST, **TRIGGER,
}
TAG_REQUEST_GROUP = {
    "packit_id": INT, "task_id": STR_N, "tag_request_submitted_time": INT_N, "chroot": STR,
    "sidetag": STR_N, "nvr": STR_N, "web_url": STR_N, "release": STR_N, **PROJECT,
}
TAG_REQUEST = {
    "task_id": STR_N, "chroot": STR, "sidetag": STR_N, "nvr": STR_N,
    "tag_request_submitted_time": INT_N, "commit_sha": STR_N, "web_url": STR_N,
    "run_ids": LIST, **TRIGGER,
}
BODHI_UPDATE_GROUP = {
    "packit_id": INT, "status": STR, "branch": STR, "web_url": STR_N, "koji_nvrs": STR_N,
    "alias": STR_N, "release": STR_N, "submitted_time": INT_N,
    "update_creation_time": INT_N, **PROJECT,
}
BODHI_UPDATE = {
    "status": STR, "branch": STR, "web_url": STR_N, "koji_nvrs": STR_N, "alias": STR_N,
    "submitted_time": INT_N, "update_creation_time": INT_N, "run_ids": LIST,
    "error_message": STR_N, **TRIGGER,
}
TEST_RUN_GROUP = {
    "packit_id": INT, "pipeline_id": STR_N, "ref": STR_N, "status": STR, "target": STR,
    "web_url": STR_N, "pr_id": INT_N, "submitted_time": INT_N, "repo_namespace": STR_N,
    "repo_name": STR_N, "project_url": STR_N,
}
TEST_RUN = {
    "pipeline_id": STR_N, "status": STR, "chroot": STR, "commit_sha": STR_N, "web_url": STR_N,
    "copr_build_ids": LIST, "koji_build_ids": LIST, "run_ids": LIST, "submitted_time": INT_N,
    **TRIGGER,
}
SCAN = {
    "task_id": INT_N, "status": STR_N, "url": STR_N, "issues_added_count": INT_N,
    "issues_added_url": STR_N, "issues_fixed_url": STR_N, "scan_results_url": STR_N,
    "copr_build_target_id": INT_N, "submitted_time": INT_N, **TRIGGER,
}
LOG_DETECTIVE = {
    "packit_id": INT, "analysis_id": STR, "status": STR, "chroot": STR_N, "commit_sha": STR_N,
    "log_detective_response": DICT_N, "error_msg": STR_N, "target_build": STR_N,
    "run_ids": LIST, "submitted_time": INT_N, **TRIGGER,
}
LOG_DETECTIVE_GROUP = {"submitted_time": INT_N, "run_ids": LIST,
                       "log_detective_target_ids": LIST, **TRIGGER}
SYNC_RELEASE_GROUP = {
    "packit_id": INT, "status": STR, "submitted_time": INT_N, "status_per_downstream_pr": DICT,
    "packit_id_per_downstream_pr": DICT, "pr_id": INT_N, "issue_id": INT_N, "release": STR_N,
    "anitya_version": STR_N, "repo_namespace": STR_N, "repo_name": STR_N, "project_url": STR_N,
    "non_git_upstream": BOOL,
}
SYNC_RELEASE = {
    "status": STR, "branch": STR, "downstream_prs": LIST, "downstream_pr_project": STR_N,
    "submitted_time": INT_N, "start_time": INT_N, "finished_time": INT_N, "logs": STR_N,
    **TRIGGER,
}
PIPELINE_ITEM_LISTS = ("copr", "koji", "test_run", "propose_downstream", "pull_from_upstream",
                       "bodhi_update", "vm_image_build")
RUN = {"merged_run_id": INT, "time_submitted": INT_N, "srpm": DICT_N, "trigger": DICT_N,
       **{name: LIST for name in PIPELINE_ITEM_LISTS}}
PROJECT_ITEM = {"namespace": STR, "repo_name": STR, "project_url": STR, "prs_handled": INT,
                "branches_handled": INT, "releases_handled": INT, "issues_handled": INT}
PROJECT_PR = {"pr_id": INT, "builds": LIST, "koji_builds": LIST, "srpm_builds": LIST,
              "tests": LIST}
PROJECT_BRANCH = {"branch": STR, "builds": LIST, "koji_builds": LIST, "srpm_builds": LIST,
                  "tests": LIST}
PROJECT_RELEASE = {"tag_name": STR, "commit_hash": STR_N}


def xfail(reason: str) -> Any:
    return pytest.mark.xfail(strict=True, reason=reason)


@pytest.fixture
async def packit(demo_db: Database, make_api: Callable[..., Any]) -> Api:
    api: Api = await make_api(EXAMPLE.read_text(encoding="utf-8"), demo_db.url, demo_db.backend)
    return api


def assert_shape(item: Any, shape: dict[str, tuple[type, ...]], where: str) -> None:
    assert isinstance(item, dict), where
    missing = sorted(set(shape) - set(item))
    assert not missing, f"{where}: the dashboard reads {missing}"
    for key, types in shape.items():
        # bool is an int in Python: an int field must not be sent as true/false.
        bad = isinstance(item[key], bool) and bool not in types
        assert isinstance(item[key], types) and not bad, f"{where}.{key}: {item[key]!r}"


async def assert_list(api: Api, path: str, unit: str, shape: dict[str, tuple[type, ...]],
                      *, per_page: int = 10, page: int = 1, query: str = "") -> list[Any]:
    """The old list contract: 206, a bare array, Content-Range ``unit first-last/*``."""
    url = f"/api/{path}?page={page}&per_page={per_page}{query}"
    response = await api.get(url)
    assert response.status_code == 206, response.text
    assert response.headers["content-type"] == "application/json"
    first = (page - 1) * per_page
    assert response.headers["content-range"] == f"{unit} {first + 1}-{first + per_page}/*"
    items = response.json()
    assert isinstance(items, list)
    assert 0 < len(items) <= per_page, url
    for index, item in enumerate(items):
        assert_shape(item, shape, f"{path}[{index}]")
    return items


async def assert_detail(api: Api, path: str, shape: dict[str, tuple[type, ...]]) -> Any:
    response = await api.get(f"/api/{path}")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    item = response.json()
    assert_shape(item, shape, path)
    return item


async def assert_unknown(api: Api, path: str) -> None:
    """The old 404: ``{"error": "..."}``; the dashboard tests ``"error" in data``."""
    response = await api.get(f"/api/{path}")
    assert response.status_code == 404
    body = response.json()
    assert set(body) == {"error"} and isinstance(body["error"], str), body


# -- Koji builds -------------------------------------------------------------------------------


async def test_koji_builds_list(packit: Api) -> None:
    # The dashboard always sends scratch=true|false.
    items = await assert_list(packit, "koji-builds", "koji-builds", KOJI_BUILD_GROUP,
                              per_page=20, query="&scratch=false")
    assert not any(item["scratch"] for item in items)
    ids = [item["packit_id"] for item in items]
    assert ids == sorted(ids, reverse=True)  # newest first, as get_range orders them
    scratch = await assert_list(packit, "koji-builds", "koji-builds", KOJI_BUILD_GROUP,
                                query="&scratch=true")
    assert all(item["scratch"] for item in scratch)


async def test_koji_builds_list_pages_in_one_page_of_statements(packit: Api) -> None:
    counts = []
    for per_page in (2, 50):
        packit.log.clear()
        await assert_list(packit, "koji-builds", "koji-builds", KOJI_BUILD_GROUP,
                          per_page=per_page, page=2)
        counts.append(packit.log.count)
    assert counts[0] == counts[1] <= 2  # the page, and one for the run ids of all its rows


async def test_koji_build_detail(packit: Api) -> None:
    build = await assert_detail(packit, "koji-builds/5", KOJI_BUILD)
    assert build["build_logs_urls"] is None or all(
        isinstance(url, str) for url in build["build_logs_urls"].values())
    assert build["run_ids"] == sorted(build["run_ids"])


@xfail(NEEDS_ERRORS)
async def test_koji_build_unknown(packit: Api) -> None:
    await assert_unknown(packit, "koji-builds/999999")


# -- Copr builds -------------------------------------------------------------------------------


@xfail(NEEDS_GROUPED)
async def test_copr_builds_list(packit: Api) -> None:
    items = await assert_list(packit, "copr-builds", "copr-builds", COPR_BUILD_GROUP)
    for item in items:
        assert set(item["status_per_chroot"]) == set(item["packit_id_per_chroot"])
    assert len({item["build_id"] for item in items}) == len(items)  # one item per Copr build


async def test_copr_build_detail(packit: Api) -> None:
    build = await assert_detail(packit, "copr-builds/3", COPR_BUILD)
    assert build["copr_owner"] == "packit"
    assert build["build_logs_url"].startswith("https://")
    assert isinstance(build["srpm_build_id"], int)


@xfail(NEEDS_ERRORS)
async def test_copr_build_unknown(packit: Api) -> None:
    await assert_unknown(packit, "copr-builds/999999")


# -- SRPM builds -------------------------------------------------------------------------------


async def test_srpm_builds_list(packit: Api) -> None:
    items = await assert_list(packit, "srpm-builds", "srpm-builds", SRPM_BUILD_GROUP)
    assert items[0]["log_url"].endswith(f"/jobs/srpm/{items[0]['srpm_build_id']}")


async def test_srpm_build_detail(packit: Api) -> None:
    build = await assert_detail(packit, "srpm-builds/2", SRPM_BUILD)
    assert build["run_ids"]


@xfail(NEEDS_ERRORS)
async def test_srpm_build_unknown(packit: Api) -> None:
    await assert_unknown(packit, "srpm-builds/999999")


# -- Koji tag requests -------------------------------------------------------------------------


async def test_koji_tag_requests_list(packit: Api) -> None:
    items = await assert_list(packit, "koji-tag-requests", "koji-tag-requests",
                              TAG_REQUEST_GROUP, per_page=2)
    assert all(item["sidetag"] for item in items)


async def test_koji_tag_request_detail(packit: Api) -> None:
    await assert_detail(packit, "koji-tag-requests/1", TAG_REQUEST)


@xfail(NEEDS_ERRORS)
async def test_koji_tag_request_unknown(packit: Api) -> None:
    await assert_unknown(packit, "koji-tag-requests/999999")


# -- Bodhi updates -----------------------------------------------------------------------------


async def test_bodhi_updates_list(packit: Api) -> None:
    await assert_list(packit, "bodhi-updates", "bodhi-updates", BODHI_UPDATE_GROUP)


async def test_bodhi_update_detail(packit: Api) -> None:
    update = await assert_detail(packit, "bodhi-updates/6", BODHI_UPDATE)
    assert update["status"] == "error" and update["error_message"]  # data["error"]


@xfail(NEEDS_ERRORS)
async def test_bodhi_update_unknown(packit: Api) -> None:
    await assert_unknown(packit, "bodhi-updates/999999")


# -- Testing Farm ------------------------------------------------------------------------------


@xfail(NEEDS_ROUTES)
async def test_testing_farm_results_list(packit: Api) -> None:
    await assert_list(packit, "testing-farm/results", "test-results", TEST_RUN_GROUP)


@xfail("copr_build_ids/koji_build_ids: the builds a test run tested (a to-many through "
       "the pipelines, not declarable yet)")
async def test_testing_farm_run_detail(packit: Api) -> None:
    await assert_detail(packit, "testing-farm/4", TEST_RUN)


async def test_testing_farm_run_detail_without_build_ids(packit: Api) -> None:
    shape = {key: types for key, types in TEST_RUN.items()
             if key not in ("copr_build_ids", "koji_build_ids")}
    await assert_detail(packit, "testing-farm/4", shape)


@xfail(NEEDS_ERRORS)
async def test_testing_farm_run_unknown(packit: Api) -> None:
    await assert_unknown(packit, "testing-farm/999999")


# -- OpenScanHub scans -------------------------------------------------------------------------


async def test_openscanhub_scans_list(packit: Api) -> None:
    items = await assert_list(packit, "openscanhub-scans", "openscanhub-scans",
                              {"packit_id": INT, **SCAN})
    assert all(item["copr_build_target_id"] for item in items)


async def test_openscanhub_scan_detail(packit: Api) -> None:
    await assert_detail(packit, "openscanhub-scans/1", SCAN)


@xfail(NEEDS_ERRORS)
async def test_openscanhub_scan_unknown(packit: Api) -> None:
    await assert_unknown(packit, "openscanhub-scans/999999")


# -- Log Detective -----------------------------------------------------------------------------


async def test_log_detective_list(packit: Api) -> None:
    items = await assert_list(packit, "log-detective", "log-detective-results", LOG_DETECTIVE)
    for item in items:
        response = item["log_detective_response"]
        if response is not None:  # LogDetectiveResponse
            assert isinstance(response["explanation"]["text"], str)
            assert isinstance(response["no_issue_found"], bool)


async def test_log_detective_detail(packit: Api) -> None:
    run = await assert_detail(packit, "log-detective/1", LOG_DETECTIVE)
    assert run["packit_id"] == 1


@xfail(NEEDS_ROUTES)
async def test_log_detective_group_detail(packit: Api) -> None:
    await assert_detail(packit, "log-detective/groups/1", LOG_DETECTIVE_GROUP)


@xfail(NEEDS_ERRORS)
async def test_log_detective_unknown(packit: Api) -> None:
    await assert_unknown(packit, "log-detective/999999")


# -- Sync releases -----------------------------------------------------------------------------


@xfail(f"{NEEDS_GROUPED}; {NEEDS_ROUTES} (list over runs, detail over their targets)")
@pytest.mark.parametrize("job", ["propose-downstream", "pull-from-upstream"])
async def test_sync_releases_list(packit: Api, job: str) -> None:
    await assert_list(packit, job, f"{job}s", SYNC_RELEASE_GROUP)


@xfail(f"{NEEDS_ROUTES} (list over runs, detail over their targets)")
@pytest.mark.parametrize(("job", "target"), [("propose-downstream", 1),
                                             ("pull-from-upstream", 8)])
async def test_sync_release_detail(packit: Api, job: str, target: int) -> None:
    job_result = await assert_detail(packit, f"{job}/{target}", SYNC_RELEASE)
    for pr in job_result["downstream_prs"]:
        assert_shape(pr, {"pr_id": INT, "branch": STR_N, "is_fast_forward": BOOL,
                          "url": STR_N}, "downstream_prs")


# -- Pipelines (runs) --------------------------------------------------------------------------


@xfail(NEEDS_GROUPED)
async def test_runs_list(packit: Api) -> None:
    items = await assert_list(packit, "runs", "runs", RUN)
    for item in items:
        for name in PIPELINE_ITEM_LISTS:
            for job in item[name]:
                assert_shape(job, {"packit_id": INT, "status": STR, "target": STR_N}, name)


@xfail(f"{NEEDS_ROUTES}; {NEEDS_GROUPED}")
async def test_merged_run_detail(packit: Api) -> None:
    run = await assert_detail(packit, "runs/merged/6", RUN)
    assert run["merged_run_id"] == 6


@xfail(NEEDS_ERRORS)
async def test_merged_run_unknown(packit: Api) -> None:
    await assert_unknown(packit, "runs/merged/999999")


# -- Projects ----------------------------------------------------------------------------------


async def test_projects_list(packit: Api) -> None:
    items = await assert_list(packit, "projects", "git-projects", PROJECT_ITEM, per_page=2)
    assert items[0]["prs_handled"] == 4 and items[0]["releases_handled"] == 3


@xfail(NEEDS_ROUTES)
async def test_projects_of_a_forge(packit: Api) -> None:
    items = await assert_list(packit, "projects/github.com", "git-projects", PROJECT_ITEM)
    assert all(item["project_url"].startswith("https://github.com/") for item in items)


@xfail(NEEDS_ROUTES)
async def test_projects_of_a_namespace(packit: Api) -> None:
    items = await assert_list(packit, "projects/github.com/packit", "git-projects", PROJECT_ITEM)
    assert {item["namespace"] for item in items} == {"packit"}


@xfail(NEEDS_ROUTES)
async def test_project_detail(packit: Api) -> None:
    project = await assert_detail(packit, "projects/github.com/packit/ogr", PROJECT_ITEM)
    assert project["project_url"] == "https://github.com/packit/ogr"


@xfail(NEEDS_ERRORS)
async def test_project_unknown(packit: Api) -> None:
    await assert_unknown(packit, "projects/github.com/packit/no-such-repo")


@xfail(f"{NEEDS_ROUTES}; {NEEDS_GROUPED}")
async def test_project_prs(packit: Api) -> None:
    await assert_list(packit, "projects/github.com/packit/ogr/prs", "git-project-prs",
                      PROJECT_PR)


@xfail(f"{NEEDS_ROUTES}; {NEEDS_GROUPED}")
async def test_project_branches(packit: Api) -> None:
    await assert_list(packit, "projects/github.com/packit/ogr/branches",
                      "git-project-branches", PROJECT_BRANCH)


@xfail(NEEDS_ROUTES)
async def test_project_releases(packit: Api) -> None:
    await assert_list(packit, "projects/github.com/packit/ogr/releases",
                      "git-project-releases", PROJECT_RELEASE)


@xfail(NEEDS_ROUTES)
async def test_project_issues(packit: Api) -> None:
    # ProjectIssue = number: a bare array of issue numbers.
    response = await packit.get("/api/projects/github.com/fedora-python/ogr/issues")
    assert response.status_code == 206
    assert all(isinstance(issue, int) for issue in response.json())

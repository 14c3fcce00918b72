"""The contract Packit's dashboard relies on, served by examples/packit/registry.yaml.

One test per URL the dashboard calls (packit/dashboard, frontend/src/queries/*): the status
code, headers and JSON shape the old Flask API sends for it (packit_service/service/api/*.py),
with the fields and types the dashboard's interfaces read (frontend/src/apiDefinitions.ts).
The expectations come from those two sources, not from what this API happens to answer.
docs/packit.md lists every URL with the registry entry serving it.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import ROOT, Api, Database
from served import serve

EXAMPLE = ROOT / "examples" / "packit" / "registry.yaml"

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
    "srpm_build_id": INT_N, "build_submission_stdout": STR_N, "error_message": STR_N, **TRIGGER,
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
       **dict.fromkeys(PIPELINE_ITEM_LISTS, LIST)}
PROJECT_ITEM = {"namespace": STR, "repo_name": STR, "project_url": STR, "prs_handled": INT,
                "branches_handled": INT, "releases_handled": INT, "issues_handled": INT}
PROJECT_PR = {"pr_id": INT, "builds": LIST, "koji_builds": LIST, "srpm_builds": LIST,
              "tests": LIST}
PROJECT_BRANCH = {"branch": STR, "builds": LIST, "koji_builds": LIST, "srpm_builds": LIST,
                  "tests": LIST}
# The jobs listed per pull request or branch (projects.py builds each object by hand).
PROJECT_JOBS = {
    "builds": {"build_id": STR_N, "chroot": STR, "status": STR, "web_url": STR_N},
    "koji_builds": {"task_id": STR_N, "chroot": STR, "status": STR, "web_url": STR_N},
    "srpm_builds": {"srpm_build_id": INT, "status": STR, "log_url": STR_N},
    "tests": {"pipeline_id": STR_N, "chroot": STR, "status": STR, "web_url": STR_N},
}
PROJECT_RELEASE = {"tag_name": STR, "commit_hash": STR_N}


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
        assert isinstance(item[key], types), f"{where}.{key}: {item[key]!r}"
        assert not isinstance(item[key], bool) or bool in types, f"{where}.{key}: a boolean"


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
    assert set(body) == {"error"}, body
    assert isinstance(body["error"], str)


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


async def test_koji_build_unknown(packit: Api) -> None:
    await assert_unknown(packit, "koji-builds/999999")


# -- Copr builds -------------------------------------------------------------------------------


async def test_copr_builds_list(packit: Api) -> None:
    items = await assert_list(packit, "copr-builds", "copr-builds", COPR_BUILD_GROUP)
    for item in items:
        assert set(item["status_per_chroot"]) == set(item["packit_id_per_chroot"])
    assert any(len(item["status_per_chroot"]) > 1 for item in items)  # several chroots
    packit_ids = [id_ for item in items for id_ in item["packit_id_per_chroot"].values()]
    assert len(set(packit_ids)) == len(packit_ids)  # each chroot's build in one item


async def test_copr_build_detail(packit: Api) -> None:
    build = await assert_detail(packit, "copr-builds/3", COPR_BUILD)
    assert build["copr_owner"] == "packit"
    assert build["build_logs_url"].startswith("https://")
    assert isinstance(build["srpm_build_id"], int)


async def test_copr_build_unknown(packit: Api) -> None:
    await assert_unknown(packit, "copr-builds/999999")


# -- SRPM builds -------------------------------------------------------------------------------


async def test_srpm_builds_list(packit: Api) -> None:
    items = await assert_list(packit, "srpm-builds", "srpm-builds", SRPM_BUILD_GROUP)
    assert items[0]["log_url"].endswith(f"/jobs/srpm/{items[0]['srpm_build_id']}")


async def test_srpm_build_detail(packit: Api) -> None:
    build = await assert_detail(packit, "srpm-builds/2", SRPM_BUILD)
    assert build["run_ids"]


async def test_srpm_build_unknown(packit: Api) -> None:
    await assert_unknown(packit, "srpm-builds/999999")


# -- Koji tag requests -------------------------------------------------------------------------


async def test_koji_tag_requests_list(packit: Api) -> None:
    items = await assert_list(packit, "koji-tag-requests", "koji-tag-requests",
                              TAG_REQUEST_GROUP, per_page=2)
    assert all(item["sidetag"] for item in items)


async def test_koji_tag_request_detail(packit: Api) -> None:
    await assert_detail(packit, "koji-tag-requests/1", TAG_REQUEST)


async def test_koji_tag_request_unknown(packit: Api) -> None:
    await assert_unknown(packit, "koji-tag-requests/999999")


# -- Bodhi updates -----------------------------------------------------------------------------


async def test_bodhi_updates_list(packit: Api) -> None:
    await assert_list(packit, "bodhi-updates", "bodhi-updates", BODHI_UPDATE_GROUP)


async def test_bodhi_update_detail(packit: Api) -> None:
    update = await assert_detail(packit, "bodhi-updates/6", BODHI_UPDATE)
    assert update["status"] == "error"
    assert update["error_message"]


async def test_bodhi_update_unknown(packit: Api) -> None:
    await assert_unknown(packit, "bodhi-updates/999999")


# -- Testing Farm ------------------------------------------------------------------------------


async def test_testing_farm_results_list(packit: Api) -> None:
    await assert_list(packit, "testing-farm/results", "test-results", TEST_RUN_GROUP)


async def test_testing_farm_run_detail(packit: Api) -> None:
    run = await assert_detail(packit, "testing-farm/4", TEST_RUN)
    assert run["copr_build_ids"]
    assert all(isinstance(i, int) for i in run["copr_build_ids"])


async def test_testing_farm_run_unknown(packit: Api) -> None:
    await assert_unknown(packit, "testing-farm/999999")


# -- OpenScanHub scans -------------------------------------------------------------------------


async def test_openscanhub_scans_list(packit: Api) -> None:
    items = await assert_list(packit, "openscanhub-scans", "openscanhub-scans",
                              {"packit_id": INT, **SCAN})
    assert all(item["copr_build_target_id"] for item in items)


async def test_openscanhub_scan_detail(packit: Api) -> None:
    await assert_detail(packit, "openscanhub-scans/1", SCAN)


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


async def test_log_detective_group_detail(packit: Api) -> None:
    await assert_detail(packit, "log-detective/groups/1", LOG_DETECTIVE_GROUP)


async def test_log_detective_unknown(packit: Api) -> None:
    await assert_unknown(packit, "log-detective/999999")


# -- Sync releases -----------------------------------------------------------------------------


@pytest.mark.parametrize("job", ["propose-downstream", "pull-from-upstream"])
async def test_sync_releases_list(packit: Api, job: str) -> None:
    items = await assert_list(packit, job, f"{job}s", SYNC_RELEASE_GROUP)
    for item in items:
        assert set(item["status_per_downstream_pr"]) == set(item["packit_id_per_downstream_pr"])
    # Each job type's own runs: their targets' details answer at this URL only.
    target = next(iter(items[0]["packit_id_per_downstream_pr"].values()))
    assert (await packit.get(f"/api/{job}/{target}")).status_code == 200
    other = "pull-from-upstream" if job == "propose-downstream" else "propose-downstream"
    assert (await packit.get(f"/api/{other}/{target}")).status_code == 404


@pytest.mark.parametrize(("job", "target"), [("propose-downstream", 1),
                                             ("pull-from-upstream", 6)])
async def test_sync_release_detail(packit: Api, job: str, target: int) -> None:
    job_result = await assert_detail(packit, f"{job}/{target}", SYNC_RELEASE)
    assert job_result["downstream_prs"]
    for pr in job_result["downstream_prs"]:
        assert_shape(pr, {"pr_id": INT, "branch": STR_N, "is_fast_forward": BOOL,
                          "url": STR_N}, "downstream_prs")


async def test_sync_release_detail_of_the_other_job_type(packit: Api) -> None:
    await assert_unknown(packit, "propose-downstream/6")  # a pull-from-upstream target


async def test_sync_release_unknown(packit: Api) -> None:
    await assert_unknown(packit, "pull-from-upstream/999999")


# -- Pipelines (runs) --------------------------------------------------------------------------


async def test_runs_list(packit: Api) -> None:
    items = await assert_list(packit, "runs", "runs", RUN, per_page=50)
    assert any(item["srpm"] is None for item in items)  # null, not an object of nulls
    assert any(item["propose_downstream"] or item["pull_from_upstream"] for item in items)
    for item in items:
        if item["srpm"] is not None:
            assert_shape(item["srpm"], {"packit_id": INT, "status": STR}, "srpm")
        for name in PIPELINE_ITEM_LISTS:
            for job in item[name]:
                assert_shape(job, {"packit_id": INT, "status": STR, "target": STR_N}, name)


async def test_merged_run_detail(packit: Api) -> None:
    run = await assert_detail(packit, "runs/merged/6", RUN)
    assert run["merged_run_id"] == 6


async def test_merged_run_unknown(packit: Api) -> None:
    await assert_unknown(packit, "runs/merged/999999")


# -- Projects ----------------------------------------------------------------------------------


async def test_projects_list(packit: Api) -> None:
    items = await assert_list(packit, "projects", "git-projects", PROJECT_ITEM, per_page=2)
    assert items[0]["prs_handled"] == 4
    assert items[0]["releases_handled"] == 3


async def test_projects_of_a_forge(packit: Api) -> None:
    items = await assert_list(packit, "projects/github.com", "git-projects", PROJECT_ITEM)
    assert all(item["project_url"].startswith("https://github.com/") for item in items)


async def test_projects_of_a_namespace(packit: Api) -> None:
    items = await assert_list(packit, "projects/github.com/packit", "git-projects", PROJECT_ITEM)
    assert {item["namespace"] for item in items} == {"packit"}


async def test_project_detail(packit: Api) -> None:
    project = await assert_detail(packit, "projects/github.com/packit/ogr", PROJECT_ITEM)
    assert project["project_url"] == "https://github.com/packit/ogr"


async def test_project_unknown(packit: Api) -> None:
    await assert_unknown(packit, "projects/github.com/packit/no-such-repo")


async def test_project_prs(packit: Api) -> None:
    items = await assert_list(packit, "projects/github.com/packit/ogr/prs", "git-project-prs",
                              PROJECT_PR)
    assert_jobs(items)


async def test_project_branches(packit: Api) -> None:
    items = await assert_list(packit, "projects/github.com/packit/ogr/branches",
                              "git-project-branches", PROJECT_BRANCH)
    assert_jobs(items)


def assert_jobs(items: list[Any]) -> None:
    """The per-job objects of ProjectsPRs/ProjectBranches, each list filled somewhere."""
    for name, shape in PROJECT_JOBS.items():
        assert any(item[name] for item in items), name
        for item in items:
            for job in item[name]:
                assert_shape(job, shape, name)


async def test_project_prs_and_branches_in_one_page_of_statements(packit: Api) -> None:
    for path, unit in (("prs", "git-project-prs"), ("branches", "git-project-branches")):
        counts = []
        for per_page in (2, 50):
            packit.log.clear()
            await assert_list(packit, f"projects/github.com/packit/ogr/{path}", unit,
                              PROJECT_PR if path == "prs" else PROJECT_BRANCH,
                              per_page=per_page)
            counts.append(packit.log.count)
        assert counts == [5, 5], path  # the page, and one statement per job list


async def test_project_releases(packit: Api) -> None:
    await assert_list(packit, "projects/github.com/packit/ogr/releases",
                      "git-project-releases", PROJECT_RELEASE)


async def test_project_issues(packit: Api) -> None:
    # ProjectIssue = number: a bare array of issue numbers (legacy.item: issue_id).
    response = await packit.get("/api/projects/github.com/fedora-python/ogr/issues?per_page=2")
    assert response.status_code == 206
    assert response.headers["content-range"] == "git-project-issues 1-2/*"
    issues = response.json()
    assert 0 < len(issues) <= 2
    assert all(isinstance(issue, int) and not isinstance(issue, bool) for issue in issues)


async def test_empty_project_lists_answer_200(packit: Api) -> None:
    # projects.py answers each project list `PARTIAL_CONTENT if result else OK`; the jobs'
    # lists (koji_builds.py, ...) answer 206 whatever they hold.
    for path, unit in (("projects", "git-projects"),
                       ("projects/gitlab.com/no-such-namespace", "git-projects"),
                       ("projects/github.com/packit/no-such-repo/prs", "git-project-prs"),
                       ("projects/github.com/packit/no-such-repo/branches",
                        "git-project-branches"),
                       ("projects/github.com/packit/no-such-repo/releases",
                        "git-project-releases"),
                       ("projects/github.com/packit/ogr/issues", "git-project-issues")):
        page = 2 if path == "projects" else 1  # the demo has 10 projects
        response = await packit.get(f"/api/{path}?page={page}&per_page=10")
        assert response.status_code == 200, path
        assert response.json() == [], path
        first = (page - 1) * 10
        assert response.headers["content-range"] == f"{unit} {first + 1}-{first + 10}/*"
    response = await packit.get("/api/koji-builds?page=999&per_page=10")
    assert response.status_code == 206
    assert response.json() == []


# -- the README's command ----------------------------------------------------------------------


def test_crud_serve_creates_the_demo_database_for_the_example(tmp_path: Path) -> None:
    # `crud serve --registry examples/packit/registry.yaml`, no other option: a demo registry,
    # so the embedded demo database is created and filled in the working folder.
    server = serve("--registry", str(EXAMPLE), cwd=tmp_path)
    try:
        server.wait_until_up()
        response = httpx.get(f"{server.base}/api/koji-builds?page=1&per_page=2&scratch=false")
        assert response.status_code == 206
        assert response.headers["content-range"] == "koji-builds 1-2/*"
        assert len(response.json()) == 2
        assert (tmp_path / "crud-demo.db").exists()
    finally:
        server.stop()

"""Full-text search: the rows and the order each database's own full-text query gives.

registry.yaml searches pull request titles with ``mode: full_text``; the demo data creates
each database's index (resources/demo.py). The oracle here is native SQL written by hand
per database (not the backends' code): the API must return exactly its rows, ranked.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from conftest import ROOT, Api, Database
from sqlalchemy import text
from typer.testing import CliRunner

from crud.app import load
from crud.cli import cli
from crud.config.registry import RegistryError, SearchSpec
from crud.ops.tables import missing_table_issues
from crud.sql.database import make_engine
from crud.sql.indexes import index_advice
from resources.demo import create_schema, load_demo_data

PATH = "/api/v1/pull-requests"
# Relevance (desc), then the primary key: the API's order with order_by=-search_rank.
NATIVE = {
    "postgresql": "SELECT id FROM pull_requests WHERE to_tsvector('simple', coalesce(title, '')) "
                  "@@ websearch_to_tsquery('simple', :q) ORDER BY ts_rank(to_tsvector('simple', "
                  "coalesce(title, '')), websearch_to_tsquery('simple', :q)) DESC, id",
    "mariadb": "SELECT id FROM pull_requests WHERE MATCH (title) AGAINST (:q IN NATURAL "
               "LANGUAGE MODE) ORDER BY MATCH (title) AGAINST (:q IN NATURAL LANGUAGE MODE) "
               "DESC, id",
    "sqlite": "SELECT rowid FROM pull_requests_fts WHERE pull_requests_fts MATCH :q "
              "ORDER BY bm25(pull_requests_fts), rowid",
}
QUERIES = ["fix", "flaky tests", "Koji scratch builds", "spec", "nothing-like-this", "FIX",
           'say "hello', "the"]


def native_query(backend: str, search: str) -> str:
    if backend == "sqlite":  # each word a quoted FTS5 string, as the API binds it
        return " ".join('"' + word.replace('"', '""') + '"' for word in search.split())
    return search


async def native_ids(database: Database, search: str) -> list[int]:
    engine = make_engine(database.url)
    try:
        async with engine.connect() as connection:
            found = await connection.execute(text(NATIVE[database.backend]),
                                             {"q": native_query(database.backend, search)})
            return [row[0] for row in found]
    finally:
        await engine.dispose()


async def walk(api: Api, params: dict[str, Any], path: str = PATH) -> list[dict[str, Any]]:
    """Every item by cursor, following ``next`` from the first page."""
    items: list[dict[str, Any]] = []
    cursor = ""
    while cursor is not None:
        response = await api.get(path, params={**params, "cursor": cursor})
        assert response.status_code == 200, response.text
        body = response.json()
        items.extend(body["items"])
        cursor = body["next"]
    return items


@pytest.mark.parametrize("search", QUERIES)
async def test_search_returns_the_database_s_own_full_text_rows_ranked(
        demo_api: Api, demo_db: Database, search: str) -> None:
    expected = await native_ids(demo_db, search)
    demo_api.log.clear()
    response = await demo_api.get(PATH, params={"search": search, "size": 100})
    assert response.status_code == 200, response.text
    body = response.json()
    assert [item["id"] for item in body["items"]] == expected
    assert body["total"] == len(expected)
    assert demo_api.log.count == 1  # the page, its rank and its total in one statement


async def test_the_fixture_searches_find_something(demo_db: Database) -> None:
    # The comparison above is only worth something if the native queries match rows.
    assert len(await native_ids(demo_db, "fix")) >= 2
    assert await native_ids(demo_db, "nothing-like-this") == []


@pytest.mark.parametrize("size", [1, 2, 3])
async def test_a_cursor_walk_over_rank_returns_every_row_once_in_rank_order(
        demo_api: Api, demo_db: Database, size: int) -> None:
    expected = await native_ids(demo_db, "fix tests")
    walked = await walk(demo_api, {"search": "fix tests", "size": size})
    assert [item["id"] for item in walked] == expected


async def test_rank_is_the_default_order_while_searching(demo_api: Api) -> None:
    ranked = await demo_api.get(PATH, params={"search": "fix", "order_by": "-search_rank"})
    default = await demo_api.get(PATH, params={"search": "fix"})
    assert default.json() == ranked.json()
    unsearched = (await demo_api.get(PATH, params={"size": 3})).json()["items"]
    assert [item["id"] for item in unsearched] == [20, 19, 18]  # default_sort: [-id]


async def test_ascending_rank_is_the_reverse_with_the_key_still_ascending(
        demo_api: Api, demo_db: Database) -> None:
    body = (await demo_api.get(PATH, params={"search": "fix tests", "size": 100,
                                             "order_by": "search_rank"})).json()
    walked = await walk(demo_api, {"search": "fix tests", "size": 2, "order_by": "search_rank"})
    ids = [item["id"] for item in body["items"]]
    assert [item["id"] for item in walked] == ids
    assert sorted(ids) == sorted(await native_ids(demo_db, "fix tests"))


async def test_search_rank_is_a_sort_key_not_a_field(demo_api: Api) -> None:
    item = (await demo_api.get(PATH, params={"search": "fix", "size": 1})).json()["items"][0]
    assert set(item) == {"id", "pr_id", "title", "project_url", "repo_namespace", "repo_name",
                         "labels"}
    response = await demo_api.get(PATH, params={"search_rank": "1"})
    assert response.status_code == 400
    assert [entry["parameter"] for entry in response.json()["errors"]] == ["search_rank"]


async def test_ordering_by_rank_without_search_is_refused(demo_api: Api) -> None:
    response = await demo_api.get(PATH, params={"order_by": "-search_rank"})
    assert response.status_code == 422
    assert response.json()["errors"] == [{
        "parameter": "order_by", "message": "'search_rank' is the relevance to 'search'; "
                                            "give search"}]


async def test_a_cursor_from_another_search_is_refused(demo_api: Api) -> None:
    first = (await demo_api.get(PATH, params={"search": "fix", "size": 1})).json()
    response = await demo_api.get(PATH, params={"search": "tests", "size": 1,
                                                "cursor": first["next"]})
    assert response.status_code == 400
    assert response.json()["errors"][0]["parameter"] == "cursor"


async def test_openapi_documents_the_rank_sort_key(demo_api: Api) -> None:
    document = (await demo_api.get("/openapi.json")).json()
    parameters = {parameter["name"]: parameter
                  for parameter in document["paths"][PATH]["get"]["parameters"]}
    assert {"search_rank", "-search_rank"} <= set(parameters["order_by"]["schema"]["items"]["enum"])
    assert "-search_rank" in parameters["order_by"]["description"]
    assert parameters["search"]["description"].startswith("Full-text search in title")


# -- what each database must have: checked at startup and by crud check --------------------

MISSING = """\
resources:
  projects:
    model: resources.models:GitProjectModel
    fields: {id:, namespace:, repo_name:}
    search:
      fields: [namespace, repo_name]
      mode: full_text
      fts_table: projects_fts
"""


async def test_a_search_without_its_index_is_a_startup_error_or_advice(
        demo_db: Database, registry_path: Callable[[str], Path]) -> None:
    path = registry_path(MISSING)
    loaded = await load(path, demo_db.url)
    issues = [str(issue) for issue in await missing_table_issues(
        loaded.resources, demo_db.url, path="registry.yaml", located=loaded.located)]
    advice = [str(item) for item in await index_advice(
        loaded.resources, demo_db.url, path="registry.yaml", located=loaded.located,
        min_rows=0)]
    expected_issue = {
        "sqlite": "registry.yaml:5: resources.projects.search: no FTS5 table 'projects_fts'; "
                  "create it, e.g. CREATE VIRTUAL TABLE projects_fts USING fts5(namespace, "
                  "repo_name, content='git_projects', content_rowid='id') and fill it (INSERT "
                  "INTO projects_fts(projects_fts) VALUES('rebuild'))",
        "mariadb": "registry.yaml:5: resources.projects.search: MATCH needs a FULLTEXT index on "
                   "exactly (namespace, repo_name): CREATE FULLTEXT INDEX "
                   "ix_git_projects_full_text ON git_projects (namespace, repo_name)",
    }
    if demo_db.backend == "postgresql":  # it works without an index, scanning: advice
        assert issues == []
        assert advice == [
            "registry.yaml:5: resources.projects.search: no index serves this search on "
            "git_projects (~5 rows): every search reads the whole table (hint: CREATE INDEX "
            "IF NOT EXISTS ix_git_projects_full_text ON git_projects USING gin "
            "(to_tsvector('simple'::regconfig, (coalesce(namespace, '') || ' ') || "
            "coalesce(repo_name, ''))); then ANALYZE git_projects)"]
    else:
        assert issues == [expected_issue[demo_db.backend]]
        assert advice == []


@pytest.mark.parametrize("empty_db", ["postgresql"], indirect=True)
async def test_the_advised_index_is_the_one_the_planner_uses(
        empty_db: Database, registry_path: Callable[[str], Path]) -> None:
    # PostgreSQL matches index expressions by structure: the advised statement, run as
    # printed, must silence the advice (the planner then finds an index for the search).
    writer = make_engine(empty_db.url, read_only=False)
    try:
        await create_schema(writer)
        path = registry_path(MISSING)
        loaded = await load(path, empty_db.url)
        [before] = await index_advice(loaded.resources, empty_db.url, path="r", min_rows=0)
        statement = str(before).split("(hint: ", 1)[1].split("; then ANALYZE", 1)[0]
        async with writer.begin() as connection:
            await connection.execute(text(statement))
        assert await index_advice(loaded.resources, empty_db.url, path="r", min_rows=0) == []
    finally:
        await writer.dispose()


def test_check_accepts_the_demo_registry_with_its_indexes(demo_db: Database) -> None:
    result = CliRunner().invoke(cli, ["check", "--registry", str(ROOT / "registry.yaml"),
                                      "--database-url", demo_db.url,
                                      "--large-table-rows", "0"])
    assert result.exit_code == 0, result.output
    assert "pull-requests.search" not in result.stderr


@pytest.mark.parametrize("empty_db", ["mariadb", "sqlite"], indirect=True)
async def test_fuzzy_search_is_refused_where_there_is_no_pg_trgm(
        empty_db: Database, registry_path: Callable[[str], Path]) -> None:
    path = registry_path(MISSING.replace("mode: full_text\n      fts_table: projects_fts",
                                         "mode: fuzzy"))
    writer = make_engine(empty_db.url, read_only=False)
    try:
        await create_schema(writer)
    finally:
        await writer.dispose()
    loaded = await load(path, empty_db.url)
    issues = await missing_table_issues(loaded.resources, empty_db.url, path="registry.yaml",
                                        located=loaded.located)
    assert [str(issue) for issue in issues] == [
        "registry.yaml:5: resources.projects.search: mode fuzzy is not available on "
        f"{empty_db.backend} (PostgreSQL only)"]


# -- the registry ---------------------------------------------------------------------------

PRS = """\
resources:
  pull-requests:
    model: resources.models:PullRequestModel
    fields: {id:, title:, repo_namespace: project.namespace}
    search: {fields: [title], mode: full_text}
"""


@pytest.mark.parametrize(("search", "expected"), [
    pytest.param("{fields: [title], mode: fulltext}",
                 "registry.yaml:5: resources.pull-requests.search.mode: Input should be "
                 "'substring', 'full_text' or 'fuzzy'", id="unknown-mode"),
    pytest.param("{fields: [title], config: english}",
                 "registry.yaml:5: resources.pull-requests.search: 'config' and 'fts_table' "
                 "apply to mode: full_text (e.g. search: {fields: [title], mode: full_text})",
                 id="config-without-full-text"),
    pytest.param("{fields: [title], mode: full_text, config: \"simple'; --\"}",
                 "registry.yaml:5: resources.pull-requests.search.config: \"simple'; --\" must "
                 "be a name (letters, digits, _; schema.name)", id="config-not-a-name"),
    pytest.param("{fields: [title], mode: fuzzy, config: english}",
                 "registry.yaml:5: resources.pull-requests.search: 'config' and 'fts_table' "
                 "apply to mode: full_text; fuzzy compares trigrams", id="config-with-fuzzy"),
    pytest.param("{mode: full_text}",
                 "registry.yaml:5: resources.pull-requests.search: mode full_text needs "
                 "'fields' to search", id="no-fields"),
    pytest.param("{fields: [repo_namespace], mode: full_text}",
                 "registry.yaml:5: resources.pull-requests.search.fields.0: full_text search "
                 "reads columns of the resource's own table; 'repo_namespace' is a path",
                 id="path-field"),
    pytest.param("{fields: [titel], mode: full_text}",
                 "registry.yaml:5: resources.pull-requests.search.fields.0: unknown field "
                 "'titel' (did you mean 'title'?)", id="unknown-field"),
    pytest.param("[titel]",
                 "registry.yaml:5: resources.pull-requests.search.0: unknown field 'titel' "
                 "(did you mean 'title'?)", id="short-form-unknown-field"),
])
async def test_search_settings_are_checked_when_the_registry_loads(
        registry_path: Callable[[str], Path], search: str, expected: str) -> None:
    path = registry_path(PRS.replace("{fields: [title], mode: full_text}", search))
    with pytest.raises(RegistryError) as caught:
        await load(path, "sqlite+aiosqlite:///:memory:")
    assert [str(issue) for issue in caught.value.issues] == [expected.replace(
        "registry.yaml", str(path))]


async def test_a_field_named_search_rank_clashes_with_the_rank(
        registry_path: Callable[[str], Path]) -> None:
    path = registry_path(PRS.replace("title:, ", "title:, search_rank: pr_id, "))
    with pytest.raises(RegistryError) as caught:
        await load(path, "sqlite+aiosqlite:///:memory:")
    assert [str(issue) for issue in caught.value.issues] == [
        f"{path}:4: resources.pull-requests.fields.search_rank: 'search_rank' is the relevance "
        "of a full_text search; rename this field"]


async def test_the_list_form_is_still_a_substring_search(
        registry_path: Callable[[str], Path]) -> None:
    path = registry_path(PRS.replace("{fields: [title], mode: full_text}", "[title]"))
    loaded = await load(path, "sqlite+aiosqlite:///:memory:")
    [resource] = loaded.resources
    assert (resource.search_mode, resource.rank) == ("substring", None)
    assert [leaf.name for leaf in resource.search] == ["title"]


FUZZY = MISSING.replace("mode: full_text\n      fts_table: projects_fts", "mode: fuzzy")
NATIVE_FUZZY = ("SELECT id FROM git_projects WHERE (coalesce(namespace, '') || ' ' || "
                "coalesce(repo_name, '')) % :q ORDER BY similarity(coalesce(namespace, '') || "
                "' ' || coalesce(repo_name, ''), :q) DESC, id")


@pytest.mark.parametrize("empty_db", ["postgresql"], indirect=True)
async def test_fuzzy_search_finds_typos_as_pg_trgm_does(
        empty_db: Database, registry_path: Callable[[str], Path],
        make_api: Callable[..., Any]) -> None:
    writer = make_engine(empty_db.url, read_only=False)
    try:
        await load_demo_data(writer, scale=2000)
        path = registry_path(FUZZY)
        loaded = await load(path, empty_db.url)
        issues = await missing_table_issues(loaded.resources, empty_db.url, path="registry.yaml",
                                            located=loaded.located)
        assert [str(issue) for issue in issues] == [
            "registry.yaml:5: resources.projects.search: mode fuzzy needs the pg_trgm "
            "extension (CREATE EXTENSION pg_trgm)"]
        async with writer.begin() as connection:
            await connection.execute(text("CREATE EXTENSION pg_trgm"))
            expected = [row[0] for row in await connection.execute(
                text(NATIVE_FUZZY), {"q": "fedora-pyton poetry"})]
        assert await missing_table_issues(loaded.resources, empty_db.url, path="r",
                                          located=None) == []
    finally:
        await writer.dispose()
    assert expected  # the typo still finds projects
    api: Api = await make_api(FUZZY, empty_db.url, "postgresql")
    walked = await walk(api, {"search": "fedora-pyton poetry", "size": 2}, "/api/v1/projects")
    assert [item["id"] for item in walked] == expected


@pytest.mark.parametrize("key", sorted(SearchSpec.model_fields))
def test_every_search_key_is_documented(key: str) -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("### Search", 1)[1].split("###", 1)[0]
    assert f"| `{key}` |" in section


@pytest.mark.parametrize("empty_db", ["postgresql"], indirect=True)
async def test_an_unknown_text_search_configuration_is_a_startup_error(
        empty_db: Database, registry_path: Callable[[str], Path]) -> None:
    writer = make_engine(empty_db.url, read_only=False)
    try:
        await create_schema(writer)
    finally:
        await writer.dispose()
    path = registry_path(MISSING.replace("fts_table: projects_fts", "config: klingon"))
    loaded = await load(path, empty_db.url)
    issues = await missing_table_issues(loaded.resources, empty_db.url, path="registry.yaml",
                                        located=loaded.located)
    assert [str(issue) for issue in issues] == [
        "registry.yaml:5: resources.projects.search: no text search configuration 'klingon' "
        "(see \\dF in psql; 'simple' and 'english' are built in)"]


FLAT = """\
resources:
  pull-requests:
    model: resources.models:PullRequestModel
    fields: {id:, pr_id:, title:}
    search: {fields: [title], mode: full_text, fts_table: pull_requests_fts}
"""


@pytest.mark.parametrize("size", [2, 100])
async def test_a_resource_of_plain_columns_is_ranked_and_walked_alike(
        demo_db: Database, make_api: Callable[..., Any], size: int) -> None:
    # Its rows are its keys (no display joins): the rank still rides along for the cursor.
    api: Api = await make_api(FLAT, demo_db.url, demo_db.backend)
    walked = await walk(api, {"search": "fix tests", "size": size})
    assert [item["id"] for item in walked] == await native_ids(demo_db, "fix tests")
    assert set(walked[0]) == {"id", "pr_id", "title"}

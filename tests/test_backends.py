"""Each backend's SQL, compiled and compared: no server needed (the HTTP suites cover those)."""

from __future__ import annotations

from typing import Any

import asyncpg.exceptions as asyncpg_errors
import pytest
from sqlalchemy import (
    JSON,
    Column,
    DateTime,
    Enum,
    Integer,
    MetaData,
    String,
    Table,
    bindparam,
    select,
)
from sqlalchemy.dialects.mysql.aiomysql import MySQLDialect_aiomysql
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql.asyncpg import PGDialect_asyncpg
from sqlalchemy.dialects.sqlite.aiosqlite import SQLiteDialect_aiosqlite
from sqlalchemy.engine import Dialect

from crud.sql.backends import SUPPORTED_URLS, Backend, MariaDB, PostgreSQL, SQLite, backend_for
from crud.sql.compiled import CompiledStatement

TABLE = Table("builds", MetaData(), Column("id", Integer, primary_key=True),
              Column("status", Enum("ok", "bad", name="status")), Column("name", String(20)),
              Column("at", DateTime, nullable=True))
DIALECTS: dict[str, Dialect] = {"postgresql": PGDialect_asyncpg(), "mariadb": MySQLDialect_aiomysql(),
                                "sqlite": SQLiteDialect_aiosqlite()}


@pytest.mark.parametrize(("name", "expected"), [
    ("postgresql", PostgreSQL), ("mariadb", MariaDB), ("sqlite", SQLite)])
def test_each_dialect_has_its_backend(name: str, expected: type[Backend]) -> None:
    assert type(backend_for(DIALECTS[name])) is expected


def test_an_unsupported_driver_is_named_with_the_supported_urls() -> None:
    from sqlalchemy.dialects.postgresql.psycopg import PGDialectAsync_psycopg

    with pytest.raises(ValueError, match="postgresql\\+psycopg") as raised:
        backend_for(PGDialectAsync_psycopg())
    assert SUPPORTED_URLS in str(raised.value)


@pytest.mark.parametrize(("name", "descending", "expected"), [
    ("postgresql", False, "ORDER BY builds.at ASC"),
    ("postgresql", True, "ORDER BY builds.at DESC"),
    ("sqlite", False, "ORDER BY builds.at ASC NULLS LAST"),
    ("sqlite", True, "ORDER BY builds.at DESC NULLS FIRST"),
    ("mariadb", False, "ORDER BY builds.at IS NULL ASC, builds.at ASC"),
    ("mariadb", True, "ORDER BY builds.at IS NULL DESC, builds.at DESC"),
])
def test_nulls_sort_last_ascending_and_first_descending(name: str, descending: bool,
                                                        expected: str) -> None:
    backend = backend_for(DIALECTS[name])
    terms = backend.order_terms(TABLE.c.at, descending, nullable=True)
    sql = CompiledStatement(select(TABLE.c.id).order_by(*terms), DIALECTS[name]).sql
    assert sql.replace("\n", " ").endswith(expected)


@pytest.mark.parametrize(("name", "expected", "values"), [
    ("postgresql", "builds.status = ANY ($1::status[])", {"f0": ["ok", "bad"]}),
    ("mariadb", "builds.status IN (%s, %s)", {"f0_0": "ok", "f0_1": "bad"}),
    ("sqlite", "builds.status IN (?, ?)", {"f0_0": "ok", "f0_1": "bad"}),
])
def test_a_list_is_one_array_on_postgresql_and_one_parameter_each_elsewhere(
        name: str, expected: str, values: dict[str, Any]) -> None:
    backend = backend_for(DIALECTS[name])
    criterion = backend.in_list(TABLE.c.status, "f0", 2)
    compiled = CompiledStatement(select(TABLE.c.id).where(criterion), DIALECTS[name])
    assert compiled.sql.replace("\n", " ").endswith(f"WHERE {expected}")
    assert backend.list_values("f0", ["ok", "bad"]) == values
    assert len(compiled.arguments(values)) == len(values) or name == "postgresql"


def test_only_postgresql_estimates_a_table_in_sql() -> None:
    estimate = backend_for(DIALECTS["postgresql"]).table_estimate(TABLE)
    assert estimate is not None
    sql = " ".join(CompiledStatement(select(estimate), DIALECTS["postgresql"]).sql.split())
    assert sql == ("SELECT (SELECT nullif(CAST(pg_class.reltuples AS BIGINT), CAST(-1 AS INTEGER)) "
                   "AS nullif_1 FROM pg_class WHERE pg_class.oid = "
                   "to_regclass(CAST('builds' AS TEXT))) AS anon_1")
    assert backend_for(DIALECTS["mariadb"]).table_estimate(TABLE) is None
    assert backend_for(DIALECTS["sqlite"]).table_estimate(TABLE) is None


@pytest.mark.parametrize(("name", "expected"), [
    ("postgresql", "builds.name LIKE $1::VARCHAR ESCAPE '/'"),
    ("mariadb", "CAST(builds.name AS BINARY) LIKE %s ESCAPE '/'"),
    ("sqlite", "builds.name LIKE ? ESCAPE '/'"),  # the session sets case_sensitive_like
])
def test_a_prefix_compares_case_sensitively(name: str, expected: str) -> None:
    backend = backend_for(DIALECTS[name])
    criterion = backend.exact_text(TABLE.c.name).like(bindparam("f0", type_=String()),
                                                      escape="/")
    sql = CompiledStatement(select(TABLE.c.id).where(criterion), DIALECTS[name]).sql
    assert sql.replace("\n", " ").endswith(f"WHERE {expected}")


def test_mariadb_budgets_a_statement_with_set_statement() -> None:
    backend = MariaDB(DIALECTS["mariadb"])
    DIALECTS["mariadb"].is_mariadb = True  # type: ignore[attr-defined]  # set on connect
    assert backend._budgeted(None, "SELECT 1", 1500) == \
        "SET STATEMENT max_statement_time=1.500 FOR SELECT 1"


@pytest.mark.parametrize(("resource_ms", "api_ms", "postgresql", "sqlite"), [
    (None, 10_000, None, 10_000),   # the API default: a session setting, except on SQLite
    (300, 10_000, 300, 300),        # the resource's own budget, per statement
    (10_000, 10_000, None, 10_000),
])
def test_which_budget_a_statement_carries(resource_ms: int | None, api_ms: int,
                                          postgresql: int | None, sqlite: int) -> None:
    assert backend_for(DIALECTS["postgresql"]).statement_budget(resource_ms, api_ms) == postgresql
    assert backend_for(DIALECTS["sqlite"]).statement_budget(resource_ms, api_ms) == sqlite


def test_postgresql_sessions_are_read_only_without_jit_or_transactions() -> None:
    arguments = backend_for(DIALECTS["postgresql"]).engine_arguments(
        "postgresql+asyncpg://x/y", read_only=True, statement_timeout_ms=5000)
    assert arguments.connect_args["server_settings"] == {
        "application_name": "crud", "jit": "off", "default_transaction_read_only": "on",
        "statement_timeout": "5000"}
    assert arguments.options == {"isolation_level": "AUTOCOMMIT"}


def test_constants_are_written_into_the_sql_and_values_stay_parameters() -> None:
    statement = (select(TABLE.c.id).where(TABLE.c.status == "ok").where(TABLE.c.id > 5)
                 .limit(bindparam("limit", type_=Integer())))
    compiled = CompiledStatement(statement, DIALECTS["postgresql"])
    assert "builds.status = CAST('ok' AS status) AND builds.id > CAST(5 AS INTEGER)" in \
        compiled.sql.replace("\n", " ")
    assert compiled.sql.rstrip().endswith("LIMIT $1::INTEGER")
    assert compiled.arguments({"limit": 20}) == [20]


@pytest.mark.parametrize(("backend", "reset"), [
    pytest.param("postgresql", ["RESET ALL"], id="postgresql"),
    pytest.param("mariadb", ["SET SESSION TRANSACTION READ ONLY",
                             "SET SESSION max_statement_time = 5.000"], id="mariadb"),
    pytest.param("sqlite", ["PRAGMA query_only = ON", "PRAGMA case_sensitive_like = ON"],
                 id="sqlite"),
])
def test_connections_returned_to_the_pool_are_made_read_only_again(
        backend: str, reset: list[str]) -> None:
    # A hand-written router may have switched its session writable (tests/test_pool.py).
    chosen = backend_for(DIALECTS[backend])
    assert chosen.engine_arguments("x://", read_only=True,
                                   statement_timeout_ms=5000).reset_statements == reset
    assert chosen.engine_arguments("x://", read_only=False,
                                   statement_timeout_ms=5000).reset_statements == []


PRS = Table("prs", MetaData(), Column("id", Integer, primary_key=True),
            Column("labels", JSON().with_variant(ARRAY(String(50)), "postgresql")),
            Column("data", JSON))


@pytest.mark.parametrize(("name", "column", "contains", "overlaps"), [
    ("postgresql", "labels", "prs.labels @> $1::VARCHAR(50)[]", "prs.labels && $1::VARCHAR(50)[]"),
    ("postgresql", "data", "CAST(prs.data AS JSONB) @> to_jsonb(CAST($1::TEXT[] AS TEXT[]))",
     "CAST(prs.data AS JSONB) ?| CAST($1::TEXT[] AS TEXT[])"),
    ("mariadb", "labels", "json_contains(prs.labels, json_array(%s, %s)) = 1",
     "json_overlaps(prs.labels, json_array(%s, %s)) = 1"),
    ("sqlite", "labels", "(EXISTS (SELECT 1 FROM json_each(prs.labels) AS anon_1 WHERE "
                         "anon_1.value = ?)) AND (EXISTS (SELECT 1 FROM json_each(prs.labels) "
                         "AS anon_2 WHERE anon_2.value = ?))",
     "EXISTS (SELECT 1 FROM json_each(prs.labels) AS anon_1 WHERE anon_1.value IN (?, ?))"),
], ids=["postgresql-array", "postgresql-json", "mariadb", "sqlite"])
def test_array_operators_use_each_backends_own_sql(name: str, column: str, contains: str,
                                                   overlaps: str) -> None:
    backend = backend_for(DIALECTS[name])
    for criterion, expected in [(backend.array_contains(PRS.c[column], "f0", 2), contains),
                                (backend.array_overlaps(PRS.c[column], "f0", 2), overlaps)]:
        sql = CompiledStatement(select(PRS.c.id).where(criterion), DIALECTS[name]).sql
        assert " ".join(sql.split()).endswith(f"WHERE {expected}")


@pytest.mark.parametrize(("name", "text", "integer"), [
    ("postgresql", "prs.data #>> CAST(ARRAY['a', '0', 'b'] AS TEXT[])",
     "CAST(prs.data #>> CAST(ARRAY['a', '0', 'b'] AS TEXT[]) AS INTEGER)"),
    ("mariadb", "json_value(prs.data, '$.a[0].b')",
     "CAST(json_value(prs.data, '$.a[0].b') AS SIGNED INTEGER)"),
    ("sqlite", "CAST(json_extract(prs.data, '$.a[0].b') AS VARCHAR)",
     "CAST(json_extract(prs.data, '$.a[0].b') AS INTEGER)"),
])
def test_a_json_path_is_extracted_and_cast_by_each_backend(name: str, text: str,
                                                           integer: str) -> None:
    backend = backend_for(DIALECTS[name])
    for sql_type, expected in [(String(), text), (Integer(), integer)]:
        value = backend.json_extract(PRS.c.data, ("a", 0, "b"), sql_type)
        sql = CompiledStatement(select(value.label("v")), DIALECTS[name]).sql
        assert " ".join(sql.split()) == f"SELECT {expected} AS v FROM prs"


@pytest.mark.parametrize(("name", "unit", "expected"), [
    ("postgresql", "week", "date_trunc(CAST('week' AS VARCHAR), builds.at)"),
    ("postgresql", "hour", "date_trunc(CAST('hour' AS VARCHAR), builds.at)"),
    ("sqlite", "hour", "strftime('%Y-%m-%d %H:00:00', builds.at)"),
    ("sqlite", "week", "datetime(builds.at, 'start of day', '-6 days', 'weekday 1')"),
    ("sqlite", "month", "datetime(builds.at, 'start of month')"),
    ("mariadb", "hour", "CAST(timestampadd(HOUR, hour(builds.at), date(builds.at)) AS DATETIME)"),
    ("mariadb", "day", "CAST(date(builds.at) AS DATETIME)"),
    ("mariadb", "week", "CAST(subdate(date(builds.at), weekday(builds.at)) AS DATETIME)"),
    ("mariadb", "month",
     "CAST(subdate(date(builds.at), dayofmonth(builds.at) - 1) AS DATETIME)"),
    ("mariadb", "year", "CAST(makedate(year(builds.at), 1) AS DATETIME)"),
])
def test_time_buckets_are_each_databases_own_sql(name: str, unit: str, expected: str) -> None:
    # Constants only, written into the SQL: GROUP BY and SELECT repeat the same text, and
    # MariaDB's driver never meets a % of its own.
    backend = backend_for(DIALECTS[name])
    compiled = CompiledStatement(select(backend.time_bucket(TABLE.c.at, unit)), DIALECTS[name])
    assert compiled.sql.startswith(f"SELECT {expected} AS ")
    assert compiled.slots == []


@pytest.mark.parametrize(("error", "retried"), [
    pytest.param(asyncpg_errors.AdminShutdownError("terminating connection"), True,
                 id="server-shutting-down"),
    pytest.param(asyncpg_errors.InternalClientError(
        "cannot perform operation: another operation is in progress"), True,
                 id="kept-connection-read-the-shutdown-notice"),
    pytest.param(asyncpg_errors.ConnectionDoesNotExistError("connection was closed"), True,
                 id="closed"),
    pytest.param(asyncpg_errors.UndefinedTableError("relation does not exist"), False,
                 id="a-statement-error-is-not-retried"),
    pytest.param(asyncpg_errors.QueryCanceledError("canceling statement"), False,
                 id="a-timeout-is-not-retried"),
])
def test_postgresql_retries_on_a_fresh_connection_only_when_the_old_one_is_gone(
        error: BaseException, retried: bool) -> None:
    # The primary's shutdown notice, read by an idle kept connection, was a 500 (the
    # replicas' failover test saw it): now the read path retries once, then 503s.
    assert backend_for(DIALECTS["postgresql"]).is_disconnect(error) is retried

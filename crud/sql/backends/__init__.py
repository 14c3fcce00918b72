"""One ``Backend`` per database: everything on the read path that differs between dialects.

Session setup (read-only, the API's statement budget, PostgreSQL's JIT), how a compiled
statement runs on the driver and under a budget, how a timeout or a dropped connection
looks, where NULLs sort, how a list of values is bound, and the row estimates that counts
and index advice use. Nothing outside this package compares dialect names: the base
class (``base``) holds the shared defaults, one module per database overrides them.

Statements run on the driver's own connection (``PoolProxiedConnection.driver_connection``)
with SQL compiled once per statement shape (``crud.sql.compiled``): SQLAlchemy builds and
compiles, the pool lends connections, and a request pays only for the driver call.
"""

from __future__ import annotations

from sqlalchemy.engine import Dialect

from crud.sql.backends.base import (
    Backend,
    EngineArguments,
    Rows,
    integer_parameter,
    sortable,
)
from crud.sql.backends.mariadb import MariaDB
from crud.sql.backends.postgresql import PostgreSQL
from crud.sql.backends.sqlite import SQLite

__all__ = [
    "SUPPORTED_URLS",
    "Backend",
    "EngineArguments",
    "MariaDB",
    "PostgreSQL",
    "Rows",
    "SQLite",
    "backend_for",
    "integer_parameter",
    "sortable",
]


# Each backend drives its async driver's own connection API, so the driver is part of it.
_BACKENDS: dict[tuple[str, str], type[Backend]] = {
    ("postgresql", "asyncpg"): PostgreSQL,
    ("mysql", "aiomysql"): MariaDB, ("mariadb", "aiomysql"): MariaDB,
    ("sqlite", "aiosqlite"): SQLite,
}
SUPPORTED_URLS = "postgresql+asyncpg://, mysql+aiomysql:// (MariaDB, MySQL), sqlite+aiosqlite://"


def backend_for(dialect: Dialect) -> Backend:
    """The backend of an engine's dialect; ``ValueError`` for a database we do not serve."""
    found = _BACKENDS.get((dialect.name, str(dialect.driver)))
    if found is None:
        raise ValueError(f"unsupported database driver {dialect.name}+{dialect.driver} "
                         f"(supported: {SUPPORTED_URLS})")
    return found(dialect)



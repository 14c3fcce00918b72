"""Small tables for absent relations and grouped items (a Copr-like build per chroot).

``gr_builds`` holds one row per (build_id, chroot), Packit's Copr builds shape: rows of one
``build_id`` are one item of a grouped resource. Some rows have no SRPM (``srpm_id``
NULL), one SRPM exists with every column NULL (present, but "all fields null"), some
chroots are NULL (a NULL key of a collected object), one build_id is NULL (a group of its
own, sorted last).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ForeignKey, Integer, String, func, literal, select
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.sql import Select

__all__ = ["BUILD_IDS", "Base", "Build", "Log", "Srpm", "batch", "logs", "rows", "srpm_info"]


class Base(DeclarativeBase):
    pass


class Srpm(Base):
    __tablename__ = "gr_srpms"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    status: Mapped[str | None] = mapped_column(String(20))
    url: Mapped[str | None] = mapped_column(String(100))


class Build(Base):
    __tablename__ = "gr_builds"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    build_id: Mapped[str | None] = mapped_column(String(20), index=True)
    chroot: Mapped[str | None] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(20))
    owner: Mapped[str] = mapped_column(String(20))
    srpm_id: Mapped[int | None] = mapped_column(ForeignKey("gr_srpms.id"))

    srpm: Mapped[Srpm | None] = relationship()
    logs: Mapped[list[Log]] = relationship(order_by="Log.id")


class Log(Base):
    """A to-many relation of each build row (what ``runs`` gathers from several tables)."""

    __tablename__ = "gr_logs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    build_row_id: Mapped[int] = mapped_column(ForeignKey("gr_builds.id"), index=True)
    line: Mapped[str] = mapped_column(String(40))


def srpm_info(builds: Any) -> Select[Any]:
    """A derived join: the SRPM's key and status by its id (``on: {srpm_id: srpm_key}``)."""
    srpms = builds.metadata.tables["gr_srpms"]
    return select(srpms.c.id.label("srpm_key"), srpms.c.status.label("srpm_status"))


def batch(builds: Any) -> Any:
    """A group key over the row: its build id, or "unbatched" where it has none."""
    return func.coalesce(builds.c.build_id, literal("unbatched", String(20)))


CHROOTS = ("fedora-40-x86_64", "fedora-41-x86_64", "epel-9-x86_64")
# 12 build ids, b01..b12, with 1..3 chroots each; plus rows without a build id.
BUILD_IDS = [f"b{number:02d}" for number in range(1, 13)]


def rows() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    srpms = [{"id": 1, "status": "success", "url": "https://x/1"},
             {"id": 2, "status": None, "url": None},  # present, every column NULL
             {"id": 3, "status": "failure", "url": "https://x/3"}]
    builds: list[dict[str, Any]] = []
    for number, build_id in enumerate(BUILD_IDS, start=1):
        for index in range(1 + number % 3):
            chroot: str | None = CHROOTS[index]
            if number == 5 and index == 1:
                chroot = None  # a NULL key in the collected objects
            builds.append({
                "id": len(builds) + 1, "build_id": build_id, "chroot": chroot,
                "status": ("success", "failure", "pending")[(number + index) % 3],
                "owner": "packit" if number % 2 else "other",
                "srpm_id": (None, 1, 2, 3)[number % 4],
            })
    for index in range(2):  # a NULL build id: one group of its own
        builds.append({"id": len(builds) + 1, "build_id": None, "chroot": CHROOTS[index],
                       "status": "success", "owner": "packit", "srpm_id": None})
    return srpms, builds


def logs(builds: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Two log lines for every third build row."""
    return [{"id": 10 * build["id"] + index, "build_row_id": build["id"],
             "line": f"row {build['id']} line {index}"}
            for build in builds if build["id"] % 3 == 0 for index in range(2)]

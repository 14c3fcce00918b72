"""A small table of awkward text for exports: commas, quotes, newlines, '#', NULLs, ties.

``ex_notes`` has 41 rows; each may have an author (a nested object in the API) and tags
(a to-many list). Ranks repeat and are NULL on some rows, so a sort by rank leans on the
primary key tie-breaker and on NULL placement.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ForeignKey, Integer, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

__all__ = ["TITLES", "Author", "Base", "Note", "Tag", "rows"]

TITLES = [
    "plain", "a,b", 'say "hi"', "line one\nline two", "crlf\r\nend", "#hash first",
    None, "", " padded ", "ünïcode ✓", "=1+1", 'mix, "all"\nof it', "tab\there", "'single'",
]


class Base(DeclarativeBase):
    pass


class Author(Base):
    __tablename__ = "ex_authors"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    name: Mapped[str | None] = mapped_column(String(50))


class Note(Base):
    __tablename__ = "ex_notes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    title: Mapped[str | None] = mapped_column(String(100))
    rank: Mapped[int | None] = mapped_column(Integer)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("ex_authors.id"))

    author: Mapped[Author | None] = relationship()
    tags: Mapped[list[Tag]] = relationship(order_by="Tag.id")


class Tag(Base):
    __tablename__ = "ex_tags"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    note_id: Mapped[int] = mapped_column(ForeignKey("ex_notes.id"))
    name: Mapped[str] = mapped_column(String(30))


def rows() -> dict[str, list[dict[str, Any]]]:
    """Authors, notes and tags; deterministic."""
    authors = [{"id": 1, "name": 'Ann "A", Jr.'}, {"id": 2, "name": None},
               {"id": 3, "name": "Bo\nLines"}]
    notes = [{"id": i, "title": TITLES[i % len(TITLES)],
              "rank": None if i % 6 == 0 else i % 4,
              "author_id": None if i % 5 == 0 else 1 + i % 3}
             for i in range(1, 42)]
    tags = [{"id": 100 + i * 3 + k, "note_id": i, "name": ["x,y", 'q"', "n\nl"][k]}
            for i in range(1, 42) for k in range(i % 3)]
    return {"ex_authors": authors, "ex_notes": notes, "ex_tags": tags}

"""YAML with key lines: what the registry loader reads before any model sees the data."""

from __future__ import annotations

from typing import Any

import pytest

from crud.config.yamlfile import parse_yaml


@pytest.mark.parametrize(("text", "expected"), [
    ("on: {a: b}\n", {"on": {"a": "b"}}),
    ("Off: 1\nyes: 2\nNO: 3\n", {"Off": 1, "yes": 2, "NO": 3}),
    ("scratch: on\nflag: no\n", {"scratch": True, "flag": False}),
    ("'on': 1\n", {"on": 1}),
], ids=["on-key", "yes-no-on-off-keys", "values-keep-yaml-1.1",
        "quoted-key"])
def test_yaml_1_1_boolean_words_are_names_as_keys(text: str, expected: dict[Any, Any]) -> None:
    assert parse_yaml(text).data == expected


def test_true_and_false_stay_booleans_and_are_no_keys() -> None:
    located = parse_yaml("true: 1\nname: x\n")
    assert located.data == {"name": "x"}
    assert [(problem.line, problem.message) for problem in located.problems] == [
        (1, "mapping keys must be plain scalars")]


def test_key_lines_and_duplicates_are_recorded() -> None:
    located = parse_yaml("joins:\n  event:\n    on: {a: b}\n    on: {c: d}\n")
    assert located.lines[("joins", "event", "on")] == 3
    assert located.data == {"joins": {"event": {"on": {"a": "b"}}}}
    assert [(problem.line, problem.message) for problem in located.problems] == [
        (4, "duplicate key 'on' (first defined on line 3)")]

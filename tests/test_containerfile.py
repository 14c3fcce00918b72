"""The Containerfile keeps its promises; no container engine runs here, so they are read.

Fedora base images in every stage, a builder stage with the compiler and a final stage
without one, a non-root user, the registry and database URL from the environment, a
healthcheck on a route the app serves, and COPY sources that exist.
"""

from __future__ import annotations

import re
import shlex
import tomllib
from dataclasses import dataclass, field

import pytest
from conftest import ROOT

from crud.ops.health import health_router
from crud.sql.database import make_engine

FEDORA_REGISTRIES = ("registry.fedoraproject.org/", "quay.io/fedora/")
BUILD_TOOLS = ("gcc", "g++", "clang", "make", "-devel", "redhat-rpm-config", "pip wheel")


@dataclass
class Stage:
    image: str
    name: str | None
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def arguments(self, keyword: str) -> list[str]:
        return [argument for name, argument in self.instructions if name == keyword]


def _instructions(text: str) -> list[tuple[str, str]]:
    joined = re.sub(r"\\\n", " ", text)
    lines = [line.strip() for line in joined.splitlines()]
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1])
            for line in lines if line and not line.startswith("#")]


def _stages() -> list[Stage]:
    arguments: dict[str, str] = {}
    stages: list[Stage] = []
    for keyword, argument in _instructions((ROOT / "Containerfile").read_text()):
        if keyword == "ARG" and not stages:
            name, _, default = argument.partition("=")
            arguments[name] = default
        elif keyword == "FROM":
            words = argument.split()
            image = re.sub(r"\$\{(\w+)\}", lambda match: arguments[match.group(1)], words[0])
            stages.append(Stage(image, words[2] if len(words) > 2 else None))
        else:
            stages[-1].instructions.append((keyword, argument))
    return stages


STAGES = _stages()
FINAL = STAGES[-1]


def test_every_stage_is_built_on_a_fedora_image() -> None:
    assert len(STAGES) >= 2
    assert all(stage.image.startswith(FEDORA_REGISTRIES) for stage in STAGES), STAGES


def test_the_builder_builds_a_wheel_with_pip() -> None:
    builder = STAGES[0]
    assert builder.name == "builder"
    assert any("pip wheel" in command for command in builder.arguments("RUN"))


def test_the_final_stage_has_no_build_tools() -> None:
    commands = " ".join(FINAL.arguments("RUN"))
    assert [tool for tool in BUILD_TOOLS if tool in commands] == []
    assert FINAL.arguments("COPY")[0] == "--from=builder /opt/crud /opt/crud"


def test_the_final_stage_runs_as_a_non_root_user() -> None:
    users = FINAL.arguments("USER")
    assert users, "no USER in the final stage"
    assert users[-1].split(":")[0] not in {"root", "0"}


def test_registry_from_env_and_database_url_left_to_the_environment() -> None:
    environment = " ".join(FINAL.arguments("ENV"))
    assert "CRUD_REGISTRY=/app/registry.yaml" in environment
    assert "DATABASE_URL" not in environment


def test_port_healthcheck_and_command() -> None:
    assert FINAL.arguments("EXPOSE") == ["8000"]
    assert FINAL.arguments("CMD") == ['["crud", "serve", "--host", "0.0.0.0"]']
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts["crud"] == "crud.cli:main"
    (healthcheck,) = FINAL.arguments("HEALTHCHECK")
    assert "CMD python3 -c" in healthcheck
    assert "/healthz" in healthcheck


def test_the_healthcheck_route_exists() -> None:
    engine = make_engine("sqlite+aiosqlite://")
    paths = [getattr(route, "path", None) for route in health_router(engine, timeout_ms=100).routes]
    assert "/healthz" in paths


@pytest.mark.parametrize("stage", STAGES, ids=[stage.name or "final" for stage in STAGES])
def test_copy_sources_exist_in_the_repository(stage: Stage) -> None:
    for argument in stage.arguments("COPY"):
        words = [word for word in shlex.split(argument) if not word.startswith("--")]
        if argument.startswith("--from="):
            continue
        for source in words[:-1]:
            assert (ROOT / source).exists(), source

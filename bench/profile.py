"""A py-spy profile of a running server, summarised as the top costs of the request path.

``py-spy record --format raw`` writes collapsed stacks (``frame;frame;... count``), with
idle threads left out, so every sample is CPU time of the server's event loop. The summary
attributes samples to libraries by the innermost frame (self time) and to functions by
inclusive time (a function counted once per stack it appears in).
"""

from __future__ import annotations

import asyncio
import re
import shutil
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["Profile", "record", "summarise"]

_FRAME = re.compile(r"^(?P<function>.*) \((?P<file>[^()]*?)(?::\d+)?\)$")
_PACKAGES = ("crud", "resources", "sqlalchemy", "asyncpg", "fastapi_pagination",
             "fastapi_filter", "fastapi", "starlette", "pydantic_core", "pydantic", "uvicorn",
             "httptools", "h11", "orjson", "anyio", "asyncio", "json", "typing")


@dataclass
class Profile:
    samples: int = 0
    by_package: Counter[str] = field(default_factory=Counter)
    inclusive: Counter[str] = field(default_factory=Counter)
    self_time: Counter[str] = field(default_factory=Counter)
    package_of: dict[str, str] = field(default_factory=dict)

    def share(self, count: int) -> float:
        return 100 * count / self.samples if self.samples else 0.0


def _package(file: str) -> str:
    parts = Path(file).parts
    for name in _PACKAGES:
        if name in parts or f"{name}.py" in parts:
            return name
    if "site-packages" in parts:
        return parts[parts.index("site-packages") + 1].split(".")[0]
    return "other"


def _label(frame: str) -> tuple[str, str]:
    match = _FRAME.match(frame)
    if match is None:
        return frame, "other"
    file = match["file"]
    package = _package(file)
    short = "/".join(Path(file).parts[-2:])
    return f"{match['function']} ({short})", package


def summarise(collapsed: str) -> Profile:
    profile = Profile()
    for line in collapsed.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [_label(frame) for frame in stack.split(";") if frame]
        if not frames:
            continue
        profile.samples += count
        leaf, package = frames[-1]
        profile.by_package[package] += count
        profile.self_time[leaf] += count
        for label, owner in set(frames):
            profile.inclusive[label] += count
            profile.package_of[label] = owner
    return profile


async def record(pid: int, output: Path, duration_s: float, rate: int = 250) -> Profile | None:
    """Sample ``pid`` for ``duration_s``; None when py-spy is missing or not permitted."""
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not Path(py_spy).exists():
        return None
    process = await asyncio.create_subprocess_exec(
        py_spy, "record", "--pid", str(pid), "--duration", str(int(duration_s)),
        "--rate", str(rate), "--format", "raw", "--nonblocking", "-o", str(output),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    _, err = await process.communicate()
    if process.returncode != 0 or not output.exists():
        output.with_suffix(".err").write_bytes(err)
        return None
    return summarise(output.read_text())

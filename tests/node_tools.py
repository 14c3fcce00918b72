"""Node.js tools the browser and typed-client tests drive: tests/client's npm packages and
Debian's Chromium.

A missing tool fails the test with the command that installs it; nothing is skipped, so
CI cannot pass by not running these. ``scripts/test`` installs both up front.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from conftest import ROOT

CLIENT = ROOT / "tests" / "client"
CHROMIUM = Path(os.environ.get("CRUD_TEST_CHROMIUM", "/usr/bin/chromium"))
BROWSE_SECONDS = 90


@functools.cache
def node_modules() -> Path:
    """tests/client/node_modules as package-lock.json pins it (``npm ci`` when stale)."""
    missing = [tool for tool in ("node", "npm") if shutil.which(tool) is None]
    if missing:
        pytest.fail(f"{' and '.join(missing)} not found: these tests need Node.js 20 and npm "
                    "(Debian: apt-get install -y nodejs npm)", pytrace=False)
    result = subprocess.run([str(CLIENT / "install")], capture_output=True, text=True,
                            timeout=600, check=False)
    if result.returncode != 0:
        pytest.fail(f"tests/client/install (npm ci) failed:\n{result.stdout}{result.stderr}",
                    pytrace=False)
    return CLIENT / "node_modules"


def bin_path(name: str) -> str:
    return str(node_modules() / ".bin" / name)


def chromium() -> Path:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} not found: the browser tests need Debian's Chromium "
                    "(apt-get install -y chromium), or CRUD_TEST_CHROMIUM naming another "
                    "Chromium binary", pytrace=False)
    return CHROMIUM


def browse(url: str, *, hosts: dict[str, str], wait_for: str | None = None,
           evaluate: str | None = None) -> dict[str, Any]:
    """Load ``url`` in headless Chromium (tests/client/browse.mjs) and return its report.

    Only the names in ``hosts`` resolve (to the given addresses); requests to any other
    host are aborted and listed in ``offHost``.
    """
    job = {"chromium": str(chromium()), "hosts": hosts, "url": url, "waitFor": wait_for,
           "evaluate": evaluate}
    node_modules()
    result = subprocess.run(["node", str(CLIENT / "browse.mjs"), json.dumps(job)],
                            capture_output=True, text=True, timeout=BROWSE_SECONDS,
                            check=False)
    assert result.returncode == 0, f"browse.mjs failed on {url}:\n{result.stderr}"
    report: dict[str, Any] = json.loads(result.stdout)
    assert report["failure"] is None, (f"{url}: {report['failure']}; requests to other hosts: "
                                       f"{report['offHost']}; console errors: {report['errors']}")
    return report

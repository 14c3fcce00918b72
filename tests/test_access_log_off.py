"""``CRUD_ACCESS_LOG=false`` leaves no access log at all (issue 25, item 9).

``crud serve`` used to pass ``access_log=not settings.access_log`` to uvicorn, so turning the
JSON access log off turned uvicorn's own on.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from conftest import ROOT, Database
from served import served


@pytest.mark.parametrize("demo_db", ["sqlite"], indirect=True)
@pytest.mark.parametrize("setting", ["false", "true"])
def test_no_uvicorn_access_line_either_way(demo_db: Database, tmp_path: Path,
                                           setting: str) -> None:
    with served(ROOT / "registry.yaml", demo_db.url, tmp_path,
                env={"CRUD_ACCESS_LOG": setting}) as server:
        assert httpx.get(f"{server.base}/api/v1/projects?size=1").status_code == 200
    output = server.output()
    assert '"GET /api/v1/projects?size=1 HTTP/1.1" 200' not in output  # uvicorn's format
    assert ('"path": "/api/v1/projects"' in output or '"path":"/api/v1/projects"' in output) \
        == (setting == "true")

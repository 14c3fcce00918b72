"""``CRUD_TRUSTED_HOSTS`` and ``CRUD_PUBLIC_URL``: a forged Host header is never echoed back."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import ROOT, Api, Database
from pydantic import ValidationError
from served import serve

from crud.config.settings import Settings
from crud.ops.hosts import TrustedHosts, public_base_url

REGISTRY = """\
resources:
  koji-builds:
    model: resources.models:KojiBuildTargetModel
    fields: {packit_id: id, status:}
"""
TRUSTED = "api.example.org,*.internal.example.org"


async def _api(make_api: Callable[..., Any], demo_db: Database, **settings: Any) -> Api:
    api: Api = await make_api(REGISTRY, demo_db.url, demo_db.backend,
                              settings=Settings(**settings))
    return api


def _refused(host: str, path: str) -> dict[str, Any]:
    return {"type": "about:blank", "title": "Bad Request", "status": 400,
            "detail": f"The Host header {host!r} does not name this API.", "instance": path,
            "code": "untrusted_host", "request_id": "h-1"}


@pytest.mark.parametrize("demo_db", ["sqlite"], indirect=True)
@pytest.mark.parametrize(("host", "status"), [
    ("api.example.org", 200),
    ("API.Example.ORG:8443", 200),
    ("eu.internal.example.org", 200),
    ("evil.example", 400),
    ("api.example.org.evil.example", 400),
    ("internal.example.org", 400),  # '*.' matches subdomains only
], ids=["exact", "case-and-port", "subdomain", "other", "suffix-trick", "bare-wildcard-domain"])
async def test_only_trusted_hosts_are_answered(make_api: Callable[..., Any], demo_db: Database,
                                               host: str, status: int) -> None:
    api = await _api(make_api, demo_db, trusted_hosts=TRUSTED)
    response = await api.get("/api/v1/koji-builds", params={"size": 1},
                             headers={"Host": host, "X-Request-ID": "h-1"})
    assert response.status_code == status
    if status == 400:
        assert response.json() == _refused(host, "/api/v1/koji-builds")
        assert response.headers["content-type"] == "application/problem+json"
        assert response.headers["x-request-id"] == "h-1"


@pytest.mark.parametrize("demo_db", ["sqlite"], indirect=True)
async def test_a_redirect_never_points_at_an_untrusted_host(make_api: Callable[..., Any],
                                                             demo_db: Database) -> None:
    api = await _api(make_api, demo_db, trusted_hosts=TRUSTED)
    forged = await api.get("/api/v1/koji-builds/", headers={"Host": "evil.example",
                                                            "X-Request-ID": "h-1"})
    honest = await api.get("/api/v1/koji-builds/", headers={"Host": "api.example.org"})
    assert forged.status_code == 400
    assert "location" not in forged.headers
    assert forged.json() == _refused("evil.example", "/api/v1/koji-builds/")
    assert honest.status_code == 307
    assert honest.headers["location"] == "/api/v1/koji-builds"


@pytest.mark.parametrize("demo_db", ["sqlite"], indirect=True)
async def test_without_trusted_hosts_any_host_is_answered_and_not_repeated(
        make_api: Callable[..., Any], demo_db: Database) -> None:
    api = await _api(make_api, demo_db)
    response = await api.get("/api/v1/koji-builds/", headers={"Host": "evil.example"})
    assert (response.status_code, response.headers["location"]) == (307, "/api/v1/koji-builds")


@pytest.mark.parametrize("demo_db", ["sqlite"], indirect=True)
@pytest.mark.parametrize("path", ["/healthz", "/readyz", "/metrics"])
async def test_probes_answer_any_host(make_api: Callable[..., Any], demo_db: Database,
                                      path: str) -> None:
    # kubelet and Prometheus send the pod's address as Host.
    api = await _api(make_api, demo_db, trusted_hosts=TRUSTED)
    response = await api.get(path, headers={"Host": "10.128.4.17:8000"})
    assert response.status_code == 200


@pytest.mark.parametrize(("value", "expected"), [
    ("https://API.example.org/packit/", "https://api.example.org/packit"),
    ("http://127.0.0.1:8000", "http://127.0.0.1:8000"),
    ("", None),
], ids=["path-and-case", "port", "empty"])
def test_public_base_url_is_normalised(value: str, expected: str | None) -> None:
    assert public_base_url(Settings(public_url=value)) == expected


@pytest.mark.parametrize(("settings", "message"), [
    ({"public_url": "api.example.org"},
     "'api.example.org' is not an absolute http(s) URL (e.g. https://api.example.org)"),
    ({"public_url": "https://api.example.org/?page=2"},
     "'https://api.example.org/?page=2': a base URL has no query, fragment or credentials"),
    ({"trusted_hosts": "api.example.org,https://api.example.org"},
     "'https://api.example.org' is not a host name: give the name alone, without scheme, "
     "port or path ('api.example.org', '*.example.org')"),
    ({"trusted_hosts": "api.example.org:443"},
     "'api.example.org:443' is not a host name: give the name alone, without scheme, port or "
     "path ('api.example.org', '*.example.org')"),
    ({"trusted_hosts": "*example.org"},
     "'*example.org' is not a host name: give the name alone, without scheme, port or path "
     "('api.example.org', '*.example.org')"),
], ids=["relative-url", "query", "scheme", "port", "bad-wildcard"])
def test_bad_host_settings_are_refused(settings: dict[str, str], message: str) -> None:
    with pytest.raises(ValidationError) as caught:
        Settings(**settings)  # type: ignore[arg-type]
    assert [error["msg"] for error in caught.value.errors()] == [f"Value error, {message}"]


def test_trusted_hosts_repr() -> None:
    middleware = TrustedHosts(lambda *_: None, hosts=["api.example.org"])  # type: ignore[arg-type]
    assert repr(middleware) == ("TrustedHosts(hosts=['api.example.org'], "
                                "unchecked=['/healthz', '/metrics', '/readyz'])")


@pytest.mark.slow
@pytest.mark.parametrize("demo_db", ["sqlite"], indirect=True)
def test_crud_serve_reads_trusted_hosts_from_the_environment(demo_db: Database,
                                                             tmp_path: Path) -> None:
    (tmp_path / "registry.yaml").write_text(REGISTRY, encoding="utf-8")
    server = serve("--database-url", demo_db.url, cwd=tmp_path,
                   env={"CRUD_TRUSTED_HOSTS": "api.example.org"})
    try:
        server.wait_until_up()
        forged = httpx.get(f"{server.base}/api/v1/koji-builds/", headers={"Host": "evil.example"})
        honest = httpx.get(f"{server.base}/api/v1/koji-builds/",
                           headers={"Host": "api.example.org"})
    finally:
        server.stop()
    assert (forged.status_code, forged.json()["code"]) == (400, "untrusted_host")
    assert "location" not in forged.headers
    assert honest.headers["location"] == "/api/v1/koji-builds"


@pytest.mark.parametrize("demo_db", ["sqlite"], indirect=True)
@pytest.mark.parametrize(("public_url", "root_path", "expected"), [
    (None, "", "/api/v1/koji-builds"),
    ("https://api.example.org/crud", "", "https://api.example.org/crud/api/v1/koji-builds"),
    # A proxy strips /crud and says so (uvicorn --root-path /crud): the prefix once.
    ("https://api.example.org/crud", "/crud", "https://api.example.org/crud/api/v1/koji-builds"),
], ids=["root-relative", "public-url", "public-url-and-root-path"])
async def test_links_and_redirects_start_with_the_public_url(
        make_api: Callable[..., Any], demo_db: Database, public_url: str | None,
        root_path: str, expected: str) -> None:
    settings = {"public_url": public_url} if public_url else {}
    api = await _api(make_api, demo_db, **settings)
    transport = httpx.ASGITransport(app=api.app, root_path=root_path)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        listed = await client.get(f"{root_path}/api/v1/koji-builds", params={"size": 1},
                                  headers={"Host": "forged.example"})
        redirected = await client.get(f"{root_path}/api/v1/koji-builds/", params={"size": 1},
                                      headers={"Host": "forged.example"})
    link = listed.headers["link"]
    assert link.startswith(f"<{expected}?size=1&cursor=")
    assert link.endswith('>; rel="next"')
    assert redirected.headers["location"] == f"{expected}?size=1"


# -- no URL the API sends repeats the request's Host -------------------------------------

FORGED = "evil.example"
# The demo registry with a grouped list under max_offset, declared path routes and the
# legacy profile beside the standard resources.
SWEEP_EXTRA = """\
  koji-groups:
    model: resources.models:KojiBuildTargetModel
    group_by: koji_build_group_id
    fields: {koji_build_group_id:, chroots: {collect: target}}
    sort: [koji_build_group_id]
    default_sort: [koji_build_group_id]
    max_offset: 2
  builds-by-path:
    model: resources.models:KojiBuildTargetModel
    fields: {packit_id: id, status:}
    default_sort: [packit_id]
    routes:
      - {path: /builds/all, kind: list}
      - {path: "/builds/{id}", kind: detail, bind: {id: packit_id}}
  legacy-builds:
    model: resources.models:KojiBuildTargetModel
    profile: legacy
    legacy: {unit: builds}
    fields: {packit_id: id, status:}
    default_sort: [packit_id]
"""
RA_PAGE = {"range": "[0, 0]", "sort": '["id", "ASC"]'}


def _sweep_registry(profile: str) -> str:
    text = (ROOT / "registry.yaml").read_text(encoding="utf-8") + SWEEP_EXTRA
    if profile != "standard":
        text = text.replace("  prefix: /api/v1\n", f"  prefix: /api/v1\n  profile: {profile}\n", 1)
    return text


@pytest.mark.parametrize("demo_db", ["sqlite"], indirect=True)
@pytest.mark.parametrize(("profile", "path", "params"), [
    ("standard", "/api/v1/koji-builds", {"size": 1}),
    ("standard", "/api/v1/koji-builds/", {"size": 1}),
    ("standard", "/api/v1/koji-builds", {"size": 1, "format": "csv"}),
    ("standard", "/api/v1/koji-builds", {"size": 1, "format": "ndjson"}),
    ("standard", "/api/v1/koji-builds", {"size": 1, "facet": "status", "embed": "runs"}),
    ("standard", "/api/v1/koji-builds/aggregate", {"group_by": "status", "size": 1}),
    ("standard", "/api/v1/koji-builds/1", {}),
    ("standard", "/api/v1/koji-builds/999999", {}),
    ("standard", "/api/v1/koji-groups", {"size": 1}),
    ("standard", "/api/v1/koji-groups", {"page": 4, "size": 1}),
    ("standard", "/api/v1/builds/all", {"size": 1}),
    ("standard", "/api/v1/builds/all/", {}),
    ("standard", "/api/v1/builds/2", {}),
    ("standard", "/api/v1/legacy-builds", {"per_page": 1}),
    ("standard", "/openapi.json", {}),
    ("standard", "/docs", {}),
    ("standard", "/", {}),
    ("react-admin", "/api/v1/koji-builds", RA_PAGE),
    ("react-admin", "/api/v1/koji-groups", RA_PAGE),
    ("json-server", "/api/v1/koji-builds", {"_start": 0, "_end": 1}),
    ("json-server", "/api/v1/koji-groups", {"_page": 1, "_per_page": 1}),
], ids=["list", "slash-redirect", "csv", "ndjson", "facets-embeds", "aggregate", "detail",
        "not-found", "grouped", "grouped-beyond-max-offset", "path-route", "path-route-slash",
        "path-route-detail", "legacy", "openapi", "docs", "root", "react-admin",
        "react-admin-grouped", "json-server", "json-server-grouped"])
async def test_nothing_sent_repeats_the_host(make_api: Callable[..., Any], demo_db: Database,
                                             profile: str, path: str,
                                             params: dict[str, Any]) -> None:
    # No CRUD_PUBLIC_URL, no CRUD_TRUSTED_HOSTS: the default must still be safe to cache.
    api: Api = await make_api(_sweep_registry(profile), demo_db.url, demo_db.backend)
    response = await api.get(path, params=params, headers={"Host": FORGED})
    assert response.status_code < 500, response.text
    sent = [f"{name}: {value}" for name, value in response.headers.multi_items()]
    assert [line for line in sent if FORGED in line] == []
    assert FORGED.encode() not in response.content


@pytest.mark.parametrize("demo_db", ["sqlite"], indirect=True)
@pytest.mark.parametrize(("path", "params", "header", "expected"), [
    ("/api/v1/koji-builds", {"size": 1, "status": "success"}, "link",
     "</api/v1/koji-builds?size=1&status=success&cursor="),
    ("/api/v1/koji-builds/", {"size": 1}, "location", "/api/v1/koji-builds?size=1"),
    ("/api/v1/builds/all", {"size": 1}, "link", "</api/v1/builds/all?size=1&cursor="),
    ("/api/v1/builds/all/", {}, "location", "/api/v1/builds/all"),
    ("/api/v1/koji-groups", {"page": 4, "size": 1}, "link",
     '</api/v1/koji-groups?size=1>; rel="first"'),
], ids=["next", "slash-redirect", "path-route-next", "path-route-slash", "first"])
@pytest.mark.parametrize("root_path", ["", "/packit"], ids=["at-root", "under-root-path"])
async def test_links_are_root_relative_by_default(
        make_api: Callable[..., Any], demo_db: Database, path: str, params: dict[str, Any],
        header: str, expected: str, root_path: str) -> None:
    # Behind a proxy that strips /packit (uvicorn --root-path /packit), links keep it.
    api: Api = await make_api(_sweep_registry("standard"), demo_db.url, demo_db.backend)
    transport = httpx.ASGITransport(app=api.app, root_path=root_path)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        response = await client.get(f"{root_path}{path}", params=params,
                                    headers={"Host": FORGED})
        link = response.headers[header]
        assert link.startswith(expected.replace("/api/", f"{root_path}/api/", 1)), link
        # Resolved against the URL asked (RFC 3986), the link is the next request as is.
        target = link[1:link.index(">")] if header == "link" else link
        followed = await client.get(target, headers={"Host": FORGED})
    assert followed.status_code == 200

"""Per-resource authentication: ``auth: none | api_key | bearer`` in the registry.

Keys and tokens come from settings (``CRUD_API_KEYS``, ``CRUD_BEARER_TOKENS``). The check
is a FastAPI dependency built on ``fastapi.security`` classes, so OpenAPI gets the
security schemes and a ``security`` requirement on the protected operations only. A
presented secret is compared with every configured one in constant time (over fixed-size
digests, so neither which key matched nor its length shows in the timing).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from fastapi import Request, Security, params
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from pydantic import SecretStr

from crud.config.registry import ApiSpec, AuthKind, RegistryIssue, ResourceSpec
from crud.config.settings import Settings
from crud.config.yamlfile import LocatedData
from crud.http.errors import PROBLEM_JSON, Problem
from crud.http.schema import PROBLEM_SCHEMA

__all__ = [
    "API_KEY_HEADER",
    "Check",
    "Credentials",
    "Unauthorized",
    "auth_kind",
    "guard",
    "missing_credentials",
]

API_KEY_HEADER = "X-API-Key"
REALM = "crud"
Check = Callable[[Request], Awaitable[None]]


class Unauthorized(Problem):
    status = 401
    code = "unauthorized"


def auth_kind(spec: ResourceSpec, api: ApiSpec) -> AuthKind:
    """The resource's own ``auth:``, else the ``api:`` default."""
    return spec.auth if spec.auth is not None else api.auth


class SecretSet:
    """Configured secrets, kept only as digests and matched in constant time."""

    def __init__(self, secrets: Sequence[SecretStr]) -> None:
        self.digests = tuple(_digest(secret.get_secret_value()) for secret in secrets)

    def __contains__(self, presented: object) -> bool:
        if not isinstance(presented, str):
            return False
        digest = _digest(presented)
        matched = False
        for candidate in self.digests:  # no early exit: every candidate is compared
            matched |= hmac.compare_digest(candidate, digest)
        return matched

    def __len__(self) -> int:
        return len(self.digests)

    def __repr__(self) -> str:
        return f"SecretSet({len(self.digests)} secrets)"


def _digest(secret: str) -> bytes:
    return hashlib.sha256(secret.encode("utf-8")).digest()


class Credentials:
    """The keys and tokens from settings, and one dependency per auth kind."""

    def __init__(self, settings: Settings) -> None:
        self.api_keys = SecretSet(settings.api_keys)
        self.bearer_tokens = SecretSet(settings.bearer_tokens)
        self.api_key_scheme = APIKeyHeader(
            name=API_KEY_HEADER, scheme_name="ApiKey", auto_error=False,
            description=f"One of the keys in CRUD_API_KEYS, in the {API_KEY_HEADER} header")
        self.bearer_scheme = HTTPBearer(
            scheme_name="Bearer", auto_error=False,
            description="One of the tokens in CRUD_BEARER_TOKENS")

    def __repr__(self) -> str:
        return (f"Credentials(api_keys={len(self.api_keys)}, "
                f"bearer_tokens={len(self.bearer_tokens)})")

    def check(self, kind: AuthKind) -> Check | None:
        """The credential check of ``kind`` (None for ``none``): raises ``Unauthorized``."""
        if kind == "api_key":
            return self._check_api_key
        if kind == "bearer":
            return self._check_bearer
        return None

    def dependency(self, kind: AuthKind) -> params.Security | None:
        """``check(kind)`` as a FastAPI dependency, so OpenAPI shows the security scheme."""
        check = self.check(kind)
        if check is None:
            return None
        scheme: Any = self.api_key_scheme if kind == "api_key" else self.bearer_scheme

        async def require(request: Request, _credentials: Any = Security(scheme)) -> None:
            await check(request)

        return params.Security(dependency=require)

    async def _check_api_key(self, request: Request) -> None:
        challenge = f'ApiKey header="{API_KEY_HEADER}"'
        key = await self.api_key_scheme(request)
        if key is None:
            raise Unauthorized(f"This resource needs an API key in the {API_KEY_HEADER} "
                               "header.", headers={"WWW-Authenticate": challenge})
        if key not in self.api_keys:
            raise Unauthorized("The API key is not valid.",
                               headers={"WWW-Authenticate": challenge})

    async def _check_bearer(self, request: Request) -> None:
        credentials: HTTPAuthorizationCredentials | None = await self.bearer_scheme(request)
        if credentials is None:
            raise Unauthorized(
                "This resource needs a token: send 'Authorization: Bearer <token>'.",
                headers={"WWW-Authenticate": f'Bearer realm="{REALM}"'})
        if credentials.credentials not in self.bearer_tokens:
            # RFC 6750 section 3: a presented but unusable token says invalid_token.
            raise Unauthorized("The bearer token is not valid.", headers={
                "WWW-Authenticate": f'Bearer realm="{REALM}", error="invalid_token"'})


def guard(kind: AuthKind, credentials: Credentials) -> dict[str, Any]:
    """``include_router`` options protecting a resource: the dependency and its 401."""
    dependency = credentials.dependency(kind)
    if dependency is None:
        return {}
    return {"dependencies": [dependency], "responses": {401: {
        "description": "Missing or invalid credentials",
        "headers": {"WWW-Authenticate": {"schema": {"type": "string"}}},
        "content": {PROBLEM_JSON: {"schema": PROBLEM_SCHEMA}},
    }}}


_SETTING_OF = {"api_key": ("api_keys", "CRUD_API_KEYS"),
               "bearer": ("bearer_tokens", "CRUD_BEARER_TOKENS")}


def missing_credentials(api: ApiSpec, resources: dict[str, ResourceSpec], settings: Settings,
                        path: str, located: LocatedData | None) -> list[RegistryIssue]:
    """Every protected resource whose kind of secret is not configured at all."""
    issues = []
    for name, spec in resources.items():
        kind = auth_kind(spec, api)
        if kind == "none" or getattr(settings, _SETTING_OF[kind][0]):
            continue
        where: tuple[str, ...] = ("resources", name, "auth") if spec.auth else ("api", "auth")
        line = located.line_of(where) if located is not None else None
        issues.append(RegistryIssue(
            path=path, line=line, key=".".join(where),
            message=f"{kind!r} protects {name!r} but no secret is configured: "
                    f"set {_SETTING_OF[kind][1]} (comma-separated)"))
    return issues

"""A loopback stand-in for Azure Key Vault's secrets REST API, so the real azure-keyvault-secrets SDK runs locally.

https on 127.0.0.1 with the local authority's throwaway certificate; the bearer challenge as Key Vault
answers it (an unauthenticated request gets 401 with `WWW-Authenticate: Bearer authorization="<authority>",
resource="https://vault.azure.net"`); then `PUT/GET /secrets/{name}[/{version}]`, `DELETE /secrets/{name}`
(soft delete), `GET/DELETE /deletedsecrets/{name}` (read, purge) and `POST /deletedsecrets/{name}/recover`,
each with `?api-version=`, in Key Vault's JSON shapes. A bearer token is accepted only if the local authority
issued it.
"""

from __future__ import annotations

import json
import re
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from devtools.local_authority import LocalAuthority, RecordedRequest, _LoopbackServer

KEY_VAULT_RESOURCE = "https://vault.azure.net"
_NAME = re.compile(r"[0-9A-Za-z-]{1,127}")
RECOVERY_LEVEL = "Recoverable+Purgeable"


@dataclass
class _Version:
    version: str
    value: str
    content_type: str | None
    tags: dict[str, str]
    created: int


@dataclass
class _Secret:
    versions: list[_Version] = field(default_factory=list)
    deleted_at: int | None = None


def _error(status: int, code: str, message: str) -> tuple[int, dict[str, Any], dict[str, str]]:
    return status, {"error": {"code": code, "message": message}}, {}


class LocalKeyVault(_LoopbackServer):
    """Secrets by name with versions and soft delete; `vault_url` is what SecretClient is given."""

    def __init__(self, authority: LocalAuthority, tenant: str) -> None:
        super().__init__(tls=authority.pki.server_context())
        self._authority = authority
        self.tenant = tenant
        self._secrets: dict[str, _Secret] = {}
        self._lock = threading.Lock()
        self.calls = 0  # authenticated secret operations answered (the cache tests count them)
        self.purge_protection = False  # as infra/ deploys it: a deleted secret stays recoverable, purge is refused
        self.token_accepted: Callable[[str], bool] = lambda token: token in authority.issued_tokens

    @property
    def vault_url(self) -> str:
        return f"https://localhost:{self.port}"

    def challenge(self) -> dict[str, str]:
        authorization = self._authority.url_for(self.tenant)
        return {"WWW-Authenticate": f'Bearer authorization="{authorization}", resource="{KEY_VAULT_RESOURCE}"'}

    def names(self) -> list[str]:
        """Names of the live (not deleted) secrets: what a test may look at, never the values."""
        with self._lock:
            return sorted(name for name, s in self._secrets.items() if s.versions and s.deleted_at is None)

    def value_of(self, name: str) -> str | None:
        """The current value of a live secret (tests only: proves what the gateway stored)."""
        with self._lock:
            found = self._secrets.get(name)
            if found is None or not found.versions or found.deleted_at is not None:
                return None
            return found.versions[-1].value

    # -- the REST API --------------------------------------------------------------------------------------------
    def answer(
        self, method: str, path: str, headers: dict[str, str], body: str
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        parts = urlsplit(path)
        query = dict(parse_qsl(parts.query))
        self._record(RecordedRequest(method, parts.path, query, {}), token_request=False)
        given = next((v for k, v in headers.items() if k.lower() == "authorization"), "")
        if not given.lower().startswith("bearer ") or not self.token_accepted(given[7:].strip()):
            status, payload, _ = _error(401, "Unauthorized", "AKV10000: Request is missing a Bearer or PoP token.")
            return status, payload, self.challenge()
        if not query.get("api-version"):
            return _error(400, "BadParameter", "The api-version query parameter is required.")
        segments = [s for s in parts.path.split("/") if s]
        if len(segments) < 2 or not _NAME.fullmatch(segments[1]):
            return _error(400, "BadParameter", "The request URI contains an invalid name.")
        with self._lock:
            self.calls += 1
            return self._route(method, segments, body)

    def _route(self, method: str, segments: list[str], body: str) -> tuple[int, dict[str, Any], dict[str, str]]:
        collection, name, rest = segments[0], segments[1], segments[2:]
        found = self._secrets.get(name)
        if collection == "secrets" and method == "PUT" and not rest:
            return self._set(name, found, body)
        if collection == "secrets" and method == "GET" and len(rest) <= 1:
            if found is None or found.deleted_at is not None or not found.versions:
                return _error(404, "SecretNotFound", f"A secret with (name/id) {name} was not found in this key vault.")
            version = (
                found.versions[-1]
                if not rest or not rest[0]
                else next((v for v in found.versions if v.version == rest[0]), None)
            )
            if version is None:
                return _error(404, "SecretNotFound", f"A secret with (name/id) {name}/{rest[0]} was not found.")
            return 200, self._bundle(name, version), {}
        if collection == "secrets" and method == "DELETE" and not rest:
            if found is None or found.deleted_at is not None or not found.versions:
                return _error(404, "SecretNotFound", f"A secret with (name/id) {name} was not found in this key vault.")
            found.deleted_at = int(time.time())
            return 200, self._deleted_bundle(name, found), {}
        if collection == "deletedsecrets":
            if found is None or found.deleted_at is None:
                return _error(404, "SecretNotFound", f"Deleted Secret not found: {name}")
            if method == "GET" and not rest:
                return 200, self._deleted_bundle(name, found), {}
            if method == "DELETE" and not rest:
                if self.purge_protection:
                    return _error(403, "Forbidden", "Operation 'purge' is not allowed: purge protection is enabled.")
                del self._secrets[name]
                return 204, {}, {}
            if method == "POST" and rest == ["recover"]:
                found.deleted_at = None
                return 200, self._bundle(name, found.versions[-1]), {}
        return _error(405, "MethodNotAllowed", "The operation is not supported by this stand-in.")

    def _set(self, name: str, found: _Secret | None, body: str) -> tuple[int, dict[str, Any], dict[str, str]]:
        if found is not None and found.deleted_at is not None:
            return _error(
                409,
                "Conflict",
                f"Secret {name} is currently in a deleted but recoverable state, and its name cannot be reused; "
                "in this state, the secret can be recovered or purged.",
            )
        try:
            parameters = json.loads(body or "{}")
        except ValueError:
            return _error(400, "BadParameter", "The request body is not JSON.")
        value = parameters.get("value") if isinstance(parameters, dict) else None
        if not isinstance(value, str):
            return _error(400, "BadParameter", "Property value is required.")
        if found is None:
            found = self._secrets[name] = _Secret()
        version = _Version(
            version=secrets.token_hex(16),
            value=value,
            content_type=parameters.get("contentType"),
            tags=dict(parameters.get("tags") or {}),
            created=int(time.time()),
        )
        found.versions.append(version)
        return 200, self._bundle(name, version), {}

    def _bundle(self, name: str, version: _Version) -> dict[str, Any]:
        bundle: dict[str, Any] = {
            "value": version.value,
            "id": f"{self.vault_url}/secrets/{name}/{version.version}",
            "attributes": {
                "enabled": True,
                "created": version.created,
                "updated": version.created,
                "recoveryLevel": RECOVERY_LEVEL,
                "recoverableDays": 90,
            },
            "tags": version.tags,
        }
        if version.content_type:
            bundle["contentType"] = version.content_type
        return bundle

    def _deleted_bundle(self, name: str, found: _Secret) -> dict[str, Any]:
        bundle = self._bundle(name, found.versions[-1])
        bundle.pop("value")  # Key Vault does not return a deleted secret's value
        deleted = found.deleted_at or int(time.time())
        bundle.update(
            recoveryId=f"{self.vault_url}/deletedsecrets/{name}",
            deletedDate=deleted,
            scheduledPurgeDate=deleted + 90 * 86_400,
        )
        return bundle


LOCAL_VAULT_TENANT = "local-vault-tenant"
LOCAL_VAULT_CLIENT_ID = "00000000-0000-4000-8000-0000000090b1"


def start_local_vault(authority: LocalAuthority) -> LocalKeyVault:
    """`make run`'s provider-secret vault: the stand-in, and a service principal of `authority` that the gateway's
    DefaultAzureCredential uses (azure-identity's environment variables), announced in PROVIDER_SECRETS_VAULT_URL."""
    import os

    from shared import settings

    vault = LocalKeyVault(authority, LOCAL_VAULT_TENANT).start()
    client_secret = secrets.token_urlsafe(32)
    authority.register_client(LOCAL_VAULT_CLIENT_ID, client_secret)
    os.environ.update(
        {
            "AZURE_TENANT_ID": LOCAL_VAULT_TENANT,
            "AZURE_CLIENT_ID": LOCAL_VAULT_CLIENT_ID,
            "AZURE_CLIENT_SECRET": client_secret,
            "AZURE_AUTHORITY_HOST": f"https://localhost:{authority.port}",
            "PROVIDER_SECRETS_VAULT_URL": vault.vault_url,
        }
    )
    settings.reload()
    return vault

"""Client registrations as rows and values: the `client` row, its `secret-<id>` rows and its keys (Clients table)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from shared.registry import client_keys
from shared.registry.client_keys import ClientKey, JwksUrl
from shared.registry.columns import EntityReader
from shared.registry.errors import EntityConflict, RegistryError
from shared.registry.storage import CLIENTS_TABLE, Change, Merge, Row
from shared.registry.tenant_ids import normalise_tenant_id
from shared.secret_values import hash_secret

TABLE = CLIENTS_TABLE
CLIENT_ROW = "client"
SECRET_ROW_PREFIX = "secret-"  # noqa: S105 - a row key prefix, not a secret
ANY_TENANT = "*"


@dataclass(frozen=True)
class Client:
    client_id: str
    display_name: str
    allowed_tenants: tuple[str, ...]  # ("*",) for any onboarded tenant
    enabled: bool
    token_lifetime_seconds: int | None
    created_at: datetime | None
    etag: str | None = None

    def may_use_tenant(self, tenant_id: str) -> bool:
        return ANY_TENANT in self.allowed_tenants or tenant_id in self.allowed_tenants


@dataclass(frozen=True)
class ClientSecret:
    secret_id: str
    sha256: str
    created_at: datetime | None
    expires_at: datetime | None
    revoked: bool
    revoked_at: datetime | None
    etag: str | None = None
    last_used_day: date | None = None
    label: str = ""

    def is_active(self, now: datetime) -> bool:
        return not self.revoked and (self.expires_at is None or now < self.expires_at)


@dataclass(frozen=True)
class ClientState:
    """A client with all its secrets: what authentication and token verification need."""

    client: Client
    secrets: tuple[ClientSecret, ...]
    keys: tuple[ClientKey, ...] = ()  # public keys registered inline (private_key_jwt)
    jwks_url: JwksUrl | None = None  # where the client publishes its public keys (private_key_jwt)

    def secret(self, secret_id: str) -> ClientSecret | None:
        return next((s for s in self.secrets if s.secret_id == secret_id), None)

    def key(self, thumbprint: str) -> ClientKey | None:
        return next((k for k in self.keys if k.thumbprint == thumbprint), None)

    def knows_credential(self, credential_id: str) -> bool:
        """Whether the credential a token records (a secret id or a key's credential id) is registered at all."""
        if credential_id.startswith(client_keys.KEY_ROW_PREFIX):
            return self.key(credential_id[len(client_keys.KEY_ROW_PREFIX) :]) is not None
        if credential_id.startswith(client_keys.JWKS_URL_CREDENTIAL_PREFIX):
            # "jwks-<url hash>.<key thumbprint>": the URL must still be the registered one.
            return self.jwks_url is not None and credential_id.split(".", 1)[0] == self.jwks_url.credential_id
        return self.secret(credential_id) is not None

    def credential_live(self, credential_id: str) -> bool:
        """Whether tokens authenticated with this credential are still good: a removed key or JWKS URL,
        like a revoked secret, ends them."""
        if not self.knows_credential(credential_id):
            return False
        secret = self.secret(credential_id)
        return secret is None or not secret.revoked


@dataclass(frozen=True)
class IssuedSecret:
    """A freshly created secret: the only moment its value exists outside the client."""

    client_id: str
    secret_id: str
    secret: str
    expires_at: datetime | None


def parse_client(entity: dict[str, Any], etag: str | None = None) -> Client:
    reader = EntityReader(TABLE, entity)
    allowed = reader.word_list("AllowedTenants")
    if not allowed:
        raise reader.problem("AllowedTenants", "is missing (use * or a list of tenant GUIDs)")
    tenants: list[str] = []
    for value in allowed:
        if value == ANY_TENANT:
            tenants.append(value)
            continue
        tenant = normalise_tenant_id(value)
        if tenant is None:
            raise reader.problem("AllowedTenants", f"has {value!r}, which is not a tenant GUID")
        tenants.append(tenant)
    return Client(
        client_id=reader.partition_key,
        display_name=reader.text("DisplayName", required=False, default=reader.partition_key),
        allowed_tenants=tuple(tenants),
        enabled=reader.flag("Enabled", default=True),
        token_lifetime_seconds=reader.whole_number("TokenLifetimeSeconds", minimum=60),
        created_at=reader.moment("CreatedAt"),
        etag=etag,
    )


def parse_secret(entity: dict[str, Any], etag: str | None = None) -> ClientSecret:
    reader = EntityReader(TABLE, entity)
    digest = reader.text("SecretSha256").lower()
    if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
        raise reader.problem("SecretSha256", "must be 64 hexadecimal characters")
    return ClientSecret(
        secret_id=reader.row_key[len(SECRET_ROW_PREFIX) :],
        sha256=digest,
        created_at=reader.moment("CreatedAt"),
        expires_at=reader.moment("ExpiresAt"),
        revoked=reader.flag("Revoked", default=False),
        revoked_at=reader.moment("RevokedAt"),
        etag=etag,
        last_used_day=_day_or_none(entity.get("LastUsedDay")),
        label=_label_or_empty(entity.get("Label")),
    )


def _label_or_empty(value: Any) -> str:
    # Informational only, like LastUsedDay: an odd hand-edited label never locks the client out.
    return " ".join(value.split())[:60] if isinstance(value, str) and value.isprintable() else ""


def _day_or_none(value: Any) -> date | None:
    # Informational only: an odd hand-edited value must never lock the client out, so it reads as unknown.
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            return None
    return None


def client_state_of(rows: list[Row]) -> ClientState | None:
    """The client with its secrets and keys from its partition's rows; None when it has no client row."""
    client_rows = [row for row in rows if row.entity["RowKey"] == CLIENT_ROW]
    if not client_rows:
        return None
    secrets_ = [
        parse_secret(row.entity, row.etag) for row in rows if str(row.entity["RowKey"]).startswith(SECRET_ROW_PREFIX)
    ]
    secrets_.sort(key=lambda s: s.created_at or datetime.min.replace(tzinfo=UTC))
    keys = [
        client_keys.parse_key_row(row.entity)
        for row in rows
        if str(row.entity["RowKey"]).startswith(client_keys.KEY_ROW_PREFIX)
    ]
    keys.sort(key=lambda k: (k.created_at or datetime.min.replace(tzinfo=UTC), k.kid))
    url_rows = [row for row in rows if row.entity["RowKey"] == client_keys.JWKS_URL_ROW]
    jwks_url = client_keys.parse_jwks_url_row(url_rows[0].entity) if url_rows else None
    return ClientState(
        client=parse_client(client_rows[0].entity, client_rows[0].etag),
        secrets=tuple(secrets_),
        keys=tuple(keys),
        jwks_url=jwks_url,
    )


def secret_entity(
    client_id: str, secret_id: str, secret: str, now: datetime, expires_at: datetime | None, label: str = ""
) -> dict[str, Any]:
    """A secret row: the hash of `secret`, never the secret."""
    entity: dict[str, Any] = {
        "PartitionKey": client_id,
        "RowKey": SECRET_ROW_PREFIX + secret_id,
        "SecretSha256": hash_secret(secret),
        "CreatedAt": now,
        "Revoked": False,
    }
    if expires_at is not None:
        entity["ExpiresAt"] = expires_at
    if label:
        entity["Label"] = label
    return entity


def client_entity(
    client_id: str,
    display_name: str,
    allowed_tenants: tuple[str, ...],
    token_lifetime_seconds: int | None,
    now: datetime,
) -> dict[str, Any]:
    """A new client row; RegistryError or MisconfiguredEntity when the gateway could not read it back."""
    if not display_name.strip():
        raise RegistryError("a client needs a display name")
    entity: dict[str, Any] = {
        "PartitionKey": client_id,
        "RowKey": CLIENT_ROW,
        "DisplayName": display_name.strip(),
        "AllowedTenants": ",".join(allowed_tenants),
        "Enabled": True,
        "CreatedAt": now,
    }
    if token_lifetime_seconds is not None:
        entity["TokenLifetimeSeconds"] = token_lifetime_seconds
    parse_client(entity)  # refuse what the gateway could not read back
    return entity


def guarded(state: ClientState, now: datetime, *changes: Change) -> list[Change]:
    """Changes to a client's credentials together with a write of its client row under the ETag it was read with.

    Table Storage has no transaction across reads, but every writer of a client's credentials also writes
    its client row conditionally in the same transaction: of two concurrent changes decided on the same
    state, one commits and the other fails with EntityConflict, so rules over the whole set (a cap, a
    last active secret) hold.
    """
    if not state.client.etag:
        raise EntityConflict("the client row was read without its ETag; read it again")
    guard = Merge(
        {"PartitionKey": state.client.client_id, "RowKey": CLIENT_ROW, "SecretsChangedAt": now}, etag=state.client.etag
    )
    return [guard, *changes]


def revocation(client_id: str, secret_id: str, now: datetime) -> Merge:
    """The change that revokes a secret (the row stays for the audit trail)."""
    return Merge(
        {"PartitionKey": client_id, "RowKey": SECRET_ROW_PREFIX + secret_id, "Revoked": True, "RevokedAt": now}
    )


def last_use(client_id: str, secret_id: str, today: date) -> Merge:
    """The change that records the day a secret was last used (informational, unconditional)."""
    return Merge({"PartitionKey": client_id, "RowKey": SECRET_ROW_PREFIX + secret_id, "LastUsedDay": today.isoformat()})


def row_keys(state: ClientState) -> list[str]:
    """Every row of the client: its client row, secrets, keys and JWKS URL."""
    keys = [CLIENT_ROW] + [SECRET_ROW_PREFIX + s.secret_id for s in state.secrets]
    keys += [client_keys.KEY_ROW_PREFIX + k.thumbprint for k in state.keys]
    return keys + ([client_keys.JWKS_URL_ROW] if state.jwks_url else [])

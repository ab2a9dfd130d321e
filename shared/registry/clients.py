"""Client registrations: the `client` row, its `secret-<id>` rows and its public keys in the Clients table."""

from __future__ import annotations

import logging
import threading
import uuid
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any, TypedDict

from shared import process_state
from shared.registry import client_keys, store
from shared.registry.client_keys import ClientKey, JwksUrl
from shared.registry.columns import EntityReader
from shared.registry.errors import EntityConflict, EntityNotFound, RegistryError
from shared.registry.storage import CLIENTS_TABLE, Change, Delete, Insert, Merge, Replace
from shared.registry.tenant_ids import normalise_tenant_id
from shared.secret_values import generate_secret, generate_secret_id, hash_secret

log = logging.getLogger(__name__)

TABLE = CLIENTS_TABLE
CLIENT_ROW = "client"
SECRET_ROW_PREFIX = "secret-"  # noqa: S105 - a row key prefix, not a secret
ANY_TENANT = "*"


class ClientEntity(TypedDict, total=False):
    """Columns of a client row, as admins see them in Storage Explorer."""

    PartitionKey: str  # client_id
    RowKey: str  # "client"
    DisplayName: str
    AllowedTenants: str  # "*" or comma-separated tenant GUIDs
    Enabled: bool
    TokenLifetimeSeconds: int  # optional; the app setting TOKEN_LIFETIME_SECONDS otherwise
    CreatedAt: datetime
    SecretsChangedAt: datetime  # written with every secret change, so its ETag guards the set of secrets


class SecretEntity(TypedDict, total=False):
    """Columns of a secret row: a hash only, never the secret."""

    PartitionKey: str  # client_id
    RowKey: str  # "secret-<id>"
    SecretSha256: str
    CreatedAt: datetime
    ExpiresAt: datetime  # optional
    Revoked: bool
    RevokedAt: datetime
    LastUsedDay: str  # "YYYY-MM-DD" (UTC) of the latest token issued with it; written at most daily
    Label: str  # optional: where the secret is used or who holds it (shown wherever secrets are listed)


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


def _utcnow() -> datetime:
    return datetime.now(UTC)


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


def load_client_state(client_id: str) -> ClientState | None:
    """The client and its secrets in one partition query; None when the client is unknown."""
    rows = store.active().partition(TABLE, client_id)
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


def get_client_state(client_id: str) -> ClientState:
    state = load_client_state(client_id)
    if state is None:
        raise EntityNotFound(TABLE, client_id, CLIENT_ROW)
    return state


def list_clients() -> list[Client]:
    rows = store.active().rows_with_key(TABLE, CLIENT_ROW)
    return sorted((parse_client(row.entity, row.etag) for row in rows), key=lambda c: c.display_name.lower())


def _secret_entity(
    client_id: str, secret_id: str, secret: str, now: datetime, expires_at: datetime | None, label: str = ""
) -> dict[str, Any]:
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


def create_client(
    display_name: str,
    allowed_tenants: tuple[str, ...],
    token_lifetime_seconds: int | None = None,
    expires_days: int | None = None,
    *,
    client_id: str | None = None,
    label: str = "",
) -> IssuedSecret:
    """Registers a client with its first secret; returns the secret, shown once."""
    if not display_name.strip():
        raise RegistryError("a client needs a display name")
    client_id = client_id or str(uuid.uuid4())
    now = _utcnow()
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
    secret = generate_secret()
    secret_id = generate_secret_id()
    expires_at = now + timedelta(days=expires_days) if expires_days else None
    store.active().commit(
        TABLE,
        [
            Insert(entity),
            Insert(_secret_entity(client_id, secret_id, secret, now, expires_at, label)),
        ],
    )
    return IssuedSecret(client_id, secret_id, secret, expires_at)


def _guarded_secret_change(state: ClientState, now: datetime, change: Change) -> None:
    """Commits one secret-row operation together with a write of the client row under its ETag.

    Table Storage has no transaction across reads, but every writer of a client's secrets also writes
    its client row conditionally in the same transaction: of two concurrent changes decided on the same
    state, one commits and the other fails with EntityConflict, so rules over the whole set (a cap, a
    last active secret) hold.
    """
    if not state.client.etag:
        raise EntityConflict("the client row was read without its ETag; read it again")
    guard = Merge(
        {"PartitionKey": state.client.client_id, "RowKey": CLIENT_ROW, "SecretsChangedAt": now}, etag=state.client.etag
    )
    store.active().commit(TABLE, [guard, change])


def add_secret(
    state: ClientState, expires_at: datetime | None = None, now: datetime | None = None, label: str = ""
) -> IssuedSecret:
    """Adds a secret to the client as read in `state`; EntityConflict when the secrets changed since."""
    now = now or _utcnow()
    client_id = state.client.client_id
    secret = generate_secret()
    secret_id = generate_secret_id()
    _guarded_secret_change(state, now, Insert(_secret_entity(client_id, secret_id, secret, now, expires_at, label)))
    return IssuedSecret(client_id, secret_id, secret, expires_at)


def revoke_secret(state: ClientState, secret_id: str, now: datetime | None = None) -> ClientSecret:
    """Revokes one secret of the client as read in `state` (the row stays for the audit trail)."""
    current = state.secret(secret_id)
    if current is None:
        raise EntityNotFound(TABLE, state.client.client_id, SECRET_ROW_PREFIX + secret_id)
    if current.revoked:
        return current
    now = now or _utcnow()
    patch = {
        "PartitionKey": state.client.client_id,
        "RowKey": SECRET_ROW_PREFIX + secret_id,
        "Revoked": True,
        "RevokedAt": now,
    }
    _guarded_secret_change(state, now, Merge(patch))
    return replace(current, revoked=True, revoked_at=now)


def add_secret_by_id(client_id: str, expires_days: int | None = None) -> IssuedSecret:
    """Adds a secret beside the existing ones (rotation with overlap)."""
    state = get_client_state(client_id)
    now = _utcnow()
    expires_at = now + timedelta(days=expires_days) if expires_days else None
    return add_secret(state, expires_at, now)


def revoke_secret_by_id(client_id: str, secret_id: str) -> ClientSecret:
    """Marks one secret revoked (kept for the audit trail); idempotent."""
    return revoke_secret(get_client_state(client_id), secret_id)


_last_use_lock = threading.Lock()
_last_use_recorded: dict[tuple[str, str], date] = {}
_LAST_USE_MEMO_LIMIT = 10_000


def _forget_last_uses() -> None:
    with _last_use_lock:
        _last_use_recorded.clear()


process_state.register("registry.secret_last_use", _forget_last_uses)


def record_secret_use(client_id: str, secret_id: str, today: date | None = None) -> bool:
    """Writes the secret's LastUsedDay at most once a day per instance; never raises (False when not written).

    Called on the token path, which must not fail or slow down for bookkeeping: the write is one
    unconditional merge of a single column, skipped when this instance already wrote today's day.
    """
    today = today or _utcnow().date()
    key = (client_id, secret_id)
    with _last_use_lock:
        if _last_use_recorded.get(key) == today:
            return False
    patch = {"PartitionKey": client_id, "RowKey": SECRET_ROW_PREFIX + secret_id, "LastUsedDay": today.isoformat()}
    try:
        store.active().commit(TABLE, [Merge(patch)])
    except Exception as error:  # bookkeeping must never fail a token request, whatever went wrong
        log.warning(
            "could not record the last use of secret %s of client %s: %s", secret_id, client_id, type(error).__name__
        )
        return False
    with _last_use_lock:
        _last_use_recorded.pop(key, None)
        while len(_last_use_recorded) >= _LAST_USE_MEMO_LIMIT:  # the oldest memo goes, not all of them
            del _last_use_recorded[next(iter(_last_use_recorded))]
        _last_use_recorded[key] = today
    return True


def set_client_enabled(client_id: str, enabled: bool) -> Client:
    state = get_client_state(client_id)
    patch = {"PartitionKey": client_id, "RowKey": CLIENT_ROW, "Enabled": enabled}
    store.active().commit(TABLE, [Merge(patch, etag=state.client.etag)])
    return get_client_state(client_id).client


def set_allowed_tenants(client_id: str, allowed_tenants: tuple[str, ...]) -> Client:
    """Changes which tenants the client may use (under the client row's ETag)."""
    state = get_client_state(client_id)
    patch = {"PartitionKey": client_id, "RowKey": CLIENT_ROW, "AllowedTenants": ",".join(allowed_tenants)}
    store.active().commit(TABLE, [Merge(patch, etag=state.client.etag)])
    return get_client_state(client_id).client


def delete_client(client_id: str) -> None:
    """Removes the client and every secret and key row of it."""
    state = get_client_state(client_id)
    keys = [CLIENT_ROW] + [SECRET_ROW_PREFIX + s.secret_id for s in state.secrets]
    keys += [client_keys.KEY_ROW_PREFIX + k.thumbprint for k in state.keys]
    keys += [client_keys.JWKS_URL_ROW] if state.jwks_url else []
    for row_key in keys:
        try:
            store.active().commit(TABLE, [Delete(client_id, row_key)])
        except EntityNotFound:
            pass


def add_keys(state: ClientState, keys: tuple[ClientKey, ...], now: datetime | None = None) -> tuple[ClientKey, ...]:
    """Registers public keys beside the client's others; a key already registered (same thumbprint) is
    refused, as is a kid another key of the client already has (the assertion's kid picks the key)."""
    now = now or _utcnow()
    known_kids = {k.kid for k in state.keys}
    for key in keys:
        if state.key(key.thumbprint) is not None:
            raise client_keys.KeyRefused(f"the key {key.kid} is already registered")
        if key.kid in known_kids:
            raise client_keys.KeyRefused(f"another key of this client already has the kid {key.kid}")
        known_kids.add(key.kid)
    if len(state.keys) + len(keys) > client_keys.MAX_KEYS:
        raise client_keys.KeyRefused(f"a client may have at most {client_keys.MAX_KEYS} keys registered")
    if not keys:
        raise client_keys.KeyRefused("the JWKS has no keys")
    if not state.client.etag:
        raise EntityConflict("the client row was read without its ETag; read it again")
    guard = Merge(
        {"PartitionKey": state.client.client_id, "RowKey": CLIENT_ROW, "SecretsChangedAt": now}, etag=state.client.etag
    )
    inserts: list[Change] = [Insert(client_keys.key_entity(state.client.client_id, key, now)) for key in keys]
    store.active().commit(TABLE, [guard, *inserts])
    return keys


def remove_key(state: ClientState, thumbprint_or_kid: str, now: datetime | None = None) -> ClientKey:
    """Removes one key (named by thumbprint or kid): the tokens it authenticated end with it."""
    key = state.key(thumbprint_or_kid) or next((k for k in state.keys if k.kid == thumbprint_or_kid), None)
    if key is None:
        raise EntityNotFound(TABLE, state.client.client_id, client_keys.KEY_ROW_PREFIX + "?")
    _guarded_secret_change(state, now or _utcnow(), Delete(state.client.client_id, key.credential_id))
    return key


def set_jwks_url(state: ClientState, url: str, now: datetime | None = None) -> JwksUrl:
    """Registers (or replaces) the URL where the client publishes its JWKS; the caller checked the address."""
    now = now or _utcnow()
    url = client_keys.check_jwks_url_text(url)
    change: Change = Replace(client_keys.jwks_url_entity(state.client.client_id, url, now))
    if state.jwks_url is None:
        change = Insert(client_keys.jwks_url_entity(state.client.client_id, url, now))
    _guarded_secret_change(state, now, change)
    return JwksUrl(url, now)


def remove_jwks_url(state: ClientState, now: datetime | None = None) -> None:
    """Removes the client's JWKS URL: the tokens its keys authenticated end with it."""
    if state.jwks_url is None:
        raise EntityNotFound(TABLE, state.client.client_id, client_keys.JWKS_URL_ROW)
    _guarded_secret_change(state, now or _utcnow(), Delete(state.client.client_id, client_keys.JWKS_URL_ROW))

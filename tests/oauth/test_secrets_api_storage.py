"""The storage side of secret management against Azurite: guarded writes, retries and the last-used day."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime

import pytest
from azure.core.exceptions import ServiceRequestError
from azure.data.tables import TableClient
from gateway_testing import MakeClient, MakeTenant, basic_auth, token_request

import token_fn
from shared.error_tables import answer
from shared.oauth.answers import SECRETS_ANSWERS
from shared.registry import clients, secret_rules
from shared.registry.errors import EntityConflict
from shared.registry.secret_rules import SecretConflict
from shared.registry.service import registry
from shared.registry.storage import Change, Insert
from shared.secret_values import generate_secret, generate_secret_id

pytestmark = pytest.mark.table_storage


def secret_row(client_id: str, secret_id: str) -> dict:
    return registry().storage.table(clients.TABLE).get_entity(client_id, clients.SECRET_ROW_PREFIX + secret_id)


def add_on(state: clients.ClientState) -> None:
    """What the service commits to add a secret, decided on `state` (perhaps stale)."""
    now = datetime.now(UTC)
    row = clients.secret_entity(state.client.client_id, generate_secret_id(), generate_secret(), now, None)
    registry().storage.commit(clients.TABLE, clients.guarded(state, now, Insert(row)))


def revoke_on(state: clients.ClientState, secret_id: str) -> None:
    """What the service commits to revoke a secret, decided on `state` (perhaps stale)."""
    now = datetime.now(UTC)
    revocation = clients.revocation(state.client.client_id, secret_id, now)
    registry().storage.commit(clients.TABLE, clients.guarded(state, now, revocation))


def commit_after(monkeypatch: pytest.MonkeyPatch, concurrent: Callable[[], None]) -> list[int]:
    """Runs `concurrent` (another request) just before the service's first commit; counts the commits."""
    storage = registry().storage
    real_commit = storage.commit
    commits: list[int] = []

    def commit(table: str, changes: Sequence[Change]) -> None:
        commits.append(len(changes))
        if len(commits) == 1:
            concurrent()
        real_commit(table, changes)

    monkeypatch.setattr(storage, "commit", commit)
    return commits


def test_a_secret_added_on_stale_state_is_an_entity_conflict_and_leaves_no_row(make_client: MakeClient) -> None:
    issued = make_client()
    stale = registry().get_client(issued.client_id)
    add_on(stale)
    with pytest.raises(EntityConflict):
        add_on(stale)
    assert len(registry().get_client(issued.client_id).secrets) == 2


def test_a_revocation_on_stale_state_is_an_entity_conflict_and_revokes_nothing(make_client: MakeClient) -> None:
    issued = make_client()
    other = registry().add_secret(issued.client_id, operator=True)
    stale = registry().get_client(issued.client_id)
    revoke_on(stale, other.secret_id)
    with pytest.raises(EntityConflict):
        revoke_on(stale, issued.secret_id)
    assert not registry().get_client(issued.client_id).secret(issued.secret_id).revoked


def test_admin_revocation_also_moves_the_guard(make_client: MakeClient) -> None:
    issued = make_client()
    other = registry().add_secret(issued.client_id, operator=True)
    stale = registry().get_client(issued.client_id)
    registry().revoke_secret(issued.client_id, other.secret_id, operator=True)
    with pytest.raises(EntityConflict):
        add_on(stale)


def test_a_create_that_loses_a_race_retries_on_fresh_state_and_then_respects_the_cap(
    make_client: MakeClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    issued = make_client()
    commits = commit_after(monkeypatch, lambda: add_on(registry().get_client(issued.client_id)))
    with pytest.raises(SecretConflict, match="2 active secrets"):
        registry().add_secret(issued.client_id, expires_in_days=None, now=datetime.now(UTC))
    assert len(commits) == 2  # the concurrent rotation's, then the first try's; the retry refused before writing
    assert len(registry().get_client(issued.client_id).secrets) == 2


def test_a_delete_that_loses_a_race_retries_and_then_protects_the_last_secret(
    make_client: MakeClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    issued = make_client()
    other = registry().add_secret(issued.client_id, operator=True)
    commit_after(monkeypatch, lambda: revoke_on(registry().get_client(issued.client_id), other.secret_id))
    with pytest.raises(SecretConflict, match="last active secret"):
        registry().revoke_secret(issued.client_id, issued.secret_id, now=datetime.now(UTC))
    assert not registry().get_client(issued.client_id).secret(issued.secret_id).revoked


def test_endless_contention_ends_in_409_after_bounded_attempts(
    make_client: MakeClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    issued = make_client()
    attempts: list[None] = []

    def always_conflicts(table: str, changes: Sequence[Change]) -> None:
        attempts.append(None)
        raise EntityConflict("stand-in for a writer that always wins")

    monkeypatch.setattr(registry().storage, "commit", always_conflicts)
    with pytest.raises(SecretConflict) as refused:
        registry().add_secret(issued.client_id, expires_in_days=None, now=datetime.now(UTC))
    answered = answer(SECRETS_ANSWERS, refused.value)
    assert answered.status_code == 409 and answered.error == "invalid_request"
    assert len(attempts) == secret_rules.MAX_ATTEMPTS


def test_a_token_writes_the_last_used_day_once_a_day(make_client: MakeClient, make_tenant: MakeTenant) -> None:
    tenant = make_tenant()
    issued = make_client(tenant.tenant_id)
    form = {"grant_type": "client_credentials", "scope": tenant.tenant_id}
    assert token_fn.main(token_request(form, basic_auth(issued.client_id, issued.secret))).status_code == 200
    first = secret_row(issued.client_id, issued.secret_id)
    assert first["LastUsedDay"] == datetime.now(UTC).date().isoformat()
    assert token_fn.main(token_request(form, basic_auth(issued.client_id, issued.secret))).status_code == 200
    assert secret_row(issued.client_id, issued.secret_id).metadata["etag"] == first.metadata["etag"]
    assert registry().get_client(issued.client_id).secret(issued.secret_id).last_used_day == datetime.now(UTC).date()


def test_a_new_day_writes_the_last_used_day_again(make_client: MakeClient) -> None:
    issued = make_client()
    assert registry().record_secret_use(issued.client_id, issued.secret_id, date(2030, 1, 1))
    assert not registry().record_secret_use(issued.client_id, issued.secret_id, date(2030, 1, 1))
    assert registry().record_secret_use(issued.client_id, issued.secret_id, date(2030, 1, 2))
    assert secret_row(issued.client_id, issued.secret_id)["LastUsedDay"] == "2030-01-02"


def test_a_failed_last_used_write_never_fails_the_token_request(
    make_client: MakeClient, make_tenant: MakeTenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    tenant = make_tenant()
    issued = make_client(tenant.tenant_id)

    def unreachable(*args: object, **kwargs: object) -> None:  # a mock: Azurite cannot fail one call on demand
        raise ServiceRequestError("connection refused")

    monkeypatch.setattr(TableClient, "update_entity", unreachable)
    form = {"grant_type": "client_credentials", "scope": tenant.tenant_id}
    assert token_fn.main(token_request(form, basic_auth(issued.client_id, issued.secret))).status_code == 200
    assert "LastUsedDay" not in secret_row(issued.client_id, issued.secret_id)


def test_a_last_used_write_for_a_vanished_secret_is_only_logged(make_client: MakeClient) -> None:
    issued = make_client()
    assert not registry().record_secret_use(issued.client_id, "no-such-secret", date(2030, 1, 1))


def test_an_odd_hand_edited_last_used_day_reads_as_unknown(make_client: MakeClient) -> None:
    issued = make_client()
    patch = {
        "PartitionKey": issued.client_id,
        "RowKey": clients.SECRET_ROW_PREFIX + issued.secret_id,
        "LastUsedDay": "last tuesday",
    }
    registry().storage.table(clients.TABLE).update_entity(patch)
    assert registry().get_client(issued.client_id).secret(issued.secret_id).last_used_day is None

"""The storage side of secret management against Azurite: guarded writes, retries and the last-used day."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from azure.core.exceptions import ServiceRequestError
from azure.data.tables import TableClient
from gateway_testing import MakeClient, MakeTenant, basic_auth, token_request

import token_fn
from shared.error_tables import answer
from shared.oauth.answers import SECRETS_ANSWERS
from shared.registry import clients, connection, secret_rules
from shared.registry.errors import EntityConflict
from shared.registry.secret_rules import SecretConflict

pytestmark = pytest.mark.table_storage


def secret_row(client_id: str, secret_id: str) -> dict:
    return connection.table(clients.TABLE).get_entity(client_id, clients.SECRET_ROW_PREFIX + secret_id)


def test_a_secret_added_on_stale_state_is_an_entity_conflict_and_leaves_no_row(make_client: MakeClient) -> None:
    issued = make_client()
    stale = clients.get_client_state(issued.client_id)
    clients.add_secret(stale)
    with pytest.raises(EntityConflict):
        clients.add_secret(stale)
    assert len(clients.get_client_state(issued.client_id).secrets) == 2


def test_a_revocation_on_stale_state_is_an_entity_conflict_and_revokes_nothing(make_client: MakeClient) -> None:
    issued = make_client()
    other = clients.add_secret_by_id(issued.client_id)
    stale = clients.get_client_state(issued.client_id)
    clients.revoke_secret(stale, other.secret_id)
    with pytest.raises(EntityConflict):
        clients.revoke_secret(stale, issued.secret_id)
    assert not clients.get_client_state(issued.client_id).secret(issued.secret_id).revoked


def test_admin_revocation_also_moves_the_guard(make_client: MakeClient) -> None:
    issued = make_client()
    other = clients.add_secret_by_id(issued.client_id)
    stale = clients.get_client_state(issued.client_id)
    clients.revoke_secret_by_id(issued.client_id, other.secret_id)
    with pytest.raises(EntityConflict):
        clients.add_secret(stale)


def test_a_create_that_loses_a_race_retries_on_fresh_state_and_then_respects_the_cap(
    make_client: MakeClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    issued = make_client()
    real_insert = clients.add_secret
    calls: list[int] = []

    def insert_after_a_concurrent_rotation(state: clients.ClientState, *args: object) -> clients.IssuedSecret:
        calls.append(len(state.secrets))
        if len(calls) == 1:
            real_insert(clients.get_client_state(issued.client_id))  # another request commits in between
        return real_insert(state, *args)

    monkeypatch.setattr(clients, "add_secret", insert_after_a_concurrent_rotation)
    with pytest.raises(SecretConflict, match="2 active secrets"):
        secret_rules.add_secret(issued.client_id, None, datetime.now(UTC))
    assert calls == [1]  # the retry read two secrets and refused before writing
    assert len(clients.get_client_state(issued.client_id).secrets) == 2


def test_a_delete_that_loses_a_race_retries_and_then_protects_the_last_secret(
    make_client: MakeClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    issued = make_client()
    other = clients.add_secret_by_id(issued.client_id)
    real_revoke = clients.revoke_secret

    def revoke_after_a_concurrent_delete(
        state: clients.ClientState, secret_id: str, now: datetime | None = None
    ) -> clients.ClientSecret:
        if not state.secret(other.secret_id).revoked:
            real_revoke(clients.get_client_state(issued.client_id), other.secret_id)  # a concurrent delete
        return real_revoke(state, secret_id, now)

    monkeypatch.setattr(clients, "revoke_secret", revoke_after_a_concurrent_delete)
    with pytest.raises(SecretConflict, match="last active secret"):
        secret_rules.revoke_secret(issued.client_id, issued.secret_id, datetime.now(UTC))
    assert not clients.get_client_state(issued.client_id).secret(issued.secret_id).revoked


def test_endless_contention_ends_in_409_after_bounded_attempts(
    make_client: MakeClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    issued = make_client()
    attempts: list[None] = []

    def always_conflicts(state: clients.ClientState, *args: object) -> clients.IssuedSecret:
        attempts.append(None)
        raise EntityConflict("stand-in for a writer that always wins")

    monkeypatch.setattr(clients, "add_secret", always_conflicts)
    with pytest.raises(SecretConflict) as refused:
        secret_rules.add_secret(issued.client_id, None, datetime.now(UTC))
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
    assert clients.get_client_state(issued.client_id).secret(issued.secret_id).last_used_day == datetime.now(UTC).date()


def test_a_new_day_writes_the_last_used_day_again(make_client: MakeClient) -> None:
    issued = make_client()
    assert clients.record_secret_use(issued.client_id, issued.secret_id, date(2030, 1, 1))
    assert not clients.record_secret_use(issued.client_id, issued.secret_id, date(2030, 1, 1))
    assert clients.record_secret_use(issued.client_id, issued.secret_id, date(2030, 1, 2))
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
    assert not clients.record_secret_use(issued.client_id, "no-such-secret", date(2030, 1, 1))


def test_an_odd_hand_edited_last_used_day_reads_as_unknown(make_client: MakeClient) -> None:
    issued = make_client()
    patch = {
        "PartitionKey": issued.client_id,
        "RowKey": clients.SECRET_ROW_PREFIX + issued.secret_id,
        "LastUsedDay": "last tuesday",
    }
    connection.table(clients.TABLE).update_entity(patch)
    assert clients.get_client_state(issued.client_id).secret(issued.secret_id).last_used_day is None

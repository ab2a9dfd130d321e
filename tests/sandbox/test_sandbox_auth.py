"""Optional bearer and Basic authentication: 401 OperationOutcome with WWW-Authenticate."""

from __future__ import annotations

RUTH = "665677"


def test_bearer_token_required(make_sandbox) -> None:
    client = make_sandbox(required_bearer_token="s3cret-token")
    missing = client.get(f"Patient/{RUTH}")
    assert missing.status_code == 401
    assert missing.headers["WWW-Authenticate"].startswith("Bearer")
    assert missing.json()["issue"][0]["code"] == "login"
    wrong = client.get(f"Patient/{RUTH}", headers={"Authorization": "Bearer other"})
    assert wrong.status_code == 401 and 'error="invalid_token"' in wrong.headers["WWW-Authenticate"]
    right = client.get(f"Patient/{RUTH}", headers={"Authorization": "Bearer s3cret-token"})
    assert right.status_code == 200 and right.json()["id"] == RUTH
    assert client.get(f"Patient/{RUTH}", headers={"Authorization": "Basic czNjcmV0LXRva2Vu"}).status_code == 401


def test_bearer_protects_batch_and_search_too(make_sandbox) -> None:
    client = make_sandbox(required_bearer_token="t")
    assert client.post("", json={"resourceType": "Bundle", "type": "batch", "entry": []}).status_code == 401
    assert client.post("Patient/_search", data={"given": "ruth"}).status_code == 401


def test_metadata_is_open_unless_configured_otherwise(make_sandbox) -> None:
    open_meta = make_sandbox(required_bearer_token="t")
    statement = open_meta.get("metadata")
    assert statement.status_code == 200
    assert statement.json()["rest"][0]["security"]["service"][0]["coding"][0]["code"] == "OAuth"
    closed = make_sandbox(required_bearer_token="t", metadata_requires_auth=True)
    assert closed.get("metadata").status_code == 401


def test_a_callable_can_verify_the_bearer_token(make_sandbox) -> None:
    seen = []

    def verify(token: str) -> bool:
        seen.append(token)
        return token.startswith("eyJ")

    client = make_sandbox(required_bearer_token=verify)
    assert client.get(f"Patient/{RUTH}", headers={"Authorization": "Bearer eyJhbGciOi.x.y"}).status_code == 200
    assert client.get(f"Patient/{RUTH}", headers={"Authorization": "Bearer opaque"}).status_code == 401
    assert seen == ["eyJhbGciOi.x.y", "opaque"]


def test_basic_credentials_required(make_sandbox) -> None:
    client = make_sandbox(required_basic=("sandbox", "pa:ss"))
    denied = client.get(f"Patient/{RUTH}")
    assert denied.status_code == 401 and denied.headers["WWW-Authenticate"].startswith("Basic")
    assert client.get(f"Patient/{RUTH}", auth=("sandbox", "wrong")).status_code == 401
    assert client.get(f"Patient/{RUTH}", auth=("sandbox", "pa:ss")).status_code == 200

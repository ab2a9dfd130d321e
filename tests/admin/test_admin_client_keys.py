"""The admin command line registers and removes client public keys and JWKS URLs (Azurite); never shows key material."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from client_keys_testing import ec_pair, jwks, rsa_pair

from admin.cli import main
from shared.registry.service import registry

pytestmark = pytest.mark.table_storage

RSA = rsa_pair(kid="cli-rsa")
EC = ec_pair(kid="cli-ec")


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    status = main(list(argv), out=out, err=err)
    return status, out.getvalue(), err.getvalue()


def run_json(*argv: str) -> Any:
    status, out, err = run("--json", *argv)
    assert status == 0, err
    return json.loads(out)


@pytest.fixture
def client_id() -> Any:
    created = run_json("client", "create", "--name", "Backend service")
    yield created["client_id"]
    registry().delete_client(created["client_id"])


def test_keys_are_added_from_text_or_a_file_and_listed_by_id_only(client_id: str, tmp_path: Path) -> None:
    shown = run_json("client", "key", "add", client_id, "--jwks", json.dumps(jwks(RSA)))
    assert [k["kid"] for k in shown["keys"]] == ["cli-rsa"]
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps(jwks(EC)))
    listed = run_json("client", "key", "add", client_id, "--jwks-file", str(path))
    assert {(k["kid"], k["alg"]) for k in listed["keys"]} == {("cli-rsa", "RS384"), ("cli-ec", "ES384")}
    status, human, _ = run("client", "show", client_id)
    assert status == 0 and "cli-rsa" in human and "thumbprint=" in human
    for jwk in (RSA.public_jwk(), EC.public_jwk()):
        assert jwk["x" if "x" in jwk else "n"] not in human  # thumbprints and kids, never key material
    removed = run_json("client", "key", "remove", client_id, "cli-rsa")
    assert removed["removed"] is True
    assert [k.kid for k in registry().get_client(client_id).keys] == ["cli-ec"]


@pytest.mark.parametrize(
    ("jwk", "reason"),
    [
        (RSA.private_jwk(), "private key"),
        ({"kty": "oct", "k": "c2VjcmV0", "kid": "s"}, "symmetric"),
        (rsa_pair(bits=1024).public_jwk(), "2048"),
    ],
    ids=["private", "symmetric", "rsa-1024"],
)
def test_private_symmetric_and_weak_keys_are_refused_with_exit_2(client_id: str, jwk: Any, reason: str) -> None:
    status, out, err = run("client", "key", "add", client_id, "--jwks", json.dumps({"keys": [jwk]}))
    assert status == 2 and reason in err and out == ""
    assert "d" not in jwk or jwk["d"] not in err
    assert registry().get_client(client_id).keys == ()


def test_jwks_url_set_and_remove_with_the_outbound_address_rules(
    client_id: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    shown = run_json("client", "jwks-url", "set", client_id, "http://127.0.0.1:9/jwks.json")
    assert shown["jwks_url"] == "http://127.0.0.1:9/jwks.json"
    assert run_json("client", "jwks-url", "remove", client_id)["jwks_url"] is None
    assert run("client", "jwks-url", "remove", client_id)[0] == 3
    monkeypatch.setenv("OUTBOUND_ALLOW_PRIVATE_ADDRESSES", "false")
    for url in ("https://169.254.169.254/jwks", "https://10.0.0.5/jwks", "ftp://example.com/jwks"):
        status, _, err = run("client", "jwks-url", "set", client_id, url)
        assert status == 2 and "JWKS URL" in err, err
    assert registry().get_client(client_id).jwks_url is None


def test_bad_usage_exits_2_and_an_unknown_key_3(client_id: str) -> None:
    assert run("client", "key", "add", client_id)[0] == 2  # neither --jwks nor --jwks-file
    assert run("client", "key", "add", client_id, "--jwks-file", "/nonexistent/jwks.json")[0] == 2
    assert run("client", "key", "remove", client_id, "no-such-kid")[0] == 3

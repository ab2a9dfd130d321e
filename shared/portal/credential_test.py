""" "Test these credentials": a token request with a pasted secret and a FHIR read with the token, through the
gateway's public URLs, reported in words. The secret and the token are used once and never kept or shown."""

from __future__ import annotations

from dataclasses import dataclass

import requests

TIMEOUT_SECONDS = 10
MAX_SECRET_LENGTH = 512


@dataclass(frozen=True)
class TestResult:
    ok: bool
    step: str  # where it ended: secret, token, fhir, done
    message: str


def _fhir_version(response: requests.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return "an unreadable answer"
    version = body.get("fhirVersion") if isinstance(body, dict) else None
    return f"FHIR {version}" if isinstance(version, str) and len(version) < 20 else "a FHIR answer"


def run(token_url: str, fhir_base_url: str, client_id: str, secret: str, tenant_id: str) -> TestResult:
    """Requests a token as the app would (client_secret_basic, the tenant as scope), then reads `metadata` with it."""
    if not secret or len(secret) > MAX_SECRET_LENGTH:
        return TestResult(False, "secret", "Not tested: paste one of this account's secrets (at most 512 characters).")
    try:
        token = requests.post(
            token_url,
            data={"grant_type": "client_credentials", "scope": tenant_id},
            auth=(client_id, secret),
            timeout=TIMEOUT_SECONDS,
        )
    except requests.RequestException:
        return TestResult(False, "token", "The gateway's token endpoint could not be reached; try again in a minute.")
    if token.status_code != 200:
        error = (
            token.json().get("error", "")
            if token.headers.get("content-type", "").startswith("application/json")
            else ""
        )
        reasons = {
            "invalid_client": "the secret is wrong, expired or deleted, or the account is disabled",
            "invalid_scope": "the account may not use this tenant",
            "slow_down": "too many failed attempts: wait a few minutes",
        }
        why = reasons.get(str(error), f"the token endpoint answered {token.status_code}")
        return TestResult(False, "token", f"No token: {why}.")
    access_token = str(token.json().get("access_token", ""))
    try:
        metadata = requests.get(
            fhir_base_url + "/metadata",
            headers={"Authorization": "Bearer " + access_token, "Accept": "application/fhir+json"},
            timeout=TIMEOUT_SECONDS,
        )
    except requests.RequestException:
        return TestResult(False, "fhir", "A token was issued, but the FHIR server URL could not be reached.")
    if metadata.status_code != 200:
        return TestResult(False, "fhir", f"A token was issued, but the FHIR server answered {metadata.status_code}.")
    return TestResult(
        True,
        "done",
        f"The secret works: the gateway issued a token and its FHIR server answered with {_fhir_version(metadata)}.",
    )

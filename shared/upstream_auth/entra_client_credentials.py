"""The `azure_ad` method: an MSAL confidential client per tenant configuration, client credentials grant."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from shared.upstream_auth import identity_http
from shared.upstream_auth.credential_slots import SLOTS, AcquiredToken, fingerprint
from shared.upstream_auth.errors import UpstreamAuthError, UpstreamAuthUnavailable
from shared.upstream_auth.secret_settings import read_upstream_secret

if TYPE_CHECKING:
    import msal

    from shared.registry.tenants import Tenant

# Entra ID (Azure AD) sign-in hosts of the public and national clouds. Their authorities go to MSAL as
# `authority=`: MSAL knows them (no instance discovery call), reads Entra's `/v2.0` discovery document and
# handles Entra's issuer and alias rules. Any other host is a generic OIDC provider and goes as
# `oidc_authority=`: MSAL then reads `<authority>/.well-known/openid-configuration` and checks its `issuer`
# against the authority. With `authority=` an unknown host would instead be sent to login.microsoftonline.com
# for instance discovery (refused as invalid_instance) unless validation were switched off, and MSAL would
# look for the Entra-only `/v2.0/.well-known/...` path.
ENTRA_HOSTS = frozenset(
    {
        "login.microsoftonline.com",
        "login.microsoft.com",
        "login.windows.net",
        "login.microsoftonline.us",
        "login-us.microsoftonline.com",
        "login.usgovcloudapi.net",
        "login.chinacloudapi.cn",
        "login.partner.microsoftonline.cn",
    }
)

# OAuth2 error codes that mean "try again later" rather than "these credentials are wrong".
_TRANSIENT_OAUTH_ERRORS = frozenset({"temporarily_unavailable", "server_error"})


def is_entra_authority(authority: str) -> bool:
    return (urlsplit(authority).hostname or "").lower() in ENTRA_HOSTS


def msal_authority_arguments(authority: str) -> dict[str, str]:
    """`{"authority": ...}` for Entra hosts, `{"oidc_authority": ...}` for any other OIDC provider."""
    authority = authority.strip().rstrip("/")
    if is_entra_authority(authority):
        # Admins paste the v2.0 issuer (https://login.microsoftonline.com/<tenant>/v2.0); MSAL wants the tenant URL.
        if authority.endswith("/v2.0"):
            authority = authority[: -len("/v2.0")]
        return {"authority": authority}
    return {"oidc_authority": authority}


def entra_headers(tenant: Tenant) -> dict[str, str]:
    """`Authorization: Bearer <token>` from MSAL's cache, or from the authority when the cache has none."""
    auth = tenant.auth
    tenant_id = tenant.tenant_id
    if not auth.authority or not auth.client_id:
        raise UpstreamAuthError(tenant_id, "the azure_ad method needs Authority and UpstreamClientId")
    if not auth.authority.startswith("https://"):
        raise UpstreamAuthError(tenant_id, "the azure_ad Authority must be an https URL")
    secret = read_upstream_secret(tenant, "azure_ad")
    secret_name = auth.provider_secret or auth.secret_setting
    scope = auth.scope or tenant.fhir_base_url + "/.default"
    family = ("azure_ad", tenant_id, auth.authority, auth.client_id, secret_name, scope)
    host = urlsplit(auth.authority).hostname or "the authority"
    token = SLOTS.token(
        family,
        fingerprint(secret),
        tenant_id,
        "azure_ad",
        build=lambda: _build_application(tenant_id, auth.authority, auth.client_id, secret, host),
        acquire=lambda app: _acquire(app, tenant_id, scope, auth.client_id, secret_name, host),
    )
    return {"Authorization": f"Bearer {token}"}


def _build_application(
    tenant_id: str, authority: str, client_id: str, secret: str, host: str
) -> msal.ConfidentialClientApplication:
    import msal

    try:
        # The constructor already reads the authority's discovery document (through the same session).
        return msal.ConfidentialClientApplication(
            client_id=client_id,
            client_credential=secret,
            http_client=identity_http.guarded_session(),
            **msal_authority_arguments(authority),
        )
    except Exception as error:
        raise identity_http.failure_from_exception(tenant_id, error, host) from None


def _acquire(
    app: msal.ConfidentialClientApplication, tenant_id: str, scope: str, client_id: str, secret_setting: str, host: str
) -> AcquiredToken:
    try:
        # Since MSAL 1.23 this looks in the app's token cache first and calls the authority only on a miss.
        result: dict[str, Any] | None = app.acquire_token_for_client(scopes=[scope])
    except Exception as error:
        raise identity_http.failure_from_exception(tenant_id, error, host) from None
    acquired = AcquiredToken.from_msal(result)
    if acquired is not None:
        return acquired
    result = result or {}
    code = identity_http.safe_error_code(result.get("error"))
    numbers = [n for n in result.get("error_codes") or [] if isinstance(n, int)]
    detail = code + "".join(f", AADSTS{n}" for n in numbers[:3])
    if code in _TRANSIENT_OAUTH_ERRORS:
        error_class: type[UpstreamAuthError] = UpstreamAuthUnavailable
        problem = f"{host} could not issue a token right now (error {detail})"
    else:
        error_class = UpstreamAuthError
        problem = (
            f"{host} refused client {client_id} for scope {scope} (error {detail}); "
            f"check the client id and the provider secret {secret_setting}"
        )
    raise error_class(tenant_id, problem)

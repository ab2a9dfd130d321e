"""Sign-in through MSAL's auth-code flow helpers (authorization code with PKCE), and who the user is."""

from __future__ import annotations

import threading
import warnings
from dataclasses import dataclass
from typing import Any

import msal

from shared import process_state
from shared.portal.config import PortalConfig
from shared.portal.id_token import DiscoveryFailed, IdTokenRejected, validate_id_token

# Directory roles whose holders administer a customer's tenant (Global, Application, Cloud Application
# Administrator); Entra sends them in `wids` when the app registration asks for directory roles.
ADMIN_DIRECTORY_ROLES = frozenset(
    {
        "62e90394-69f5-4237-9190-012177145e10",
        "9b895d92-2cd3-44c7-9d02-a6ac2d5ea5c3",
        "158c047a-c907-4556-b7ef-446551a6b5f7",
    }
)


class SignInFailed(Exception):
    """The sign-in did not complete; the message is safe to show (no code, token or provider detail)."""


class _NoTokenCache(msal.TokenCache):  # type: ignore[misc]  # msal ships no type information
    """The portal needs the ID token once, not refresh tokens kept in memory for every user who signed in."""

    def add(self, event: dict[str, Any], now: Any = None) -> None:
        return None


@dataclass(frozen=True)
class SignedInUser:
    oid: str
    tid: str
    name: str
    username: str
    operator: bool
    customer_admin: bool


_lock = threading.Lock()
_apps: dict[tuple[str, str, str], msal.ConfidentialClientApplication] = {}


def _forget_apps() -> None:
    with _lock:
        _apps.clear()


process_state.register("portal.msal_apps", _forget_apps)


def _app(config: PortalConfig) -> msal.ConfidentialClientApplication:
    key = (config.authority, config.client_id, config.client_secret)
    with _lock:
        app = _apps.get(key)
    if app is None:
        try:
            app = msal.ConfidentialClientApplication(
                config.client_id,
                client_credential=config.client_secret,
                authority=config.authority,
                instance_discovery=False,
                token_cache=_NoTokenCache(),
                timeout=10,
            )
        except (OSError, ValueError) as error:
            raise SignInFailed(f"The identity provider is unreachable ({type(error).__name__}).") from None
        with _lock:
            _apps.clear()  # settings changed: the old app is no use any more
            _apps[key] = app
    return app


def begin(config: PortalConfig) -> dict[str, Any]:
    """A new auth-code flow (state, nonce, PKCE verifier); its `auth_uri` is where the browser goes.

    The code comes back in the query, not by form_post: a cross-site POST would not carry the SameSite=Lax
    cookie that binds the flow to this browser. The code is single-use, bound to the PKCE verifier sealed
    in that cookie, and kept out of referrers (Referrer-Policy: no-referrer).
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="response_mode='form_post' is recommended")
        flow: dict[str, Any] = _app(config).initiate_auth_code_flow(
            scopes=[], redirect_uri=config.redirect_uri, prompt="select_account", response_mode="query"
        )
        return flow


def finish(config: PortalConfig, flow: dict[str, Any], query: dict[str, str]) -> SignedInUser:
    """Redeems the code the identity provider sent back and validates the ID token."""
    if query.get("error"):
        raise SignInFailed("The sign-in was cancelled or refused by the identity provider.")
    try:
        result = _app(config).acquire_token_by_auth_code_flow(flow, query)
    except ValueError:
        # MSAL's answer to a state that does not match this browser's flow: a stale tab or a forged link.
        raise SignInFailed("This sign-in link does not belong to this browser's sign-in; start again.") from None
    except RuntimeError:
        raise SignInFailed("The identity provider answered with a token for another sign-in.") from None
    if "error" in result or "id_token" not in result:
        raise SignInFailed("The identity provider did not complete the sign-in.")
    try:
        claims = validate_id_token(result["id_token"], config.authority, config.client_id)
    except (IdTokenRejected, DiscoveryFailed) as error:
        raise SignInFailed(f"The sign-in could not be verified: {error}.") from None
    return identify(config, claims)


def identify(config: PortalConfig, claims: dict[str, Any]) -> SignedInUser:
    """What the validated claims allow: operators only from the partner's own tenant (app roles can be
    assigned by any tenant that consented to a multi-tenant app, so a role alone proves nothing)."""
    roles = {str(r) for r in claims.get("roles") or [] if isinstance(r, str)}
    directory_roles = {str(r).lower() for r in claims.get("wids") or [] if isinstance(r, str)}
    tid, oid = claims["tid"], claims["oid"]
    in_operator_tenant = config.operator_tenant_id is not None and tid == config.operator_tenant_id
    operator = in_operator_tenant and (config.operator_role in roles or oid in config.operator_object_ids)
    customer_admin = config.customer_admin_role in roles or bool(directory_roles & ADMIN_DIRECTORY_ROLES)
    return SignedInUser(
        oid=oid,
        tid=tid,
        name=str(claims.get("name") or claims.get("preferred_username") or oid)[:200],
        username=str(claims.get("preferred_username") or "")[:200],
        operator=operator,
        customer_admin=customer_admin,
    )

"""What upstream authentication takes from the gateway's settings, taken once when the settings are read."""

from __future__ import annotations

from dataclasses import dataclass

from shared import settings

# Where the gateway publishes the public keys of its client assertions (GET, no authentication).
CLIENT_JWKS_ROUTE = ".well-known/smart-client-jwks.json"


@dataclass(frozen=True)
class UpstreamAuthSettings:
    allow_private_addresses: bool  # token and JWKS URLs may name loopback and private addresses (development)
    app_identity_client_id: str  # the app's user-assigned managed identity; empty: the system-assigned one
    client_jwks_url: str  # the stable URL an EHR administrator registers as the gateway's JWKS URL

    @classmethod
    def of(cls, configured: settings.GatewaySettings) -> UpstreamAuthSettings:
        return cls(
            allow_private_addresses=configured.outbound_allow_private_addresses,
            app_identity_client_id=configured.azure_client_id,
            client_jwks_url=configured.gateway_public_base_url + "/" + CLIENT_JWKS_ROUTE,
        )


auth_settings = settings.per_settings(UpstreamAuthSettings.of)

"""`make run`'s portal sign-in: the local https authority with the portal's app and seeded test users."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from cryptography.fernet import Fernet

from devtools.local_authority import LocalAuthority
from devtools.local_sign_in import LocalUser
from shared import settings

# Fixed, obviously-demo ids, so reruns show the same users.
PARTNER_TENANT = "00000000-0000-4000-8000-0000000000aa"
NOT_ONBOARDED_TENANT = "00000000-0000-4000-8000-00000000bbbb"
PORTAL_CLIENT_ID = "00000000-0000-4000-8000-0000000090a1"


@dataclass
class LocalPortal:
    authority: LocalAuthority
    portal_url: str
    users: tuple[LocalUser, ...]

    def describe(self) -> str:
        users = "\n".join(f"    {u.name:<22} {u.description}" for u in self.users)
        return (
            f"Registration portal at {self.portal_url}  (sign-in: local authority {self.authority.url_for('')})\n"
            f"  test users (pick one on the sign-in form, no password):\n{users}\n"
            f"  your browser warns about the authority's throwaway certificate: accept it, or trust\n"
            f"  {self.authority.pki.ca_path}"
        )

    def stop(self) -> None:
        self.authority.close()


def start_local_portal(gateway_base: str, demo_tenant_id: str, local_dir: Path) -> LocalPortal:
    """Starts the authority and sets the portal's settings (and REQUESTS_CA_BUNDLE) for this process."""
    authority = LocalAuthority().start()
    client_secret = secrets.token_urlsafe(32)
    portal_url = gateway_base.rstrip("/") + "/portal/"
    authority.register_client(PORTAL_CLIENT_ID, client_secret, (portal_url + "auth/callback",))
    users = (
        LocalUser(
            "admin@demo-hospital.example",
            "Dana Admin (demo)",
            demo_tenant_id,
            "00000000-0000-4000-8000-0000000000d1",
            roles=("Portal.CustomerAdmin",),
            description=f"customer admin of the demo tenant {demo_tenant_id}",
        ),
        LocalUser(
            "admin@new-clinic.example",
            "Nico Admin (new)",
            NOT_ONBOARDED_TENANT,
            "00000000-0000-4000-8000-0000000000d2",
            roles=("Portal.CustomerAdmin",),
            description=f"customer admin of {NOT_ONBOARDED_TENANT}, not onboarded yet",
        ),
        LocalUser(
            "operator@partner.example",
            "Olive Operator",
            PARTNER_TENANT,
            "00000000-0000-4000-8000-0000000000d3",
            roles=("Portal.Operator",),
            description="the partner's operator",
        ),
    )
    for user in users:
        authority.add_user(user)
    key_file = local_dir / "portal-session-key"
    if not key_file.exists():
        key_file.write_text(Fernet.generate_key().decode())
        key_file.chmod(0o600)
    os.environ.update(
        {
            "PORTAL_CLIENT_ID": PORTAL_CLIENT_ID,
            "PORTAL_CLIENT_SECRET": client_secret,
            "PORTAL_AUTHORITY": authority.url_for("organizations"),
            "PORTAL_SESSION_KEY": key_file.read_text().strip(),
            "PORTAL_OPERATOR_TENANT_ID": PARTNER_TENANT,
            "PORTAL_SUPPORT_CONTACT": os.environ.get("PORTAL_SUPPORT_CONTACT") or "operator@partner.example",
            "REQUESTS_CA_BUNDLE": str(authority.ca_bundle_path),
        }
    )
    settings.reload()  # the gateway in this process may have read its settings before the portal's were set
    return LocalPortal(authority, portal_url, users)

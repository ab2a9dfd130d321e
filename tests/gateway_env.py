"""The test process's environment: a real Azurite for the registry and the gateway's settings.

Imported by the root conftest before any test; tests import the constants from here.
"""

from __future__ import annotations

import atexit
import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from devtools.azurite import free_port, start_azurite  # noqa: E402 - after the path set-up
from shared import settings  # noqa: E402
from shared.registry import connection  # noqa: E402
from shared.tokens.signing_keys import generate_private_key_pem  # noqa: E402

# The gateway's public base is the in-process local host that the end-to-end tests start on this port.
GATEWAY_PORT = free_port()
PUBLIC_BASE = f"http://127.0.0.1:{GATEWAY_PORT}"
SIGNING_KEY = generate_private_key_pem()


def _start_registry() -> str:
    """Azurite's connection string: the one `make test` started, or one started for this session."""
    given = os.environ.get("GATEWAY_TEST_AZURITE_CONNECTION_STRING")
    if given:
        return given
    azurite = start_azurite()
    atexit.register(azurite.stop)
    return azurite.connection_string


# Settings are process-wide (the in-process local host reads them too), so set them before any test.
os.environ.update(
    {
        "REGISTRY_CONNECTION_STRING": _start_registry(),
        "GATEWAY_PUBLIC_BASE_URL": PUBLIC_BASE,
        "GATEWAY_FHIR_VERSION": "STU3",
        "TOKEN_SIGNING_KEY": SIGNING_KEY,
        "TOKEN_SIGNING_KEY_PREVIOUS": "",
        "TOKEN_SIGNING_KEY_NEXT": "",
        "REGISTRY_CACHE_TTL_SECONDS": "60",
    }
)
os.environ.pop("REGISTRY_TABLE_ENDPOINT", None)
settings.reload()
connection.ensure_tables()

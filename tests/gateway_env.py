"""The test process's environment: the gateway's settings, and a real Azurite for the tests that need Table Storage.

Imported by the root conftest before any test; tests import the constants from here. Importing it starts
nothing: Azurite starts on the first call of `table_storage()` (a test marked `table_storage`, an end-to-end
fixture), or is the one `make test` started.
"""

from __future__ import annotations

import atexit
import os
import sys
import threading
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from devtools.azurite import free_port, start_azurite  # noqa: E402 - after the path set-up
from shared import settings  # noqa: E402  - after the sys.path set-up
from shared.registry.table_storage import TableStorage  # noqa: E402  - after the sys.path set-up
from shared.tokens.signing_keys import generate_private_key_pem  # noqa: E402  - after the sys.path set-up

# The gateway's public base is the in-process local host that the end-to-end tests start on this port.
GATEWAY_PORT = free_port()
PUBLIC_BASE = f"http://127.0.0.1:{GATEWAY_PORT}"
SIGNING_KEY = generate_private_key_pem()

_lock = threading.Lock()
_connection_string: list[str] = []


def table_storage() -> str:
    """Azurite's connection string, set as REGISTRY_CONNECTION_STRING with the registry tables created: the
    one `make test` started, or one started now for the rest of the session."""
    with _lock:
        if not _connection_string:
            given = os.environ.get("GATEWAY_TEST_AZURITE_CONNECTION_STRING")
            if not given:
                azurite = start_azurite()
                atexit.register(azurite.stop)
                given = azurite.connection_string
            os.environ["REGISTRY_CONNECTION_STRING"] = given
            settings.reload()
            TableStorage(given, "").ensure_tables()
            _connection_string.append(given)
        return _connection_string[0]


# Settings are process-wide (the in-process local host reads them too), so set them before any test.
os.environ.update(
    {
        "GATEWAY_PUBLIC_BASE_URL": PUBLIC_BASE,
        "GATEWAY_FHIR_VERSION": "STU3",
        "TOKEN_SIGNING_KEY": SIGNING_KEY,
        "TOKEN_SIGNING_KEY_PREVIOUS": "",
        "TOKEN_SIGNING_KEY_NEXT": "",
        "REGISTRY_CACHE_TTL_SECONDS": "60",
        "OUTBOUND_ALLOW_PRIVATE_ADDRESSES": "true",  # the sandbox providers and authorities are on loopback
    }
)
# No registry until a test asks for Table Storage: an unmarked test that reached it would fail, not pass by luck.
os.environ.pop("REGISTRY_CONNECTION_STRING", None)
os.environ.pop("REGISTRY_TABLE_ENDPOINT", None)
settings.reload()

"""Session-wide log capture and a final scan: no client secret, access token or upstream secret may
appear in any log line the gateway wrote during the whole test run."""

from __future__ import annotations

import logging
import threading

import gateway_env  # noqa: F401 - puts the repository on sys.path and sets the settings first

from shared.oauth import client_credentials
from shared.registry import service as registry_service

KNOWN_SECRETS: set[str] = set()
_lines: list[str] = []
_lock = threading.Lock()


class _CaptureAll(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = self.format(record)
        except Exception:
            line = str(record.msg)
        with _lock:
            _lines.append(line)


def remember_secret(value: str) -> None:
    if value:
        KNOWN_SECRETS.add(value)


def _record_generated_secrets() -> None:
    """Every client secret and access token created during the run is remembered as it is made."""
    original_secret = registry_service.generate_secret
    original_issue = client_credentials.issue_access_token

    def generate_secret() -> str:
        secret = original_secret()
        remember_secret(secret)
        return secret

    def issue_access_token(*args, **kwargs):  # type: ignore[no-untyped-def]  # wraps whatever the original takes
        issued = original_issue(*args, **kwargs)
        remember_secret(issued.access_token)
        return issued

    registry_service.generate_secret = generate_secret  # type: ignore[assignment]  # the scan wraps the module's function
    client_credentials.issue_access_token = issue_access_token  # type: ignore[assignment]  # the scan wraps the module's function


def install() -> None:
    handler = _CaptureAll(level=logging.DEBUG)
    handler.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    for ours in ("shared", "gateway", "local_host"):
        logging.getLogger(ours).setLevel(logging.DEBUG)
    _record_generated_secrets()


def find_leaks(lines: list[str], secrets: set[str]) -> list[str]:
    """The lines holding any secret (secrets shorter than 12 characters are too common to scan for);
    each reported line shows where, with the secret itself masked."""
    scanned = [s for s in secrets if len(s) >= 12]
    found = []
    for line in lines:
        hits = [secret for secret in scanned if secret in line]
        if hits:
            masked = line
            for secret in hits:
                masked = masked.replace(secret, "<SECRET>")
            found.append(masked[:200])
    return found


def leaks() -> tuple[int, int, list[str]]:
    """(lines scanned, secrets known, lines that contain a known secret) for the whole run so far."""
    with _lock:
        lines = list(_lines)
    return len(lines), len(KNOWN_SECRETS), find_leaks(lines, KNOWN_SECRETS)


def add_lines(lines: list[str]) -> None:
    """Log lines written by other processes of the run (gateway instances started by a test)."""
    with _lock:
        _lines.extend(lines)

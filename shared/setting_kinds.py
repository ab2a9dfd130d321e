"""How an app setting's text becomes a typed value; every problem names the setting, never its value."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from shared.fhir.versions import FhirVersion, parse_fhir_version

# A kind turns a setting's stripped text (its default when unset) into its value: kind(name, text); the type
# it returns is the type of the setting's attribute.
RsaKey = rsa.RSAPrivateKey | rsa.RSAPublicKey
ClientKey = rsa.RSAPrivateKey | rsa.RSAPublicKey | ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey


class SettingError(Exception):
    """A setting is missing or malformed; the message names the setting, never its value."""


def text(name: str, value: str) -> str:
    return value


def whole_number(minimum: int) -> Callable[[str, str], int]:
    """A whole number of at least `minimum`."""

    def parse(name: str, value: str) -> int:
        try:
            number = int(value)
        except ValueError:
            raise SettingError(f"app setting {name} must be a whole number") from None
        if number < minimum:
            raise SettingError(f"app setting {name} must be at least {minimum}")
        return number

    return parse


def http_url(name: str, value: str) -> str:
    """An absolute http(s) URL without query or fragment, returned without a trailing slash."""
    value = value.rstrip("/")
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
        raise SettingError(f"app setting {name} must be an absolute http(s) URL")
    return value


def fhir_version(name: str, value: str) -> FhirVersion:
    version = parse_fhir_version(value)
    if version is None:
        raise SettingError(f"app setting {name} must be DSTU2, STU3 or R4")
    return version


def comma_list(name: str, value: str) -> tuple[str, ...]:
    """Comma-separated items, stripped, empty ones dropped, in their order."""
    return tuple(item.strip() for item in value.split(",") if item.strip())


def flag(name: str, value: str) -> bool:
    """`true` or `false` (any case)."""
    lowered = value.lower()
    if lowered not in ("true", "false"):
        raise SettingError(f"app setting {name} must be true or false")
    return lowered == "true"


def _pem_key(name: str, value: str) -> Any:
    """The key a PEM setting holds, private or public; SettingError naming the setting when it is unreadable."""
    # Key Vault references and shells sometimes turn newlines into literal "\n".
    data = value.replace("\\n", "\n").encode("ascii", errors="replace")
    try:
        if b"PRIVATE KEY" in data:
            return serialization.load_pem_private_key(data, password=None)
        return serialization.load_pem_public_key(data)
    except (ValueError, TypeError):
        raise SettingError(f"app setting {name} is not a readable PEM key") from None


def rsa_key(name: str, value: str) -> RsaKey | None:
    """A PEM RSA key of 2048 bits or more, private or public; None when empty."""
    if not value:
        return None
    key = _pem_key(name, value)
    if not isinstance(key, (rsa.RSAPrivateKey, rsa.RSAPublicKey)):
        raise SettingError(f"app setting {name} must hold an RSA key")
    if key.key_size < 2048:
        raise SettingError(f"app setting {name} must hold an RSA key of 2048 bits or more")
    return key


def rsa_private_key(name: str, value: str) -> rsa.RSAPrivateKey:
    """A PEM RSA private key of 2048 bits or more."""
    key = rsa_key(name, value)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise SettingError(f"app setting {name} must hold a private key")
    return key


def client_key(name: str, value: str) -> ClientKey | None:
    """A PEM key the gateway signs client assertions with: RSA of 2048 bits or more, or EC P-384; private or
    public (a public key is only published); None when empty."""
    if not value:
        return None
    key = _pem_key(name, value)
    if isinstance(key, (rsa.RSAPrivateKey, rsa.RSAPublicKey)):
        if key.key_size < 2048:
            raise SettingError(f"app setting {name} must hold an RSA key of 2048 bits or more")
        return key
    if isinstance(key, (ec.EllipticCurvePrivateKey, ec.EllipticCurvePublicKey)):
        if not isinstance(key.curve, ec.SECP384R1):
            raise SettingError(f"app setting {name} must hold an EC key on the P-384 curve")
        return key
    raise SettingError(f"app setting {name} must hold an RSA or EC P-384 key")


def client_private_key(name: str, value: str) -> ClientKey | None:
    """Like client_key, but a private key (it signs); None when empty."""
    key = client_key(name, value)
    if key is not None and not isinstance(key, (rsa.RSAPrivateKey, ec.EllipticCurvePrivateKey)):
        raise SettingError(f"app setting {name} must hold a private key")
    return key

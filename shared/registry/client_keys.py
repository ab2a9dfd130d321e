"""Client public keys for private_key_jwt: validated public JWKs (`key-<thumbprint>` rows) and a `jwks-url` row."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from shared.jwk_thumbprint import REQUIRED_MEMBERS, thumbprint
from shared.registry.columns import EntityReader
from shared.registry.storage import CLIENTS_TABLE

KEY_ROW_PREFIX = "key-"
JWKS_URL_ROW = "jwks-url"
JWKS_URL_CREDENTIAL_PREFIX = "jwks-"
# The JWS algorithms a client may sign its assertion with (SMART Backend Services requires RS384 and ES384).
SUPPORTED_SIGNING_ALGS = ("RS384", "ES384", "RS256", "ES256")
MIN_RSA_BITS = 2048
MAX_KEYS = 10
MAX_JWKS_BYTES = 64 * 1024
MAX_KID_LENGTH = 128
MAX_JWK_LENGTH = 16 * 1024  # one public JWK as a row holds it (an RSA-8192 key is about 2.8 KB)
MAX_URL_LENGTH = 2048
_CURVES = {"P-256": ec.SECP256R1, "P-384": ec.SECP384R1}
_ALG_KEY = {"RS384": ("RSA", None), "RS256": ("RSA", None), "ES384": ("EC", "P-384"), "ES256": ("EC", "P-256")}
# Members of a private or symmetric JWK (RFC 7518 §6.2.2, §6.3.2, §6.4): never accepted, never stored.
_PRIVATE_MEMBERS = ("d", "p", "q", "dp", "dq", "qi", "oth", "k")
_PUBLIC_MEMBERS = REQUIRED_MEMBERS


class KeyRefused(Exception):
    """A JWK, JWKS or JWKS URL the gateway will not register; the message says why without quoting key material."""


@dataclass(frozen=True)
class ClientKey:
    """One public key of a client: what operators see (kid, alg, thumbprint) and the JWK to verify with."""

    kid: str
    kty: str
    alg: str | None
    crv: str | None
    thumbprint: str  # RFC 7638, base64url SHA-256
    jwk: dict[str, Any]
    created_at: datetime | None = None

    @property
    def credential_id(self) -> str:
        """What a token authenticated with this key records (its `secret_id` claim)."""
        return KEY_ROW_PREFIX + self.thumbprint

    def may_sign_with(self, alg: str) -> bool:
        """Whether a JWS with `alg` may be verified with this key (type, curve and the key's own `alg`)."""
        wanted = _ALG_KEY.get(alg)
        if wanted is None or wanted != (self.kty, self.crv if self.kty == "EC" else None):
            return False
        return self.alg is None or self.alg == alg

    def public_key(self) -> Any:
        """The cryptography public key object."""
        text = json.dumps(self.jwk)
        return RSAAlgorithm.from_jwk(text) if self.kty == "RSA" else ECAlgorithm.from_jwk(text)


@dataclass(frozen=True)
class JwksUrl:
    """The URL where a client publishes its public JWKS."""

    url: str
    created_at: datetime | None = None

    @property
    def credential_id(self) -> str:
        """The URL's part of the credential id of tokens its keys authenticated: changing the URL ends them."""
        return JWKS_URL_CREDENTIAL_PREFIX + hashlib.sha256(self.url.encode("utf-8")).hexdigest()[:16]

    def key_credential_id(self, key: ClientKey) -> str:
        """What a token authenticated with `key` fetched from this URL records (the key's thumbprint too)."""
        return f"{self.credential_id}.{key.thumbprint}"


def _check_members(jwk: Any) -> tuple[str, str, str | None]:
    """(kty, kid, alg) of a JWK whose members describe a public signing key; KeyRefused otherwise."""
    if not isinstance(jwk, dict):
        raise KeyRefused("each key must be a JSON object (a JWK)")
    kty = jwk.get("kty")
    if kty == "oct":
        raise KeyRefused("symmetric keys (kty oct) are refused: register public keys only")
    if any(member in jwk for member in _PRIVATE_MEMBERS):
        raise KeyRefused("this is a private key (it has d or another private member): register its public key only")
    if kty not in _PUBLIC_MEMBERS:
        raise KeyRefused("only RSA and EC keys are accepted")
    kid = jwk.get("kid")
    if not isinstance(kid, str) or not kid.strip() or len(kid) > MAX_KID_LENGTH or not kid.isprintable():
        raise KeyRefused(f"each key needs a kid (a printable string of at most {MAX_KID_LENGTH} characters)")
    alg = jwk.get("alg")
    if alg is not None and alg not in SUPPORTED_SIGNING_ALGS:
        raise KeyRefused(f"the key's alg must be one of {', '.join(SUPPORTED_SIGNING_ALGS)}")
    if jwk.get("use") not in (None, "sig"):
        raise KeyRefused("the key's use must be sig")
    for member in _PUBLIC_MEMBERS[kty]:
        if not isinstance(jwk.get(member), str) or not jwk[member]:
            raise KeyRefused(f"the {kty} key lacks its {member} member")
    return str(kty), kid, alg


def _check_public_key(kty: str, public: dict[str, Any]) -> str | None:
    """The curve of an EC key (None for RSA), after loading the key; KeyRefused when weak or malformed."""
    try:
        if kty == "RSA":
            key = RSAAlgorithm.from_jwk(json.dumps(public))
            if not isinstance(key, rsa.RSAPublicKey) or key.key_size < MIN_RSA_BITS:
                raise KeyRefused(f"RSA keys must have at least {MIN_RSA_BITS} bits")
            return None
        crv = str(public["crv"])
        if crv not in _CURVES:
            raise KeyRefused("EC keys must use the curve P-256 or P-384")
        if not isinstance(ECAlgorithm.from_jwk(json.dumps(public)), ec.EllipticCurvePublicKey):
            raise KeyRefused("the EC key is not a public key")
        return crv
    except KeyRefused:
        raise
    except Exception:  # pyjwt and cryptography raise several types for malformed key material
        raise KeyRefused(f"the {kty} key's members do not form a valid public key") from None


def parse_public_jwk(jwk: Any) -> ClientKey:
    """A validated public signing key; KeyRefused for private, symmetric, weak or unusable keys."""
    kty, kid, alg = _check_members(jwk)
    public = {member: jwk[member] for member in _PUBLIC_MEMBERS[kty]}
    crv = _check_public_key(kty, public)
    if alg is not None and _ALG_KEY[alg] != (kty, crv):
        raise KeyRefused(f"the key's alg {alg} does not match its type and curve")
    full = {**public, "kid": kid}
    if alg is not None:
        full["alg"] = alg
    return ClientKey(kid=kid, kty=kty, alg=alg, crv=crv, thumbprint=thumbprint(public), jwk=full)


def parse_jwks(document: Any, *, max_keys: int = MAX_KEYS) -> tuple[ClientKey, ...]:
    """Every key of a JWKS document (a dict with `keys`, or JSON text), each validated; KeyRefused otherwise."""
    if isinstance(document, (str, bytes)):
        if len(document) > MAX_JWKS_BYTES:
            raise KeyRefused(f"the JWKS must not exceed {MAX_JWKS_BYTES} bytes")
        try:
            document = json.loads(document)
        except (ValueError, UnicodeDecodeError):
            raise KeyRefused("the JWKS is not valid JSON") from None
    if isinstance(document, dict) and "kty" in document and "keys" not in document:
        document = {"keys": [document]}  # a single JWK pasted on its own
    if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
        raise KeyRefused('the JWKS must be a JSON object with a "keys" array')
    keys = document["keys"]
    if not keys:
        raise KeyRefused("the JWKS has no keys")
    if len(keys) > max_keys:
        raise KeyRefused(f"a JWKS may hold at most {max_keys} keys")
    parsed = tuple(parse_public_jwk(jwk) for jwk in keys)
    kids = [key.kid for key in parsed]
    if len(set(kids)) != len(kids):
        raise KeyRefused("two keys of the JWKS share a kid")
    return parsed


def key_entity(client_id: str, key: ClientKey, now: datetime) -> dict[str, Any]:
    """The `key-<thumbprint>` row of a key: its public JWK as JSON text, and its ids as plain columns."""
    entity: dict[str, Any] = {
        "PartitionKey": client_id,
        "RowKey": KEY_ROW_PREFIX + key.thumbprint,
        "Kid": key.kid,
        "Jwk": json.dumps(key.jwk, sort_keys=True, separators=(",", ":")),
        "CreatedAt": now,
    }
    if key.alg:
        entity["Alg"] = key.alg
    return entity


def parse_key_row(entity: dict[str, Any]) -> ClientKey:
    """A key row back into a key, validated as at registration (a row edited by hand gets the same checks)."""
    reader = EntityReader(CLIENTS_TABLE, entity)
    text = reader.text("Jwk", max_length=MAX_JWK_LENGTH)
    try:
        jwk = json.loads(text)
    except ValueError:
        raise reader.problem("Jwk", "is not JSON") from None
    try:
        key = parse_public_jwk(jwk)
    except KeyRefused as refused:
        raise reader.problem("Jwk", f"is refused: {refused}") from None
    if reader.row_key != KEY_ROW_PREFIX + key.thumbprint:
        raise reader.problem("RowKey", "must be key-<the JWK's RFC 7638 thumbprint>")
    return ClientKey(key.kid, key.kty, key.alg, key.crv, key.thumbprint, key.jwk, reader.moment("CreatedAt"))


def jwks_url_entity(client_id: str, url: str, now: datetime) -> dict[str, Any]:
    return {"PartitionKey": client_id, "RowKey": JWKS_URL_ROW, "JwksUrl": url, "CreatedAt": now}


def parse_jwks_url_row(entity: dict[str, Any]) -> JwksUrl:
    reader = EntityReader(CLIENTS_TABLE, entity)
    try:
        url = check_jwks_url_text(reader.text("JwksUrl"))
    except KeyRefused as refused:
        raise reader.problem("JwksUrl", str(refused)) from None
    return JwksUrl(url=url, created_at=reader.moment("CreatedAt"))


def check_jwks_url_text(url: str) -> str:
    """The URL, trimmed; KeyRefused unless it is an absolute https (or, locally, http) URL of sane length."""
    url = url.strip()
    if not url or len(url) > MAX_URL_LENGTH:
        raise KeyRefused(f"the JWKS URL must be an absolute URL of at most {MAX_URL_LENGTH} characters")
    if not (url.startswith("https://") or url.startswith("http://")):
        raise KeyRefused("the JWKS URL must be an absolute https URL")
    return url
